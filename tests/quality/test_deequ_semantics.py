"""Deequ 2.0.7 behaviours the differential (tests/quality/deequ_corpus.py) found the native
engine missing, pinned without the jar: each expected value is what real Deequ returned."""

from __future__ import annotations

import math
from typing import Any

import pytest
from pyspark.sql import functions as F
from pyspark.sql import types as T

from quality import Check, CheckLevel, CheckStatus, VerificationResult, VerificationSuite
from quality.analyzers import AnalysisRunner, ApproxQuantile, ColumnCount, Correlation

SCHEMA = T.StructType([T.StructField("id", T.IntegerType()), T.StructField("t", T.StringType()),
                       T.StructField("x", T.DoubleType())])
ROWS = [(1, "a", 1.0), (2, None, None), (3, None, 5.0), (4, "b", -2.0), (5, "b", None)]


def _run(spark: Any, *checks: Check) -> tuple[Any, Any]:
    df = spark.createDataFrame(ROWS, SCHEMA)
    builder = VerificationSuite(spark).onData(df)
    for check in checks:
        builder = builder.addCheck(check)
    return builder.run(), df


def _rows(spark: Any, result: Any, df: Any, name: str) -> dict[int, Any]:
    frame = VerificationResult.rowLevelResultsAsDataFrame(spark, result, df)
    if name not in frame.columns:
        return {}
    return {r["id"]: r[name] for r in frame.select("id", f"`{name}`").collect()}


def test_row_level_skips_a_constraint_on_a_missing_column(spark: Any) -> None:
    result, df = _run(spark, Check(CheckLevel.Error, "c").isComplete("nope").isComplete("t"),
                      Check(CheckLevel.Error, "m").hasMean("x", lambda v: v > 0))
    rows = _rows(spark, result, df, "c")
    assert rows == {1: True, 2: False, 3: False, 4: True, 5: True}
    frame = VerificationResult.rowLevelResultsAsDataFrame(spark, result, df)
    assert "m" not in frame.columns  # no row-level constraint: Deequ adds no column


def test_uniqueness_rows_count_null_as_a_value(spark: Any) -> None:
    result, df = _run(spark, Check(CheckLevel.Error, "u").isUnique("t"))
    # Two NULLs form a group of two (not unique); "b" occurs twice; "a" once.
    assert _rows(spark, result, df, "u") == {1: True, 2: False, 3: False, 4: False, 5: False}


def test_compliance_rows_keep_null_and_completeness_rows_null_where(spark: Any) -> None:
    result, df = _run(spark, Check(CheckLevel.Error, "s").satisfies("x > 0", "pos"),
                      Check(CheckLevel.Error, "c").isComplete("t").where("x > 0"))
    assert _rows(spark, result, df, "s") == {1: True, 2: None, 3: True, 4: False, 5: None}
    assert _rows(spark, result, df, "c") == {1: True, 2: None, 3: False, 4: True, 5: None}


def test_success_metric_names_say_the_filter_and_the_quantile(spark: Any) -> None:
    df = spark.createDataFrame(ROWS, SCHEMA)
    result = (VerificationSuite(spark).onData(df)
              .addCheck(Check(CheckLevel.Error, "c").hasMean("x", lambda v: v > 0).where("id > 1")
                        .hasApproxQuantile("x", 0.5, lambda v: True)).run())
    names = {r["name"] for r in VerificationResult.successMetricsAsJson(spark, result)}
    assert names == {"Mean (where: id > 1)", "ApproxQuantile-0.5"}
    assert str(ColumnCount()) == "ColumnCount()"
    context = AnalysisRunner(spark).onData(df).addAnalyzer(ApproxQuantile("x", 0.25)).run()
    (metric,) = context.metricMap.values()
    assert metric.name == "ApproxQuantile-0.25"


