"""The ``deequ`` engine of ``VerificationSuite``: real Deequ through PyDeequ, when the jar is there.

The Deequ jar is detected with ``Class.forName("com.amazon.deequ.VerificationSuite")`` and never
downloaded (Lakeforge sessions take it with ``spark.jar_sets: [deequ]``; ``make jars`` fetches
it). Each constraint is replayed on a ``pydeequ.checks.Check`` with the same method and arguments
(the names are PyDeequ's) and its ``where`` filter; isContainedIn's bounds form, which PyDeequ
lacks, is called on Deequ's JVM Check. A constraint whose call PyDeequ cannot take (no such
method, an argument it lacks such as ``analyzerOptions``) is listed in
``VerificationResult.notTranslated`` with the reason.

The result has the native engine's shape: one :class:`~quality.checks.CheckResult` per check with
Deequ's statuses and messages, each constraint result carrying Deequ's metric converted to
:mod:`quality.metrics` types, and ``metrics`` keyed by Lakeforge's analyzers.

Two PyDeequ quirks are handled here:

* PyDeequ reads ``SPARK_VERSION`` when imported; it is set from the session when unset.
* Python assertions are called back from the JVM through Py4J's callback server, whose thread
  keeps the interpreter alive at exit (python-deequ issues #7 and #156). The server is shut
  down after every run; PyDeequ restarts it on the next run.
"""

from __future__ import annotations

import inspect
import logging
import os
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from quality import metrics as M
from quality.analyzers import Analyzer
from quality.checks import (
    Check,
    CheckResult,
    CheckStatus,
    ConstrainableDataTypes,
    Constraint,
    ConstraintResult,
    ConstraintStatus,
)
from quality.results import EngineUnavailableError, VerificationResult

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)


def _import_pydeequ(spark: SparkSession) -> Any:
    """Import pydeequ, first giving it the SPARK_VERSION it insists on reading at import."""
    os.environ.setdefault("SPARK_VERSION", spark.version)
    import pydeequ

    return pydeequ


def deequ_unavailable_reason(spark: SparkSession) -> str | None:
    """None when PyDeequ and the Deequ jar are usable, otherwise why not."""
    try:
        # Typed Optional (None without a running SparkContext): any failure here means no Deequ.
        jvm: Any = spark.sparkContext._jvm
        loader = jvm.Thread.currentThread().getContextClassLoader()
        jvm.java.lang.Class.forName("com.amazon.deequ.VerificationSuite", True, loader)
    except Exception:  # noqa: BLE001 - py4j raises Py4JJavaError(ClassNotFoundException)
        return ("the Deequ jar (com.amazon.deequ) is not on the JVM classpath of this Spark "
                "session; take it with spark.jar_sets: [deequ] in the env file (fetched by "
                "`make jars`) or spark.jars, or use engine='native', which needs no jar")
    try:
        _import_pydeequ(spark)
    except ImportError:
        return ("the Deequ jar is on the classpath but the pydeequ package is not installed; "
                "pip install 'pydeequ>=1.7,<1.8', or use engine='native'")
    return None


def require_deequ(spark: SparkSession) -> None:
    reason = deequ_unavailable_reason(spark)
    if reason is not None:
        raise EngineUnavailableError(f"engine 'deequ' is unavailable: {reason}")


def shutdown_callback_server(spark: SparkSession) -> None:
    """Stop Py4J's callback server if it runs, so the process can exit (python-deequ #7)."""
    # Typed Optional (None before a SparkContext starts); a live session always has one.
    gateway: Any = spark.sparkContext._gateway
    server = gateway.get_callback_server()
    if server is not None and not server.is_shutdown:
        gateway.shutdown_callback_server()


def _from_jvm(value: Any) -> Any:
    """An assertion's argument as Lakeforge's native engine passes it (a Deequ Distribution
    becomes a :class:`~quality.metrics.Distribution`; numbers arrive as Python numbers)."""
    get_class = getattr(value, "getClass", None)
    if get_class is not None and get_class().getName() == "com.amazon.deequ.metrics.Distribution":
        bins = {str(k): M.DistributionValue(int(v.absolute()), float(v.ratio()))
                for k, v in _scala_map(value.values()).items()}
        return M.Distribution(bins, int(value.numberOfBins()))
    return value


