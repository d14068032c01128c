"""Query published tables with DuckDB, the local stand-in for Athena.

It reads exactly what Athena would: the table the Athena DDL that publish writes next to the data
(``<table>/_athena_ddl.sql``) declares, i.e. its columns and types, its partitions and their
locations (or, with partition projection, the folders the location template names), never
superseded versions still waiting for their retention to pass. The differences from Athena
are tabled in docs/query.md.

Example::

    rows = query_table(lake, "lakeforge", "contacts_enriched",
                       "SELECT dt, count(*) FROM t GROUP BY dt ORDER BY dt")
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass, field
from typing import Any

from lakeforge.catalog.athena_ddl import DDL_FILE
from lakeforge.crawler.hive_types import split_top_level, struct_fields
from lakeforge.errors import ConfigError, InputPathError
from lakeforge.paths import Lake, normalize_uri, unescape_partition_value

# One token of the DDL: a `quoted` identifier (`` doubled), a 'string' (backslash escapes,
# as athena_ddl.quote_string writes them), punctuation, or a bare word (types included).
_TOKEN = re.compile(r"\s*(?:(`(?:[^`]|``)*`)|('(?:[^'\\]|\\.)*')|([(),;=])|([^\s`'(),;=]+))",
                    re.S)


@dataclass
class TableDDL:
    """What a table's Athena DDL declares."""

    columns: list[tuple[str, str]] = field(default_factory=list)
    partition_keys: list[tuple[str, str]] = field(default_factory=list)
    location: str = ""
    properties: dict[str, str] = field(default_factory=dict)
    partitions: list[tuple[tuple[str | None, ...], str]] = field(default_factory=list)

    @property
    def projected(self) -> bool:
        return self.properties.get("projection.enabled", "").lower() == "true"


