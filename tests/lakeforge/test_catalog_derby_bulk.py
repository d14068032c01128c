"""The embedded Derby metastore's bulk partition path (lakeforge.catalog.derby_bulk).

The fast path clones the rows Hive wrote for one partition; these tests compare its rows with
the rows Hive's own DDL writes for the same partitions, check that Spark and Hive DDL work on
bulk-added partitions, that ids never collide with DataNucleus's, that a failure adds nothing,
and that the cases it cannot reproduce exactly go through DDL.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakeforge.catalog import Column, Partition, TableSpec
from lakeforge.catalog.derby_bulk import (
    BulkUnavailable,
    DerbyBulkRegistrar,
    canonical_values,
    derby_url,
    part_name,
)
from lakeforge.catalog.spark_sql import BULK_MIN_PARTITIONS, SparkSqlCatalog

KEYS = [Column("dt", "string"), Column("n", "int")]


@pytest.fixture
def db(spark: Any) -> Iterator[str]:
    name = f"bulk_{uuid.uuid4().hex[:8]}"
    spark.sql(f"CREATE DATABASE {name}")
    yield name
    spark.sql(f"DROP DATABASE IF EXISTS {name} CASCADE")


def _table(catalog: SparkSqlCatalog, db: str, name: str, root: Path) -> TableSpec:
    spec = TableSpec(database=db, name=name, columns=[Column("id", "bigint")],
                     location=str(root / name), partition_keys=KEYS, format="parquet")
    catalog.create_or_update_table(spec)
    return spec


def _partitions(root: Path, count: int) -> list[Partition]:
    out = [Partition((f"2024-01-{i % 28 + 1:02d}", str(i)), str(root / f"p{i}"))
           for i in range(count)]
    # A null key (Hive's default partition) and a value that needs escaping in the name.
    out.append(Partition((None, "7"), str(root / "p_null")))
    out.append(Partition(("a/b:c=d%", "-3"), str(root / "p_escaped")))
    return out


def _rows(spark: Any, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    url = derby_url(spark)
    assert url is not None
    conn = spark.sparkContext._jvm.java.sql.DriverManager.getConnection(url)
    try:
        return DerbyBulkRegistrar._rows(conn, sql, *params)
    finally:
        conn.close()


_OF_TABLE = ("JOIN TBLS t ON t.TBL_ID = p.TBL_ID JOIN DBS d ON d.DB_ID = t.DB_ID "
             "WHERE d.NAME = ? AND t.TBL_NAME = ?")


def _metastore_rows(spark: Any, db: str, table: str) -> dict[str, Any]:
    """Everything the metastore holds for the table's partitions, with ids, times and the
    table's own folder factored out (keyed by partition name)."""
    out: dict[str, Any] = {}
    for name, ctime, atime, cd, infmt, comp, sub, loc, buckets, outfmt, slib, serde in _rows(
            spark, "SELECT p.PART_NAME, p.CREATE_TIME, p.LAST_ACCESS_TIME, s.CD_ID, "
                   "s.INPUT_FORMAT, s.IS_COMPRESSED, s.IS_STOREDASSUBDIRECTORIES, s.LOCATION, "
                   "s.NUM_BUCKETS, s.OUTPUT_FORMAT, r.SLIB, r.NAME FROM PARTITIONS p "
                   "JOIN SDS s ON s.SD_ID = p.SD_ID JOIN SERDES r ON r.SERDE_ID = s.SERDE_ID "
                   + _OF_TABLE, db, table):
        out[name] = {"sd": (infmt, comp, sub, buckets, outfmt), "serde": (slib, serde),
                     "location": loc.replace(f"/{table}/", "/<table>/"),
                     "times": (ctime is not None, atime), "cd": cd}
    for name, key, value in _rows(
            spark, "SELECT p.PART_NAME, x.PARAM_KEY, x.PARAM_VALUE FROM PARTITION_PARAMS x "
                   "JOIN PARTITIONS p ON p.PART_ID = x.PART_ID " + _OF_TABLE, db, table):
        out[name].setdefault("params", set()).add(
            (key, value is not None if key == "transient_lastDdlTime" else value))
    for name, value, idx in _rows(
            spark, "SELECT p.PART_NAME, v.PART_KEY_VAL, v.INTEGER_IDX FROM PARTITION_KEY_VALS v "
                   "JOIN PARTITIONS p ON p.PART_ID = v.PART_ID " + _OF_TABLE, db, table):
        out[name].setdefault("values", {})[int(idx)] = value
    for name, key, value in _rows(
            spark, "SELECT p.PART_NAME, x.PARAM_KEY, x.PARAM_VALUE FROM SERDE_PARAMS x "
                   "JOIN SDS s ON s.SERDE_ID = x.SERDE_ID JOIN PARTITIONS p ON p.SD_ID = s.SD_ID "
                   + _OF_TABLE, db, table):
        out[name].setdefault("serde_params", set()).add(
            (key, str(value).replace(f"/{table}", "/<table>")))
    table_cd = _rows(spark, "SELECT s.CD_ID FROM TBLS t JOIN DBS d ON d.DB_ID = t.DB_ID JOIN SDS s "
                            "ON s.SD_ID = t.SD_ID WHERE d.NAME = ? AND t.TBL_NAME = ?",
                     db, table)[0][0]
    for entry in out.values():
        entry["cd"] = entry["cd"] == table_cd  # partitions share the table's column descriptor
    return out


