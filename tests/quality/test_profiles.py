"""Column profiles, constraint suggestions and confidence intervals."""

from __future__ import annotations

from typing import Any

import pytest
from pyspark.sql import types as T

from quality.profiles import ColumnProfilerRunner, NumericColumnProfile, StringColumnProfile
from quality.suggestions import (
    DEFAULT,
    CompleteIfCompleteRule,
    ConstraintSuggestionRunner,
    Rules,
    WaldIntervalStrategy,
    WilsonScoreIntervalStrategy,
)

SCHEMA = T.StructType([
    T.StructField("id", T.IntegerType()),
    T.StructField("amount", T.DoubleType()),
    T.StructField("status", T.StringType()),
    T.StructField("code", T.StringType()),
])


@pytest.fixture(scope="module")
def df(spark: Any) -> Any:
    rows = [(i, None if i % 5 == 0 else float(i), ["a", "b"][i % 2] if i not in (7, 9) else None,
             str(i * 10)) for i in range(1, 41)]
    return spark.createDataFrame(rows, SCHEMA)


def test_profiles_have_deequ_fields(spark: Any, df: Any) -> None:
    result = ColumnProfilerRunner(spark).onData(df).run()
    assert result.numRecords == 40
    amount = result.profiles["amount"]
    assert isinstance(amount, NumericColumnProfile)
    assert amount.completeness == 32 / 40 and amount.dataType == "Fractional"
    assert amount.minimum == 1.0 and amount.maximum == 39.0 and amount.zerosCount == 0
    status = result.profiles["status"]
    assert isinstance(status, StringColumnProfile)
    assert status.dataType == "String" and status.isDataTypeInferred
    assert status.histogram is not None and status.histogram.absolutes["NullValue"] == 2
    code = result.profiles["code"]
    # A string column holding integers is profiled as numeric (inferred type Integral).
    assert isinstance(code, NumericColumnProfile) and code.dataType == "Integral"
    assert code.maximum == 400.0 and code.typeCounts["Integral"] == 40
    assert result.passes == 3


def test_profile_of_empty_frame(spark: Any) -> None:
    result = ColumnProfilerRunner(spark).onData(spark.createDataFrame([], SCHEMA)).run()
    assert result.numRecords == 0
    assert result.profiles["status"].dataType == "Unknown"
    assert result.profiles["amount"].mean is None


def test_restrict_to_missing_column_is_an_error(spark: Any, df: Any) -> None:
    with pytest.raises(ValueError, match="missing column"):
        ColumnProfilerRunner(spark).onData(df).restrictToColumns(["nope"])


def test_suggestions_default_rules(spark: Any, df: Any) -> None:
    result = ConstraintSuggestionRunner(spark).onData(df).addConstraintRule(DEFAULT()).run()
    codes = {c: [s.codeForConstraint for s in ss]
             for c, ss in result.constraintSuggestions.items()}
    assert '.isComplete("id")' in codes["id"]
    assert '.isNonNegative("id")' in codes["id"]
    assert any(code.startswith('.hasCompleteness("amount", _ >= 0.') for code in codes["amount"])
    assert '.hasDataType("code", ConstrainableDataTypes.Integral)' in codes["code"]
    assert '.isContainedIn("status", Array("a", "b"))' in codes["status"]
    as_json = result["constraint_suggestions"]
    assert {"constraint_name", "column_name", "current_value", "description",
            "suggesting_rule", "rule_description", "code_for_constraint"} == set(as_json[0])
    with pytest.raises(ValueError, match="at least one rule"):
        ConstraintSuggestionRunner(spark).onData(df).run()


def test_extended_rules_and_rule_api(spark: Any, df: Any) -> None:
    profiles = ColumnProfilerRunner(spark).onData(df).run()
    rule = CompleteIfCompleteRule()
    assert rule.shouldBeApplied(profiles.profiles["id"], 40)
    assert not rule.shouldBeApplied(profiles.profiles["amount"], 40)
    assert rule.candidate(profiles.profiles["id"], 40).codeForConstraint == '.isComplete("id")'
    assert len(Rules.EXTENDED) == 13


def test_interval_strategies() -> None:
    wilson = WilsonScoreIntervalStrategy().calculateTargetConfidenceInterval(0.8, 40)
    wald = WaldIntervalStrategy().calculateTargetConfidenceInterval(0.8, 40)
    assert wilson.lowerBound == pytest.approx(0.6518, abs=1e-3)
    assert wald.lowerBound == pytest.approx(0.6760, abs=1e-3)
    assert WilsonScoreIntervalStrategy().calculateTargetConfidenceInterval(1.0, 10).upperBound == 1
    with pytest.raises(ValueError, match="pHat must be between"):
        WaldIntervalStrategy().calculateTargetConfidenceInterval(1.5, 10)


def test_histograms_only_for_deequ_types(spark: Any) -> None:
    """Deequ 2.0.7's findTargetColumnsForHistograms: String, Boolean, Double, Float, Integer,
    Long and Short columns of a known (inferred) type; no histogram (and no pass) for dates,
    timestamps, decimals, bytes, or a string column of NULLs only."""
    import datetime as dt
    from decimal import Decimal

    schema = T.StructType([
        T.StructField("day", T.DateType()), T.StructField("at", T.TimestampType()),
        T.StructField("price", T.DecimalType(10, 2)), T.StructField("tiny", T.ByteType()),
        T.StructField("nothing", T.StringType()), T.StructField("s", T.StringType()),
        T.StructField("n", T.ShortType()), T.StructField("flag", T.BooleanType())])
    days = [dt.date(2026, 1, d) for d in (1, 2, 3)]
    rows = [(days[i % 3], dt.datetime(2026, 1, 1, i % 3), Decimal(f"{i % 3}.50"), i % 3, None,
             "ab"[i % 2], i % 2, i % 2 == 0) for i in range(6)]
    profiles = ColumnProfilerRunner(spark).onData(spark.createDataFrame(rows, schema)).run()
    with_histogram = {c for c, p in profiles.profiles.items() if p.histogram is not None}
    assert with_histogram == {"s", "n", "flag"}
    assert profiles.profiles["s"].histogram.absolutes == {"a": 3, "b": 3}
    only_dates = spark.createDataFrame([(d,) for d in days], "day date")
    dated = ColumnProfilerRunner(spark).onData(only_dates).run()
    assert dated.profiles["day"].histogram is None and dated.passes == 1
