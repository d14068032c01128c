"""The main job: bank-marketing propensity, raw zone to Athena tables and SageMaker splits.

crawl raw -> bookmark: which contact partitions have new files (a partition with a new file is
reprocessed whole; new customer files reprocess every partition) -> read the raw files line by
line (each row keeps its source file and line number) -> bad input to quarantine (malformed
lines, wrong types, missing keys, invalid UTF-8, empty and unreadable files, unknown customers)
and schema drift checked (added columns merge; a type change fails the run before anything is
written) -> ApplyMapping / DropNullFields -> FindMatches on customers (golden customer id) ->
joins with customers and monthly indicators -> quality gate (failing rows to quarantine; an
Error-level failure stops the publish) -> ledger check -> publish curated tables atomically ->
features fitted on the train split over the whole curated table -> SageMaker CSV/Parquet
splits + manifest -> run summary (JSON + HTML, secrets redacted) -> bookmark commit.

A publish lock (lease with heartbeat) keeps two runs from publishing at once; fault points
(``LAKEFORGE_FAULT_POINT``, see lakeforge/faults.py) let tests kill the run anywhere. See
docs/reliability.md.

Runs as ``lakeforge run customer_propensity --env local`` (or python -m / spark-submit / Glue).
"""

from __future__ import annotations

import csv
import html
import json
import logging
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from lakeforge.bookmarks import DISABLE, ENABLE, FileEntry, JobBookmarks, list_data_files
from lakeforge.bookmarks import OPTIONS as BOOKMARK_OPTIONS
from lakeforge.config import EnvConfig, to_dict
from lakeforge.errors import ConfigError, LakeforgeError, SchemaMismatchError
from lakeforge.faults import arm_on_new_file, fault_point
from lakeforge.io import require_input_path
from lakeforge.job import JobContext, run_job
from lakeforge.ledger import LedgerImbalanceError, RunLedger
from lakeforge.locks import JobLock
from lakeforge.paths import Lake, validate_identifier
from lakeforge.redact import install_log_redaction, redact
from lakeforge.state import store_for

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sources:
    customers: str = "customers"
    contacts: str = "contacts"
    indicators: str = "indicators"


@dataclass(frozen=True)
class DedupSettings:
    columns: list[str] = field(default_factory=lambda: ["first_name", "last_name",
                                                        "date_of_birth", "email", "phone",
                                                        "postcode"])
    precision_recall_tradeoff: float = 0.5
    max_em_iterations: int = 10


@dataclass(frozen=True)
class CustomerPropensityConfig:
    customer_mappings: list[list[str]]
    contact_mappings: list[list[str]]
    features: dict[str, Any]
    database: str = "lakeforge"
    raw_database: str = "lakeforge_raw"
    sources: Sources = field(default_factory=Sources)
    dedup: DedupSettings = field(default_factory=DedupSettings)
    quality_suite: str = "customer_propensity"
    # Rows (of the run's input) that may go to quarantine before the run fails, publishing
    # nothing: checked once after reading (bad input) and again after the quality gate.
    max_bad_row_fraction: float = 0.05
    version_retention_hours: float = 24.0
    # Glue's --job-bookmark-option / --job-bookmark-from / --job-bookmark-to win over these.
    bookmark_option: str = "job-bookmark-enable"
    job_bookmark_from: str | None = None
    job_bookmark_to: str | None = None
    # Source columns that must be present in a row; a row without one goes to quarantine.
    required_customer_columns: list[str] = field(default_factory=lambda: ["customer_id"])
    required_contact_columns: list[str] = field(
        default_factory=lambda: ["contact_id", "customer_id", "contact_date"])
    # The publish lock is a lease renewed every ttl/3; a dead run's lock expires after ttl
    # (at once when the dead run was on this host).
    lock_ttl_seconds: float = 600.0

    def validate(self) -> None:
        validate_identifier(self.database, "database")
        validate_identifier(self.raw_database, "raw_database")
        for name in ("customer_mappings", "contact_mappings"):
            for i, m in enumerate(getattr(self, name)):
                if len(m) != 4:
                    raise ConfigError(f"{name}[{i}]: a mapping has 4 entries (source, type, "
                                      f"target, type), got {m}")
        for name, mappings in (("required_customer_columns", self.customer_mappings),
                               ("required_contact_columns", self.contact_mappings)):
            unknown = sorted(set(getattr(self, name)) - {m[0] for m in mappings})
            if unknown:
                raise ConfigError(f"{name}: {unknown} are not source columns of the mappings")
        if self.bookmark_option not in BOOKMARK_OPTIONS:
            raise ConfigError(f"bookmark_option {self.bookmark_option!r}: use one of "
                              f"{list(BOOKMARK_OPTIONS)}")
        if not 0 <= self.max_bad_row_fraction <= 1:
            raise ConfigError("max_bad_row_fraction must be between 0 and 1")
        if self.lock_ttl_seconds <= 0:
            raise ConfigError("lock_ttl_seconds must be > 0")
        from transforms.features import feature_spec_from_mapping

        feature_spec_from_mapping(self.features, "customer_propensity config")


class BadInputThresholdError(LakeforgeError):
    """More rows went to quarantine than max_bad_row_fraction allows; nothing was published."""


class SchemaDriftError(SchemaMismatchError):
    """A new partition changed a column's type incompatibly; nothing was written."""