def test_bulk_rows_equal_the_rows_hive_writes(spark: Any, db: str, tmp_path: Path,
                                             caplog: pytest.LogCaptureFixture) -> None:
    bulk = SparkSqlCatalog(spark)
    ddl = SparkSqlCatalog(spark, bulk_derby=False)
    a = _table(bulk, db, "via_bulk", tmp_path)
    b = _table(ddl, db, "via_ddl", tmp_path)
    parts = _partitions(tmp_path / "data", BULK_MIN_PARTITIONS + 5)
    # Hive records numFiles/totalSize for folders that exist (hidden files and folders not
    # counted, subfolders counted) and creates the missing ones without statistics.
    for table in ("via_bulk", "via_ddl"):
        for i in range(0, len(parts), 2):
            folder = Path(parts[i].location.replace("/data/", f"/{table}/"))
            (folder / "sub").mkdir(parents=True)
            (folder / ".hidden").mkdir()
            (folder / "part-0.parquet").write_bytes(b"x" * (i + 1))
            (folder / "sub" / "part-1.parquet").write_bytes(b"y" * 7)
            (folder / "_SUCCESS").write_bytes(b"")
            (folder / ".part-0.parquet.crc").write_bytes(b"zz")
            (folder / ".hidden" / "f").write_bytes(b"zzz")
    with caplog.at_level(logging.INFO, logger="lakeforge.catalog.derby_bulk"):
        assert bulk.add_new_partitions(a, [Partition(p.values, p.location.replace(
            "/data/", "/via_bulk/")) for p in parts]) == len(parts)
    assert f"{len(parts) - 1} partitions cloned" in caplog.text
    ddl.add_new_partitions(b, [Partition(p.values, p.location.replace("/data/", "/via_ddl/"))
                               for p in parts])

    got, want = _metastore_rows(spark, db, "via_bulk"), _metastore_rows(spark, db, "via_ddl")
    assert len(got) == len(parts)
    assert got == want
    assert "dt=a%2Fb%3Ac%3Dd%25/n=-3" in got
    first, second = (got[part_name(["dt", "n"], p.values)]["params"] for p in parts[2:4])
    assert {("numFiles", "2"), ("totalSize", "10")} <= first  # 3 + 7 bytes
    assert {k for k, _ in second} == {"transient_lastDdlTime"}
    assert all(Path(p.location.replace("/data/", "/via_bulk/")).is_dir() for p in parts)
    assert got["dt=__HIVE_DEFAULT_PARTITION__/n=7"]["values"] == {
        0: "__HIVE_DEFAULT_PARTITION__", 1: "7"}
    # A second batch: the template is now the table's latest partition (no DDL add first).
    more = [Partition((f"2025-02-{i + 1:02d}", str(100 + i)), str(tmp_path / "data" / f"q{i}"))
            for i in range(BULK_MIN_PARTITIONS + 1)]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="lakeforge.catalog.derby_bulk"):
        bulk.add_new_partitions(a, [Partition(p.values, p.location.replace(
            "/data/", "/via_bulk/")) for p in more])
    assert f"{len(more)} partitions cloned" in caplog.text
    ddl.add_new_partitions(b, [Partition(p.values, p.location.replace("/data/", "/via_ddl/"))
                               for p in more])
    got, want = _metastore_rows(spark, db, "via_bulk"), _metastore_rows(spark, db, "via_ddl")
    assert len(got) == len(parts) + len(more)
    assert got == want
    parts = parts + more
    # Spark and the catalog see the same partitions through either path.
    assert sorted(bulk.list_partition_values(db, "via_bulk"), key=str) == sorted(
        ddl.list_partition_values(db, "via_ddl"), key=str)
    shown = [r[0] for r in spark.sql(f"SHOW PARTITIONS {db}.via_bulk").collect()]
    assert len(shown) == len(parts) and "dt=a%2Fb%3Ac%3Dd%25/n=-3" in shown
    found = bulk.get_partitions(db, "via_bulk", "n = -3")
    assert [(p.values, Path(p.location).name) for p in found] == [
        (("a/b:c=d%", "-3"), "p_escaped")]


