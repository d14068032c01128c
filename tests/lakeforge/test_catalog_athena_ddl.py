"""The Athena DDL file lakeforge writes next to a published table (lakeforge.catalog.athena_ddl).

Athena itself is not run: the statements are checked against its documented query string
limit (262,144 bytes) and read back with lakeforge.localquery's parser.
"""

from __future__ import annotations

from lakeforge.catalog import Column, Partition, TableSpec
from lakeforge.catalog.athena_ddl import ATHENA_MAX_QUERY_BYTES, athena_ddl
from lakeforge.localquery import parse_athena_ddl


def _spec() -> TableSpec:
    return TableSpec("lake", "events", [Column("id", "bigint")], "s3://bucket/lake/events",
                     [Column("dt", "string"), Column("shop", "string")])


def _parts(n: int) -> list[Partition]:
    return [Partition((f"2024-{i // 28 % 12 + 1:02d}-{i % 28 + 1:02d}", f"shop-{i:05d}"),
                      f"s3://bucket/lake/events/_versions/20240101T000000Z-abcdef/"
                      f"dt=2024-{i // 28 % 12 + 1:02d}-{i % 28 + 1:02d}/shop=shop-{i:05d}")
            for i in range(n)]


def test_partitions_of_a_large_table_split_into_statements_within_athenas_limit() -> None:
    """3,000 partitions (~600 KB of clauses): the old code wrote one ALTER TABLE statement
    Athena refuses (queryString longer than 262,144). Each statement now fits, and together
    they still add every partition."""
    parts = _parts(3000)
    text = athena_ddl(_spec(), parts)
    statements = [s.strip() for s in text.split(";\n") if s.strip()]
    alters = [s for s in statements if s.startswith("ALTER TABLE")]
    assert len(alters) > 1
    assert all(len((s.rstrip(";") + ";").encode()) <= ATHENA_MAX_QUERY_BYTES
               for s in statements)
    assert all(s.startswith("ALTER TABLE `lake`.`events` ADD IF NOT EXISTS\n") for s in alters)
    ddl = parse_athena_ddl(text)
    assert sorted(ddl.partitions) == sorted((p.values, p.location) for p in parts)


def test_statement_size_limit_counts_utf8_bytes() -> None:
    """Non-ASCII values count in bytes (Athena's limit is on bytes), not characters: two of
    these clauses make a 224-character statement of 234 bytes, over a 230-byte limit."""
    parts = [Partition((f"2024-01-0{i}", "Zürich-東京"), f"s3://b/events/dt={i}/shop=z")
             for i in range(1, 6)]
    text = athena_ddl(_spec(), parts, max_bytes=230)
    alters = [s.strip() for s in text.split(";\n") if s.strip().startswith("ALTER TABLE")]
    assert len(alters) == 5
    assert all(len((s.rstrip(";") + ";").encode()) <= 230 for s in alters)
    assert sorted(parse_athena_ddl(text).partitions) == [(p.values, p.location) for p in parts]


def test_typed_partition_values_are_quoted_only_for_string_keys() -> None:
    """Athena's ALTER TABLE ADD PARTITION: "Enclose partition_col_value in string characters
    only if the data type of the column is a string". The old code quoted every value (a
    publish's int/boolean keys included). Dates and values that are not canonical literals
    stay quoted strings; localquery reads them all back."""
    spec = TableSpec("lake", "e", [Column("id", "bigint")], "s3://b/e",
                     [Column("year", "int"), Column("flag", "boolean"), Column("dt", "date"),
                      Column("shop", "string")])
    parts = [Partition(("2024", "true", "2024-01-02", "7"), "s3://b/e/a"),
             Partition(("-3", "False", "2024-01-03", "x'y"), "s3://b/e/b"),
             Partition(("007", None, "2024-01-04", "z"), "s3://b/e/c")]
    text = athena_ddl(spec, parts)
    assert ("PARTITION (`year`=2024, `flag`=true, `dt`='2024-01-02', `shop`='7') "
            "LOCATION 's3://b/e/a'") in text
    assert "PARTITION (`year`=-3, `flag`=false, `dt`='2024-01-03', `shop`='x\\'y')" in text
    assert "PARTITION (`year`='007', `flag`=NULL, `dt`='2024-01-04', `shop`='z')" in text
    assert sorted(parse_athena_ddl(text).partitions) == sorted([
        (("2024", "true", "2024-01-02", "7"), "s3://b/e/a"),
        (("-3", "false", "2024-01-03", "x'y"), "s3://b/e/b"),
        (("007", None, "2024-01-04", "z"), "s3://b/e/c")])


def test_projection_template_must_name_every_partition_key() -> None:
    """Athena fails every query of a projected table whose storage.location.template lacks a
    partition column (INVALID_TABLE_PROPERTY: "must contain templates for all partition
    columns"); the old code wrote such a template as given."""
    import pytest

    from lakeforge.catalog.athena_ddl import date_projection, enum_projection, projection_properties

    spec = _spec()
    projections = {"dt": date_projection("2024-01-01"), "shop": enum_projection(["a", "b"])}
    with pytest.raises(ValueError, match=r"no placeholder for partition key\(s\) \['shop'\]"):
        projection_properties(spec, projections, "s3://bucket/lake/events/${dt}/")
    props = projection_properties(spec, projections, "s3://bucket/lake/events/${shop}/d=${dt}/")
    assert props["storage.location.template"] == "s3://bucket/lake/events/${shop}/d=${dt}/"
