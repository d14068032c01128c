"""Crawled tables read back with Spark (spark_sql backend): what the crawler registers must be
what Spark's readers read, value for value (no silent NULLs)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from lakeforge.catalog.spark_sql import SparkSqlCatalog
from lakeforge.crawler import crawl


def test_gzip_csv_named_gz_reads_back_non_null(spark: object, catalog: SparkSqlCatalog,
                                                db: str, tmp_path: Path) -> None:
    root = tmp_path / "zipped"
    root.mkdir()
    (root / "a.csv.gz").write_bytes(gzip.compress(b"1,alice,2.5\n2,bob,\n"))
    (root / "part-00000").write_bytes(gzip.compress(b"3,carl,4.5\n"))  # no suffix: skipped
    report = crawl(str(root), database=db, catalog=catalog)
    # The folder holds a mis-named object, so it is not registered at all.
    assert report.tables == [] and str(root / "part-00000") in {s.path for s in report.skipped}
    (root / "part-00000").unlink()
    t = crawl(str(root), database=db, catalog=catalog).table("zipped")
    assert (t.compression, t.columns) == (
        "gzip", [("col0", "bigint"), ("col1", "string"), ("col2", "double")])
    rows = spark.table(f"{db}.zipped").orderBy("col0").collect()  # type: ignore[attr-defined]
    assert [tuple(r) for r in rows] == [(1, "alice", 2.5), (2, "bob", None)]


def test_csv_java_timestamps_read_back_and_iso_stays_string(
    spark: object, catalog: SparkSqlCatalog, db: str, tmp_path: Path
) -> None:
    """LazySimpleSerDe (no header, so a Hive table) reads 'yyyy-MM-dd HH:mm:ss' as timestamps;
    the ISO 'T' column is registered as string and keeps its text."""
    root = tmp_path / "ts"
    root.mkdir()
    (root / "a.csv").write_text("1,2024-01-01 10:00:00,2024-01-01T10:00:00\n"
                                "2,2024-01-02 11:30:00.5,2024-01-02T11:30:00\n3,,\n")
    t = crawl(str(root), database=db, catalog=catalog).table("ts")
    assert t.columns == [("col0", "bigint"), ("col1", "timestamp"), ("col2", "string")]
    rows = spark.sql(  # type: ignore[attr-defined]
        f"SELECT col0, CAST(col1 AS STRING) AS c1, col2 FROM {db}.ts ORDER BY col0").collect()
    assert [tuple(r) for r in rows] == [
        (1, "2024-01-01 10:00:00", "2024-01-01T10:00:00"),
        (2, "2024-01-02 11:30:00.5", "2024-01-02T11:30:00"),
        (3, None, "")]


def test_parquet_nanos_timestamp_is_bigint_that_spark_reads_with_a_report_note(
    spark: object, catalog: SparkSqlCatalog, db: str, tmp_path: Path
) -> None:
    """pyarrow's default (format 2.6) writes TIMESTAMP(NANOS): registered bigint, as Glue's
    crawler does, with a report note naming the column and the file. Spark 3.5 reads that
    bigint through the table and refuses the column as timestamp (the old registration);
    INT96 and microsecond timestamps stay timestamp and read back."""
    import datetime

    import pyarrow as pa
    import pyarrow.parquet as pq

    at = datetime.datetime(2024, 1, 1, 10, 0, 0, 123456)
    root = tmp_path / "lake"
    (root / "nanos").mkdir(parents=True)
    pq.write_table(pa.table({"id": pa.array([1, 2], pa.int64()),
                             "at": pa.array([at, None], pa.timestamp("ns"))}),
                   root / "nanos" / "a.parquet")
    (root / "micros").mkdir()
    pq.write_table(pa.table({"k": pa.array([1], pa.int64()),
                             "us": pa.array([at], pa.timestamp("us"))}),
                   root / "micros" / "m.parquet")
    (root / "int96").mkdir()
    pq.write_table(pa.table({"j": pa.array([1], pa.int64()),
                             "i96": pa.array([at], pa.timestamp("ns"))}),
                   root / "int96" / "i.parquet", use_deprecated_int96_timestamps=True)
    report = crawl(str(root), database=db, catalog=catalog)
    nanos = report.table("nanos")
    assert nanos.columns == [("id", "bigint"), ("at", "bigint")]
    [note] = nanos.notes
    assert note.startswith(f"column at: Parquet TIMESTAMP(NANOS) in {root / 'nanos' / 'a.parquet'}"
                           " is registered bigint (nanoseconds since the epoch)")
    assert "cannot read it as a timestamp" in note
    assert report.table("micros").columns == [("k", "bigint"), ("us", "timestamp")]
    assert report.table("int96").columns == [("j", "bigint"), ("i96", "timestamp")]
    assert report.table("micros").notes == report.table("int96").notes == []
    assert spark.table(f"{db}.micros").collect()[0]["us"] == at  # type: ignore[attr-defined]
    assert spark.table(f"{db}.int96").collect()[0]["i96"] == at  # type: ignore[attr-defined]
    rows = spark.table(f"{db}.nanos").orderBy("id").collect()  # type: ignore[attr-defined]
    expected = int((at - datetime.datetime(1970, 1, 1)).total_seconds()) * 10**9 + 123456000
    assert [tuple(r) for r in rows] == [(1, expected), (2, None)]
    with pytest.raises(Exception, match=r"Expected: timestamp, Found: INT64"):
        spark.read.schema("id bigint, at timestamp").parquet(  # type: ignore[attr-defined]
            str(root / "nanos")).collect()


def test_parquet_time_is_registered_as_its_integer_and_reads_back(
    spark: object, catalog: SparkSqlCatalog, db: str, tmp_path: Path
) -> None:
    """Parquet TIME(MILLIS) is int and TIME(MICROS) bigint (ms/us since midnight), the only
    types Spark 3.5 reads them as; the old 'string' fails every read. One note per column."""
    import datetime

    import pyarrow as pa
    import pyarrow.parquet as pq

    root = tmp_path / "times"
    root.mkdir()
    ten = datetime.time(10, 0, 0, 500000)
    pq.write_table(pa.table({"id": pa.array([1, 2], pa.int64()),
                             "t_ms": pa.array([ten, None], pa.time32("ms")),
                             "t_us": pa.array([ten, None], pa.time64("us"))}), root / "a.parquet")
    t = crawl(str(root), database=db, catalog=catalog).table("times")
    assert t.columns == [("id", "bigint"), ("t_ms", "int"), ("t_us", "bigint")]
    assert [n.split(" is registered ")[0] for n in t.notes] == [
        f"column t_ms: Parquet TIME(MILLIS) in {root / 'a.parquet'}",
        f"column t_us: Parquet TIME(MICROS) in {root / 'a.parquet'}"]
    assert t.notes[0].split(" is registered ")[1].startswith("int (millis since midnight)")
    rows = spark.table(f"{db}.times").orderBy("id").collect()  # type: ignore[attr-defined]
    assert [tuple(r) for r in rows] == [(1, 36_000_500, 36_000_500_000), (2, None, None)]
    with pytest.raises(Exception, match=r"Expected: string, Found: INT32"):
        spark.read.schema("id bigint, t_ms string").parquet(  # type: ignore[attr-defined]
            str(root)).collect()


def _metastore_partition_columns(spark: object, db: str, table: str) -> dict[str, list[str]]:
    """Each partition's own column list, as the embedded Derby metastore stores it (Hive and
    Athena read these; Spark's catalog API does not return them)."""
    from lakeforge.catalog.derby_bulk import derby_url

    url = derby_url(spark)  # type: ignore[arg-type]
    assert url is not None
    conn = spark.sparkContext._jvm.java.sql.DriverManager.getConnection(url)  # type: ignore[attr-defined]
    try:
        ps = conn.prepareStatement(
            'SELECT p."PART_NAME", c."COLUMN_NAME", c."TYPE_NAME" FROM "PARTITIONS" p '
            'JOIN "SDS" s ON p."SD_ID" = s."SD_ID" JOIN "COLUMNS_V2" c ON c."CD_ID" = s."CD_ID" '
            'JOIN "TBLS" t ON p."TBL_ID" = t."TBL_ID" JOIN "DBS" d ON t."DB_ID" = d."DB_ID" '
            'WHERE t."TBL_NAME" = ? AND d."NAME" = ? ORDER BY p."PART_NAME", c."INTEGER_IDX"')
        ps.setString(1, table)
        ps.setString(2, db)
        rs = ps.executeQuery()
        out: dict[str, list[str]] = {}
        while rs.next():
            out.setdefault(rs.getString(1), []).append(f"{rs.getString(2)} {rs.getString(3)}")
        ps.close()
        return out
    finally:
        conn.close()


