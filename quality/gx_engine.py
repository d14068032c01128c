"""The ``great_expectations`` engine of ``VerificationSuite`` (GX 1.x, imported lazily).

The constraints that have a GX counterpart are translated into expectations on a Spark
DataFrame asset and validated in one GX run; GX's observed values are converted back into
Deequ's metric (e.g. GX's sample standard deviation into Deequ's population one, GX's
non-null-only ratios into Deequ's ratios over all rows). The constraint's own assertion then
judges the metric, so verdicts and messages have Deequ's form. Constraints without a GX
counterpart are listed in ``VerificationResult.notTranslated``.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from quality.analyzers import (
    Analyzer,
    ColumnCount,
    Completeness,
    Compliance,
    CountDistinct,
    Distinctness,
    Maximum,
    Mean,
    Minimum,
    PatternMatch,
    Size,
    StandardDeviation,
    Sum,
    Uniqueness,
    Variance,
)
from quality.checks import Check, CheckResult, CheckStatus, Constraint, ConstraintStatus
from quality.metrics import MetricCalculationRuntimeException
from quality.results import EngineUnavailableError, VerificationResult, overall_status

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)


@dataclass
class GxTranslation:
    """Expectations for one constraint and how to turn their GX results into Deequ's value."""

    expectations: list[Any]
    value: Callable[[list[dict[str, Any]]], float | None]


def _ratio(numerator: float, denominator: float) -> float:
    return float("nan") if denominator == 0 else numerator / denominator


def _observed(results: list[dict[str, Any]]) -> float | None:
    value = results[0].get("observed_value")
    return None if value is None else float(value)


def _compliant_share(results: list[dict[str, Any]]) -> float:
    """Map expectations ignore NULLs; Deequ's predicates count them as compliant."""
    r = results[0]
    return _ratio(r["element_count"] - r["unexpected_count"], r["element_count"])


def _nonnull(result: dict[str, Any]) -> int:
    return int(result["element_count"]) - int(result["unexpected_count"])


def _pop_from_sample(results: list[dict[str, Any]], square: bool) -> float | None:
    sample, nonnull = results[0].get("observed_value"), _nonnull(results[1])
    if sample is None or nonnull == 0:
        return None
    variance = float(sample) ** 2 * (nonnull - 1) / nonnull
    return variance if square else math.sqrt(variance)


def translate_to_gx(gx: Any, constraint: Constraint) -> GxTranslation | str:
    """The GX counterpart of a constraint, or the reason there is none."""
    E = gx.expectations
    analyzer: Analyzer = constraint.analyzer
    origin = constraint.origin
    options = getattr(analyzer, "analyzerOptions", None)
    if options is not None:
        return "analyzerOptions have no GX counterpart"
    where = analyzer.where
    cond: dict[str, Any] = ({"row_condition": where, "condition_parser": "spark"} if where
                            else {})
    column = getattr(analyzer, "column", None)

    def not_null(c: str) -> Any:
        return E.ExpectColumnValuesToNotBeNull(column=c, mostly=0.0, **cond)

    if isinstance(analyzer, Size):
        if where:
            return "GX's row count expectation takes no row condition"
        return GxTranslation([E.ExpectTableRowCountToBeBetween()], _observed)
    if isinstance(analyzer, ColumnCount):
        return GxTranslation([E.ExpectTableColumnCountToBeBetween()], _observed)
    if isinstance(analyzer, Completeness):
        return GxTranslation([not_null(analyzer.column)],
                             lambda r: _ratio(_nonnull(r[0]), r[0]["element_count"]))
    if isinstance(analyzer, (Uniqueness, Distinctness, CountDistinct)):
        if len(analyzer.columns) != 1:
            return "GX compares multi-column uniqueness only row-wise within a row"
        c = analyzer.columns[0]
        if isinstance(analyzer, Uniqueness):
            def uniqueness(r: list[dict[str, Any]]) -> float | None:
                nonnull = r[0]["element_count"] - r[0]["missing_count"]
                return None if nonnull == 0 else (nonnull - r[0]["unexpected_count"]) / nonnull
            return GxTranslation([E.ExpectColumnValuesToBeUnique(column=c, mostly=0.0, **cond)],
                                 uniqueness)
        distinct = E.ExpectColumnUniqueValueCountToBeBetween(column=c, **cond)
        if isinstance(analyzer, CountDistinct):
            return GxTranslation([distinct], lambda r: float(r[0].get("observed_value") or 0))

        def distinctness(r: list[dict[str, Any]]) -> float | None:
            nonnull = _nonnull(r[1])
            return None if nonnull == 0 else float(r[0]["observed_value"]) / nonnull
        return GxTranslation([distinct, not_null(c)], distinctness)
    simple = {Mean: E.ExpectColumnMeanToBeBetween, Sum: E.ExpectColumnSumToBeBetween,
              Minimum: E.ExpectColumnMinToBeBetween, Maximum: E.ExpectColumnMaxToBeBetween}
    for cls, expectation in simple.items():
        if type(analyzer) is cls:
            if isinstance(analyzer, Sum):
                # GX sums an all-NULL column to 0; Deequ has no value then.
                return GxTranslation([expectation(column=column, **cond),
                                      not_null(analyzer.column)],
                                     lambda r: None if _nonnull(r[1]) == 0 else _observed(r))
            return GxTranslation([expectation(column=column, **cond)], _observed)
    if isinstance(analyzer, (StandardDeviation, Variance)):
        square = isinstance(analyzer, Variance)
        return GxTranslation([E.ExpectColumnStdevToBeBetween(column=column, **cond),
                              not_null(analyzer.column)],
                             lambda r: _pop_from_sample(r, square))
    if isinstance(analyzer, PatternMatch):
        def matched(r: list[dict[str, Any]]) -> float:
            res = r[0]
            return _ratio(res["element_count"] - res.get("missing_count", 0)
                          - res["unexpected_count"], res["element_count"])
        return GxTranslation([E.ExpectColumnValuesToMatchRegex(
            column=analyzer.column, regex=analyzer.pattern, mostly=0.0, **cond)], matched)
    if isinstance(analyzer, Compliance) and origin is not None:
        args = origin.arguments
        method = origin.method
        if method in ("isNonNegative", "isPositive"):
            return GxTranslation([E.ExpectColumnValuesToBeBetween(
                column=args["column"], min_value=0, strict_min=method == "isPositive",
                mostly=0.0, **cond)], _compliant_share)
        if method == "isContainedIn":
            values = args.get("allowed_values", args.get("allowedValues"))
            if values is not None:
                return GxTranslation([E.ExpectColumnValuesToBeInSet(
                    column=args["column"], value_set=[str(v) for v in values], mostly=0.0,
                    **cond)], _compliant_share)
            return GxTranslation([E.ExpectColumnValuesToBeBetween(
                column=args["column"], min_value=float(args["lowerBound"]),
                max_value=float(args["upperBound"]),
                strict_min=not args.get("includeLowerBound", True),
                strict_max=not args.get("includeUpperBound", True), mostly=0.0, **cond)],
                _compliant_share)
        return f"{method} (a SQL predicate) has no GX counterpart with Deequ's NULL semantics"
    return f"{type(analyzer).__name__} has no GX counterpart"


