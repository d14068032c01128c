"""The job lifecycle: what every job shares, run as three phases.

``write``
    run id, lock, bookmark window, crawl of the raw sources, ingestion with line-level
    quarantine, drift check, typing by the Glue mappings, the first bad-row threshold, the
    job's business steps, the quarantine write, each output staged as a new (not yet
    current) table version. The row ledger is counted on passes the run makes anyway:
    rows in and bad rows in the drift aggregation, quarantined rows in the quarantine write
    and removed rows in the staging's partition count (``DataFrame.observe``).
``audit``
    the quality gate on each staged version that has a suite: failing rows to quarantine
    (and out of the staged version), an Error-level failure stops the run (exit 1) with the
    current version untouched; the threshold again; every ledger must balance.
``publish``
    each staged version switched in (one catalog call per table), features fitted on the
    train split and written for SageMaker, the run summary, the bookmark commit.

``run`` does all three in one process. Each phase alone (``lakeforge run JOB --phase
write``) hands over to the next through a pending-run document in the job's state store.
Exit codes: 0 published (or nothing new), 1 the data failed a gate (too many bad rows, an
Error-level check), 2 bad config, input or state (printed as one ``error:`` line).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from lakeforge.bookmarks import DISABLE, ENABLE, FileEntry, JobBookmarks
from lakeforge.config import EnvConfig, to_dict
from lakeforge.errors import ConfigError, LakeforgeError
from lakeforge.faults import arm_on_new_file, fault_point
from lakeforge.job import JobContext, one_line, run_job
from lakeforge.ledger import LedgerImbalanceError, RunLedger
from lakeforge.lifecycle.ingest import LINEAGE, Ingested, ingest_source, list_partitions
from lakeforge.lifecycle.quarantine import (
    as_quarantine,
    sweep_dead_quarantine,
    write_quarantine,
)
from lakeforge.lifecycle.report import new_run_id, write_summary
from lakeforge.lifecycle.settings import (
    OutputSpec,
    RunSettings,
    SourceSpec,
    table_of,
    validate_lifecycle,
    with_output_format,
)
from lakeforge.locks import JobLock
from lakeforge.paths import Lake
from lakeforge.publish import (
    APPEND_WINDOW_PARAM,
    StagedVersion,
    read_carried,
    read_staged,
    stage_partitioned,
    switch_staged,
)
from lakeforge.redact import install_log_redaction, redact
from lakeforge.state import StateStore, store_for

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

log = logging.getLogger(__name__)

PHASES = ("write", "audit", "publish")
# The rule name that counts as "duplicates merged" in the ledger.
MERGED = "merged duplicate"
_REMOVED = "_removed"
# Set to 0/off to skip the lake site update after each run (`lakeforge docs build` catches up).
SITE_SWITCH = "LAKEFORGE_SITE"


class BadInputThresholdError(LakeforgeError):
    """More rows went to quarantine than max_bad_row_fraction allows; nothing was published."""


class AuditFailedError(LakeforgeError):
    """An Error-level quality check failed on a staged version; it was not switched in."""


@dataclass(frozen=True)
class Job:
    """What a job module declares: its name, config class and business steps.

    ``build(steps)`` turns the typed sources (``steps.sources``) into the outputs the config
    declares; ``features(published, config)`` (optional) prepares the features input from
    the published ``features_from`` output (e.g. adds the label).
    """

    name: str
    config_cls: type
    build: Callable[[Steps], Mapping[str, DataFrame]]
    features: Callable[[DataFrame, Any], DataFrame] | None = None


@dataclass
class Steps:
    """What business steps get: the session, the config, typed good rows per source (target
    names, plus lineage ``_file, _line, _partition, line``) and two ways to account for rows
    they do not publish."""

    spark: SparkSession
    config: Any
    run_id: str
    full: bool
    sources: dict[str, DataFrame]
    facts: dict[str, Any] = field(default_factory=dict)
    rejected: dict[str, list[DataFrame]] = field(default_factory=dict)
    rules: list[str] = field(default_factory=list)
    lake: Lake | None = None
    # per source, the files the bookmark saw as new this run (their ``_file`` lineage value)
    new_files: dict[str, set[str]] = field(default_factory=dict)
    # outputs whose frame holds only new or changed rows, with the keys they are merged on
    changes: dict[str, list[str]] = field(default_factory=dict)
    # bookmarks disabled: every file is processed again (a full re-run, not new data)
    reprocess_all: bool = False

    def published(self, output: str) -> DataFrame | None:
        """The rows ``output``'s table holds now, in its format (None before its first
        publish): what an incremental step compares its new rows with."""
        from lakeforge.formats import delta, iceberg, read_table

        cfg = self.config
        if output not in cfg.outputs or self.lake is None:
            raise ConfigError(f"published: unknown output {output!r}; outputs: "
                              f"{sorted(cfg.outputs)}")
        out = cfg.outputs[output]
        table = table_of(output, out)
        location = self.lake.table_uri("curated", table, cfg.database)
        if out.format == "delta":
            exists = delta.is_delta_table(self.spark, location)
        elif out.format == "iceberg":
            from lakeforge.formats import Target

            exists = iceberg.table_exists(self.spark, Target(cfg.database, table, location))
        else:
            exists = bool(self.spark.catalog.tableExists(f"{cfg.database}.{table}"))
        return read_table(self.spark, out.format, cfg.database, table, location) if exists \
            else None

    def publish_changes(self, output: str, keys: Sequence[str]) -> None:
        """Declare that ``output``'s frame holds only new or changed rows: the publish MERGEs
        them into the table on ``keys`` (matched rows updated, others inserted; one Delta /
        Iceberg commit rewriting only the files that hold matched rows; no commit when the
        frame is empty). Parquet outputs have no MERGE: a one-line error."""
        out = self.config.outputs.get(output)
        if out is None:
            raise ConfigError(f"publish_changes: unknown output {output!r}; outputs: "
                              f"{sorted(self.config.outputs)}")
        if out.format not in ("delta", "iceberg"):
            raise ConfigError(f"publish_changes: output {output!r} is {out.format}; only "
                              "delta and iceberg outputs can be merged")
        if not keys:
            raise ConfigError(f"publish_changes: output {output!r}: name the key columns "
                              "its rows are merged on")
        self.changes[output] = list(keys)

    def match_model(self, output: str) -> Any:
        """The match model saved with ``output``'s last published matching (a
        ``transforms.dedup.MatchModel``), or None when there is none."""
        from lakeforge import io
        from lakeforge.model_store import load_match_model

        uri = match_model_uri(self.lake, self.config, output) if self.lake else None
        return load_match_model(uri) if uri and io.uri_exists(uri) else None

    def record_matching(self, run: Any, *, source: str, output: str, key: str,
                        cluster: str, keep_model: bool = False,
                        incremental: Mapping[str, Any] | None = None) -> None:
        """Keep what a matching step found (a ``transforms.dedup.MatchRun`` of ``source``'s
        rows, published as ``output`` with ``key`` and the entity id ``cluster``) in the
        summary's ``matching``: the model, the score and cluster-size distributions and,
        when ``metadata/ground_truth/<source>_entities.csv`` exists, precision and recall.

        ``keep_model``: the publish saves the model with the output (:meth:`match_model`
        reads it back in a later run). ``incremental``: ``run`` is instead the matched frame
        of ``transforms.dedup.find_incremental_matches``, with ``model`` (the model it used)
        and the counts of the run (``new_rows``, ``changed_rows``, ``entities_touched``)."""
        from lakeforge.lifecycle.matching import match_facts, result_facts

        if output not in self.config.outputs:
            raise ConfigError(f"record_matching: unknown output {output!r}; outputs: "
                              f"{sorted(self.config.outputs)}")
        truth = (self.lake.path("metadata", "ground_truth", f"{source}_entities.csv")
                 if self.lake is not None else None)
        table = table_of(output, self.config.outputs[output])
        if incremental is None:
            facts = match_facts(run, source=source, table=table, key=key, cluster=cluster,
                                truth_uri=truth)
        else:
            extra = dict(incremental)
            facts = {**result_facts(run, source=source, table=table, key=key, cluster=cluster,
                                    truth_uri=truth),
                     "model": extra.pop("model").to_dict(), "incremental": extra}
        facts["output"] = output
        facts["keep_model"] = keep_model
        self.facts["matching"] = facts

    def reject(self, source: str, rows: DataFrame, reason: str) -> None:
        """Quarantine ``rows`` of ``source`` (they carry its lineage) with ``reason``."""
        if source not in self.sources:
            raise ConfigError(f"reject: unknown source {source!r}; sources: "
                              f"{sorted(self.sources)}")
        self.rejected.setdefault(source, []).append(as_quarantine(rows, reason=reason))

    def remove(self, df: DataFrame, condition: Column, rule: str) -> DataFrame:
        """Mark the rows of ``df`` matching ``condition`` as removed by ``rule`` (not yet
        removed by an earlier rule). They stay in the frame, so that the staging pass counts
        them for the ledger, and are not published. Use :data:`MERGED` for merged
        duplicates."""
        from pyspark.sql import functions as F

        if rule not in self.rules:
            self.rules.append(rule)
        current = F.col(_REMOVED) if _REMOVED in df.columns else F.lit(None).cast("string")
        return df.withColumn(_REMOVED, F.when(current.isNull() & condition, F.lit(rule))
                             .otherwise(current))


def match_model_uri(lake: Lake, cfg: Any, output: str) -> str:
    """Where the model of ``output``'s published matching is kept
    (``metadata/match_models/<database>/<table>.json``), written by the publish phase."""
    return lake.path("metadata", "match_models", cfg.database,
                     f"{table_of(output, cfg.outputs[output])}.json")


# --------------------------------------------------------------------------- config + preflight


def validate_job_config(cfg: Any, source: str) -> None:
    """Every key of a lifecycle job's config, before Spark starts; one-line errors naming the
    key and ``source`` (the file). (The job's own ``validate(source)`` is run by run_job.)"""
    validate_lifecycle(cfg.sources, cfg.outputs, cfg.run, cfg.database, cfg.raw_database,
                       source)
    if cfg.features:
        from lakeforge.feature_store import feature_spec_from_mapping

        feature_spec_from_mapping(cfg.features, source)
        if cfg.features_from not in cfg.outputs:
            raise ConfigError(f"{source}: 'features_from' is {cfg.features_from!r}, not one of "
                              f"the outputs {sorted(cfg.outputs)}")
    elif cfg.features_from is not None:
        raise ConfigError(f"{source}: 'features_from' is set ({cfg.features_from!r}) but "
                          "'features' is not, so nothing would read it; set both or neither "
                          "(--features null --features_from null turns features off)")


def _store(env: EnvConfig, lake: Lake) -> StateStore:
    return store_for(lake.zone("bookmarks"), region=env.aws.region,
                     endpoint_url=env.aws.endpoint_url)


def _lock(job: str, cfg: Any, env: EnvConfig, lake: Lake, run_name: str | None = None
          ) -> JobLock:
    return JobLock(_store(env, lake), f"{job}.{cfg.database}", ttl_seconds=cfg.run.lock_ttl_seconds,
                   run_name=run_name)


def preflight(job: str, cfg: Any, env: EnvConfig, lake: Lake) -> None:
    """Before Spark starts: every raw source folder exists and holds files, and no live run
    holds the lock (the second of two concurrent runs fails here, in a second)."""
    from lakeforge.io import require_input_path

    for name, spec in cfg.sources.items():
        require_input_path(lake.resolve("raw", spec.path), f"sources.{name}.path")
    _lock(job, cfg, env, lake).peek()


def run_pipeline(job: Job, argv: Sequence[str] | None = None) -> int:
    """A lifecycle job's ``main``: arguments, config check, preflight, then the phases
    (``--phase write|audit|publish``, all three by default)."""
    def body(ctx: JobContext[Any]) -> int:
        return run_phases(job, ctx, ctx.args.phase)

    def check(cfg: Any, env: EnvConfig, lake: Lake, source: str) -> None:
        validate_job_config(cfg, source)
        preflight(job.name, cfg, env, lake)

    return run_job(job.name, job.config_cls, body, argv, preflight=check)


# --------------------------------------------------------------------------- the run state


@dataclass
class RunState:
    """One run as it goes through the phases; saved between phases run apart."""

    run_id: str
    summary: dict[str, Any]
    ledgers: dict[str, RunLedger] = field(default_factory=dict)
    staged: dict[str, StagedVersion] = field(default_factory=dict)
    bookmarks: dict[str, list[list[Any]]] = field(default_factory=dict)
    phase: str = ""
    started: float = field(default_factory=time.monotonic)
    quality_html: str = ""
    handoff: str | None = None  # the orchestrator's run the phases belong to (--handoff)

    def to_doc(self) -> dict[str, Any]:
        return json.loads(json.dumps({
            "run_id": self.run_id, "phase": self.phase, "handoff": self.handoff,
            "summary": self.summary,
            "ledgers": {k: v.to_dict() for k, v in self.ledgers.items()},
            "staged": {k: v.to_dict() for k, v in self.staged.items()},
            "bookmarks": self.bookmarks}, default=str))

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> RunState:
        ledgers = {k: RunLedger(v["table"], v["rows_in"], v["published"], v["quarantined"],
                                v["merged_duplicates"], dict(v["removed_by_rule"]))
                   for k, v in doc["ledgers"].items()}
        return cls(doc["run_id"], dict(doc["summary"]), ledgers,
                   {k: StagedVersion.from_dict(v) for k, v in doc["staged"].items()},
                   dict(doc["bookmarks"]), doc["phase"], handoff=doc.get("handoff"))


NOTHING_NEW = "nothing-new"  # the phase of a run whose write found no new raw file


def _pending_key(job: str, cfg: Any) -> str:
    return f"pending/{job}.{cfg.database}"


def _save(store: StateStore, key: str, state: RunState) -> None:
    current = store.get(key)
    store.put(key, state.to_doc(), current.version if current else None)


def _load(store: StateStore, key: str, after: str, handoff: str | None) -> RunState:
    """The pending run that finished phase ``after``, or whose write found nothing new (the
    audit and publish steps of such a split run succeed doing nothing). With ``handoff`` (the
    orchestrator's run), only the pending run its own write step left."""
    current = store.get(key)
    needed = {"written": "write", "audited": "audit"}.get(after, after)
    if current is None or current.doc.get("phase") not in (after, NOTHING_NEW):
        found = current.doc.get("phase") if current else "none"
        raise ConfigError(f"no run is waiting for this phase: it needs a run whose {needed!r} "
                          f"phase finished (pending run: {found}); run --phase {needed} first")
    if handoff is not None and "handoff" not in current.doc:
        log.warning("the pending run %s was written without --handoff (by an older Lakeforge "
                    "or by hand): taken over by this step's %r", current.doc.get("run_id"),
                    handoff)
    elif handoff is not None and current.doc.get("handoff") != handoff:
        raise ConfigError(
            f"the pending run was left by --handoff {current.doc.get('handoff')!r}, not by this "
            f"step's {handoff!r}: another orchestrator run's write replaced it (or ran after "
            "it); nothing was done: run this pipeline again from its write step")
    return RunState.from_doc(current.doc)


# --------------------------------------------------------------------------- phases


def run_phases(job: Job, ctx: JobContext[Any], phase: str | None = None) -> int:
    """Run one phase (``write``, ``audit``, ``publish``) or all three; returns the exit code
    and prints the summary (JSON on stdout, or text with ``--summary-format text``)."""
    if phase is not None and phase not in PHASES:
        raise ConfigError(f"--phase {phase!r}: use one of {list(PHASES)}")
    install_log_redaction()
    if ctx.args.output_format:
        ctx.config = with_output_format(ctx.config, ctx.args.output_format)
    cfg = ctx.config
    # The lock and the pending run belong to the job module and its database (the tables it
    # writes), as the preflight's check does, whatever --JOB_NAME a Glue or EMR run carries.
    lock = _lock(job.name, cfg, ctx.env, ctx.lake, run_name=ctx.name).acquire()
    lock.start_heartbeat()
    store, key = lock.store, _pending_key(job.name, cfg)
    state: RunState | None = None
    try:
        if phase in (None, "write"):
            state = new_state(ctx, lock)
            state.handoff = ctx.args.handoff
            _warn_replaced(store, key, state)
            started = time.monotonic()
            write_phase(job, ctx, lock, state)
            _timed(state, "write", started)
            if state.phase == "written" or phase == "write":
                # a split run's audit and publish steps find it, also when nothing was new
                _save(store, key, state)
            if state.phase != "written" or phase == "write":
                return _finish(ctx, state)
        if phase in (None, "audit"):
            state = state or _load(store, key, "written", ctx.args.handoff)
            if state.phase == NOTHING_NEW:  # the write step found no new file: nothing to do
                return _finish(ctx, state)
            started = time.monotonic()
            audit_phase(ctx, state)
            _timed(state, "audit", started)
            _save(store, key, state)
            if phase == "audit":
                return _finish(ctx, state)
        state = state or _load(store, key, "audited", ctx.args.handoff)
        if state.phase != NOTHING_NEW:
            publish_phase(job, ctx, state, lock)
        store.delete(key)
        return _finish(ctx, state)
    except LakeforgeError as exc:
        # Too many bad rows or a failed Error-level check: the data failed a gate (exit 1);
        # anything else is a config, input or state problem (exit 2, printed by run_job).
        gate = isinstance(exc, (BadInputThresholdError, AuditFailedError))
        if state is not None:
            _record_failure(ctx, state, store, key, exc)
        if not gate:
            if state is not None:
                _update_site(ctx, state)
            raise
        ctx.failure = one_line(str(exc))  # run_job prints it (stderr) beside the summary
        if state is not None:
            _finish(ctx, state)
        return 1
    finally:
        lock.release()
        ctx.spark.catalog.clearCache()


def _warn_replaced(store: StateStore, key: str, state: RunState) -> None:
    """A write replaces a pending run another write left for its audit or publish: say so
    (that run's later steps then fail, naming it)."""
    current = store.get(key)
    if current is None or current.doc.get("phase") not in ("written", "audited"):
        return
    log.warning("this write replaces pending run %s (--handoff %s, its %s phase done): its "
                "staged versions are left unused", current.doc.get("run_id"),
                current.doc.get("handoff"), {"written": "write"}.get(
                    current.doc["phase"], "audit"))


def _timed(state: RunState, phase: str, started: float) -> None:
    state.summary.setdefault("phase_seconds", {})[phase] = round(time.monotonic() - started, 2)


def _update_site(ctx: JobContext[Any], state: RunState) -> None:
    """Regenerate the lake site's pages this run changed (its run page, its tables, the
    index). The run is already published or failed: a site that cannot be built is a warning
    (``lakeforge docs build`` rebuilds it), never a failed run."""
    if not state.summary.get("summary_files"):
        return  # a phase run alone: the summary (and so the site) comes with the last one
    if os.environ.get(SITE_SWITCH, "").lower() in ("0", "off", "false", "no"):
        log.info("lake site not updated (%s=%s)", SITE_SWITCH, os.environ[SITE_SWITCH])
        return
    try:
        from lakeforge.site import update_site

        state.summary["site"] = update_site(ctx.lake, state.run_id)
    except ImportError as exc:
        log.warning("the lake site was not updated: %s (pip install 'lakeforge[site]')", exc)
    except Exception as exc:  # noqa: BLE001 - the run's outcome stands; say why, go on
        log.warning("the lake site was not updated: %s; run `lakeforge docs build`",
                    one_line(str(exc)))


def _finish(ctx: JobContext[Any], state: RunState) -> int:
    """Update the site and hand the redacted summary to the job entry (``run_job`` prints it
    on stdout, as JSON or ``--summary-format text``)."""
    _update_site(ctx, state)
    ctx.summary = redact(state.summary)
    return 0


def _record_failure(ctx: JobContext[Any], state: RunState, store: StateStore, key: str,
                    exc: LakeforgeError) -> None:
    """A failed run keeps its summary (status ``failed: ...``). An audit that failed leaves
    no pending run (a write that failed has none, and leaves another run's alone); a publish
    that failed stays pending as it was last saved (the outputs it switched are recorded), so
    ``--phase publish`` resumes it, as after a crash. A new write replaces it."""
    pending = state.phase == "audited"
    state.summary["status"] = f"failed: {one_line(str(exc))}"
    if pending:
        state.summary["status"] += "; the audited run stays pending: --phase publish resumes it"
    state.summary["seconds"] = round(time.monotonic() - state.started, 1)
    state.summary["summary_files"] = write_summary(ctx.lake, state.summary, state.quality_html)
    current = store.get(key)
    if not pending and current is not None and current.doc.get("run_id") == state.run_id:
        store.delete(key)  # its own: a failed write never saved, so another run's stays


def new_state(ctx: JobContext[Any], lock: JobLock) -> RunState:
    """A new run: its id and the summary's header (job, env, bookmark option, config)."""
    run: RunSettings = ctx.config.run
    glue = ctx.args.glue_args
    run_id = new_run_id()
    state = RunState(run_id, {
        "job": ctx.name, "run_id": run_id, "env": ctx.env.name, "lake_root": ctx.lake.root,
        "bookmark_option": glue.get("job-bookmark-option", run.bookmark_option),
        "bookmark_range": [glue.get("job-bookmark-from", run.job_bookmark_from),
                           glue.get("job-bookmark-to", run.job_bookmark_to)],
        "config": to_dict(ctx.config), "env_config": to_dict(ctx.env)})
    log.debug("run %s config %s", run_id, json.dumps(redact(state.summary["config"]),
                                                     default=str))
    log.info("run %s env %s", run_id, json.dumps(redact(state.summary["env_config"]),
                                                 default=str))
    return state


def write_phase(job: Job, ctx: JobContext[Any], lock: JobLock, state: RunState) -> None:
    """Ingest, run the business steps, quarantine, stage every output; sets ``state.phase``
    to ``written`` (or ``nothing-new`` when the bookmark saw no new file)."""
    from lakeforge.catalog.factory import get_catalog

    cfg, spark, lake = ctx.config, ctx.spark, ctx.lake
    run: RunSettings = cfg.run
    run_id = state.run_id
    option, (from_run, to_run) = state.summary["bookmark_option"], state.summary["bookmark_range"]
    marks = JobBookmarks(lock.store, ctx.name, option=option, from_run=from_run, to_run=to_run)
    summary = state.summary
    catalog = get_catalog(ctx.env, spark)
    sources: dict[str, SourceSpec] = cfg.sources
    summary["formats"] = {n: o.format for n, o in cfg.outputs.items()}
    for n, o in cfg.outputs.items():
        if o.format != "parquet":
            from lakeforge.formats import require_format

            require_format(spark, o.format, f"outputs.{n}")
    roots = {n: lake.resolve("raw", s.path) for n, s in sources.items()}
    if cfg.raw_database and run.crawl_raw is not False:
        from lakeforge.crawler import crawl

        # An s3:// raw zone is listed with the env's endpoint, region and CA (lakeforge.aws).
        on_s3 = all(r.startswith(("s3://", "s3a://", "s3n://")) for r in roots.values())
        from lakeforge.aws import arrow_s3_filesystem

        report = crawl(list(roots.values()), database=cfg.raw_database, catalog=catalog,
                       filesystem=arrow_s3_filesystem() if on_s3 and roots else None)
        summary["crawl"] = {"tables": [t.name for t in report.tables],
                            "partitions_added": sum(t.partitions_added for t in report.tables),
                            "schema_changes": {t.name: t.schema_changes for t in report.tables
                                               if t.schema_changes},
                            "skipped": [{"path": s.path, "reason": s.reason}
                                        for s in report.skipped]}

    # The bookmark window. The run lists the raw files itself: an object the crawler cannot
    # classify (and so a folder it does not register) must reach the quarantine, not vanish.
    listed = {n: list_partitions(roots[n]) for n in sources}
    new: dict[str, list[FileEntry]] = {}
    for n, (_keys, files_of, misplaced) in listed.items():
        new[n] = marks.select(n, sorted(f for fs in files_of.values() for f in fs) + misplaced)
    summary["new_files"] = {n: len(v) for n, v in new.items()}
    if not any(new.values()):
        summary["status"] = "nothing new: every raw file was already processed"
        state.phase = NOTHING_NEW
        log.info(summary["status"])
        return
    full = marks.option == DISABLE or any(new[n] for n, s in sources.items()
                                          if not s.incremental)
    summary["mode"] = "full" if full else "incremental"
    chosen: dict[str, list[tuple[str | None, ...]]] = {}
    for n, (_keys, files_of, _misplaced) in listed.items():
        paths = {f.path for f in new[n]}
        chosen[n] = sorted((v for v, fs in files_of.items()
                            if full or not sources[n].incremental
                            or any(f.path in paths for f in fs)),
                           key=lambda v: tuple(x or "" for x in v))
        for v in chosen[n]:
            marks.stage(n, files_of[v])
    summary["window"] = _input_window(marks)
    _refuse_append_of_reread_files(cfg, listed, chosen, new)

    # Read and classify every row; drift fails the run here, before anything is written.
    ingested: dict[str, Ingested] = {}
    for n, spec in sources.items():
        keys, files_of, misplaced = listed[n]
        ingested[n] = ingest_source(
            spark, n, spec, roots[n], files_of, keys, chosen[n],
            [f for f in misplaced if f in new[n]],
            f"{cfg.raw_database or cfg.database}.{n}")
        ingested[n].new_files = len(new[n])
    fault_point("read")
    summary["reprocessed_partitions"] = [p for n, s in sources.items() if s.incremental
                                         for p in ingested[n].partitions if p]
    summary["schema_drift"] = {"added_columns": {n: i.added_columns
                                                 for n, i in ingested.items()},
                               "missing_columns": {n: i.missing_columns
                                                   for n, i in ingested.items()},
                               "note": "added columns are merged: published once a mapping "
                                       "names them (null in older partitions); a mapped "
                                       "column missing from a CSV file's header reads null "
                                       "(missing_columns: file -> columns)"}
    # A dimension's rows are judged (threshold, quarantine) by the run that takes them as new.
    # ``judged`` goes with the summary into the hand-over: the audit's threshold counts the
    # same rows in as the write's (an unchanged dimension's old bad rows count once).
    judged = {n for n, s in sources.items() if s.incremental or new[n]}
    summary["ingest"] = {n: {"rows_in": i.rows_in, "bad_rows": i.bad_rows,
                             "file_issues": i.file_issues, "files": i.new_files,
                             "partitions": i.partitions, "judged": n in judged}
                         for n, i in ingested.items()}
    total_in, bad = _judged_rows(summary["ingest"])
    _check_threshold(run, bad, total_in, "after reading")
    for name, out in cfg.outputs.items():
        if out.ledger:
            state.ledgers[out.ledger] = RunLedger(f"{cfg.database}.{table_of(name, out)}",
                                                  rows_in=ingested[out.ledger].rows_in,
                                                  quarantined=ingested[out.ledger].bad_rows)

    # The business steps, on typed good rows.
    steps = Steps(spark, cfg, run_id, full, {n: _typed(i, sources[n])
                                             for n, i in ingested.items()}, lake=lake,
                  new_files={n: {f.path for f in fs} for n, fs in new.items()},
                  reprocess_all=marks.option == DISABLE)
    outputs = dict(job.build(steps))
    missing = sorted(set(cfg.outputs) - set(outputs))
    if missing:
        raise ConfigError(f"job {ctx.name}: its steps returned no frame for outputs {missing}")
    summary.update(steps.facts)
    if steps.changes:
        summary["merged_changes"] = dict(steps.changes)

    # The quarantine: nothing was written before this point (the checks above fail first).
    db = cfg.database
    summary["quarantine_swept"] = sweep_dead_quarantine(
        lake, [f"{db}/{n}" for n in sources]
        + [f"{db}/{table_of(n, o)}" for n, o in cfg.outputs.items()],
        {r["run_id"] for r in marks.runs()}, ENABLE)
    summary["quarantine"] = []
    rejected_total = 0
    for n, i in ingested.items():
        parts = []
        if n in judged:
            parts += [i.issues, as_quarantine(i.rows.where("size(_problems) > 0"),
                                              problems="_problems")]
        parts += steps.rejected.get(n, [])
        if not parts:
            continue
        records = parts[0]
        for p in parts[1:]:
            records = records.unionByName(p)
        path, written = write_quarantine(records, lake, f"{db}/{n}", run_id)
        rejected = written - ((i.file_issues + i.bad_rows) if n in judged else 0)
        rejected_total += rejected
        if n in state.ledgers:
            state.ledgers[n].quarantined += rejected
        summary["ingest"][n]["rejected"] = rejected
        if path:
            summary["quarantine"].append(path)
    fault_point("after_quarantine_write")
    _check_threshold(run, bad + rejected_total, total_in, "after the quarantine write")

    # Stage every output as a new version; the staging's first pass counts the ledger terms.
    for name, out in cfg.outputs.items():
        state.staged[name] = _stage(ctx, state, name, out, outputs[name], steps.rules, full,
                                    catalog)
    state.bookmarks = {n: [[f.path, f.size, f.mtime_ms] for f in fs]
                       for n, fs in marks.staged_files().items()}
    state.phase = "written"


def _input_window(marks: JobBookmarks) -> dict[str, Any] | None:
    """The bookmark window this run reads: its place in the job's bookmark (the committed
    runs + 1) and a hash of its files. A rerun over a window the bookmark did not take (the
    run before was killed before the bookmark commit) has the same two; ``append`` outputs
    commit once per window with them (:func:`append_window`). None when the bookmark does not
    advance (``disable`` / ``pause``): there every run reads its window anew."""
    import hashlib

    if marks.option != ENABLE:
        return None
    files = sorted([ctx, f.path, f.size, f.mtime_ms]
                   for ctx, fs in marks.staged_files().items() for f in fs)
    digest = hashlib.sha256(json.dumps(files).encode()).hexdigest()[:16]
    return {"sequence": len(marks.runs()) + 1, "input": digest}


def append_window(ctx: JobContext[Any], state: RunState, table: str) -> Any:
    """The :class:`lakeforge.formats.AppendWindow` an ``append`` to ``table`` commits with
    (None when the run has no bookmark window)."""
    from lakeforge.formats import AppendWindow

    window = state.summary.get("window")
    if not window:
        return None
    return AppendWindow(f"lakeforge.{bookmark_owner(ctx, state)}.{ctx.config.database}.{table}",
                        int(window["sequence"]), str(window["input"]))


def bookmark_owner(ctx: JobContext[Any], state: RunState) -> str:
    """Whose bookmark a run reads and commits: the ``--JOB_NAME`` of its write (Glue keeps
    bookmarks per job), also when a later phase runs under another name."""
    return str(state.summary.get("job") or ctx.name)


def _typed(ingested: Ingested, spec: SourceSpec) -> DataFrame:
    """Good rows typed by the source's Glue mappings, with the lineage columns kept."""
    from transforms.glue import apply_mapping

    lineage: list[tuple[str, ...]] = [
        (c, t, c, t) for c, t in (("_file", "string"), ("_line", "int"),
                                  ("_partition", "string"), ("line", "string"))]
    good = ingested.rows.where("size(_problems) = 0")
    return apply_mapping(good.select(*[m[0] for m in spec.mappings], *LINEAGE, "line"),
                         [tuple(m) for m in spec.mappings] + lineage)


def _stage(ctx: JobContext[Any], state: RunState, name: str, out: OutputSpec, df: DataFrame,
           rules: Sequence[str], full: bool, catalog: Any) -> StagedVersion:
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    cfg, lake = ctx.config, ctx.lake
    table = table_of(name, out)
    ledger = state.ledgers.get(out.ledger) if out.ledger else None
    df = df.cache()  # staging passes over it three times (count, size sample, write)
    removed_col = _REMOVED in df.columns
    seen = Observation(f"stage_{name}")
    has_rules = removed_col and ledger is not None and rules

    def observe(frame: DataFrame) -> DataFrame:
        if not has_rules:
            return frame
        return frame.observe(seen, F.count(F.lit(1)).alias("_all"), *[
            F.count(F.when(F.col(_REMOVED) == rule, 1)).alias(f"r{i}")
            for i, rule in enumerate(rules)])

    frame = df.drop(*[c for c in (*LINEAGE, "line") if c in df.columns])
    if removed_col:
        # Removed rows ride along to the staging's first pass (its partition count), where
        # they are counted, and go before anything is written.
        frame = observe(frame).where(F.col(_REMOVED).isNull()).drop(_REMOVED)
    mode = out.mode
    if mode == "overwrite_partitions" and (full or not out.partition_by):
        mode = "overwrite"
    versions = f"{lake.table_uri('curated', table, cfg.database)}/_versions"
    disarm = arm_on_new_file(f"during_write.{table}", versions)
    fmt = state.summary.get("formats", {}).get(name, out.format)
    window = append_window(ctx, state, table) if mode == "append" and fmt == "parquet" \
        else None
    try:
        # A Delta / Iceberg output is staged alone (no catalog table to extend); its commit
        # checks its own table. A Parquet append carries its window: a rerun over the same
        # window replaces its earlier append.
        staged = stage_partitioned(frame, database=cfg.database, table=table,
                                   partition_by=out.partition_by,
                                   catalog=catalog if fmt == "parquet" else None, lake=lake,
                                   mode=mode, run_id=state.run_id.split("_")[-1],  # type: ignore[arg-type]
                                   allow_empty=True,
                                   append_window=window.to_text() if window else None,
                                   allow_breaking_schema_change=out.allow_breaking_schema_change)
    finally:
        disarm()
        df.unpersist()
    if fmt != "parquet":
        _check_format_schema(ctx, state, name, out, staged, fmt)
    if ledger is not None:
        ledger.published = staged.rows - staged.carried_rows  # an append's rows, not the table's
        if has_rules:
            metrics = seen.get
            for i, rule in enumerate(rules):
                n = int(metrics.get(f"r{i}", 0))
                # Rules are the run's, not the output's: a rule no row of this output
                # matched is not one of its terms.
                if rule == MERGED:
                    ledger.merged_duplicates += n
                elif n:
                    ledger.remove(rule, n)
    return staged


def _refuse_append_of_reread_files(cfg: Any, listed: Mapping[str, Any],
                                   chosen: Mapping[str, list[tuple[str | None, ...]]],
                                   new: Mapping[str, Any]) -> None:
    """An ``append`` output adds every row the steps return. A run that re-reads files an
    earlier run already published (a new file in a published partition reprocesses it whole;
    a new dimension file, every partition) would append their rows again: refused before
    anything is written, naming the outputs and a file."""
    appends = sorted(name for name, out in cfg.outputs.items() if out.mode == "append")
    if not appends:
        return
    new_paths = {n: {g.path for g in files} for n, files in new.items()}
    reread = sorted(f.path for n, (_keys, files_of, _misplaced) in listed.items()
                    for v in chosen[n] for f in files_of[v] if f.path not in new_paths[n])
    if reread:
        raise ConfigError(
            f"outputs {appends} use mode append, but this run re-reads {len(reread)} file(s) "
            f"an earlier run already published (e.g. {reread[0]}: a new file in a published "
            "partition, or a new dimension file, reprocesses it whole), so appending would add "
            "their rows a second time; nothing was written: use mode overwrite_partitions (or "
            "merge_keys with delta / iceberg) for such outputs")


def format_target(ctx: JobContext[Any], state: RunState, name: str, out: OutputSpec,
                  staged: StagedVersion) -> Any:
    """The :class:`lakeforge.formats.Target` a Delta / Iceberg output commits to: MERGE on
    ``merge_keys`` when the run is incremental, else the staged version's mode."""
    from lakeforge.formats import Target

    cfg = ctx.config
    table = table_of(name, out)
    mode = staged.plan.mode
    keys = list(out.merge_keys)
    changes = state.summary.get("merged_changes", {})
    if name in changes:  # the steps returned only new or changed rows (Steps.publish_changes)
        mode, keys = "merge", list(changes[name])
    elif out.merge_keys and state.summary.get("mode") == "incremental":
        mode = "merge"
    return Target(cfg.database, table, ctx.lake.table_uri("curated", table, cfg.database),
                  tuple(k.lower() for k in out.partition_by), mode, tuple(keys),
                  out.allow_schema_evolution, cfg.run.version_retention_hours,
                  out.max_files_per_partition,
                  append_window(ctx, state, table) if mode == "append" else None)


def _check_format_schema(ctx: JobContext[Any], state: RunState, name: str, out: OutputSpec,
                         staged: StagedVersion, fmt: str) -> None:
    """The schema rule between runs, in the write phase: a refused change fails the run here
    (exit 2) and the staged rows are deleted; the table is not touched."""
    from lakeforge.formats import SchemaEvolutionError, check_schema_change, table_schema
    from lakeforge.io import delete_dir

    target = format_target(ctx, state, name, out, staged)
    try:
        check_schema_change(table_schema(ctx.spark, fmt, target),
                            read_staged(ctx.spark, staged).schema,
                            allow_added=out.allow_schema_evolution,
                            partition_by=target.partition_by,
                            where=f"outputs.{name} ({fmt} {target.qualified_name})")
    except SchemaEvolutionError:
        delete_dir(staged.plan.version_uri)
        raise


def audit_phase(ctx: JobContext[Any], state: RunState) -> None:
    """The quality gate on every staged version with a suite; failing rows to quarantine and
    out of the version (re-staged without them); an Error-level failure raises
    :class:`AuditFailedError` and nothing is switched. Then the threshold and the ledgers."""
    from lakeforge.catalog.factory import get_catalog
    from lakeforge.lifecycle.gate import minus_rows

    cfg, spark = ctx.config, ctx.spark
    summary = state.summary
    summary["checks"] = {}
    state.quality_html = ""
    catalog = get_catalog(ctx.env, spark)
    pages: list[str] = []
    for name, out in cfg.outputs.items():
        staged = state.staged.get(name)
        if out.quality_suite is None or staged is None or not staged.expected:
            continue
        data = read_staged(spark, staged)
        # The gate judges the rows this run adds: a Parquet append's version also holds the
        # touched partitions' published rows, which are neither judged, quarantined nor
        # counted again (a Delta / Iceberg append stages its own rows alone).
        carried = read_carried(spark, staged)
        judged = data if carried is None else minus_rows(data, carried).persist()
        try:
            pages.append(_gate_output(ctx, state, name, out, staged, data, judged, catalog))
        finally:
            if judged is not data:
                judged.unpersist()
        state.quality_html = "".join(pages)
    total, bad = _judged_rows(summary.get("ingest", {}))
    bad += sum(v.get("rejected", 0) for v in summary.get("ingest", {}).values()) + sum(
        c["rows_failed"] for c in summary["checks"].values())
    _check_threshold(cfg.run, bad, total, "after the quality gate")
    summary["rows"] = {k: v.to_dict() for k, v in state.ledgers.items()}
    for ledger in state.ledgers.values():
        ledger.check()
    state.phase = "audited"


def _gate_output(ctx: JobContext[Any], state: RunState, name: str, out: OutputSpec,
                 staged: StagedVersion, data: DataFrame, judged: DataFrame,
                 catalog: Any) -> str:
    """The gate of one output on ``judged`` (the rows of ``data``, its staged version, that
    the run adds); its failing rows leave the version (re-staged). Returns the gate's HTML."""
    from lakeforge.io import delete_dir
    from lakeforge.lifecycle.gate import minus_rows, run_gate

    cfg, summary = ctx.config, state.summary
    assert out.quality_suite is not None
    table = table_of(name, out)
    gate = run_gate(ctx.spark, judged, out.quality_suite, lake=ctx.lake,
                    table=f"{cfg.database}/{table}", run_id=state.run_id,
                    tags={"job": ctx.name, "table": table, "run_id": state.run_id},
                    partition_by=out.partition_by)
    summary["checks"][table] = gate.to_dict()
    if gate.quarantine:
        summary["quarantine"] = [*summary.get("quarantine", []), gate.quarantine]
    if not gate.passed:
        state.quality_html += gate.html
        raise AuditFailedError(
            f"quality gate failed for {cfg.database}.{table}: Error-level constraint(s) "
            f"failed: {'; '.join(gate.failed_constraints)}; the staged version was not "
            "switched in and the current one stays; failing rows in the quarantine zone")
    if gate.rows_failed and gate.failing is not None:
        # The failing rows leave the staged version: stage the passing rows again.
        passed = minus_rows(data, gate.failing.drop("failed_constraints"))
        fmt = summary.get("formats", {}).get(name, out.format)
        # An append's staged rows already hold the partitions' current rows: re-staged, they
        # are not carried again, and the run's append window stays on the version.
        restaged = stage_partitioned(
            passed, database=cfg.database, table=table, partition_by=out.partition_by,
            catalog=catalog if fmt == "parquet" else None, lake=ctx.lake,
            mode=staged.plan.mode,  # type: ignore[arg-type]
            run_id=state.run_id.split("_")[-1], allow_empty=True,
            allow_breaking_schema_change=out.allow_breaking_schema_change,
            append_window=staged.spec.parameters.get(APPEND_WINDOW_PARAM),
            restage_of=staged)
        delete_dir(staged.plan.version_uri)
        state.staged[name] = restaged
        if out.ledger and out.ledger in state.ledgers:
            ledger = state.ledgers[out.ledger]
            ledger.quarantined += gate.rows_failed
            ledger.published = restaged.rows - restaged.carried_rows
    return gate.html


def publish_phase(job: Job, ctx: JobContext[Any], state: RunState, lock: JobLock) -> None:
    """Switch every staged version in, write the features, the summary, commit the bookmark.

    Each output switched or committed is recorded in the pending run at once, so a retry of
    the phase (``--phase publish`` after a crash part-way) skips the outputs already
    published and commits the others from their staged versions, which stay until the
    bookmark commit."""
    from lakeforge.catalog.factory import get_catalog

    cfg, lake = ctx.config, ctx.lake
    catalog = get_catalog(ctx.env, ctx.spark)
    retention = timedelta(hours=cfg.run.version_retention_hours)
    summary = state.summary
    started = time.monotonic()
    store, key = lock.store, _pending_key(job.name, cfg)

    def before_switch(plan: Any) -> None:
        lock.verify()
        fault_point(f"before_switch.{plan.table}")

    # outputs an earlier attempt of this phase published (a retry): they are not done again
    published: dict[str, Any] = dict(summary.get("published") or {})
    summary["published"] = published  # filled in place: saved with the state after each table
    formats = summary.get("formats", {})
    changes = summary.get("merged_changes", {})
    for name, staged in state.staged.items():
        if not staged.rows and (staged.plan.mode != "overwrite" or name in changes):
            continue  # nothing new for this table: its current version stays
        table = staged.plan.table
        if table in published:
            log.info("%s.%s was published by an earlier attempt of this run's publish phase",
                     cfg.database, table)
            continue
        fmt = formats.get(name, "parquet")
        if fmt != "parquet":
            entry = _commit_format(ctx, state, name, staged, fmt, catalog, before_switch)
        else:
            entry = _switch_parquet(ctx, state, name, staged, catalog, retention,
                                    before_switch)
        published[table] = entry
        _save(store, key, state)
    matching = summary.get("matching") or {}
    if matching.get("keep_model") and matching.get("output") in cfg.outputs:
        # the model of the matches now published: an incremental run matches new rows with it
        from lakeforge.model_store import save_match_model
        from transforms.dedup import MatchModel

        save_match_model(MatchModel.from_dict(matching["model"]),
                         match_model_uri(lake, cfg, matching["output"]), overwrite=True)
    _timed(state, "publish", started)
    if cfg.features:
        started = time.monotonic()
        summary["features"] = write_features(job, ctx)
        _timed(state, "features", started)
    summary["status"] = "published"
    summary["seconds"] = round(time.monotonic() - state.started, 1)
    summary["summary_files"] = write_summary(lake, summary, state.quality_html)
    lock.verify()
    fault_point("before_bookmark_commit")
    marks = JobBookmarks(lock.store, bookmark_owner(ctx, state),
                         option=summary["bookmark_option"])
    marks.restore_staged({n: [FileEntry(p, s, m) for p, s, m in fs]
                          for n, fs in state.bookmarks.items()})
    summary["bookmark_committed"] = marks.commit(state.run_id)
    state.phase = "published"
    _drop_format_staging(state)


def _switch_parquet(ctx: JobContext[Any], state: RunState, name: str, staged: StagedVersion,
                    catalog: Any, retention: timedelta,
                    before_switch: Callable[[Any], None]) -> dict[str, Any]:
    """A Parquet output's staged version switched in; what the summary shows of it."""
    cfg = ctx.config
    res = switch_staged(staged, catalog=catalog, retention=retention,
                        before_switch=before_switch)
    table = staged.plan.table
    entry = {"rows": res.rows, "version": res.version, **_table_facts(staged)}
    if staged.spec.partition_keys:
        entry["partitions"] = sorted(
            "/".join(v or "" for v in p.values) for p in staged.plan.partitions)
    out = cfg.outputs[name]
    ledger = state.ledgers.get(out.ledger) if out.ledger else None
    added = res.rows - staged.carried_rows  # an append rewrites the current rows beside its own
    if ledger is not None and added != ledger.published:
        raise LedgerImbalanceError(
            f"ledger for {cfg.database}.{table}: {added} rows were published but the "
            f"ledger expected {ledger.published}; the bookmark was not advanced")
    return entry


def _drop_format_staging(state: RunState) -> None:
    """After the bookmark commit: the staged folders of the Delta / Iceberg outputs go (their
    table's own log holds the data), with any a killed run left. Until then a retry of the
    publish phase reads them."""
    from lakeforge.io import delete_dir, list_subdirs

    formats = state.summary.get("formats", {})
    for name, staged in state.staged.items():
        if formats.get(name, "parquet") == "parquet":
            continue
        versions = f"{staged.plan.table_uri}/_versions"
        for folder in list_subdirs(versions):
            delete_dir(f"{versions}/{folder}")


def _table_facts(staged: StagedVersion) -> dict[str, Any]:
    """What the lake site shows of a published table: where and how it is stored, its
    columns with their types, and the rows and files of each partition this version wrote."""
    spec, plan = staged.spec, staged.plan
    keys = [k.name for k in spec.partition_keys]
    if keys:
        stats = [{"partition": "/".join(f"{k}={'' if v is None else v}"
                                        for k, v in zip(keys, p.values, strict=True)),
                  "rows": s.rows, "files": s.files}
                 for p, s in zip(plan.partitions, staged.partition_stats, strict=True)]
    else:
        stats = []
    return {"location": plan.table_uri, "format": spec.format, "mode": plan.mode,
            "files": sum(s.files for s in staged.partition_stats),
            "columns": [{"name": c.name, "type": c.type} for c in spec.columns],
            "partition_keys": [{"name": c.name, "type": c.type} for c in spec.partition_keys],
            "partition_stats": stats}


def _commit_format(ctx: JobContext[Any], state: RunState, name: str, staged: StagedVersion,
                   fmt: str, catalog: Any, before_switch: Callable[[Any], None]) -> dict[str, Any]:
    """The audited staged rows as one Delta / Iceberg commit (the staged folders stay until
    the bookmark commit, :func:`_drop_format_staging`). A kill before the commit leaves the
    table as it was; the rerun stages and commits again."""
    from lakeforge.formats import commit

    cfg = ctx.config
    out = cfg.outputs[name]
    target = format_target(ctx, state, name, out, staged)
    before_switch(staged.plan)
    result = commit(fmt, read_staged(ctx.spark, staged), target, spark=ctx.spark,
                    catalog=catalog)
    ledger = state.ledgers.get(out.ledger) if out.ledger else None
    if ledger is not None and result.rows != ledger.published:
        raise LedgerImbalanceError(
            f"ledger for {target.qualified_name}: {result.rows} rows were committed but the "
            f"ledger expected {ledger.published}; the bookmark was not advanced")
    facts = _table_facts(staged)  # the lake site shows where it is and its schema
    entry: dict[str, Any] = {"rows": result.rows, "version": result.version, "format": fmt,
                             "operation": result.operation, "location": facts["location"],
                             "columns": facts["columns"],
                             "partition_keys": facts["partition_keys"]}
    if result.added_columns:
        entry["added_columns"] = list(result.added_columns)
    if result.compacted_partitions:
        entry["compacted"] = list(result.compacted_partitions)
    if staged.spec.partition_keys:
        entry["partitions"] = sorted("/".join(v or "" for v in p.values)
                                     for p in staged.plan.partitions)
    return entry


def write_features(job: Job, ctx: JobContext[Any]) -> dict[str, Any]:
    """Features over the whole published ``features_from`` table: the pipeline fitted on the
    train split only, SageMaker CSV + Parquet splits published as a new version under
    ``features/<name>/`` whose ``manifest.json`` names them (the switch)."""
    from pyspark.sql import functions as F

    from lakeforge import feature_store as fstore
    from transforms import features as feat

    cfg, spark, lake = ctx.config, ctx.spark, ctx.lake
    spec = fstore.feature_spec_from_mapping(cfg.features, f"{ctx.name} config")
    from lakeforge.formats import read_table

    out = cfg.outputs[cfg.features_from]
    source = table_of(cfg.features_from, out)
    table = read_table(spark, out.format, cfg.database, source,
                       lake.table_uri("curated", source, cfg.database))
    frame = job.features(table, cfg) if job.features else table
    split = feat.with_split(frame, key=spec.entity_key, split=spec.split,
                            stratify_by=spec.label).cache()
    model = feat.fit_feature_pipeline(split.where(F.col(spec.split.column) == "train"), spec)
    ref = fstore.save_feature_model(model, spec, lake=lake)
    scored = model.transform(split)
    names = feat.feature_names(scored.schema, spec)
    # The labels of every split are checked once, before anything is written (one Spark job
    # instead of one per channel).
    feat.require_labels(feat.to_sagemaker_frame(
        scored, label=spec.label, feature_names=names, features_col=spec.output_col), spec.label)
    fault_point("before_features_write")
    # Every channel goes into a new version folder, then manifest.json switches to it: a
    # failure or a kill leaves the previous feature set whole and current.
    published = fstore.publish_sagemaker_channels(scored, spec, lake=lake, version=ref.version,
                                                  check_labels=False)
    counts = {r[0]: r[1] for r in split.groupBy(spec.split.column).count().collect()}
    split.unpersist()
    return {"name": spec.name, "model_version": ref.version, "manifest": published.manifest_uri,
            "splits": counts, "files": dict(published.files), "n_features": len(names)}


def _judged_rows(ingest: Mapping[str, Mapping[str, Any]]) -> tuple[int, int]:
    """(rows in, bad rows) of the sources the run judged (``summary["ingest"]``): the
    incremental ones and a dimension with a new file. A hand-over written before the
    ``judged`` flag counts every source, as the audit then did."""
    judged = [v for v in ingest.values() if v.get("judged", True)]
    return sum(v["rows_in"] for v in judged), sum(v["bad_rows"] for v in judged)


def _check_threshold(run: RunSettings, bad: int, total: int, when: str) -> None:
    if total and bad / total > run.max_bad_row_fraction:
        raise BadInputThresholdError(
            f"{bad} of {total} input rows are bad ({when}), more than max_bad_row_fraction "
            f"{run.max_bad_row_fraction}: nothing was published and the bookmark did not "
            "advance; see the run summary and the quarantine zone, fix the input, or raise "
            "--run.max_bad_row_fraction")