def test_partitions_inherit_from_table_on_spark_sql(spark: object, catalog: SparkSqlCatalog,
                                                    db: str, tmp_path: Path) -> None:
    """spark_sql: an added column (ALTER TABLE ADD COLUMNS) leaves the partitions' own column
    lists as they were; with partitions_inherit_from_table they take the table's, and the
    table still reads back."""
    root = tmp_path / "t"
    for d in (1, 2):
        (root / f"dt={d}").mkdir(parents=True)
        (root / f"dt={d}" / "a.csv").write_text("1,x\n")
    crawl(str(root), database=db, catalog=catalog)
    for d in (1, 2):
        (root / f"dt={d}" / "a.csv").write_text("1,x,true\n")
    plain = crawl(str(root), database=db, catalog=catalog).table("t")
    assert (plain.schema_changes, plain.partitions_updated) == (["added column col2 boolean"], 0)
    old = ["col0 bigint", "col1 string"]
    assert _metastore_partition_columns(spark, db, "t") == {"dt=1": old, "dt=2": old}
    inherited = crawl(str(root), database=db, catalog=catalog,
                      partitions_inherit_from_table=True).table("t")
    assert inherited.partitions_updated == 2
    new = ["col0 bigint", "col1 string", "col2 boolean"]
    assert _metastore_partition_columns(spark, db, "t") == {"dt=1": new, "dt=2": new}
    rows = spark.table(f"{db}.t").orderBy("dt").collect()  # type: ignore[attr-defined]
    assert [tuple(r) for r in rows] == [(1, "x", True, "1"), (1, "x", True, "2")]
    assert {p.location for p in catalog.get_partitions(db, "t")} == {
        str(root / "dt=1"), str(root / "dt=2")}


def test_csv_values_with_spaces_read_back_non_null(spark: object, catalog: SparkSqlCatalog,
                                                   db: str, tmp_path: Path) -> None:
    """' 2' and ' true' were typed bigint and boolean, which Spark's Hive reader
    (LazySimpleSerDe) returns as NULL; untrimmed values are strings, as in Glue's CSV
    classifier, so every value reads back."""
    root = tmp_path / "spaced"
    root.mkdir()
    (root / "a.csv").write_text("1, 2, true\n2,3 ,false \n")
    t = crawl(str(root), database=db, catalog=catalog).table("spaced")
    assert t.columns == [("col0", "bigint"), ("col1", "string"), ("col2", "string")]
    rows = spark.table(f"{db}.spaced").orderBy("col0").collect()  # type: ignore[attr-defined]
    assert [tuple(r) for r in rows] == [(1, " 2", " true"), (2, "3 ", "false ")]
