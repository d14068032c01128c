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
(:mod:`quality.native_engine`); the checks are then evaluated on the metrics without touching Spark.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from quality import deequ_engine, gx_engine
from quality.analysis_runner import AnalysisRunBuilder
from quality.analyzers import Analyzer
from quality.checks import Check, CheckLevel, Constraint, ConstraintStatus
from quality.results import (
    CHECK_RESULTS_SCHEMA,
    NOT_TRANSLATABLE,
    VerificationResult,
    check_engine_name,
    combine_row_level,
    failing_rows,
    overall_status,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from quality.anomaly_detection import AnomalyDetectionStrategy
    from quality.repository import MetricsRepository, ResultKey

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class AnomalyCheckConfig:
    """Level, description and history selection of an anomaly check."""

    level: CheckLevel = CheckLevel.Warning
    description: str = ""
    withTagValues: Mapping[str, str] = field(default_factory=dict)
    afterDate: int | None = None
    beforeDate: int | None = None


class VerificationRunBuilder:
    """Fluent builder behind ``VerificationSuite(spark).onData(df)``."""

    def __init__(self, spark: SparkSession, df: DataFrame, engine: str = "native") -> None:
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
        if self._engine == "deequ":
            return deequ_engine.run_deequ(self._spark, self._df, self._checks)
        return gx_engine.run_great_expectations(self._spark, self._df, self._checks)


class VerificationSuite:
    """Entry point: ``VerificationSuite(spark).onData(df)``."""

    def __init__(self, spark_session: SparkSession, engine: str = "native") -> None:
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
    "CHECK_RESULTS_SCHEMA", "NOT_TRANSLATABLE", "AnomalyCheckConfig", "VerificationResult",
    "VerificationRunBuilder", "VerificationSuite",
    "combine_row_level", "constraint_failures", "failing_rows", "overall_status",
]

