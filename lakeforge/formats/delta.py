"""Delta Lake outputs through delta-spark: one Delta commit per publish, registered where
Athena and Spark find it, rolled back with RESTORE, vacuumed and compacted.

* The table lives at its lake folder (``lake.table_uri('curated', table, database)``); every
  write is by path, so the commit is the Delta log's and the catalog only points at it.
* Local metastore (``spark_sql`` backend): ``CREATE TABLE ... USING DELTA LOCATION`` through
  the session's DeltaCatalog. Glue (``glue_api`` backend): the table Athena reads natively,
  ``table_type=DELTA`` and ``spark.sql.sources.provider=delta``, the location and the ``path``
  SerDe parameter, and the columns of the log's schema (updated after every commit so that
  Lake Formation, views and column filters see the same schema).
* Modes: ``overwrite`` (static overwrite: the whole table), ``overwrite_partitions`` (dynamic
  partition overwrite: only the partitions in the rows), ``append`` and ``merge`` (MERGE on
  ``merge_keys``: matched rows updated, others inserted; only the files holding matched rows
  are rewritten).

Example::

    result = commit(spark, df, Target("sales", "orders", uri, ["dt"]), catalog=catalog)
    rollback(spark, catalog, target, version=result_version - 1)
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from lakeforge.errors import ConfigError, SchemaMismatchError
from lakeforge.formats import (
    AppendWindow,
    AppendWindowError,
    CommitResult,
    Target,
    check_schema_change,
    check_unique_merge_keys,
    committed_window,
    glue_table_of_format,
    partition_predicate,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

    from lakeforge.catalog.base import Catalog

log = logging.getLogger(__name__)

PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"


def _delta_table(spark: SparkSession, location: str) -> Any:
    from delta.tables import DeltaTable

    return DeltaTable.forPath(spark, location)


def is_delta_table(spark: SparkSession, location: str) -> bool:
    from delta.tables import DeltaTable

    return bool(DeltaTable.isDeltaTable(spark, location))


def current_schema(spark: SparkSession, target: Target) -> StructType | None:
    """The table's schema from its log (None when there is no Delta table yet)."""
    if not is_delta_table(spark, target.location):
        return None
    return spark.read.format("delta").load(target.location).schema


@contextlib.contextmanager
def _session_conf(spark: SparkSession, values: dict[str, str]) -> Iterator[None]:
    """Runtime SQL settings for one operation, put back afterwards."""
    before = {k: spark.conf.get(k, None) for k in values}
    for k, v in values.items():
        spark.conf.set(k, v)
    try:
        yield
    finally:
        for key, old in before.items():
            if old is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, old)


def whole_hours(hours: float) -> int:
    """``hours`` rounded up to whole hours: VACUUM takes whole hours (Delta rounds the hours it
    is given to the nearest one), so the table property and the vacuum use this same value and
    Delta's retention safety check (vacuum retention >= the table's) always passes; rounding up
    keeps files at least as long as asked."""
    return max(0, math.ceil(round(hours, 6)))


def _retention_interval(hours: float) -> str:
    return f"interval {whole_hours(hours) * 3600} seconds"


