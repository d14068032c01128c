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


EDGE_SCHEMA = ("ints string, signed string, mixed string, cased string, nothing string, "
               "i int, dec decimal(10,2), words string, bools boolean, flags string")
EDGE_ROWS = [("1", "007", "1.5", "true", None, 3, "1.10", "a", True, "true"),
             ("2", "-3", "2", "false", None, None, "2.20", "b", None, "false"),
             (None, "+4", "1e3", "True", None, 5, None, "abc", False, None),
             ("4", " 5", "NaN", None, None, 0, "0.00", "", True, "true"),
             ("-0", "6", ".5", "FALSE", None, 7, "3.30", None, True, "false")]


def _edge_frame(spark: Any) -> Any:
    from decimal import Decimal

    rows = [r[:6] + (None if r[6] is None else Decimal(r[6]),) + r[7:] for r in EDGE_ROWS]
    return spark.createDataFrame(rows, EDGE_SCHEMA)


def test_profile_class_follows_the_inferred_type(spark: Any) -> None:
    """Deequ picks the class by the (inferred) type: a string column of booleans, or of NULLs
    only (type Unknown), gets a StandardColumnProfile (no minLength / maxLength), as a boolean
    column does; only an inferred String gets a StringColumnProfile."""
    from quality.profiles import StandardColumnProfile

    profiles = ColumnProfilerRunner(spark).onData(_edge_frame(spark)).run().profiles
    kinds = {c: (type(p).__name__, p.dataType) for c, p in profiles.items()}
    assert kinds["flags"] == ("StandardColumnProfile", "Boolean")
    assert kinds["nothing"] == ("StandardColumnProfile", "Unknown")
    assert kinds["bools"] == ("StandardColumnProfile", "Boolean")
    assert kinds["cased"] == ("StringColumnProfile", "String")  # True, FALSE are no booleans
    assert kinds["mixed"] == ("StringColumnProfile", "String")  # 1e3 and NaN are strings
    assert kinds["ints"] == ("NumericColumnProfile", "Integral")
    assert type(profiles["flags"]) is StandardColumnProfile


def test_string_profile_lengths_count_null_as_empty(spark: Any) -> None:
    """Deequ's profiler measures MinLength / MaxLength with NullBehavior.EmptyString."""
    profiles = ColumnProfilerRunner(spark).onData(_edge_frame(spark)).run().profiles
    words = profiles["words"]
    assert isinstance(words, StringColumnProfile)
    assert (words.minLength, words.maxLength) == (0.0, 3.0)
    cased = profiles["cased"]  # a NULL among 4- and 5-letter words: 0, not 4
    assert isinstance(cased, StringColumnProfile) and cased.minLength == 0.0


def _deequ_profile(conv: Any, profile: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "class": profile.getClass().getSimpleName(), "completeness": profile.completeness(),
        "distinct": profile.approximateNumDistinctValues(),
        "dataType": profile.dataType().toString(), "inferred": profile.isDataTypeInferred(),
        "typeCounts": dict(conv.mapAsJavaMapConverter(profile.typeCounts()).asJava())}
    histogram = profile.histogram()
    out["histogram"] = None if histogram.isEmpty() else sorted(
        (str(k), v.absolute()) for k, v in conv.mapAsJavaMapConverter(
            histogram.get().values()).asJava().items())
    if out["class"] == "NumericColumnProfile":
        for name in ("mean", "maximum", "minimum", "sum", "stdDev"):
            value = getattr(profile, name)()
            out[name] = None if value.isEmpty() else pytest.approx(value.get())
    if out["class"] == "StringColumnProfile":
        for name in ("minLength", "maxLength"):
            value = getattr(profile, name)()
            out[name] = None if value.isEmpty() else float(value.get())
    return out


def _our_profile(profile: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "class": type(profile).__name__, "completeness": profile.completeness,
        "distinct": profile.approximateNumDistinctValues, "dataType": profile.dataType,
        "inferred": profile.isDataTypeInferred, "typeCounts": dict(profile.typeCounts),
        "histogram": None if profile.histogram is None else sorted(
            (str(k), v.absolute) for k, v in profile.histogram.values.items())}
    if isinstance(profile, NumericColumnProfile):
        for name in ("mean", "maximum", "minimum", "sum", "stdDev"):
            out[name] = getattr(profile, name)
    if isinstance(profile, StringColumnProfile):
        out["minLength"], out["maxLength"] = profile.minLength, profile.maxLength
    return out