def test_histogram_ratios_divide_by_all_rows_and_bin_counts_have_none(spark: Any) -> None:
    seen: dict[str, Any] = {}

    def keep(name: str) -> Any:
        def assertion(d: Any) -> bool:
            seen[name] = d
            return True
        return assertion

    _run(spark, Check(CheckLevel.Error, "h").hasHistogramValues("t", keep("h")).where("id > 3"))
    ratios = {k: v.ratio for k, v in seen["h"].values.items()}
    assert ratios == {"b": 2 / 5}  # 2 of all 5 rows, not of the 2 rows passing the filter
    result, _ = _run(spark, Check(CheckLevel.Error, "n").hasNumberOfDistinctValues(
        "t", lambda n: n == 3))
    (cr,) = result.checkResults[next(iter(result.checkResults))].constraintResults
    assert cr.constraint.name.endswith(",false,Count))")
    assert {k: v.ratio for k, v in cr.metric.value.values.items()} == {
        "a": 1.0, "b": 2.0, "NullValue": 2.0}


def test_correlation_is_nan_without_variance_and_empty_without_pairs(spark: Any) -> None:
    df = spark.createDataFrame(ROWS, SCHEMA).withColumn("k", F.lit(2.0))
    runner = AnalysisRunner(spark).onData(df)
    one_pair, constant, no_pair = (Correlation("x", "id", "id = 1"), Correlation("x", "k"),
                                   Correlation("x", "id", "id > 100"))
    metrics = runner.addAnalyzer(one_pair).addAnalyzer(constant).addAnalyzer(no_pair).run()
    assert math.isnan(metrics.metricMap[one_pair].value)
    assert math.isnan(metrics.metricMap[constant].value)
    assert not metrics.metricMap[no_pair].is_success
    assert str(metrics.metricMap[no_pair].exception).startswith("Empty state for analyzer")


def test_is_contained_in_escapes_quotes_like_deequ(spark: Any) -> None:
    df = spark.createDataFrame([("it's",), ('say "hi"',), ("b",), (None,)], "v string")
    check = Check(CheckLevel.Error, "q").isContainedIn("v", ["it's", 'say "hi"'])
    result = VerificationSuite(spark).onData(df).addCheck(check).run()
    (cr,) = result.checkResults[check].constraintResults
    assert str(cr.constraint) == (
        "ComplianceConstraint(Compliance(v contained in it's,say \"hi\",`v` IS NULL OR `v` IN "
        "('it\\'s','say \"hi\"'),None,List(v),None))")
    assert cr.metric.value == 0.75  # it's, say "hi" and NULL are allowed; b is not


def test_sum_and_mean_of_a_decimal_column_sum_the_decimals_first(spark: Any) -> None:
    """Deequ's Sum is ``sum(col).cast(DoubleType)`` and Mean divides that by the count: on a
    DECIMAL column 0.10 + 0.20 is 0.3 exactly, where summing doubles gives 0.30000000000000004
    (the full corpus's 3 open cases). NULLs are skipped; an all-NULL column is an empty state."""
    from decimal import Decimal

    from quality.analyzers import Mean, Sum

    schema = T.StructType([T.StructField("d", T.DecimalType(12, 2)),
                           T.StructField("x", T.DoubleType())])
    df = spark.createDataFrame([(Decimal("0.10"), 0.1), (Decimal("0.20"), 0.2), (None, None)],
                               schema)
    context = AnalysisRunner(spark).onData(df).addAnalyzer(Sum("d")).addAnalyzer(Mean("d")) \
        .addAnalyzer(Sum("x")).run()
    metrics = {(m.name, m.instance): m.value for m in context.allMetrics()}
    assert metrics[("Sum", "d")] == 0.3
    assert metrics[("Mean", "d")] == 0.15
    assert metrics[("Sum", "x")] == 0.1 + 0.2  # a double column keeps double arithmetic
    empty = AnalysisRunner(spark).onData(df.where(F.col("d").isNull())).addAnalyzer(
        Sum("d")).run()
    (metric,) = empty.allMetrics()
    assert metric.value is None and "Empty state" in str(metric.exception)


