"""``lakeforge table rollback DB.TABLE --to-version N`` and ``lakeforge table history DB.TABLE``:
the versions of a Delta or Iceberg output (lakeforge.formats) and the way back to one.

Delta: ``--to-version`` is a Delta version (``RESTORE``, itself a new version). Iceberg: a
snapshot id (``rollback_to_snapshot``). The format is found from the table's folder (a
``_delta_log`` means Delta) unless ``--format`` names it. The env must take the format's jar
set: the default, ``--env local_jars``, takes delta and iceberg on both Spark lines.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from lakeforge.commands import add_env_option
from lakeforge.config import load_env
from lakeforge.errors import ConfigError
from lakeforge.paths import Lake

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from lakeforge.config import EnvConfig
    from lakeforge.formats import Target


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("table", help="Delta / Iceberg table versions: history, rollback",
                       description=__doc__)
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    for name, text in (("history", "list the table's versions (newest first)"),
                       ("rollback", "make an earlier version current again")):
        a = actions.add_parser(name, help=text, description=text)
        a.add_argument("table", help="database.table, e.g. lakeforge.customers_golden")
        add_env_option(a, "local_jars")
        a.add_argument("--format", choices=["delta", "iceberg"],
                       help="the table's format (default: found from its folder)")
        if name == "rollback":
            a.add_argument("--to-version", "--to_version", dest="to_version", type=int,
                           required=True, help="Delta version / Iceberg snapshot id")
        a.set_defaults(func=_main)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _main(args: argparse.Namespace) -> int:
    from pyspark.errors import AnalysisException, IllegalArgumentException

    from lakeforge.formats import Target
    from lakeforge.io import uri_exists
    from lakeforge.session import build_session

    if args.table.count(".") != 1:
        raise ConfigError(f"table {args.table!r}: use database.table")
    database, table = args.table.split(".")
    env = load_env(args.env)
    lake = Lake.from_env(env)
    location = lake.table_uri("curated", table, database)
    fmt = args.format or _detect_format(args.table, location, uri_exists)
    spark = build_session(env, "lakeforge-table", lake=lake)
    try:
        return _run(args, spark, env, fmt, Target(database, table, location))
    except (AnalysisException, IllegalArgumentException) as exc:  # a wrong table or version
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConfigError(f"lakeforge table {args.action} {args.table} ({fmt} at {location}): "
                          f"{first}") from exc


def _detect_format(name: str, location: str, exists: Callable[[str], bool]) -> str:
    """delta when the table's folder has a ``_delta_log``, iceberg when it has ``metadata/``;
    neither is refused here, before Spark starts."""
    if exists(f"{location}/_delta_log"):
        return "delta"
    if exists(f"{location}/metadata"):
        return "iceberg"
    raise ConfigError(
        f"table {name}: no Delta log or Iceberg metadata at {location} (no such table, or a "
        "Parquet output, whose versions are folders under _versions/); name the format with "
        "--format when the table lives elsewhere")


def _run(args: argparse.Namespace, spark: SparkSession, env: EnvConfig, fmt: str,
         target: Target) -> int:
    from lakeforge.catalog.factory import get_catalog
    from lakeforge.formats import require_format

    require_format(spark, fmt, f"lakeforge table {args.action} {args.table}")
    catalog = get_catalog(env, spark)
    if fmt == "delta":
        from lakeforge.formats import delta

        if args.action == "rollback":
            new = delta.rollback(spark, catalog, target, args.to_version)
            print(json.dumps({"table": args.table, "format": fmt,
                              "restored": args.to_version, "version": new}))
            return 0
        history = delta.history(spark, target.location)
    else:
        from lakeforge.formats import iceberg

        if args.action == "rollback":
            current = iceberg.rollback(spark, catalog, target, args.to_version)
            print(json.dumps({"table": args.table, "format": fmt, "snapshot": current}))
            return 0
        history = list(reversed(iceberg.snapshots(spark, target)))
    for entry in history:
        print(json.dumps(entry, default=str))
    return 0
