"""Benchmark: apply_mapping + drop_null_fields + relationalize on nested JSON records.

Generates N nested JSON records (default 1,000,000) with Spark, reads them back with an explicit
schema, runs the three Glue transforms and writes every relationalized table as Parquet. Prints
wall time and the number of Spark jobs of each phase (SparkContext status tracker), plus the
error counts ApplyMapping observed. Run by hand::

    .venv/bin/python benchmarks/glue_transforms.py [--records 1000000] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pyspark.sql import DataFrame, SparkSession  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

from transforms.glue import (  # noqa: E402
    ErrorLedger,
    apply_mapping,
    drop_null_fields,
    relationalize,
)

SCHEMA = (
    "id bigint, "
    "customer struct<name:string, email:string, address:struct<city:string, zip:string>>, "
    "amount string, tags array<string>, "
    "items array<struct<sku:string, qty:bigint, note:string>>, legacy string"
)

MAPPINGS = [
    ("id", "long", "order_id", "long"),
    ("customer.name", "string", "customer.name", "string"),
    ("customer.email", "string", "customer.email", "string"),
    ("customer.address.city", "string", "customer.city", "string"),
    ("customer.address.zip", "string", "customer.zip", "int"),
    ("amount", "string", "amount", "double"),
    ("tags", "array<string>", "tags", "array<string>"),
    ("items", "array<struct<sku:string,qty:bigint,note:string>>", "items",
     "array<struct<sku:string,qty:bigint,note:string>>"),
    ("legacy", "string", "legacy", "string"),
]


def generate(spark: SparkSession, n: int, path: str) -> None:
    """Nested records: email, items[].note and legacy are null everywhere; 1% bad amounts."""
    i = F.col("id")
    records = spark.range(n).select(
        i.alias("id"),
        F.struct(
            F.concat(F.lit("name-"), (i % 1000).cast("string")).alias("name"),
            F.lit(None).cast("string").alias("email"),
            F.struct(F.concat(F.lit("city-"), (i % 50).cast("string")).alias("city"),
                     F.lpad((i % 99999).cast("string"), 5, "0").alias("zip")).alias("address"),
        ).alias("customer"),
        F.when(i % 100 == 0, F.lit("n/a")).otherwise(((i % 997) / 10).cast("string"))
        .alias("amount"),
        F.slice(F.array(F.lit("a"), F.lit("b"), F.lit("c")), 1, (i % 4).cast("int"))
        .alias("tags"),
        F.transform(F.sequence(F.lit(1), (i % 3 + 1).cast("int")),
                    lambda k: F.struct(F.concat(F.lit("sku-"), k.cast("string")).alias("sku"),
                                       k.cast("long").alias("qty"),
                                       F.lit(None).cast("string").alias("note"))).alias("items"),
        F.lit(None).cast("string").alias("legacy"),
    )
    records.write.mode("overwrite").json(path)


def measured(spark: SparkSession, label: str, fn: Callable[[], Any]) -> tuple[Any, float, int]:
    sc = spark.sparkContext
    bus = sc._jsc.sc().listenerBus()
    bus.waitUntilEmpty(30_000)
    group = f"bench-{label}-{uuid.uuid4().hex[:8]}"
    sc.setJobGroup(group, label)
    started = time.perf_counter()
    try:
        result = fn()
    finally:
        elapsed = time.perf_counter() - started
        sc.setLocalProperty("spark.jobGroup.id", None)  # type: ignore[arg-type]
    bus.waitUntilEmpty(30_000)
    return result, elapsed, len(sc.statusTracker().getJobIdsForGroup(group))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args(argv)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="glue-bench-"))
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = (
        SparkSession.builder.master("local[2]").appName("glue-transforms-benchmark")
        .config("spark.driver.memory", "4g").config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4").config("spark.sql.adaptive.enabled", "true")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    try:
        src = str(workdir / "raw_json")
        _, t_gen, _ = measured(spark, "generate", lambda: generate(spark, args.records, src))
        raw = spark.read.schema(SCHEMA).json(src)
        ledger = ErrorLedger()

        def transform() -> dict[str, DataFrame]:
            mapped = apply_mapping(raw, mappings=MAPPINGS, ledger=ledger,
                                   transformation_ctx="typing", stage_threshold=args.records)
            return relationalize(drop_null_fields(mapped), "orders")

        tables, t_transform, jobs_transform = measured(spark, "transform", transform)

        _, t_write, jobs_write = measured(
            spark, "write", lambda: [t.write.mode("overwrite").parquet(str(workdir / "out" / n))
                                     for n, t in tables.items()])
        counts = {n: spark.read.parquet(str(workdir / "out" / n)).count() for n in tables}
        [stage] = ledger.check()
        tables.unpersist()  # type: ignore[attr-defined]

        print(f"records: {args.records:,}  (local[2], driver 4g, AQE on)")
        print(f"generate + write nested JSON: {t_gen:.1f}s")
        print(f"apply_mapping + drop_null_fields + relationalize calls: {t_transform:.1f}s, "
              f"{jobs_transform} Spark job(s) (drop_null_fields' one aggregation)")
        print(f"write {len(tables)} relationalized tables as Parquet: {t_write:.1f}s, "
              f"{jobs_write} Spark job(s)")
        print(f"total transform + write: {t_transform + t_write:.1f}s")
        print("tables:", ", ".join(f"{n}={c:,} rows" for n, c in counts.items()))
        print("root columns:", tables["orders"].columns)
        print(f"ApplyMapping observed: {stage.records:,} records, {stage.error_records:,} "
              f"error record(s) ({stage.error_values:,} values) - counted by drop_null_fields' "
              "aggregation, no extra job")
    finally:
        spark.stop()
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
