"""Analyzer computation bases: each concrete analyzer serves exactly the hooks of its base."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from pyspark.sql import types as T

from quality import analyzers as A
from quality.metrics import DoubleMetric, Entity, Metric


def _concrete_analyzers() -> list[type[A.Analyzer]]:
    found = []
    stack = [A.Analyzer]
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.__module__ == A.__name__ and not cls.__name__.startswith("_") \
                and not getattr(cls, "__abstractmethods__", None):
            found.append(cls)
    return found


def test_every_concrete_analyzer_has_exactly_one_computation_base() -> None:
    concrete = _concrete_analyzers()
    assert len(concrete) > 30
    for cls in concrete:
        bases = [b for b in A.COMPUTATION_BASES if issubclass(cls, b)]
        assert len(bases) == 1, (cls, bases)
        assert cls.kind == bases[0].kind
    assert A.MutualInformation.kind == "direct"
    assert not hasattr(A.MutualInformation, "group_spec")
    assert not hasattr(A.Uniqueness, "scan_aggregates")
    assert not hasattr(A.Mean, "from_group")


@pytest.mark.parametrize("base", [A.Analyzer, *A.COMPUTATION_BASES])
def test_bases_cannot_be_instantiated(base: type[A.Analyzer]) -> None:
    with pytest.raises(TypeError, match="abstract"):
        base()


def test_grouping_analyzer_missing_a_hook_cannot_be_instantiated() -> None:
    class HalfDone(A.GroupingAnalyzer):
        def _fields(self) -> tuple[Any, ...]:
            return ()

        def group_spec(self) -> A.GroupSpec:
            return A.GroupSpec(("a",), None)

    with pytest.raises(TypeError, match="from_group"):
        HalfDone()  # type: ignore[abstract]


class _NoBase(A.Analyzer):
    def _fields(self) -> tuple[Any, ...]:
        return ()


class _NullCount(A.ScanAnalyzer):
    metric_name = "NullCount"

    def _fields(self) -> tuple[Any, ...]:
        return ("a",)

    def scan_aggregates(self) -> list[tuple[Any, Any]]:
        from pyspark.sql import functions as F

        return [(("NullCount", "a"), F.count_if(F.col("a").isNull()))]

    def from_scan(self, values: list[Any]) -> Metric:
        return DoubleMetric(Entity.Column, self.metric_name, "a", float(values[0]))


def test_analyzer_without_computation_base_is_refused(spark: Any) -> None:
    df = spark.createDataFrame([], T.StructType([T.StructField("a", T.StringType())]))
    builder = A.AnalysisRunner(spark).onData(df)
    with pytest.raises(A.UnsupportedAnalyzerError, match="_NoBase derives from none of"):
        builder.addAnalyzer(_NoBase())
    with pytest.raises(TypeError, match="expects an Analyzer"):
        builder.addAnalyzer("Size")  # type: ignore[arg-type]


def test_every_kind_is_computed_in_one_run(spark: Any) -> None:
    schema = T.StructType([T.StructField("a", T.StringType()), T.StructField("b", T.LongType())])
    df = spark.createDataFrame([("x", 1), ("x", 2), ("y", None), (None, 3)], schema)
    mi = A.MutualInformation(["a", "b"])
    ctx = (A.AnalysisRunner(spark).onData(df)
           .addAnalyzers([A.Size(), A.ColumnCount(), A.Uniqueness("a"), mi, A.Histogram("a"),
                          _NullCount()])
           .run())
    metrics: Mapping[A.Analyzer, Any] = ctx.metricMap
    assert all(m.is_success for m in metrics.values()), metrics
    assert metrics[A.Size()].value == 4.0
    assert metrics[A.ColumnCount()].value == 2.0
    assert metrics[A.Uniqueness("a")].value == pytest.approx(1 / 3)
    assert metrics[mi].value > 0
    assert metrics[A.Histogram("a")].value["NullValue"].absolute == 1
    assert metrics[_NullCount()].value == 1.0


def test_metric_and_rule_bases_are_abstract() -> None:
    from quality import suggestions as S
    from quality.metrics import Metric

    # Python 3.12+ quotes the method names in the message (Glue 6 runs 3.13)
    with pytest.raises(TypeError, match="'?flatten'?, '?to_json_dict"):
        Metric(Entity.Column, "x", "a")  # type: ignore[abstract]
    with pytest.raises(TypeError, match="'?candidate'?, '?shouldBeApplied"):
        S.ConstraintRule()  # type: ignore[abstract]
    failed = DoubleMetric(Entity.Column, "Mean", "a", None, ValueError("empty"))
    assert failed.flatten() == [failed]
    assert not failed.is_success


def test_every_rule_of_the_extended_set_is_concrete() -> None:
    from quality import suggestions as S

    rules = list(S.Rules.EXTENDED)
    assert rules
    for rule in rules:
        assert isinstance(rule, S.ConstraintRule)
        assert not getattr(type(rule), "__abstractmethods__", None), rule


def test_observed_bound_rules_apply_to_their_profile_type_only() -> None:
    from quality import suggestions as S
    from quality.profiles import NumericColumnProfile, StringColumnProfile

    base = {"completeness": 1.0, "approximateNumDistinctValues": 3, "isDataTypeInferred": False}
    amount = NumericColumnProfile("amount", dataType="Fractional", minimum=-2.5, mean=None,
                                  **base)
    name = StringColumnProfile("name", dataType="String", minLength=1.0, maxLength=None, **base)

    assert S.HasMin().shouldBeApplied(amount, 3)
    assert not S.HasMean().shouldBeApplied(amount, 3)  # no observed mean
    assert not S.HasMin().shouldBeApplied(name, 3)  # not numeric
    assert S.HasMin().candidate(amount, 3).codeForConstraint == '.hasMin("amount", _ >= -2.5)'

    assert S.HasMinLength().shouldBeApplied(name, 3)
    assert not S.HasMaxLength().shouldBeApplied(name, 3)
    assert not S.HasMinLength().shouldBeApplied(amount, 3)  # not a string
    suggestion = S.HasMinLength().candidate(name, 3)
    assert suggestion.codeForConstraint == '.hasMinLength("name", _ >= 1.0)'
    assert suggestion.current_value == "minLength: 1.0"