def _lock(cfg: CustomerPropensityConfig, env: EnvConfig, lake: Lake, job: str) -> JobLock:
    store = store_for(lake.zone("bookmarks"), region=env.aws.region,
                      endpoint_url=env.aws.endpoint_url)
    return JobLock(store, f"{job}.{cfg.database}", ttl_seconds=cfg.lock_ttl_seconds)


def check_inputs(cfg: CustomerPropensityConfig, env: EnvConfig, lake: Lake) -> None:
    """Before Spark starts: every raw source folder must exist and hold files, and no live run
    may hold the publish lock (the second of two concurrent runs fails here, in a second)."""
    for name in (cfg.sources.customers, cfg.sources.contacts, cfg.sources.indicators):
        require_input_path(lake.path("raw", name), f"raw source '{name}'")
    _lock(cfg, env, lake, "customer_propensity").peek()


# --------------------------------------------------------------------------- raw lines

QUARANTINE_SCHEMA = ("source_file string, line int, partition string, reason string, "
                     "record string")


def _read_lines(spark: SparkSession, files: Sequence[FileEntry],
                partition: dict[str, str] | None = None) -> tuple[DataFrame, list[FileEntry]]:
    """One row per line of ``files``: ``_file`` (the listed path), ``_line`` (1-based),
    ``line``, ``_partition`` (``k=v`` text) plus the partition columns.

    Files are read whole (``wholetext``) so that every line keeps its number; files that cannot
    be read (corrupt compression, vanished, no access) are skipped by Spark and returned.
    """
    from pyspark.sql import functions as F

    paths = [f.path for f in files if f.size > 0]
    schema = "_file string, _line int, line string, _partition string" + "".join(
        f", `{k}` string" for k in (partition or {}))
    if not paths:
        return spark.createDataFrame([], schema), []
    whole = (spark.read.option("ignoreCorruptFiles", "true")
             .option("ignoreMissingFiles", "true").text(paths, wholetext=True)
             .withColumn("_uri", F.input_file_name()))
    uris = [r[0] for r in whole.select("_uri").distinct().collect()]
    listed = {f.path for f in files}
    uri_to_path = {uri: _listed_path(uri, listed) for uri in uris}
    read_ok = set(uri_to_path.values())
    unreadable = [f for f in files if f.size > 0 and f.path not in read_ok]
    names = spark.createDataFrame(list(uri_to_path.items()), "_uri string, _file string")
    part_text = "/".join(f"{k}={v}" for k, v in (partition or {}).items())
    out = (whole.join(F.broadcast(names), "_uri")
           .select("_file", F.posexplode(F.split("value", r"\r?\n")).alias("_pos", "line"))
           .select("_file", (F.col("_pos") + 1).cast("int").alias("_line"), "line",
                   F.lit(part_text).alias("_partition"),
                   *[F.lit(v).cast("string").alias(k) for k, v in (partition or {}).items()]))
    return out, unreadable


def _listed_path(uri: str, listed: set[str]) -> str:
    """The listed path of a file Spark names by URI (``file:///a/b%2Fc`` -> ``/a/b%2Fc``):
    Spark percent-encodes the path, the listing does not."""
    path = "/" + uri[len("file:"):].lstrip("/") if uri.startswith("file:") else uri
    for candidate in (path, unquote(path)):
        if candidate in listed:
            return candidate
    return unquote(path)


def _contact_partitions(root: str) -> tuple[list[str], dict[tuple[str | None, ...],
                                                                  list[FileEntry]],
                                             list[FileEntry]]:
    """List the files under ``root`` by Hive partition (``k=v`` folders, unescaped as Hive
    does). Returns the partition keys, the files of each partition and the files that are not
    in a partition folder of those keys (quarantined as file issues)."""
    from lakeforge.paths import parse_partition_fragment

    by_keys: dict[tuple[str, ...], dict[tuple[str | None, ...], list[FileEntry]]] = {}
    for f in list_data_files(root):
        rel = f.path.split("://", 1)[-1][len(root.split("://", 1)[-1]):].strip("/")
        folders = [p for p in rel.split("/")[:-1] if "=" in p]
        spec = parse_partition_fragment("/".join(folders)) if folders else {}
        by_keys.setdefault(tuple(spec), {}).setdefault(tuple(spec.values()), []).append(f)
    if not by_keys:
        return [], {}, []
    keys = max(by_keys, key=lambda k: (sum(len(v) for v in by_keys[k].values()), len(k)))
    misplaced = sorted(f for k, parts in by_keys.items() if k != keys
                       for fs in parts.values() for f in fs)
    return list(keys), by_keys[keys], misplaced


def _file_issues(spark: SparkSession, files: Sequence[FileEntry], unreadable: list[FileEntry],
                 lines: DataFrame, partition_of: dict[str, str], *, header: bool) -> DataFrame:
    """File-level quarantine records: empty files, files with no data line, unreadable ones."""
    from pyspark.sql import functions as F

    with_data = lines.where(F.trim("line") != "")
    if header:
        with_data = with_data.where(F.col("_line") > 1)
    have_rows = {r[0] for r in with_data.select("_file").distinct().collect()}
    bad = {f.path for f in unreadable}
    records = []
    for f in files:
        if f.size == 0:
            reason = "empty file (0 bytes)"
        elif f.path in bad:
            reason = ("unreadable object: Spark could not read it (corrupt compression, "
                      "vanished or no access); it was skipped")
        elif f.path not in have_rows:
            reason = "no data lines (only a header or blank lines)"
        else:
            continue
        records.append((f.path, None, partition_of.get(f.path, ""), reason, None))
    return spark.createDataFrame(records, QUARANTINE_SCHEMA)


