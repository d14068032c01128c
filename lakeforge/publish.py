"""Atomic, partitioned Parquet publish for Athena, with catalog registration.

Layout of a published table (``lake.table_uri(zone, table, database)``)::

    <table>/_versions/<version>/<key>=<value>/part-*.snappy.parquet   immutable, one per run
    <table>/_versions/<old version>/_SUPERSEDED                         when nothing points to it
    <table>/_athena_ddl.sql                                             CREATE TABLE + partitions

Readers find data through the catalog's partition locations only; a publish writes a whole new
version first and then switches the partitions it touched in one catalog call, so no reader ever
sees a half-written partition. Markers, DDL files and version folders are handled through
:mod:`lakeforge.io` (pyarrow file systems, local or S3).

Example::

    result = publish_partitioned(df, database="sales", table="orders", partition_by=["dt"],
                                 mode="overwrite_partitions", catalog=catalog, lake=lake)
"""

from __future__ import annotations

import json
import logging
import math
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F  # noqa: N812
from pyspark.sql import types as T  # noqa: N812

from lakeforge.catalog.athena_ddl import DDL_FILE, Projection, athena_ddl, projection_properties
from lakeforge.catalog.athena_schema import AthenaSchemaError, athena_type_string, to_athena_schema
from lakeforge.catalog.base import Catalog, Partition, TableSpec
from lakeforge.catalog.base import Column as BaseColumn
from lakeforge.errors import ConfigError, LakeforgeError, SchemaMismatchError
from lakeforge.io import (
    abort_uploads,
    delete_dir,
    list_files,
    list_subdirs,
    read_text,
    uri_exists,
    write_text,
)
from lakeforge.paths import (
    Lake,
    join_uri,
    normalize_uri,
    partition_path,
    validate_identifier,
)

log = logging.getLogger(__name__)


VERSIONS_DIR = "_versions"
SUPERSEDED_MARKER = "_SUPERSEDED"
DEFAULT_TARGET_FILE_BYTES = 128 * 1024 * 1024
# An append that knows its input window (a run's bookmark window) records it in the table
# parameter and, in the version folder, the partition locations its rows were added to: a
# rerun over the same window starts again from those, so it replaces its own earlier append.
APPEND_WINDOW_PARAM = "lakeforge.append_window"
APPEND_WINDOW_FILE = "_APPEND_WINDOW"
PublishMode = Literal["overwrite", "overwrite_partitions", "append"]
PUBLISH_MODES: tuple[str, ...] = ("overwrite", "overwrite_partitions", "append")
class PublishError(LakeforgeError, RuntimeError):
    """A publish could not complete; the catalog points at the previous version, or the
    message says which partitions do not (a failed switch whose undo failed too)."""


# --------------------------------------------------------------------------- sizing


@dataclass(frozen=True)
class PartitionStats:
    """Rows of one partition and the files it is written as."""

    values: tuple[Any, ...]
    rows: int
    files: int


def estimate_parquet_bytes_per_row(
    df: DataFrame, *, total_rows: int, sample_rows: int = 20_000, seed: int = 7
) -> float:
    """Snappy Parquet bytes per row, measured by writing a sample of ``df`` with pyarrow."""
    if total_rows <= 0:
        return 0.0
    fraction = min(1.0, sample_rows / total_rows)
    sample = df.sample(fraction=fraction, seed=seed) if fraction < 1.0 else df
    pdf = sample.limit(sample_rows).toPandas()
    if len(pdf) == 0:
        pdf = df.limit(min(sample_rows, 1000)).toPandas()
    if len(pdf) == 0:
        return 0.0
    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pandas(pdf, preserve_index=False), sink, compression="snappy")
    return sink.getvalue().size / len(pdf)


