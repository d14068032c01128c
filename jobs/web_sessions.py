"""Clickstream events (JSON lines by dt=/hour=) -> sessionized per-customer features.

Business steps only (the lifecycle does the rest, see conf/jobs/web_sessions.yaml): events of
an unknown type go to quarantine, an event replayed in one hour keeps its first line, and the
cleaned events are published as ``web_events`` by dt and hour. The features step sessionizes
the whole published table (a new session after ``session_gap_minutes`` without an event) and
gives SageMaker one row per customer: sessions, events, pages, cart adds and time per session,
device, and the label (the customer bought in some session).

    lakeforge run web_sessions --env local
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lakeforge.errors import ConfigError
from lakeforge.lifecycle import Job, PipelineConfig, Steps, run_pipeline

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


@dataclass(frozen=True, kw_only=True)
class WebSessionsConfig(PipelineConfig):
    event_types: list[str] = field(default_factory=lambda: ["page_view", "purchase"])
    session_gap_minutes: int = 30

    def validate(self, source: str) -> None:
        if "events" not in self.sources or "events" not in self.outputs:
            raise ConfigError(f"{source}: 'sources' and 'outputs' need an 'events' entry")
        if not self.event_types:
            raise ConfigError(f"{source}: 'event_types' is empty; list the known event types")
        if self.session_gap_minutes <= 0:
            raise ConfigError(f"{source}: 'session_gap_minutes' is {self.session_gap_minutes};"
                              " it must be > 0")


def build(steps: Steps) -> dict[str, DataFrame]:
    """Known event types only; an event replayed in one partition keeps its first line."""
    from pyspark.sql import functions as F
    from pyspark.sql.window import Window

    cfg: WebSessionsConfig = steps.config
    events = steps.sources["events"]
    known = F.coalesce(F.col("event_type").isin(*cfg.event_types), F.lit(False))
    steps.reject("events", events.where(~known),
                 f"unknown event_type (known: {', '.join(cfg.event_types)})")
    first = Window.partitionBy("_partition", "event_id").orderBy("_file", "_line")
    events = events.where(known).withColumn("_n", F.row_number().over(first))
    events = steps.remove(events, F.col("_n") > 1, "replayed event_id in a partition")
    return {"events": events.drop("_n")}


def sessions_per_customer(events: DataFrame, cfg: WebSessionsConfig) -> DataFrame:
    """Sessionize every customer's events by the inactivity gap, then one row per customer."""
    from pyspark.sql import functions as F
    from pyspark.sql.window import Window

    by_time = Window.partitionBy("customer_id").orderBy("ts", "event_id")
    gap = F.col("ts").cast("long") - F.lag("ts").over(by_time).cast("long")
    starts = F.when(gap.isNull() | (gap > cfg.session_gap_minutes * 60), 1).otherwise(0)
    session = F.sum(starts).over(by_time.rowsBetween(Window.unboundedPreceding, 0))
    sessions = events.withColumn("session", session).groupBy("customer_id", "session").agg(
        F.count(F.lit(1)).alias("events"), F.countDistinct("page").alias("pages"),
        F.sum((F.col("event_type") == "add_to_cart").cast("int")).alias("cart_adds"),
        (F.max("ts").cast("long") - F.min("ts").cast("long")).alias("seconds"),
        F.max((F.col("event_type") == "purchase").cast("double")).alias("bought"),
        F.max_by("device", "ts").alias("device"), F.max("ts").alias("last"))
    return sessions.groupBy("customer_id").agg(
        F.count(F.lit(1)).alias("n_sessions"),
        F.avg("events").alias("avg_events_per_session"),
        F.avg("pages").alias("avg_pages_per_session"),
        F.avg("cart_adds").alias("cart_adds_per_session"),
        F.avg("seconds").alias("avg_session_seconds"),
        F.max_by("device", "last").alias("device"),
        F.max("bought").alias((cfg.features or {})["label"]))


JOB = Job("web_sessions", WebSessionsConfig, build, features=sessions_per_customer)


def main(argv: list[str] | None = None) -> int:
    return run_pipeline(JOB, argv)


if __name__ == "__main__":
    sys.exit(main())
