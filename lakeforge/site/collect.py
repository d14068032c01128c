"""What the lake site shows, read from the lake's own files (no Spark, no catalog call).

Everything comes from what the lifecycle writes: the run summaries
(``metadata/runs/<run_id>/run_summary.json``: status, ingest, the row ledger, checks, the
published tables with their columns and partition statistics, the matching facts), the
quarantine records of each run (JSON lines) and the quality metrics repository
(``metadata/quality/metrics.json``). Local paths and s3:// alike, through :mod:`lakeforge.io`.

Every function here accepts the pieces a run may lack: a failed run has no ledger and publishes
nothing, a run without bad rows has no quarantine, a table without a quality suite has no
metrics. They return empty lists or ``None`` then, and the pages say so.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from lakeforge import io
from lakeforge.paths import Lake
from lakeforge.redact import redact, redact_text

log = logging.getLogger(__name__)

SUMMARY_FILE = "run_summary.json"
# Reasons beyond this many are folded into one "other reasons" segment of the row flow.
MAX_REASONS = 6
# A metric's point is judged for anomalies against at least this many earlier points.
MIN_HISTORY = 3
# The reason under which quarantine lines that are not JSON objects are counted.
UNREADABLE_REASON = "(unreadable line: not JSON)"
_RUN_TIME = re.compile(r"^(\d{8}T\d{6}Z)_")


# --------------------------------------------------------------------------- runs


def summary_uri(lake: Lake, run_id: str) -> str:
    return lake.path("metadata", "runs", run_id, SUMMARY_FILE)


def list_run_ids(lake: Lake) -> list[str]:
    """Run ids with a summary under ``metadata/runs``, oldest first (ids sort by time)."""
    return [r for r in io.list_subdirs(lake.path("metadata", "runs"))
            if io.uri_exists(summary_uri(lake, r))]


def load_summary(lake: Lake, run_id: str) -> dict[str, Any] | None:
    """The run's summary (secrets redacted again, in case an older writer missed one), or
    None when the run left none.

    A summary that is not a JSON object (a torn write, a hand edit) does not stop the site:
    it is logged with its file and stands as a run whose status is ``unreadable: <file> ...``
    (kind ``unreadable`` on the index), with nothing else."""
    uri = summary_uri(lake, run_id)
    if not io.uri_exists(uri):
        return None
    try:
        doc = json.loads(io.read_text(uri))
        problem = "" if isinstance(doc, dict) else f"holds a JSON {type(doc).__name__}"
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        problem = f"is not valid JSON: {exc}"
    if problem:
        log.warning("run summary %s %s; the run is shown as unreadable", uri, problem)
        return {"run_id": run_id, "job": "", "status": f"unreadable: {uri} {problem}"}
    return redact(doc)  # type: ignore[no-any-return]


def run_started(run_id: str) -> str | None:
    """The UTC start of a run, from its id (``20240501T120000Z_a1b2c3``), as ISO text."""
    m = _RUN_TIME.match(run_id or "")
    if not m:
        return None
    when = datetime.strptime(m.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    return when.isoformat().replace("+00:00", "Z")


def status_kind(status: str | None) -> str:
    """``published``, ``failed``, ``nothing-new``, ``unreadable`` (a summary that is not
    JSON) or ``unknown`` (a run without a status)."""
    text = (status or "").strip()
    if text == "published":
        return "published"
    if text.startswith("failed"):
        return "failed"
    if text.startswith("unreadable"):
        return "unreadable"
    if text.startswith("nothing new"):
        return "nothing-new"
    return "unknown"


def _database(summary: Mapping[str, Any]) -> str:
    return str((summary.get("config") or {}).get("database") or "")


def published_tables(summary: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``{database.table: what the run published}`` (empty for a run that published none)."""
    db = _database(summary)
    return {qualified(db, t): dict(p or {}) for t, p in (summary.get("published") or {}).items()}


def qualified(database: str, table: str) -> str:
    return f"{database}.{table}" if database and "." not in table else table


