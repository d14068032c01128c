"""The quality gate and quality persistence: suites from conf/, quarantine, metrics, reports.

quality/ is a pure library (DataFrames in, results out); everything that reads config files or
writes to the lake is here:

- :func:`load_suite` reads conf/quality/<name>.yaml (or a path) into Checks
  (:func:`quality.suite_spec.checks_from_mapping` does the parsing);
- :func:`quality_gate` verifies a DataFrame, writes the rows failing a row-level constraint to
  ``quarantine/<table>/run_id=<id>`` with the names of the constraints they fail, and raises
  :class:`QualityGateError` when an Error-level check failed (the publish must not happen);
- :class:`LakeMetricsStorage` / :func:`metrics_repository` keep a Deequ-format metrics repository
  on a local folder or s3://; :func:`write_html_report` writes the report page.

Example::

    name, checks = load_suite("orders")
    repo = metrics_repository(spark, lake.path("metadata", "quality", "metrics.json"))
    gate = quality_gate(spark, df, checks, lake=lake, table="orders", run_id=run_id,
                        repository=repo, result_key=ResultKey(tags={"suite": name}))
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakeforge import io
from lakeforge.config import conf_dir, read_yaml
from lakeforge.errors import ConfigError, LakeforgeError
from lakeforge.paths import is_remote
from quality.checks import Check, CheckStatus, ConstraintStatus
from quality.report import html_report
from quality.repository import FileSystemMetricsRepository, MetricsRepository, ResultKey
from quality.results import VerificationResult, failing_rows
from quality.suite_spec import checks_from_mapping
from quality.verification import VerificationSuite

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

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
    """A metrics repository's JSON file on a local folder or s3:// (through lakeforge.io).

    A local file is replaced atomically (temporary file + rename); an S3 PUT is atomic itself.
    """

    def read_text(self, path: str) -> str | None:
        return io.read_text(path) if io.uri_exists(path) else None

    def write_text(self, path: str, text: str) -> None:
        if is_remote(path):
            io.write_text(path, text)
            return
        local = path[len("file://"):] if path.startswith("file://") else path
        temporary = f"{local}.tmp-{os.getpid()}-{threading.get_ident()}"
        io.write_text(temporary, text)
        os.replace(temporary, local)  # readers never see a half-written file


def metrics_repository(spark: SparkSession | None, path: str) -> FileSystemMetricsRepository:
    """A Deequ-format FileSystemMetricsRepository at ``path`` (local or s3://)."""
    return FileSystemMetricsRepository(spark, path, storage=LakeMetricsStorage())


def write_html_report(result: VerificationResult, uri: str, title: str,
                      history: Sequence[Mapping[str, Any]] | None = None) -> str:
    """Write :func:`quality.report.html_report` to ``uri`` (local or s3://); returns ``uri``."""
    io.write_text(uri, html_report(result, title, history))
    return uri


# --------------------------------------------------------------------------- gate


@dataclass
class GateResult:
    """What the gate decided: the verification result, where quarantined rows went."""

    result: VerificationResult
    passed: bool
    quarantine_path: str | None = None
    failed_constraints: list[str] = field(default_factory=list)


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


__all__ = [
    "GateResult", "LakeMetricsStorage", "QualityGateError", "ResultKey", "failing_rows",
    "html_report", "load_suite", "metrics_repository", "quality_gate", "write_html_report",
]
