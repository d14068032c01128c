#!/usr/bin/env python
"""``make demo``: generate a small bank-marketing raw zone if absent, run the main job
(customer_propensity) locally, then say where the outputs are and give a query to try."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from lakeforge.config import load_env
from lakeforge.paths import Lake
from lakeforge.sample_data import write_bank_marketing

DEMO_CUSTOMERS = 1500


def main() -> int:
    env = load_env("local")
    lake = Lake.from_env(env)
    raw = Path(lake.zone("raw"))
    if not (raw / "customers").is_dir():
        counts = write_bank_marketing(lake.root, customers=DEMO_CUSTOMERS)
        print(f"generated raw zone {raw}: {json.dumps(counts)}")
    else:
        print(f"using the existing raw zone {raw}")

    from jobs import customer_propensity

    code = customer_propensity.main(["--env", "local", "--log-level", "WARNING"])
    if code != 0:
        return code
    runs = sorted(Path(lake.path("metadata", "runs")).glob("*/run_summary.json"))
    print()
    print(f"lake root:      {lake.root}")
    print(f"curated tables: {lake.path('curated', 'lakeforge')}  (customers_golden, "
          "customer_matches, contacts_enriched by dt; Parquet, registered in the metastore)")
    print(f"features:       {lake.path('features', 'propensity')}  (SageMaker CSV + Parquet "
          "splits, manifest.json)")
    print(f"quarantine:     {lake.zone('quarantine')}  (bad rows with source and reason)")
    if runs:
        print(f"run summary:    {runs[-1]}  (and run_summary.html)")
    print()
    print("try (DuckDB reads the current version of each table, as Athena would):")
    print("  .venv/bin/lakeforge query lakeforge.contacts_enriched \"SELECT dt, count(*) "
          "AS contacts, round(avg(CASE WHEN y = 'yes' THEN 1 ELSE 0 END), 3) AS rate "
          "FROM t GROUP BY dt ORDER BY dt\"")
    print("  (a rerun processes nothing new; add partitions with "
          "scripts/generate_sample_data.py or reset with rm -rf .lake)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
