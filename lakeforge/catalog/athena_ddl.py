"""Athena's view of a table: SerDe and formats per data format, the ``CREATE EXTERNAL TABLE``
statement, and partition projection properties.

Both backends take their storage descriptors from here, so a table registered through Spark SQL
and one registered through the Glue API are described identically.

Example::

    ddl = create_table_ddl(spec)
    spec = replace(spec, parameters={**spec.parameters,
                                     **projection_properties(spec, {"dt": date_projection(...)})})
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from lakeforge.catalog.base import Partition, TableSpec
from lakeforge.paths import normalize_uri

#: The DDL file written next to each published table (read back by lakeforge.localquery).
DDL_FILE = "_athena_ddl.sql"
#: Athena's longest query string (StartQueryExecution's QueryString, not adjustable).
ATHENA_MAX_QUERY_BYTES = 262_144
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
LAZY_SIMPLE_SERDE = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
OPEN_CSV_SERDE = "org.apache.hadoop.hive.serde2.OpenCSVSerde"
OPENX_JSON_SERDE = "org.openx.data.jsonserde.JsonSerDe"
TEXT_INPUT = "org.apache.hadoop.mapred.TextInputFormat"
TEXT_OUTPUT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"


@dataclass(frozen=True)
class StorageFormat:
    """SerDe library, its parameters and the Hadoop input/output formats of a table."""

    serde: str
    input_format: str
    output_format: str
    serde_parameters: Mapping[str, str] = field(default_factory=dict)


def storage_format(spec: TableSpec) -> StorageFormat:
    """The SerDe Athena (and Glue's crawler) uses for the spec's format."""
    if spec.format == "parquet":
        return StorageFormat(PARQUET_SERDE, PARQUET_INPUT, PARQUET_OUTPUT,
                             {"serialization.format": "1"})
    if spec.format == "json":
        return StorageFormat(OPENX_JSON_SERDE, TEXT_INPUT, TEXT_OUTPUT,
                             {"paths": ",".join(c.name for c in spec.columns)})
    if spec.format == "csv":
        if spec.csv_quoted:
            return StorageFormat(OPEN_CSV_SERDE, TEXT_INPUT, TEXT_OUTPUT,
                                 {"separatorChar": spec.csv_delimiter, "quoteChar": '"',
                                  "escapeChar": "\\"})
        return StorageFormat(LAZY_SIMPLE_SERDE, TEXT_INPUT, TEXT_OUTPUT,
                             {"field.delim": spec.csv_delimiter,
                              "serialization.format": spec.csv_delimiter})
    raise ValueError(f"table {spec.qualified_name}: unknown format {spec.format!r}")


#: Table properties that state the spec's own format fields (format, compression, delimiter,
#: quoting, header): the spec's fields decide them, never a copy in ``spec.parameters``.
FORMAT_PROPERTIES = ("classification", "compressionType", "delimiter", "areColumnsQuoted",
                     "skip.header.line.count")


def crawler_table_parameters(spec: TableSpec) -> dict[str, str]:
    """The table properties Glue's crawler sets (classification, compressionType, delimiter,
    header skip): Athena and the backends' ``get_table`` read the format back from them.

    ``spec.parameters`` comes first and the spec's fields override it: a spec read back from
    the catalog carries the old table's ``classification``, ``compressionType``, ``delimiter``
    and ``skip.header.line.count``, which must not win over a changed ``format``,
    ``compression``, ``csv_delimiter`` or ``csv_header`` (Athena would skip the first data row
    of every file of a table that lost its header, and ``get_table`` would read the old
    delimiter back). A ``skip.header.line.count`` other than ``1`` on a CSV table without
    ``csv_header`` is the user's own and stays."""
    params = {k: v for k, v in dict(spec.parameters).items()
              if k not in FORMAT_PROPERTIES or (
                  k == "skip.header.line.count" and spec.format == "csv"
                  and not spec.csv_header and v != "1")}
    params.update({
        "EXTERNAL": "TRUE",
        "classification": spec.format,
        "compressionType": spec.compression or "none",
    })
    params.setdefault("typeOfData", "file")
    if spec.format == "csv":
        params["delimiter"] = spec.csv_delimiter
        params["areColumnsQuoted"] = "true" if spec.csv_quoted else "false"
        if spec.csv_header:
            params["skip.header.line.count"] = "1"
    return params


