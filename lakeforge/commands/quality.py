"""``lakeforge quality run --suite S --table T|--path P [--json FILE] [--html FILE]``.

Runs a declarative suite (conf/quality/S.yaml or a path) on a catalog table or a Parquet/CSV/JSON
path, prints Deequ's check results, optionally writes them as JSON and an HTML report, and stores
the metrics in a FileSystemMetricsRepository (``--repository``) so reports show trends. Exit code
0 when no Error-level check failed, 1 otherwise, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from lakeforge.errors import ConfigError

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("quality", help="data quality: run a Deequ-compatible check suite")
    qsub = p.add_subparsers(dest="quality_command", metavar="ACTION")
    run = qsub.add_parser("run", help="run a suite on a table or a path")
    run.add_argument("--suite", required=True, help="suite name in conf/quality or a YAML path")
    source = run.add_mutually_exclusive_group(required=True)
    source.add_argument("--table", help="catalog table (database.table)")
    source.add_argument("--path", help="data path (Parquet unless --format says otherwise)")
    run.add_argument("--format", default="parquet", choices=["parquet", "csv", "json", "orc"])
    run.add_argument("--env", default="local", help="environment in conf/envs (default local)")
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
    run.set_defaults(func=_run)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _tags(values: list[str]) -> dict[str, str]:
    tags = {}
    for item in values:
        if "=" not in item:
            raise ConfigError(f"--tag {item!r} must be KEY=VALUE")
        key, _, value = item.partition("=")
        tags[key] = value
    return tags


def _run(args: argparse.Namespace) -> int:
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
    env = load_env(args.env)
    if args.path:
        require_input_path(args.path, "--path")
    spark = build_session(env, f"lakeforge-quality-{name}")
    try:
        if args.table:
            df = spark.table(args.table)
        else:
            reader = spark.read.format(args.format)
            if args.format == "csv":
                reader = reader.option("header", "true").option("inferSchema", "true")
            df = reader.load(args.path)
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
