"""Result types and errors shared by verification and the engines (python-deequ's layering).

The engines (:mod:`quality.native_engine`, :mod:`quality.deequ_engine`,
:mod:`quality.gx_engine`) build a :class:`VerificationResult`; they import this module and never
:mod:`quality.verification`, which imports them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakeforge.errors import LakeforgeError
from quality.analyzers import Analyzer, AnalyzerContext
from quality.checks import (
    Check,
    CheckResult,
    CheckStatus,
    Constraint,
    ConstraintResult,
    ConstraintStatus,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

ENGINES = ("native", "deequ", "great_expectations")


class EngineUnavailableError(LakeforgeError, RuntimeError):
    """The requested engine's library or jar is not available in this environment."""


class UnknownEngineError(LakeforgeError, ValueError):
    """An engine name that is not one of ``ENGINES``."""


def check_engine_name(engine: str) -> str:
    if engine not in ENGINES:
        raise UnknownEngineError(f"unknown quality engine {engine!r}; choose one of "
                                 f"{', '.join(ENGINES)}")
    return engine


CHECK_RESULTS_SCHEMA = T.StructType([
    T.StructField(name, T.StringType(), True)
    for name in ("check", "check_level", "check_status", "constraint", "constraint_status",
                 "constraint_message")
])


NOT_TRANSLATABLE = "NotTranslatable"  # constraint_status of constraints an engine cannot run


class VerificationResult:
    """Status, check results and metrics of a verification run."""

    def __init__(self, status: CheckStatus, checkResults: dict[Check, CheckResult],
                 metrics: dict[Analyzer, Any]) -> None:
        self.status = status
        self.checkResults = checkResults
        self.metrics = metrics
        self.engine = "native"
        # Constraints an alternative engine could not express: check -> [(constraint, reason)].
        self.notTranslated: dict[Check, list[tuple[Constraint, str]]] = {}

    def check_rows(self, forChecks: Sequence[Check] | None = None) -> list[dict[str, str]]:
        """One dict per constraint with Deequ's column names."""
        rows = []
        for check, result in self.checkResults.items():
            if forChecks is not None and check not in forChecks:
                continue
            for cr in result.constraintResults:
                rows.append({
                    "check": check.description,
                    "check_level": check.level.value,
                    "check_status": result.status.value,
                    "constraint": str(cr.constraint),
                    "constraint_status": cr.status.value,
                    "constraint_message": cr.message or "",
                })
            for constraint, reason in self.notTranslated.get(check, []):
                rows.append({
                    "check": check.description,
                    "check_level": check.level.value,
                    "check_status": result.status.value,
                    "constraint": str(constraint),
                    "constraint_status": NOT_TRANSLATABLE,
                    "constraint_message": f"not translatable to engine {self.engine}: {reason}",
                })
        return rows

    @staticmethod
    def checkResultsAsDataFrame(spark: SparkSession, verificationResult: VerificationResult,
                                forChecks: Sequence[Check] | None = None,
                                pandas: bool = False) -> Any:
        """``check, check_level, check_status, constraint, constraint_status,
        constraint_message`` - one row per constraint."""
        rows = verificationResult.check_rows(forChecks)
        df = spark.createDataFrame([tuple(r.values()) for r in rows], CHECK_RESULTS_SCHEMA)
        return df.toPandas() if pandas else df

    @staticmethod
    def checkResultsAsJson(spark: SparkSession | None, verificationResult: VerificationResult,
                           forChecks: Sequence[Check] | None = None) -> list[dict[str, str]]:
        return verificationResult.check_rows(forChecks)

    @staticmethod
    def successMetricsAsDataFrame(spark: SparkSession, verificationResult: VerificationResult,
                                  forAnalyzers: Sequence[Analyzer] | None = None,
                                  pandas: bool = False) -> Any:
        """``entity, instance, name, value`` for every successful metric."""
        return AnalyzerContext.successMetricsAsDataFrame(
            spark, AnalyzerContext(verificationResult.metrics), forAnalyzers, pandas)

    @staticmethod
    def successMetricsAsJson(spark: SparkSession | None, verificationResult: VerificationResult,
                             forAnalyzers: Sequence[Analyzer] | None = None
                             ) -> list[dict[str, Any]]:
        return AnalyzerContext(verificationResult.metrics).success_metrics(forAnalyzers)

    @staticmethod
    def rowLevelResultsAsDataFrame(spark: SparkSession | None,
                                   verificationResult: VerificationResult,
                                   data: DataFrame) -> DataFrame:
        """``data`` plus one boolean column per check (named by its description): whether the
        row meets every row-level constraint of the check. Lazy: no Spark job is run here."""
        out = data
        for check, check_result in verificationResult.checkResults.items():
            # As Deequ: only constraints whose metric was computed give a row-level column (a
            # missing column fails its constraint, not the frame); a check without any gets
            # no column.
            computed = [constraint for constraint, cr in zip(
                check.constraints, check_result.constraintResults, strict=True)
                if row_level_computed(constraint, cr)]
            if computed:
                out = out.withColumn(check.description, combine_row_level(computed, data))
        return out

    @staticmethod
    def rowLevelResultsAsJson(spark: SparkSession | None, verificationResult: VerificationResult,
                              data: DataFrame) -> list[dict[str, Any]]:
        frame = VerificationResult.rowLevelResultsAsDataFrame(spark, verificationResult, data)
        return [r.asDict(recursive=True) for r in frame.collect()]

    # snake_case aliases
    check_results_as_dataframe = checkResultsAsDataFrame
    success_metrics_as_dataframe = successMetricsAsDataFrame
    row_level_results_as_dataframe = rowLevelResultsAsDataFrame

    def __repr__(self) -> str:
        return f"VerificationResult(status={self.status.value}, checks={len(self.checkResults)})"


