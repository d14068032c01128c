"""The ``deequ`` engine of ``VerificationSuite``: PyDeequ, when the Deequ jar is on the classpath.

The jar is detected with ``Class.forName("com.amazon.deequ.VerificationSuite")`` and never
downloaded. Each constraint is replayed on a ``pydeequ.checks.Check`` with the same method and
arguments (the names are PyDeequ's); constraints PyDeequ lacks are reported as not translatable.
``native`` (the default, :mod:`quality.native_engine`) needs nothing but PySpark.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from quality.checks import (
    Check,
    CheckResult,
    CheckStatus,
    Constraint,
    ConstraintResult,
    ConstraintStatus,
)
from quality.results import EngineUnavailableError, VerificationResult, overall_status

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)


def deequ_unavailable_reason(spark: SparkSession) -> str | None:
    """None when PyDeequ and the Deequ jar are usable, otherwise why not."""
    try:
        jvm = spark.sparkContext._jvm  # type: ignore[attr-defined]
        loader = jvm.Thread.currentThread().getContextClassLoader()
        jvm.java.lang.Class.forName("com.amazon.deequ.VerificationSuite", True, loader)
    except Exception:  # noqa: BLE001 - py4j raises Py4JJavaError(ClassNotFoundException)
        return ("the Deequ jar (com.amazon.deequ) is not on the JVM classpath of this Spark "
                "session; add it with spark.jars / --jars, or use engine='native', which needs "
                "no jar")
    try:
        import pydeequ  # noqa: F401
    except ImportError:
        return ("the Deequ jar is on the classpath but the pydeequ package is not installed; "
                "pip install pydeequ, or use engine='native'")
    return None


def require_deequ(spark: SparkSession) -> None:
    reason = deequ_unavailable_reason(spark)
    if reason is not None:
        raise EngineUnavailableError(f"engine 'deequ' is unavailable: {reason}")


# PyDeequ's Check has these methods with the same parameter names (pydeequ 1.x).
PYDEEQU_METHODS = frozenset({
    "hasSize", "isComplete", "hasCompleteness", "areComplete", "haveCompleteness",
    "areAnyComplete", "haveAnyCompleteness", "isUnique", "isPrimaryKey", "hasUniqueness",
    "hasDistinctness", "hasUniqueValueRatio", "hasNumberOfDistinctValues", "hasHistogramValues",
    "hasEntropy", "hasMutualInformation", "hasApproxQuantile", "hasMinLength", "hasMaxLength",
    "hasMin", "hasMax", "hasMean", "hasSum", "hasStandardDeviation", "hasApproxCountDistinct",
    "hasCorrelation", "satisfies", "hasPattern", "containsCreditCardNumber", "containsEmail",
    "containsURL", "containsSocialSecurityNumber", "hasDataType", "isNonNegative", "isPositive",
    "isLessThan", "isLessThanOrEqualTo", "isGreaterThan", "isGreaterThanOrEqualTo",
    "isContainedIn",
})


def run_deequ(spark: SparkSession, df: DataFrame, checks: Sequence[Check]
              ) -> VerificationResult:
    """Replay the checks on PyDeequ and run Deequ's VerificationSuite (needs the jar)."""
    require_deequ(spark)
    import pydeequ.checks as pc
    import pydeequ.verification as pv

    builder = pv.VerificationSuite(spark).onData(df)
    replayed: list[tuple[Check, list[Constraint]]] = []
    not_translated: dict[Check, list[tuple[Constraint, str]]] = {}
    for check in checks:
        target = pc.Check(spark, getattr(pc.CheckLevel, check.level.value), check.description)
        done = []
        for constraint in check.constraints:
            origin = constraint.origin
            if origin is None or origin.method not in PYDEEQU_METHODS:
                not_translated.setdefault(check, []).append(
                    (constraint, "PyDeequ has no such Check method"))
                continue
            target = getattr(target, origin.method)(**origin.arguments)
            if origin.where:
                target = target.where(origin.where)
            done.append(constraint)
        replayed.append((check, done))
        builder = builder.addCheck(target)
    result = builder.run()
    rows = pv.VerificationResult.checkResultsAsJson(spark, result)
    results = {}
    by_check: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_check.setdefault(row["check"], []).append(row)
    for check, done in replayed:
        check_rows = by_check.get(check.description, [])
        constraint_results = []
        for constraint, row in zip(done, check_rows, strict=False):
            status = ConstraintStatus(row["constraint_status"])
            constraint_results.append(ConstraintResult(constraint, status,
                                                       row.get("constraint_message") or None))
        status = CheckStatus(check_rows[0]["check_status"]) if check_rows else CheckStatus.Success
        results[check] = CheckResult(check, status, constraint_results)
    out = VerificationResult(overall_status(r.status for r in results.values()), results, {})
    out.notTranslated = not_translated
    out.engine = "deequ"
    return out


__all__ = ["PYDEEQU_METHODS", "deequ_unavailable_reason", "require_deequ", "run_deequ"]