def _tokens(text: str, where: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise InputPathError(f"{where}: cannot read the DDL at character {pos}")
        pos = m.end()
        ident, string, punct, word = m.groups()
        if ident is not None:
            out.append(("id", ident[1:-1].replace("``", "`")))
        elif string is not None:
            out.append(("str", re.sub(r"\\(.)", r"\1", string[1:-1], flags=re.S)))
        elif punct is not None:
            out.append(("p", punct))
        elif word is not None:
            out.append(("w", word))
    return out


class _Reader:
    def __init__(self, tokens: list[tuple[str, str]], where: str) -> None:
        self.t, self.i, self.where = tokens, 0, where

    def peek(self, ahead: int = 0) -> tuple[str, str]:
        j = self.i + ahead
        return self.t[j] if j < len(self.t) else ("end", "")

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        self.i += 1
        return tok

    def word(self, *words: str) -> bool:
        """Consume ``words`` (case-insensitive) if they come next."""
        for k, w in enumerate(words):
            kind, text = self.peek(k)
            if kind != "w" or text.upper() != w:
                return False
        self.i += len(words)
        return True

    def expect(self, kind: str, text: str | None = None) -> str:
        got = self.take()
        if got[0] != kind or (text is not None and got[1] != text):
            raise InputPathError(f"{self.where}: expected {text or kind} in the DDL, found "
                                 f"{got[1] or 'the end'!r}")
        return got[1]

    def string(self) -> str:
        return self.expect("str")

    def name(self) -> str:
        kind, text = self.take()
        if kind not in ("id", "w"):
            raise InputPathError(f"{self.where}: expected a name in the DDL, found {text!r}")
        return text

    def type_text(self) -> str:
        """A Hive type up to the next top-level ``,`` / ``)`` / COMMENT: ``decimal(10,2)``,
        ``struct<a:int,b:array<string>>``."""
        parts: list[str] = []
        depth = 0
        while True:
            kind, text = self.peek()
            if kind == "end":
                break
            if depth == 0 and (kind == "p" and text in ",)" or
                               kind == "w" and text.upper() == "COMMENT"):
                break
            self.i += 1
            if kind == "p" and text == "(":
                depth += 1
            elif kind == "p" and text == ")":
                depth -= 1
            elif kind == "w":
                depth += text.count("<") - text.count(">")
            parts.append(f"`{text}`" if kind == "id" else text)
        if not parts:
            raise InputPathError(f"{self.where}: a column of the DDL has no type")
        return "".join(parts)

    def columns(self) -> list[tuple[str, str]]:
        self.expect("p", "(")
        cols: list[tuple[str, str]] = []
        while True:
            name = self.name()
            cols.append((name, self.type_text().lower()))
            if self.word("COMMENT"):
                self.string()
            if self.peek() == ("p", ","):
                self.take()
                continue
            self.expect("p", ")")
            return cols

    def properties(self) -> dict[str, str]:
        self.expect("p", "(")
        props: dict[str, str] = {}
        while self.peek() != ("p", ")"):
            key = self.string()
            self.expect("p", "=")
            props[key] = self.string()
            if self.peek() == ("p", ","):
                self.take()
        self.take()
        return props


def parse_athena_ddl(text: str, where: str = DDL_FILE) -> TableDDL:
    """Read the statements :func:`lakeforge.catalog.athena_ddl.athena_ddl` writes."""
    r = _Reader(_tokens(text, where), where)
    ddl = TableDDL()
    if not r.word("CREATE", "EXTERNAL", "TABLE"):
        raise InputPathError(f"{where}: not a CREATE EXTERNAL TABLE statement")
    r.word("IF", "NOT", "EXISTS")
    while r.peek()[0] in ("id", "w"):  # `db`.`table`: two identifiers and the dot between
        r.take()
    ddl.columns = r.columns()
    while r.peek() != ("p", ";") and r.peek()[0] != "end":
        if r.word("PARTITIONED", "BY"):
            ddl.partition_keys = r.columns()
        elif r.word("LOCATION"):
            ddl.location = r.string()
        elif r.word("TBLPROPERTIES"):
            ddl.properties.update(r.properties())
        elif r.word("WITH", "SERDEPROPERTIES"):
            r.properties()
        else:
            r.take()  # ROW FORMAT SERDE '...', STORED AS INPUTFORMAT '...', OUTPUTFORMAT '...'
    keys = [k for k, _ in ddl.partition_keys]
    while r.peek()[0] != "end":
        if not r.word("PARTITION"):
            r.take()
            continue
        r.expect("p", "(")
        values: dict[str, str | None] = {}
        while r.peek() != ("p", ")"):
            key = r.name()
            r.expect("p", "=")
            kind, text = r.take()
            values[key] = None if kind == "w" and text.upper() == "NULL" else text
            if r.peek() == ("p", ","):
                r.take()
        r.take()
        if not r.word("LOCATION"):
            raise InputPathError(f"{where}: a PARTITION without a LOCATION")
        if set(values) != set(keys):
            raise InputPathError(f"{where}: a PARTITION names {sorted(values)}, the table's "
                                 f"keys are {keys}")
        ddl.partitions.append((tuple(values[k] for k in keys), r.string()))
    return ddl


# Hive (Glue) types -> DuckDB types, as Athena reads them.
_PRIMITIVES = {"string": "VARCHAR", "int": "INTEGER", "integer": "INTEGER", "bigint": "BIGINT",
               "smallint": "SMALLINT", "tinyint": "TINYINT", "double": "DOUBLE",
               "float": "FLOAT", "boolean": "BOOLEAN", "date": "DATE",
               "timestamp": "TIMESTAMP", "binary": "BLOB"}


def duck_type(hive: str) -> str:
    """The DuckDB type of a Hive type string (``array<struct<a:decimal(10,2)>>`` included)."""
    t = hive.strip().lower()
    if t in _PRIMITIVES:
        return _PRIMITIVES[t]
    m = re.fullmatch(r"(?:var)?char\(\d+\)", t)
    if m:
        return "VARCHAR"
    m = re.fullmatch(r"decimal\((\d+),(\d+)\)", t.replace(" ", ""))
    if m:
        return f"DECIMAL({m.group(1)},{m.group(2)})"
    if t == "decimal":
        return "DECIMAL(10,0)"  # Hive's default precision and scale
    inner = re.fullmatch(r"(array|map|struct)<(.*)>", t, re.S)
    if not inner:
        raise ConfigError(f"type {hive!r}: not a Hive type lakeforge query can read")
    kind, body = inner.groups()
    parts = [p for p in split_top_level(body) if p]
    if kind == "array" and len(parts) == 1:
        return f"{duck_type(parts[0])}[]"
    if kind == "map" and len(parts) == 2:
        return f"MAP({duck_type(parts[0])}, {duck_type(parts[1])})"
    if kind == "struct":
        fields = []
        for name, typ in struct_fields(t):
            if not typ:
                raise ConfigError(f"type {hive!r}: struct field {name!r} has no type")
            fields.append('"' + name.strip("` ").replace('"', '""') + '" ' + duck_type(typ))
        return f"STRUCT({', '.join(fields)})"
    raise ConfigError(f"type {hive!r}: not a Hive type lakeforge query can read")


def read_table_ddl(lake: Lake, database: str, table: str, zone: str = "curated") -> TableDDL:
    from lakeforge.io import read_text, uri_exists

    table_uri = lake.table_uri(zone, table, database)
    ddl_uri = f"{table_uri}/{DDL_FILE}"
    if not uri_exists(ddl_uri):
        for marker, fmt in (("_delta_log", "Delta"), ("metadata", "Iceberg")):
            if os.path.isdir(os.path.join(table_uri, marker)):
                raise InputPathError(
                    f"{database}.{table} is a {fmt} table: lakeforge query reads the Parquet "
                    "tables publish registers for Athena; use `lakeforge table history` or "
                    "Spark (--env local_jars) for Delta and Iceberg")
        raise InputPathError(f"{database}.{table} has not been published: no {ddl_uri}")
    return parse_athena_ddl(read_text(ddl_uri), ddl_uri)


def current_locations(lake: Lake, database: str, table: str, zone: str = "curated"
                      ) -> tuple[list[str], bool]:
    """The folders the table's current version reads, and whether they are partitions (with
    projection: the table location; the partitions are the folders its template names)."""
    ddl = read_table_ddl(lake, database, table, zone)
    if ddl.partition_keys and not ddl.projected:
        return [normalize_uri(loc) for _, loc in ddl.partitions], True
    if not ddl.location:
        raise InputPathError(f"{database}.{table}: its DDL names no LOCATION")
    return [normalize_uri(ddl.location)], bool(ddl.partition_keys)


def _data_files(folder: str) -> list[str]:
    """The Parquet files of a folder (no hidden or underscore names), sorted."""
    if not os.path.isdir(folder):
        return []
    return sorted(os.path.join(folder, n) for n in os.listdir(folder)
                  if not n.startswith((".", "_")) and os.path.isfile(os.path.join(folder, n)))


def _projected_partitions(ddl: TableDDL) -> list[tuple[tuple[str | None, ...], str]]:
    """The folders a projected table's location template names, with their values from the
    folder names (Athena computes them from the projection's ranges; here: what exists)."""
    keys = [k for k, _ in ddl.partition_keys]
    template = ddl.properties.get("storage.location.template") or (
        ddl.location.rstrip("/") + "/" + "/".join(f"{k}=${{{k}}}" for k in keys))
    template = normalize_uri(template)
    pattern = template
    for k in keys:
        pattern = pattern.replace(f"${{{k}}}", "*")
    regex = re.escape(template)
    for k in keys:
        regex = regex.replace(re.escape(f"${{{k}}}"), f"(?P<k{keys.index(k)}>[^/]+)")
    found = []
    for folder in sorted(glob.glob(glob.escape(pattern).replace(r"[*]", "*"))):
        m = re.fullmatch(regex, folder)
        if not (m and os.path.isdir(folder)):
            continue
        values = tuple(unescape_partition_value(m.group(f"k{i}")) for i in range(len(keys)))
        if all(_projected(ddl.properties, k, v) for k, v in zip(keys, values, strict=True)):
            found.append((values, folder))
    return found


def _projected(props: dict[str, str], key: str, value: str | None) -> bool:
    """Whether Athena's projection of ``key`` yields ``value`` (enum values and integer ranges
    are checked; a date projection's range is not: docs/query.md)."""
    kind = props.get(f"projection.{key}.type")
    if value is None:
        return False
    if kind == "enum":
        return value in props.get(f"projection.{key}.values", "").split(",")
    if kind == "integer":
        low, _, high = props.get(f"projection.{key}.range", "").partition(",")
        try:
            return int(low) <= int(value) <= int(high)
        except ValueError:
            return False
    return True


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def query_table(lake: Lake, database: str, table: str, sql: str = "SELECT * FROM t",
                zone: str = "curated") -> list[tuple[Any, ...]]:
    """Run ``sql`` in DuckDB over view ``t``: the table's current version, with the columns and
    types its DDL declares (a column missing from older files reads as NULL, as in Athena)."""
    import duckdb

    if lake.is_remote:
        raise InputPathError("lakeforge query reads local lakes only; on AWS use Athena")
    ddl = read_table_ddl(lake, database, table, zone)
    if ddl.partition_keys:
        parts = _projected_partitions(ddl) if ddl.projected else [
            (values, normalize_uri(loc)) for values, loc in ddl.partitions]
    else:
        parts = [((), normalize_uri(ddl.location))]
    files = [(values, f) for values, loc in parts for f in _data_files(loc)]
    con = duckdb.connect()
    data_cols = [(name, duck_type(t)) for name, t in ddl.columns]
    key_cols = [(name, duck_type(t)) for name, t in ddl.partition_keys]
    if not files:
        empty = ", ".join(f"CAST(NULL AS {t}) AS {_quote(n)}" for n, t in data_cols + key_cols)
        con.execute(f"CREATE VIEW t AS SELECT {empty} WHERE false")
        return con.sql(sql).fetchall()
    listing = ", ".join(_sql_string(f) for _, f in files)
    con.execute(f"CREATE VIEW raw AS SELECT * FROM read_parquet([{listing}], "
                "union_by_name=true, filename=true, hive_partitioning=false)")
    present = {r[0].lower(): r[0] for r in con.execute("DESCRIBE raw").fetchall()}
    selects = []
    for name, typ in data_cols:
        src = present.get(name.lower())
        selects.append(f"CAST({'r.' + _quote(src) if src else 'NULL'} AS {typ}) AS {_quote(name)}")
    if key_cols:
        rows = ", ".join(
            "(" + ", ".join([_sql_string(f)] + [
                "NULL" if v is None else _sql_string(v) for v in values]) + ")"
            for values, f in files)
        names = ", ".join(["f"] + [f"k{i}" for i in range(len(key_cols))])
        con.execute(f"CREATE VIEW parts AS SELECT * FROM (VALUES {rows}) AS v({names})")
        selects += [f"CAST(p.k{i} AS {typ}) AS {_quote(name)}"
                    for i, (name, typ) in enumerate(key_cols)]
        source = "raw r JOIN parts p ON r.filename = p.f"
    else:
        source = "raw r"
    con.execute(f"CREATE VIEW t AS SELECT {', '.join(selects)} FROM {source}")
    return con.sql(sql).fetchall()

