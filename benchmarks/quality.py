"""Benchmark: native Deequ-compatible verification vs real Deequ vs Great Expectations 1.x.

    .venv/bin/python benchmarks/quality.py [--rows 10000000] [--profile-rows 1000000]
                                           [--profile-columns 200] [--skip-gx] [--skip-deequ]

1. Writes the 12-column orders data (quality.reference_suites.orders_frame) to Parquet once.
2. Runs the 25-constraint suite (quality.reference_suites.orders_suite) natively, and the
   same suite on real Deequ 2.0.7 (the ``deequ`` engine: PyDeequ with the jar set ``deequ``), and
   the overlapping expectations as a GX 1.x suite on the same Spark DataFrame, in the same run;
   reports wall time and Spark job counts (status tracker) of each.
3. Profiles a frame of ``--profile-columns`` numeric/string columns x ``--profile-rows`` rows with
   Lakeforge's ColumnProfilerRunner and with Deequ's (through PyDeequ); time and Spark jobs.

One session for all engines: local[2], driver memory 4g, the Deequ jar on spark.jars (`make
jars` fetches it). Great Expectations and PyDeequ come with the dev extra. The 1-minute load
average is printed before and after (the machine may be shared).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")


def spark_session(jars: list[str]) -> Any:
    from pyspark.sql import SparkSession

    builder = SparkSession.builder
    if jars:
        builder = builder.config("spark.jars", ",".join(jars))
    return (builder.master("local[2]").appName("quality-benchmark")
            .config("spark.driver.memory", "4g")
            .config("spark.sql.shuffle.partitions", "8")
            .config("spark.sql.adaptive.enabled", "true")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.driver.host", "127.0.0.1")
            .getOrCreate())


def measure(spark: Any, action: Callable[[], Any]) -> tuple[float, int, Any]:
    sc = spark.sparkContext
    group = f"bench-{uuid.uuid4().hex}"
    sc.setJobGroup(group, group)
    started = time.perf_counter()
    try:
        value = action()
    finally:
        elapsed = time.perf_counter() - started
        sc.setLocalProperty("spark.jobGroup.id", None)
    return elapsed, len(sc.statusTracker().getJobIdsForGroup(group)), value


def gx_suite(gx: Any) -> list[Any]:
    """The expectations overlapping the native suite (GX has no entropy, correlation,
    unique-value-ratio, approx-count-distinct or data-type-ratio expectation)."""
    from quality.reference_suites import ORDER_STATUSES

    E = gx.expectations
    return [
        E.ExpectTableRowCountToBeBetween(min_value=1),
        E.ExpectColumnValuesToNotBeNull(column="order_id"),
        E.ExpectColumnValuesToBeUnique(column="order_id"),
        E.ExpectColumnValuesToNotBeNull(column="email", mostly=0.95),
        E.ExpectColumnValuesToMatchRegex(column="email", regex=r"^[^@\s]+@[^@\s]+\.[a-z]+$",
                                         mostly=0.95),
        E.ExpectColumnValuesToBeInSet(column="status", value_set=ORDER_STATUSES),
        E.ExpectColumnUniqueValueCountToBeBetween(column="status", max_value=10),
        E.ExpectColumnValuesToBeBetween(column="amount", min_value=0),
        E.ExpectColumnMeanToBeBetween(column="amount", min_value=200, max_value=300),
        E.ExpectColumnStdevToBeBetween(column="amount", min_value=0, strict_min=True),
        E.ExpectColumnMaxToBeBetween(column="amount", max_value=500),
        E.ExpectColumnMinToBeBetween(column="quantity", min_value=0),
        E.ExpectColumnValuesToBeBetween(column="quantity", min_value=0, max_value=9),
        E.ExpectColumnMedianToBeBetween(column="price", min_value=50, max_value=150),
        E.ExpectColumnPairValuesAToBeGreaterThanB(column_A="price", column_B="cost",
                                                  or_equal=True),
        E.ExpectColumnProportionOfUniqueValuesToBeBetween(column="customer_id", min_value=0.1),
        E.ExpectColumnValueLengthsToBeBetween(column="note", max_value=200),
        E.ExpectColumnValuesToMatchRegex(column="created", regex=r"^\d{4}-\d{2}-\d{2}$"),
        E.ExpectColumnValuesToNotBeNull(column="discount", mostly=0.5),
        E.ExpectColumnValuesToBeBetween(column="price", min_value=0, strict_min=True),
    ]


def run_gx(df: Any) -> tuple[bool, int]:
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    source = context.data_sources.add_spark(name="bench")
    asset = source.add_dataframe_asset(name="orders")
    batch = asset.add_batch_definition_whole_dataframe("all")
    suite = context.suites.add(gx.ExpectationSuite(name="orders"))
    expectations = gx_suite(gx)
    for e in expectations:
        suite.add_expectation(e)
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name="orders", data=batch, suite=suite))
    result = definition.run(batch_parameters={"dataframe": df})
    return bool(result.success), len(expectations)


def profile_frame(spark: Any, rows: int, columns: int) -> Any:
    from pyspark.sql import functions as F

    base = spark.range(rows)
    cols = []
    for i in range(columns):
        kind = i % 4
        if kind == 0:
            cols.append((F.rand(i) * 1000).alias(f"num_{i}"))
        elif kind == 1:
            cols.append((F.col("id") % (i + 3)).cast("int").alias(f"int_{i}"))
        elif kind == 2:
            cols.append(F.concat(F.lit("v"), (F.col("id") % 7).cast("string")).alias(f"cat_{i}"))
        else:
            cols.append(F.when(F.rand(i) < 0.1, None).otherwise(F.col("id").cast("string"))
                        .alias(f"str_{i}"))
    return base.select(*cols)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--profile-rows", type=int, default=1_000_000)
    parser.add_argument("--profile-columns", type=int, default=200)
    parser.add_argument("--data", default="/tmp/lakeforge-quality-bench")
    parser.add_argument("--skip-gx", action="store_true")
    parser.add_argument("--skip-deequ", action="store_true")
    parser.add_argument("--skip-profile", action="store_true")
    parser.add_argument("--skip-suite", action="store_true", help="only the profiling part")
    args = parser.parse_args(argv)

    from quality import VerificationSuite
    from quality.reference_suites import orders_frame, orders_suite

    jars: list[str] = []
    if not args.skip_deequ:
        from lakeforge.jars import set_jars

        jars = set_jars("deequ")  # one line naming `make jars` when not fetched
    print(f"load average (1, 5, 15 min) at start: {os.getloadavg()}")
    spark = spark_session(jars)
    spark.sparkContext.setLogLevel("ERROR")
    if args.skip_suite:
        args.skip_gx = True
    data = Path(args.data) / f"orders_{args.rows}"
    if not (data / "_SUCCESS").exists():
        shutil.rmtree(data, ignore_errors=True)
        t, _, _ = measure(spark, lambda: orders_frame(spark, args.rows).write.parquet(str(data)))
        print(f"generated {args.rows:,} rows of Parquet in {t:.1f}s at {data}")
    df = spark.read.parquet(str(data))
    print(f"rows: {args.rows:,}  columns: {len(df.columns)}  spark {spark.version}")

    # Warm-up of both engines on a small sample (JVM JIT, code generation, GX imports), so
    # that the timed runs compare steady-state work on the full data.
    sample = df.limit(20_000)
    if not args.skip_suite:
        VerificationSuite(spark).onData(sample).addCheck(orders_suite(spark)).run()
    if not args.skip_gx:
        run_gx(sample)
    if not args.skip_deequ:
        warm = VerificationSuite(spark, engine="deequ").onData(sample).addCheck(
            orders_suite(spark)).run()
        print(f"deequ engine: {sum(len(v) for v in warm.notTranslated.values())} constraints "
              "not translatable")

    check = orders_suite(spark)
    native_t, native_jobs, result = 0.0, 0, None
    if not args.skip_suite:
        native_t, native_jobs, result = measure(
            spark, lambda: VerificationSuite(spark).onData(df).addCheck(check).run())
        print(f"native : {len(check.constraints)} constraints, status {result.status.value}, "
              f"{native_t:.1f}s, {native_jobs} Spark jobs")

    if not args.skip_deequ and not args.skip_suite:
        deequ_check = orders_suite(spark)
        deequ_t, deequ_jobs, deequ_result = measure(
            spark, lambda: VerificationSuite(spark, engine="deequ").onData(df).addCheck(
                deequ_check).run())
        ran = sum(len(r.constraintResults) for r in deequ_result.checkResults.values())
        print(f"deequ  : {ran} constraints, status {deequ_result.status.value}, "
              f"{deequ_t:.1f}s, {deequ_jobs} Spark jobs; native/deequ time ratio "
              f"{native_t / deequ_t:.2f} (deequ takes {deequ_t / native_t:.2f}x native)")
        same = [(c.status, c.message) for c in result.checkResults[check].constraintResults] == [
            (c.status, c.message) for c in deequ_result.checkResults[deequ_check].constraintResults]
        print(f"native and deequ verdicts and messages identical: {same}")

    if not args.skip_gx:
        import great_expectations as gx

        gx_t, gx_jobs, (ok, count) = measure(spark, lambda: run_gx(df))
        print(f"gx {gx.__version__}: {count} expectations, success {ok}, {gx_t:.1f}s, "
              f"{gx_jobs} Spark jobs")
        print(f"speed-up: {gx_t / native_t:.1f}x")

    if not args.skip_profile:
        from quality.profiles import ColumnProfilerRunner

        pdf = profile_frame(spark, args.profile_rows, args.profile_columns)
        ppath = Path(args.data) / f"profile_{args.profile_rows}_{args.profile_columns}"
        if not (ppath / "_SUCCESS").exists():
            shutil.rmtree(ppath, ignore_errors=True)
            pdf.write.parquet(str(ppath))
        pdf = spark.read.parquet(str(ppath))
        prof_t, prof_jobs, profiles = measure(
            spark, lambda: ColumnProfilerRunner(spark).onData(pdf).run())
        print(f"profile: {args.profile_columns} columns x {args.profile_rows:,} rows, "
              f"{prof_t:.1f}s, {prof_jobs} Spark jobs, {profiles.passes} passes, "
              f"{len(profiles.profiles)} profiles")
        if not args.skip_deequ:
            os.environ.setdefault("SPARK_VERSION", spark.version)  # PyDeequ reads it
            import pydeequ.profiles as pdp

            from quality.deequ_engine import shutdown_callback_server

            deequ_prof_t, deequ_prof_jobs, deequ_profiles = measure(
                spark, lambda: pdp.ColumnProfilerRunner(spark).onData(pdf).run())
            print(f"profile deequ: {deequ_prof_t:.1f}s, {deequ_prof_jobs} Spark jobs, "
                  f"{len(deequ_profiles.profiles)} profiles; native/deequ time ratio "
                  f"{prof_t / deequ_prof_t:.2f}")
            shutdown_callback_server(spark)
    print(f"load average (1, 5, 15 min) at end: {os.getloadavg()}")
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
