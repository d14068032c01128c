"""``lakeforge crawl PATH... --database DB``: discover tables and partitions and register them.

The catalog is the env's (``catalog.backend``) unless ``--catalog spark|glue`` says otherwise.
Progress (objects listed, objects read, folders classified) goes to stderr only when stderr is
a terminal; the summary goes to stdout and the full report to ``--report-json FILE`` (``-`` for
stdout; also written when the crawl fails on ``--table-threshold``, with the reason in
``error``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from lakeforge.commands import add_env_option

_RECRAWL = {"everything": "CRAWL_EVERYTHING", "new-folders-only": "CRAWL_NEW_FOLDERS_ONLY"}
_SCHEMA = {"update": "UPDATE_IN_DATABASE", "log": "LOG"}
_DELETE = {"log": "LOG", "delete": "DELETE_FROM_DATABASE", "deprecate": "DEPRECATE_IN_DATABASE"}
_GROUPING = {"similar-schemas": None, "combine-compatible-schemas": "CombineCompatibleSchemas"}


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number greater than 0")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "crawl",
        help="discover tables and partitions (Glue crawler semantics) and register them",
        description="Crawl local folders or s3:// URIs, infer schemas (Parquet footers, CSV/JSON "
        "samples), group folders into tables and partitions as AWS Glue does, and register "
        "them in the catalog.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="include paths (folders or s3://)")
    p.add_argument("--database", required=True, help="catalog database to register tables in")
    p.add_argument("--catalog", choices=["spark", "glue"],
                   help="catalog backend (default: the env's catalog.backend)")
    add_env_option(p)
    p.add_argument("--table-prefix", default="", help="prefix for every table name")
    p.add_argument("--recrawl", choices=sorted(_RECRAWL), default="everything",
                   help="new-folders-only reads only folders not yet registered")
    p.add_argument("--schema-change", choices=sorted(_SCHEMA), default=None,
                   help="update the catalog schema, or only log differences (default: update; "
                   "log with --recrawl new-folders-only, the only policy Glue allows there)")
    p.add_argument("--delete-behavior", choices=sorted(_DELETE), default=None,
                   help="what to do with registered partitions/tables whose data is gone "
                   "(default: log)")
    p.add_argument("--add-new-columns-only", action="store_true",
                   help="on a schema update, add new columns but keep missing ones and their "
                   "types (Glue's MergeNewColumns)")
    p.add_argument("--partitions-inherit-from-table", action="store_true",
                   help="after a full crawl updates a table, give its registered partitions the "
                   "table's columns and format (Glue's 'Update all new and existing partitions "
                   "with metadata from the table', InheritFromTable)")
    p.add_argument("--table-level", type=int, default=None,
                   help="make tables at this folder depth (1 = the include path itself)")
    p.add_argument("--grouping-policy", choices=list(_GROUPING), default="similar-schemas",
                   help="combine-compatible-schemas makes compatible folders (same format, "
                   "compression, depth) one table whatever their columns (Glue's "
                   "CombineCompatibleSchemas); default: folders are partitions when more than "
                   "70%% of them have similar schemas")
    p.add_argument("--table-threshold", type=_positive_int, default=None, metavar="N",
                   help="fail, writing nothing, when the crawl detects more than N tables "
                   "(Glue's TableThreshold)")
    p.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                   help="skip objects whose path below the include path matches (repeatable)")
    p.add_argument("--csv-header", choices=["detect", "present", "absent"], default="detect")
    p.add_argument("--partition-projection", action="store_true",
                   help="add Athena partition projection properties from the found values")
    p.add_argument("--endpoint-url", default=None, help="S3/Glue endpoint (moto, LocalStack)")
    p.add_argument("--region", default=None, help="AWS region")
    p.add_argument("--report-json", default=None, metavar="FILE",
                   help="write the crawl report as JSON (- for stdout)")
    p.set_defaults(func=_crawl)


class _Progress:
    """One rewritten status line on a terminal."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.used = False

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        of = f"/{total}" if total is not None else ""
        self.stream.write(f"\r{stage}: {done}{of}   ")
        self.stream.flush()
        self.used = True

    def close(self) -> None:
        if self.used:
            self.stream.write("\n")
            self.stream.flush()


def _crawl(args: argparse.Namespace) -> int:
    from lakeforge.catalog import get_catalog
    from lakeforge.config import load_env
    from lakeforge.crawler import TableThresholdExceeded, crawl

    env = load_env(args.env)
    backend = {"spark": "spark_sql", "glue": "glue_api"}.get(args.catalog or "",
                                                             env.catalog.backend)
    spark = None
    if backend == "spark_sql":
        from lakeforge.session import build_session

        spark = build_session(env, "lakeforge-crawl")
    region = args.region or env.catalog.region or env.aws.region
    endpoint = args.endpoint_url or env.catalog.endpoint_url or env.aws.endpoint_url
    progress = _Progress(sys.stderr) if sys.stderr.isatty() else None
    try:
        catalog = get_catalog(backend, spark, region=region, endpoint_url=endpoint)
        report = crawl(
            args.paths, database=args.database, catalog=catalog, table_prefix=args.table_prefix,
            recrawl_policy=_RECRAWL[args.recrawl],  # type: ignore[arg-type]
            schema_change_policy=_SCHEMA.get(args.schema_change),  # type: ignore[arg-type]
            delete_behavior=_DELETE.get(args.delete_behavior),  # type: ignore[arg-type]
            add_new_columns_only=args.add_new_columns_only,
            partitions_inherit_from_table=args.partitions_inherit_from_table,
            table_level=args.table_level, exclude=args.exclude, csv_header=args.csv_header,
            table_grouping_policy=_GROUPING[args.grouping_policy],  # type: ignore[arg-type]
            table_threshold=args.table_threshold,
            partition_projection=args.partition_projection, endpoint_url=endpoint,
            region=region, progress=progress,
        )
    except TableThresholdExceeded as exc:
        _write_report(args.report_json, exc.report.to_json())
        raise
    finally:
        if progress is not None:
            progress.close()
        if spark is not None:
            spark.stop()
    if args.report_json == "-":
        print(report.to_json())
    else:
        for t in report.tables:
            keys = ", ".join(t.partition_keys) or "-"
            print(f"{args.database}.{t.name}: {t.format}, {len(t.columns)} columns, "
                  f"partitions by [{keys}]: {t.partitions_added} added, "
                  f"{t.partitions_already_present} already present"
                  + (f", {t.partitions_updated} updated to the table's schema"
                     if t.partitions_updated else "") + f" ({t.location})")
        for s in report.skipped:
            print(f"skipped {s.path}: {s.reason}")
        print(f"{len(report.tables)} table(s), {len(report.skipped)} skipped, "
              f"{report.objects_listed} objects listed in {report.seconds:.2f}s")
        _write_report(args.report_json, report.to_json())
    return 0


def _write_report(target: str | None, text: str) -> None:
    if target == "-":
        print(text)
    elif target:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        Path(target).write_text(text + "\n", encoding="utf-8")
