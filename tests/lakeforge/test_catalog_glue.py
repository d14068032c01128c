# ruff: noqa: F811 - pytest fixtures imported from test_crawler are parameters here
"""The glue_api catalog backend against a moto server: batches, updates, expressions, DDL."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakeforge.catalog import Column, Partition, TableNotFoundError, TableSpec, get_catalog
from lakeforge.catalog.athena_ddl import (
    date_projection,
    enum_projection,
    integer_projection,
    projection_properties,
)
from lakeforge.catalog.glue_api import GlueApiCatalog

pytestmark = pytest.mark.aws


def _spec(glue_db: str, location: str = "s3://bucket/sales") -> TableSpec:
    return TableSpec(glue_db, "sales", [Column("id", "bigint"), Column("amount", "decimal(10,2)")],
                     location, [Column("dt", "string"), Column("shop", "string")])


def test_batches_of_100_and_updates(glue: GlueApiCatalog, glue_db: str) -> None:
    glue.create_database(glue_db)
    glue.create_database(glue_db)  # idempotent
    glue.create_or_update_table(_spec(glue_db))
    parts = [Partition((f"2024-01-{d:02d}", f"s{s}"), f"s3://bucket/sales/dt={d}/shop={s}")
             for d in range(1, 31) for s in range(5)]
    calls: list[int] = []
    original = glue.glue.batch_create_partition

    def counting(**kwargs: object) -> object:
        calls.append(len(kwargs["PartitionInputList"]))  # type: ignore[arg-type]
        return original(**kwargs)

    glue.glue.batch_create_partition = counting  # type: ignore[method-assign]
    try:
        assert glue.add_partitions(glue_db, "sales", parts) == 150
    finally:
        glue.glue.batch_create_partition = original  # type: ignore[method-assign]
    assert calls == [100, 50]
    assert len(glue.get_partitions(glue_db, "sales")) == 150
    # Adding an existing partition re-points it instead of failing.
    moved = Partition(("2024-01-01", "s0"), "s3://bucket/sales/v2/dt=1/shop=0")
    assert glue.add_partitions(glue_db, "sales", [moved]) == 1
    [got] = glue.get_partitions(glue_db, "sales", expression="dt = '2024-01-01' AND shop = 's0'")
    assert got.location == moved.location
    picked = glue.get_partitions(glue_db, "sales",
                                 expression="dt BETWEEN '2024-01-29' AND '2024-01-30'")
    assert sorted(p.values for p in picked) == [(f"2024-01-{d}", f"s{s}") for d in (29, 30)
                                                for s in range(5)]
    assert glue.drop_partitions(glue_db, "sales", [p.values for p in parts[:40]] + [("x",
                                                                                     "y")]) == 40
    assert len(glue.get_partitions(glue_db, "sales")) == 110


def test_set_partition_locations_updates_and_creates(glue: GlueApiCatalog, glue_db: str) -> None:
    glue.create_database(glue_db)
    glue.create_or_update_table(_spec(glue_db))
    glue.add_partitions(glue_db, "sales", [Partition(("a", "1"), "s3://bucket/sales/v1/a")])
    glue.set_partition_locations(glue_db, "sales", [Partition(("a", "1"), "s3://bucket/sales/v2/a"),
                                               Partition(("b", None), "s3://bucket/sales/v2/b")])
    got = {p.values: p.location for p in glue.get_partitions(glue_db, "sales")}
    assert got == {("a", "1"): "s3://bucket/sales/v2/a", ("b", None): "s3://bucket/sales/v2/b"}


def test_table_round_trip_and_athena_ddl(glue: GlueApiCatalog, glue_db: str) -> None:
    glue.create_database(glue_db)
    spec = TableSpec(glue_db, "people", [Column("id", "bigint"), Column("name", "string")],
                     "s3://bucket/people", format="csv", compression="gzip", csv_delimiter="|",
                     csv_header=True, parameters={"owner": "team-a"})
    glue.create_or_update_table(spec)
    back = glue.get_table(glue_db, "people")
    assert back is not None
    assert (back.format, back.compression, back.csv_delimiter, back.csv_header) == (
        "csv", "gzip", "|", True)
    assert back.parameters["owner"] == "team-a" and back.parameters["classification"] == "csv"
    raw = glue.glue.get_table(DatabaseName=glue_db, Name="people")["Table"]
    assert raw["TableType"] == "EXTERNAL_TABLE"
    assert raw["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"] == (
        "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe")
    ddl = glue.show_create_table(glue_db, "people")
    assert ddl.startswith(f"CREATE EXTERNAL TABLE `{glue_db}`.`people` (")
    assert "'field.delim'='|'" in ddl and "'skip.header.line.count'='1'" in ddl
    assert "LOCATION 's3://bucket/people'" in ddl
    glue.create_or_update_table(TableSpec(glue_db, "people", [*spec.columns, Column("x", "int")],
                                          spec.location, format="csv"))
    assert [c.name for c in glue.get_table(glue_db, "people").columns] == ["id", "name", "x"]  # type: ignore[union-attr]
    assert glue.list_tables(glue_db) == ["people"]
    glue.drop_table(glue_db, "people")
    assert glue.get_table(glue_db, "people") is None
    with pytest.raises(TableNotFoundError):
        glue.show_create_table(glue_db, "people")
    with pytest.raises(TableNotFoundError):
        glue.add_partitions(glue_db, "people", [])


def test_projection_properties_and_errors(glue: GlueApiCatalog, glue_db: str) -> None:
    spec = _spec(glue_db)
    props = projection_properties(spec, {"dt": date_projection("2024-01-01"),
                                         "shop": enum_projection(["s0", "s1"])})
    assert props == {
        "projection.enabled": "true",
        "projection.dt.type": "date", "projection.dt.range": "2024-01-01,NOW",
        "projection.dt.format": "yyyy-MM-dd", "projection.dt.interval": "1",
        "projection.dt.interval.unit": "DAYS",
        "projection.shop.type": "enum", "projection.shop.values": "s0,s1",
        "storage.location.template": "s3://bucket/sales/dt=${dt}/shop=${shop}",
    }
    with pytest.raises(ValueError, match=r"missing \['shop'\]"):
        projection_properties(spec, {"dt": integer_projection(1, 2)})
    with pytest.raises(ValueError, match="low must not exceed high"):
        integer_projection(3, 1)
    glue.create_database(glue_db)
    glue.create_or_update_table(TableSpec(**{**spec.__dict__, "parameters": props}))
    assert "projection.enabled=true" not in glue.show_create_table(glue_db, "sales")
    assert "'projection.enabled'='true'" in glue.show_create_table(glue_db, "sales")


def test_factory_builds_glue_from_env(moto_endpoint: str, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from lakeforge.config import load_env

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    env_file = tmp_path / "env.yaml"
    env_file.write_text(f"kind: glue\ncatalog:\n  backend: glue_api\n  region: us-east-1\n"
                        f"  endpoint_url: {moto_endpoint}\n")
    catalog = get_catalog(load_env(str(env_file)))
    assert isinstance(catalog, GlueApiCatalog)
    catalog.create_database("factory_db")
    assert catalog.database_exists("factory_db")
    assert not catalog.database_exists("no_such_db")