def run_tables(summary: Mapping[str, Any]) -> list[str]:
    """Every table a run touched: published, checked or counted by a ledger."""
    db = _database(summary)
    names = set(published_tables(summary))
    names |= {qualified(db, t) for t in (summary.get("checks") or {})}
    names |= {str(v.get("table")) for v in (summary.get("rows") or {}).values()
              if v and v.get("table")}
    return sorted(names)


def run_row(summary: Mapping[str, Any]) -> dict[str, Any]:
    """One line of the runs index: status, duration, rows in and out, checks, versions."""
    run_id = str(summary.get("run_id") or "")
    ingest = summary.get("ingest") or {}
    checks = summary.get("checks") or {}
    published = published_tables(summary)
    return {
        "run_id": run_id,
        "job": summary.get("job") or "",
        "status": summary.get("status") or "unknown",
        "kind": status_kind(summary.get("status")),
        "started": run_started(run_id),
        "seconds": summary.get("seconds"),
        "rows_in": sum(int(v.get("rows_in") or 0) for v in ingest.values()),
        "rows_out": sum(int(p.get("rows") or 0) for p in published.values()),
        "checks_passed": sum(int(c.get("passed_constraints") or 0) for c in checks.values()),
        "checks_failed": sum(len(c.get("failed_constraints") or ()) for c in checks.values()),
        "versions": {t: p.get("version") for t, p in published.items()},
        "tables": run_tables(summary),
        "matching": bool(summary.get("matching")),
    }


# --------------------------------------------------------------------------- quarantine


@dataclass
class QuarantineReason:
    """Records of one reason in one quarantine folder: how many, and the first few."""

    reason: str
    count: int = 0
    rows_only: int = 0  # records that are rows (not whole-file issues), for the row flow
    samples: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class QuarantineFolder:
    """One ``quarantine/<database>/<name>/run_id=<run>`` folder of a run."""

    name: str
    uri: str
    reasons: list[QuarantineReason] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(r.count for r in self.reasons)


def quarantine_name(uri: str) -> str:
    """``contacts`` for ``.../quarantine/lakeforge/contacts/run_id=...``."""
    parts = [p for p in uri.rstrip("/").split("/") if p]
    if parts and parts[-1].startswith("run_id="):
        parts = parts[:-1]
    return parts[-1] if parts else uri


def read_quarantine(uris: Iterable[str], *, samples_per_reason: int = 3
                    ) -> list[QuarantineFolder]:
    """Count the records of each quarantine folder by reason and keep the first
    ``samples_per_reason`` of each, their text redacted (:func:`lakeforge.redact.redact_text`).
    A folder that is gone (swept, expired) is skipped with a log line. A line that is not a
    JSON object (a torn write) is skipped and counted: reason :data:`UNREADABLE_REASON`, one
    sample per file saying how many lines of it were unreadable and the first one's number
    (not counted as a row: the row flow shows the ledger's count as reason not on file)."""
    folders = []
    for uri in dict.fromkeys(uris):  # keep the order, once each
        if not uri:
            continue
        if not io.uri_exists(uri):
            log.info("quarantine folder %s is gone; not shown", uri)
            continue
        by_reason: dict[str, QuarantineReason] = {}
        for path in io.list_files(uri, ".json"):
            bad_lines: list[int] = []
            try:
                lines = io.read_text(path).splitlines()
            except UnicodeDecodeError:
                lines, bad_lines = [], [1]
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    rec = None
                if not isinstance(rec, dict):
                    bad_lines.append(number)
                    continue
                reason = str(rec.get("reason") or "(no reason given)")
                entry = by_reason.setdefault(reason, QuarantineReason(reason))
                entry.count += 1
                # A whole-file issue (empty, unreadable file) has no line: not a row.
                if rec.get("line") is not None or rec.get("source_file") is None:
                    entry.rows_only += 1
                if len(entry.samples) < samples_per_reason:
                    entry.samples.append({
                        "source_file": rec.get("source_file"), "line": rec.get("line"),
                        "partition": rec.get("partition"),
                        "record": redact_text(str(rec.get("record") or "")),
                    })
            if bad_lines:
                _count_unreadable(by_reason, path, bad_lines)
        reasons = sorted(by_reason.values(), key=lambda r: (-r.count, r.reason))
        folders.append(QuarantineFolder(quarantine_name(uri), uri, reasons))
    return folders


