"""Declarative suites (conf/quality/*.yaml), the quality gate for jobs and the HTML report.

Suite format::

    name: orders
    checks:
      - description: orders integrity
        level: Error                      # Error (default) or Warning
        constraints:
          - hasSize: {assertion: "> 0"}
          - isComplete: {column: order_id}
          - hasCompleteness: {column: email, assertion: ">= 0.95", hint: "emails go missing"}
          - isContainedIn: {column: status, allowed_values: [new, paid]}
          - isContainedIn: {column: amount, lowerBound: 0, upperBound: 500}
          - hasMean: {column: amount, assertion: "between 200 and 300", where: "amount > 0"}

Each constraint is one Check method (Deequ's names) with its keyword arguments; ``assertion`` is
``"<op> <number>"`` (``==, !=, >, >=, <, <=``), ``"between A and B"`` or a bare number (equality);
``where`` filters the constraint. Unknown methods or keys are errors naming the file and entry.

The gate runs a suite on a DataFrame: failing rows (row-level results of the failed constraints)
go to the lake's quarantine zone with the names of the constraints they fail, and an Error-level
failure raises :class:`QualityGateError`, which stops the publish.
"""

from __future__ import annotations

import html
import inspect
import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyspark.sql import functions as F

from lakeforge.config import conf_dir, read_yaml
from lakeforge.errors import ConfigError, LakeforgeError
from quality.checks import Check, CheckLevel, CheckStatus, ConstrainableDataTypes, ConstraintStatus
from quality.verification import VerificationResult, VerificationSuite

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from lakeforge.paths import Lake
    from quality.repository import MetricsRepository, ResultKey

log = logging.getLogger(__name__)

_PREFIXES = ("has", "is", "are", "have", "contains", "satisfies")
_ASSERTION = re.compile(r"^\s*(==|=|!=|>=|<=|>|<)\s*(-?[0-9.eE+-]+)\s*$")
_BETWEEN = re.compile(r"^\s*between\s+(-?[0-9.eE+-]+)\s+and\s+(-?[0-9.eE+-]+)\s*$", re.I)


class QualityGateError(LakeforgeError):
    """An Error-level check failed: the data must not be published."""