def quote_identifier(name: str) -> str:
    """Backtick-quote an identifier (backticks inside are doubled)."""
    return "`" + name.replace("`", "``") + "`"


def quote_string(value: str) -> str:
    """A single-quoted SQL string literal (Hive/Athena escaping)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def create_table_ddl(spec: TableSpec, *, if_not_exists: bool = False) -> str:
    """The Athena ``CREATE EXTERNAL TABLE`` statement for ``spec``.

    Example::

        create_table_ddl(TableSpec("db", "sales", [Column("id", "bigint")], "s3://b/sales"))
    """
    fmt = storage_format(spec)
    cols = ",\n".join(f"  {quote_identifier(c.name)} {c.type}" + _comment(c.comment)
                      for c in spec.columns)
    lines = [
        "CREATE EXTERNAL TABLE " + ("IF NOT EXISTS " if if_not_exists else "")
        + f"{quote_identifier(spec.database)}.{quote_identifier(spec.name)} (",
        cols,
        ")",
    ]
    if spec.partition_keys:
        keys = ", ".join(f"{quote_identifier(k.name)} {k.type}" + _comment(k.comment)
                         for k in spec.partition_keys)
        lines.append(f"PARTITIONED BY ({keys})")
    lines.append(f"ROW FORMAT SERDE {quote_string(fmt.serde)}")
    if fmt.serde_parameters:
        props = ",\n".join(f"  {quote_string(k)}={quote_string(v)}"
                           for k, v in fmt.serde_parameters.items())
        lines.append(f"WITH SERDEPROPERTIES (\n{props})")
    lines.append(f"STORED AS INPUTFORMAT {quote_string(fmt.input_format)}")
    lines.append(f"OUTPUTFORMAT {quote_string(fmt.output_format)}")
    lines.append(f"LOCATION {quote_string(spec.location)}")
    params = {k: v for k, v in crawler_table_parameters(spec).items() if k != "EXTERNAL"}
    if params:
        props = ",\n".join(f"  {quote_string(k)}={quote_string(v)}"
                           for k, v in sorted(params.items()))
        lines.append(f"TBLPROPERTIES (\n{props})")
    return "\n".join(lines)


def _comment(comment: str | None) -> str:
    return f" COMMENT {quote_string(comment)}" if comment else ""


# --------------------------------------------------------------------------- partition projection


@dataclass(frozen=True)
class Projection:
    """One partition key's projection (Athena's ``projection.<key>.*`` properties)."""

    type: str  # integer | date | enum | injected
    range: str | None = None
    values: tuple[str, ...] = ()
    format: str | None = None
    interval: str | None = None
    interval_unit: str | None = None
    digits: int | None = None


def integer_projection(low: int, high: int, digits: int | None = None) -> Projection:
    if low > high:
        raise ValueError(f"integer projection range {low},{high}: low must not exceed high")
    return Projection("integer", range=f"{low},{high}", digits=digits)


def date_projection(start: str, end: str = "NOW", fmt: str = "yyyy-MM-dd",
                    interval: int = 1, unit: str = "DAYS") -> Projection:
    return Projection("date", range=f"{start},{end}", format=fmt, interval=str(interval),
                      interval_unit=unit)


def enum_projection(values: tuple[str, ...] | list[str]) -> Projection:
    vals = tuple(values)
    if not vals:
        raise ValueError("enum projection needs at least one value")
    bad = [v for v in vals if "," in v]
    if bad:
        raise ValueError(f"enum projection values may not contain ',': {bad}")
    return Projection("enum", values=vals)


def projection_properties(spec: TableSpec, projections: Mapping[str, Projection],
                          location_template: str | None = None) -> dict[str, str]:
    """Athena partition projection table properties for ``spec``'s partition keys.

    Every partition key needs a projection; the storage template defaults to Hive-style folders
    (``<location>/dt=${dt}``).
    """
    keys = [k.name for k in spec.partition_keys]
    missing = [k for k in keys if k not in projections]
    unknown = [k for k in projections if k not in keys]
    if missing or unknown:
        raise ValueError(
            f"table {spec.qualified_name}: partition projection needs exactly the partition keys "
            f"{keys}; missing {missing}, not partition keys {unknown}"
        )
    props = {"projection.enabled": "true"}
    for key in keys:
        p = projections[key]
        props[f"projection.{key}.type"] = p.type
        if p.range is not None:
            props[f"projection.{key}.range"] = p.range
        if p.values:
            props[f"projection.{key}.values"] = ",".join(p.values)
        if p.format is not None:
            props[f"projection.{key}.format"] = p.format
        if p.interval is not None:
            props[f"projection.{key}.interval"] = p.interval
        if p.interval_unit is not None:
            props[f"projection.{key}.interval.unit"] = p.interval_unit
        if p.digits is not None:
            props[f"projection.{key}.digits"] = str(p.digits)
    if location_template is not None:
        absent = [k for k in keys if f"${{{k}}}" not in location_template]
        if absent:
            # Athena: INVALID_TABLE_PROPERTY "The 'storage.location.template' table property
            # must contain templates for all partition columns!" on every query.
            raise ValueError(
                f"table {spec.qualified_name}: storage.location.template {location_template!r} "
                f"has no placeholder for partition key(s) {absent}; Athena needs "
                + ", ".join(f"${{{k}}}" for k in keys))
    template = location_template or (
        spec.location.rstrip("/") + "/" + "/".join(f"{k}=${{{k}}}" for k in keys)
    )
    props["storage.location.template"] = template
    return props


def athena_ddl(spec: TableSpec, partitions: Sequence[Partition], *,
               with_partitions: bool = True,
               max_bytes: int = ATHENA_MAX_QUERY_BYTES) -> str:
    """The Athena statements that recreate the table as published: CREATE EXTERNAL TABLE plus
    ``ALTER TABLE ... ADD IF NOT EXISTS`` with one ``PARTITION ... LOCATION`` clause per
    partition (none with projection), split into as many statements as keep each within
    Athena's query string limit (``max_bytes``, 262,144 bytes: a table of thousands of
    partitions needs several)."""
    parts = [create_table_ddl(spec, if_not_exists=True) + ";"]
    if with_partitions and partitions:
        keys = list(spec.partition_keys)
        head = (f"ALTER TABLE {quote_identifier(spec.database)}.{quote_identifier(spec.name)} "
                "ADD IF NOT EXISTS")
        clauses = []
        for p in sorted(partitions, key=lambda p: tuple(v or "" for v in p.values)):
            values = ", ".join(
                f"{quote_identifier(k.name)}={partition_literal(k.type, v)}"
                for k, v in zip(keys, p.values, strict=True)
            )
            where = quote_string(normalize_uri(p.location))
            clauses.append(f"  PARTITION ({values}) LOCATION {where}")
        parts.extend(_statements(head, clauses, max_bytes))
    return "\n\n".join(parts) + "\n"


_INTEGER_TYPES = ("tinyint", "smallint", "int", "integer", "bigint")


def partition_literal(key_type: str, value: str | None) -> str:
    """A partition value as Athena's ``PARTITION (key=value)`` takes it: quoted only for a
    string-like key ("Enclose partition_col_value in string characters only if the data type
    of the column is a string"): an integer or boolean key's canonical value is bare, any other
    value (a date, an odd text) stays a quoted string; ``NULL`` for None."""
    if value is None:
        return "NULL"
    kind = key_type.strip().lower()
    if kind in _INTEGER_TYPES and re.fullmatch(r"-?(0|[1-9][0-9]*)", value):
        return value
    if kind == "boolean" and value.lower() in ("true", "false"):
        return value.lower()
    return quote_string(value)


def _statements(head: str, clauses: Sequence[str], max_bytes: int) -> list[str]:
    """``head`` followed by as many ``clauses`` (one a line) as fit in ``max_bytes`` of UTF-8,
    ``;`` included, repeated until every clause is in a statement."""
    out: list[str] = []
    lines = [head]
    size = len(head.encode()) + 1
    for clause in clauses:
        n = len(clause.encode()) + 1  # and its newline
        if len(lines) > 1 and size + n > max_bytes:
            out.append("\n".join(lines) + ";")
            lines, size = [head], len(head.encode()) + 1
        if size + n > max_bytes:
            raise ValueError(f"{head}: one PARTITION clause is {n} bytes, more than an Athena "
                             f"statement may have ({max_bytes}): {clause[:200]}")
        lines.append(clause)
        size += n
    out.append("\n".join(lines) + ";")
    return out
