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
    for row in query_table(lake, database, table, args.sql, args.zone):
        print("\t".join("NULL" if v is None else str(v) for v in row))
    return 0
