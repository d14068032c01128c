"""The HTML report of a verification run, rendered to a string (writing it is the caller's job).

Example::

    page = html_report(result, "Quality: orders", history=repo.load().getSuccessMetricsAsJson())
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from typing import Any

from quality.analyzers import AnalyzerContext
from quality.results import VerificationResult


def html_report(result: VerificationResult, title: str,
                history: Sequence[Mapping[str, Any]] | None = None) -> str:
    """A self-contained HTML page: checks, metrics and (from the repository) each metric's
    trend as an inline SVG line."""
    esc = html.escape
    rows = result.check_rows()
    check_html = "".join(
        f"<tr class='{esc(r['constraint_status'])}'><td>{esc(r['check'])}</td>"
        f"<td>{esc(r['check_level'])}</td><td>{esc(r['check_status'])}</td>"
        f"<td><code>{esc(r['constraint'])}</code></td><td>{esc(r['constraint_status'])}</td>"
        f"<td>{esc(r['constraint_message'])}</td></tr>" for r in rows)
    metrics = AnalyzerContext(result.metrics).success_metrics()
    trends: dict[tuple[str, str, str], list[tuple[int, float]]] = {}
    for h in history or []:
        trends.setdefault((h["entity"], h["instance"], h["name"]), []).append(
            (int(h["dataset_date"]), float(h["value"])))
    metric_html = "".join(
        f"<tr><td>{esc(m['entity'])}</td><td>{esc(m['instance'])}</td><td>{esc(m['name'])}</td>"
        f"<td>{m['value']:.6g}</td><td>"
        f"{_sparkline(trends.get((m['entity'], m['instance'], m['name']), []))}</td></tr>"
        for m in metrics)
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{esc(title)}</title><style>body{{font-family:sans-serif;margin:2em}}"
        "table{border-collapse:collapse;margin-bottom:2em}td,th{border:1px solid #ccc;"
        "padding:4px 8px;font-size:13px}tr.Failure{background:#fde2e2}"
        "tr.Success{background:#e6f4ea}</style></head><body>"
        f"<h1>{esc(title)}</h1><p>Status: <b>{esc(result.status.value)}</b></p>"
        "<h2>Checks</h2><table><tr><th>check</th><th>level</th><th>check status</th>"
        "<th>constraint</th><th>status</th><th>message</th></tr>"
        f"{check_html}</table><h2>Metrics</h2><table><tr><th>entity</th><th>instance</th>"
        f"<th>name</th><th>value</th><th>trend</th></tr>{metric_html}</table>"
        f"<script type='application/json' id='data'>{esc(json.dumps(rows))}</script>"
        "</body></html>")


def _sparkline(points: list[tuple[int, float]]) -> str:
    if len(points) < 2:
        return ""
    points = sorted(points)
    values = [v for _, v in points]
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = 120 / (len(points) - 1)
    coords = " ".join(f"{i * step:.1f},{28 - (v - low) / span * 24:.1f}"
                      for i, v in enumerate(values))
    return (f"<svg width='124' height='30'><polyline fill='none' stroke='#1a73e8' "
            f"stroke-width='1.5' points='{coords}'/></svg>")


__all__ = ["html_report"]
