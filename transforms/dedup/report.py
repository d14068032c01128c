"""A self-contained HTML report of one matching run (no JavaScript, no external assets)."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from pyspark.sql import functions as F  # noqa: N812

from transforms.dedup.settings import MATCH_ID

if TYPE_CHECKING:
    from transforms.dedup.evaluation import MatchEvaluation
    from transforms.dedup.inference import MatchRun

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;font-size:13px}
th{background:#f0f0f0} td.n{text-align:right;font-variant-numeric:tabular-nums}
h2{margin-top:1.5em;border-bottom:1px solid #ddd}
"""


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f'<td class="n">{value:.4g}</td>'
    if isinstance(value, int):
        return f'<td class="n">{value:,}</td>'
    return f"<td>{html.escape('' if value is None else str(value))}</td>"


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def render_report(
    run: MatchRun,
    *,
    title: str,
    primary_key: str,
    evaluation: MatchEvaluation | None = None,
    example_clusters: int = 20,
) -> str:
    """HTML summary: counts, configuration, model weights, cluster sizes, example clusters."""
    result = run.result
    sizes = (
        result.groupBy(MATCH_ID).count().groupBy(F.col("count").alias("size")).count()
        .orderBy("size").collect()
    )
    biggest = [
        r[MATCH_ID] for r in result.groupBy(MATCH_ID).count().filter("count > 1")
        .orderBy(F.desc("count"), MATCH_ID).limit(example_clusters).collect()
    ]
    examples = (
        result.filter(F.col(MATCH_ID).isin(biggest)).orderBy(MATCH_ID, primary_key).collect()
        if biggest else []
    )
    total_pairs = run.rows * (run.rows - 1) // 2
    summary = [
        ("records", run.rows),
        ("entities (distinct match_id)", run.clusters),
        ("candidate pairs scored", run.candidate_pairs),
        ("all possible pairs n(n-1)/2", total_pairs),
        ("share of pairs scored", run.candidate_pairs / total_pairs if total_pairs else 0.0),
        ("pairs at or above threshold", run.edges_above_threshold),
        ("match probability threshold", run.threshold_match_probability),
        ("probability two random records match",
         float(run.model.splink_settings.get("probability_two_random_records_match", 0.0))),
    ] + [(f"seconds: {k}", round(v, 1)) for k, v in run.seconds.items()]
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>",
        "<h2>Summary</h2>", _table(["measure", "value"], summary),
    ]
    if evaluation is not None:
        parts += ["<h2>Accuracy against the truth column</h2>",
                  _table(["measure", "value"], list(evaluation.as_dict().items()))]
    parts += [
        "<h2>Compared columns</h2>",
        _table(["input column", "compared as", "kind"],
               [(c.source, c.name, c.kind) for c in run.model.columns]),
        "<h2>Blocking rules</h2>",
        _table(["rule", "pairs (measured before training; -1 = not measured)"],
               list(run.blocking_rule_pairs.items())),
        "<h2>Model: m and u probabilities per comparison level</h2>",
        _table(["comparison", "level", "m", "u", "match weight"],
               [(d["comparison"], d["level"], d["m_probability"], d["u_probability"],
                 d["match_weight"]) for d in run.model.describe()]),
        "<h2>Entity sizes</h2>",
        _table(["records per entity", "entities"], [(r["size"], r["count"]) for r in sizes]),
    ]
    if run.model.notes:
        parts += ["<h2>Training notes</h2><ul>"]
        parts += [f"<li>{html.escape(n)}</li>" for n in run.model.notes]
        parts += ["</ul>"]
    if examples:
        cols = list(examples[0].asDict().keys())
        parts += [f"<h2>The {len(biggest)} largest entities</h2>",
                  _table(cols, [[r[c] for c in cols] for r in examples])]
    parts.append("</body></html>")
    return "\n".join(parts)