def _a(type_name: str) -> str:
    return f"an {type_name}" if type_name[:1] in "aeiou" else f"a {type_name}"


def _raw_name(source: str) -> str:
    return f"_r_{source}"


def _typed_and_problems(df: DataFrame, mappings: Sequence[Sequence[str]],
                        required: Sequence[str]) -> DataFrame:
    """``df`` holds each mapping's source column as raw text (``_r_<source>``); add the source
    column converted to its source type (``try_cast``: null, never an error or a truncation)
    and ``_problems``: why the row is bad (values that do not convert to the source or the
    target type, required columns that are null), empty when it is good."""
    from pyspark.sql import functions as F

    typed, problems = [], []
    for source, stype, _target, ttype in mappings:
        raw = F.col(_raw_name(source))
        as_source = F.expr(f"try_cast(`{_raw_name(source)}` AS {stype})")
        converts = F.expr(f"try_cast(try_cast(`{_raw_name(source)}` AS {stype}) AS {ttype})")
        typed.append(as_source.alias(source))
        shown = F.when(F.length(raw) > 60, F.concat(F.substring(raw, 1, 60), F.lit("..."))
                       ).otherwise(raw)
        problems.append(F.when(
            raw.isNotNull() & converts.isNull(),
            F.concat(F.lit(f"column {source}: '"), shown,
                     F.lit(f"' is not {_a(stype if stype == ttype else ttype)}"))))
        if source in required:
            problems.append(F.when(raw.isNull(), F.lit(f"required column {source} is null")))
    return df.select("*", *typed, F.array_compact(F.array(*problems)).alias("_problems"))


def _check_drift(spark: SparkSession, df: DataFrame, mappings: Sequence[Sequence[str]],
                 table: str, fmt: str, files_by_part: dict[str, list[str]]) -> None:
    """Fail (before anything is written) when, in some partition, every value of a column
    fails to convert to its type: the producer changed the column's type, these are not a few
    bad rows. The message names the column, both types and the partition."""
    from pyspark.sql import functions as F

    aggs = []
    for source, stype, _target, ttype in mappings:
        raw = F.col(_raw_name(source))
        ok = F.expr(f"try_cast(try_cast(`{_raw_name(source)}` AS {stype}) AS {ttype})")
        aggs += [F.count(raw).alias(f"n__{source}"),
                 F.count(F.when(raw.isNotNull() & ok.isNull(), 1)).alias(f"bad__{source}"),
                 F.first(F.when(raw.isNotNull() & ok.isNull(), raw), ignorenulls=True)
                 .alias(f"ex__{source}")]
    # Only lines that parse: a malformed line says nothing about the types.
    parsed = df.where(~F.exists("_problems", lambda p: p.startswith("malformed")
                                | p.startswith("not valid UTF-8")))
    problems = []
    for row in parsed.groupBy("_partition").agg(*aggs).collect():
        part = row["_partition"]
        for source, stype, _target, _ttype in mappings:
            bad, total = row[f"bad__{source}"], row[f"n__{source}"]
            if total and bad == total:
                found = _inferred_type(spark, fmt, files_by_part.get(part, []), source)
                where = f"partition {part}" if part else "the new files"
                problems.append(
                    f"column {source} is {stype} in the table but "
                    f"{found} in {where} (e.g. {row[f'ex__{source}']!r}): every one of its "
                    f"{total} values fails to convert")
    if problems:
        raise SchemaDriftError(
            f"schema drift in {table}: " + "; ".join(problems) + ". This is a type change, "
            "not a few bad rows, so the run stopped before writing anything; fix the "
            "producer, or change the mapping's type and reprocess (lakeforge bookmarks reset)")


def _inferred_type(spark: SparkSession, fmt: str, files: list[str], column: str) -> str:
    """The type Spark infers for ``column`` from ``files`` (what the new data holds)."""
    if not files:
        return "string"
    reader = spark.read.option("samplingRatio", 1.0)
    df = reader.json(files) if fmt == "json" else reader.option("header", True).option(
        "inferSchema", True).csv(files)
    for f in df.schema.fields:
        if f.name == column:
            return f.dataType.simpleString()
    return "absent"


def _quarantine(df: DataFrame, lake: Lake, table: str, run_id: str) -> str:
    """Write quarantine records (source_file, line, partition, reason, record) as JSON lines
    under ``quarantine/<table>/run_id=<run>``."""
    from pyspark.sql import functions as F

    path = lake.require_inside(lake.path("quarantine", table, f"run_id={run_id}"), "quarantine")
    (df.select("source_file", "line", "partition", "reason", "record",
               F.lit(run_id).alias("run_id"), F.current_timestamp().alias("quarantined_at"))
     .coalesce(1).write.mode("overwrite").json(path))
    return path


