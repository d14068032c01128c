"""Benchmark: publish_partitioned vs a plain partitioned Parquet write, both on s3:// (moto).

One moto server (lakeforge.dev_s3.LocalS3Server, counting requests by kind) on 127.0.0.1, one
local_s3 session (local[2]; S3A, path-style; magic committer), the same generated input
(spark.range, not cached) written once each way, one run:

* plain:   ``df.write.partitionBy("dt").parquet("s3://bench/plain")`` (magic committer)
* publish: ``publish_partitioned(df, ..., mode="overwrite")`` into ``_versions/<v>/`` + the
           catalog switch (Derby) + the Athena DDL file
* classic: the plain write again with Spark's classic FileOutputCommitter (rename = copy)

Prints wall times, the overhead ratio and the S3 requests of each. Run by hand::

    .venv/bin/python benchmarks/s3_publish.py [--rows 200000] [--partitions 10]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CLASSIC_SQL_CONF = {
    "spark.sql.sources.commitProtocolClass":
        "org.apache.spark.sql.execution.datasources.SQLHadoopMapReduceCommitProtocol",
    "spark.sql.parquet.output.committer.class":
        "org.apache.parquet.hadoop.ParquetOutputCommitter",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--partitions", type=int, default=10)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)

    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1"}.items():
        os.environ.setdefault(key, value)
    from pyspark.sql import functions as F  # noqa: N812

    from lakeforge.aws import MAGIC_COMMITTER_SQL_CONF
    from lakeforge.catalog.spark_sql import SparkSqlCatalog
    from lakeforge.config import load_env
    from lakeforge.dev_s3 import LocalS3Server
    from lakeforge.paths import Lake
    from lakeforge.publish import publish_partitioned
    from lakeforge.session import build_session, preflight_storage

    server = LocalS3Server().start()
    os.environ["LAKEFORGE_AWS_ENDPOINT_URL"] = server.endpoint
    meta = Path(tempfile.mkdtemp(prefix="lakeforge-bench-s3-"))
    env = load_env("local_s3", {"lake.root": "s3://bench/lake",
                                "spark.metastore_dir": str(meta)})
    env = dataclasses.replace(env, spark=dataclasses.replace(env.spark, master="local[2]",
                                                             driver_memory="3g"))
    lake = Lake.from_env(env)
    preflight_storage(env, lake)
    spark = build_session(env, "bench-s3-publish", lake=lake)
    catalog = SparkSqlCatalog(spark)

    def source() -> Any:
        return spark.range(args.rows).select(
            F.col("id"),
            F.format_string("c%07d", F.col("id") % 100_000).alias("customer_id"),
            (F.rand(1) * 1000).alias("amount"),
            F.date_add(F.lit("2024-01-01").cast("date"),
                       (F.col("id") % args.partitions).cast("int")).alias("dt"),
        )

    # warm-up: JVM classes, S3A connection pool, Derby schema (not measured)
    source().limit(10).write.partitionBy("dt").parquet("s3://bench/warmup")
    catalog.create_database("bench")

    def measure(name: str, action: Any) -> dict[str, Any]:
        server.reset_counts()
        start = time.perf_counter()
        action()
        seconds = time.perf_counter() - start
        kinds = dict(sorted(server.requests.items()))
        print(f"{name:8s} {seconds:7.2f} s  {server.total_requests():5d} requests  {kinds}")
        return {"seconds": round(seconds, 2), "requests": server.total_requests(),
                "by_kind": kinds}

    figures = {"rows": args.rows, "partitions": args.partitions}
    figures["plain"] = measure(
        "plain", lambda: source().write.partitionBy("dt").parquet("s3://bench/plain"))
    figures["publish"] = measure("publish", lambda: publish_partitioned(
        source(), database="bench", table="events", partition_by=["dt"], catalog=catalog,
        lake=lake, mode="overwrite"))
    for key, value in CLASSIC_SQL_CONF.items():
        spark.conf.set(key, value)
    figures["classic"] = measure(
        "classic", lambda: source().write.partitionBy("dt").parquet("s3://bench/classic"))
    for key, value in MAGIC_COMMITTER_SQL_CONF.items():
        spark.conf.set(key, value)
    rows = spark.table("bench.events").count()
    assert rows == args.rows, (rows, args.rows)
    ratio = figures["publish"]["seconds"] / figures["plain"]["seconds"]
    figures["overhead_ratio"] = round(ratio, 2)
    print(f"rows {args.rows:,}, {args.partitions} partitions; publish / plain = {ratio:.2f}x; "
          f"published table reads back {rows:,} rows")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    spark.stop()
    server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
