"""Iceberg outputs through the Iceberg Spark runtime: one snapshot per publish in the
``lakeforge_iceberg`` catalog, write-audit-publish on branches, rollback to a snapshot,
snapshot expiry and compaction.

* The catalog (:data:`~lakeforge.formats.ICEBERG_CATALOG`) is a Hadoop catalog whose warehouse
  is the lake's curated zone locally (a table's folder is ``<curated>/<database>/<table>``,
  holding ``data/`` and ``metadata/``), and Iceberg's GlueCatalog on EMR / Glue
  (:func:`lakeforge.formats.table_format_conf`).
* With the ``glue_api`` backend the session's Iceberg catalog is Iceberg's GlueCatalog, whose
  commits write the Glue table Athena reads: ``table_type=ICEBERG`` and ``metadata_location``
  (the current metadata file), the previous one in ``previous_metadata_location``. A session
  whose Iceberg catalog is the Hadoop one (a reused local session) is registered the same way
  by :func:`register` after every commit.
* Modes: ``overwrite`` (every row replaced), ``overwrite_partitions`` (dynamic: the partitions in
  the rows), ``append`` and ``merge`` (``MERGE INTO`` on ``merge_keys``).
* Write-audit-publish (:func:`write_branch`, :func:`read_branch`, :func:`publish_branch`): the
  rows are committed to a branch (``write.wap.enabled`` + ``spark.wap.branch``), audited there,
  then ``main`` is fast-forwarded to it: readers of ``main`` never see unaudited rows.

Example::

    result = commit(spark, df, Target("sales", "orders", "", ["dt"]), catalog=catalog)
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from lakeforge.errors import ConfigError, SchemaMismatchError
from lakeforge.formats import (
    ICEBERG_CATALOG,
    ICEBERG_GLUE_CATALOG,
    WINDOW_PROPERTY,
    AppendWindow,
    CommitResult,
    Target,
    check_schema_change,
    check_unique_merge_keys,
    committed_window,
    glue_table_of_format,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

    from lakeforge.catalog.base import Catalog

log = logging.getLogger(__name__)


def identifier(target: Target) -> str:
    """``lakeforge_iceberg.`db`.`table``` for Spark SQL."""
    return f"{ICEBERG_CATALOG}.`{target.database}`.`{target.table}`"


def _short(target: Target) -> str:
    """``db.table`` as the Iceberg procedures take it."""
    return f"{target.database}.{target.table}"


def table_exists(spark: SparkSession, target: Target) -> bool:
    return bool(spark.catalog.tableExists(f"{ICEBERG_CATALOG}.{_short(target)}"))


def current_schema(spark: SparkSession, target: Target) -> StructType | None:
    if not table_exists(spark, target):
        return None
    return spark.table(identifier(target)).schema


def as_iceberg_schema(schema: StructType) -> StructType:
    """``schema`` with the types Iceberg stores instead (it has no tinyint / smallint: int;
    no char / varchar: string), nested ones too: what the table's schema reads back as, so a
    second run with such columns is no type change."""
    from pyspark.sql import types as T

    def convert(t: T.DataType) -> T.DataType:
        if isinstance(t, T.ByteType | T.ShortType):
            return T.IntegerType()
        if isinstance(t, T.CharType | T.VarcharType):
            return T.StringType()
        if isinstance(t, T.StructType):
            return T.StructType([T.StructField(f.name, convert(f.dataType), f.nullable,
                                               f.metadata) for f in t.fields])
        if isinstance(t, T.ArrayType):
            return T.ArrayType(convert(t.elementType), t.containsNull)
        if isinstance(t, T.MapType):
            return T.MapType(convert(t.keyType), convert(t.valueType), t.valueContainsNull)
        return t

    out = convert(schema)
    assert isinstance(out, T.StructType)
    return out


def _partition_keys(spark: SparkSession, target: Target) -> list[str]:
    rows = spark.sql(f"DESCRIBE TABLE EXTENDED {identifier(target)}").collect()
    keys: list[str] = []
    in_part = False
    for r in rows:
        name = (r[0] or "").strip()
        if name == "# Partition Information":
            in_part = True
        elif in_part and not name:
            break
        elif in_part and not name.startswith("#"):
            keys.append(name.lower())
    return keys


def table_location(spark: SparkSession, target: Target) -> str:
    for r in spark.sql(f"DESCRIBE TABLE EXTENDED {identifier(target)}").collect():
        if (r[0] or "").strip() == "Location":
            return str(r[1])
    raise ConfigError(f"iceberg {target.qualified_name}: no location in DESCRIBE")


def metadata_location(spark: SparkSession, target: Target) -> str:
    """The current metadata file (what Glue's ``metadata_location`` points at)."""
    row = spark.sql(f"SELECT file FROM {identifier(target)}.metadata_log_entries "
                    "ORDER BY timestamp DESC LIMIT 1").collect()
    return str(row[0]["file"])


def _add_columns(spark: SparkSession, target: Target, df: DataFrame, added: list[str]) -> None:
    from lakeforge.catalog.athena_ddl import quote_identifier

    types = {f.name.lower(): f.dataType.simpleString() for f in df.schema.fields}
    cols = ", ".join(f"{quote_identifier(c)} {types[c]}" for c in added)
    spark.sql(f"ALTER TABLE {identifier(target)} ADD COLUMNS ({cols})")


def _ensure_namespace(spark: SparkSession, target: Target) -> None:
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {ICEBERG_CATALOG}.`{target.database}`")


def commit(spark: SparkSession, df: DataFrame, target: Target, *,
           catalog: Catalog) -> CommitResult:
    """Write ``df`` as one Iceberg snapshot to ``target`` and register it in ``catalog``.

    Schema rule and partition keys are checked first (a refused change writes nothing);
    allowed added columns are added to the table schema (a metadata change, no snapshot)
    before the data commit. Afterwards snapshots older than ``retention_hours`` are expired
    and touched partitions with more files than ``max_files_per_partition`` rewritten.
    """
    from pyspark.sql import functions as F

    where = f"iceberg {target.qualified_name}"
    keys = [k.lower() for k in target.partition_by]
    exists = table_exists(spark, target)
    current = None
    if exists:
        have = _partition_keys(spark, target)
        if have != keys:
            raise SchemaMismatchError(f"{where}: partition keys {keys} differ from the table's "
                                      f"{have}; partition keys cannot change")
        current = spark.table(identifier(target)).schema
    added = check_schema_change(current, as_iceberg_schema(df.schema),
                                allow_added=target.allow_added_columns, partition_by=keys,
                                where=where)
    if target.mode == "merge" and not target.merge_keys:
        raise ConfigError(f"{where}: mode 'merge' needs merge_keys (the columns a row is "
                          "matched on)")
    if target.mode == "merge":
        check_unique_merge_keys(df, target.merge_keys, where)
    ident = identifier(target)
    window = target.window if target.mode == "append" else None
    if window is not None and exists:
        done = committed_window("iceberg", target, last_window(spark, target, window.app_id),
                                "added-records", where)
        if done is not None:
            register(spark, catalog, target)
            return done
    # the window rides on the snapshot's summary (Iceberg's snapshot-property.<key> option)
    window_options = ({f"snapshot-property.{WINDOW_PROPERTY}": window.to_text()}
                      if window is not None else {})
    if added:
        _add_columns(spark, target, df, added)
    if not exists:
        _ensure_namespace(spark, target)
        writer = (df.writeTo(ident).using("iceberg").tableProperty("format-version", "2")
                  .options(**window_options))
        if keys:
            writer = writer.partitionedBy(*[F.col(k) for k in keys])
        writer.create()
        operation = "CREATE"
    elif target.mode == "merge":
        view = f"_lakeforge_merge_{target.table}"
        df.createOrReplaceTempView(view)
        cond = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in target.merge_keys)
        spark.sql(f"MERGE INTO {ident} t USING {view} s ON {cond} "
                  "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *")
        spark.catalog.dropTempView(view)
        operation = "MERGE"
    elif target.mode == "append":
        df.writeTo(ident).options(**window_options).append()
        operation = "APPEND"
    elif target.mode == "overwrite_partitions" and keys:
        df.writeTo(ident).overwritePartitions()
        operation = "OVERWRITE PARTITIONS"
    else:
        df.writeTo(ident).overwrite(F.lit(True))
        operation = "OVERWRITE"
    snap = spark.sql(f"SELECT snapshot_id, operation, summary FROM {ident}.snapshots "
                     "ORDER BY committed_at DESC LIMIT 1").collect()[0]
    summary = dict(snap["summary"] or {})
    rows = (int(summary.get("added-records", 0)) if operation != "MERGE" else df.count())
    log.info("%s: %s committed snapshot %s (%d rows)", where, operation, snap["snapshot_id"],
             rows)
    register(spark, catalog, target)
    compacted = compact(spark, target) if target.max_files_per_partition > 0 else ()
    expire(spark, target, target.retention_hours)
    # compaction and expiry each write new metadata: Glue must point at the last one, not at
    # metadata whose snapshots the expiry may just have removed
    register(spark, catalog, target)
    return CommitResult("iceberg", target.qualified_name, str(snap["snapshot_id"]), rows,
                        operation, tuple(added), compacted, summary)


