"""``lakeforge match INPUT --primary-key KEY --output PATH``: FindMatches-style deduplication.

INPUT is a catalog table (``database.table``) or a path (Parquet, CSV with header, JSON lines).
Writes the matched table (every input row plus ``match_id`` and ``match_confidence_score``) as
Parquet and an HTML report; ``--save-model`` keeps the trained model for ``--model`` next time.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING

from lakeforge.commands import add_env_option
from lakeforge.errors import ConfigError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

_FLAGS = {"columns": "--columns", "precision_recall_tradeoff": "--tradeoff",
          "max_em_iterations": "--max-em-iterations"}
_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "match",
        help="find records of the same entity (FindMatches-like, on Splink) and write match_id",
        description="Deduplicate a catalog table or a folder of files: every row gets a "
        "match_id (same value for one entity) and a match_confidence_score. Columns, "
        "comparisons and blocking rules are configured automatically unless given.",
    )
    p.add_argument("input", help="database.table in the catalog, or a path (folder or file)")
    p.add_argument("--primary-key", required=True, help="column that identifies each row")
    p.add_argument("--output", required=True,
                   help="output folder (relative paths go to the lake's curated zone)")
    p.add_argument("--format", choices=["parquet", "csv", "json"], default=None,
                   help="input file format for paths (default: from the extension, else parquet)")
    p.add_argument("--columns", default=None,
                   help="comma-separated columns to compare (default: all but the key)")
    p.add_argument("--tradeoff", type=float, default=None,
                   help="precision_recall_tradeoff, 0..1 (1 favours precision; default: "
                   "MatchSettings')")
    p.add_argument("--labels", default=None,
                   help="labels in FindMatches format (labeling_set_id, label, key), CSV/Parquet")
    p.add_argument("--enforce-labels", action="store_true",
                   help="labeled pairs are forced to match or not")
    p.add_argument("--model", default=None, help="a saved model JSON: skip training")
    p.add_argument("--save-model", default=None, help="write the trained model JSON here")
    p.add_argument("--report", default=None,
                   help="HTML report path (default: next to the output, <output>_report.html)")
    p.add_argument("--truth-column", default=None,
                   help="a column with the true entity: adds precision/recall/F1 to the report "
                   "(never compared: left out of the default columns, refused in --columns)")
    p.add_argument("--max-em-iterations", type=int, default=None,
                   help="EM iterations when training (default: MatchSettings')")
    p.add_argument("--no-scores", action="store_true", help="skip match_confidence_score")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    add_env_option(p)
    p.set_defaults(func=_match)


def _is_table(source: str) -> bool:
    """``database.table`` when no such path exists."""
    return bool(_TABLE.match(source)) and not Path(source).exists()


def _read(spark: SparkSession, source: str, fmt: str | None, flag: str = "INPUT"
          ) -> DataFrame:
    """``database.table`` (when no such path exists) or the files at a path (checked before
    Spark starts: :func:`_match`)."""
    from lakeforge.io import read_source

    if _is_table(source):
        if not spark.catalog.tableExists(source):  # was pyspark's AnalysisException traceback
            raise ConfigError(f"{flag} {source}: no such table in the catalog, and no such path")
        return read_source(spark, table=source)
    return read_source(spark, path=source, file_format=fmt)


def compared_columns(available: list[str], primary_key: str, columns: list[str] | None,
                     truth_column: str | None) -> list[str] | None:
    """The columns to compare: ``columns`` as given, or (with a truth column) every column but
    the key and the truth, which must never be a matching feature (it would inflate
    precision/recall and make match ids depend on the truth). None: all but the key."""
    if truth_column is None:
        return columns
    if columns is not None:
        if truth_column in columns:
            raise ConfigError(f"--columns: {truth_column!r} is the --truth-column; the ground "
                              "truth cannot be compared")
        return columns
    if truth_column not in available:
        raise ConfigError(f"--truth-column {truth_column!r} is not a column of the input "
                          f"(columns: {', '.join(available)})")
    from transforms.dedup import MATCH_CONFIDENCE_SCORE, MATCH_ID

    rest = [c for c in available
            if c not in (primary_key, truth_column, MATCH_ID, MATCH_CONFIDENCE_SCORE)]
    if not rest:
        raise ConfigError(f"--truth-column {truth_column!r}: no column is left to compare "
                          f"besides the key {primary_key!r}")
    return rest


def _match(args: argparse.Namespace) -> int:
    from lakeforge.config import load_env
    from lakeforge.io import require_input_path
    from lakeforge.model_store import load_match_model, save_match_model
    from lakeforge.paths import Lake, is_remote
    from lakeforge.session import build_session
    from transforms.dedup import (
        MatchSettings,
        MatchSettingsError,
        evaluate_matches,
        find_matches_detailed,
        render_report,
        splink_jar_path,
        train_match_model,
    )

    columns = [c.strip() for c in args.columns.split(",") if c.strip()] if args.columns else None
    if args.truth_column and columns is not None:  # refused before Spark starts
        compared_columns([], args.primary_key, columns, args.truth_column)
    given = {"columns": columns, "precision_recall_tradeoff": args.tradeoff,
             "max_em_iterations": args.max_em_iterations,
             "compute_match_confidence_scores": False if args.no_scores else None,
             "enforce_provided_labels": True if args.enforce_labels else None}
    try:  # before Spark starts
        settings = MatchSettings.from_dict({k: v for k, v in given.items() if v is not None},
                                           "lakeforge match")
    except MatchSettingsError as exc:
        flag = _FLAGS.get(exc.field or "", "lakeforge match")
        raise ConfigError(f"{flag}: {str(exc).removeprefix('lakeforge match: ')}") from None
    env = load_env(args.env)
    lake = Lake.from_env(env)
    output = lake.require_inside(lake.resolve("curated", args.output), "--output")
    report = args.report or f"{output.rstrip('/')}_report.html"
    if is_remote(report):
        raise ConfigError(f"--report {report}: the HTML report is written to a local file")
    if not args.overwrite and not is_remote(output) and Path(output).exists():
        raise ConfigError(f"--output {output} exists; pass --overwrite to replace it")
    for flag, source in (("INPUT", args.input), ("--labels", args.labels)):
        if source and not _is_table(source):  # a path: it exists and has files, before Spark
            require_input_path(source, flag)

    spark = build_session(env, "lakeforge-match", extra_jars=[splink_jar_path()])
    try:
        df = _read(spark, args.input, args.format)
        labels = _read(spark, args.labels, None, "--labels") if args.labels else None
        started = time.perf_counter()
        model = load_match_model(args.model) if args.model else None
        if args.truth_column and model is not None:
            if args.truth_column in {c.source for c in model.columns}:
                raise ConfigError(f"--model {args.model} compares the --truth-column "
                                  f"{args.truth_column!r}; the ground truth cannot be compared")
        elif args.truth_column and columns is None:
            auto = compared_columns(df.columns, args.primary_key, None, args.truth_column)
            settings = dataclasses.replace(settings, columns=tuple(auto or ()))
        if model is None and args.save_model:
            model = train_match_model(df, primary_key=args.primary_key, settings=settings,
                                      labels=labels)
            save_match_model(model, args.save_model, overwrite=args.overwrite)
            settings = dataclasses.replace(settings, columns=None)  # the model's columns
        run = find_matches_detailed(df, primary_key=args.primary_key, settings=settings,
                                    labels=labels, model=model)
        if model is not None and args.model is None:
            # trained above: report the full training + matching time
            run = dataclasses.replace(
                run, seconds={**run.seconds, "total": time.perf_counter() - started}
            )
        run.result.write.mode("overwrite").parquet(output)
        evaluation = evaluate_matches(run.result, args.truth_column) if args.truth_column else None
        page = render_report(run, title=f"lakeforge match: {args.input}",
                             primary_key=args.primary_key, evaluation=evaluation)
        Path(report).parent.mkdir(parents=True, exist_ok=True)
        Path(report).write_text(page, encoding="utf-8")
        print(f"matched {run.rows} records into {run.clusters} entities "
              f"({run.candidate_pairs} candidate pairs) -> {output}")
        print(f"report: {report}")
        if args.save_model and args.model is None:
            print(f"model: {args.save_model}")
        if evaluation is not None:
            print(f"pairwise F1 {evaluation.pairwise_f1:.4f}, "
                  f"cluster F1 {evaluation.cluster_f1:.4f}")
    finally:
        spark.stop()
    return 0
