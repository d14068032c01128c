"""Execution plan: the 25-constraint suite over 12 columns runs in at most 3 Spark jobs, and the
shared plan computes exactly what separate runs compute.

Jobs are counted with the status tracker (setJobGroup + getJobIdsForGroup). The session runs
with AQE on, which materialises each shuffle stage as its own job; the count is measured, not
assumed.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from pyspark.sql import functions as F
from pyspark.sql import types as T

from quality import Check, CheckLevel, CheckStatus, VerificationSuite
from quality.analyzers import (
    AnalysisRunner,
    Analyzer,
    ApproxCountDistinct,
    ApproxQuantile,
    ApproxQuantiles,
    Completeness,
    Compliance,
    Correlation,
    CountDistinct,
    DataType,
    Distinctness,
    DuplicateRowCount,
    Entropy,
    ExactQuantile,
    Histogram,
    HistogramBinned,
    InterquartileRange,
    MaxLength,
    Mean,
    Minimum,
    PatternMatch,
    Size,
    StandardDeviation,
    Sum,
    Uniqueness,
    UniqueValueRatio,
)
from quality.metrics import Distribution, Metric
from quality.native_engine import compute_metrics
from quality.reference_suites import orders_frame, orders_suite


def count_jobs(spark: Any, action: Callable[[], Any]) -> tuple[int, Any]:
    sc = spark.sparkContext
    group = f"quality-test-{uuid.uuid4().hex}"
    sc.setJobGroup(group, "quality job count")
    try:
        value = action()
    finally:
        sc.setLocalProperty("spark.jobGroup.id", None)
    return len(sc.statusTracker().getJobIdsForGroup(group)), value


def test_25_constraint_suite_runs_in_at_most_3_jobs(spark: Any, tmp_path: Any) -> None:
    path = str(tmp_path / "orders")
    orders_frame(spark, 500).write.parquet(path)
    df = spark.read.parquet(path)
    check = orders_suite(spark)
    assert len(check.constraints) == 25
    columns = {c for a in check.requiredAnalyzers() for c in a.columns_referenced()}
    assert len(df.columns) == 12 and columns <= set(df.columns)

    jobs, result = count_jobs(spark, lambda: VerificationSuite(spark).onData(df)
                              .addCheck(check).run())

    assert jobs <= 3, f"{jobs} Spark jobs"
    failures = [(str(cr.constraint), cr.message) for r in result.checkResults.values()
                for cr in r.constraintResults if cr.message]
    assert failures == []
    assert result.status == CheckStatus.Success


def test_scan_only_run_is_one_job(spark: Any) -> None:
    df = orders_frame(spark, 200)
    analyzers = [Size(), Completeness("email"), Mean("amount"), ApproxQuantile("price", 0.5)]
    jobs, ctx = count_jobs(spark, lambda: AnalysisRunner(spark).onData(df)
                           .addAnalyzers(analyzers).run())
    assert jobs == 1
    assert ctx.metric(Size()).value == 200.0


def test_many_grouping_sets_share_one_shuffle(spark: Any) -> None:
    df = orders_frame(spark, 200)
    grouping = [Uniqueness(["order_id"]), Uniqueness(["customer_id"]), Entropy("country"),
                CountDistinct(["status", "country"]), Histogram("status"),
                Uniqueness(["customer_id"], "quantity > 3")]
    jobs, _ = count_jobs(spark, lambda: AnalysisRunner(spark).onData(df)
                         .addAnalyzers(grouping).run())
    assert jobs <= 2  # one shuffle map stage and the result stage
    analyzers = [*grouping, Size()]
    jobs, ctx = count_jobs(spark, lambda: AnalysisRunner(spark).onData(df)
                           .addAnalyzers(analyzers).run())
    assert jobs <= 3  # plus the scan aggregation's own shuffle stage
    assert ctx.metric(Uniqueness(["order_id"])).value == 1.0
    assert ctx.metric(CountDistinct(["status", "country"])).value == 40.0
    assert ctx.metric(Histogram("status")).value.numberOfBins == 5
    reference = df.where("quantity > 3").groupBy("customer_id").count()
    expected = reference.where("count = 1").count() / df.where("quantity > 3").count()
    assert ctx.metric(Uniqueness(["customer_id"], "quantity > 3")).value == expected


SCHEMA = T.StructType([
    T.StructField("id", T.LongType()),
    T.StructField("grp", T.IntegerType()),
    T.StructField("name", T.StringType()),
    T.StructField("amount", T.DoubleType()),
    T.StructField("flag", T.BooleanType()),
    T.StructField("num_text", T.StringType()),
])
ROWS = [
    (1, 1, "a", 10.0, True, "1"),
    (2, 1, "b", None, False, "-2"),
    (3, 2, None, 2.5, None, "3.5"),
    (4, 2, "b", -1.0, True, None),
    (None, 3, "c", 0.0, None, "true"),
    (6, None, None, None, None, "x"),
    (6, 3, "c", 7.25, False, "+ 7"),
]

SCAN = [Size(), Size("grp > 1"), Completeness("name"), Completeness("name", "grp > 5"),
        Mean("amount"), StandardDeviation("amount"), Sum("amount", "grp = 2"),
        Minimum("amount"), ApproxQuantile("amount", 0.5), ApproxQuantiles("amount", [0.1, 0.9]),
        ExactQuantile("amount", 0.5), InterquartileRange("amount"),
        ApproxCountDistinct("name"), MaxLength("name"), PatternMatch("name", r"^[ab]$"),
        Correlation("amount", "grp"), Compliance("amount >= 0", "amount >= 0"),
        DataType("grp"), DataType("id", "grp > 1"), DataType("flag"), DataType("num_text"),
        DataType("amount")]
GROUPING = [Uniqueness(["id"]), Distinctness(["name"]), UniqueValueRatio(["grp"]),
            CountDistinct(["name", "grp"]), Entropy("name"), Histogram("name"),
            DuplicateRowCount(), Uniqueness(["name"], "grp > 1"),
            HistogramBinned("amount", customEdges=[-5.0, 0.0, 5.0, 10.0])]


def comparable(metric: Metric) -> tuple[Any, ...]:
    """A metric as a plain value: NaN made comparable, failures by type and message."""
    value = metric.value
    if isinstance(value, float) and math.isnan(value):
        value = "NaN"
    elif isinstance(value, Distribution):
        value = str(value)
    elif isinstance(value, dict):
        value = {k: "NaN" if isinstance(v, float) and math.isnan(v) else v
                 for k, v in value.items()}
    error = metric.exception
    return (type(metric).__name__, metric.name, metric.instance, value,
            type(error).__name__ if error else None, str(error) if error else None)


def metrics_of(df: Any, analyzers: Sequence[Analyzer]) -> dict[Analyzer, tuple[Any, ...]]:
    return {a: comparable(m) for a, m in compute_metrics(df, analyzers).items()}


@pytest.mark.parametrize("rows", [ROWS, []], ids=["with-nulls", "empty"])
def test_shared_plan_matches_separate_scan_and_grouping_runs(spark: Any, rows: list[Any]) -> None:
    df = spark.createDataFrame(rows, SCHEMA)
    shared = metrics_of(df, SCAN + GROUPING)
    separate = {**metrics_of(df, SCAN), **metrics_of(df, GROUPING)}  # 1 scan-only plan, 1 grouping
    assert shared == separate
    one_by_one = {a: metrics_of(df, [a])[a] for a in SCAN + GROUPING}
    assert shared == one_by_one
    if rows:
        assert shared[Size()][3] == 7.0 and shared[Uniqueness(["id"])][3] == 4 / 6
        assert all(v[4] is None for v in shared.values()), shared
    else:
        assert shared[Size()][3] == 0.0 and shared[CountDistinct(["name", "grp"])][3] == 0.0
        assert shared[Mean("amount")][4] == "EmptyStateException"


def test_data_type_of_typed_columns_matches_their_string_form(spark: Any) -> None:
    """Integer and boolean columns skip the regexes: the distribution is the same as that of
    the values cast to strings (which go through the regexes)."""
    schema = T.StructType([
        T.StructField("b", T.ByteType()), T.StructField("s", T.ShortType()),
        T.StructField("i", T.IntegerType()), T.StructField("l", T.LongType()),
        T.StructField("t", T.BooleanType()), T.StructField("w", T.IntegerType())])
    rows = [(1, -2, 3, -(2**62), True, 1), (None, 7, None, 0, False, 2),
            (-128, None, -(2**31), None, None, 3), (127, 32767, 5, 9, True, None)]
    df = spark.createDataFrame(rows, schema)
    text = df.select(*[df[c].cast("string").alias(f"{c}_text") for c in df.columns])
    both = df.select("*", *[df[c].cast("string").alias(f"{c}_text") for c in df.columns])
    cases = [(c, where) for c in ["b", "s", "i", "l", "t"] for where in (None, "w >= 2", "w > 9")]
    for frame in (both, both.limit(0)):
        typed = compute_metrics(frame, [DataType(c, where) for c, where in cases])
        texted = compute_metrics(frame, [DataType(f"{c}_text", where) for c, where in cases])
        for c, where in cases:
            assert typed[DataType(c, where)].is_success
            assert (str(typed[DataType(c, where)].value)
                    == str(texted[DataType(f"{c}_text", where)].value)), (c, where)
    counts = compute_metrics(df, [DataType("i")])[DataType("i")].value
    assert counts.absolutes == {"Unknown": 1, "Fractional": 0, "Integral": 3, "Boolean": 0,
                                "String": 0}
    assert compute_metrics(text, [DataType("t_text")])[DataType("t_text")].value.absolutes[
        "Boolean"] == 3
    missing = compute_metrics(df, [DataType("nope")])[DataType("nope")]
    assert not missing.is_success and "nope" in str(missing.exception)


def _sign_compliances(column: str) -> list[Compliance]:
    check = Check(CheckLevel.Error, "signs").isNonNegative(column).isPositive(column)
    found = [a for a in check.requiredAnalyzers() if isinstance(a, Compliance)]
    assert len(found) == 2
    return found


def _edge_doubles() -> list[float | None]:
    values: list[float | None] = [
        None, float("nan"), float("inf"), float("-inf"), 0.0, -0.0, 5e-324, -5e-324, 1e-300,
        -1e-300, 123.45, -123.45, 1e300, -1e300, -0.00000000005, -0.000000000049999,
        0.00000000005, 0.000000000049999, -9999999999.99999999995, 9999999999.99999999995]
    for edge in (5e-11, 1e-10, 1e-9, 9e9, 1e10, 1.1e10):
        for value in (edge, -edge):
            values.append(value)
            for direction in (math.inf, -math.inf):
                step = math.nextafter(value, direction)
                values += [step, math.nextafter(step, direction)]
    rng = random.Random(7)
    values += [rng.choice((1, -1)) * rng.uniform(1, 10) * 10.0 ** rng.randint(-14, 14)
               for _ in range(3000)]
    return values


def _edge_longs() -> list[int | None]:
    values: list[int | None] = [None, 0, 1, -1, 2**63 - 1, -(2**63), 2**31 - 1, -(2**31)]
    for edge in (9 * 10**9, 10**10, 11 * 10**9):
        for value in (edge, -edge):
            values += [value - 1, value, value + 1]
    rng = random.Random(11)
    values += [rng.choice((1, -1)) * rng.randint(0, 10 ** rng.randint(0, 18)) for _ in range(3000)]
    return values


@pytest.mark.parametrize(("dtype", "values"), [("double", _edge_doubles()),
                                               ("bigint", _edge_longs())])
def test_sign_predicates_planned_from_comparisons_equal_the_decimal_cast(
        spark: Any, dtype: str, values: list[Any]) -> None:
    """isNonNegative / isPositive without the per-row decimal cast: the same outcome for
    every value (NULL, NaN, infinities, the rounding edge near 0 and the overflow near 1e10).
    The planned form is for non-ANSI sessions (Spark 3.5's default): ANSI is off for this test
    on either line (Spark 4 turns it on by default)."""
    previous = spark.conf.get("spark.sql.ansi.enabled")
    spark.conf.set("spark.sql.ansi.enabled", "false")
    try:
        _check_sign_predicates(spark, dtype, values)
    finally:
        spark.conf.set("spark.sql.ansi.enabled", previous)


def _check_sign_predicates(spark: Any, dtype: str, values: list[Any]) -> None:
    df = spark.createDataFrame([(v,) for v in values], f"x {dtype}")
    for analyzer in _sign_compliances("x"):
        planned = analyzer.resolved(df.schema, ansi=False)
        assert isinstance(planned, Compliance) and planned == analyzer
        assert planned._evaluated is not None, analyzer.predicate
        both = df.select("x", F.expr(analyzer.predicate).alias("cast"),
                         planned._evaluated.alias("planned"))
        differing = both.where(~F.col("cast").eqNullSafe(F.col("planned"))).collect()
        assert differing == [], (analyzer.predicate, differing[:10])
        outcomes = {r["cast"] for r in both.select("cast").distinct().collect()}
        assert outcomes == {True, False}


def test_sign_predicates_keep_the_cast_where_it_is_not_provably_equal(spark: Any) -> None:
    schema = T.StructType([T.StructField("d", T.DoubleType()), T.StructField("f", T.FloatType()),
                           T.StructField("m", T.DecimalType(12, 4)),
                           T.StructField("s", T.StringType())])
    for analyzer in _sign_compliances("d"):
        assert analyzer.resolved(schema, ansi=True)._evaluated is None  # ANSI: overflow raises
        assert analyzer.resolved(schema, ansi=False)._evaluated is not None
    for column in ("f", "m", "s"):
        for analyzer in _sign_compliances(column):
            assert analyzer.resolved(schema, ansi=False)._evaluated is None, column
    other = Compliance("d >= 0", "COALESCE(CAST(d AS DECIMAL(20,10)), 0.0) >= 0", columns=["f"])
    assert other.resolved(schema, ansi=False)._evaluated is None
    df = spark.createDataFrame([(-1.0, None, None, None), (2.0, None, None, None),
                                (None, None, None, None)], schema)
    metrics = compute_metrics(df, _sign_compliances("d"))
    assert sorted(m.value for m in metrics.values()) == [2 / 3, 2 / 3]