def plan_files(
    counts: Sequence[tuple[tuple[Any, ...], int]], bytes_per_row: float, target_file_bytes: int
) -> tuple[list[PartitionStats], int]:
    """Files per partition (ceil of estimated bytes / target, at least 1) and rows per file."""
    rows_per_file = max(1, int(target_file_bytes // max(bytes_per_row, 1e-9)))
    stats = [
        PartitionStats(values, rows, max(1, math.ceil(rows / rows_per_file)))
        for values, rows in counts
    ]
    return stats, rows_per_file


def _partition_counts(df: DataFrame, keys: Sequence[str]) -> list[tuple[tuple[Any, ...], int]]:
    """Rows per partition value tuple; an unpartitioned frame is one partition ``()``."""
    if not keys:
        n = df.count()
        return [((), n)] if n else []
    rows = df.groupBy(*keys).count().collect()
    return [(tuple(r[k] for k in keys), int(r["count"])) for r in rows]


def _append_bases(existing: TableSpec | None, table_uri: str, current: Sequence[Partition],
                  keys: Sequence[str], window: str | None
                  ) -> dict[tuple[str | None, ...], str | None]:
    """Where an append takes each partition's current rows from (``()`` for an unpartitioned
    table; None: no rows). Normally the catalog's current locations; when the table's last
    append was ``window`` itself (a rerun over the same input), the locations that append
    started from, so the rerun replaces it instead of adding the same rows again."""
    if existing is None:
        return {}
    now: dict[tuple[str | None, ...], str | None] = (
        {tuple(p.values): p.location for p in current} if keys else {(): existing.location})
    if window is None:
        return now
    if existing.parameters.get(APPEND_WINDOW_PARAM) != window:
        from lakeforge.formats import AppendWindow, window_committed

        # windows of one app id come in sequence: one at or before the last is refused
        last = AppendWindow.from_text(existing.parameters.get(APPEND_WINDOW_PARAM))
        ours = AppendWindow.from_text(window)
        if last is not None and ours is not None and last.app_id == ours.app_id:
            window_committed(last, ours, f"publish {existing.qualified_name}")
        return now
    done = existing.parameters.get("lakeforge.version", "")
    doc = _read_append_window(table_uri, done)
    if doc is None or doc.get("window") != window:
        return now
    where = f"publish {existing.qualified_name}"
    for values, base in doc["bases"]:
        key = tuple(values)
        at = now.get(key)
        if at is None or version_of(at, table_uri) != done:
            continue  # that partition moved on since (or was dropped): keep what it holds
        if base is not None and not uri_exists(base):
            raise PublishError(
                f"{where}: the append of this input window (version {done}) is redone, but "
                f"the rows it was added to ({base}) are gone; the catalog was not changed")
        now[key] = base
    log.info("%s: the input window of version %s is published again: it replaces that "
             "append", where, done)
    return now


def _read_append_window(table_uri: str, version: str) -> dict[str, Any] | None:
    """The ``_APPEND_WINDOW`` record of a version folder (None when it has none)."""
    if not version:
        return None
    uri = join_uri(table_uri, VERSIONS_DIR, version, APPEND_WINDOW_FILE)
    if not uri_exists(uri):
        return None
    doc = json.loads(read_text(uri))
    return doc if isinstance(doc, dict) else None


def _distribute(df: DataFrame, partition_by: Sequence[str], stats: Sequence[PartitionStats],
                spark: SparkSession) -> DataFrame:
    """Shuffle so each partition's rows go to ``files`` tasks: one file per task and partition."""
    total = sum(s.files for s in stats)
    if not partition_by:
        return df.repartition(max(total, 1))
    if all(s.files == 1 for s in stats):
        return df.repartition(max(total, 1), *partition_by)
    key_schema = T.StructType(
        [df.schema[c] for c in partition_by] + [T.StructField("__files", T.IntegerType())]
    )
    plan = spark.createDataFrame([(*s.values, s.files) for s in stats], key_schema)
    hashable = [c for c in df.columns if not isinstance(df.schema[c].dataType, T.MapType)]
    joined = df.join(F.broadcast(plan), list(partition_by), "inner")
    slot = F.pmod(F.xxhash64(*[F.col(c) for c in hashable]), F.col("__files"))
    return (
        joined.withColumn("__slot", slot)
        .repartition(total, *partition_by, "__slot")
        .drop("__slot", "__files")
        .select(*df.columns)
    )


# --------------------------------------------------------------------------- the publish


@dataclass(frozen=True)
class PublishPlan:
    """What a publish has written and is about to switch to (given to ``before_switch``)."""

    database: str
    table: str
    mode: str
    version: str
    version_uri: str
    table_uri: str
    partitions: tuple[Partition, ...]
    stale_partitions: tuple[tuple[str | None, ...], ...]


@dataclass(frozen=True)
class PublishResult:
    """The outcome of :func:`publish_partitioned`."""

    plan: PublishPlan
    rows: int
    partition_stats: tuple[PartitionStats, ...]
    rows_per_file: int
    bytes_per_row: float
    files_per_partition: Mapping[str, int]
    ddl_uri: str
    superseded_versions: tuple[str, ...]
    removed_versions: tuple[str, ...]

    @property
    def version(self) -> str:
        return self.plan.version


def new_version_id(run_id: str | None = None) -> str:
    """A sortable, unique version folder name: UTC time to the microsecond plus a run id."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    suffix = run_id or secrets.token_hex(4)
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", suffix):
        raise ConfigError(f"run_id {run_id!r}: use letters, digits, '_', '.', '-'")
    return f"{stamp}_{suffix}"


def _partition_text(value: Any) -> str | None:
    """How a partition value is written in the catalog (as Spark/Hive name its folder)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def publish_partitioned(
    df: DataFrame,
    *,
    database: str,
    table: str,
    partition_by: Sequence[str],
    catalog: Catalog,
    lake: Lake,
    mode: PublishMode = "overwrite_partitions",
    zone: str = "curated",
    target_file_bytes: int = DEFAULT_TARGET_FILE_BYTES,
    retention: timedelta = timedelta(hours=24),
    projection: Mapping[str, Projection] | None = None,
    convert_vectors: bool = True,
    run_id: str | None = None,
    allow_empty: bool = False,
    table_parameters: Mapping[str, str] | None = None,
    before_switch: Callable[[PublishPlan], None] | None = None,
    append_window: str | None = None,
    allow_breaking_schema_change: bool = False,
) -> PublishResult:
    """Publish ``df`` as partitioned, snappy Parquet for Athena, atomically.

    1. The schema is made Athena-safe (:func:`to_athena_schema`).
    2. Rows per partition are counted and the Parquet bytes per row estimated from a sample, so
       each partition is written as ``ceil(bytes / target_file_bytes)`` files (~128 MB each).
    3. Everything is written under a new, immutable ``<table>/_versions/<version>/`` folder.
    4. Only then is the catalog switched: the table is created/updated and the touched
       partitions are pointed at the new folders with one ``set_partition_locations`` call.
       A failure or a kill before this step leaves readers on the previous version.
    5. Versions no partition points to any more are marked superseded and deleted once they
       have been superseded for longer than ``retention`` (readers mid-query keep their files).

    Modes: ``overwrite`` replaces the whole table (partitions absent from ``df`` are dropped
    right after the switch); ``overwrite_partitions`` replaces only the partitions in ``df``;
    ``append`` adds ``df``'s rows to its partitions (their current rows are rewritten into the
    new version together with the new ones, which also compacts them). An ``append`` given
    ``append_window`` (the identity of its input, e.g. a run's bookmark window) is done once
    per window: publishing the same window again (a rerun after a kill between the switch and
    the bookmark commit) replaces that window's earlier append instead of adding its rows twice.

    ``overwrite`` of a partitioned table may add columns; a changed type or a dropped column is
    refused
    (:class:`~lakeforge.formats.SchemaEvolutionError`) unless ``allow_breaking_schema_change``:
    the table update and the partition switch are two catalog calls, and between them readers
    would fail on the old partitions. A failed table update or partition switch is undone:
    the table definition and every partition are put back (:class:`PublishError` says what
    readers see when that fails too).

    ``projection`` (key -> :class:`~lakeforge.catalog.athena_ddl.Projection`) enables Athena
    partition projection; Athena then finds partitions from one location template, so each
    version must hold the whole table: projection needs ``mode='overwrite'``.

    One writer per table at a time (like Hive); the input is read twice (counting, writing), so
    cache it when it is expensive to compute.

    Example::

        publish_partitioned(df, database="sales", table="orders", partition_by=["dt"],
                            catalog=SparkSqlCatalog(spark), lake=lake)
    """
    staged = stage_partitioned(
        df, database=database, table=table, partition_by=partition_by, catalog=catalog,
        lake=lake, mode=mode, zone=zone, target_file_bytes=target_file_bytes,
        projection=projection, convert_vectors=convert_vectors, run_id=run_id,
        allow_empty=allow_empty, table_parameters=table_parameters,
        append_window=append_window, allow_breaking_schema_change=allow_breaking_schema_change)
    return switch_staged(staged, catalog=catalog, retention=retention,
                         before_switch=before_switch)


@dataclass(frozen=True)
class StagedVersion:
    """A written, not yet current, version of a table (:func:`stage_partitioned`); plain data,
    so that another process can switch it in (:meth:`to_dict` / :meth:`from_dict`)."""

    plan: PublishPlan
    spec: TableSpec
    rows: int
    partition_stats: tuple[PartitionStats, ...]
    rows_per_file: int
    bytes_per_row: float
    expected: tuple[str, ...]
    projection: bool = False
    # append: the table's current rows rewritten into the version beside the new ones
    # (``rows - carried_rows`` were added), and the (partition values, location) pairs they
    # were read from (:func:`read_carried`)
    carried_rows: int = 0
    carried_from: tuple[tuple[tuple[str | None, ...], str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        import dataclasses

        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> StagedVersion:
        p, s = doc["plan"], doc["spec"]
        plan = PublishPlan(
            p["database"], p["table"], p["mode"], p["version"], p["version_uri"],
            p["table_uri"],
            tuple(Partition(tuple(x["values"]), x["location"], x.get("parameters") or {})
                  for x in p["partitions"]),
            tuple(tuple(v) for v in p["stale_partitions"]))
        spec = TableSpec(**{**s, "columns": [BaseColumn(**c) for c in s["columns"]],
                            "partition_keys": [BaseColumn(**c) for c in s["partition_keys"]]})
        return cls(plan, spec, doc["rows"],
                   tuple(PartitionStats(tuple(x["values"]), x["rows"], x["files"])
                         for x in doc["partition_stats"]),
                   doc["rows_per_file"], doc["bytes_per_row"], tuple(doc["expected"]),
                   doc.get("projection", False), doc.get("carried_rows", 0),
                   tuple((tuple(v), loc) for v, loc in doc.get("carried_from", ())))


def stage_partitioned(
    df: DataFrame,
    *,
    database: str,
    table: str,
    partition_by: Sequence[str],
    catalog: Catalog | None,
    lake: Lake,
    mode: PublishMode = "overwrite_partitions",
    zone: str = "curated",
    target_file_bytes: int = DEFAULT_TARGET_FILE_BYTES,
    retention: timedelta = timedelta(hours=24),
    projection: Mapping[str, Projection] | None = None,
    convert_vectors: bool = True,
    run_id: str | None = None,
    allow_empty: bool = False,
    table_parameters: Mapping[str, str] | None = None,
    append_window: str | None = None,
    allow_breaking_schema_change: bool = False,
    restage_of: StagedVersion | None = None,
) -> StagedVersion:
    """Write ``df`` as a new, immutable version of a table without touching the catalog
    (steps 1-3 of :func:`publish_partitioned`); :func:`switch_staged` makes it current.

    The first pass over ``df`` is the rows-per-partition count: metrics a caller attached with
    :meth:`DataFrame.observe` are complete once this returns.

    ``catalog`` None stages the rows alone, checked against no catalog table: the staging of a
    Delta or Iceberg output (:mod:`lakeforge.formats`), whose commit checks its own table.

    ``restage_of`` (``append`` only): ``df`` is that staged append read back with rows taken
    out (the audit phase without its failing rows), so it already holds the touched
    partitions' current rows; they are not added a second time, and the staged version's
    carried rows and their locations are kept. Its window and bases are recorded as for the
    first staging.
    """
    validate_identifier(database, "database name")
    validate_identifier(table, "table name")
    if mode not in PUBLISH_MODES:
        raise ConfigError(f"publish mode {mode!r}; allowed modes: {list(PUBLISH_MODES)}")
    if target_file_bytes < 1024:
        raise ConfigError(f"target_file_bytes {target_file_bytes} is below 1 KiB")
    if projection and mode != "overwrite":
        raise ConfigError(
            f"partition projection on {database}.{table} needs mode='overwrite': Athena resolves "
            "every partition from one location template, so each version must hold every "
            f"partition (got mode={mode!r})"
        )
    keys = [k.lower() for k in partition_by]
    for k in keys:
        validate_identifier(k, "partition column")
    spark = df.sparkSession
    safe = to_athena_schema(df, partition_by=keys, convert_vectors=convert_vectors)
    data_cols = [c for c in safe.columns if c not in keys]
    safe = safe.select(*data_cols, *keys)
    table_uri = lake.require_inside(lake.table_uri(zone, table, database), "table location")

    existing = catalog.get_table(database, table) if catalog is not None else None
    if existing is not None:
        ordered = _in_table_order(existing, data_cols)
        if ordered != data_cols:
            # Parquet is read by name (Spark, Athena): written in the table's order, the
            # table's columns need no change (a new order would make the metastore re-create
            # the table)
            log.info("publish %s.%s: columns written in the table's order %s", database, table,
                     ordered)
            data_cols = ordered
            safe = safe.select(*data_cols, *keys)
    columns = [BaseColumn(c, athena_type_string(safe.schema[c].dataType)) for c in data_cols]
    part_cols = [BaseColumn(k, athena_type_string(safe.schema[k].dataType)) for k in keys]
    current: list[Partition] = []
    if existing is not None and catalog is not None:
        _check_compatible(existing, table_uri, columns, part_cols, mode,
                          allow_breaking_schema_change)
        current = catalog.get_partitions(database, table)

    counts = _partition_counts(safe, keys)
    unset = _unset_partition_values(keys, counts)
    if unset:
        raise AthenaSchemaError(unset, f"publish {database}.{table}")
    if not counts and mode == "overwrite" and not allow_empty:
        raise PublishError(
            f"publish {database}.{table}: the input is empty and mode='overwrite' would empty "
            "the table; pass allow_empty=True if that is intended"
        )

    new_values = {tuple(_partition_text(v) for v in values) for values, _ in counts}
    frame = safe
    bases: list[tuple[tuple[str | None, ...], str | None]] = []
    new_rows = sum(n for _, n in counts)
    n_carried = 0
    carried_from: tuple[tuple[tuple[str | None, ...], str], ...] = ()
    if mode == "append":
        window = append_window if existing is not None and append_window else None
        carried = _append_bases(existing, table_uri, current, keys, window)
        # every partition the append touches, None where it adds a new one
        bases = [(v, carried.get(v)) for v in sorted(new_values, key=str)]
        if restage_of is not None:
            n_carried, carried_from = restage_of.carried_rows, restage_of.carried_from
        else:
            carried_from = _carried_locations(carried, new_values, keys)
            current_rows = _rows_at(
                spark, T.StructType([safe.schema[c] for c in data_cols]),
                [(k, safe.schema[k].dataType) for k in keys], carried_from, safe.columns)
            if current_rows is not None:
                # an unpartitioned table's current rows first, as they were
                frame = (safe.unionByName(current_rows) if keys
                         else current_rows.unionByName(safe))
                counts = _partition_counts(frame, keys)  # frame is safe otherwise: counted
                n_carried = sum(n for _, n in counts) - new_rows
                carried_from = carried_from if n_carried else ()
    total_rows = sum(n for _, n in counts)
    bytes_per_row = estimate_parquet_bytes_per_row(frame.select(*data_cols),
                                                    total_rows=total_rows)
    stats, rows_per_file = plan_files(counts, bytes_per_row, target_file_bytes)

    version = new_version_id(run_id)
    version_uri = lake.require_inside(join_uri(table_uri, VERSIONS_DIR, version), "publish")
    if counts:
        log.info("publishing %s.%s: %d rows, %d partitions, %d files, version %s", database,
                 table, total_rows, len(stats), sum(s.files for s in stats), version)
        writer = _distribute(frame, keys, stats, spark).write.mode("errorifexists")
        if keys:
            writer = writer.partitionBy(*keys)
        (
            writer.option("compression", "snappy")
            .option("maxRecordsPerFile", rows_per_file)
            .parquet(version_uri)
        )
    # An unpartitioned table has no partitions: its location itself is switched.
    partitions = () if not keys else tuple(
        Partition(
            values=tuple(_partition_text(v) for v in s.values),
            location=partition_path(version_uri, dict(zip(keys, s.values, strict=True))),
        )
        for s in stats
    )
    expected = [p.location for p in partitions] or ([version_uri] if counts else [])
    missing = [loc for loc in expected if not uri_exists(loc)]
    if missing:
        raise PublishError(
            f"publish {database}.{table}: partition folders {missing[:5]} were not written "
            f"under {version_uri}; the catalog was not changed"
        )
    windowed = mode == "append" and bool(append_window) and bool(counts)
    if windowed:
        write_text(join_uri(version_uri, APPEND_WINDOW_FILE), json.dumps(
            {"window": append_window, "bases": [[list(v), loc] for v, loc in bases]}))
    stale: tuple[tuple[str | None, ...], ...] = ()
    if mode == "overwrite":
        stale = tuple(p.values for p in current if tuple(p.values) not in new_values)
    plan = PublishPlan(database, table, mode, version, version_uri, table_uri, partitions, stale)
    spec = TableSpec(
        database=database,
        name=table,
        columns=columns,
        location=table_uri if keys else version_uri,
        partition_keys=part_cols,
        format="parquet",
        compression="snappy",
        parameters={**_table_parameters(table_uri, version_uri, keys, columns, part_cols,
                                        projection, table_parameters),
                    **({APPEND_WINDOW_PARAM: str(append_window)} if windowed else {})},
    )
    return StagedVersion(plan=plan, spec=spec, rows=total_rows, partition_stats=tuple(stats),
                         rows_per_file=rows_per_file, bytes_per_row=bytes_per_row,
                         expected=tuple(expected), projection=bool(projection),
                         carried_rows=n_carried, carried_from=carried_from)


def switch_staged(
    staged: StagedVersion,
    *,
    catalog: Catalog,
    retention: timedelta = timedelta(hours=24),
    before_switch: Callable[[PublishPlan], None] | None = None,
) -> PublishResult:
    """Make a staged version current: one table update plus one
    ``set_partition_locations`` call for every partition it touched (step 4 of
    :func:`publish_partitioned`), then expire old versions (step 5).

    Nothing before this call touched the catalog, so an audit that rejects a staged version
    simply never calls it (and the version folder is expired later as unreferenced).
    """
    plan, spec = staged.plan, staged.spec
    database, table = plan.database, plan.table
    if before_switch is not None:
        before_switch(plan)
    existing = catalog.get_table(database, table)
    if existing is None and not catalog.database_exists(database):
        catalog.create_database(database)
    # what a failed switch puts back
    before = ({tuple(p.values): p for p in catalog.get_partitions(database, table)}
              if existing is not None and existing.partition_keys else {})
    # The table update and the partition switch are two catalog calls (Glue and Hive have no
    # call that changes both), made back to back; a failed one is undone.
    stage = "table update"
    try:
        catalog.create_or_update_table(spec)
        if plan.partitions:
            stage = "partition switch"
            catalog.set_partition_locations(database, table, list(plan.partitions))
    except Exception as exc:
        outcome = _undo_switch(catalog, existing, spec, plan, before)
        raise PublishError(
            f"publish {database}.{table}: the {stage} to version {plan.version} failed "
            f"({type(exc).__name__}: {_first_line(exc)[:300]}); {outcome}") from exc
    if plan.stale_partitions:
        catalog.drop_partitions(database, table, list(plan.stale_partitions))
    log.info("switched %s.%s to version %s (%d partitions, %d dropped)", database, table,
             plan.version, len(plan.partitions), len(plan.stale_partitions))

    ddl_uri = join_uri(plan.table_uri, DDL_FILE)
    write_text(ddl_uri, athena_ddl(spec, catalog.get_partitions(database, table),
                                   with_partitions=not staged.projection))
    superseded, removed = expire_versions(
        catalog, database=database, table=table, table_uri=plan.table_uri, retention=retention,
        keep=(plan.version,),
    )
    return PublishResult(
        plan=plan,
        rows=staged.rows,
        partition_stats=staged.partition_stats,
        rows_per_file=staged.rows_per_file,
        bytes_per_row=staged.bytes_per_row,
        files_per_partition={
            loc: len(list_files(loc, ".parquet")) for loc in staged.expected
        },
        ddl_uri=ddl_uri,
        superseded_versions=superseded,
        removed_versions=removed,
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _undo_switch(catalog: Catalog, previous: TableSpec | None, spec: TableSpec,
                 plan: PublishPlan, before: Mapping[tuple[str | None, ...], Partition]) -> str:
    """Put back what a failed switch changed: the table definition (a table it created is
    dropped), then the partitions it re-pointed (to their previous locations) and added
    (dropped). Returns what readers see afterwards, read back from the catalog (one clause
    for the error; a failed step is logged)."""
    where = f"publish {spec.qualified_name}"
    try:
        if previous is None:
            catalog.drop_table(spec.database, spec.name)
        else:
            catalog.create_or_update_table(previous)
            now = {tuple(p.values): p.location
                   for p in catalog.get_partitions(spec.database, spec.name)}
            touched = {tuple(p.values) for p in plan.partitions}
            back = [p for v, p in before.items()
                    if now.get(v) is None or normalize_uri(now[v]) != normalize_uri(p.location)]
            added = [v for v in now if v in touched and v not in before]
            if back:
                catalog.set_partition_locations(spec.database, spec.name, back)
            if added:
                catalog.drop_partitions(spec.database, spec.name, added)
    except Exception:  # noqa: BLE001 - reported with the switch's error, state read below
        log.exception("%s: the catalog could not be fully restored after a failed switch to "
                      "version %s", where, plan.version)
    return _state_after_undo(catalog, previous, plan, before)


def _state_after_undo(catalog: Catalog, previous: TableSpec | None, plan: PublishPlan,
                      before: Mapping[tuple[str | None, ...], Partition]) -> str:
    """What readers see of a table after :func:`_undo_switch`, as read from the catalog."""
    ddl = join_uri(plan.table_uri, DDL_FILE)
    try:
        now_spec = catalog.get_table(plan.database, plan.table)
        now = ({tuple(p.values): p.location
                for p in catalog.get_partitions(plan.database, plan.table)}
               if now_spec is not None and now_spec.partition_keys else {})
    except Exception:  # noqa: BLE001
        log.exception("publish %s.%s: the catalog could not be read after a failed switch",
                      plan.database, plan.table)
        return ("the catalog could NOT be read back (see the log): readers may see the new "
                f"table definition and some partitions at version {plan.version}; publish "
                f"again, or re-create the table from {ddl}")
    if previous is None:
        if now_spec is None:
            return "the table it created was dropped: readers see no table, as before"
        return (f"the table it created could NOT be dropped (see the log): readers see it with "
                f"{len(now)} partition(s) at version {plan.version}; drop it or publish again")
    if now_spec is None:
        return (f"the table could NOT be restored and is missing (see the log): re-create it "
                f"from {ddl}")
    problems = []
    if (_definition(now_spec) != _definition(previous)):
        problems.append(f"the table definition is NOT the previous one (columns "
                        f"{[c.name + ' ' + c.type for c in now_spec.columns]}, location "
                        f"{now_spec.location})")
    moved = sorted((v for v, p in before.items()
                    if v in now and normalize_uri(now[v]) != normalize_uri(p.location)), key=str)
    missing = sorted((v for v in before if v not in now), key=str)
    added = sorted((v for v in now if v not in before), key=str)
    for what, values in (("still point at the new version", moved),
                         ("are missing", missing),
                         (f"were added at version {plan.version} and stay", added)):
        if values:
            problems.append(f"{len(values)} partition(s) {what} ({[list(v) for v in values[:5]]}"
                            f"{' ...' if len(values) > 5 else ''})")
    if problems:
        return ("the catalog could NOT be fully restored (see the log): " + "; ".join(problems)
                + "; every other partition is at its previous version; publish again, or "
                f"re-create the table from {ddl}")
    return ("the table definition was restored and every partition is back at its previous "
            "location: readers stay on the previous version")


def _definition(spec: TableSpec) -> tuple[object, ...]:
    """What a restored table must match: columns, partition keys, location, version."""
    return ([(c.name.lower(), c.type.lower()) for c in spec.columns],
            [(c.name.lower(), c.type.lower()) for c in spec.partition_keys],
            normalize_uri(spec.location), spec.parameters.get("lakeforge.version"))


def _in_table_order(existing: TableSpec, data_cols: Sequence[str]) -> list[str]:
    """``data_cols`` with the table's columns first, in the table's order, then the columns
    the table does not have yet, in the data's order (an added column goes last)."""
    known = [c.name.lower() for c in existing.columns]
    have = set(data_cols)
    return [c for c in known if c in have] + [c for c in data_cols if c not in set(known)]


def _unset_partition_values(keys: Sequence[str],
                            counts: Sequence[tuple[tuple[Any, ...], int]]) -> list[str]:
    """The partition columns holding null or empty-string values, with their row counts.

    Spark writes both to ``__HIVE_DEFAULT_PARTITION__`` (null) and neither metastore nor Glue
    registers them as written, so they are refused before anything is written."""
    problems = []
    for i, k in enumerate(keys):
        nulls = sum(n for v, n in counts if v[i] is None)
        empty = sum(n for v, n in counts if isinstance(v[i], str) and v[i] == "")
        if nulls:
            problems.append(f"{k}: null partition values in {nulls} row(s); fill them "
                            "(e.g. 'unknown') before publishing")
        if empty:
            problems.append(f"{k}: empty-string partition values in {empty} row(s) (Spark "
                            "writes them as null, __HIVE_DEFAULT_PARTITION__); fill them "
                            "(e.g. 'unknown') before publishing")
    return problems


def _check_compatible(existing: TableSpec, table_uri: str, columns: Sequence[BaseColumn],
                      part_cols: Sequence[BaseColumn], mode: str,
                      allow_breaking: bool = False) -> None:
    where = f"publish {existing.qualified_name}"
    inside = version_of(existing.location, table_uri) is not None and not part_cols
    if normalize_uri(existing.location) != normalize_uri(table_uri) and not inside:
        raise SchemaMismatchError(
            f"{where}: the catalog table lives at {existing.location}, not {table_uri}; "
            "publish to another table name or drop the old table"
        )
    have = [(c.name.lower(), c.type.lower()) for c in existing.partition_keys]
    want = [(c.name, c.type) for c in part_cols]
    if have != want:
        raise SchemaMismatchError(
            f"{where}: partition keys {want} differ from the table's {have}; partition keys "
            "cannot change"
        )
    have_cols = {c.name.lower(): c.type.lower() for c in existing.columns}
    want_cols = {c.name: c.type for c in columns}
    if mode == "overwrite":
        # Every partition is rewritten, but the catalog cannot change the table's columns and
        # its partitions in one call: between the two a changed type or a dropped column makes
        # the table unreadable (docs/publish.md). Added columns read as null meanwhile.
        problems = [f"{n}: column dropped" for n in have_cols if n not in want_cols]
        problems += [f"{n}: type {have_cols[n]} -> {want_cols[n]}" for n in want_cols
                     if n in have_cols and have_cols[n] != want_cols[n]]
        # An unpartitioned table has no old partitions: Glue changes its columns and location
        # in one call, spark_sql in two, columns first (docs/publish.md says what readers
        # see in between); never refused.
        if problems and part_cols and not allow_breaking:
            from lakeforge.formats import SchemaEvolutionError

            raise SchemaEvolutionError(
                f"{where}: the rows' schema differs from the table's: {'; '.join(problems)}; "
                "nothing was written (readers would fail between the table update and the "
                "partition switch: pass allow_breaking_schema_change=True to accept that, or "
                "publish under a new table name)")
        return
    if have_cols != want_cols:
        diff = sorted(
            f"{n}: table {have_cols.get(n)} vs data {want_cols.get(n)}"
            for n in set(have_cols) | set(want_cols)
            if have_cols.get(n) != want_cols.get(n)
        )
        raise SchemaMismatchError(
            f"{where}: mode={mode!r} keeps the other partitions, so the columns must match the "
            f"table's: {diff}; use mode='overwrite' to add columns (a changed type or a dropped "
            f"column of a partitioned table also needs allow_breaking_schema_change)"
        )


def _carried_locations(current: Mapping[tuple[str | None, ...], str | None],
                       touched: set[tuple[str | None, ...]], keys: Sequence[str]
                       ) -> tuple[tuple[tuple[str | None, ...], str], ...]:
    """Where the rows an append rewrites into its version beside its own come from: the
    touched partitions' current locations (``current``: values -> location), or an
    unpartitioned table's current location when it holds files."""
    if not keys:
        location = current.get(())
        return (((), location),) if location is not None and uri_exists(location) else ()
    return tuple((values, location) for values, location in current.items()
                 if values in touched and location is not None)


def _rows_at(spark: SparkSession, data_schema: T.StructType | str,
             key_types: Sequence[tuple[str, T.DataType | str]],
             locations: Sequence[tuple[tuple[str | None, ...], str]],
             columns: Sequence[str]) -> DataFrame | None:
    """The rows at ``locations`` ((partition values, folder) pairs) read with ``data_schema``,
    the partition values as columns of ``key_types``, in the order of ``columns``; None when
    there are no locations."""
    out = None
    for values, location in locations:
        part = spark.read.schema(data_schema).parquet(location)
        for (key, key_type), value in zip(key_types, values, strict=True):
            part = part.withColumn(key, F.lit(value).cast(key_type))
        part = part.select(*columns)
        out = part if out is None else out.unionByName(part)
    return out


def _ddl(columns: Sequence[BaseColumn]) -> str:
    return ", ".join(f"`{c.name}` {c.type}" for c in columns)


def read_staged(spark: SparkSession, staged: StagedVersion) -> DataFrame:
    """A staged version's rows as the table will hold them (partition columns from the
    folders, typed by the staged table spec)."""
    schema = _ddl([*staged.spec.columns, *staged.spec.partition_keys])
    if not staged.expected:  # nothing was written: no rows, the same columns
        return spark.createDataFrame([], schema)
    reader = spark.read.schema(schema)
    if staged.spec.partition_keys:
        reader = reader.option("basePath", staged.plan.version_uri)
    return reader.parquet(*staged.expected)


def read_carried(spark: SparkSession, staged: StagedVersion) -> DataFrame | None:
    """The rows of a staged ``append`` that are the table's current rows, rewritten into the
    version beside the run's own (typed as :func:`read_staged` reads the version); None when
    it carried none. ``staged`` minus these is what the run adds."""
    if not staged.carried_rows:
        return None
    if not staged.carried_from:
        raise PublishError(
            f"staged append {staged.plan.database}.{staged.plan.table} "
            f"({staged.plan.version}) carries {staged.carried_rows} current rows but not where "
            "they came from (staged by an older Lakeforge): run its write phase again")
    keys = staged.spec.partition_keys
    return _rows_at(spark, _ddl(staged.spec.columns), [(k.name, k.type) for k in keys],
                    staged.carried_from, [c.name for c in (*staged.spec.columns, *keys)])


def _table_parameters(table_uri: str, version_uri: str, keys: Sequence[str],
                      columns: Sequence[BaseColumn], part_cols: Sequence[BaseColumn],
                      projection: Mapping[str, Projection] | None,
                      extra: Mapping[str, str] | None) -> dict[str, str]:
    params = {
        "parquet.compression": "SNAPPY",
        "lakeforge.version": version_uri.rsplit("/", 1)[-1],
        **dict(extra or {}),
    }
    if projection:
        probe = TableSpec("d", "t", list(columns), version_uri, list(part_cols))
        params.update(projection_properties(probe, projection))
    return params


# --------------------------------------------------------------------------- retention


def version_of(location: str, table_uri: str) -> str | None:
    """The version folder a partition location points into (None when outside ``_versions``)."""
    prefix = normalize_uri(join_uri(table_uri, VERSIONS_DIR)) + "/"
    loc = normalize_uri(location)
    if not loc.startswith(prefix):
        return None
    return loc[len(prefix):].split("/", 1)[0]


def expire_versions(
    catalog: Catalog,
    *,
    database: str,
    table: str,
    table_uri: str,
    retention: timedelta,
    keep: Sequence[str] = (),
    now: datetime | None = None,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Mark versions nothing points to as superseded (on S3 aborting the incomplete multipart
    uploads a killed write left in them); delete those superseded > ``retention``.

    A version is referenced when a catalog partition (or the table's projection template) points
    into it. Versions left by a failed publish are never referenced, so they expire the same way.
    Returns (versions newly marked superseded, versions deleted).
    """
    now = now or datetime.now(timezone.utc)
    referenced = set(keep)
    for part in catalog.get_partitions(database, table):
        v = version_of(part.location, table_uri)
        if v:
            referenced.add(v)
    spec = catalog.get_table(database, table)
    if spec is not None and version_of(spec.location, table_uri):
        referenced.add(str(version_of(spec.location, table_uri)))
    template = (spec.parameters.get("storage.location.template") if spec else None) or ""
    if template:
        v = version_of(template, table_uri)
        if v:
            referenced.add(v)
    if spec is not None and spec.parameters.get(APPEND_WINDOW_PARAM):
        # the rows the last windowed append started from: a rerun of that window needs them
        doc = _read_append_window(table_uri, spec.parameters.get("lakeforge.version", ""))
        for _values, base in (doc or {}).get("bases", []):
            v = version_of(base, table_uri) if base else None
            if v:
                referenced.add(v)
    versions_uri = join_uri(table_uri, VERSIONS_DIR)
    marked: list[str] = []
    removed: list[str] = []
    for name in list_subdirs(versions_uri):
        folder = join_uri(versions_uri, name)
        marker = join_uri(folder, SUPERSEDED_MARKER)
        if name in referenced:
            continue
        if not uri_exists(marker):
            write_text(marker, now.isoformat())
            marked.append(name)
            since = now
            # a killed S3 write's uploads can never be completed: stop paying for them now
            aborted = abort_uploads(folder)
            if aborted:
                log.info("aborted %d incomplete multipart upload(s) of superseded version %s of "
                         "%s.%s", aborted, name, database, table)
        else:
            since = datetime.fromisoformat(read_text(marker).strip())
        if now - since >= retention:
            delete_dir(folder)
            removed.append(name)
            log.info("removed version %s of %s.%s (superseded %s)", name, database, table, since)
    return tuple(marked), tuple(removed)

