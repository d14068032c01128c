"""``AnalysisRunner(spark).onData(df).addAnalyzer(...).run()``: Deequ's analysis runner.

The analyzers of a run are computed together by :func:`quality.native_engine.compute_metrics`;
a repository can supply metrics stored under a key (``reuseExistingResultsForKey``) and store the
new ones (``saveOrAppendResult``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from quality.analyzers import COMPUTATION_BASES, Analyzer, AnalyzerContext, UnsupportedAnalyzerError
from quality.native_engine import compute_metrics

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from quality.metrics import Metric


class AnalysisRunBuilder:
    """``AnalysisRunner(spark).onData(df).addAnalyzer(a)...run()``."""

    def __init__(self, spark: SparkSession, df: DataFrame) -> None:
        self._spark = spark
        self._df = df
        self._analyzers: list[Analyzer] = []
        self._repository: Any = None
        self._reuse_key: Any = None
        self._fail_if_missing = False
        self._save_key: Any = None

    def addAnalyzer(self, analyzer: Analyzer) -> AnalysisRunBuilder:
        if not isinstance(analyzer, Analyzer):
            raise TypeError(f"addAnalyzer expects an Analyzer, got {type(analyzer).__name__}")
        if not isinstance(analyzer, COMPUTATION_BASES):
            raise UnsupportedAnalyzerError(
                f"addAnalyzer: {type(analyzer).__name__} derives from none of "
                f"{', '.join(b.__name__ for b in COMPUTATION_BASES)}; derive it from the one "
                f"whose hooks it implements so the engine can compute it")
        self._analyzers.append(analyzer)
        return self

    def addAnalyzers(self, analyzers: Iterable[Analyzer]) -> AnalysisRunBuilder:
        for a in analyzers:
            self.addAnalyzer(a)
        return self

    addRequiredAnalyzer = addAnalyzer
    addRequiredAnalyzers = addAnalyzers

    def useRepository(self, repository: Any) -> AnalysisRunBuilder:
        self._repository = repository
        return self

    def reuseExistingResultsForKey(self, resultKey: Any,
                                   failIfResultsForReusingMissing: bool = False
                                   ) -> AnalysisRunBuilder:
        self._reuse_key = resultKey
        self._fail_if_missing = failIfResultsForReusingMissing
        return self

    def saveOrAppendResult(self, resultKey: Any) -> AnalysisRunBuilder:
        self._save_key = resultKey
        return self

    def run(self) -> AnalyzerContext:
        reused: dict[Analyzer, Metric] = {}
        if self._reuse_key is not None and self._repository is not None:
            previous = self._repository.loadByKey(self._reuse_key)
            if previous is not None:
                reused = {a: m for a, m in previous.metricMap.items() if a in self._analyzers}
            if self._fail_if_missing and set(reused) != set(self._analyzers):
                raise ValueError(
                    f"reuseExistingResultsForKey: no stored results for every analyzer under "
                    f"{self._reuse_key}; missing "
                    f"{[str(a) for a in self._analyzers if a not in reused]}")
        todo = [a for a in self._analyzers if a not in reused]
        context = AnalyzerContext({**reused, **compute_metrics(self._df, todo)})
        if self._save_key is not None and self._repository is not None:
            self._repository.save(self._save_key, context)
        return context


class AnalysisRunner:
    """Entry point: ``AnalysisRunner(spark).onData(df)``."""

    def __init__(self, spark_session: SparkSession) -> None:
        self._spark = spark_session

    def onData(self, df: DataFrame) -> AnalysisRunBuilder:
        return AnalysisRunBuilder(self._spark, df)

    on_data = onData


__all__ = ["AnalysisRunBuilder", "AnalysisRunner"]
