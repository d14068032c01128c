"""The full Deequ differential: Lakeforge's native quality engine against real Deequ 2.0.7.

Run by hand (it needs the Deequ jar and pydeequ; minutes, not seconds)::

    make jars
    .venv/bin/python scripts/deequ_differential.py --report /tmp/deequ-diff.txt

Prints per shape and in total: cases, agreeing, differing only in tabled ways (docs/quality.md),
disagreeing; row-level columns the same way; success-metric rows. ``--quality-root DIR`` puts
another checkout's ``quality`` package first on the path (to measure a baseline).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jar", help="the Deequ jar (default: the jar set `deequ` that "
                        "`make jars` fetched)")
    parser.add_argument("--seed", type=int, default=20261205)
    parser.add_argument("--variants", type=int, default=4, help="cases per method per shape")
    parser.add_argument("--every", type=int, default=1, help="keep every n-th case (sample)")
    parser.add_argument("--shapes", default="", help="comma-separated shape names (default all)")
    parser.add_argument("--report", type=Path, help="write every difference to this file")
    parser.add_argument("--quality-root", type=Path, help="import quality/ from this folder")
    args = parser.parse_args(argv)
    if args.quality_root:
        sys.path.insert(0, str(args.quality_root))
    sys.path.insert(1 if args.quality_root else 0, str(REPO))
    os.environ.setdefault("SPARK_VERSION", "3.5")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("py4j").setLevel(logging.WARNING)
    if args.jar is None:
        from lakeforge.jars import JarSetMissingError, set_jars

        try:
            args.jar = ",".join(set_jars("deequ"))
        except JarSetMissingError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    elif not Path(args.jar).is_file():
        print(f"error: no Deequ jar at {args.jar} (make jars fetches it)", file=sys.stderr)
        return 2

    from pyspark.sql import SparkSession

    from tests.quality import deequ_corpus as dc

    spark = (SparkSession.builder.master("local[2]").appName("deequ-differential")
             .config("spark.jars", args.jar).config("spark.ui.enabled", "false")
             .config("spark.sql.shuffle.partitions", "2")
             .config("spark.driver.memory", "2g").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    started = time.perf_counter()
    try:
        shapes = dc.build_shapes(args.seed)
        if args.shapes:
            by_name = {s.name: s for s in shapes}
            shapes = [by_name[name] for name in args.shapes.split(",")]  # in the order given
        cases = dc.generate_cases(args.seed, shapes, args.variants)
        if args.every > 1:
            cases = dc.sample(cases, args.every)
        reports = []
        if args.report:
            args.report.write_text("")
        for shape in shapes:
            report = dc.run_shape(spark, shape, cases[shape.name])
            reports.append(report)
            print(dc.summary_line(report), flush=True)
            if args.report:  # shape by shape, so an interrupted run keeps what it compared
                with args.report.open("a") as out:
                    out.write(dc.report_text([report]))
        total = dc.Tally.of(reports)
        print(total.text())
        print(f"elapsed {time.perf_counter() - started:.0f} s")
    finally:
        dc.shutdown_callback_server(spark)
        spark.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
