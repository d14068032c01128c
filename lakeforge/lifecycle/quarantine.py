"""The quarantine: one schema and one writer for every row a run does not publish for a reason.

A quarantine record is ``source_file, line, partition, reason, record, run_id,
quarantined_at``: bad input lines (the line as read), whole files (empty, unreadable, no data,
misplaced), rows a business step rejects (an unknown customer) and rows that fail the quality
gate (the row as JSON, the failed constraints as the reason). Records are JSON lines under
``quarantine/<database>/<table>/run_id=<run>/``.

Example::

    path, n = write_quarantine(bad_rows, lake, "lakeforge/contacts", run_id)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from lakeforge.paths import Lake

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

log = logging.getLogger(__name__)

QUARANTINE_SCHEMA = ("source_file string, line int, partition string, reason string, "
                     "record string")
QUARANTINE_COLUMNS = ("source_file", "line", "partition", "reason", "record")


def as_quarantine(df: DataFrame, *, problems: str | None = None, reason: str = "") -> DataFrame:
    """Rows that carry lineage (``_file``, ``_line``, ``_partition``, ``line``) as quarantine
    records; the reason is the ``problems`` array column joined with '; ', else ``reason``."""
    from pyspark.sql import functions as F

    why = F.concat_ws("; ", F.col(problems)) if problems else F.lit(reason)
    return df.select(F.col("_file").alias("source_file"), F.col("_line").alias("line"),
                     F.col("_partition").alias("partition"), why.alias("reason"),
                     F.col("line").alias("record"))


def rows_as_quarantine(df: DataFrame, *, reason_col: str, partition_by: Sequence[str] = ()
                       ) -> DataFrame:
    """Published-shape rows (no lineage) as quarantine records: the row as JSON, its
    partition as ``k=v`` text, the reason from the array or string column ``reason_col``."""
    from pyspark.sql import functions as F

    data = [c for c in df.columns if c != reason_col]
    reason = F.col(reason_col)
    if dict(df.dtypes)[reason_col].startswith("array"):
        reason = F.concat_ws("; ", reason)
    part = (F.concat_ws("/", *[F.concat(F.lit(f"{k}="), F.col(k).cast("string"))
                               for k in partition_by]) if partition_by else F.lit(""))
    return df.select(F.lit(None).cast("string").alias("source_file"),
                     F.lit(None).cast("int").alias("line"), part.alias("partition"),
                     reason.alias("reason"),
                     record_json(data).alias("record"))


def record_json(columns: list[str]) -> Column:
    """``columns`` of a row as one JSON object, NULL fields kept (a quarantined record must
    say which fields were empty; to_json leaves them out by default)."""
    from pyspark.sql import functions as F

    return F.to_json(F.struct(*[F.col(f"`{c}`") for c in columns]), {"ignoreNullFields": "false"})


def quarantine_uri(lake: Lake, table: str, run_id: str) -> str:
    return lake.require_inside(lake.path("quarantine", table, f"run_id={run_id}"),
                               "quarantine")


def write_quarantine(records: DataFrame, lake: Lake, table: str, run_id: str, *,
                     append: bool = False) -> tuple[str | None, int]:
    """Write quarantine records as JSON lines under ``quarantine/<table>/run_id=<run>``, in
    one pass that also counts them (``observe``); an empty result leaves no folder.

    Ingestion writes a run's folder afresh (a retried write phase replaces it); the audit
    phase appends its failing rows beside the ingestion's (``append=True``), so neither
    loses the other's records.

    Returns the folder (None when nothing was quarantined) and the number of records.
    """
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    from lakeforge.io import delete_dir, uri_exists

    path = quarantine_uri(lake, table, run_id)
    # An append that adds nothing leaves the folder as it found it (absent stays absent).
    existed = append and uri_exists(path)
    seen = Observation(f"quarantine_{table.replace('/', '_')}")
    (records.select(*QUARANTINE_COLUMNS).observe(seen, F.count(F.lit(1)).alias("n"))
     .select(*QUARANTINE_COLUMNS, F.lit(run_id).alias("run_id"),
             F.current_timestamp().alias("quarantined_at"))
     .coalesce(1).write.mode("append" if append else "overwrite")
     .option("ignoreNullFields", "false").json(path))
    n = int((seen.get or {}).get("n", 0))
    if n == 0:
        if not existed:
            delete_dir(path)
        return None, 0
    log.info("quarantined %d record(s) in %s", n, path)
    return path, n


def sweep_dead_quarantine(lake: Lake, tables: Sequence[str], committed: set[str],
                          enable_option: str) -> list[str]:
    """Delete the quarantine of runs that did not commit, so that this run, which processes
    their files again, does not quarantine a row twice: runs that died before writing their
    summary, and runs that published but died before their bookmark commit (``committed``:
    the run ids the bookmark holds). A run that failed (summary ``failed: ...``) keeps its
    quarantine as evidence."""
    from lakeforge.io import delete_dir, list_subdirs, read_text, uri_exists

    removed = []
    for table in tables:
        base = lake.path("quarantine", table)
        for name in list_subdirs(base):
            if not name.startswith("run_id="):
                continue
            run = name[len("run_id="):]
            summary_uri = lake.path("metadata", "runs", run, "run_summary.json")
            if uri_exists(summary_uri):
                done = json.loads(read_text(summary_uri))
                if not (done.get("status") == "published" and run not in committed
                        and done.get("bookmark_option") == enable_option):
                    continue
            delete_dir(f"{base}/{name}")
            removed.append(f"{table}/{name}")
    if removed:
        log.info("removed the quarantine of runs that did not commit: %s", removed)
    return removed
