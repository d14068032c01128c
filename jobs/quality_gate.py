"""Quality gate as a job: run a conf/quality suite on a catalog table or a path.

The step Airflow and Step Functions run between the main job and publish consumers: failing
rows go to the quarantine zone, metrics to the lake's metrics repository (Deequ's JSON), and an
Error-level failure exits 1 so the orchestrator stops the pipeline.

    lakeforge run quality_gate --env local --table lakeforge.contacts_enriched \\
        --suite customer_propensity
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Literal

from lakeforge.errors import ConfigError
from lakeforge.job import JobContext, run_job


@dataclass(frozen=True)
class QualityGateConfig:
    suite: str = "customer_propensity"
    table: str | None = None
    path: str | None = None
    format: Literal["parquet", "csv", "json"] = "parquet"
    where: str | None = None

    def validate(self, source: str) -> None:
        if bool(self.table) == bool(self.path):
            raise ConfigError("quality_gate: give exactly one of --table database.table or "
                              "--path URI")
        if self.table and self.table.count(".") != 1:
            raise ConfigError(f"quality_gate: table {self.table!r} must be database.table")


def run(ctx: JobContext[QualityGateConfig]) -> int:
    from lakeforge.io import read_source
    from lakeforge.lifecycle.gate import run_gate
    from lakeforge.lifecycle.report import new_run_id
    from lakeforge.quality_gate import gate_failure_message

    cfg, spark, lake = ctx.config, ctx.spark, ctx.lake
    data = read_source(spark, table=cfg.table, path=cfg.path, file_format=cfg.format)
    name = cfg.table or str(cfg.path).rstrip("/").rsplit("/", 1)[-1]
    if cfg.where:
        data = data.where(cfg.where)
    gate = run_gate(spark, data, cfg.suite, lake=lake, table=name.replace(".", "/"),
                    run_id=new_run_id(), tags={"job": ctx.name, "table": name})
    print(json.dumps({"job": ctx.name, "suite": gate.suite, "table": name,
                      "passed": gate.passed, "failed_constraints": gate.failed_constraints,
                      "rows_failed": gate.rows_failed, "quarantine": gate.quarantine}))
    if not gate.passed:
        print(f"error: {gate_failure_message(gate, name)}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_job("quality_gate", QualityGateConfig, run, argv)


if __name__ == "__main__":
    sys.exit(main())
