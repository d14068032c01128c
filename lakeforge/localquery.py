"""Query published tables with DuckDB, the local stand-in for Athena.

It reads exactly what Athena would: the partition (or table) locations recorded in the Athena
DDL that publish writes next to the data (``<table>/_athena_ddl.sql``), never superseded
versions still waiting for their retention to pass.

Example::

    rows = query_table(lake, "lakeforge", "contacts_enriched",
                       "SELECT dt, count(*) FROM t GROUP BY dt ORDER BY dt")
"""

from __future__ import annotations

import re
from typing import Any

from lakeforge.catalog.athena_ddl import DDL_FILE
from lakeforge.errors import InputPathError
from lakeforge.paths import Lake, is_remote

_PARTITION = re.compile(r"PARTITION \((?P<spec>[^)]*)\) LOCATION '(?P<loc>(?:[^']|'')*)'")
_TABLE_LOCATION = re.compile(r"^LOCATION '(?P<loc>(?:[^']|'')*)'", re.MULTILINE)


def current_locations(lake: Lake, database: str, table: str, zone: str = "curated"
                      ) -> tuple[list[str], bool]:
    """The folders the table's current version reads, and whether they are partitions."""
    from lakeforge.io import read_text, uri_exists

    ddl_uri = f"{lake.table_uri(zone, table, database)}/{DDL_FILE}"
    if not uri_exists(ddl_uri):
        raise InputPathError(f"{database}.{table} has not been published: no {ddl_uri}")
    ddl = read_text(ddl_uri)
    parts = [m.group("loc").replace("''", "'") for m in _PARTITION.finditer(ddl)]
    if parts:
        return parts, True
    if "PARTITIONED BY" in ddl:
        return [], True
    m = _TABLE_LOCATION.search(ddl)
    if not m:
        raise InputPathError(f"{ddl_uri} names no LOCATION")
    return [m.group("loc").replace("''", "'")], False


_DUCK_TYPES = {"string": "VARCHAR", "int": "INTEGER", "bigint": "BIGINT", "double": "DOUBLE",
               "date": "DATE", "timestamp": "TIMESTAMP", "boolean": "BOOLEAN",
               "smallint": "SMALLINT", "tinyint": "TINYINT", "float": "FLOAT"}


def partition_key_types(lake: Lake, database: str, table: str, zone: str = "curated"
                        ) -> dict[str, str]:
    """Partition key -> Hive type, from the table's Athena DDL."""
    from lakeforge.io import read_text

    ddl = read_text(f"{lake.table_uri(zone, table, database)}/{DDL_FILE}")
    m = re.search(r"PARTITIONED BY \((?P<keys>[^)]*)\)", ddl)
    if not m:
        return {}
    out = {}
    for part in m.group("keys").split(","):
        name, _, typ = part.strip().partition(" ")
        out[name.strip("`")] = typ.strip().lower()
    return out


def query_table(lake: Lake, database: str, table: str, sql: str = "SELECT * FROM t",
                zone: str = "curated") -> list[tuple[Any, ...]]:
    """Run ``sql`` in DuckDB over view ``t`` = the table's current Parquet files."""
    import duckdb

    if lake.is_remote or any(is_remote(x) for x in [lake.root]):
        raise InputPathError("query_table reads local lakes only; on AWS use Athena")
    locations, partitioned = current_locations(lake, database, table, zone)
    con = duckdb.connect()
    if not locations:
        return []
    globs = ", ".join("'" + f"{loc}/*.parquet".replace("'", "''") + "'" for loc in locations)
    options = "hive_partitioning=false"
    if partitioned:
        # Partition columns get the catalog's declared types, as in Athena (not DuckDB's guess).
        keys = partition_key_types(lake, database, table, zone)
        types = ", ".join(f"'{k}': '{_DUCK_TYPES.get(t, t.upper())}'" for k, t in keys.items())
        options = f"hive_partitioning=true, hive_types={{{types}}}" if keys else (
            "hive_partitioning=true")
    con.execute(f"CREATE VIEW t AS SELECT * FROM read_parquet([{globs}], {options})")
    return con.sql(sql).fetchall()