@pytest.mark.jars
def test_profiles_of_edge_columns_equal_real_deequs(deequ: Any) -> None:
    """Numeric, boolean and NULL-only strings, signs and padding, a decimal and a boolean
    column through Deequ 2.0.7's ColumnProfilerRunner (py4j) and Lakeforge's."""
    df = _edge_frame(deequ)
    jvm = deequ.sparkContext._jvm
    conv = jvm.scala.collection.JavaConverters
    real = conv.mapAsJavaMapConverter(jvm.com.amazon.deequ.profiles.ColumnProfilerRunner()
                                      .onData(df._jdf).run().profiles()).asJava()
    ours = ColumnProfilerRunner(deequ).onData(df).run().profiles
    for column in df.columns:
        assert _our_profile(ours[column]) == _deequ_profile(conv, real.get(column)), column


# Category counts all differ, so the order of the suggested values is the same in both
# engines (Deequ orders ties by its Scala Map's iteration order).
CATEGORY_ROWS = ([("a", "1", True, k) for k in range(10)] + [("b", "2", False, k) for k in
                 range(10, 16)] + [("c", "3", True, k) for k in range(16, 19)]
                 + [("d", "-0", False, 19)])


def _categories(spark: Any) -> Any:
    return spark.createDataFrame(CATEGORY_ROWS, "k string, n string, flag boolean, id int")


def _suggestions(result: dict[str, Any]) -> set[tuple[str, str, str, str]]:
    return {(s["column_name"], s["code_for_constraint"], s["description"], s["current_value"])
            for s in result["constraint_suggestions"]}


def test_fractional_categorical_range_targets_the_wald_lower_bound(spark: Any) -> None:
    """a, b, c cover 95% of k (d is the one value seen once): Deequ suggests the values for at
    least p - 1.96 sqrt(p (1 - p) / n) of the rows, rounded down (0.85), not p (0.95). No IS IN
    for the boolean column, nor for the unique id; n's "-0" is 0 (Integral strings are cast
    to long)."""
    got = _suggestions(ConstraintSuggestionRunner(spark).onData(_categories(spark))
                       .addConstraintRule(DEFAULT()).run())
    k = {s for s in got if s[0] == "k"}
    assert ('k', '.isContainedIn("k", Array("a", "b", "c"), _ >= 0.85, '
            'Some("It should be above 0.85!"))',
            "'k' has value range 'a', 'b', 'c' for at least 85.0% of values",
            "Compliance: 0.9500000000000001") in k  # 0.5 + 0.3 + 0.15, as Deequ sums
    assert not [s for s in got if s[0] in ("flag", "id") and "isContainedIn" in s[1]]
    assert ("n", '.isNonNegative("n")', "'n' has no negative values", "Minimum: 0.0") in got


@pytest.mark.jars
def test_default_suggestions_equal_real_deequs(deequ: Any) -> None:
    """Rules.DEFAULT through Deequ 2.0.7's ConstraintSuggestionRunner (py4j) and Lakeforge's,
    on the categories frame and the edge columns."""
    jvm = deequ.sparkContext._jvm
    conv = jvm.scala.collection.JavaConverters
    rules = getattr(jvm.com.amazon.deequ.suggestions, "Rules$").__getattr__("MODULE$").DEFAULT()
    for df in (_categories(deequ), _edge_frame(deequ)):
        result = jvm.com.amazon.deequ.suggestions.ConstraintSuggestionRunner().onData(df._jdf) \
            .addConstraintRules(rules).run()
        by_column = conv.mapAsJavaMapConverter(result.constraintSuggestions()).asJava()
        expected = {(str(column), s.codeForConstraint(), s.description(), s.currentValue())
                    for column in by_column.keySet()
                    for s in conv.seqAsJavaListConverter(by_column.get(column)).asJava()}
        ours = _suggestions(ConstraintSuggestionRunner(deequ).onData(df)
                            .addConstraintRule(DEFAULT()).run())
        assert ours == expected