def commit(spark: SparkSession, df: DataFrame, target: Target, *,
           catalog: Catalog) -> CommitResult:
    """Write ``df`` as one Delta commit to ``target`` and register the table in ``catalog``.

    The schema rule (:func:`~lakeforge.formats.check_schema_change`) and the partition keys
    are checked against the log first: a refused change writes nothing. After the commit,
    files older than ``retention_hours`` that no version within it needs are vacuumed and the
    touched partitions holding more than ``max_files_per_partition`` files are compacted
    (OPTIMIZE; each a commit of its own, after the data commit).
    """
    where = f"delta {target.qualified_name}"
    check_glue_table_is_delta(catalog, target)
    exists = is_delta_table(spark, target.location)
    keys = [k.lower() for k in target.partition_by]
    current = None
    if exists:
        dt = _delta_table(spark, target.location)
        have = [c.lower() for c in dt.detail().collect()[0]["partitionColumns"]]
        if have != keys:
            raise SchemaMismatchError(f"{where}: partition keys {keys} differ from the table's "
                                      f"{have}; partition keys cannot change")
        current = dt.toDF().schema
    added = check_schema_change(current, df.schema, allow_added=target.allow_added_columns,
                                partition_by=keys, where=where)
    mode = target.mode
    if mode == "merge" and not target.merge_keys:
        raise ConfigError(f"{where}: mode 'merge' needs merge_keys (the columns a row is "
                          "matched on)")
    if mode == "merge":
        check_unique_merge_keys(df, target.merge_keys, where)
    window = target.window if mode == "append" else None
    before = None
    if window is not None and exists:
        done = committed_window("delta", target, last_window(spark, target.location,
                                                             window.app_id),
                                "numOutputRows", where)
        if done is not None:
            register(spark, catalog, target)
            return done
        before = int(_delta_table(spark, target.location).history(1).collect()[0]["version"])
    settings: dict[str, str] = {}
    if not exists:
        # Table properties in the creating commit itself: VACUUM's retention is the config's.
        interval = _retention_interval(target.retention_hours)
        settings["spark.databricks.delta.properties.defaults.deletedFileRetentionDuration"] = \
            interval
    with _session_conf(spark, settings):
        if mode == "merge" and exists:
            operation = "MERGE"
            cond = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in target.merge_keys)
            merge_conf = ({"spark.databricks.delta.schema.autoMerge.enabled": "true"}
                          if added else {})
            with _session_conf(spark, merge_conf):
                (_delta_table(spark, target.location).alias("t")
                 .merge(df.alias("s"), cond)
                 .whenMatchedUpdateAll()
                 .whenNotMatchedInsertAll()
                 .execute())
        else:
            writer = df.write.format("delta")
            if mode == "append":
                writer = writer.mode("append")
                operation = "APPEND"
                if window is not None:
                    # Delta skips a (txnAppId, txnVersion) it has committed: idempotent
                    writer = (writer.option("txnAppId", window.app_id)
                              .option("txnVersion", window.sequence)
                              .option("userMetadata", window.to_text()))
            elif mode == "overwrite_partitions" and exists and keys:
                writer = writer.mode("overwrite").option("partitionOverwriteMode", "dynamic")
                operation = "OVERWRITE PARTITIONS"
            else:
                writer = writer.mode("overwrite").option("partitionOverwriteMode", "static")
                operation = "OVERWRITE" if exists else "CREATE"
            if added:
                writer = writer.option("mergeSchema", "true")
            if keys and not exists:
                writer = writer.partitionBy(*keys)
            writer.save(target.location)
    last = _delta_table(spark, target.location).history(1).collect()[0]
    metrics = dict(last["operationMetrics"] or {})
    rows = int(metrics.get("numSourceRows") or metrics.get("numOutputRows") or 0)
    version = int(last["version"])
    if before is not None and version == before:
        raise AppendWindowError(
            f"{where}: Delta skipped the append of window {window.sequence} of "  # type: ignore[union-attr]
            f"{window.app_id}: the table's transaction for it is at or past that window "  # type: ignore[union-attr]
            "but its log no longer names the input; nothing was written")
    log.info("%s: %s committed version %d (%d rows)", where, operation, version, rows)
    register(spark, catalog, target)
    compacted = compact(spark, target, df) if target.max_files_per_partition > 0 else ()
    vacuum(spark, target.location, target.retention_hours)
    return CommitResult("delta", target.qualified_name, str(version), rows, operation,
                        tuple(added), compacted, metrics)


def last_window(spark: SparkSession, location: str, app_id: str
                ) -> tuple[AppendWindow, tuple[int, dict[str, Any]]] | None:
    """The latest append window ``app_id`` recorded in the table's history (the commit's
    ``userMetadata``), with that commit's version and metrics; None when there is none."""
    from pyspark.sql import functions as F

    rows = (_delta_table(spark, location).history()
            .where(F.col("userMetadata").isNotNull())
            .orderBy(F.col("version").desc())
            .select("version", "userMetadata", "operationMetrics").collect())
    for r in rows:
        found = AppendWindow.from_text(r["userMetadata"])
        if found is not None and found.app_id == app_id:
            return found, (int(r["version"]), dict(r["operationMetrics"] or {}))
    return None


