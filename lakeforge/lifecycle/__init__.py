"""The job lifecycle: a job declares its sources, business steps and outputs; this runs the
rest (run id, lock, bookmarks, ingestion with line-level quarantine, drift, ledger, threshold,
quality gate, publish, features, run summary, bookmark commit) as three phases.

A job module::

    JOB = Job("web_sessions", WebSessionsConfig, build)

    def main(argv: list[str] | None = None) -> int:
        return run_pipeline(JOB, argv)

See :mod:`lakeforge.lifecycle.runner` for the phases and :mod:`lakeforge.lifecycle.settings`
for what a job's config declares.
"""

from __future__ import annotations

from lakeforge.lifecycle.ingest import SchemaDriftError
from lakeforge.lifecycle.quarantine import QUARANTINE_SCHEMA, write_quarantine
from lakeforge.lifecycle.report import new_run_id, render_console
from lakeforge.lifecycle.runner import (
    MERGED,
    PHASES,
    AuditFailedError,
    BadInputThresholdError,
    Job,
    Steps,
    audit_phase,
    publish_phase,
    run_phases,
    run_pipeline,
    validate_job_config,
    write_phase,
)
from lakeforge.lifecycle.settings import OutputSpec, PipelineConfig, RunSettings, SourceSpec

__all__ = [
    "MERGED", "PHASES", "QUARANTINE_SCHEMA", "AuditFailedError", "BadInputThresholdError",
    "Job", "OutputSpec", "PipelineConfig", "RunSettings", "SchemaDriftError", "SourceSpec", "Steps",
    "audit_phase", "new_run_id", "publish_phase", "render_console", "run_phases",
    "run_pipeline", "validate_job_config", "write_phase", "write_quarantine",
]
