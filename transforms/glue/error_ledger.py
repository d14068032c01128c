"""Error accounting with Glue's ``stageThreshold`` / ``totalThreshold`` semantics.

Transforms that can reject values (a cast that fails, a value ``project`` drops, a string that
does not parse) attach a :class:`pyspark.sql.Observation` to the frame they return. The counts are
collected by the job's own next action on that frame (a write, a count): no extra Spark job.
After that action the job asks the ledger for the counts and whether a threshold was passed::

    ledger = ErrorLedger()
    typed = apply_mapping(raw, mappings=MAPPINGS, ledger=ledger, stage_threshold=10)
    typed.write.parquet(out)          # the job's own action fills the observation
    ledger.check()                    # raises ErrorThresholdExceeded past a threshold

Counts describe the rows that action processed: an action that reads only part of the frame
(``show``, ``limit``) gives partial counts. Thresholds follow Glue: a stage fails when its own
error records exceed ``stage_threshold``; ``total_threshold`` bounds the error records of this
stage plus every stage tracked before it in the same ledger. Glue's documented default for both
is 0; here ``None`` means "count, do not enforce", so pass 0 to fail on the first error.
"""

from __future__ import annotations

import itertools
import logging
import re
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, Observation
from pyspark.sql import functions as F

from lakeforge.errors import LakeforgeError

log = logging.getLogger(__name__)

_ids = itertools.count(1)


class ErrorThresholdExceeded(LakeforgeError, RuntimeError):
    """A transform rejected more values than its stage or total threshold allows."""

    def __init__(self, failures: list[StageErrors]) -> None:
        self.failures = failures
        lines = "; ".join(f.describe() for f in failures)
        super().__init__(f"error threshold exceeded: {lines}")


class ErrorCountsNotReady(LakeforgeError, RuntimeError):
    """Counts were asked for before an action ran on the observed frame."""


@dataclass(frozen=True)
class StageErrors:
    """What one tracked transform rejected, as counted by the job's action."""

    stage: str
    transform: str
    info: str
    records: int
    error_records: int
    error_values: int
    stage_threshold: int | None
    total_threshold: int | None
    total_error_records: int

    @property
    def stage_exceeded(self) -> bool:
        return self.stage_threshold is not None and self.error_records > self.stage_threshold

    @property
    def total_exceeded(self) -> bool:
        return self.total_threshold is not None and self.total_error_records > self.total_threshold

    def describe(self) -> str:
        what = f"{self.transform} stage {self.stage!r}"
        if self.info:
            what += f" ({self.info})"
        parts = [f"{self.error_records} error record(s), {self.error_values} rejected value(s) "
                 f"in {self.records} record(s)"]
        if self.stage_exceeded:
            parts.append(f"stageThreshold {self.stage_threshold} exceeded")
        if self.total_exceeded:
            parts.append(f"totalThreshold {self.total_threshold} exceeded by "
                         f"{self.total_error_records} error record(s) so far")
        return f"{what}: " + ", ".join(parts)


@dataclass
class _Tracked:
    stage: str
    transform: str
    info: str
    observation: Observation
    stage_threshold: int | None
    total_threshold: int | None


class ErrorLedger:
    """Collects the per-transform rejection counts of one job (see module docstring)."""

    def __init__(self) -> None:
        self._tracked: list[_Tracked] = []

    def track(
        self,
        df: DataFrame,
        *,
        transform: str,
        rejected_values: Column,
        stage: str = "",
        info: str = "",
        stage_threshold: int | None = None,
        total_threshold: int | None = None,
    ) -> DataFrame:
        """Return ``df`` observed: ``rejected_values`` is an int column, rejected values per row."""
        for name, value in (("stage_threshold", stage_threshold),
                            ("total_threshold", total_threshold)):
            if value is not None and (not isinstance(value, int) or value < 0):
                raise ValueError(f"{transform}: {name} must be a non-negative int or None, "
                                 f"got {value!r}")
        n = next(_ids)
        stage = stage or f"{transform}_{n}"
        if any(t.stage == stage for t in self._tracked):
            raise ValueError(f"{transform}: stage name {stage!r} is already tracked in this "
                             "ledger; give each transform its own transformation_ctx")
        safe = re.sub(r"[^A-Za-z0-9_]", "_", stage)
        observation = Observation(f"lakeforge_errors_{n}_{safe}")
        rejected = F.coalesce(rejected_values.cast("long"), F.lit(0))
        observed = df.observe(
            observation,
            F.count(F.lit(1)).alias("records"),
            F.sum(F.when(rejected > 0, 1).otherwise(0)).alias("error_records"),
            F.sum(rejected).alias("error_values"),
        )
        self._tracked.append(
            _Tracked(stage, transform, info, observation, stage_threshold, total_threshold)
        )
        return observed

    @property
    def stages(self) -> list[str]:
        return [t.stage for t in self._tracked]

    def pending(self) -> list[str]:
        """Stages whose frame has not been through an action yet."""
        waiting = [t for t in self._tracked if not _completed(t.observation)]
        if waiting and _drain_listener_bus():
            # Metrics arrive through Spark's listener bus, a moment after the action returns.
            waiting = [t for t in waiting if not _completed(t.observation)]
        return [t.stage for t in waiting]

    def results(self, *, allow_pending: bool = False) -> list[StageErrors]:
        """Counts per stage, in tracking order. Never blocks: raises ErrorCountsNotReady for
        stages no action has run on, unless ``allow_pending`` (then those are left out)."""
        waiting = self.pending()
        if waiting and not allow_pending:
            raise ErrorCountsNotReady(
                f"no action has run yet on the frame(s) of stage(s) {waiting}: read the counts "
                "after the job's write/count on those frames (or pass allow_pending=True)"
            )
        out: list[StageErrors] = []
        total = 0
        for t in self._tracked:
            if t.stage in waiting:
                continue
            metrics = t.observation.get
            records = int(metrics.get("records") or 0)
            error_records = int(metrics.get("error_records") or 0)
            error_values = int(metrics.get("error_values") or 0)
            total += error_records
            out.append(StageErrors(t.stage, t.transform, t.info, records, error_records,
                                   error_values, t.stage_threshold, t.total_threshold, total))
        return out

    def check(self, *, allow_pending: bool = False) -> list[StageErrors]:
        """Raise ErrorThresholdExceeded if any stage passed its threshold; else the results."""
        results = self.results(allow_pending=allow_pending)
        for r in results:
            if r.error_records:
                log.warning("%s", r.describe())
        failures = [r for r in results if r.stage_exceeded or r.total_exceeded]
        if failures:
            raise ErrorThresholdExceeded(failures)
        return results


def _completed(observation: Observation) -> bool:
    jo = getattr(observation, "_jo", None)
    if jo is not None:  # classic: set by DataFrame.observe; its future completes after the action
        return bool(jo.future().isCompleted())
    # Spark Connect's Observation has no JVM side: the action's response fills its metrics in
    # (an empty dict until then).
    return bool(getattr(observation, "_result", None))


def _drain_listener_bus(timeout_ms: int = 10_000) -> bool:
    """Wait until Spark has delivered queued listener events (observed metrics among them)."""
    from pyspark import SparkContext

    sc = SparkContext._active_spark_context
    if sc is None:
        return False
    try:
        sc._jsc.sc().listenerBus().waitUntilEmpty(timeout_ms)
    except Exception:  # a Spark without this internal API: report what is known now
        log.debug("could not wait for the Spark listener bus", exc_info=True)
        return False
    return True
