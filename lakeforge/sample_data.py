"""Deterministic sample raw data for the demo, tests and benchmarks (no network, no Spark)."""

from __future__ import annotations

import csv
import random
from datetime import date, timedelta
from pathlib import Path

COUNTRIES = ["GB", "FR", "DE", "ES", "IT", "NL"]
SALES_HEADER = ["order_id", "customer_id", "order_date", "country", "amount", "quantity"]


def write_sales_csv(
    folder: str | Path,
    *,
    rows: int = 5000,
    files: int = 4,
    seed: int = 7,
    bad_rows: int = 6,
) -> dict[str, int]:
    """Write ``files`` CSV files of sales under ``folder``; ``bad_rows`` of them are malformed.

    The bad rows alternate between a non-numeric amount, a bad date and a short line, so the
    quarantine path is exercised. Returns the counts written (good, bad, total).
    """
    rng = random.Random(seed)
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    start = date(2024, 1, 1)
    per_file = max(1, rows // files)
    bad_positions = set(rng.sample(range(rows), min(bad_rows, rows)))
    written = 0
    bad_written = 0
    for f in range(files):
        n = per_file if f < files - 1 else rows - per_file * (files - 1)
        with open(out / f"sales-{f:04d}.csv", "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(SALES_HEADER)
            for _ in range(n):
                order_id = written + 1
                row = [
                    str(order_id),
                    f"C{rng.randint(1, 800):05d}",
                    (start + timedelta(days=rng.randint(0, 180))).isoformat(),
                    rng.choice(COUNTRIES),
                    f"{rng.uniform(1, 500):.2f}",
                    str(rng.randint(1, 9)),
                ]
                if written in bad_positions:
                    kind = bad_written % 3
                    if kind == 0:
                        row[4] = "twelve"
                    elif kind == 1:
                        row[2] = "2024-13-45"
                    else:
                        row = row[:3]
                    bad_written += 1
                writer.writerow(row)
                written += 1
    return {"good": written - bad_written, "bad": bad_written, "total": written}