def _count_unreadable(by_reason: dict[str, QuarantineReason], path: str,
                      bad_lines: list[int]) -> None:
    n = len(bad_lines)
    log.warning("%d unreadable line(s) in quarantine file %s (first: line %d); skipped", n,
                path, bad_lines[0])
    entry = by_reason.setdefault(UNREADABLE_REASON, QuarantineReason(UNREADABLE_REASON))
    entry.count += n
    entry.samples.append({"source_file": path, "line": bad_lines[0], "partition": None,
                          "record": f"{n} unreadable line{'s' if n > 1 else ''} in {path}"})


# --------------------------------------------------------------------------- row flow


def row_flow(summary: Mapping[str, Any], quarantine: Sequence[QuarantineFolder] = ()
             ) -> list[dict[str, Any]]:
    """Per ledger (a table fed by one source): rows in, then where they went.

    ``segments`` splits the rows in into published, duplicates merged, removed per rule and
    quarantined per reason; the reasons are counted in the quarantine folders of the ledger's
    source and table. When those counts do not add up to the ledger's quarantined rows (a
    folder swept), one segment ``quarantined (reason not on file)`` holds the rest, so the
    segments always sum to the ledger's rows in."""
    flows = []
    for source, ledger in (summary.get("rows") or {}).items():
        if not ledger:
            continue
        table = str(ledger.get("table") or source)
        short = table.split(".")[-1]
        quarantined = int(ledger.get("quarantined") or 0)
        counted: dict[str, int] = {}
        for folder in quarantine:
            if folder.name in (source, short):
                for r in folder.reasons:
                    if r.rows_only:
                        counted[r.reason] = counted.get(r.reason, 0) + r.rows_only
        segments = [{"kind": "published", "label": "published",
                     "rows": int(ledger.get("published") or 0)}]
        merged = int(ledger.get("merged_duplicates") or 0)
        if merged:
            segments.append({"kind": "merged", "label": "duplicates merged", "rows": merged})
        for rule, n in (ledger.get("removed_by_rule") or {}).items():
            segments.append({"kind": "removed", "label": f"removed: {rule}", "rows": int(n)})
        if sum(counted.values()) == quarantined:
            ranked = sorted(counted.items(), key=lambda kv: (-kv[1], kv[0]))
            for reason, n in ranked[:MAX_REASONS]:
                segments.append({"kind": "quarantined", "label": f"quarantined: {reason}",
                                 "rows": n})
            rest = sum(n for _, n in ranked[MAX_REASONS:])
            if rest:
                segments.append({"kind": "quarantined", "label": "quarantined: other reasons",
                                 "rows": rest})
        elif quarantined:
            segments.append({"kind": "quarantined", "label": "quarantined (reason not on file)",
                             "rows": quarantined})
        flows.append({
            "source": source, "table": table, "rows_in": int(ledger.get("rows_in") or 0),
            "published": int(ledger.get("published") or 0), "quarantined": quarantined,
            "merged_duplicates": merged,
            "removed": sum(int(n) for n in (ledger.get("removed_by_rule") or {}).values()),
            "balanced": bool(ledger.get("balanced")),
            "segments": [s for s in segments if s["rows"]],
        })
    return flows


