"""Unpartitioned tables publish atomically too: the table's location is switched to the new
version folder in one metastore call."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from lakeforge.catalog.spark_sql import SparkSqlCatalog
from lakeforge.publish import PublishError, publish_partitioned, version_of


@pytest.fixture
def db(spark):
    name = f"unp_{uuid.uuid4().hex[:8]}"
    yield name
    spark.sql(f"DROP DATABASE IF EXISTS {name} CASCADE")


def _df(spark, ids):
    return spark.createDataFrame([(i, f"n{i}" if i % 2 else None) for i in ids],
                                 "id bigint, name string")


def test_overwrite_append_and_retention_without_partitions(spark, db, lake) -> None:
    catalog = SparkSqlCatalog(spark)
    kw = {"database": db, "table": "golden", "partition_by": [], "catalog": catalog,
          "lake": lake}
    first = publish_partitioned(_df(spark, [1, 2, 3]), mode="overwrite", **kw)
    spec = catalog.get_table(db, "golden")
    table_uri = lake.table_uri("curated", "golden", db)
    assert spec is not None and spec.partition_keys == []
    assert version_of(spec.location, table_uri) == first.version
    assert sorted(r.id for r in spark.table(f"{db}.golden").collect()) == [1, 2, 3]

    second = publish_partitioned(_df(spark, [7, 8]), mode="overwrite",
                                 retention=timedelta(0), **kw)
    spark.catalog.refreshTable(f"{db}.golden")
    assert sorted(r.id for r in spark.table(f"{db}.golden").collect()) == [7, 8]
    assert first.version in second.removed_versions
    assert not Path(table_uri, "_versions", first.version).exists()

    publish_partitioned(_df(spark, [9]), mode="append", **kw)
    spark.catalog.refreshTable(f"{db}.golden")
    assert sorted(r.id for r in spark.table(f"{db}.golden").collect()) == [7, 8, 9]
    location = catalog.get_table(db, "golden").location.replace("file:", "")
    ids = duckdb.sql(f"SELECT id FROM read_parquet('{location}/*.parquet') ORDER BY id")
    assert [r[0] for r in ids.fetchall()] == [7, 8, 9]
    # Nulls survive, and an empty overwrite is refused rather than emptying the table.
    assert spark.table(f"{db}.golden").where("name IS NULL").count() == 1
    with pytest.raises(PublishError, match="input is empty"):
        publish_partitioned(_df(spark, []), mode="overwrite", **kw)


def test_append_of_the_same_window_without_partitions_adds_its_rows_once(spark, db,
                                                                          lake) -> None:
    """The rerun of an append window on an unpartitioned table replaces that append (its
    version started from the table's previous location); the next window appends."""
    catalog = SparkSqlCatalog(spark)
    kw = {"database": db, "table": "golden", "partition_by": [], "catalog": catalog,
          "lake": lake}

    def ids() -> list[int]:
        spark.catalog.refreshTable(f"{db}.golden")
        return sorted(r.id for r in spark.table(f"{db}.golden").collect())

    publish_partitioned(_df(spark, [1]), mode="append", append_window="w1", **kw)
    publish_partitioned(_df(spark, [1]), mode="append", append_window="w1",
                        retention=timedelta(0), **kw)
    assert ids() == [1]
    publish_partitioned(_df(spark, [2, 3]), mode="append", append_window="w2", **kw)
    publish_partitioned(_df(spark, [2, 3]), mode="append", append_window="w2",
                        retention=timedelta(0), **kw)
    assert ids() == [1, 2, 3]


def _ddl_issued(monkeypatch, catalog) -> list[str]:
    """The DROP / CREATE / ALTER statements ``catalog`` issues from now on."""
    issued: list[str] = []
    run = catalog._sql

    def spy(statement: str):
        if statement.startswith(("DROP", "CREATE", "ALTER")):
            issued.append(statement[:60])
        return run(statement)

    monkeypatch.setattr(catalog, "_sql", spy)
    return issued


def test_overwrite_adding_a_column_never_drops_the_table(spark, db, lake, monkeypatch) -> None:
    """The columns change in one metastore call, the location in the next: the table is
    never dropped (readers would find no table in between)."""
    from pyspark.sql import functions as F

    catalog = SparkSqlCatalog(spark)
    kw = {"database": db, "table": "golden", "partition_by": [], "catalog": catalog,
          "lake": lake}
    publish_partitioned(_df(spark, [1, 2]), mode="overwrite", **kw)
    issued = _ddl_issued(monkeypatch, catalog)
    wider = _df(spark, [3]).withColumn("score", F.lit(0.5))
    result = publish_partitioned(wider, mode="overwrite", **kw)
    assert not [s for s in issued if s.startswith(("DROP", "CREATE"))], issued
    spec = catalog.get_table(db, "golden")
    assert [(c.name, c.type) for c in spec.columns] == [
        ("id", "bigint"), ("name", "string"), ("score", "double")]
    assert version_of(spec.location, lake.table_uri("curated", "golden", db)) == result.version
    spark.catalog.refreshTable(f"{db}.golden")
    assert [tuple(r) for r in spark.table(f"{db}.golden").collect()] == [(3, "n3", 0.5)]


def test_overwrite_of_an_unpartitioned_table_may_change_a_type(spark, db, lake,
                                                               monkeypatch) -> None:
    """No partitions: a changed type or a dropped column is not refused (a partitioned
    table's is: tests/lakeforge/test_publish.py); the columns and then the location change,
    the table is not dropped."""
    from pyspark.sql import functions as F

    catalog = SparkSqlCatalog(spark)
    issued = _ddl_issued(monkeypatch, catalog)
    kw = {"database": db, "table": "golden", "partition_by": [], "catalog": catalog,
          "lake": lake}
    publish_partitioned(_df(spark, [1, 2]), mode="overwrite", **kw)
    retyped = _df(spark, [3]).withColumn("id", F.col("id").cast("string")).drop("name")
    publish_partitioned(retyped, mode="overwrite", **kw)
    assert [(c.name, c.type) for c in catalog.get_table(db, "golden").columns] == [
        ("id", "string")]
    spark.catalog.refreshTable(f"{db}.golden")
    assert [tuple(r) for r in spark.table(f"{db}.golden").collect()] == [("3",)]
    assert [s.split(" (")[0] for s in issued if s.startswith(("DROP", "CREATE EXTERNAL"))] == [
        f"CREATE EXTERNAL TABLE `{db}`.`golden`"]  # the first publish's, never re-created