def _sweep_dead_quarantine(lake: Lake, tables: Sequence[str], committed: set[str]
                           ) -> list[str]:
    """Delete the quarantine of runs that did not commit, so that this run, which processes
    their files again, does not quarantine a row twice: runs that died before writing their
    summary, and runs that published but died before their bookmark commit (``committed``:
    the run ids the bookmark holds). A run that failed (summary ``failed: ...``) keeps its
    quarantine as evidence."""
    from lakeforge.io import delete_dir, list_subdirs, read_text, uri_exists

    removed = []
    for table in tables:
        base = lake.path("quarantine", table)
        for name in list_subdirs(base):
            if not name.startswith("run_id="):
                continue
            run = name[len("run_id="):]
            summary_uri = lake.path("metadata", "runs", run, "run_summary.json")
            if uri_exists(summary_uri):
                done = json.loads(read_text(summary_uri))
                if not (done.get("status") == "published" and run not in committed
                        and done.get("bookmark_option") == ENABLE):
                    continue
            delete_dir(f"{base}/{name}")
            removed.append(f"{table}/{name}")
    if removed:
        log.warning("removed the quarantine of runs that did not commit: %s", removed)
    return removed


# --------------------------------------------------------------------------- the job


def run(ctx: JobContext[CustomerPropensityConfig]) -> int:
    from lakeforge.catalog.factory import get_catalog
    from lakeforge.io import write_text

    cfg, lake = ctx.config, ctx.lake
    install_log_redaction()
    run_id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "_" + uuid.uuid4().hex[:6]
    glue = ctx.args.glue_args
    option = glue.get("job-bookmark-option", cfg.bookmark_option)
    bookmark_from = glue.get("job-bookmark-from", cfg.job_bookmark_from)
    bookmark_to = glue.get("job-bookmark-to", cfg.job_bookmark_to)
    summary: dict[str, Any] = {
        "job": ctx.name, "run_id": run_id, "env": ctx.env.name, "lake_root": lake.root,
        "bookmark_option": option, "bookmark_range": [bookmark_from, bookmark_to],
        "config": to_dict(cfg), "env_config": to_dict(ctx.env)}
    log.info("run %s config %s", run_id, json.dumps(redact(summary["config"]), default=str))
    log.info("run %s env %s", run_id, json.dumps(redact(summary["env_config"]), default=str))
    lock = _lock(cfg, ctx.env, lake, ctx.name).acquire()
    lock.start_heartbeat()
    try:
        marks = JobBookmarks(lock.store, ctx.name, option=option, from_run=bookmark_from,
                             to_run=bookmark_to)
        code = _run_locked(ctx, run_id, summary, marks, lock, get_catalog(ctx.env, ctx.spark))
        if code == 0 and summary.get("status") == "published":
            lock.verify()
            fault_point("before_bookmark_commit")
            summary["bookmark_committed"] = marks.commit(run_id)
        print(json.dumps(redact(summary), default=str))
        return code
    except LakeforgeError as exc:
        summary["status"] = f"failed: {exc}"
        _write_summary(lake, summary, write_text)
        raise
    finally:
        lock.release()
        ctx.spark.catalog.clearCache()