def last_window(spark: SparkSession, target: Target, app_id: str
                ) -> tuple[AppendWindow, tuple[int, dict[str, str]]] | None:
    """The latest append window ``app_id`` recorded on a snapshot of ``main``'s current
    history (a snapshot rolled back from is not one), with that snapshot's id and summary."""
    ident = identifier(target)
    rows = spark.sql(
        f"SELECT s.snapshot_id, s.summary FROM {ident}.snapshots s JOIN {ident}.history h "
        "ON s.snapshot_id = h.snapshot_id WHERE h.is_current_ancestor "
        f"AND s.summary['{WINDOW_PROPERTY}'] IS NOT NULL ORDER BY s.committed_at DESC"
    ).collect()
    for r in rows:
        summary = dict(r["summary"] or {})
        found = AppendWindow.from_text(summary.get(WINDOW_PROPERTY))
        if found is not None and found.app_id == app_id:
            return found, (int(r["snapshot_id"]), summary)
    return None


def glue_table_input(target: Target, schema: StructType, location: str, metadata: str,
                     previous: str | None) -> dict[str, Any]:
    """The Glue ``TableInput`` of an Iceberg table as Iceberg's GlueCatalog writes it (and
    Athena reads it): ``table_type=ICEBERG`` and the current ``metadata_location``."""
    from lakeforge.publish import athena_type_string

    params = {"EXTERNAL": "TRUE", "table_type": "ICEBERG", "metadata_location": metadata}
    if previous:
        params["previous_metadata_location"] = previous
    return {
        "Name": target.table,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": params,
        "StorageDescriptor": {
            "Columns": [{"Name": f.name, "Type": athena_type_string(f.dataType)}
                        for f in schema.fields],
            "Location": location,
        },
    }


