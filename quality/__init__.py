"""Deequ-compatible data quality computed natively in PySpark (no JVM jar, no py4j callbacks).

PyDeequ code runs by changing the import::

    from quality import Check, CheckLevel, VerificationSuite, VerificationResult
    from quality.analyzers import AnalysisRunner, AnalyzerContext, Completeness, Size

See docs/quality.md for the API, Deequ's semantics and how runs are planned into few Spark jobs.
"""

from __future__ import annotations

from quality.analyzers import (
    AnalysisRunner,
    AnalyzerContext,
    AnalyzerOptions,
    FilteredRowOutcome,
    NullBehavior,
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
from quality.verification import (
    AnomalyCheckConfig,
    VerificationResult,
    VerificationRunBuilder,
    VerificationSuite,
)

__all__ = [
    "AnalysisRunner", "AnalyzerContext", "AnalyzerOptions", "AnomalyCheckConfig", "Check",
    "CheckLevel", "CheckResult", "CheckStatus", "ConstrainableDataTypes", "Constraint",
    "ConstraintResult", "ConstraintStatus", "Distribution", "DistributionValue", "DoubleMetric",
    "Entity", "FilteredRowOutcome", "HistogramMetric", "NullBehavior", "Patterns",
    "VerificationResult", "VerificationRunBuilder", "VerificationSuite",
]