def test_spark_reads_bulk_partitions_with_pruning_and_ddl_keeps_working(
        spark: Any, db: str, tmp_path: Path) -> None:
    catalog = SparkSqlCatalog(spark)
    spec = _table(catalog, db, "events", tmp_path)
    root = tmp_path / "events"
    n = BULK_MIN_PARTITIONS + 10
    for i in range(n):
        folder = root / f"dt=d{i}" / f"n={i}"
        folder.mkdir(parents=True)
        pq.write_table(pa.table({"id": pa.array([i * 10, i * 10 + 1], pa.int64())}),
                       folder / "part-0.parquet")
    parts = [Partition((f"d{i}", str(i)), str(root / f"dt=d{i}" / f"n={i}")) for i in range(n)]
    catalog.add_new_partitions(spec, parts)

    one = spark.table(f"{db}.events").where("dt = 'd5' AND n = 5")
    plan = one._jdf.queryExecution().executedPlan().toString()
    assert "PartitionFilters" in plan and "d5" in plan
    assert sorted(r.id for r in one.collect()) == [50, 51]
    assert spark.table(f"{db}.events").count() == 2 * n

    # Hive DDL on bulk-added partitions, then enough DDL adds to use up DataNucleus's cached id
    # block (ids must not collide with the bulk range), then the bulk path again.
    spark.sql(f"ALTER TABLE {db}.events DROP PARTITION (dt='d3', n=3)")
    spark.sql(f"ALTER TABLE {db}.events PARTITION (dt='d4', n=4) SET LOCATION "
              f"'{root / 'dt=d5' / 'n=5'}'")
    SparkSqlCatalog(spark, bulk_derby=False).add_new_partitions(
        spec, [Partition((f"x{i}", str(i)), str(tmp_path / f"x{i}")) for i in range(15)])
    catalog.add_new_partitions(
        spec, [Partition((f"y{i}", str(i)), str(tmp_path / f"y{i}")) for i in range(n)])
    values = catalog.list_partition_values(db, "events")
    assert len(values) == len(set(values)) == n - 1 + 15 + n
    assert spark.table(f"{db}.events").where("dt = 'd4'").count() == 2
    catalog.drop_partitions(db, "events", [(f"y{i}", str(i)) for i in range(n)])
    assert len(catalog.list_partition_values(db, "events")) == n - 1 + 15


