"""The spark_sql catalog backend on the embedded Hive metastore: crawl, then read with Spark."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakeforge.catalog import Column, Partition, TableNotFoundError, TableSpec, get_catalog
from lakeforge.catalog.base import CatalogError
from lakeforge.catalog.spark_sql import SparkSqlCatalog, _parse_catalog_partitions
from lakeforge.crawler import crawl
from lakeforge.errors import ConfigError


def _parquet(path: Path, table: pa.Table) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


def _orders(ids: list[int], **extra: pa.Array) -> pa.Table:
    cols = {
        "id": pa.array(ids, pa.int64()),
        "amount": pa.array([float(i) if i % 2 else None for i in ids], pa.float64()),
        "qty": pa.array(ids, pa.int32()),
        "shop": pa.array(["s"] * len(ids)),
        "channel": pa.array([None] * len(ids), pa.string()),
        "paid": pa.array([True] * len(ids)),
    }
    cols.update(extra)
    return pa.table(cols)


@pytest.mark.slow
def test_crawl_then_spark_reads_with_partition_pruning(spark: object, catalog: SparkSqlCatalog,
                                                      db: str, tmp_path: Path) -> None:
    """Slow: several Spark reads over a Hive table (a few seconds each on 2 cores)."""
    root = tmp_path / "orders"
    _parquet(root / "dt=2024-01-01" / "country=GB" / "p.parquet", _orders([1, 2]))
    _parquet(root / "dt=2024-01-02" / "country=FR" / "p.parquet", _orders([3]))
    _parquet(root / "dt=2024-01-02" / "country=GB" / "p.parquet",
             _orders([4], note=pa.array(["late"]), nothing=pa.array([None], pa.null())))
    report = crawl(str(root), database=db, catalog=catalog)
    t = report.table("orders")
    assert t.partitions_added == 3 and "nothing" not in dict(t.columns)
    assert t.notes and "column nothing not registered" in t.notes[0]
    rows = spark.table(f"{db}.orders").orderBy("id").collect()  # type: ignore[attr-defined]
    assert [(r.id, r.amount, r.qty, r.note, r.dt, r.country) for r in rows] == [
        (1, 1.0, 1, None, "2024-01-01", "GB"), (2, None, 2, None, "2024-01-01", "GB"),
        (3, 3.0, 3, None, "2024-01-02", "FR"), (4, None, 4, "late", "2024-01-02", "GB")]
    # Pruning: after breaking one partition's file, a query on the others still works and a
    # full scan fails, so the filtered query never opened the broken partition.
    (root / "dt=2024-01-01" / "country=GB" / "p.parquet").write_bytes(b"PAR1 not parquet PAR1")
    spark.catalog.refreshTable(f"{db}.orders")  # type: ignore[attr-defined]
    pruned = spark.table(f"{db}.orders").where("dt = '2024-01-02'")  # type: ignore[attr-defined]
    assert sorted(r.id for r in pruned.collect()) == [3, 4]
    with pytest.raises(Exception):  # noqa: B017 - Spark wraps the read error
        spark.table(f"{db}.orders").collect()  # type: ignore[attr-defined]
    [p] = catalog.get_partitions(db, "orders", expression="dt > '2024-01-01' AND country = 'FR'")
    assert p.values == ("2024-01-02", "FR")
    assert p.location == str(root / "dt=2024-01-02" / "country=FR")
    with pytest.raises(ValueError, match="not valid"):
        catalog.get_partitions(db, "orders", expression="no_such_key = 1")


@pytest.mark.slow
def test_csv_and_json_tables_read_back(spark: object, catalog: SparkSqlCatalog, db: str,
                                       tmp_path: Path) -> None:
    """Slow: Spark reads a CSV and a JSON table through the metastore."""
    root = tmp_path / "raw"
    for dt, rows in (("1", "1,ann,2.5\n2,bob,\n"), ("2", "3,cy,1\n")):
        (root / "people" / f"dt={dt}").mkdir(parents=True)
        with gzip.open(root / "people" / f"dt={dt}" / "p.csv.gz", "wt") as fh:
            fh.write("id,name,score\n" + rows)
    (root / "events").mkdir(parents=True)
    (root / "events" / "e.json").write_text(
        "\n".join(json.dumps({"id": i, "tags": ["a"], "kind": None}) for i in range(3)) + "\n")
    report = crawl(str(root), database=db, catalog=catalog)
    assert sorted(t.name for t in report.tables) == ["events", "people"]
    people = spark.table(f"{db}.people").orderBy("id").collect()  # type: ignore[attr-defined]
    assert [(r.id, r.name, r.score, r.dt) for r in people] == [
        (1, "ann", 2.5, "1"), (2, "bob", None, "1"), (3, "cy", 1.0, "2")]
    events = spark.table(f"{db}.events").orderBy("id").collect()  # type: ignore[attr-defined]
    assert [(r.id, r.tags, r.kind) for r in events] == [(0, ["a"], None), (1, ["a"], None),
                                                        (2, ["a"], None)]
    ddl = catalog.show_create_table(db, "people")
    assert "LazySimpleSerDe" in ddl and "'skip.header.line.count'='1'" in ddl
    assert "PARTITIONED BY (`dt` string)" in ddl and "CREATE EXTERNAL TABLE" in ddl


@pytest.mark.slow
def test_incremental_recrawl_with_spark_backend(spark: object, catalog: SparkSqlCatalog, db: str,
                                                tmp_path: Path) -> None:
    """Slow: two crawls with metastore DDL and a Spark count."""
    root = tmp_path / "t"
    for d in range(3):
        _parquet(root / f"dt={d}" / "p.parquet", _orders([d]))
    crawl(str(root), database=db, catalog=catalog)
    for d in (3, 4):
        _parquet(root / f"dt={d}" / "p.parquet", _orders([d]))
    report = crawl(str(root), database=db, catalog=catalog,
                   recrawl_policy="CRAWL_NEW_FOLDERS_ONLY")
    t = report.table("t")
    assert (t.partitions_added, t.partitions_already_present, report.objects_read) == (2, 3, 2)
    assert spark.table(f"{db}.t").count() == 5  # type: ignore[attr-defined]


@pytest.mark.slow
def test_catalog_operations(spark: object, catalog: SparkSqlCatalog, db: str,
                            tmp_path: Path) -> None:
    """Slow: many metastore DDL statements and a table re-creation."""
    catalog.create_database(db)
    spec = TableSpec(db, "m", [Column("id", "int")], str(tmp_path / "m"),
                     [Column("dt", "string"), Column("k", "string")])
    _parquet(tmp_path / "m" / "dt=a" / "k=1" / "x.parquet",
             pa.table({"id": pa.array([1], pa.int32())}))
    _parquet(tmp_path / "v2" / "x.parquet", pa.table({"id": pa.array([2], pa.int32())}))
    catalog.create_or_update_table(spec)
    parts = [Partition(("a", "1"), str(tmp_path / "m" / "dt=a" / "k=1")),
             Partition(("b, k=2", None), str(tmp_path / "m" / "odd"))]
    assert catalog.add_partitions(db, "m", parts) == 2
    got = {p.values: p.location for p in catalog.get_partitions(db, "m")}
    assert got[("a", "1")] == str(tmp_path / "m" / "dt=a" / "k=1")
    assert set(catalog.list_partition_values(db, "m")) == {("a", "1"), ("b, k=2", None)}
    catalog.set_partition_locations(db, "m", [Partition(("a", "1"), str(tmp_path / "v2"))])
    assert spark.table(f"{db}.m").where("dt = 'a'").collect()[0].id == 2  # type: ignore[attr-defined]
    # A new partition (null value) is added; then two partitions move in one metastore call.
    v1, v2 = str(tmp_path / "m" / "dt=a" / "k=1"), str(tmp_path / "v2")
    catalog.set_partition_locations(db, "m", [Partition(("c", None), v2)])
    catalog.set_partition_locations(db, "m", [Partition(("a", "1"), v1),
                                              Partition(("c", None), v1)])
    got = {p.values: p.location for p in catalog.get_partitions(db, "m")}
    assert got[("a", "1")] == v1 and got[("c", None)] == v1
    assert spark.table(f"{db}.m").where("dt = 'a'").collect()[0].id == 1  # type: ignore[attr-defined]
    assert catalog.drop_partitions(db, "m", [("b, k=2", None), ("c", None), ("zz", "9")]) == 2
    # Widening a type re-creates the EXTERNAL table and keeps its partitions and data.
    catalog.create_or_update_table(TableSpec(db, "m", [Column("id", "bigint"),
                                                       Column("extra", "string")],
                                             spec.location, spec.partition_keys))
    table = catalog.get_table(db, "m")
    assert table is not None and [(c.name, c.type) for c in table.columns] == [
        ("id", "bigint"), ("extra", "string")]
    assert [p.values for p in catalog.get_partitions(db, "m")] == [("a", "1")]
    assert (tmp_path / "v2" / "x.parquet").exists()
    with pytest.raises(TableNotFoundError, match="does not exist"):
        catalog.get_partitions(db, "missing")
    with pytest.raises(ValueError, match="do not match the partition keys"):
        catalog.add_partitions(db, "m", [Partition(("only-one",), "/x")])
    catalog.drop_table(db, "m")
    assert catalog.get_table(db, "m") is None


def test_factory_and_parser_errors(spark: object) -> None:
    with pytest.raises(ConfigError, match="needs a SparkSession"):
        get_catalog("spark_sql")
    with pytest.raises(ConfigError, match="not a catalog backend"):
        get_catalog("hive2")
    block = "CatalogPartition(\n\tPartition Values: [a=1]\n\tLocation: file:/x/a=1)"
    assert _parse_catalog_partitions(block, ["a"]) == [Partition(("1",), "/x/a=1")]
    with pytest.raises(CatalogError, match="unexpected partition values"):
        _parse_catalog_partitions(block, ["b"])