def phase_timings(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``[{phase, seconds}]`` in the order the phases ran (empty when none was timed)."""
    return [{"phase": k, "seconds": float(v)}
            for k, v in (summary.get("phase_seconds") or {}).items() if v is not None]


def check_rows(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per constraint of every table's gate, with its status and message. A gate
    that recorded only its failures (a DQDL ruleset) lists those."""
    db = _database(summary)
    out = []
    for table, gate in (summary.get("checks") or {}).items():
        if not gate:
            continue
        rows = gate.get("constraints")
        if rows is None:
            rows = [{"check": gate.get("suite"), "check_level": "", "constraint": c,
                     "constraint_status": "Failure", "constraint_message": ""}
                    for c in gate.get("failed_constraints") or ()]
        for r in rows:
            out.append({"table": qualified(db, table), "suite": gate.get("suite"),
                        "check": r.get("check"), "level": r.get("check_level"),
                        "constraint": r.get("constraint"),
                        "status": r.get("constraint_status"),
                        "message": r.get("constraint_message") or ""})
    return out


# --------------------------------------------------------------------------- tables


@dataclass
class TableState:
    """A table as the runs published it: its versions over time and its current partitions."""

    name: str
    location: str = ""
    format: str = ""
    mode: str = ""
    columns: list[dict[str, Any]] = field(default_factory=list)
    partition_keys: list[dict[str, Any]] = field(default_factory=list)
    versions: list[dict[str, Any]] = field(default_factory=list)
    partitions: dict[str, dict[str, Any]] = field(default_factory=dict)
    last_run: str | None = None
    last_status: str | None = None

    @property
    def current_versions(self) -> list[str]:
        if self.partitions:
            return sorted({p["version"] for p in self.partitions.values()})
        return [self.versions[-1]["version"]] if self.versions else []

    @property
    def rows(self) -> int | None:
        """Rows of the current partitions; without partition statistics (an unpartitioned
        table, a Delta or Iceberg commit) the rows of the last version."""
        if not self.versions:
            return None
        if self.partitions:
            return sum(int(p["rows"]) for p in self.partitions.values())
        return int(self.versions[-1]["rows"])

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "location": self.location, "format": self.format,
                "mode": self.mode, "columns": self.columns,
                "partition_keys": self.partition_keys, "versions": self.versions,
                "partitions": [{"partition": k, **v} for k, v in sorted(self.partitions.items())],
                "current_versions": self.current_versions, "rows": self.rows,
                "last_run": self.last_run, "last_status": self.last_status}


def table_states(summaries: Iterable[Mapping[str, Any]]) -> dict[str, TableState]:
    """Replay the runs' publishes (oldest first) into each table's state: an ``overwrite``
    replaces every partition, ``overwrite_partitions`` and ``append`` replace the partitions
    they wrote (a version holds the whole of each partition it writes)."""
    states: dict[str, TableState] = {}
    ordered = sorted(summaries, key=lambda s: str(s.get("run_id") or ""))
    for s in ordered:
        run_id = str(s.get("run_id") or "")
        for name in run_tables(s):
            state = states.setdefault(name, TableState(name))
            state.last_run, state.last_status = run_id, s.get("status")
        for name, pub in published_tables(s).items():
            state = states[name]
            state.location = pub.get("location") or state.location
            state.format = pub.get("format") or state.format or "parquet"
            state.mode = pub.get("mode") or pub.get("operation") or state.mode
            state.columns = list(pub.get("columns") or state.columns)
            state.partition_keys = list(pub.get("partition_keys") or state.partition_keys)
            stats = pub.get("partition_stats") or []
            version = str(pub.get("version") or "")
            state.versions.append({
                "version": version, "run_id": run_id, "started": run_started(run_id),
                "rows": int(pub.get("rows") or 0),
                "mode": pub.get("mode") or pub.get("operation") or "",
                "partitions": len(stats) or len(pub.get("partitions") or ()),
                "files": int(pub.get("files") or sum(int(p.get("files") or 0)
                                                     for p in stats))})
            if pub.get("mode") == "overwrite":
                state.partitions = {}
            for p in stats:
                state.partitions[str(p.get("partition"))] = {
                    "rows": int(p.get("rows") or 0), "files": int(p.get("files") or 0),
                    "version": version, "run_id": run_id}
    return states