_GX_CONTEXT: Any = None
_GX_NAMES = itertools.count()


def gx_context() -> Any:
    """One ephemeral GX context per process (creating one is slow)."""
    global _GX_CONTEXT
    if _GX_CONTEXT is None:
        try:
            import great_expectations as gx
        except ImportError as exc:
            raise EngineUnavailableError(
                "engine 'great_expectations' needs the optional package great-expectations "
                "(pip install 'great-expectations>=1.3,<2'); engine='native' needs nothing"
            ) from exc
        _GX_CONTEXT = gx.get_context(mode="ephemeral")
    return _GX_CONTEXT


def run_great_expectations(spark: SparkSession, df: DataFrame, checks: Sequence[Check]
                           ) -> VerificationResult:
    """Validate the translatable constraints with GX; the result has VerificationResult's shape."""
    context = gx_context()
    import great_expectations as gx

    plan: list[tuple[Check, Constraint, GxTranslation]] = []
    not_translated: dict[Check, list[tuple[Constraint, str]]] = {}
    expectations: list[Any] = []
    for check in checks:
        for constraint in check.constraints:
            translated = translate_to_gx(gx, constraint)
            if isinstance(translated, str):
                not_translated.setdefault(check, []).append((constraint, translated))
                continue
            plan.append((check, constraint, translated))
            expectations.extend(translated.expectations)

    gx_results: list[dict[str, Any]] = []
    exceptions: list[str | None] = []
    if expectations:
        name = f"lakeforge_dq_{next(_GX_NAMES)}"
        source = context.data_sources.add_spark(name=name)
        batch = source.add_dataframe_asset(name=name).add_batch_definition_whole_dataframe(
            name).get_batch(batch_parameters={"dataframe": df})
        for i, e in enumerate(expectations):
            e.meta = {**(e.meta or {}), "lakeforge_index": i}
        suite = gx.ExpectationSuite(name=name, expectations=expectations)
        validation = batch.validate(suite, result_format="SUMMARY")
        by_index = {(r.expectation_config.meta or {}).get("lakeforge_index"): r
                    for r in validation.results}
        if len(by_index) != len(expectations):
            raise RuntimeError(f"GX returned {len(by_index)} results for {len(expectations)} "
                               "expectations")
        for i in range(len(expectations)):
            r = by_index[i]
            gx_results.append(dict(r.result or {}))
            info = r.exception_info or {}
            raised = info.get("raised_exception") if isinstance(info, dict) else None
            exceptions.append(str(info.get("exception_message")) if raised else None)
        context.data_sources.delete(name)

    metrics: dict[Analyzer, Any] = {}
    constraint_results: dict[Check, list[Any]] = {c: [] for c in checks}
    position = 0
    for check, constraint, translated in plan:
        width = len(translated.expectations)
        results = gx_results[position:position + width]
        errors = [e for e in exceptions[position:position + width] if e]
        position += width
        analyzer = constraint.analyzer
        if errors:
            metric = analyzer.to_failure(MetricCalculationRuntimeException(errors[0]))
        else:
            try:
                value = translated.value(results)
            except (KeyError, TypeError) as exc:
                value = None
                log.warning("GX result of %s lacks %s", constraint, exc)
            metric = analyzer.empty_failure() if value is None else analyzer.to_success(value)
        metrics[analyzer] = metric
        constraint_results[check].append(constraint.evaluate({analyzer: metric}))

    check_results = {}
    for check in checks:
        failed = any(r.status == ConstraintStatus.Failure for r in constraint_results[check])
        status = (CheckStatus.Success if not failed else
                  CheckStatus.Error if check.level.value == "Error" else CheckStatus.Warning)
        check_results[check] = CheckResult(check, status, constraint_results[check])
    out = VerificationResult(overall_status(r.status for r in check_results.values()),
                             check_results, metrics)
    out.notTranslated = not_translated
    out.engine = "great_expectations"
    log.info("great_expectations engine: %d expectations for %d constraints, %d not translatable",
             len(expectations), len(plan), sum(len(v) for v in not_translated.values()))
    return out


__all__ = ["GxTranslation", "gx_context", "run_great_expectations", "translate_to_gx"]
