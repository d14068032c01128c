"""Benchmark: Delta and Iceberg publish vs the Parquet publish; MERGE of a 1% change vs
rewriting the golden table.

1. Publish: the same generated input (``spark.range``: id, customer_id, amount, quantity, ts,
   category, dt; 2,000,000 rows, 30 ``dt`` partitions, not cached) published three ways, each
   into a new table: ``publish_partitioned(mode="overwrite")`` (versioned Parquet + catalog
   switch), a Delta commit and an Iceberg commit (lakeforge.formats, registered in the local
   metastore / the Hadoop Iceberg catalog).
2. Golden table (unpartitioned, keyed by id, the publish's rows): a change of 1% of the rows
   (half updates of existing ids, half new ids) applied by MERGE (Delta, Iceberg) vs the
   Parquet way, rewriting the whole table (current rows anti-joined with the change, plus the
   change, published with mode overwrite).

Each step runs ``--repeat`` times on fresh tables; the median is printed. Run by hand::

    .venv/bin/python benchmarks/table_formats.py [--rows 2000000] [--partitions 30] [--repeat 1]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--partitions", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--change", type=float, default=0.01, help="fraction merged")
    args = parser.parse_args(argv)

    from pyspark.sql import functions as F  # noqa: N812

    from lakeforge.catalog.spark_sql import SparkSqlCatalog
    from lakeforge.config import load_env
    from lakeforge.formats import Target, commit
    from lakeforge.paths import Lake
    from lakeforge.publish import publish_partitioned
    from lakeforge.session import build_session

    root = Path(tempfile.mkdtemp(prefix="lakeforge-bench-formats-"))
    env = load_env("local")
    env = dataclasses.replace(env, spark=dataclasses.replace(
        env.spark, master="local[2]", driver_memory="3g",
        jar_sets=["delta", "iceberg"]))
    lake = Lake.from_settings(str(root), allow_env_override=False)
    spark = build_session(env, "bench-formats", lake=lake)
    catalog = SparkSqlCatalog(spark)
    n, parts = args.rows, args.partitions

    def source():  # type: ignore[no-untyped-def]
        return (spark.range(n)
                .withColumn("customer_id", (F.col("id") % 50_000).cast("bigint"))
                .withColumn("amount", (F.col("id") % 1000) / F.lit(10.0))
                .withColumn("quantity", (F.col("id") % 7).cast("int"))
                .withColumn("ts", F.timestamp_seconds(F.lit(1_700_000_000) + F.col("id")))
                .withColumn("category", F.concat(F.lit("c"), (F.col("id") % 13).cast("string")))
                .withColumn("dt", F.date_format(F.date_add(F.lit("2024-01-01").cast("date"),
                                                           (F.col("id") % parts).cast("int")),
                                                "yyyy-MM-dd")))

    def timed(fn) -> float:  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start

    results: dict[str, list[float]] = {}
    for i in range(args.repeat):
        db = f"bench{i}"
        results.setdefault("publish parquet", []).append(timed(lambda db=db: publish_partitioned(
            source(), database=db, table="p", partition_by=["dt"], catalog=catalog, lake=lake,
            mode="overwrite")))
        for fmt in ("delta", "iceberg"):
            target = Target(db, fmt[0], lake.table_uri("curated", fmt[0], db), ["dt"],
                            "overwrite")
            results.setdefault(f"publish {fmt}", []).append(timed(
                lambda fmt=fmt, target=target: commit(fmt, source(), target, spark=spark,
                                                      catalog=catalog)))

        # golden tables: unpartitioned, keyed by id
        change_n = int(n * args.change)
        change = (source().where(F.col("id") >= n - change_n // 2)  # updates
                  .withColumn("amount", F.col("amount") + 1)
                  .unionByName(source().limit(change_n - change_n // 2)
                               .withColumn("id", F.col("id") + n)))  # inserts
        change_df = change.cache()
        change_df.count()
        golden = {}
        for fmt in ("delta", "iceberg"):
            golden[fmt] = Target(db, f"g{fmt[0]}", lake.table_uri("curated", f"g{fmt[0]}", db),
                                 (), "overwrite", merge_keys=("id",))
            commit(fmt, source(), golden[fmt], spark=spark, catalog=catalog)
        publish_partitioned(source(), database=db, table="gp", partition_by=[], catalog=catalog,
                            lake=lake, mode="overwrite")
        for fmt in ("delta", "iceberg"):
            merge = dataclasses.replace(golden[fmt], mode="merge")
            results.setdefault(f"merge {args.change:.0%} {fmt}", []).append(timed(
                lambda fmt=fmt, merge=merge, change_df=change_df: commit(
                    fmt, change_df, merge, spark=spark, catalog=catalog)))

        def rewrite(db: str = db, change_df=change_df) -> None:  # type: ignore[no-untyped-def]
            current = spark.table(f"{db}.gp")
            kept = current.join(change_df.select("id"), "id", "left_anti")
            publish_partitioned(kept.unionByName(change_df), database=db, table="gp",
                                partition_by=[], catalog=catalog, lake=lake, mode="overwrite")

        results.setdefault("rewrite golden parquet", []).append(timed(rewrite))
        rows = {fmt: spark.read.format("delta").load(golden["delta"].location).count()
                if fmt == "delta" else spark.table(f"lakeforge_iceberg.{db}.gi").count()
                for fmt in ("delta", "iceberg")}
        rows["parquet"] = spark.table(f"{db}.gp").count()
        if len(set(rows.values())) != 1:
            raise SystemExit(f"golden tables disagree after the change: {rows}")
        change_df.unpersist()

    out = {k: {"median_s": round(statistics.median(v), 1), "runs": [round(x, 1) for x in v]}
           for k, v in results.items()}
    out["rows"] = n
    out["partitions"] = parts
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