def test_failed_bulk_insert_adds_nothing(spark: Any, db: str, tmp_path: Path) -> None:
    catalog = SparkSqlCatalog(spark)
    spec = _table(catalog, db, "t", tmp_path)
    catalog.add_new_partitions(spec, [Partition(("d0", "0"), str(tmp_path / "d0"))])
    url = derby_url(spark)
    assert url is not None
    sequence = ("SELECT NEXT_VAL FROM SEQUENCE_TABLE WHERE SEQUENCE_NAME = "
                "'org.apache.hadoop.hive.metastore.model.MPartition'")
    before = _rows(spark, sequence)
    # The last partition exists already: the unique index fails the insert, all is rolled back.
    rows = [((f"d{i}", str(i)), str(tmp_path / f"d{i}")) for i in range(1, 30)]
    rows.append((("d0", "0"), str(tmp_path / "d0")))
    for template in ("dt=d0/n=0", None):  # the named template, the table's latest partition
        with pytest.raises(BulkUnavailable, match="bulk insert into the Derby metastore failed"):
            DerbyBulkRegistrar(spark, url).add(db, "t", ["dt", "n"], rows, template=template)
    assert catalog.list_partition_values(db, "t") == [("d0", "0")]
    assert _rows(spark, sequence) == before
    leftovers = _rows(spark, "SELECT TABLENAME FROM SYS.SYSTABLES WHERE TABLENAME LIKE 'LF_STAGE%'")
    assert leftovers == []
    # A template that is not there is refused before anything is written.
    with pytest.raises(BulkUnavailable, match="template partition dt=zz/n=1"):
        DerbyBulkRegistrar(spark, url).add(db, "t", ["dt", "n"], rows[:2], template="dt=zz/n=1")


def test_cases_the_bulk_path_cannot_reproduce_go_through_ddl(
        spark: Any, db: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    catalog = SparkSqlCatalog(spark)
    spec = _table(catalog, db, "t", tmp_path)
    # '05' for an int key: Spark normalises it to '5', which only its DDL does.
    parts = [Partition((f"d{i}", f"0{i}"), str(tmp_path / f"d{i}")) for i in range(1, 30)]
    with caplog.at_level(logging.INFO, logger="lakeforge.catalog"):
        catalog.add_new_partitions(spec, parts)
    assert "need Hive's DDL path" in caplog.text
    assert ("d5", "5") in catalog.list_partition_values(db, "t")
    # Locations Hadoop would rewrite (double slash) fall back after the template partition.
    caplog.clear()
    odd = [Partition((f"e{i}", str(i)), f"{tmp_path}//e{i}/") for i in range(30)]
    with caplog.at_level(logging.INFO, logger="lakeforge.catalog"):
        catalog.add_new_partitions(spec, odd)
    assert "Derby bulk registration not used" in caplog.text
    assert len(catalog.list_partition_values(db, "t")) == 29 + 30


def test_part_name_matches_spark_and_canonical_values(spark: Any) -> None:
    jvm = spark.sparkContext._jvm
    utils = jvm.org.apache.spark.sql.catalyst.catalog.ExternalCatalogUtils
    for value in ["2024-01-01", "a/b", "x=y:z", "50%", "caf\u00e9 \u00fcber", "{[q]}^#*?'\"\\"]:
        assert part_name(["K"], [value]) == f"k={utils.escapePathName(value)}"
    assert part_name(["a", "b"], ["__HIVE_DEFAULT_PARTITION__", "1"]) == (
        "a=__HIVE_DEFAULT_PARTITION__/b=1")
    assert canonical_values(["x", "12", "2024-02-29", None], ["string", "int", "date", "bigint"])
    assert not canonical_values(["012"], ["int"])
    assert not canonical_values(["+1"], ["bigint"])
    assert not canonical_values(["2024-2-1"], ["date"])
    assert not canonical_values([""], ["string"])
    assert not canonical_values(["1.0"], ["double"])
    assert derby_url(spark) is not None and "create=true" not in derby_url(spark)
