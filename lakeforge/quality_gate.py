"""The quality gate and quality persistence: suites from conf/, quarantine, metrics, reports.

quality/ is a pure library (DataFrames in, results out); everything that reads config files or
writes to the lake is here:

- :func:`load_suite` reads conf/quality/<name>.yaml (or a path) into Checks
  (:func:`quality.suite_spec.checks_from_mapping` does the parsing);
- :func:`quality_gate` verifies a DataFrame through the lifecycle's gate (one quarantine writer:
  rows failing a row-level constraint go to ``quarantine/<table>/run_id=<id>`` with the
  constraints they fail as the reason) and raises :class:`QualityGateError` when an
  Error-level check failed (the publish must not happen);
- :class:`LakeMetricsStorage` / :func:`metrics_repository` keep a Deequ-format metrics repository
  on a local folder or s3://; :func:`write_html_report` writes the report page.

Example::

    name, checks = load_suite("orders")
    repo = metrics_repository(spark, lake.path("metadata", "quality", "metrics.json"))
    gate = quality_gate(spark, df, checks, lake=lake, table="orders", run_id=run_id,
                        suite_name=name, repository=repo)
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakeforge import io
from lakeforge.config import conf_dir, read_yaml
from lakeforge.errors import ConfigError, LakeforgeError
from quality.checks import Check
from quality.report import html_report
from quality.repository import FileSystemMetricsRepository, MetricsRepository, ResultKey
from quality.results import VerificationResult, failing_rows
from quality.suite_spec import checks_from_mapping

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from lakeforge.lifecycle.gate import GateOutcome
    from lakeforge.paths import Lake

log = logging.getLogger(__name__)


class QualityGateError(LakeforgeError):
    """An Error-level check failed: the data must not be published."""


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


# --------------------------------------------------------------------------- metrics storage


class LakeMetricsStorage:
    """A metrics repository's JSON file on a local folder or s3:// (through lakeforge.io, whose
    ``write_text`` replaces a local file whole; an S3 PUT is atomic itself)."""

    def read_text(self, path: str) -> str | None:
        return io.read_text(path) if io.uri_exists(path) else None

    def write_text(self, path: str, text: str) -> None:
        io.write_text(path, text)


def metrics_repository(spark: SparkSession | None, path: str) -> FileSystemMetricsRepository:
    """A Deequ-format FileSystemMetricsRepository at ``path`` (local or s3://); concurrent saves
    (every gate of the lake writes one file) compare and swap, so none is lost."""
    from lakeforge.quality_repository import VersionedLakeMetricsStorage

    return FileSystemMetricsRepository(spark, path, storage=VersionedLakeMetricsStorage())


def write_html_report(result: VerificationResult, uri: str, title: str,
                      history: Sequence[Mapping[str, Any]] | None = None) -> str:
    """Write :func:`quality.report.html_report` to ``uri`` (local or s3://); returns ``uri``."""
    io.write_text(uri, html_report(result, title, history))
    return uri


# --------------------------------------------------------------------------- gate


def gate_failure_message(gate: GateOutcome, table: str) -> str:
    """The one line an Error-level failure prints: the failed constraints and where the
    failing rows went (a dataset-level failure, e.g. a metric of empty data, has none)."""
    where = (f"failing rows in {gate.quarantine}" if gate.quarantine else
             "no row failed a row-level constraint (dataset-level failure)")
    return (f"quality gate failed for {table}: Error-level constraint(s) failed: "
            f"{'; '.join(gate.failed_constraints)}; {where}")


def quality_gate(spark: SparkSession, data: DataFrame, checks: Sequence[Check], *, lake: Lake,
                 table: str, run_id: str, suite_name: str = "checks",
                 repository: MetricsRepository | None = None,
                 tags: Mapping[str, str] | None = None) -> GateOutcome:
    """Verify ``data`` and raise :class:`QualityGateError` when an Error-level check failed.

    The lifecycle's gate (:func:`lakeforge.lifecycle.gate.gate_checks`) does the work: metrics
    go to ``repository`` (default: the lake's), rows failing a row-level constraint to the one
    quarantine (``quarantine/<table>/run_id=<id>``, JSON lines: the row as ``record``, the
    failed constraints as ``reason``), before the error is raised."""
    from lakeforge.lifecycle.gate import gate_checks

    gate = gate_checks(spark, data, checks, suite_name=suite_name, lake=lake, table=table,
                       run_id=run_id, tags=dict(tags or {}), repository=repository)
    if not gate.passed:
        raise QualityGateError(gate_failure_message(gate, table))
    if gate.failed_constraints:
        where = (f"{gate.rows_failed} failing row(s) in {gate.quarantine}" if gate.quarantine
                 else "no row failed a row-level constraint (dataset-level failure)")
        log.warning("quality gate: %d failed Warning-level constraint(s); %s",
                    len(gate.failed_constraints), where)
    return gate


__all__ = [
    "LakeMetricsStorage", "QualityGateError", "ResultKey", "failing_rows",
    "html_report", "load_suite", "metrics_repository", "quality_gate", "write_html_report",
]
