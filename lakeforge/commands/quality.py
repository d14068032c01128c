"""``lakeforge quality run --suite S|--dqdl FILE --table T|--path P [--json FILE] [--html FILE]``.

Runs a declarative suite (conf/quality/S.yaml or a path) on a catalog table or a Parquet/CSV/JSON
path, prints Deequ's check results, optionally writes them as JSON and an HTML report, and stores
the metrics in a FileSystemMetricsRepository (``--repository``) so reports show trends. Exit code
0 when no Error-level check failed, 1 otherwise, 2 for bad arguments.

``--dqdl FILE`` runs a Glue Data Quality ruleset instead (``--reference NAME=TABLE`` for the
multi-dataset rules); ``--json`` then writes Glue's shape ``{"score", "rules": [{"Rule",
"Outcome", "FailureReason", "EvaluatedMetrics"}]}`` and the exit code is 1 when a rule did not
pass. ``quality export-dqdl`` / ``import-dqdl`` convert between suites and rulesets;
``quality deploy-dqdl`` creates or updates the ruleset in Glue Data Quality on a catalog table.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from lakeforge.commands import add_env_option
from lakeforge.errors import ConfigError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("quality", help="data quality: run a Deequ-compatible check suite")
    qsub = p.add_subparsers(dest="quality_command", metavar="ACTION")
    run = qsub.add_parser("run", help="run a suite on a table or a path")
    rules = run.add_mutually_exclusive_group(required=True)
    rules.add_argument("--suite", help="suite name in conf/quality or a YAML path")
    rules.add_argument("--dqdl", help="DQDL ruleset: a name in conf/quality (.dqdl), a path or "
                                      "s3:// URI")
    source = run.add_mutually_exclusive_group(required=True)
    source.add_argument("--table", help="catalog table (database.table)")
    source.add_argument("--path", help="data path (Parquet unless --format says otherwise)")
    run.add_argument("--format", default="parquet", choices=["parquet", "csv", "json", "orc"])
    add_env_option(run)
    run.add_argument("--json", dest="json_out", help="write check results and metrics as JSON")
    run.add_argument("--html", dest="html_out", help="write an HTML report")
    run.add_argument("--repository", help="metrics repository JSON file (enables trends)")
    run.add_argument("--engine", default="native",
                     choices=["native", "deequ", "great_expectations"],
                     help="native (default); deequ needs the Deequ jar on the classpath and "
                          "pydeequ; great_expectations needs great-expectations 1.x and runs "
                          "the translatable constraints only (no repository)")
    run.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE",
                     help="result key tag for the repository (repeatable)")
    run.add_argument("--reference", action="append", default=[], metavar="NAME=TABLE",
                     help="--dqdl: a dataset the multi-dataset rules name (a catalog table, or "
                          "a Parquet path when it contains '/'; repeatable)")
    run.set_defaults(func=_run)

    export = qsub.add_parser("export-dqdl", help="write a YAML suite as a DQDL ruleset")
    export.add_argument("--suite", required=True, help="suite name in conf/quality or a path")
    export.add_argument("--out", help="write the ruleset here (default: print it)")
    export.set_defaults(func=_export)
    imp = qsub.add_parser("import-dqdl", help="write a DQDL ruleset as a YAML suite")
    imp.add_argument("--dqdl", required=True, help="DQDL ruleset name, path or s3:// URI")
    imp.add_argument("--name", help="suite name (default: the file name)")
    imp.add_argument("--out", help="write the suite YAML here (default: print it)")
    imp.set_defaults(func=_import)
    deploy = qsub.add_parser("deploy-dqdl",
                             help="create or update a Glue Data Quality ruleset on a table")
    deploy.add_argument("--dqdl", required=True, help="DQDL ruleset name, path or s3:// URI")
    deploy.add_argument("--table", required=True, help="catalog table (database.table)")
    deploy.add_argument("--name", help="ruleset name in Glue (default: <table>-<file name>)")
    deploy.add_argument("--description", default="")
    deploy.add_argument("--region", help="AWS region (default: the boto3 default)")
    deploy.add_argument("--endpoint-url", help="AWS endpoint (tests, local stacks)")
    deploy.set_defaults(func=_deploy)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _check_table(table: str | None) -> None:
    """``--table`` names database.table (checked before Spark starts)."""
    if table is not None:
        database, sep, name = table.partition(".")
        if not sep or not database or not name or "." in name:
            raise ConfigError(f"--table {table!r} must be database.table")


def _tags(values: list[str]) -> dict[str, str]:
    tags = {}
    for item in values:
        if "=" not in item:
            raise ConfigError(f"--tag {item!r} must be KEY=VALUE")
        key, _, value = item.partition("=")
        tags[key] = value
    return tags


def _read_frame(spark: SparkSession, args: argparse.Namespace) -> DataFrame:
    """The ``--table`` or the files at ``--path`` (a missing path is one line, before Spark
    reads); CSV with its header and inferred types (the suites compare numbers)."""
    from lakeforge.io import read_source

    if args.table:
        if not spark.catalog.tableExists(args.table):
            raise ConfigError(f"--table {args.table}: no such table in the catalog of env "
                              f"{args.env}")
        return read_source(spark, table=args.table)
    return read_source(spark, path=args.path, file_format=args.format,
                       infer_schema=True)


def _show_conversion(converted: tuple[str, list[tuple[str, str]]], out: str | None) -> int:
    text, skipped = converted
    if not out:
        print(text, end="")
    for entry, reason in skipped:
        print(f"[skipped] {entry}: {reason}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from lakeforge.dqdl import export_suite

    return _show_conversion(export_suite(args.suite, args.out), args.out)


def _import(args: argparse.Namespace) -> int:
    from lakeforge.dqdl import import_ruleset

    return _show_conversion(import_ruleset(args.dqdl, args.name, args.out), args.out)


def _deploy(args: argparse.Namespace) -> int:
    from lakeforge import io
    from lakeforge.aws import client
    from lakeforge.deploy.data_quality import deploy_ruleset
    from lakeforge.dqdl import load_ruleset, ruleset_location

    database, sep, table = args.table.partition(".")
    if not sep or not database or not table:
        raise ConfigError(f"--table {args.table!r} must be database.table")
    name, _ = load_ruleset(args.dqdl)  # parse and check before any AWS call
    text = io.read_text(ruleset_location(args.dqdl))
    glue = client("glue", region=args.region, endpoint_url=args.endpoint_url)
    ruleset_name = args.name or f"{table}-{name}"
    action = deploy_ruleset(glue, ruleset_name, text, database=database, table=table,
                            description=args.description)
    print(f"{action} Glue Data Quality ruleset {ruleset_name} on {database}.{table}")
    return 0


def _run_dqdl(args: argparse.Namespace) -> int:
    from lakeforge.config import load_env
    from lakeforge.dqdl import (
        load_ruleset,
        needed_references,
        parse_references,
        read_references,
    )
    from lakeforge.io import require_input_path
    from lakeforge.quality_gate import metrics_repository
    from lakeforge.session import build_session
    from quality.dqdl import evaluate_ruleset
    from quality.repository import ResultKey

    for option in ("html_out",):
        if getattr(args, option):
            raise ConfigError("--html is for --suite runs; a --dqdl run writes --json")
    if args.engine != "native":
        raise ConfigError(f"--dqdl runs on the native engine (got --engine {args.engine})")
    name, ruleset = load_ruleset(args.dqdl)
    references = parse_references(args.reference)
    missing = sorted(needed_references(ruleset) - set(references))
    if missing:  # before Spark starts
        raise ConfigError(f"{args.dqdl} uses reference dataset(s) {missing}; pass "
                          + " ".join(f"--reference {m}=TABLE" for m in missing))
    tags = _tags(args.tag)
    _check_table(args.table)
    env = load_env(args.env)
    if args.path:
        require_input_path(args.path, "--path")
    spark = build_session(env, f"lakeforge-dqdl-{name}")
    try:
        df = _read_frame(spark, args)
        frames = read_references(spark, references, ruleset)
        repository = key = None
        if args.repository:
            repository = metrics_repository(spark, args.repository)
            key = ResultKey(ResultKey.current_milli_time(), {"ruleset": name, **tags})
        result = evaluate_ruleset(spark, df, ruleset, references=frames,
                                  repository=repository, result_key=key)
        for r in result.rules:
            reason = f": {r.failure_reason}" if r.failure_reason else ""
            print(f"[{r.outcome}] {r.text}{reason}")
        print(f"score: {result.score:.4f}")
        if args.json_out:
            Path(args.json_out).write_text(json.dumps(result.as_json(), indent=2),
                                           encoding="utf-8")
        return 0 if result.passed else 1
    finally:
        if env.kind in ("local", "standalone"):
            spark.stop()


def _run(args: argparse.Namespace) -> int:
    if args.dqdl:
        return _run_dqdl(args)
    if args.reference:
        raise ConfigError("--reference is for --dqdl runs")
    from lakeforge.config import load_env
    from lakeforge.io import require_input_path
    from lakeforge.quality_gate import load_suite, metrics_repository, write_html_report
    from lakeforge.session import build_session
    from quality.repository import ResultKey
    from quality.verification import VerificationResult, VerificationSuite

    name, checks = load_suite(args.suite)
    if args.engine != "native" and args.repository:
        raise ConfigError(f"--repository needs --engine native (got --engine {args.engine})")
    tags = _tags(args.tag)
    _check_table(args.table)
    env = load_env(args.env)
    if args.path:
        require_input_path(args.path, "--path")
    spark = build_session(env, f"lakeforge-quality-{name}")
    try:
        df = _read_frame(spark, args)
        suite = VerificationSuite(spark, engine=args.engine).onData(df).addChecks(checks)
        repository = None
        if args.repository:
            repository = metrics_repository(spark, args.repository)
            suite = suite.useRepository(repository).saveOrAppendResult(
                ResultKey(ResultKey.current_milli_time(), {"suite": name, **tags}))
        result = suite.run()
        rows = VerificationResult.checkResultsAsJson(spark, result)
        for r in rows:
            message = f": {r['constraint_message']}" if r["constraint_message"] else ""
            print(f"[{r['constraint_status']}] {r['check']} ({r['check_level']}) "
                  f"{r['constraint']}{message}")
        print(f"status: {result.status.value}")
        if args.json_out:
            payload = {"suite": name, "engine": args.engine, "status": result.status.value,
                       "checks": rows,
                       "metrics": VerificationResult.successMetricsAsJson(spark, result)}
            Path(args.json_out).write_text(json.dumps(payload, indent=2), encoding="utf-8")
        if args.html_out:
            history = (repository.load().withTagValues({"suite": name}).getSuccessMetricsAsJson()
                       if repository is not None else None)
            write_html_report(result, args.html_out, f"Quality: {name}", history)
        return 1 if result.status.value == "Error" else 0
    finally:
        if env.kind in ("local", "standalone"):
            spark.stop()
