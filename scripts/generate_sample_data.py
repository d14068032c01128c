#!/usr/bin/env python
"""Write the demo's raw zone: ``python scripts/generate_sample_data.py [--rows N] [--force]``."""

from __future__ import annotations

import argparse
import json
import shutil
import sys

from lakeforge.config import load_env
from lakeforge.paths import Lake
from lakeforge.sample_data import write_sales_csv


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--env", default="local")
    p.add_argument("--rows", type=int, default=5000)
    p.add_argument("--files", type=int, default=4)
    p.add_argument("--force", action="store_true", help="rewrite even if the data exists")
    args = p.parse_args(argv)
    lake = Lake.from_env(load_env(args.env))
    folder = lake.path("raw", "sales")
    if args.force:
        shutil.rmtree(folder, ignore_errors=True)
    counts = write_sales_csv(folder, rows=args.rows, files=args.files)
    print(json.dumps({"raw": folder, **counts}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