def glue_catalog_writes(spark: SparkSession) -> bool:
    """True when the session's Iceberg catalog is Iceberg's GlueCatalog: its commits write the
    Glue table (``metadata_location``) themselves."""
    key = f"spark.sql.catalog.{ICEBERG_CATALOG}.catalog-impl"
    return (spark.conf.get(key, "") or "") == ICEBERG_GLUE_CATALOG


def register(spark: SparkSession, catalog: Catalog, target: Target) -> None:
    """Make the table visible through ``catalog``: with ``glue_api`` a Glue table pointing at
    the current metadata file, unless the session's Iceberg catalog is the GlueCatalog (which
    committed that pointer itself, with Glue's optimistic locking); with ``spark_sql`` nothing
    more is needed (the table is ``lakeforge_iceberg.<db>.<table>`` in the session's Iceberg
    catalog)."""
    if catalog.backend_name != "glue_api" or glue_catalog_writes(spark):
        return
    if not catalog.database_exists(target.database):
        catalog.create_database(target.database)
    raw = glue_table_of_format(catalog, target, "iceberg")
    params = (raw or {}).get("Parameters", {})
    metadata = metadata_location(spark, target)
    previous = params.get("metadata_location")
    if raw is not None and previous == metadata:
        return  # already current (a second call after a compaction or expiry that wrote none)
    catalog.put_table_input(target.database, glue_table_input(  # type: ignore[attr-defined]
        target, spark.table(identifier(target)).schema, table_location(spark, target),
        metadata, previous if previous != metadata else params.get(
            "previous_metadata_location")))


