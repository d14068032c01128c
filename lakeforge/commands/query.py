"""``lakeforge query DB.TABLE "SQL"``: query a published table locally with DuckDB (view t)."""

from __future__ import annotations

import argparse

from lakeforge.commands import add_env_option
from lakeforge.config import load_env
from lakeforge.errors import ConfigError
from lakeforge.localquery import query_table
from lakeforge.paths import Lake


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("query", help="query a published table with DuckDB (the local Athena)",
                       description="Runs SQL in DuckDB over view t = the table's current version, "
                       "with the columns, types and partitions its Athena DDL declares "
                       "(docs/query.md: the differences from Athena).")
    p.add_argument("table", help="database.table, e.g. lakeforge.contacts_enriched")
    p.add_argument("sql", nargs="?", default="SELECT * FROM t LIMIT 20")
    add_env_option(p)
    p.add_argument("--zone", default="curated")
    p.set_defaults(func=_query)


def _query(args: argparse.Namespace) -> int:
    if args.table.count(".") != 1:
        raise ConfigError(f"table {args.table!r}: use database.table")
    database, table = args.table.split(".")
    lake = Lake.from_env(load_env(args.env))
    import duckdb

    try:
        rows = query_table(lake, database, table, args.sql, args.zone)
    except duckdb.Error as exc:  # the user's SQL: a parser, binder or catalog error
        raise ConfigError(f"SQL on {args.table} (view t): {_duckdb_message(exc)}") from None
    for row in rows:
        print("\t".join("NULL" if v is None else str(v) for v in row))
    return 0


def _duckdb_message(exc: Exception) -> str:
    """DuckDB's message without the ``LINE n:`` excerpt and its caret line."""
    lines = str(exc).splitlines()
    kept = []
    for i, line in enumerate(lines):
        if line.startswith("LINE ") or (i > 0 and lines[i - 1].startswith("LINE ")):
            continue
        kept.append(line)
    return " ".join(line.strip() for line in kept if line.strip())