def _run_locked(ctx: JobContext[CustomerPropensityConfig], run_id: str,
                summary: dict[str, Any], marks: JobBookmarks, lock: JobLock,
                catalog: Any) -> int:
    from pyspark.sql import functions as F
    from pyspark.sql.window import Window

    from lakeforge.crawler import crawl
    from lakeforge.io import write_text
    from lakeforge.publish import publish_partitioned
    from lakeforge.quality_gate import (
        QualityGateError,
        ResultKey,
        failing_rows,
        html_report,
        load_suite,
        metrics_repository,
        quality_gate,
    )
    from transforms import features as feat
    from transforms.dedup import find_matches
    from transforms.glue import apply_mapping, drop_null_fields, join

    cfg, spark, lake = ctx.config, ctx.spark, ctx.lake
    started = time.monotonic()
    db = cfg.database

    # 1. crawl the raw zone into the raw database (the raw catalog, not an output)
    report = crawl([lake.path("raw", s) for s in (cfg.sources.customers, cfg.sources.contacts,
                                                   cfg.sources.indicators)],
                   database=cfg.raw_database, catalog=catalog)
    summary["crawl"] = {"tables": [t.name for t in report.tables],
                        "partitions_added": sum(t.partitions_added for t in report.tables),
                        "schema_changes": {t.name: t.schema_changes for t in report.tables
                                           if t.schema_changes},
                        "skipped": [{"path": s.path, "reason": s.reason}
                                    for s in report.skipped]}
    # The job lists the raw files itself: an object the crawler cannot classify (and so a
    # folder it does not register) must reach the quarantine, not vanish from the run.
    keys, files_of, misplaced = _contact_partitions(lake.path("raw", cfg.sources.contacts))
    all_contacts = sorted(f for fs in files_of.values() for f in fs)
    new_contacts = marks.select("contacts", all_contacts + misplaced)
    customer_files = list_data_files(lake.path("raw", cfg.sources.customers))
    new_customers = marks.select("customers", customer_files)
    summary["new_files"] = {"contacts": len(new_contacts), "customers": len(new_customers)}
    if not new_contacts and not new_customers:
        summary["status"] = "nothing new: every raw file was already processed"
        log.info(summary["status"])
        return 0
    full = bool(new_customers) or marks.option == DISABLE
    new_paths = {f.path for f in new_contacts}
    dirty = sorted((v for v, fs in files_of.items()
                    if full or any(f.path in new_paths for f in fs)),
                   key=lambda v: tuple(x or "" for x in v))
    for v in dirty:
        marks.stage("contacts", files_of[v])
    marks.stage("customers", customer_files)
    summary["mode"] = "full" if full else "incremental"

    def part_text(values: tuple[str | None, ...]) -> str:
        return "/".join(f"{k}={x}" for k, x in zip(keys, values, strict=True))

    summary["reprocessed_partitions"] = [part_text(v) for v in dirty]

    # 3. read customers and contacts line by line; classify every row
    cust_map = [list(m) for m in cfg.customer_mappings]
    cont_map = [list(m) for m in cfg.contact_mappings]
    cust_lines, cust_unreadable = _read_lines(spark, customer_files)
    cust_lines = cust_lines.cache()
    cust_rows, cust_added = _parse_csv(spark, cust_lines, cust_map,
                                       cfg.required_customer_columns)
    cust_issues = _file_issues(spark, customer_files, cust_unreadable, cust_lines, {},
                               header=True)
    fault_point("read")
    pieces: list[DataFrame] = []
    cont_unreadable: list[FileEntry] = []
    partition_of: dict[str, str] = {}
    files_by_part: dict[str, list[str]] = {}
    for v in dirty:
        pspec = dict(zip(keys, [x or "" for x in v], strict=True))
        for f in files_of[v]:
            partition_of[f.path] = part_text(v)
        files_by_part[part_text(v)] = [f.path for f in files_of[v] if f.size > 0]
        lines, bad = _read_lines(spark, files_of[v], pspec)
        pieces.append(lines)
        cont_unreadable += bad
    cont_lines = pieces[0] if pieces else _read_lines(spark, [], {k: "" for k in keys})[0]
    for piece in pieces[1:]:
        cont_lines = cont_lines.unionByName(piece)
    cont_lines = cont_lines.cache()
    cont_rows, cont_added = _parse_json(cont_lines, cont_map, cfg.required_contact_columns,
                                        keys, {m[0] for m in cont_map})
    cont_issues = _file_issues(spark, [f for v in dirty for f in files_of[v]], cont_unreadable,
                               cont_lines, partition_of, header=False)
    if misplaced:
        cont_issues = cont_issues.unionByName(spark.createDataFrame(
            [(f.path, None, "", f"not inside a {'/'.join(keys)} partition folder", None)
             for f in misplaced if f in new_contacts], QUARANTINE_SCHEMA))
    cust_rows = cust_rows.cache()
    cont_rows = cont_rows.cache()
    _check_drift(spark, cust_rows, cust_map, f"{cfg.raw_database}.{cfg.sources.customers}",
                 "csv", {})
    _check_drift(spark, cont_rows, [m for m in cont_map if m[0] not in keys],
                 f"{cfg.raw_database}.{cfg.sources.contacts}", "json", files_by_part)
    summary["schema_drift"] = {"added_columns": {"customers": cust_added,
                                                 "contacts": cont_added},
                               "note": "added columns are merged: published once a mapping "
                                       "names them (null in older partitions)"}

    cust_ledger = RunLedger(f"{db}.customers_golden")
    contacts_ledger = RunLedger(f"{db}.contacts_enriched")
    cust_ledger.rows_in = cust_rows.count()
    contacts_ledger.rows_in = cont_rows.count()
    bad_cust = cust_rows.where(F.size("_problems") > 0)
    good_cust = cust_rows.where(F.size("_problems") == 0)
    bad_cont = cont_rows.where(F.size("_problems") > 0)
    good_cont = cont_rows.where(F.size("_problems") == 0)
    n_bad_cust, n_bad_cont = bad_cust.count(), bad_cont.count()
    # Contacts of customers that do not exist (or whose record was bad) cannot be joined.
    known = good_cust.select(F.col("customer_id").alias("_known_id")).distinct()
    orphans = good_cont.join(known, good_cont["customer_id"] == known["_known_id"],
                             "left_anti")
    good_cont = good_cont.join(known, good_cont["customer_id"] == known["_known_id"],
                               "left_semi")
    n_orphans = orphans.count()
    # The same contact twice in one partition (a replayed file): the first line is kept.
    first = Window.partitionBy("_partition", "contact_id").orderBy("_file", "_line")
    ranked = good_cont.withColumn("_n", F.row_number().over(first))
    good_cont = ranked.where("_n = 1").drop("_n").cache()
    n_dups = ranked.where("_n > 1").count()
    contacts_ledger.remove("duplicate contact_id in a partition (first line kept)", n_dups)
    n_files = cust_lines.select("_file").distinct().count() + cont_lines.select(
        "_file").distinct().count()
    n_empty_lines = (cust_lines.where(F.trim("line") == "").count()
                     + cont_lines.where(F.trim("line") == "").count())
    summary["bad_input"] = {
        "customers": {"bad_rows": n_bad_cust, "file_issues": cust_issues.count()},
        "contacts": {"bad_rows": n_bad_cont, "unknown_customer": n_orphans,
                     "file_issues": cont_issues.count(), "duplicates_removed": n_dups},
        # the empty string after each file's final newline is not a line
        "blank_lines_ignored": max(n_empty_lines - n_files, 0)}
    # The threshold is about the input this run processes: customers count when they are new
    # (they are re-read every run, but their bad lines were judged by the run that took them).
    cust_in = cust_ledger.rows_in if new_customers else 0
    cust_bad = n_bad_cust if new_customers else 0
    total_in = cust_in + contacts_ledger.rows_in
    _check_threshold(cfg, cust_bad + n_bad_cont + n_orphans, total_in, summary,
                     "after reading")

    # 4. quarantine. Nothing was written before this point (the checks above fail first).
    summary["quarantine_swept"] = _sweep_dead_quarantine(
        lake, [f"{db}/customers", f"{db}/contacts", f"{db}/contacts_enriched"],
        {r["run_id"] for r in marks.runs()})
    q = []
    cust_q = cust_issues.unionByName(_as_quarantine(bad_cust, "_problems"))
    cont_q = (cont_issues.unionByName(_as_quarantine(bad_cont, "_problems"))
              .unionByName(_as_quarantine(orphans, None, "unknown customer_id: no such "
                                          "customer (or its record was quarantined)")))
    # Customers are re-read every run (the dimension); their bad lines are quarantined only by
    # the run that processes them as new, so a row is quarantined once.
    for name, frame in (("customers", cust_q if new_customers else None), ("contacts", cont_q)):
        if frame is not None and frame.limit(1).count():
            q.append(_quarantine(frame, lake, f"{db}/{name}", run_id))
    summary["quarantine"] = q
    fault_point("after_quarantine_write")

    # 5. customers: type, dedup, golden record
    customers = drop_null_fields(apply_mapping(
        good_cust.select(*[m[0] for m in cust_map]), [tuple(m) for m in cust_map]))
    summary["dropped_null_fields"] = sorted({m[2] for m in cust_map} - set(customers.columns))
    matched = find_matches(customers, primary_key="customer_id",
                           columns=[c for c in cfg.dedup.columns if c in customers.columns],
                           precision_recall_tradeoff=cfg.dedup.precision_recall_tradeoff,
                           max_em_iterations=cfg.dedup.max_em_iterations)
    by_match = Window.partitionBy("match_id")
    matched = matched.withColumn("golden_customer_id",
                                 F.min("customer_id").over(by_match)).cache()
    completeness = F.lit(0)
    for c in customers.columns:
        completeness = completeness + F.col(c).isNotNull().cast("int")
    best = Window.partitionBy("golden_customer_id").orderBy(completeness.desc(),
                                                           F.col("customer_id"))
    golden = (matched.withColumn("_rank", F.row_number().over(best)).where("_rank = 1")
              .drop("_rank", "match_id", "match_confidence_score", "customer_id")).cache()
    n_matched = matched.count()
    n_golden = golden.count()
    cust_ledger.quarantined = n_bad_cust
    cust_ledger.published = n_golden
    cust_ledger.merged_duplicates = n_matched - n_golden

    # 6. contacts: type, join golden customer, then the month's indicators
    contacts = apply_mapping(good_cont.select(*[m[0] for m in cont_map], "_file", "_line"),
                             [tuple(m) for m in cont_map]
                             + [("_file", "string", "_file", "string"),
                                ("_line", "int", "_line", "int")])
    indicators = spark.read.option("header", True).option("inferSchema", True).csv(
        lake.path("raw", cfg.sources.indicators))
    links = matched.select(F.col("customer_id").alias("m_customer_id"), "golden_customer_id")
    with_golden = contacts.join(links, contacts["customer_id"] == links["m_customer_id"],
                                "inner").drop("m_customer_id")
    golden_attrs = golden.withColumnRenamed("golden_customer_id", "g_id")
    enriched = join(with_golden, golden_attrs, "golden_customer_id", "g_id").drop("g_id")
    enriched = enriched.withColumn("_month", F.date_format("contact_date", "yyyy-MM"))
    # inferSchema may read "2024-05" as a timestamp: compare months as yyyy-MM text
    months = indicators.select(F.date_format("month", "yyyy-MM").alias("ind_month")).distinct()
    n_no_indicators = enriched.join(months, enriched["_month"] == months["ind_month"],
                                    "left_anti").count()
    contacts_ledger.remove("no indicators for the contact's month", n_no_indicators)
    enriched = join(enriched, indicators.withColumnRenamed("month", "ind_month"),
                    "_month", "ind_month").drop("_month", "ind_month")
    enriched = enriched.withColumn(
        "age", F.floor(F.months_between("contact_date", "date_of_birth") / 12).cast("int"))
    keep = [c for c in enriched.columns if c not in
            ("first_name", "last_name", "email", "phone", "date_of_birth", "postcode")]
    enriched = enriched.select(*keep).cache()
    n_enriched = enriched.count()

    # 7. quality gate
    suite_name, checks = load_suite(cfg.quality_suite)
    repo = metrics_repository(spark, lake.path("metadata", "quality", "metrics.json"))
    key = ResultKey(tags={"job": ctx.name, "table": "contacts_enriched", "run_id": run_id})
    try:
        gate = quality_gate(spark, enriched.drop("_file", "_line"), checks, lake=lake,
                            table=f"{db}/contacts_enriched", run_id=run_id,
                            repository=repo, result_key=key)
    except QualityGateError as exc:
        summary["status"] = f"quality gate failed: {exc}"
        print(f"error: {exc}", file=sys.stderr)
        _write_summary(lake, summary, write_text)
        return 1
    failing = failing_rows(gate.result, enriched).select("_file", "_line")
    n_failing = failing.count()
    passed = enriched.join(failing, ["_file", "_line"], "left_anti").drop("_file", "_line")
    contacts_ledger.quarantined = n_bad_cont + n_orphans + n_failing
    contacts_ledger.published = n_enriched - n_failing
    _check_threshold(cfg, contacts_ledger.quarantined + cust_bad, total_in,
                     summary, "after the quality gate")
    # Every input row is accounted for before anything is published.
    summary["rows"] = {"customers": cust_ledger.to_dict(), "contacts": contacts_ledger.to_dict()}
    cust_ledger.check()
    contacts_ledger.check()

    # 8. publish curated tables (atomic switch per table), the lease checked before each
    retention = timedelta(hours=cfg.version_retention_hours)
    published: dict[str, Any] = {}
    short = run_id.split("_")[-1]

    def before_switch(plan: Any) -> None:
        lock.verify()
        fault_point(f"before_switch.{plan.table}")

    def publish(frame: DataFrame, table: str, partition_by: list[str], mode: str) -> Any:
        disarm = arm_on_new_file(f"during_write.{table}",
                                 f"{lake.table_uri('curated', table, db)}/_versions")
        try:
            return publish_partitioned(frame, database=db, table=table,
                                       partition_by=partition_by, catalog=catalog, lake=lake,
                                       mode=mode,  # type: ignore[arg-type]
                                       retention=retention, run_id=short,
                                       before_switch=before_switch)
        finally:
            disarm()

    res = publish(golden, "customers_golden", [], "overwrite")
    published["customers_golden"] = {"rows": res.rows, "version": res.version}
    res = publish(matched.select("customer_id", "golden_customer_id", "match_confidence_score"),
                  "customer_matches", [], "overwrite")
    published["customer_matches"] = {"rows": res.rows, "version": res.version}
    if contacts_ledger.published:
        res = publish(passed, "contacts_enriched", keys,
                      "overwrite" if full else "overwrite_partitions")
        published["contacts_enriched"] = {
            "rows": res.rows, "version": res.version,
            "partitions": sorted(p.values[0] or "" for p in res.partition_stats)}
        if res.rows != contacts_ledger.published:
            raise LedgerImbalanceError(
                f"ledger for {db}.contacts_enriched: {res.rows} rows were published but the "
                f"ledger expected {contacts_ledger.published}; the bookmark was not advanced")
    if published["customers_golden"]["rows"] != cust_ledger.published:
        raise LedgerImbalanceError(
            f"ledger for {db}.customers_golden: {published['customers_golden']['rows']} rows "
            f"published, the ledger expected {cust_ledger.published}")

    # 9. features over the whole curated table (fit on train only) + SageMaker splits
    spec = feat.feature_spec_from_mapping(cfg.features, "customer_propensity config")
    curated = spark.table(f"{db}.contacts_enriched").withColumn(
        spec.label, (F.col("y") == "yes").cast("double"))
    split = feat.with_split(curated, key=spec.entity_key, split=spec.split,
                            stratify_by=spec.label).cache()
    model = feat.fit_feature_pipeline(split.where(F.col(spec.split.column) == "train"), spec)
    ref = feat.save_feature_model(model, spec, lake=lake)
    scored = model.transform(split)
    names = feat.feature_names(scored.schema, spec)
    out_files = {}
    base = lake.path("features", spec.name)
    fault_point("before_features_write")
    for part in ("train", "validation", "test"):
        rows = scored.where(F.col(spec.split.column) == part)
        for fmt in ("csv", "parquet"):
            out_files[f"{part}_{fmt}"] = feat.write_sagemaker(
                rows, f"{base}/{fmt}/{part}", file_format=fmt, label=spec.label, lake=lake,
                feature_names=names, features_col=spec.output_col, mode="overwrite")
    manifest = feat.build_feature_manifest(
        scored.where(F.col(spec.split.column) == "train"), spec, version=ref.version,
        files=out_files)
    manifest_uri = feat.write_feature_manifest(manifest, f"{base}/manifest.json", lake=lake)
    split_counts = {r[0]: r[1] for r in split.groupBy(spec.split.column).count().collect()}
    split.unpersist()

    # 10. summary; the caller commits the bookmark after it
    summary.update({
        "status": "published",
        "duplicates_merged": cust_ledger.merged_duplicates,
        "checks": {"suite": suite_name, "passed": gate.passed,
                   "failed_constraints": gate.failed_constraints,
                   "quarantine": gate.quarantine_path},
        "published": published,
        "features": {"model_version": ref.version, "manifest": manifest_uri,
                     "splits": split_counts, "files": out_files, "n_features": len(names)},
        "seconds": round(time.monotonic() - started, 1),
    })
    summary["summary_files"] = _write_summary(lake, summary, write_text,
                                              html_report(gate.result, suite_name))
    return 0