def table_row(state: TableState) -> dict[str, Any]:
    """One line of the tables index."""
    return {"name": state.name, "location": state.location, "format": state.format or "-",
            "partitions": len(state.partitions) if state.partitions else None,
            "partition_keys": [k.get("name") for k in state.partition_keys],
            "current_versions": state.current_versions, "rows": state.rows,
            "last_run": state.last_run, "last_status": state.last_status,
            "columns": state.columns}


# --------------------------------------------------------------------------- metrics


def metrics_uri(lake: Lake) -> str:
    return lake.path("metadata", "quality", "metrics.json")


def load_metrics(lake: Lake) -> list[dict[str, Any]]:
    """Every success metric of the lake's repository with its tags (empty when none)."""
    from lakeforge.quality_repository import FileSystemMetricsRepository

    uri = metrics_uri(lake)
    if not io.uri_exists(uri):
        return []
    repo = FileSystemMetricsRepository(None, uri)
    return repo.load().getSuccessMetricsAsJson()


def metric_series(metrics: Iterable[Mapping[str, Any]], table: str
                  ) -> list[dict[str, Any]]:
    """The metrics of ``table`` (``database.table`` or the bare name its gate tags) as one
    series per metric over time: ``[{metric, points: [{time, value, run_id, anomaly}]}]``.

    A point is an anomaly when Deequ's BatchNormalStrategy, trained on the points before it,
    finds it beyond 3 standard deviations of their mean (judged from the
    :data:`MIN_HISTORY`-th point on; a metric constant so far flags any change)."""
    from quality.anomaly_detection import BatchNormalStrategy

    bare = table.split(".")[-1]
    groups: dict[str, list[dict[str, Any]]] = {}
    for m in metrics:
        if m.get("table") not in (table, bare):
            continue
        label = f"{m.get('name')} ({m.get('instance')})" if m.get("instance") not in (
            None, "*", "") else str(m.get("name"))
        groups.setdefault(label, []).append({
            "time": datetime.fromtimestamp(int(m.get("dataset_date") or 0) / 1000,
                                           tz=timezone.utc).isoformat().replace("+00:00", "Z"),
            "ms": int(m.get("dataset_date") or 0), "value": float(m["value"]),
            "run_id": m.get("run_id") or "", "anomaly": False, "detail": ""})
    series = []
    strategy = BatchNormalStrategy()
    for label, points in sorted(groups.items()):
        points.sort(key=lambda p: p["ms"])
        values = [p["value"] for p in points]
        for i in range(MIN_HISTORY, len(points)):
            for _, anomaly in strategy.detect(values[:i + 1], (i, i + 1)):
                points[i]["anomaly"] = True
                points[i]["detail"] = anomaly.detail or ""
        series.append({"metric": label, "points": points,
                       "anomalies": sum(p["anomaly"] for p in points)})
    return series


# --------------------------------------------------------------------------- matching


def match_view(summary: Mapping[str, Any]) -> dict[str, Any] | None:
    """What the run recorded about its matching (``summary["matching"]``, written by
    ``Steps.record_matching``), or None when the run matched nothing."""
    m = summary.get("matching")
    if not m:
        return None
    return {
        "source": m.get("source"), "table": qualified(_database(summary), m.get("table") or ""),
        "rows": m.get("rows"), "clusters": m.get("clusters"),
        "candidate_pairs": m.get("candidate_pairs"),
        "edges_above_threshold": m.get("edges_above_threshold"),
        "threshold": m.get("threshold"), "model": m.get("model") or {},
        "score_histogram": list(m.get("score_histogram") or ()),
        "cluster_sizes": list(m.get("cluster_sizes") or ()),
        "evaluation": m.get("evaluation"), "seconds": m.get("seconds") or {},
        "blocking_rule_pairs": m.get("blocking_rule_pairs") or {},
    }
