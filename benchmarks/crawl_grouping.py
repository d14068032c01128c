"""Crawler grouping benchmark: Glue's majority grouping (schema clusters) on in-memory folders.

Times ``plan_tables`` alone (no listing, no file reads, no catalog) on three shapes:

1. one table: ``--partitions`` ``dt=`` folders with one schema, plus 1% odd folders in 4
   unrelated schemas (5 clusters: one table, the odd folders skipped);
2. many tables: ``--tables`` unrelated tables of 10 partitions each under one include path
   (the top level has far more than 5 clusters: clustering stops at the 6th);
3. schema drift: ``--partitions`` folders of 25 columns that gain one column every 1,000
   folders (10 distinct but similar schemas: one cluster, one table).

Run by hand::

    .venv/bin/python benchmarks/crawl_grouping.py            # 10,000 partitions, 1,000 tables
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partitions", type=int, default=10_000)
    parser.add_argument("--tables", type=int, default=1_000)
    args = parser.parse_args(argv)

    from lakeforge.crawler import FileSchema, Folder, plan_tables, resolve_root

    root = resolve_root("/bench/raw")

    def folder(rel: tuple[str, ...], cols: list[str]) -> Folder:
        return Folder(rel, "/bench/raw/" + "/".join(rel), [],
                      FileSchema("parquet", None, tuple((c, "bigint") for c in cols)))

    base = ["id", "amount", "customer", "qty", "ts"]
    odd = max(1, args.partitions // 100)
    one = ([folder((f"dt={i}",), base) for i in range(args.partitions)]
           + [folder((f"dt=odd{i}",), [f"u{i % 4}", f"v{i % 4}"]) for i in range(odd)])
    many = [folder((f"t{t}", f"dt={d}"), [f"t{t}_a", f"t{t}_b", "id"])
            for t in range(args.tables) for d in range(10)]
    wide = [f"w{j}" for j in range(25)]
    drift = [folder((f"dt={i}",), wide + [f"c{j}" for j in range(i // 1000)])
             for i in range(args.partitions)]

    for label, folders, check in (
        (f"one table, {args.partitions} partitions + {odd} odd folders", one,
         lambda plans, skipped: len(plans) == 1 and len(skipped) == odd),
        (f"{args.tables} unrelated tables x 10 partitions", many,
         lambda plans, skipped: len(plans) == args.tables and not skipped),
        (f"schema drift, {args.partitions} partitions", drift,
         lambda plans, skipped: len(plans) == 1 and not skipped),
    ):
        t0 = time.perf_counter()
        plans, skipped = plan_tables(root, folders)
        seconds = time.perf_counter() - t0
        assert check(plans, skipped), (label, len(plans), len(skipped))
        print(f"{label}: {len(folders)} folders grouped in {seconds:.3f} s "
              f"({len(plans)} table(s), {len(skipped)} skipped)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