def _check_threshold(cfg: CustomerPropensityConfig, bad: int, total: int,
                     summary: dict[str, Any], when: str) -> None:
    if total and bad / total > cfg.max_bad_row_fraction:
        raise BadInputThresholdError(
            f"{bad} of {total} input rows are bad ({when}), more than max_bad_row_fraction "
            f"{cfg.max_bad_row_fraction}: nothing was published and the bookmark did not "
            f"advance; see the run summary's bad_input and fix the input, or raise "
            "--max_bad_row_fraction")


def _as_quarantine(df: DataFrame, problems: str | None, reason: str = "") -> DataFrame:
    from pyspark.sql import functions as F

    why = F.concat_ws("; ", F.col(problems)) if problems else F.lit(reason)
    return df.select(F.col("_file").alias("source_file"), F.col("_line").alias("line"),
                     F.col("_partition").alias("partition"), why.alias("reason"),
                     F.col("line").alias("record"))


def _parse_csv(spark: SparkSession, lines: DataFrame, mappings: Sequence[Sequence[str]],
               required: Sequence[str]) -> tuple[DataFrame, list[str]]:
    """Parse CSV lines by each file's own header (line 1). Returns rows with ``_r_<source>``
    raw values, typed source columns and ``_problems``, and the columns headers add beyond the
    mappings (schema drift: reported, merged when a mapping names them)."""
    from pyspark.sql import functions as F

    headers: dict[str, list[str]] = {}
    for r in lines.where(F.col("_line") == 1).select("_file", "line").collect():
        headers.setdefault(r["line"], []).append(r["_file"])
    sources = [m[0] for m in mappings]
    frames, added = [], set()
    data = lines.where((F.col("_line") > 1) & (F.trim("line") != ""))
    for header, files in sorted(headers.items()):
        if not header.strip():
            continue
        names = next(csv.reader([header]))
        added |= set(names) - set(sources)
        schema = ", ".join(f"`c{i}` string" for i in range(len(names))) + ", _corrupt string"
        parsed = data.where(F.col("_file").isin(files)).withColumn(
            "_p", F.from_csv("line", schema, {"mode": "PERMISSIVE",
                                               "columnNameOfCorruptRecord": "_corrupt"}))
        # Fields outside quoted sections, to say how many there were.
        fields = F.size(F.split(F.regexp_replace("line", r'"([^"]|"")*"', ""), ",", -1))
        malformed = F.when(
            F.col("_p._corrupt").isNotNull(),
            F.concat(F.lit("malformed CSV line: "), fields.cast("string"),
                     F.lit(f" fields where the header has {len(names)}"),
                     F.when(fields > len(names), F.lit(" (unexpected column)"))
                     .otherwise(F.lit(" (missing fields or broken quoting)"))))
        cols = [(F.col(f"_p.c{names.index(s)}") if s in names else F.lit(None).cast("string"))
                .alias(_raw_name(s)) for s in sources]
        frames.append(parsed.select("_file", "_line", "line", "_partition", *cols,
                                    malformed.alias("_malformed"),
                                    F.col("line").contains("\ufffd").alias("_bad_utf8")))
    if not frames:
        empty = ", ".join(["_file string, _line int, line string, _partition string"]
                          + [f"`{_raw_name(s)}` string" for s in sources]
                          + ["_malformed string, _bad_utf8 boolean"])
        frames = [spark.createDataFrame([], empty)]
    out = frames[0]
    for f in frames[1:]:
        out = out.unionByName(f)
    out = _typed_and_problems(out, mappings, required)
    return _with_line_problems(out), sorted(added)


