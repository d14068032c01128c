"""The site's charts: Altair (Vega-Lite) specs drawn to SVG by vl-convert, inlined in pages.

Vega-Lite is the grammar Splink draws its own charts in, so the match-weight chart is Splink's
(``Settings.match_weights_chart``) and every other chart shares its look. vl-convert renders a
spec to SVG in-process (a bundled Deno + Vega, no browser, no network): the pages carry the
charts as inline SVG and open offline, from a file or an S3 static website.

Each function takes plain rows and returns an SVG string, or ``""`` when there is nothing to
draw (the page then says so in words).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

log = logging.getLogger(__name__)

# One palette for the meaning of a row or a status, on every page.
KIND_COLOURS = {"published": "#2e7d32", "merged": "#1565c0", "removed": "#8e8e8e",
                "quarantined": "#c62828"}
WIDTH = 640


def to_svg(chart: Any) -> str:
    """An Altair chart (or a Vega-Lite dict) as an SVG document fragment."""
    import vl_convert as vlc

    spec = chart if isinstance(chart, Mapping) else chart.to_dict()
    svg: str = vlc.vegalite_to_svg(dict(spec))
    return svg


def _alt() -> Any:
    import altair as alt

    return alt


def row_flow_chart(flows: Sequence[Mapping[str, Any]]) -> str:
    """Per ledger table, one bar of its rows in split into where they went (published,
    duplicates merged, removed per rule, quarantined per reason)."""
    rows = [{"table": f["table"], "where": s["label"], "kind": s["kind"], "rows": s["rows"],
             "order": i}
            for f in flows for i, s in enumerate(f["segments"])]
    if not rows:
        return ""
    alt = _alt()
    labels: dict[str, str] = {}
    for r in rows:
        labels.setdefault(r["where"], r["kind"])
    shade: dict[str, int] = {}
    colours = []
    for kind in labels.values():
        n = shade[kind] = shade.get(kind, -1) + 1
        colours.append(_shade(KIND_COLOURS.get(kind, "#444444"), n))
    bars = alt.Chart(alt.Data(values=rows)).mark_bar(stroke="white").encode(
        y=alt.Y("table:N", title=None),
        x=alt.X("sum(rows):Q", title="rows in"),
        color=alt.Color("where:N", title="where the rows went",
                        scale=alt.Scale(domain=list(labels), range=colours),
                        legend=alt.Legend(orient="bottom", columns=2, labelLimit=420)),
        order=alt.Order("order:Q"),
        tooltip=["table:N", "where:N", "rows:Q"],
    ).properties(width=WIDTH, height=max(40, 36 * len(flows)),
                 title="Row flow: rows in -> published / merged / removed / quarantined")
    return to_svg(bars)


def _shade(colour: str, n: int) -> str:
    """``colour`` lightened a step per ``n`` (the 2nd, 3rd... reason of one kind)."""
    rgb = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    mix = min(0.7, 0.22 * n)
    return "#" + "".join(f"{round(c + (255 - c) * mix):02x}" for c in rgb)


def phase_chart(timings: Sequence[Mapping[str, Any]]) -> str:
    """Seconds per phase (write, audit, publish, features), in the order they ran."""
    if not timings:
        return ""
    alt = _alt()
    order = [t["phase"] for t in timings]
    base = alt.Chart(alt.Data(values=list(timings))).encode(
        y=alt.Y("phase:N", sort=order, title=None),
        x=alt.X("seconds:Q", title="seconds"))
    chart = (base.mark_bar(color="#5c6bc0")
             + base.mark_text(align="left", dx=3).encode(text=alt.Text("seconds:Q",
                                                                        format=".1f")))
    return to_svg(chart.properties(width=WIDTH, height=30 * len(timings),
                                   title="Time per phase"))


def versions_chart(versions: Sequence[Mapping[str, Any]]) -> str:
    """Rows of each published version over time."""
    if not versions:
        return ""
    alt = _alt()
    data = [{"started": v.get("started") or v["version"], "rows": v["rows"],
             "version": v["version"], "run": v.get("run_id") or ""} for v in versions]
    base = alt.Chart(alt.Data(values=data)).encode(
        x=alt.X("started:T", title="published (UTC)",
                axis=alt.Axis(format="%Y-%m-%d %H:%M", labelAngle=-20)),
        y=alt.Y("rows:Q", title="rows written"),
        tooltip=["version:N", "run:N", "rows:Q"])
    chart = base.mark_line(color="#5c6bc0") + base.mark_point(filled=True, size=60,
                                                              color="#5c6bc0")
    return to_svg(chart.properties(width=WIDTH, height=160, title="Versions over time"))


def partitions_chart(partitions: Sequence[Mapping[str, Any]]) -> str:
    """Rows and files of each current partition."""
    if not partitions:
        return ""
    alt = _alt()
    data = [{"partition": p["partition"], "measure": m, "value": p[m]}
            for p in partitions for m in ("rows", "files")]
    chart = alt.Chart(alt.Data(values=data)).mark_bar(color="#26a69a").encode(
        x=alt.X("partition:N", title=None, sort=None),
        y=alt.Y("value:Q", title=None),
        row=alt.Row("measure:N", title=None),
        tooltip=["partition:N", "measure:N", "value:Q"],
    ).properties(width=WIDTH, height=110).resolve_scale(y="independent")
    return to_svg(chart.properties(title="Rows and files per partition"))


def metrics_chart(series: Sequence[Mapping[str, Any]]) -> str:
    """One small trend chart per metric, two a row, drawn in one SVG (one render for a
    table's every metric keeps the lifecycle's site update cheap)."""
    charts = [c for c in (_metric_chart(s) for s in series) if c is not None]
    if not charts:
        return ""
    return to_svg(_alt().concat(*charts, columns=2))


def _metric_chart(series: Mapping[str, Any]) -> Any:
    """One metric's values over the runs, anomalies in red (None without points)."""
    points = series.get("points") or []
    if not points:
        return None
    alt = _alt()
    data = [{"time": p["time"], "value": p["value"], "run": p["run_id"],
             "anomaly": "anomaly" if p["anomaly"] else "normal"} for p in points]
    base = alt.Chart(alt.Data(values=data)).encode(
        x=alt.X("time:T", title=None, axis=alt.Axis(format="%m-%d %H:%M", labelAngle=-20)),
        y=alt.Y("value:Q", title=None,
                                               scale=alt.Scale(zero=False)),
        tooltip=["time:T", "value:Q", "run:N", "anomaly:N"])
    chart = base.mark_line(color="#90a4ae") + base.mark_point(filled=True, size=70).encode(
        color=alt.Color("anomaly:N", scale=alt.Scale(domain=["normal", "anomaly"],
                                                     range=["#5c6bc0", "#d32f2f"]),
                        legend=alt.Legend(title=None, orient="right")),
        shape=alt.Shape("anomaly:N", scale=alt.Scale(domain=["normal", "anomaly"],
                                                     range=["circle", "diamond"]),
                        legend=None))
    return chart.properties(width=300, height=120, title=str(series["metric"]))


