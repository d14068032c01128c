"""``lakeforge query`` (lakeforge/localquery.py): DuckDB over what the Athena DDL publish writes
declares. The DDL comes from lakeforge.catalog.athena_ddl (what publish writes), the files from
pyarrow; no Spark. Athena itself cannot run here: the differences are tabled in docs/query.md."""

from __future__ import annotations

import decimal
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakeforge.catalog.athena_ddl import (
    DDL_FILE,
    athena_ddl,
    enum_projection,
    integer_projection,
    projection_properties,
)
from lakeforge.catalog.base import Column, Partition, TableSpec
from lakeforge.errors import InputPathError
from lakeforge.localquery import duck_type, parse_athena_ddl, query_table
from lakeforge.paths import Lake, escape_partition_value


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake.from_settings(str(tmp_path), allow_env_override=False)


def _publish(lake: Lake, columns: list[Column], keys: list[Column],
             parts: dict[tuple[str | None, ...], pa.Table], *, table: str = "t",
             projections: dict | None = None, extra: dict[str, pa.Table] | None = None) -> Path:
    """Write ``parts`` as a version's partition folders and the DDL publish would write."""
    root = Path(lake.table_uri("curated", table, "db"))
    version = root / "_versions" / "v1"
    version.mkdir(parents=True, exist_ok=True)
    partitions = []
    for values, rows in parts.items():
        folder = version.joinpath(*(f"{k.name}={escape_partition_value(v)}"
                                    for k, v in zip(keys, values, strict=True)))
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(rows, folder / "part-00000.parquet")
        partitions.append(Partition(values, str(folder)))
    for name, rows in (extra or {}).items():
        (version / name).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(rows, version / name)
    spec = TableSpec("db", table, columns, str(version), partition_keys=keys)
    if projections:
        spec = TableSpec("db", table, columns, str(version), partition_keys=keys,
                         parameters=projection_properties(spec, projections))
    (root / DDL_FILE).write_text(athena_ddl(spec, partitions, with_partitions=not projections))
    return version


def test_partition_values_with_parentheses_quotes_and_null_are_all_read(lake: Lake) -> None:
    """Every partition the DDL lists is read, whatever its value: ')' and a quote used to end
    the old pattern early, so such partitions were silently left out."""
    rows = pa.table({"id": pa.array([1], pa.int64())})
    values = ["north", "(south)", "it's", "a,b=c", None]
    _publish(lake, [Column("id", "bigint")], [Column("region", "string")],
             {(v,): rows for v in values})
    got = query_table(lake, "db", "t", "SELECT region, count(*) FROM t GROUP BY region")
    assert sorted(got, key=str) == sorted([(v, 1) for v in values], key=str)


def test_columns_and_keys_take_the_declared_types(lake: Lake) -> None:
    rows = pa.table({"amount": pa.array([decimal.Decimal("1.50")], pa.decimal128(10, 2)),
                     "tags": pa.array([["a", "b"]]),
                     "attrs": pa.array([{"k": 1}], pa.map_(pa.string(), pa.int64())),
                     "geo": pa.array([{"lat": 1.5, "lon": 2.5}])})
    _publish(lake, [Column("amount", "decimal(10,2)"), Column("tags", "array<string>"),
                    Column("attrs", "map<string,bigint>"),
                    Column("geo", "struct<lat:double,lon:double>")],
             [Column("dt", "date"), Column("price", "decimal(10,2)")],
             {("2024-01-02", "9.99"): rows})
    [row] = query_table(lake, "db", "t", "SELECT amount, tags, attrs, geo.lon, dt, price FROM t")
    assert row == (decimal.Decimal("1.50"), ["a", "b"], {"k": 1}, 2.5, date(2024, 1, 2),
                   decimal.Decimal("9.99"))
    kinds = query_table(lake, "db", "t", "SELECT typeof(dt), typeof(price) FROM t")
    assert kinds == [("DATE", "DECIMAL(10,2)")]