def _parse_json(lines: DataFrame, mappings: Sequence[Sequence[str]], required: Sequence[str],
                partition_keys: Sequence[str], sources: set[str]) -> tuple[DataFrame, list[str]]:
    """Parse JSON lines (one object per line) to raw text per key; partition columns come
    from the folder. Returns rows (as :func:`_parse_csv`) and the keys beyond the mappings."""
    from pyspark.sql import functions as F

    data = lines.where(F.trim("line") != "").withColumn(
        "_m", F.from_json("line", "map<string,string>"))
    cols = [(F.col(s) if s in partition_keys else F.col("_m")[s]).alias(_raw_name(s))
            for s in (m[0] for m in mappings)]
    malformed = F.when(F.col("_m").isNull(),
                       F.lit("malformed JSON line (not one complete JSON object)"))
    out = data.select("_file", "_line", "line", "_partition", *cols,
                      malformed.alias("_malformed"),
                      F.col("line").contains("\ufffd").alias("_bad_utf8"),
                      F.map_keys("_m").alias("_keys"))
    known = sorted(sources | set(partition_keys))
    added = [r[0] for r in out.select(F.explode(F.array_except(
        "_keys", F.array(*[F.lit(k) for k in known])))).distinct().collect()]
    out = _typed_and_problems(out.drop("_keys"), mappings, required)
    return _with_line_problems(out), sorted(added)


