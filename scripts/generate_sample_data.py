#!/usr/bin/env python
"""Write a deterministic raw zone under the lake root ($LAKEFORGE_LAKE_ROOT or ./.lake; an
s3:// root too, e.g. --env local_s3: the bank dataset is generated locally and uploaded).

    python scripts/generate_sample_data.py --rows 2000            # bank marketing (main job)
    python scripts/generate_sample_data.py --dataset sales --rows 5000
    python scripts/generate_sample_data.py --dataset web --rows 300   # clickstream (web_sessions)
    python scripts/generate_sample_data.py --add-days 2           # late contact days, nothing else

``--add-days N`` adds N contact partitions after the last ``dt=`` folder of an existing bank
dataset and changes no other file, so the main job's next run processes only those days.

``--rows`` is the number of customer entities for the bank-marketing data (source records are
about 15% more, with fuzzy duplicates; contacts about 2.5 per record), of sales rows, or of
web customers (clickstream JSON lines by dt=/hour=, ``--days`` days).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

from lakeforge.config import EnvConfig, load_env
from lakeforge.errors import LakeforgeError
from lakeforge.io import upload_folder
from lakeforge.paths import Lake
from lakeforge.sample_data import (
    add_contact_days,
    write_bank_marketing,
    write_sales_csv,
    write_web_events,
)
from lakeforge.session import preflight_storage


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default="local")
    p.add_argument("--dataset", choices=["bank", "sales", "web"], default="bank")
    p.add_argument("--rows", type=int, default=2000)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--days", type=int, default=12,
                   help="contact days (bank dataset) or event days (web dataset)")
    p.add_argument("--force", action="store_true", help="delete and rewrite existing raw data")
    p.add_argument("--add-days", type=int, metavar="N",
                   help="add N late contact days to an existing bank dataset (nothing else "
                   "changes: the main job's next run processes only those)")
    args = p.parse_args(argv)
    if args.rows <= 0:
        p.error("--rows must be positive")
    env = load_env(args.env)
    lake = Lake.from_env(env)
    if args.add_days is not None:
        return _add_days(args, lake)
    if lake.is_remote:
        return _to_s3(args, env, lake)
    if args.dataset == "sales":
        folder = lake.path("raw", "sales")
        if args.force:
            shutil.rmtree(folder, ignore_errors=True)
        counts: dict[str, object] = dict(write_sales_csv(folder, rows=args.rows, seed=args.seed))
        print(json.dumps({"raw": folder, **counts}))
        return 0
    if args.dataset == "web":
        folder = lake.path("raw", "web_events")
        if args.force:
            shutil.rmtree(folder, ignore_errors=True)
        counts = dict(write_web_events(lake.root, customers=args.rows, seed=args.seed,
                                       days=args.days))
        print(json.dumps({"raw": folder, **counts}))
        return 0
    if args.force:
        for table in ("customers", "contacts", "indicators"):
            shutil.rmtree(lake.path("raw", table), ignore_errors=True)
    counts = write_bank_marketing(Path(lake.root), customers=args.rows, seed=args.seed,
                                  days=args.days)
    print(json.dumps({"raw": lake.zone("raw"), **counts}))
    return 0


def _add_days(args: argparse.Namespace, lake: Lake) -> int:
    if args.add_days <= 0 or args.dataset != "bank" or args.force or lake.is_remote:
        print("error: --add-days takes a positive N, the bank dataset, a local lake root and "
              "no --force", file=sys.stderr)
        return 2
    contacts = Path(lake.path("raw", "contacts"))
    days = sorted(d.name.removeprefix("dt=") for d in contacts.glob("dt=*") if d.is_dir())
    truth = Path(lake.zone("metadata")) / "ground_truth" / "customers_entities.csv"
    if not days or not truth.is_file():
        print(f"error: --add-days: no bank dataset under {lake.zone('raw')} (no contacts dt= "
              f"folder or no {truth}); generate one first", file=sys.stderr)
        return 2
    try:
        last = date.fromisoformat(days[-1])
    except ValueError:
        print(f"error: --add-days: {contacts / ('dt=' + days[-1])} is not a dt=YYYY-MM-DD "
              "folder", file=sys.stderr)
        return 2
    added = add_contact_days(lake.root, first_day=last + timedelta(days=1), days=args.add_days,
                             seed=args.seed)
    print(json.dumps({"raw": str(contacts), "added_partitions": added}))
    return 0


def _to_s3(args: argparse.Namespace, env: EnvConfig, lake: Lake) -> int:
    """An s3:// lake root: generate into a temporary folder, then upload the raw zone (and the
    ground truth under metadata/) with the env's endpoint and SSE; the bucket is checked (or
    created, aws.create_bucket) first."""
    if args.dataset != "bank" or args.force:
        print("error: an s3:// lake root takes the bank dataset only, without --force "
              "(delete the prefix with your S3 tool)", file=sys.stderr)
        return 2
    try:
        preflight_storage(env, lake)
    except LakeforgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        counts = write_bank_marketing(Path(tmp), customers=args.rows, seed=args.seed,
                                      days=args.days)
        uploaded = {zone: upload_folder(Path(tmp) / zone, lake.zone(zone))
                    for zone in ("raw", "metadata") if (Path(tmp) / zone).is_dir()}
    print(json.dumps({"raw": lake.zone("raw"), "uploaded_files": uploaded, **counts}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