def test_a_column_added_later_reads_null_in_older_partitions(lake: Lake) -> None:
    old = pa.table({"id": pa.array([1], pa.int64())})
    new = pa.table({"id": pa.array([2], pa.int64()), "extra": pa.array(["x"])})
    _publish(lake, [Column("id", "bigint"), Column("extra", "string")],
             [Column("dt", "string")], {("1",): old, ("2",): new})
    assert query_table(lake, "db", "t", "SELECT id, extra FROM t ORDER BY id") == [
        (1, None), (2, "x")]


def test_a_table_without_partitions_or_files_still_answers(lake: Lake) -> None:
    """Athena counts 0 on a table with no partitions, and refuses an unknown column."""
    _publish(lake, [Column("id", "bigint")], [Column("dt", "string")], {})
    assert query_table(lake, "db", "t", "SELECT count(*) FROM t") == [(0,)]
    with pytest.raises(duckdb.BinderException, match="nonexistent"):
        query_table(lake, "db", "t", "SELECT nonexistent FROM t")


def test_an_unpartitioned_table_reads_its_location(lake: Lake) -> None:
    root = Path(lake.table_uri("curated", "u", "db")) / "_versions" / "v1"
    root.mkdir(parents=True)
    pq.write_table(pa.table({"id": [1, 2]}), root / "part-0.parquet")
    (root / "_SUCCESS").write_text("")
    spec = TableSpec("db", "u", [Column("id", "bigint")], str(root))
    (root.parent.parent / DDL_FILE).write_text(athena_ddl(spec, []))
    assert query_table(lake, "db", "u", "SELECT sum(id) FROM t") == [(3,)]


def test_projection_reads_the_folders_the_template_names_within_the_projection(
        lake: Lake) -> None:
    """A projected table's DDL lists no partition; Athena computes them from the projection.
    Here: the template's folders, kept when the enum / integer projection yields their value."""
    rows = pa.table({"id": pa.array([1], pa.int64())})
    _publish(lake, [Column("id", "bigint")], [Column("shop", "string"), Column("n", "int")],
             {("a", "1"): rows, ("b", "2"): rows, ("zz", "1"): rows, ("a", "99"): rows},
             projections={"shop": enum_projection(["a", "b"]), "n": integer_projection(0, 9)})
    got = query_table(lake, "db", "t", "SELECT shop, n, count(*) FROM t GROUP BY ALL ORDER BY 1")
    assert got == [("a", 1, 1), ("b", 2, 1)]


def test_delta_and_unpublished_tables_are_named_in_one_line(lake: Lake) -> None:
    (Path(lake.table_uri("curated", "d", "db")) / "_delta_log").mkdir(parents=True)
    with pytest.raises(InputPathError, match=r"^db\.d is a Delta table: lakeforge query reads"):
        query_table(lake, "db", "d")
    with pytest.raises(InputPathError, match=r"^db\.nope has not been published: no "):
        query_table(lake, "db", "nope")


def test_the_ddl_reader_reads_what_athena_ddl_writes() -> None:
    spec = TableSpec("d`b", "t", [Column("a b", "decimal(38,10)", comment="it's (a) note"),
                                  Column("s", "struct<x:array<int>,y:map<string,int>>")],
                     "/lake/t'1", partition_keys=[Column("k", "string")])
    ddl = parse_athena_ddl(athena_ddl(spec, [Partition(("x'y)",), "/lake/t'1/k=x'y)")]))
    assert ddl.columns == [("a b", "decimal(38,10)"),
                           ("s", "struct<x:array<int>,y:map<string,int>>")]
    assert ddl.partition_keys == [("k", "string")]
    assert ddl.location == "/lake/t'1" and ddl.partitions == [(("x'y)",), "/lake/t'1/k=x'y)")]
    assert duck_type("struct<x:array<int>,y:map<string,int>>") == (
        'STRUCT("x" INTEGER[], "y" MAP(VARCHAR, INTEGER))')
    with pytest.raises(InputPathError, match="not a CREATE EXTERNAL TABLE"):
        parse_athena_ddl("DROP TABLE t;")
