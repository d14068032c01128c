"""Partition values the spark_sql backend must read back as they were registered (embedded
Hive metastore; Athena is not involved)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakeforge.catalog import Column, Partition, TableSpec
from lakeforge.catalog.base import CatalogError
from lakeforge.catalog.spark_sql import SparkSqlCatalog, _parse_catalog_partitions


def test_value_holding_comma_and_a_key_name_reads_back_whole(catalog: SparkSqlCatalog, db: str,
                                                             tmp_path: Path) -> None:
    """Values split on ', <key>=' in the metastore's description: the old code read
    dt='x, shop=y', shop='s' back as dt='x', shop='y, shop=s', so a publish or switch saw a
    partition that does not exist. Such values now come from the partition's spec."""
    catalog.create_database(db)
    spec = TableSpec(db, "t", [Column("a", "int")], str(tmp_path / "t"),
                     [Column("dt", "string"), Column("shop", "string")])
    catalog.create_or_update_table(spec)
    parts = [Partition(("x, shop=y", "s"), str(tmp_path / "t" / "p0")),
             Partition(("it's", "Zürich"), str(tmp_path / "t" / "p1")),
             Partition((None, "s"), str(tmp_path / "t" / "p2"))]
    catalog.add_partitions(db, "t", parts)
    got = {p.values: p.location for p in catalog.get_partitions(db, "t")}
    assert got == {p.values: p.location for p in parts}
    catalog.set_partition_locations(db, "t", [Partition(parts[0].values,
                                                        str(tmp_path / "t" / "v2"))])
    moved = {p.values: p.location for p in catalog.get_partitions(db, "t")}
    assert moved[("x, shop=y", "s")] == str(tmp_path / "t" / "v2")
    assert len(moved) == 3


def test_ambiguous_description_without_the_jvm_is_one_error() -> None:
    block = "CatalogPartition(\n\tPartition Values: [dt=x, shop=y, shop=s]\n\tLocation: file:/x)"
    with pytest.raises(CatalogError, match="cannot be split on the keys"):
        _parse_catalog_partitions(block, ["dt", "shop"])
    assert _parse_catalog_partitions(block, ["dt", "shop"], spec_of=lambda i: {
        "dt": "x, shop=y", "shop": "s"}) == [Partition(("x, shop=y", "s"), "/x")]