def compact(spark: SparkSession, target: Target) -> tuple[str, ...]:
    """``rewrite_data_files`` on the partitions holding more than ``max_files_per_partition``
    files (read from the ``files`` metadata table); returns them as ``k=v/...``."""
    keys = list(target.partition_by)
    ident = identifier(target)
    if keys:
        parts = ", ".join(f"partition.`{k}` AS `{k}`" for k in keys)
        rows = spark.sql(f"SELECT {parts}, count(*) AS n FROM {ident}.files "
                         f"GROUP BY {', '.join(f'partition.`{k}`' for k in keys)}").collect()
    else:
        rows = spark.sql(f"SELECT count(*) AS n FROM {ident}.files").collect()
    big = [tuple(r[k] for k in keys) for r in rows if r["n"] > target.max_files_per_partition]
    if not big:
        return ()
    spark.sql(f"CALL {ICEBERG_CATALOG}.system.rewrite_data_files(table => '{_short(target)}', "
              f"options => map('min-input-files', '{target.max_files_per_partition + 1}'))")
    names = tuple(sorted("/".join(f"{k}={v}" for k, v in zip(keys, values, strict=True))
                         for values in big))
    log.info("iceberg %s: compacted %s", target.qualified_name, list(names))
    return names


def expire(spark: SparkSession, target: Target, retention_hours: float) -> None:
    """Expire the snapshots replaced more than ``retention_hours`` ago; their files no longer
    referenced are deleted. The current snapshot and every branch or tag head stay.

    A snapshot ages from when it was replaced, as a Parquet version and Delta's removed files
    do, not from its commit (Iceberg's ``older_than``): a table published less often than the
    retention keeps the snapshot a reader or a rollback may still be pointed at.
    """
    now_ms = int(time.time() * 1000)
    expired = expirable_snapshots(spark, target, now_ms - int(retention_hours * 3_600_000))
    if not expired:
        return
    ids = ", ".join(f"{i}L" for i in expired)
    # older_than a day after the epoch: only the listed snapshots go (Iceberg otherwise also
    # expires by commit time, history.expire.max-snapshot-age-ms: 5 days by default)
    spark.sql(f"CALL {ICEBERG_CATALOG}.system.expire_snapshots(table => '{_short(target)}', "
              f"older_than => TIMESTAMP '1970-01-02 00:00:00', "
              f"snapshot_ids => array({ids}))")
    log.info("iceberg %s: expired snapshots %s", target.qualified_name, expired)


def expirable_snapshots(spark: SparkSession, target: Target, cutoff_ms: int) -> list[int]:
    """The snapshots replaced at or before ``cutoff_ms`` (epoch milliseconds), oldest first.

    A snapshot is replaced when ``main``'s next snapshot-log entry after it was made current
    (a commit, a rollback, a fast-forward) or when a snapshot with it as parent was committed
    (its successor on a branch); the latest of these counts. Never replaced: the current
    snapshot and the head of every branch and tag. A snapshot with neither (the head of a
    dropped branch, never a version of ``main``) ages from its commit.
    """
    ident = identifier(target)
    snaps = spark.sql(f"SELECT snapshot_id, parent_id, unix_millis(committed_at) AS at "
                      f"FROM {ident}.snapshots").collect()
    log_rows = spark.sql(f"SELECT snapshot_id, unix_millis(made_current_at) AS at "
                         f"FROM {ident}.history ORDER BY made_current_at").collect()
    heads = {int(r["snapshot_id"]) for r in
             spark.sql(f"SELECT snapshot_id FROM {ident}.refs").collect()}
    replaced: dict[int, int] = {}
    for before, after in zip(log_rows, log_rows[1:], strict=False):
        sid = int(before["snapshot_id"])
        replaced[sid] = max(replaced.get(sid, 0), int(after["at"]))
    for r in snaps:
        if r["parent_id"] is not None:
            parent = int(r["parent_id"])
            replaced[parent] = max(replaced.get(parent, 0), int(r["at"]))
    if log_rows:
        heads.add(int(log_rows[-1]["snapshot_id"]))
    out = [(replaced.get(int(r["snapshot_id"]), int(r["at"])), int(r["snapshot_id"]))
           for r in snaps if int(r["snapshot_id"]) not in heads]
    return [sid for at, sid in sorted(out) if at <= cutoff_ms]