def test_engine_reads_the_sessions_effective_ansi_setting(spark: Any) -> None:
    """Spark 4 turns ANSI on without setting the key: ``conf.get(key, "false")`` answered
    "false" there, so the engine planned ``corr`` and a constant column raised DIVIDE_BY_ZERO
    inside an observed aggregate (Observation.get then waited forever). With ANSI on for this
    run, the constant column's correlation is NaN on either Spark line."""
    previous = spark.conf.get("spark.sql.ansi.enabled")
    spark.conf.set("spark.sql.ansi.enabled", "true")
    try:
        df = spark.createDataFrame(ROWS, SCHEMA).withColumn("k", F.lit(2.0))
        constant = Correlation("x", "k")
        metric = AnalysisRunner(spark).onData(df).addAnalyzer(constant).run().metricMap[constant]
        assert metric.is_success and math.isnan(metric.value)
        pair = Correlation("x", "id")
        value = AnalysisRunner(spark).onData(df).addAnalyzer(pair).run().metricMap[pair].value
        spark_corr = df.select(F.corr("x", "id")).first()[0]  # no zero variance: corr is safe
        assert value == pytest.approx(spark_corr, rel=1e-12)
    finally:
        spark.conf.set("spark.sql.ansi.enabled", previous)


@pytest.mark.parametrize("legacy", ["false", "true"])
def test_skewness_kurtosis_of_constant_column_is_zero(spark: Any, legacy: str) -> None:
    """Deequ's Skewness/Kurtosis states answer 0.0 when m2 == 0 (all values equal, or one
    value) and are empty only when no value is counted. Spark's skewness/kurtosis answer NULL
    there (NaN with the legacy statistical aggregates), which read as "all values were NULL"."""
    from quality.analyzers import Kurtosis, Skewness

    df = spark.createDataFrame([(1, 5.0), (2, 5.0), (3, 5.0), (4, None), (5, 1.0)],
                               "id int, x double")
    analyzers = {
        "constant": (Skewness("x", "id <= 4"), Kurtosis("x", "id <= 4")),
        "one row": (Skewness("x", "id = 1"), Kurtosis("x", "id = 1")),
        "all NULL": (Skewness("x", "id = 4"), Kurtosis("x", "id = 4")),
        "no row": (Skewness("x", "id > 9"), Kurtosis("x", "id > 9")),
        "varying": (Skewness("x"), Kurtosis("x")),
    }
    previous = spark.conf.get("spark.sql.legacy.statisticalAggregate")
    spark.conf.set("spark.sql.legacy.statisticalAggregate", legacy)
    try:
        runner = AnalysisRunner(spark).onData(df)
        for pair in analyzers.values():
            for analyzer in pair:
                runner = runner.addAnalyzer(analyzer)
        metrics = runner.run().metricMap
        check = (Check(CheckLevel.Error, "moments").hasSkewness("x", lambda v: v == 0.0)
                 .where("id <= 3").hasKurtosis("x", lambda v: v == 0.0).where("id <= 3"))
        result = VerificationSuite(spark).onData(df).addCheck(check).run()
    finally:
        spark.conf.set("spark.sql.legacy.statisticalAggregate", previous)
    for case in ("constant", "one row"):
        assert [metrics[a].value for a in analyzers[case]] == [0.0, 0.0], case
    for case in ("all NULL", "no row"):
        for analyzer in analyzers[case]:
            assert not metrics[analyzer].is_success, case
            assert str(metrics[analyzer].exception).startswith("Empty state for analyzer"), case
    # 5, 5, 5, 1: g1 = sqrt(n) m3 / m2^1.5 and n m4 / m2^2 - 3 (m_k = sum of (x - mean)^k)
    values = [5.0, 5.0, 5.0, 1.0]
    mean = sum(values) / 4
    m2, m3, m4 = (sum((v - mean) ** k for v in values) for k in (2, 3, 4))
    skew, kurt = (metrics[a].value for a in analyzers["varying"])
    assert skew == pytest.approx(math.sqrt(4) * m3 / m2 ** 1.5)
    assert kurt == pytest.approx(4 * m4 / m2 ** 2 - 3.0)
    assert result.status == CheckStatus.Success, [
        cr.message for r in result.checkResults.values() for cr in r.constraintResults]
