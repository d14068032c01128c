#!/usr/bin/env python
"""``make demo``: generate a small raw zone if absent, run the demo job locally, say where
its outputs are and give a query to try."""

from __future__ import annotations

import sys
from pathlib import Path

from lakeforge.config import load_env
from lakeforge.paths import Lake
from lakeforge.sample_data import write_sales_csv


def main() -> int:
    env = load_env("local")
    lake = Lake.from_env(env)
    raw = Path(lake.path("raw", "sales"))
    if not raw.is_dir() or not any(raw.glob("*.csv")):
        counts = write_sales_csv(raw)
        print(f"generated raw data: {raw} ({counts['total']} rows, {counts['bad']} malformed)")
    else:
        print(f"using existing raw data: {raw}")

    from jobs import csv_to_parquet

    code = csv_to_parquet.main(["--env", "local", "--log-level", "WARNING"])
    if code != 0:
        return code
    curated = lake.table_uri("curated", "sales", "lakeforge")
    print()
    print(f"lake root:   {lake.root}")
    print(f"curated:     {curated}   (Parquet, partitioned by country)")
    print(f"quarantine:  {lake.path('quarantine', 'lakeforge', 'sales')}   (bad rows + reasons)")
    print(f"metastore:   {lake.zone('metadata')}/metastore_db (table lakeforge.sales)")
    print()
    print("try:")
    print(f"  .venv/bin/python -c \"import duckdb; print(duckdb.sql(\\\"SELECT country, count(*) "
          f"n, round(sum(amount),2) total FROM read_parquet('{curated}/*/*.parquet', "
          f"hive_partitioning=true) GROUP BY 1 ORDER BY 1\\\"))\"")
    return 0


if __name__ == "__main__":
    sys.exit(main())
