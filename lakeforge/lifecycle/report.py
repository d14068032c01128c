"""Run ids, the run summary (JSON + HTML, secrets redacted) and its one-screen text form."""

from __future__ import annotations

import html
import json
import time
import uuid
from collections.abc import Mapping
from typing import Any

from lakeforge.paths import Lake
from lakeforge.redact import redact


def new_run_id() -> str:
    """A sortable, unique run id: UTC time to the second plus 6 hex digits
    (``20240501T120000Z_a1b2c3``); safe in folder names and version ids."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "_" + uuid.uuid4().hex[:6]


def summary_uris(lake: Lake, run_id: str) -> dict[str, str]:
    folder = lake.path("metadata", "runs", run_id)
    return {"json": f"{folder}/run_summary.json", "html": f"{folder}/run_summary.html"}


def write_summary(lake: Lake, summary: Mapping[str, Any], quality_html: str = ""
                  ) -> dict[str, str]:
    """Write ``run_summary.json`` and ``run_summary.html`` under ``metadata/runs/<run_id>``;
    nothing secret (config, env, URIs) reaches the files."""
    from lakeforge.io import write_text

    doc = redact(dict(summary))
    uris = summary_uris(lake, doc["run_id"])
    write_text(uris["json"], json.dumps(doc, indent=2, default=str))
    # Every value is escaped: the job name comes from --JOB_NAME, never validated.
    rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td><pre>"
                   f"{html.escape(json.dumps(v, indent=1, default=str))}</pre></td></tr>"
                   for k, v in doc.items())
    title = html.escape(f"{doc.get('job')} {doc['run_id']}")
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head>"
            f"<body><h1>Run {html.escape(str(doc['run_id']))}"
            f"</h1><table border='1' cellpadding='4'>{rows}</table>"
            f"<h2>Quality</h2>{quality_html}</body></html>")
    write_text(uris["html"], page)
    return uris


def render_console(summary: Mapping[str, Any]) -> list[str]:
    """The run on one screen: each phase with its key numbers, then where to look next."""
    lines = [f"{summary.get('job')} run {summary.get('run_id')}: {summary.get('status')}"]
    ingest = summary.get("ingest") or {}
    if ingest:
        for name, s in ingest.items():
            lines.append(f"  read       {name:<14} {s['rows_in']:>8} rows  "
                         f"{s['bad_rows']:>5} bad  {s['file_issues']:>3} file issues  "
                         f"({s['files']} new files, {len(s['partitions'])} partitions)")
    rows = summary.get("rows") or {}
    for table, ledger in rows.items():
        removed = sum(ledger.get("removed_by_rule", {}).values())
        lines.append(f"  ledger     {table:<14} {ledger['rows_in']:>8} in = "
                     f"{ledger['published']} published + {ledger['quarantined']} quarantined"
                     f" + {ledger['merged_duplicates']} duplicates merged + {removed} removed"
                     f"{'' if ledger.get('balanced') else '  NOT BALANCED'}")
    for table, gate in (summary.get("checks") or {}).items():
        lines.append(f"  audit      {table:<14} {gate['passed_constraints']} checks passed, "
                     f"{len(gate['failed_constraints'])} failed, {gate['rows_failed']} rows "
                     "quarantined")
    for table, pub in (summary.get("published") or {}).items():
        parts = pub.get("partitions")
        where = f"{len(parts)} partitions" if parts else "unpartitioned"
        lines.append(f"  publish    {table:<14} {pub['rows']:>8} rows  {where}")
    feats = summary.get("features") or {}
    if feats:
        lines.append(f"  features   {feats.get('name', ''):<14} {feats.get('n_features')} "
                     f"features  splits {feats.get('splits')}")
    if "seconds" in summary:
        lines.append(f"  time       {summary['seconds']} s")
    files = summary.get("summary_files") or {}
    if files:
        lines.append(f"  summary    {files.get('json')} (and .html)")
    if summary.get("quarantine"):
        lines.append(f"  quarantine {', '.join(summary['quarantine'])}")
    if summary.get("site"):
        lines.append(f"  site       {summary['site']}  (runs, tables, quality, matches)")
    return lines
