"""``VerificationSuite`` and ``VerificationResult`` (Deequ / PyDeequ API).

Example::

    result = (VerificationSuite(spark).onData(df)
              .addCheck(Check(spark, CheckLevel.Error, "orders").isComplete("id"))
              .useRepository(repo).saveOrAppendResult(ResultKey(spark))
              .addAnomalyCheck(RelativeRateOfChangeStrategy(maxRateIncrease=2.0), Size())
              .run())
    VerificationResult.checkResultsAsDataFrame(spark, result).show()
    VerificationResult.rowLevelResultsAsDataFrame(spark, result, df).show()

All analyzers of all checks (and ``addRequiredAnalyzer``) are computed together by one plan
(:mod:`quality.engine`); the checks are then evaluated on the metrics without touching Spark.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql import types as T

from quality.analyzers import Analyzer, AnalyzerContext
from quality.checks import (
    Check,
    CheckLevel,
    CheckResult,
    CheckStatus,
    Constraint,
    ConstraintStatus,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from quality.anomaly_detection import AnomalyDetectionStrategy
    from quality.repository import MetricsRepository, ResultKey

log = logging.getLogger(__name__)

CHECK_RESULTS_SCHEMA = T.StructType([
    T.StructField(name, T.StringType(), True)
    for name in ("check", "check_level", "check_status", "constraint", "constraint_status",
                 "constraint_message")
])


NOT_TRANSLATABLE = "NotTranslatable"  # constraint_status of constraints an engine cannot run


@dataclass(frozen=True)
class AnomalyCheckConfig:
    """Level, description and history selection of an anomaly check."""

    level: CheckLevel = CheckLevel.Warning
    description: str = ""
    withTagValues: Mapping[str, str] = field(default_factory=dict)
    afterDate: int | None = None
    beforeDate: int | None = None


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
        for check in verificationResult.checkResults:
            combined = combine_row_level(check.constraints, data)
            out = out.withColumn(check.description, combined)
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


class VerificationRunBuilder:
    """Fluent builder behind ``VerificationSuite(spark).onData(df)``."""

    def __init__(self, spark: SparkSession, df: DataFrame, engine: str = "native") -> None:
        from quality.engines import check_engine_name

        self._spark = spark
        self._df = df
        self._engine = check_engine_name(engine)
        self._checks: list[Check] = []
        self._required: list[Analyzer] = []
        self._repository: MetricsRepository | None = None
        self._save_key: ResultKey | None = None
        self._reuse_key: ResultKey | None = None
        self._fail_if_missing = False
        self._anomaly: list[tuple[Any, Analyzer, AnomalyCheckConfig | None]] = []

    def addCheck(self, check: Check) -> VerificationRunBuilder:
        if not isinstance(check, Check):
            raise TypeError(f"addCheck expects a Check, got {type(check).__name__}")
        self._checks.append(check)
        return self

    def addChecks(self, checks: Iterable[Check]) -> VerificationRunBuilder:
        for c in checks:
            self.addCheck(c)
        return self

    def useEngine(self, engine: str) -> VerificationRunBuilder:
        """``native`` (default), ``deequ`` (PyDeequ, needs the Deequ jar on the classpath) or
        ``great_expectations`` (GX 1.x, translatable constraints only)."""
        from quality.engines import check_engine_name

        self._engine = check_engine_name(engine)
        return self

    def addRequiredAnalyzer(self, analyzer: Analyzer) -> VerificationRunBuilder:
        self._required.append(analyzer)
        return self

    def addRequiredAnalyzers(self, analyzers: Iterable[Analyzer]) -> VerificationRunBuilder:
        self._required.extend(analyzers)
        return self

    def useRepository(self, repository: MetricsRepository) -> VerificationRunBuilder:
        self._repository = repository
        return self

    def saveOrAppendResult(self, resultKey: ResultKey) -> VerificationRunBuilder:
        if self._repository is None:
            raise ValueError("saveOrAppendResult needs useRepository(...) first")
        self._save_key = resultKey
        return self

    def reuseExistingResultsForKey(self, resultKey: ResultKey,
                                   failIfResultsForReusingMissing: bool = False
                                   ) -> VerificationRunBuilder:
        self._reuse_key = resultKey
        self._fail_if_missing = failIfResultsForReusingMissing
        return self

    def addAnomalyCheck(self, anomalyDetectionStrategy: AnomalyDetectionStrategy,
                        analyzer: Analyzer,
                        anomalyCheckConfig: AnomalyCheckConfig | None = None
                        ) -> VerificationRunBuilder:
        """Check that ``analyzer``'s new value is no anomaly given the repository's history."""
        if self._repository is None:
            raise ValueError("addAnomalyCheck needs useRepository(...) first: the history of "
                             "the metric comes from the repository")
        self._anomaly.append((anomalyDetectionStrategy, analyzer, anomalyCheckConfig))
        return self

    def _anomaly_check(self, strategy: Any, analyzer: Analyzer,
                       config: AnomalyCheckConfig | None) -> Check:
        config = config or AnomalyCheckConfig(CheckLevel.Warning,
                                              f"Anomaly check for {analyzer}")
        repository = self._repository
        assert repository is not None

        def assertion(value: float) -> bool:
            from quality.anomaly_detection import is_newest_point_non_anomalous

            return is_newest_point_non_anomalous(repository, strategy, analyzer, value,
                                                 dict(config.withTagValues), config.afterDate,
                                                 config.beforeDate)

        check = Check(config.level, config.description or f"Anomaly check for {analyzer}")
        return check.addConstraint(Constraint(analyzer, assertion,
                                              f"AnomalyConstraint({analyzer})"))

    def run(self) -> VerificationResult:
        if self._engine != "native":
            return self._run_other_engine()
        checks = list(self._checks) + [self._anomaly_check(s, a, c) for s, a, c in self._anomaly]
        analyzers = list(dict.fromkeys(
            [*self._required, *(a for c in checks for a in c.requiredAnalyzers())]))
        from quality.analyzers import AnalysisRunBuilder

        runner = AnalysisRunBuilder(self._spark, self._df).addAnalyzers(analyzers)
        if self._reuse_key is not None and self._repository is not None:
            runner.useRepository(self._repository).reuseExistingResultsForKey(
                self._reuse_key, self._fail_if_missing)
        context = runner.run()
        results = {check: check.evaluate(context) for check in checks}
        status = overall_status(r.status for r in results.values())
        if self._save_key is not None and self._repository is not None:
            self._repository.save(self._save_key, context)
        log.info("verification finished with status %s (%d checks, %d analyzers)",
                 status.value, len(checks), len(analyzers))
        return VerificationResult(status, results, context.metricMap)

    def _run_other_engine(self) -> VerificationResult:
        unsupported = [name for name, used in (
            ("addRequiredAnalyzer", bool(self._required)),
            ("useRepository/saveOrAppendResult", self._repository is not None),
            ("reuseExistingResultsForKey", self._reuse_key is not None),
            ("addAnomalyCheck", bool(self._anomaly))) if used]
        if unsupported:
            raise ValueError(f"engine {self._engine!r} runs checks only; "
                             f"{', '.join(unsupported)} need engine 'native'")
        from quality import engines

        if self._engine == "deequ":
            return engines.run_deequ(  # type: ignore[no-any-return]
                self._spark, self._df, self._checks)
        return engines.run_great_expectations(  # type: ignore[no-any-return]
            self._spark, self._df, self._checks)


def overall_status(statuses: Iterable[CheckStatus]) -> CheckStatus:
    worst = CheckStatus.Success
    for s in statuses:
        if s == CheckStatus.Error:
            return CheckStatus.Error
        if s == CheckStatus.Warning:
            worst = CheckStatus.Warning
    return worst


class VerificationSuite:
    """Entry point: ``VerificationSuite(spark).onData(df)``."""

    def __init__(self, spark_session: SparkSession, engine: str = "native") -> None:
        from quality.engines import check_engine_name

        self._spark = spark_session
        self._engine = check_engine_name(engine)

    def onData(self, df: DataFrame) -> VerificationRunBuilder:
        return VerificationRunBuilder(self._spark, df, self._engine)

    on_data = onData


def constraint_failures(result: VerificationResult,
                        level: CheckLevel | None = None) -> list[tuple[Check, Constraint, str]]:
    """(check, constraint, message) of every failed constraint, optionally of one level."""
    out = []
    for check, check_result in result.checkResults.items():
        if level is not None and check.level != level:
            continue
        for cr in check_result.constraintResults:
            if cr.status == ConstraintStatus.Failure:
                out.append((check, cr.constraint, cr.message or ""))
    return out


__all__ = [
    "NOT_TRANSLATABLE", "AnomalyCheckConfig", "VerificationResult", "VerificationRunBuilder",
    "VerificationSuite",
    "combine_row_level", "constraint_failures", "overall_status",
]

