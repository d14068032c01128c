"""Crawler benchmark: N Hive partitions with one small Parquet file each.

Measured in one run, on the same files:

1. Spark's own partition discovery: ``spark.read.parquet(root)`` (lists every folder, infers
   the partition columns, reads a footer for the schema).
2. lakeforge discovery only: list + read every footer (thread pool) + group into one table.
3. lakeforge crawl + register in the local embedded Hive metastore (spark_sql backend; large
   batches take the Derby bulk path, lakeforge/catalog/derby_bulk.py).
4. An incremental recrawl (CRAWL_NEW_FOLDERS_ONLY) after adding ``--new`` partitions.

Run by hand::

    .venv/bin/python benchmarks/crawl.py                 # 10,000 partitions, 100 new
    .venv/bin/python benchmarks/crawl.py --partitions 1000 --new 50
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import logging
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)


def write_partitions(root: Path, start: int, count: int) -> None:
    """``root/dt=YYYY-MM-DD/part-00000.snappy.parquet`` with 10 rows each."""
    day0 = dt.date(1990, 1, 1)

    def one(i: int) -> None:
        folder = root / f"dt={(day0 + dt.timedelta(days=i)).isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        table = pa.table({
            "id": pa.array(range(i * 10, i * 10 + 10), pa.int64()),
            "amount": pa.array([float(j) for j in range(10)], pa.float64()),
            "customer": pa.array([f"c{j}" for j in range(10)], pa.string()),
        })
        pq.write_table(table, folder / "part-00000.snappy.parquet", compression="snappy")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(start, start + count)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partitions", type=int, default=10_000)
    parser.add_argument("--new", type=int, default=100)
    parser.add_argument("--workdir", default=None, help="default: a temp folder, removed after")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto server access log

    from lakeforge.catalog.spark_sql import SparkSqlCatalog
    from lakeforge.config import load_env
    from lakeforge.crawler import crawl, list_objects, plan_tables, resolve_root
    from lakeforge.crawler.crawl import CrawlReport, _read_folders
    from lakeforge.paths import Lake
    from lakeforge.session import build_session

    work = Path(args.workdir or tempfile.mkdtemp(prefix="lakeforge-crawl-bench-"))
    root = work / "raw" / "events"
    print(f"writing {args.partitions} partitions under {root} ...", flush=True)
    t0 = time.perf_counter()
    write_partitions(root, 0, args.partitions)
    print(f"  written in {time.perf_counter() - t0:.1f}s", flush=True)

    env = load_env("local")
    env = dataclasses.replace(env, spark=dataclasses.replace(env.spark, master="local[2]",
                                                             driver_memory="3g"))
    lake = Lake.from_settings(str(work / "lake"), allow_env_override=False)
    spark = build_session(env, "crawl-benchmark", lake=lake)
    try:
        spark.range(1).count()  # JVM and scheduler warm-up, not part of any figure
        # The embedded metastore is created on first use (Derby schema on an empty lake): a
        # once-per-lake session cost like the JVM start, measured and reported separately.
        t0 = time.perf_counter()
        spark.sql("SHOW DATABASES").collect()
        metastore_init = time.perf_counter() - t0

        t0 = time.perf_counter()
        df = spark.read.parquet(str(root))
        spark_discovery = time.perf_counter() - t0
        assert "dt" in df.columns

        t0 = time.perf_counter()
        r = resolve_root(str(root))
        objects, _, _ = list_objects(r)
        by_folder: dict[tuple[str, ...], list] = {}
        for o in objects:
            by_folder.setdefault(o.rel_dir, []).append(o)
        folders = _read_folders(r, by_folder, CrawlReport("x"), csv_header="detect",
                                sample_bytes=1 << 20, sample_records=1000, max_workers=16,
                                progress=None)
        plans, _ = plan_tables(r, folders)
        discovery = time.perf_counter() - t0
        assert len(plans) == 1 and len(plans[0].partitions) == args.partitions

        catalog = SparkSqlCatalog(spark)
        t0 = time.perf_counter()
        report = crawl(str(root), database="bench", catalog=catalog)
        full = time.perf_counter() - t0
        assert report.table("events").partitions_added == args.partitions, report.to_json()
        rows = spark.table("bench.events").where("dt = '1990-01-05'").count()
        assert rows == 10

        write_partitions(root, args.partitions, args.new)
        t0 = time.perf_counter()
        inc = crawl(str(root), database="bench", catalog=catalog,
                    recrawl_policy="CRAWL_NEW_FOLDERS_ONLY")
        incremental = time.perf_counter() - t0
        print(f"  incremental recrawl timings: {inc.to_dict()['timings']}", flush=True)
        print(f"  full crawl timings: {report.to_dict()['timings']}", flush=True)
        t = inc.table("events")
        assert (t.partitions_added, t.partitions_already_present) == (args.new, args.partitions)
        assert inc.objects_read == args.new
        total = spark.table("bench.events").count()
        assert total == 10 * (args.partitions + args.new)
        shutil.rmtree(root)
        write_partitions(root, 0, args.partitions)
        glue_full, glue_incremental = glue_figures(root, args.partitions, args.new)
    finally:
        spark.stop()
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)

    register = full - discovery
    print(f"partitions: {args.partitions} (one {objects[0].size}-byte Parquet file each)")
    print(f"(metastore creation on the empty lake, before any figure: {metastore_init:.2f}s)")
    print(f"spark.read.parquet(root) discovery:             {spark_discovery:8.2f}s")
    print(f"lakeforge discovery (list + footers + group):   {discovery:8.2f}s  "
          f"({spark_discovery / discovery:.1f}x faster than Spark)")
    print(f"lakeforge crawl + register (Derby metastore):   {full:8.2f}s  "
          f"(registration ~{register:.2f}s, {1000 * register / args.partitions:.1f} ms/partition)")
    print(f"  crawl + register vs Spark discovery:          {spark_discovery / full:8.2f}x")
    print(f"incremental recrawl, {args.new} new partitions:        {incremental:8.2f}s")
    print(f"lakeforge crawl + register (Glue API on moto):  {glue_full:8.2f}s  "
          f"({spark_discovery / glue_full:.2f}x vs Spark discovery)")
    print(f"incremental recrawl on Glue API (moto):         {glue_incremental:8.2f}s")
    return 0


def glue_figures(root: Path, partitions: int, new: int) -> tuple[float, float]:
    """The same crawl registered through the glue_api backend on an in-process moto server."""
    import socket

    from moto.server import ThreadedMotoServer

    from lakeforge.catalog.glue_api import GlueApiCatalog
    from lakeforge.crawler import crawl

    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ[key] = "bench"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        catalog = GlueApiCatalog(region="us-east-1", endpoint_url=f"http://127.0.0.1:{port}")
        t0 = time.perf_counter()
        report = crawl(str(root), database="bench", catalog=catalog)
        full = time.perf_counter() - t0
        assert report.table("events").partitions_added == partitions
        write_partitions(root, partitions, new)
        t0 = time.perf_counter()
        inc = crawl(str(root), database="bench", catalog=catalog,
                    recrawl_policy="CRAWL_NEW_FOLDERS_ONLY")
        incremental = time.perf_counter() - t0
        print(f"  glue incremental timings: {inc.to_dict()['timings']}", flush=True)
        assert inc.table("events").partitions_added == new
    finally:
        server.stop()
    return full, incremental


if __name__ == "__main__":
    sys.exit(main())
