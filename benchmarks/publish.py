"""Benchmark: publish_partitioned vs a plain ``df.write.partitionBy(...).parquet(...)``.

2 million rows into 30 date partitions, both in the same Spark session (local[2], 3g driver),
same input (generated from spark.range, not cached). Prints wall times, the overhead ratio and
files per partition. Run by hand::

    .venv/bin/python benchmarks/publish.py [--rows 2000000] [--partitions 30] [--repeat 2]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--partitions", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args(argv)

    from pyspark.sql import functions as F  # noqa: N812

    from lakeforge.catalog.spark_sql import SparkSqlCatalog
    from lakeforge.config import load_env
    from lakeforge.paths import Lake
    from lakeforge.publish import publish_partitioned

    root = Path(tempfile.mkdtemp(prefix="lakeforge-bench-publish-"))
    env = load_env("local")
    env = dataclasses.replace(
        env, spark=dataclasses.replace(env.spark, master="local[2]", driver_memory="3g")
    )
    lake = Lake.from_settings(str(root), allow_env_override=False)
    from lakeforge.session import build_session

    spark = build_session(env, "bench-publish", lake=lake)
    catalog = SparkSqlCatalog(spark)

    def source():
        return spark.range(args.rows).select(
            F.col("id"),
            F.format_string("c%07d", F.col("id") % 100_000).alias("customer_id"),
            (F.rand(1) * 1000).alias("amount"),
            (F.col("id") % 7).cast("int").alias("quantity"),
            F.expr("timestamp_seconds(1704067200 + id % 86400)").alias("ts"),
            F.element_at(F.array(*[F.lit(c) for c in "ABCDEFGH"]),
                         (F.col("id") % 8 + 1).cast("int")).alias("category"),
            F.date_add(F.lit("2024-01-01").cast("date"),
                       (F.col("id") % args.partitions).cast("int")).alias("dt"),
        )

    def files_per_dir(folder: Path) -> list[int]:
        counts = Counter(p.parent for p in folder.rglob("*.parquet"))
        return sorted(counts.values())

    plain_times, publish_times = [], []
    plain_files: list[int] = []
    publish_files: list[int] = []
    result = None
    for i in range(args.repeat):
        target = root / f"plain_{i}"
        start = time.perf_counter()
        source().write.partitionBy("dt").parquet(str(target))
        plain_times.append(time.perf_counter() - start)
        plain_files = files_per_dir(target)

        start = time.perf_counter()
        result = publish_partitioned(source(), database="bench", table="events",
                                     partition_by=["dt"], catalog=catalog, lake=lake,
                                     mode="overwrite")
        publish_times.append(time.perf_counter() - start)
        publish_files = sorted(result.files_per_partition.values())

    assert result is not None
    plain, pub = statistics.median(plain_times), statistics.median(publish_times)
    published_bytes = sum(
        f.stat().st_size for f in Path(result.plan.version_uri).rglob("*.parquet")
    )
    print(f"rows: {args.rows:,}  partitions: {args.partitions}  repeats: {args.repeat}")
    print(f"plain partitionBy().parquet(): median {plain:.1f} s  (runs {plain_times})")
    print(f"publish_partitioned:          median {pub:.1f} s  (runs {publish_times})")
    print(f"overhead ratio: {pub / plain:.2f}x")
    print(f"files per partition, plain:   min {min(plain_files)} max {max(plain_files)} "
          f"total {sum(plain_files)}")
    print(f"files per partition, publish: min {min(publish_files)} max {max(publish_files)} "
          f"total {sum(publish_files)}")
    print(f"publish estimate: {result.bytes_per_row:.1f} bytes/row, "
          f"{result.rows_per_file:,} rows/file at 128 MB; "
          f"actual {published_bytes / args.rows:.1f} bytes/row, "
          f"{published_bytes / max(sum(publish_files), 1) / 1e6:.2f} MB/file")
    spark.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
