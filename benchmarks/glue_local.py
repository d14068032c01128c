"""Time a Glue script on Lakeforge's awsglue-compatible runtime: cold (session start + run)
and warm (runs on the already started session), by hand:

    .venv/bin/python benchmarks/glue_local.py [--persons 30] [--runs 3]

Runs tests/lakeforge/glue_scripts/legislators_history.py (two catalog Joins, an S3 write,
two plain Spark writes, relationalize and its writes) on generated us-legislators data in a
temporary lake. Prints the seconds; results go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "tests/lakeforge/glue_scripts/legislators_history.py"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--persons", type=int, default=30)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ["LAKEFORGE_CONF_DIR"] = str(REPO / "conf")
    root = tempfile.mkdtemp(prefix="glue-bench-")
    os.environ["LAKEFORGE_LAKE_ROOT"] = root
    started = time.perf_counter()
    from lakeforge.config import load_env
    from lakeforge.crawler import crawl
    from lakeforge.glue_local.runner import run_glue_script
    from lakeforge.glue_local.runtime import GlueRuntime
    from lakeforge.glue_local.sample_data import write_legislators
    from lakeforge.session import build_session

    env = load_env("local")
    spark = build_session(env, "glue-bench")
    session_s = time.perf_counter() - started
    runtime = GlueRuntime.for_env(spark, env)
    folders = write_legislators(Path(runtime.s3_root()) / "data/legislators",
                                persons=args.persons)
    if not runtime.catalog.database_exists("legislators"):
        runtime.catalog.create_database("legislators")
    for folder in folders.values():
        crawl(str(folder), database="legislators", catalog=runtime.catalog)
    timings = []
    for i in range(args.runs):
        target = f"s3://bench-out/run{i}"
        t0 = time.perf_counter()
        run_glue_script(SCRIPT, ["--JOB_NAME", "bench", "--database", "legislators",
                                 "--target", target], runtime=runtime)
        timings.append(time.perf_counter() - t0)
    print(f"session start: {session_s:.1f} s")  # noqa: T201
    print("runs (first is cold for the script, the rest warm): "  # noqa: T201
          + ", ".join(f"{t:.1f} s" for t in timings))
    shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
