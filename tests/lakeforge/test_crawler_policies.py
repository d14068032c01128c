"""Glue's SchemaChangePolicy.DeleteBehavior for tables and partitions whose data is gone.

moto runs no crawler: each test runs Lakeforge's crawler against moto's Glue API and checks
the tables and partitions left there.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lakeforge.catalog.glue_api import GlueApiCatalog
from lakeforge.crawler import crawl
from tests.lakeforge.crawler_data import sales, write_parquet

pytestmark = pytest.mark.aws


def test_empty_objects_keep_no_deleted_table_or_partition_alive(tmp_path: Path,
                                                                glue: GlueApiCatalog,
                                                                glue_db: str) -> None:
    """Empty objects are no data: EMR's 'dt=1_$folder$' markers beside a table's folders, or
    a partition whose file was replaced by a 0-byte one, made the folders look present, so a
    table whose data was deleted was neither reported in tables_missing nor dropped, and
    such a partition was never missing."""
    lake = tmp_path / "lake"
    events = lake / "events"
    for d in (1, 2):
        write_parquet(events / f"dt={d}" / "p.parquet", sales())
        (events / f"dt={d}_$folder$").write_bytes(b"")  # EMRFS folder markers
    orders = lake / "orders"
    for d in (1, 2):
        write_parquet(orders / f"dt={d}" / "p.parquet", sales())
    crawl([str(events), str(orders)], database=glue_db, catalog=glue)

    for d in (1, 2):
        (events / f"dt={d}" / "p.parquet").unlink()
    (orders / "dt=2" / "p.parquet").write_bytes(b"")
    logged = crawl([str(events), str(orders)], database=glue_db, catalog=glue)
    assert logged.tables_missing == ["events"]
    assert logged.table("orders").partitions_missing == [("2",)]

    crawl([str(events), str(orders)], database=glue_db, catalog=glue,
          delete_behavior="DELETE_FROM_DATABASE")
    assert glue.get_table(glue_db, "events") is None
    assert [p.values for p in glue.get_partitions(glue_db, "orders")] == [("1",)]


def test_log_policy_leaves_a_table_whose_file_format_changed_as_it_is(tmp_path: Path,
                                                                       glue: GlueApiCatalog,
                                                                       glue_db: str) -> None:
    """SchemaChangePolicy LOG ("ignore the change and don't update the table"): files that
    changed their delimiter were re-registered with the new one, silently (no schema change,
    no report), and new partitions were added. Now LOG leaves the table and adds no partition
    (they would be read with the table's format), with the reason; UPDATE_IN_DATABASE applies
    the change and reports it."""
    root = tmp_path / "people"
    (root / "dt=1").mkdir(parents=True)
    (root / "dt=1" / "a.csv").write_text("id,name\n1,ann\n")
    crawl(str(root), database=glue_db, catalog=glue)
    (root / "dt=1" / "a.csv").write_text("id|name\n1|ann\n")
    (root / "dt=2").mkdir()
    (root / "dt=2" / "a.csv").write_text("id|name\n2|bob\n")

    logged = crawl(str(root), database=glue_db, catalog=glue, schema_change_policy="LOG")
    spec = glue.get_table(glue_db, "people")
    assert spec is not None and spec.csv_delimiter == ","
    assert [p.values for p in glue.get_partitions(glue_db, "people")] == [("1",)]
    assert logged.tables == []
    reason = {s.path: s.reason for s in logged.skipped}[str(root)]
    assert "delimiter '|'" in reason and "delimiter ','" in reason and "LOG" in reason

    updated = crawl(str(root), database=glue_db, catalog=glue)
    spec = glue.get_table(glue_db, "people")
    assert spec is not None and spec.csv_delimiter == "|"
    assert updated.table("people").schema_changes == [
        "format: csv (uncompressed, delimiter ',', with header) -> "
        "csv (uncompressed, delimiter '|', with header)"]
    assert sorted(p.values for p in glue.get_partitions(glue_db, "people")) == [("1",), ("2",)]
