"""Crawled tables read back with Spark (spark_sql backend): what the crawler registers must be
what Spark's readers read, value for value (no silent NULLs)."""

from __future__ import annotations

import gzip
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from lakeforge.catalog import get_catalog
from lakeforge.catalog.spark_sql import SparkSqlCatalog
from lakeforge.crawler import crawl


@pytest.fixture
def catalog(spark: object) -> SparkSqlCatalog:
    cat = get_catalog("spark_sql", spark)  # type: ignore[arg-type]
    assert isinstance(cat, SparkSqlCatalog)
    return cat


@pytest.fixture
def db(spark: object) -> Iterator[str]:
    name = f"crawlrb_{uuid.uuid4().hex[:8]}"
    yield name
    spark.sql(f"DROP DATABASE IF EXISTS {name} CASCADE")  # type: ignore[attr-defined]


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
