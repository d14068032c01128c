"""Small Parquet inputs for the crawler and catalog tests."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def write_parquet(path: Path, table: pa.Table) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


def sales(n: int = 3, *, extra: dict[str, pa.Array] | None = None) -> pa.Table:
    cols = {
        "id": pa.array(list(range(n)), pa.int64()),
        "amount": pa.array([1.5] * (n - 1) + [None], pa.float64()),
        "customer": pa.array(["a"] * (n - 1) + [None], pa.string()),
        "qty": pa.array([1] * n, pa.int32()),
    }
    cols.update(extra or {})
    return pa.table(cols)