def _lakeforge_assertion(assertion: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: assertion(_from_jvm(value))


def _pydeequ_value(value: Any, pydeequ_checks: Any) -> Any:
    if isinstance(value, ConstrainableDataTypes):
        return pydeequ_checks.ConstrainableDataTypes[value.name]
    if isinstance(value, re.Pattern):
        return value.pattern
    if isinstance(value, tuple):
        return list(value)
    return value


# The bounds form of isContainedIn, which PyDeequ lacks: called on the JVM.
RANGE_CALL: tuple[str, list[Any], dict[str, Any]] = ("isContainedIn", [], {})


def _contained_in_range(target: Any, arguments: dict[str, Any], jvm: Any) -> None:
    """Deequ's ``isContainedIn(column, lowerBound, upperBound, includeLowerBound,
    includeUpperBound, hint, analyzerOptions)`` on PyDeequ's Check's JVM object."""
    option = jvm.scala.Option
    target._Check = target._Check.isContainedIn(
        arguments["column"], float(arguments["lowerBound"]), float(arguments["upperBound"]),
        bool(arguments.get("includeLowerBound", True)),
        bool(arguments.get("includeUpperBound", True)),
        option.apply(arguments.get("hint")), option.empty())


def _pydeequ_call(constraint: Constraint, pydeequ_checks: Any
                  ) -> tuple[str, list[Any], dict[str, Any]] | str:
    """(method, args, kwargs) replaying the constraint on PyDeequ's Check, or why not."""
    origin = constraint.origin
    if origin is None:
        return "the constraint was not made by a Check method"
    target = getattr(pydeequ_checks.Check, origin.method, None)
    if target is None or origin.method.startswith("_"):
        return f"PyDeequ's Check has no method {origin.method}"
    if origin.method == "isContainedIn" and "lowerBound" in origin.arguments:
        if origin.arguments.get("assertion") is not None:
            return "Deequ's isContainedIn with bounds takes no assertion (it requires all rows)"
        return RANGE_CALL
    if origin.arguments.get("binningUdf") is not None:
        return "binningUdf is a Python Column function; Deequ's binning function is a JVM UDF"
    ours = inspect.signature(getattr(Check, origin.method))
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    skipped = False  # after a parameter left at its default, the rest go by keyword
    for name, param in ours.parameters.items():
        if name == "self":
            continue
        if name not in origin.arguments:
            skipped = True
            continue
        value = origin.arguments[name]
        if name == "assertion" and callable(value):
            value = _lakeforge_assertion(value)
        if param.kind is inspect.Parameter.VAR_POSITIONAL:
            args.extend(_pydeequ_value(v, pydeequ_checks) for v in value)
        elif param.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD and not skipped:
            args.append(_pydeequ_value(value, pydeequ_checks))
        else:
            kwargs[name] = _pydeequ_value(value, pydeequ_checks)
    try:
        inspect.signature(target).bind(None, *args, **kwargs)
    except TypeError as exc:
        return f"PyDeequ's Check.{origin.method} does not take these arguments ({exc})"
    return origin.method, args, kwargs


_EXCEPTIONS: dict[str, type[M.MetricCalculationException]] = {
    cls.__name__: cls for cls in (
        M.EmptyStateException, M.MetricCalculationPreconditionException,
        M.NoSuchColumnException, M.WrongColumnTypeException, M.NoColumnsSpecifiedException,
        M.NumberOfSpecifiedColumnsException, M.IllegalAnalyzerParameterException,
        M.MetricCalculationRuntimeException)
}


def _scala_map(scala_map: Any) -> dict[Any, Any]:
    out = {}
    iterator = scala_map.iterator()
    while iterator.hasNext():
        pair = iterator.next()
        out[pair._1()] = pair._2()
    return out


def metric_from_deequ(jmetric: Any) -> M.Metric | None:
    """A Deequ metric (a JVM object) as a :mod:`quality.metrics` metric; None for the kinds
    Lakeforge has no type for (KLL sketches)."""
    kind = jmetric.getClass().getSimpleName()
    entity = M.Entity(jmetric.entity().toString())
    name, instance = jmetric.name(), jmetric.instance()
    types: dict[str, type[M.Metric]] = {"DoubleMetric": M.DoubleMetric,
                                        "HistogramMetric": M.HistogramMetric,
                                        "KeyedDoubleMetric": M.KeyedDoubleMetric}
    if kind not in types:
        log.debug("deequ metric %s (%s) has no Lakeforge counterpart", name, kind)
        return None
    metric_type = types[kind]
    tried = jmetric.value()
    if tried.isFailure():
        error = tried.failed().get()
        exception = _EXCEPTIONS.get(error.getClass().getSimpleName(),
                                    M.MetricCalculationRuntimeException)(error.getMessage())
        return metric_type(entity, name, instance, None, exception)
    value = tried.get()
    if kind == "DoubleMetric":
        return M.DoubleMetric(entity, name, instance, float(value))
    if kind == "HistogramMetric":
        return M.HistogramMetric(entity, name, instance, _from_jvm(value))
    return M.KeyedDoubleMetric(entity, name, instance,
                               {str(k): float(v) for k, v in _scala_map(value).items()})


def run_deequ(spark: SparkSession, df: DataFrame, checks: Sequence[Check]
              ) -> VerificationResult:
    """Replay the checks on PyDeequ and run Deequ's VerificationSuite (needs the jar)."""
    require_deequ(spark)
    import pydeequ.checks as pc
    import pydeequ.verification as pv

    builder = pv.VerificationSuite(spark).onData(df)
    replayed: list[tuple[Check, Any, list[Constraint]]] = []
    not_translated: dict[Check, list[tuple[Constraint, str]]] = {}
    try:
        for check in checks:
            target = pc.Check(spark, getattr(pc.CheckLevel, check.level.value),
                              check.description)
            done = []
            for constraint in check.constraints:
                call = _pydeequ_call(constraint, pc)
                if isinstance(call, str):
                    not_translated.setdefault(check, []).append((constraint, call))
                    continue
                method, args, kwargs = call
                if call is RANGE_CALL and constraint.origin is not None:
                    _contained_in_range(target, constraint.origin.arguments,
                                        spark.sparkContext._jvm)  # type: ignore[attr-defined]
                else:
                    target = getattr(target, method)(*args, **kwargs)
                if constraint.origin is not None and constraint.origin.where:
                    target = target.where(constraint.origin.where)
                done.append(constraint)
            replayed.append((check, target._Check, done))
            builder = builder.addCheck(target)
        jresult = builder.run().verificationRun
        results: dict[Check, CheckResult] = {}
        metrics: dict[Analyzer, M.Metric] = {}
        for check, jcheck, done in replayed:
            jcheck_result = jresult.checkResults().get(jcheck).get()
            jconstraints = jcheck_result.constraintResults()
            if jconstraints.size() != len(done):
                raise RuntimeError(f"Deequ returned {jconstraints.size()} constraint results for "
                                   f"the {len(done)} constraints of {check.description!r}")
            constraint_results = []
            for i, constraint in enumerate(done):
                jcr = jconstraints.apply(i)
                message = jcr.message().get() if jcr.message().isDefined() else None
                metric = metric_from_deequ(jcr.metric().get()) if jcr.metric().isDefined() \
                    else None
                if metric is not None:
                    metrics[constraint.analyzer] = metric
                constraint_results.append(ConstraintResult(
                    constraint, ConstraintStatus(jcr.status().toString()), message, metric))
            results[check] = CheckResult(check, CheckStatus(jcheck_result.status().toString()),
                                         constraint_results)
        status = CheckStatus(jresult.status().toString())
    finally:
        shutdown_callback_server(spark)
    out = VerificationResult(status, results, metrics)
    out.notTranslated = not_translated
    out.engine = "deequ"
    log.info("deequ engine: %d checks, %d constraints not translatable", len(results),
             sum(len(v) for v in not_translated.values()))
    return out


__all__ = ["deequ_unavailable_reason", "metric_from_deequ", "require_deequ", "run_deequ",
           "shutdown_callback_server"]