def snapshots(spark: SparkSession, target: Target) -> list[dict[str, Any]]:
    """Snapshots oldest first: id, time, operation, summary."""
    rows = spark.sql(f"SELECT snapshot_id, committed_at, operation, summary FROM "
                     f"{identifier(target)}.snapshots ORDER BY committed_at").collect()
    return [{"snapshot_id": int(r["snapshot_id"]), "committed_at": str(r["committed_at"]),
             "operation": r["operation"], "summary": dict(r["summary"] or {})} for r in rows]


def rollback(spark: SparkSession, catalog: Catalog, target: Target, snapshot_id: int) -> int:
    """Point ``main`` back at ``snapshot_id`` (an ancestor of the current snapshot); the Glue
    registration follows. Returns the snapshot now current."""
    where = f"iceberg {target.qualified_name}"
    if not table_exists(spark, target):
        raise ConfigError(f"{where}: no Iceberg table {identifier(target)}")
    known = [s["snapshot_id"] for s in snapshots(spark, target)]
    if snapshot_id not in known:
        raise ConfigError(f"{where}: --to-version {snapshot_id} is not a snapshot of the "
                          f"table; snapshots: {known}")
    spark.sql(f"CALL {ICEBERG_CATALOG}.system.rollback_to_snapshot('{_short(target)}', "
              f"{snapshot_id})")
    register(spark, catalog, target)
    return snapshot_id


# --------------------------------------------------------------------------- write-audit-publish


def write_branch(spark: SparkSession, df: DataFrame, target: Target, branch: str) -> None:
    """Append or overwrite (by ``target.mode``) ``df`` on ``branch`` of an existing table
    (WAP: ``write.wap.enabled`` and ``spark.wap.branch``); ``main`` is unchanged."""
    if not table_exists(spark, target):
        raise ConfigError(f"iceberg {target.qualified_name}: write-audit-publish needs the "
                          "table to exist (its first publish is a plain commit)")
    ident = identifier(target)
    spark.sql(f"ALTER TABLE {ident} SET TBLPROPERTIES ('write.wap.enabled'='true')")
    spark.conf.set("spark.wap.branch", branch)
    try:
        if target.mode == "append":
            df.writeTo(ident).append()
        else:
            df.writeTo(ident).overwritePartitions()
    finally:
        spark.conf.unset("spark.wap.branch")


def read_branch(spark: SparkSession, target: Target, branch: str) -> DataFrame:
    """The rows on ``branch`` (what an audit reads before :func:`publish_branch`)."""
    return spark.read.option("branch", branch).table(f"{ICEBERG_CATALOG}.{_short(target)}")


def publish_branch(spark: SparkSession, catalog: Catalog, target: Target, branch: str) -> int:
    """Fast-forward ``main`` to ``branch`` (one atomic metadata swap), drop the branch and
    register the new metadata; returns the snapshot now current."""
    ident = identifier(target)
    spark.sql(f"CALL {ICEBERG_CATALOG}.system.fast_forward('{_short(target)}', 'main', "
              f"'{branch}')")
    spark.sql(f"ALTER TABLE {ident} DROP BRANCH `{branch}`")
    register(spark, catalog, target)
    return int(snapshots(spark, target)[-1]["snapshot_id"])


def drop_branch(spark: SparkSession, target: Target, branch: str) -> None:
    """Discard an audited-and-refused branch: ``main`` never saw it."""
    spark.sql(f"ALTER TABLE {identifier(target)} DROP BRANCH IF EXISTS `{branch}`")