def parse_assertion(text: Any, where: str) -> Callable[[Any], bool]:
    """``"> 0"``, ``">= 0.95"``, ``"between 1 and 5"`` or a number -> a predicate."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        target = float(text)
        return lambda x: x == target
    if isinstance(text, str):
        m = _ASSERTION.match(text)
        if m:
            op, value = m.group(1), float(m.group(2))
            ops: dict[str, Callable[[Any], bool]] = {
                "==": lambda x: x == value, "=": lambda x: x == value,
                "!=": lambda x: x != value, ">": lambda x: x > value,
                ">=": lambda x: x >= value, "<": lambda x: x < value,
                "<=": lambda x: x <= value}
            return ops[op]
        m = _BETWEEN.match(text)
        if m:
            low, high = float(m.group(1)), float(m.group(2))
            return lambda x: low <= x <= high
    raise ConfigError(f"{where}: assertion {text!r} is not understood; use e.g. '>= 0.95', "
                      "'== 1', 'between 10 and 20' or a number")


def _constraint_methods() -> set[str]:
    return {name for name, _ in inspect.getmembers(Check, inspect.isfunction)
            if name.startswith(_PREFIXES) and not name.startswith("is_")}


def checks_from_mapping(data: Mapping[str, Any], source: str,
                        spark: SparkSession | None = None) -> list[Check]:
    """Build the Checks of a suite mapping; errors name ``source`` and the entry."""
    allowed = _constraint_methods()
    raw_checks = data.get("checks")
    if not isinstance(raw_checks, list) or not raw_checks:
        raise ConfigError(f"{source}: 'checks' must be a non-empty list of checks")
    unknown_top = sorted(set(data) - {"name", "checks", "description"})
    if unknown_top:
        raise ConfigError(f"{source}: unknown key(s) {unknown_top}; allowed: name, description, "
                          "checks")
    checks = []
    for i, raw in enumerate(raw_checks):
        where = f"{source}: checks[{i}]"
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{where} must be a mapping with description, level, constraints")
        extra = sorted(set(raw) - {"description", "level", "constraints"})
        if extra:
            raise ConfigError(f"{where}: unknown key(s) {extra}")
        level = str(raw.get("level", "Error"))
        if level not in ("Error", "Warning"):
            raise ConfigError(f"{where}.level is {level!r}; use Error or Warning")
        check = Check(CheckLevel(level), str(raw.get("description") or f"check {i}"))
        constraints = raw.get("constraints")
        if not isinstance(constraints, list) or not constraints:
            raise ConfigError(f"{where}.constraints must be a non-empty list")
        for j, entry in enumerate(constraints):
            here = f"{where}.constraints[{j}]"
            if not isinstance(entry, Mapping) or len(entry) != 1:
                raise ConfigError(f"{here} must be one mapping {{method: {{arguments}}}}")
            ((method, args),) = entry.items()
            if method not in allowed:
                raise ConfigError(f"{here}: unknown constraint {method!r}; known: "
                                  f"{sorted(allowed)}")
            kwargs = dict(args or {})
            if "assertion" in kwargs:
                kwargs["assertion"] = parse_assertion(kwargs["assertion"], here)
            if "datatype" in kwargs:
                kwargs["datatype"] = ConstrainableDataTypes(str(kwargs["datatype"]))
            filter_ = kwargs.pop("where", None)
            columns = kwargs.pop("columns", None) if method == "isPrimaryKey" else None
            try:
                if columns:
                    check.isPrimaryKey(*columns, **kwargs)
                else:
                    getattr(check, method)(**kwargs)
                if filter_:
                    check.where(str(filter_))
            except TypeError as exc:
                raise ConfigError(f"{here}: bad arguments for {method}: {exc}") from exc
        checks.append(check)
    return checks


def load_suite(name_or_path: str) -> tuple[str, list[Check]]:
    """A suite by name (conf/quality/<name>.yaml) or path; returns (name, checks)."""
    looks_like_path = name_or_path.endswith((".yaml", ".yml")) or "/" in name_or_path
    path = name_or_path if looks_like_path else str(conf_dir() / "quality" /
                                                    f"{name_or_path}.yaml")
    if not looks_like_path and not Path(path).is_file():
        available = sorted(p.stem for p in (conf_dir() / "quality").glob("*.yaml"))
        raise ConfigError(f"unknown quality suite {name_or_path!r}: no file {path}; "
                          f"available suites: {available}")
    data = read_yaml(path)
    return str(data.get("name") or Path(path).stem), checks_from_mapping(data, path)


# --------------------------------------------------------------------------- gate


@dataclass
class GateResult:
    """What the gate decided: the verification result, where quarantined rows went."""

    result: VerificationResult
    passed: bool
    quarantine_path: str | None = None
    failed_constraints: list[str] = field(default_factory=list)


def failing_rows(result: VerificationResult, data: DataFrame) -> DataFrame:
    """Rows failing any failed row-level constraint, with ``failed_constraints`` (their names).

    Lazy (no job); constraints without row-level results (e.g. a mean) quarantine nothing.
    """
    names: list[Any] = []
    for check, check_result in result.checkResults.items():
        for constraint, cr in zip(check.constraints, check_result.constraintResults,
                                  strict=True):
            if cr.status != ConstraintStatus.Failure or constraint.row_level is None:
                continue
            outcome = constraint.row_level(data)
            names.append(F.when(outcome == F.lit(False), F.lit(str(constraint))))
    if not names:
        return data.withColumn("failed_constraints", F.array().cast("array<string>")).limit(0)
    failed = F.filter(F.array(*names), lambda x: x.isNotNull())
    return data.withColumn("failed_constraints", failed).where(F.size("failed_constraints") > 0)


def quality_gate(spark: SparkSession, data: DataFrame, checks: Sequence[Check], *, lake: Lake,
                 table: str, run_id: str, repository: MetricsRepository | None = None,
                 result_key: ResultKey | None = None) -> GateResult:
    """Verify ``data``; quarantine failing rows under ``quarantine/<table>/run_id=<id>``; raise
    QualityGateError when an Error-level check failed (after quarantining)."""
    suite = VerificationSuite(spark).onData(data).addChecks(checks)
    if repository is not None:
        suite = suite.useRepository(repository)
        if result_key is not None:
            suite = suite.saveOrAppendResult(result_key)
    result = suite.run()
    failed = [str(cr.constraint) for r in result.checkResults.values()
              for cr in r.constraintResults if cr.status == ConstraintStatus.Failure]
    path = None
    if failed:
        bad = failing_rows(result, data)
        path = lake.require_inside(lake.path("quarantine", table, f"run_id={run_id}"),
                                   "quarantine output")
        bad.write.mode("overwrite").parquet(path)
        log.warning("quality gate: %d failed constraint(s); failing rows in %s", len(failed),
                    path)
    gate = GateResult(result, result.status != CheckStatus.Error, path, failed)
    if result.status == CheckStatus.Error:
        raise QualityGateError(
            f"quality gate failed for {table}: Error-level constraint(s) failed: "
            f"{'; '.join(failed)}; failing rows in {path}")
    return gate


# --------------------------------------------------------------------------- HTML report


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
    from quality.analyzers import AnalyzerContext

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


__all__ = ["GateResult", "QualityGateError", "checks_from_mapping", "failing_rows",
           "html_report", "load_suite", "parse_assertion", "quality_gate"]