def combine_row_level(constraints: Iterable[Constraint], data: DataFrame) -> Column:
    """AND of the row-level columns of ``constraints`` (TRUE when none has one)."""
    combined: Column | None = None
    for constraint in constraints:
        if constraint.row_level is None:
            continue
        column = constraint.row_level(data)
        combined = column if combined is None else (combined & column)
    return combined if combined is not None else F.lit(True)


def row_level_computed(constraint: Constraint, result: ConstraintResult) -> bool:
    """Whether ``constraint`` has row-level results and its metric was computed (a metric
    that failed to compute, e.g. on a missing column, blames no row)."""
    return (constraint.row_level is not None and result.metric is not None
            and result.metric.is_success)


def overall_status(statuses: Iterable[CheckStatus]) -> CheckStatus:
    worst = CheckStatus.Success
    for s in statuses:
        if s == CheckStatus.Error:
            return CheckStatus.Error
        if s == CheckStatus.Warning:
            worst = CheckStatus.Warning
    return worst


def failing_rows(result: VerificationResult, data: DataFrame) -> DataFrame:
    """Rows failing any failed row-level constraint, with ``failed_constraints`` (their names).

    A row fails a constraint when it counts against the constraint's metric
    (:meth:`Constraint.row_failure`): a FALSE row-level result, or a NULL one of a
    Compliance-based constraint (``satisfies``, ``isContainedIn``, ``isLessThan``, ...: the
    metric counts a NULL predicate as not compliant, though the row-level result, as Deequ's,
    stays NULL). Rows outside the constraint's ``where`` never fail. Lazy (no job);
    constraints without row-level results (e.g. a mean) quarantine nothing.
    """
    names: list[Any] = []
    for check, check_result in result.checkResults.items():
        for constraint, cr in zip(check.constraints, check_result.constraintResults,
                                  strict=True):
            if cr.status != ConstraintStatus.Failure or not row_level_computed(constraint, cr):
                continue
            failure = constraint.row_failure(data)
            if failure is not None:
                names.append((str(constraint), failure))
    return tag_failures(data, "failed_constraints", names)


def tag_failures(data: DataFrame, column: str, parts: Sequence[tuple[str, Column]]) -> DataFrame:
    """The rows of ``data`` for which at least one (name, failure) of ``parts`` is TRUE, with
    ``column`` listing those names (lazy; no part: an empty frame of that shape)."""
    if not parts:
        return data.withColumn(column, F.array().cast("array<string>")).limit(0)
    tagged = F.array(*[F.when(failure, F.lit(name)) for name, failure in parts])
    return (data.withColumn(column, F.filter(tagged, lambda x: x.isNotNull()))
            .where(F.size(column) > 0))


__all__ = [
    "CHECK_RESULTS_SCHEMA", "ENGINES", "NOT_TRANSLATABLE", "EngineUnavailableError",
    "UnknownEngineError", "VerificationResult", "check_engine_name", "combine_row_level",
    "failing_rows", "overall_status",
]