def glue_table_input(target: Target, schema: StructType) -> dict[str, Any]:
    """The Glue ``TableInput`` Athena reads as a native Delta table (columns from the log)."""
    from lakeforge.catalog.athena_schema import athena_type_string

    return {
        "Name": target.table,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"EXTERNAL": "TRUE", "table_type": "DELTA",
                       "spark.sql.sources.provider": "delta", "classification": "delta"},
        "StorageDescriptor": {
            "Columns": [{"Name": f.name, "Type": athena_type_string(f.dataType)}
                        for f in schema.fields],
            "Location": target.location,
            "InputFormat": PARQUET_INPUT,
            "OutputFormat": PARQUET_OUTPUT,
            "SerdeInfo": {"SerializationLibrary": PARQUET_SERDE,
                          "Parameters": {"serialization.format": "1",
                                         "path": target.location}},
        },
        # Athena takes the partitioning from the log; Glue keeps none (as the crawler does).
        "PartitionKeys": [],
    }


def register(spark: SparkSession, catalog: Catalog, target: Target) -> None:
    """Point ``catalog`` at the Delta table (idempotent; Glue's columns follow the log)."""
    from lakeforge.catalog.athena_ddl import quote_identifier, quote_string

    if not catalog.database_exists(target.database):
        catalog.create_database(target.database)
    if catalog.backend_name == "glue_api":
        check_glue_table_is_delta(catalog, target)
        schema = spark.read.format("delta").load(target.location).schema
        catalog.put_table_input(target.database,  # type: ignore[attr-defined]
                                glue_table_input(target, schema))
        return
    if catalog.backend_name != "spark_sql":
        raise ConfigError(f"delta {target.qualified_name}: catalog backend "
                          f"{catalog.backend_name!r} cannot register Delta tables")
    name = f"{quote_identifier(target.database)}.{quote_identifier(target.table)}"
    if spark.catalog.tableExists(f"{target.database}.{target.table}"):
        provider = _provider(spark, name)
        if provider != "delta":
            raise SchemaMismatchError(
                f"delta {target.qualified_name}: the catalog already has this table as "
                f"{provider or 'a Hive table'}; drop it or publish under another name")
        return
    spark.sql(f"CREATE TABLE {name} USING DELTA LOCATION {quote_string(target.location)}")


def check_glue_table_is_delta(catalog: Catalog, target: Target) -> None:
    """One :class:`SchemaMismatchError` when Glue already has ``target`` as another format (a
    Parquet or Iceberg table): replacing it would orphan its partitions and readers."""
    glue_table_of_format(catalog, target, "delta")


def _provider(spark: SparkSession, name: str) -> str | None:
    for row in spark.sql(f"DESCRIBE TABLE EXTENDED {name}").collect():
        if row[0] == "Provider":
            return str(row[1]).lower()
    return None


def files_per_partition(spark: SparkSession, target: Target,
                        where: str | None = None) -> dict[tuple[Any, ...], int]:
    """Data files per partition of the current version (only those matching ``where``)."""
    from pyspark.sql import functions as F

    keys = list(target.partition_by)
    frame = spark.read.format("delta").load(target.location)
    if where:
        frame = frame.where(where)
    counts = (frame.select(*keys, F.input_file_name().alias("_f")).distinct()
              .groupBy(*keys).count().collect())
    return {tuple(r[k] for k in keys): int(r["count"]) for r in counts}


def compact(spark: SparkSession, target: Target, committed: DataFrame) -> tuple[str, ...]:
    """OPTIMIZE the partitions ``committed`` touched that hold more files than
    ``target.max_files_per_partition``; returns them as ``k=v/...`` names."""
    keys = list(target.partition_by)
    if not keys:
        over = files_per_partition(spark, target)
        if over.get((), 0) <= target.max_files_per_partition:
            return ()
        _delta_table(spark, target.location).optimize().executeCompaction()
        return ("",)
    touched = [tuple(r) for r in committed.select(*keys).distinct().collect()]
    where = partition_predicate(keys, touched)
    counts = files_per_partition(spark, target, where)
    big = [values for values, n in counts.items() if n > target.max_files_per_partition]
    if not big:
        return ()
    _delta_table(spark, target.location).optimize().where(
        partition_predicate(keys, big)).executeCompaction()
    names = tuple(sorted("/".join(f"{k}={v}" for k, v in zip(keys, values, strict=True))
                         for values in big))
    log.info("delta %s: compacted %s", target.qualified_name, list(names))
    return names


