"""Render and write the site's pages (Jinja2 templates in ``templates/``), all or only the
ones a run changed.

Layout under ``<lake>/metadata/site/`` (local or s3://; links are relative, so the folder
opens from a file or an S3 static website)::

    index.html                 runs and tables
    runs/<run_id>.html         one per run
    tables/<db>.<table>.html   one per table
    matches/<run_id>.html      one per run that matched records
    site.json                  what the index and the table pages need of every run, so that
                               an update reads one new summary, not all of them
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from lakeforge import io
from lakeforge.paths import Lake
from lakeforge.redact import redact
from lakeforge.site import charts, collect

log = logging.getLogger(__name__)

STATE_FILE = "site.json"
STATE_FORMAT = 1
# Keys of a summary the run page reads that a run may lack (a failed or older run).
_RUN_KEYS = ("env", "mode", "ingest", "bookmark_option", "bookmark_range", "new_files",
             "reprocessed_partitions", "bookmark_committed", "features")


def site_root(lake: Lake) -> str:
    return lake.path("metadata", "site")


def index_uri(lake: Lake) -> str:
    return f"{site_root(lake)}/index.html"


@lru_cache(maxsize=1)
def _environment() -> Any:
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(loader=PackageLoader("lakeforge.site", "templates"),
                      autoescape=select_autoescape(["html"]), undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    return env


def _render(template: str, **values: Any) -> str:
    return str(_environment().get_template(template).render(**values))


def _slim(summary: Mapping[str, Any]) -> dict[str, Any]:
    """What :func:`collect.table_states` and the index need of a run (kept in site.json)."""
    return {"run_id": summary.get("run_id"), "status": summary.get("status"),
            "config": {"database": (summary.get("config") or {}).get("database")},
            "published": summary.get("published") or {},
            "checks": {t: {} for t in (summary.get("checks") or {})},
            "rows": {k: {"table": (v or {}).get("table")}
                     for k, v in (summary.get("rows") or {}).items()},
            "row": collect.run_row(summary)}


def _load_state(lake: Lake) -> dict[str, Any]:
    uri = f"{site_root(lake)}/{STATE_FILE}"
    if not io.uri_exists(uri):
        return {}
    try:
        doc = json.loads(io.read_text(uri))
    except json.JSONDecodeError:
        log.warning("%s is not valid JSON; the site is rebuilt from the run summaries", uri)
        return {}
    if doc.get("format") != STATE_FORMAT:
        return {}
    return dict(doc.get("runs") or {})


def _common(lake: Lake, root: str) -> dict[str, Any]:
    built = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    return {"root": root, "lake_root": lake.root, "built": built}


def render_run_page(lake: Lake, summary: Mapping[str, Any],
                    quarantine: Iterable[collect.QuarantineFolder]) -> str:
    """The run page: status banner, row flow, phase timings, tables, checks, quarantine
    samples, bookmark window, links to the raw JSON, the config folded away."""
    folders = list(quarantine)
    flows = collect.row_flow(summary, folders)
    timings = collect.phase_timings(summary)
    run_id = str(summary.get("run_id"))
    config = redact({"config": summary.get("config"), "env_config": summary.get("env_config")})
    shown = {**dict.fromkeys(_RUN_KEYS), **summary}
    return _render(
        "run.html", **_common(lake, "../"), s=shown, row=collect.run_row(summary),
        flows=flows, timings=timings, tables=collect.run_tables(summary),
        published=collect.published_tables(summary), checks=collect.check_rows(summary),
        quarantine=folders, config_json=json.dumps(config, indent=2, default=str),
        raw_json=f"../../runs/{run_id}/{collect.SUMMARY_FILE}",
        raw_html=f"../../runs/{run_id}/run_summary.html",
        charts={"row_flow": charts.row_flow_chart(flows), "phases": charts.phase_chart(timings)})


def render_table_page(lake: Lake, state: collect.TableState,
                      metrics: Iterable[Mapping[str, Any]]) -> str:
    """The table page: facts, schema, versions over time, partitions, metric trends."""
    t = state.to_dict()
    series = collect.metric_series(metrics, state.name)
    return _render(
        "table.html", **_common(lake, "../"), t=t, series=series,
        charts={"versions": charts.versions_chart(t["versions"]),
                "partitions": charts.partitions_chart(t["partitions"]),
                "metrics": charts.metrics_chart(series)})


def render_match_page(lake: Lake, summary: Mapping[str, Any]) -> str | None:
    """The match page of a run that matched records (None otherwise): Splink's match-weight
    chart, the score distribution, entity sizes, precision/recall against ground truth."""
    m = collect.match_view(summary)
    if m is None:
        return None
    from transforms.dedup import MatchModel

    settings = (m["model"] or {}).get("splink_settings") or {}
    levels = MatchModel.from_dict(m["model"]).describe() if m["model"] else []
    return _render(
        "match.html", **_common(lake, "../"), run_id=summary.get("run_id"), m=m,
        levels=levels,
        charts={"weights": charts.match_weights_chart(settings),
                "scores": charts.score_histogram_chart(m["score_histogram"], m["threshold"]),
                "clusters": charts.cluster_sizes_chart(m["cluster_sizes"])})


def write_site(lake: Lake, *, run_id: str | None = None, full: bool = False) -> str:
    """Write the site and return the index's URI.

    ``full`` rebuilds every page. Otherwise only what changed: the page of ``run_id`` (and
    its match page), the pages of runs the site has not shown yet, the pages of the tables
    those runs touched, and the index; other runs' pages are left as they are."""
    root = site_root(lake)
    known = {} if full else _load_state(lake)
    on_storage = collect.list_run_ids(lake)
    todo = [r for r in on_storage if full or r not in known or r == run_id]
    if run_id is not None and run_id not in on_storage:
        log.warning("run %s has no summary under %s; its page is not written", run_id,
                    lake.path("metadata", "runs"))
    state = {r: known[r] for r in on_storage if r in known}
    touched: set[str] = set()
    for r in todo:
        summary = collect.load_summary(lake, r)
        if summary is None:
            continue
        folders = collect.read_quarantine(summary.get("quarantine") or ())
        io.write_text(f"{root}/runs/{r}.html", render_run_page(lake, summary, folders))
        page = render_match_page(lake, summary)
        if page is not None:
            io.write_text(f"{root}/matches/{r}.html", page)
        state[r] = _slim(summary)
        touched.update(collect.run_tables(summary))
    ordered = [state[r] for r in sorted(state)]
    tables = collect.table_states(ordered)
    if full:
        touched = set(tables)
    metrics = collect.load_metrics(lake) if touched else []
    for name in sorted(touched & set(tables)):
        io.write_text(f"{root}/tables/{name}.html",
                      render_table_page(lake, tables[name], metrics))
    runs = [s["row"] for s in reversed(ordered)]
    io.write_text(f"{root}/index.html", _render(
        "index.html", **_common(lake, ""), runs=runs,
        tables=[collect.table_row(tables[t]) for t in sorted(tables)]))
    io.write_text(f"{root}/{STATE_FILE}", json.dumps(
        {"format": STATE_FORMAT, "runs": state}, default=str))
    log.info("lake site: %d run page(s) and %d table page(s) written, index %s", len(todo),
             len(touched & set(tables)), index_uri(lake))
    return index_uri(lake)