def score_histogram_chart(histogram: Sequence[Mapping[str, Any]], threshold: float | None
                          ) -> str:
    """Records per match-confidence bin, with the run's threshold as a rule."""
    if not histogram:
        return ""
    alt = _alt()
    bars = alt.Chart(alt.Data(values=list(histogram))).mark_bar(color="#5c6bc0").encode(
        x=alt.X("bin_start:Q", bin="binned", title="match confidence score",
                scale=alt.Scale(domain=[0, 1])),
        x2="bin_end:Q", y=alt.Y("records:Q", title="records"),
        tooltip=["bin_start:Q", "bin_end:Q", "records:Q"])
    layers = [bars]
    if threshold is not None:
        layers.append(alt.Chart(alt.Data(values=[{"t": threshold}])).mark_rule(
            color="#d32f2f", strokeDash=[4, 3]).encode(x="t:Q"))
    return to_svg(alt.layer(*layers).properties(
        width=WIDTH, height=180, title="Distribution of match confidence scores"))


def cluster_sizes_chart(sizes: Sequence[Mapping[str, Any]]) -> str:
    """Entities per size (records per entity)."""
    if not sizes:
        return ""
    alt = _alt()
    chart = alt.Chart(alt.Data(values=list(sizes))).mark_bar(color="#26a69a").encode(
        x=alt.X("size:O", title="records per entity"),
        y=alt.Y("entities:Q", title="entities", scale=alt.Scale(type="symlog")),
        tooltip=["size:O", "entities:Q"])
    return to_svg(chart.properties(width=WIDTH, height=180, title="Entity (cluster) sizes"))


def match_weights_chart(splink_settings: Mapping[str, Any]) -> str:
    """Splink's own match-weight chart of a trained model (its Settings, no linker, no data),
    drawn to SVG; ``""`` for a model without comparisons (nothing was trained)."""
    if not splink_settings or not splink_settings.get("comparisons"):
        return ""
    from splink.internals.settings_creator import SettingsCreator

    settings = SettingsCreator.from_path_or_dict(dict(splink_settings)).get_settings(
        str(splink_settings.get("sql_dialect") or "spark"))
    return to_svg(settings.match_weights_chart().chart_dict)