def vacuum(spark: SparkSession, location: str, retention_hours: float) -> None:
    """VACUUM with the configured retention rounded up to whole hours (:func:`whole_hours`);
    a table whose own retention property is longer keeps it (Delta refuses a shorter one:
    readers of older versions may still need them)."""
    from datetime import datetime, timedelta

    oldest = _delta_table(spark, location).history().agg({"timestamp": "min"}).collect()[0][0]
    if oldest is not None and datetime.now() - oldest < timedelta(
            hours=whole_hours(retention_hours)):
        # Every file is younger than the first commit still in the log: none can expire.
        return
    props = _delta_table(spark, location).detail().collect()[0]["properties"] or {}
    table_hours = _interval_hours(props.get("delta.deletedFileRetentionDuration"))
    hours = retention_hours
    if table_hours is not None and hours < table_hours:
        log.warning("delta %s: retention %.1f h is below the table's %.1f h; vacuuming with "
                    "the table's", location, hours, table_hours)
        hours = table_hours
    # Delta lists the table with parallelPartitionDiscovery.parallelism tasks (10,000 by
    # default): on a small machine that listing, not the deletes, is the cost.
    tasks = str(spark.sparkContext.defaultParallelism)
    with _session_conf(spark, {"spark.sql.sources.parallelPartitionDiscovery.parallelism":
                               tasks}):
        _delta_table(spark, location).vacuum(float(whole_hours(hours)))


def _interval_hours(text: str | None) -> float | None:
    """Hours of a Delta interval property (``interval 7 days``, ``interval 86400 seconds``)."""
    if not text:
        return None
    parts = text.lower().replace("interval", "").split()
    if len(parts) != 2:
        return None
    unit = parts[1].rstrip("s")
    per = {"second": 1 / 3600, "minute": 1 / 60, "hour": 1, "day": 24, "week": 168}.get(unit)
    return float(parts[0]) * per if per is not None else None


def history(spark: SparkSession, location: str, limit: int = 20) -> list[dict[str, Any]]:
    """The table's last ``limit`` commits: version, timestamp, operation, metrics."""
    rows = _delta_table(spark, location).history(limit).collect()
    return [{"version": int(r["version"]), "timestamp": str(r["timestamp"]),
             "operation": r["operation"], "metrics": dict(r["operationMetrics"] or {})}
            for r in rows]


def rollback(spark: SparkSession, catalog: Catalog, target: Target, version: int) -> int:
    """RESTORE the table to ``version`` (itself a new commit, so the rollback can be rolled
    back); the catalog follows the restored schema. Returns the new version number."""
    where = f"delta {target.qualified_name}"
    if not is_delta_table(spark, target.location):
        raise ConfigError(f"{where}: no Delta table at {target.location}")
    versions = [h["version"] for h in history(spark, target.location, 10_000)]
    if version not in versions or version == max(versions):
        raise ConfigError(f"{where}: --to-version {version} is not an earlier version; "
                          f"versions: {sorted(versions)}")
    _delta_table(spark, target.location).restoreToVersion(version)
    register(spark, catalog, target)
    new = max(h["version"] for h in history(spark, target.location, 1))
    log.info("%s: restored version %d as version %d", where, version, new)
    return new


def read_version(spark: SparkSession, location: str, version: int | None = None) -> DataFrame:
    """The table as of ``version`` (time travel), or its current version."""
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    return reader.load(location)


__all__: Sequence[str] = (
    "commit", "compact", "current_schema", "files_per_partition", "glue_table_input",
    "history", "is_delta_table", "read_version", "register", "rollback", "vacuum",
    "whole_hours",
)
