#!/usr/bin/env python
"""``make demo``: generate a small bank-marketing raw zone if absent, run the main job
(customer_propensity) locally, and print one screen: each phase with its numbers, then where
to look next."""

from __future__ import annotations

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
        print(f"generated {raw}: {counts['customer_records']} customer records "
              f"({counts['entities']} people), {counts['contacts']} contacts over "
              f"{counts['contact_days']} days")
    else:
        print(f"using the existing raw zone {raw}")

    from jobs import customer_propensity

    code = customer_propensity.main(["--env", "local", "--log-level", "WARNING",
                                     "--summary-format", "text"])
    if code != 0:
        return code
    print()
    print("look next:")
    print(f"  tables     {lake.path('curated', 'lakeforge')}  (query them as Athena would:)")
    print("  .venv/bin/lakeforge query lakeforge.contacts_enriched \"SELECT dt, count(*) AS n, "
          "round(avg(CASE WHEN y = 'yes' THEN 1 ELSE 0 END), 3) AS rate FROM t GROUP BY dt "
          "ORDER BY dt\"")
    print(f"  features   {lake.path('features', 'propensity')}  (SageMaker splits, "
          "manifest.json)")
    print(f"  quarantine {lake.zone('quarantine')}  (bad rows: file, line, reason)")
    print("  a rerun processes nothing new; add two late days with .venv/bin/python "
          "scripts/generate_sample_data.py --add-days 2 and rerun: only those are processed")
    from lakeforge.io import uri_exists
    from lakeforge.site import index_uri

    index = index_uri(lake)
    if not uri_exists(index):  # the run's own update failed (logged): build it whole
        from lakeforge.site import build_site

        index = build_site(lake)
    print(f"site: {index}  (open it in a browser; rebuild with lakeforge docs build)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