def _with_line_problems(df: DataFrame) -> DataFrame:
    """Line-level problems (malformed, invalid UTF-8) replace value-level ones: a line that
    does not parse has no meaningful values."""
    from pyspark.sql import functions as F

    line_level = F.array_compact(F.array(
        F.col("_malformed"),
        F.when(F.col("_bad_utf8"), F.lit("not valid UTF-8 (bytes that decode to U+FFFD)"))))
    return df.withColumn("_problems", F.when(F.size(line_level) > 0, line_level)
                         .otherwise(F.col("_problems"))).drop("_malformed", "_bad_utf8")


def _write_summary(lake: Lake, summary: dict[str, Any], write_text: Any,
                   quality_html: str = "") -> dict[str, str]:
    summary = redact(summary)  # no secret (config, env, URIs) reaches a file
    folder = lake.path("metadata", "runs", summary["run_id"])
    json_uri, html_uri = f"{folder}/run_summary.json", f"{folder}/run_summary.html"
    write_text(json_uri, json.dumps(summary, indent=2, default=str))
    rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td><pre>"
                   f"{html.escape(json.dumps(v, indent=1, default=str))}</pre></td></tr>"
                   for k, v in summary.items())
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{summary['job']} "
            f"{summary['run_id']}</title></head><body><h1>Run {html.escape(summary['run_id'])}"
            f"</h1><table border='1' cellpadding='4'>{rows}</table>"
            f"<h2>Quality</h2>{quality_html}</body></html>")
    write_text(html_uri, page)
    return {"json": json_uri, "html": html_uri}


def main(argv: list[str] | None = None) -> int:
    return run_job("customer_propensity", CustomerPropensityConfig, run, argv,
                   preflight=check_inputs)


if __name__ == "__main__":
    sys.exit(main())
