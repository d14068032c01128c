"""Deequ-compatible data quality computed natively in PySpark (no JVM jar, no py4j callbacks).

PyDeequ code runs by changing the import::

    from quality import Check, CheckLevel, VerificationSuite, VerificationResult
    from quality.analyzers import AnalysisRunner, AnalyzerContext, Completeness, Size

See docs/quality.md for the API, Deequ's semantics and how runs are planned into few Spark jobs.
"""

from __future__ import annotations

from quality.analysis_runner import AnalysisRunner
from quality.analyzers import AnalyzerContext, AnalyzerOptions, FilteredRowOutcome, NullBehavior
from quality.anomaly_detection import (
    AbsoluteChangeStrategy,
    Anomaly,
    AnomalyDetector,
    BatchNormalStrategy,
    HoltWinters,
    MetricInterval,
    OnlineNormalStrategy,
    RelativeRateOfChangeStrategy,
    SeriesSeasonality,
    SimpleThresholdStrategy,
)
from quality.checks import (
    Check,
    CheckLevel,
    CheckResult,
    CheckStatus,
    ConstrainableDataTypes,
    Constraint,
    ConstraintResult,
    ConstraintStatus,
    Patterns,
)
from quality.metrics import Distribution, DistributionValue, DoubleMetric, Entity, HistogramMetric
from quality.profiles import (
    ColumnProfilerRunner,
    NumericColumnProfile,
    StandardColumnProfile,
    StringColumnProfile,
)
from quality.repository import FileSystemMetricsRepository, InMemoryMetricsRepository, ResultKey
from quality.suggestions import (
    COMMON,
    DEFAULT,
    EXTENDED,
    NUMERICAL,
    STRING,
    ConstraintSuggestionRunner,
    Rules,
    WaldIntervalStrategy,
    WilsonScoreIntervalStrategy,
)
from quality.verification import (
    AnomalyCheckConfig,
    VerificationResult,
    VerificationRunBuilder,
    VerificationSuite,
)

__all__ = [
    "AbsoluteChangeStrategy", "Anomaly", "AnomalyDetector", "BatchNormalStrategy", "COMMON",
    "ColumnProfilerRunner", "ConstraintSuggestionRunner", "DEFAULT", "EXTENDED",
    "FileSystemMetricsRepository", "HoltWinters", "InMemoryMetricsRepository", "MetricInterval",
    "NUMERICAL", "NumericColumnProfile", "OnlineNormalStrategy", "RelativeRateOfChangeStrategy",
    "ResultKey", "Rules", "STRING", "SeriesSeasonality", "SimpleThresholdStrategy",
    "StandardColumnProfile", "StringColumnProfile", "WaldIntervalStrategy",
    "WilsonScoreIntervalStrategy",
    "AnalysisRunner", "AnalyzerContext", "AnalyzerOptions", "AnomalyCheckConfig", "Check",
    "CheckLevel", "CheckResult", "CheckStatus", "ConstrainableDataTypes", "Constraint",
    "ConstraintResult", "ConstraintStatus", "Distribution", "DistributionValue", "DoubleMetric",
    "Entity", "FilteredRowOutcome", "HistogramMetric", "NullBehavior", "Patterns",
    "VerificationResult", "VerificationRunBuilder", "VerificationSuite",
]
