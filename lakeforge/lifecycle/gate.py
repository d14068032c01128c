"""The quality gate of the lifecycle's audit phase (and of the quality_gate job).

A suite (conf/quality/<name>.yaml) is verified on a DataFrame with metrics saved to the lake's
repository; rows failing a failed row-level constraint go to the quarantine (the one writer:
the row as JSON, the failed constraints as the reason). The caller decides what an
Error-level failure means (the audit phase stops the publish and exits 1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lakeforge.lifecycle.quarantine import rows_as_quarantine, write_quarantine
from lakeforge.paths import Lake

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


@dataclass
class GateOutcome:
    """What the gate found: the verification result and where failing rows went."""

    suite: str
    result: Any
    passed: bool
    failed_constraints: list[str] = field(default_factory=list)
    passed_constraints: int = 0
    quarantine: str | None = None
    rows_failed: int = 0
    failing: DataFrame | None = None
    html: str = ""
    score: float | None = None  # a DQDL ruleset's share of passed rules (Glue DQ's score)

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "suite": self.suite, "passed": self.passed,
            "passed_constraints": self.passed_constraints,
            "failed_constraints": self.failed_constraints, "rows_failed": self.rows_failed,
            "quarantine": self.quarantine}
        if self.score is not None:
            doc["score"] = self.score
        if hasattr(self.result, "check_rows"):
            # every constraint with its status and message (python-deequ's columns)
            doc["constraints"] = self.result.check_rows()
        return doc


def _has_map(dt: Any) -> bool:
    from pyspark.sql import types as T

    if isinstance(dt, T.MapType):
        return True
    if isinstance(dt, T.StructType):
        return any(_has_map(f.dataType) for f in dt.fields)
    return isinstance(dt, T.ArrayType) and _has_map(dt.elementType)


def minus_rows(data: DataFrame, rows: DataFrame) -> DataFrame:
    """``data`` without ``rows``, as multisets (``exceptAll``: a row ``rows`` holds n times
    leaves n copies fewer); ``rows`` has ``data``'s columns. Spark's set operations refuse a
    MAP anywhere in the schema; there rows are compared by their JSON text (``to_json`` keeps
    a map's entry order, as a Parquet round trip does; timestamps to the microsecond)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    rows = rows.select(*[F.col(f"`{c}`") for c in data.columns])
    if not _has_map(data.schema):
        return data.exceptAll(rows)
    key_col, n_col, seen_col = "__lakeforge_row", "__lakeforge_n", "__lakeforge_seen"
    options = {"timestampFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSSSSxxx",
               "timestampNTZFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSSSS"}

    def key(frame: DataFrame) -> Any:
        return F.to_json(F.struct(*[F.col(f"`{c}`") for c in frame.columns]), options)

    seen = rows.select(key(rows).alias(key_col)).groupBy(key_col).agg(
        F.count(F.lit(1)).alias(seen_col))
    nth = F.row_number().over(Window.partitionBy(key_col).orderBy(F.lit(1)))
    return (data.withColumn(key_col, key(data)).withColumn(n_col, nth)
            .join(seen, key_col, "left")
            .where(F.col(n_col) > F.coalesce(F.col(seen_col), F.lit(0)))
            .drop(key_col, n_col, seen_col))


def quarantine_failing(outcome: GateOutcome, lake: Lake, table: str, run_id: str,
                       partition_by: Sequence[str] = ()) -> GateOutcome:
    """Append ``outcome.failing`` (rows with a ``failed_constraints`` column) to the table's
    quarantine for this run, with the failed constraints as the reason; fills ``quarantine``
    and ``rows_failed``. The one quarantine writer of both gates (suites and DQDL)."""
    if outcome.failing is not None:
        outcome.quarantine, outcome.rows_failed = write_quarantine(
            rows_as_quarantine(outcome.failing, reason_col="failed_constraints",
                               partition_by=partition_by), lake, table, run_id, append=True)
    return outcome


def gate_checks(spark: SparkSession, data: DataFrame, checks: Sequence[Any], *,
                suite_name: str, lake: Lake, table: str, run_id: str,
                tags: Mapping[str, str], partition_by: Sequence[str] = (),
                repository: Any | None = None) -> GateOutcome:
    """Verify ``data`` with ``checks``, metrics saved to ``repository`` (default: the lake's,
    ``metadata/quality/metrics.json``) under ``tags`` + the suite name; rows failing a failed
    row-level constraint go to ``quarantine/<table>/run_id=<run>``. ``passed`` is False when
    an Error-level check failed."""
    from lakeforge.quality_gate import ResultKey, failing_rows, html_report, metrics_repository
    from quality.checks import CheckStatus, ConstraintStatus
    from quality.verification import VerificationSuite

    if repository is None:
        repository = metrics_repository(spark, lake.path("metadata", "quality", "metrics.json"))
    result = (VerificationSuite(spark).onData(data).addChecks(checks).useRepository(repository)
              .saveOrAppendResult(ResultKey(tags={**tags, "suite": suite_name})).run())
    statuses = [cr for r in result.checkResults.values() for cr in r.constraintResults]
    failed = [str(cr.constraint) for cr in statuses if cr.status == ConstraintStatus.Failure]
    outcome = GateOutcome(suite_name, result, result.status != CheckStatus.Error, failed,
                          len(statuses) - len(failed), html=html_report(result, suite_name))
    if failed:
        outcome.failing = failing_rows(result, data)
    return quarantine_failing(outcome, lake, table, run_id, partition_by)


def run_gate(spark: SparkSession, data: DataFrame, suite: str, *, lake: Lake, table: str,
             run_id: str, tags: Mapping[str, str], partition_by: Sequence[str] = ()
             ) -> GateOutcome:
    """Verify ``data`` with ``suite`` (a name in conf/quality, a path, or a DQDL ruleset);
    quarantine failing rows under ``quarantine/<table>/run_id=<run>``. ``passed`` is False
    when an Error-level check failed."""
    from lakeforge.dqdl import is_dqdl, run_dqdl_gate
    from lakeforge.quality_gate import load_suite

    if is_dqdl(suite):  # a Glue DQDL ruleset (conf/quality/<name>.dqdl or a path)
        return run_dqdl_gate(spark, data, suite, lake=lake, table=table, run_id=run_id,
                             tags=tags, partition_by=partition_by)
    suite_name, checks = load_suite(suite)
    return gate_checks(spark, data, checks, suite_name=suite_name, lake=lake, table=table,
                       run_id=run_id, tags=tags, partition_by=partition_by)
