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
import time
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

    def validate(self) -> None:
        if bool(self.table) == bool(self.path):
            raise ConfigError("quality_gate: give exactly one of --table database.table or "
                              "--path URI")
        if self.table and self.table.count(".") != 1:
            raise ConfigError(f"quality_gate: table {self.table!r} must be database.table")


def run(ctx: JobContext[QualityGateConfig]) -> int:
    from lakeforge.quality_gate import (
        QualityGateError,
        ResultKey,
        load_suite,
        metrics_repository,
        quality_gate,
    )

    cfg, spark, lake = ctx.config, ctx.spark, ctx.lake
    if cfg.table:
        data = spark.table(cfg.table)
        name = cfg.table
    else:
        data = spark.read.format(cfg.format).option("header", True).load(cfg.path)
        name = str(cfg.path).rstrip("/").rsplit("/", 1)[-1]
    if cfg.where:
        data = data.where(cfg.where)
    suite_name, checks = load_suite(cfg.suite)
    run_id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    repo = metrics_repository(spark, lake.path("metadata", "quality", "metrics.json"))
    key = ResultKey(tags={"job": ctx.name, "table": name, "suite": suite_name})
    try:
        gate = quality_gate(spark, data, checks, lake=lake, table=name.replace(".", "/"),
                            run_id=run_id, repository=repo, result_key=key)
    except QualityGateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"job": ctx.name, "suite": suite_name, "table": name,
                      "passed": gate.passed, "failed_constraints": gate.failed_constraints,
                      "quarantine": gate.quarantine_path}))
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_job("quality_gate", QualityGateConfig, run, argv)


if __name__ == "__main__":
    sys.exit(main())
