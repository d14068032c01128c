"""Table formats an output is published as: ``parquet`` (versioned folders and one catalog
switch, :mod:`lakeforge.publish`), ``delta`` (delta-spark, :mod:`lakeforge.formats.delta`) and
``iceberg`` (the Iceberg Spark runtime, :mod:`lakeforge.formats.iceberg`).

The lifecycle stages every output the same way (a Parquet version the quality gate reads); the
publish step then hands the audited rows to the output's format, whose commit is its own: the
Parquet switch, one Delta commit, one Iceberg snapshot. This module holds what the formats
share: their names, the Spark settings a session needs for them (:func:`table_format_conf`),
the schema rule between runs (:func:`check_schema_change`) and the commit's result.

Example::

    conf = table_format_conf(env, lake)          # spark.sql.extensions, catalogs
    result = commit("delta", df, target, spark=spark, catalog=catalog)
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from lakeforge.errors import ConfigError, LakeforgeError, SchemaMismatchError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

    from lakeforge.catalog.base import Catalog
    from lakeforge.config import EnvConfig
    from lakeforge.paths import Lake

log = logging.getLogger(__name__)

TableFormat = Literal["parquet", "delta", "iceberg"]
FORMATS: tuple[str, ...] = ("parquet", "delta", "iceberg")
# The Spark catalog Iceberg tables live in (a Hadoop catalog locally, Glue on AWS).
ICEBERG_CATALOG = "lakeforge_iceberg"
DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"
DELTA_CATALOG = "org.apache.spark.sql.delta.catalog.DeltaCatalog"
ICEBERG_EXTENSION = "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions"
ICEBERG_GLUE_CATALOG = "org.apache.iceberg.aws.glue.GlueCatalog"
ICEBERG_S3_FILE_IO = "org.apache.iceberg.aws.s3.S3FileIO"
ICEBERG_HADOOP_FILE_IO = "org.apache.iceberg.hadoop.HadoopFileIO"


class SchemaEvolutionError(SchemaMismatchError):
    """The rows to commit have another schema than the table and the config does not allow
    it; nothing was written."""


def check_format(name: str, where: str) -> str:
    """``name`` when it is a table format; else a one-line :class:`ConfigError` naming
    ``where``."""
    if name not in FORMATS:
        raise ConfigError(f"{where}: output format {name!r}; use one of {list(FORMATS)}")
    return name


def table_format_conf(env: EnvConfig, lake: Lake) -> dict[str, str]:
    """The Spark settings the env's table formats need at session start.

    Taken when ``spark.jar_sets`` names ``delta`` and/or ``iceberg`` (local and standalone
    sessions; on EMR and Glue the platform brings the jars and the deploy passes the same
    settings at submit time, :func:`format_conf`, ``lakeforge.deploy.formats``). Delta: its SQL
    extension and ``spark_catalog`` = DeltaCatalog (non-Delta tables go on to the session
    catalog unchanged). Iceberg: its extension and a separate catalog
    :data:`ICEBERG_CATALOG`, a Hadoop catalog whose warehouse is the lake's curated zone (so a
    table's folder is ``lake.table_uri('curated', table, database)``), or Iceberg's GlueCatalog
    (:func:`iceberg_glue_catalog_conf`, warehouse the curated zone, a table's folder
    ``<curated>/<database>.db/<table>``) when the env's metastore or catalog backend is Glue.
    """
    return format_conf(set(env.spark.jar_sets), env, lake.zone("curated"))


def format_conf(formats: set[str] | frozenset[str], env: EnvConfig, curated: str
                ) -> dict[str, str]:
    """The Spark settings :func:`table_format_conf` gives for ``formats`` (``delta`` and / or
    ``iceberg``; others are ignored) with the lake's curated zone ``curated``. The deploy
    passes them to EMR steps and Glue jobs (``lakeforge.deploy.formats``), where the platform
    brings the jars and the env names no jar sets."""
    conf: dict[str, str] = {}
    extensions = []
    if "delta" in formats:
        extensions.append(DELTA_EXTENSION)
        conf["spark.sql.catalog.spark_catalog"] = DELTA_CATALOG
        if env.kind in ("local", "standalone"):
            # The log's state is rebuilt in 50 tasks by default: minutes on 2 cores.
            conf["spark.databricks.delta.snapshotPartitions"] = "4"
    if "iceberg" in formats:
        extensions.append(ICEBERG_EXTENSION)
        prefix = f"spark.sql.catalog.{ICEBERG_CATALOG}"
        conf[prefix] = "org.apache.iceberg.spark.SparkCatalog"
        if uses_glue_catalog(env):
            conf.update({f"{prefix}.{k}": v
                         for k, v in iceberg_glue_catalog_conf(env, curated).items()})
        else:
            conf[f"{prefix}.warehouse"] = curated
            conf[f"{prefix}.type"] = "hadoop"
    if extensions:
        conf["spark.sql.extensions"] = ",".join(extensions)
    return conf


def uses_glue_catalog(env: EnvConfig) -> bool:
    """True when the env's tables live in the Glue Data Catalog (Glue as the Hive metastore on
    EMR / Glue, or the ``glue_api`` backend): Iceberg then commits through its GlueCatalog."""
    return env.spark.metastore == "glue" or env.catalog.backend == "glue_api"


def iceberg_glue_catalog_conf(env: EnvConfig, warehouse: str) -> dict[str, str]:
    """The properties of an Iceberg ``SparkCatalog`` backed by Iceberg's own GlueCatalog (the
    ``spark.sql.catalog.<name>.`` suffixes), as Glue 5 / EMR 7 users set them.

    GlueCatalog commits a table by writing ``table_type=ICEBERG`` and the new
    ``metadata_location`` into its Glue table (optimistic locking on the table's VersionId).
    ``S3FileIO`` reads and writes the files when the warehouse is on S3; a local-folder lake
    (a laptop against a local Glue API such as moto) takes Hadoop's file IO, as S3FileIO
    handles ``s3://`` only. Endpoints: Glue at ``catalog.endpoint_url`` (else
    ``aws.endpoint_url``), S3 at ``aws.endpoint_url`` (else ``$LAKEFORGE_AWS_ENDPOINT_URL``)
    with path-style access; region ``catalog.region`` / ``aws.region`` / the default.
    Credentials are the JVM's default AWS chain (role, environment, profile).
    """
    import os

    from lakeforge.aws import ENDPOINT_ENV_VAR, region_name

    on_s3 = warehouse.startswith(("s3://", "s3a://", "s3n://"))
    conf = {"catalog-impl": ICEBERG_GLUE_CATALOG, "warehouse": warehouse,
            "io-impl": ICEBERG_S3_FILE_IO if on_s3 else ICEBERG_HADOOP_FILE_IO,
            "client.region": region_name(env.catalog.region or env.aws.region)}
    glue_endpoint = env.catalog.endpoint_url or env.aws.endpoint_url
    if glue_endpoint:
        conf["glue.endpoint"] = str(glue_endpoint)
    s3_endpoint = env.aws.endpoint_url or os.environ.get(ENDPOINT_ENV_VAR)
    if s3_endpoint and on_s3:
        conf["s3.endpoint"] = str(s3_endpoint)
        # moto, MinIO and LocalStack serve buckets as paths, not as host names.
        conf["s3.path-style-access"] = "true"
    return conf


def formats_enabled(spark: SparkSession) -> set[str]:
    """The table formats ``spark`` was started with (from its extensions)."""
    extensions = spark.conf.get("spark.sql.extensions", "") or ""
    out = {"parquet"}
    if DELTA_EXTENSION in extensions:
        out.add("delta")
    if ICEBERG_EXTENSION in extensions:
        out.add("iceberg")
    return out


def require_format(spark: SparkSession, fmt: str, where: str) -> None:
    """A one-line error naming the jar set when the session cannot write ``fmt``."""
    if fmt not in formats_enabled(spark):
        raise ConfigError(
            f"{where}: output format {fmt!r} needs a session started with the {fmt!r} jar set "
            f"(spark.jar_sets: [{fmt}] in the env, e.g. --env local_jars; `make jars` fetches it)")


class AppendWindowError(LakeforgeError):
    """An append's input window cannot be committed as a new window (the table already took
    this place in the sequence with another input); nothing was written."""


@dataclass(frozen=True)
class AppendWindow:
    """The identity of an ``append`` commit's input: what makes the commit idempotent.

    ``app_id`` names the writer (job and table), ``sequence`` is the input window's place in
    the job's bookmark (its committed runs + 1) and ``input_id`` a hash of the window's files.
    A rerun over the same bookmark window has the same three, so its commit is skipped; the
    next window has a higher ``sequence``. Delta writes them as ``txnAppId`` / ``txnVersion``
    (and the commit's ``userMetadata``), Iceberg as the snapshot property
    :data:`WINDOW_PROPERTY`.
    """

    app_id: str
    sequence: int
    input_id: str

    def to_text(self) -> str:
        """How the window is recorded in a commit (JSON, one line)."""
        import json

        return json.dumps({"app": self.app_id, "sequence": self.sequence,
                           "input": self.input_id}, sort_keys=True)

    @classmethod
    def from_text(cls, text: str | None) -> AppendWindow | None:
        """The window recorded by :meth:`to_text` (None for anything else)."""
        import json

        try:
            doc = json.loads(text or "")
            return cls(str(doc["app"]), int(doc["sequence"]), str(doc["input"]))
        except (ValueError, TypeError, KeyError):
            return None


# The snapshot summary / commit key an append's window is recorded under.
WINDOW_PROPERTY = "lakeforge.window"


def window_committed(last: AppendWindow | None, window: AppendWindow, where: str) -> bool:
    """True when ``last`` (the latest window the table recorded for ``window.app_id``) is
    ``window`` itself: the commit is already in the table and must be skipped.

    A ``last`` at or after ``window``'s sequence with another input (a bookmark rewound or
    reset while the table kept its later appends) raises :class:`AppendWindowError`: Delta
    would skip such a commit silently and lose the rows.
    """
    if last is None or last.sequence < window.sequence:
        return False
    if last.sequence == window.sequence and last.input_id == window.input_id:
        return True
    raise AppendWindowError(
        f"{where}: append window {window.sequence} (input {window.input_id}) of "
        f"{window.app_id} is not after the table's last window {last.sequence} (input "
        f"{last.input_id}): the job's bookmark went back (rewound or reset) while the table "
        "kept its appends; nothing was written (Delta would skip it unseen); restore the "
        "bookmark, or publish the output under a new table name")


@dataclass(frozen=True)
class Target:
    """Where and how an output is committed (one table)."""

    database: str
    table: str
    location: str
    partition_by: Sequence[str] = ()
    # overwrite | overwrite_partitions | append | merge
    mode: str = "overwrite_partitions"
    merge_keys: Sequence[str] = ()
    allow_added_columns: bool = False
    retention_hours: float = 168.0
    max_files_per_partition: int = 0  # 0: never compact
    # an ``append`` whose input window is known: committed once per window (AppendWindow)
    window: AppendWindow | None = None

    @property
    def qualified_name(self) -> str:
        return f"{self.database}.{self.table}"


@dataclass(frozen=True)
class CommitResult:
    """What one table-format commit did."""

    format: str
    table: str
    version: str  # Delta version / Iceberg snapshot id / Parquet version folder
    rows: int  # rows of the committed input
    operation: str
    added_columns: tuple[str, ...] = ()
    compacted_partitions: tuple[str, ...] = ()
    metrics: Mapping[str, Any] = field(default_factory=dict)


def committed_window(fmt: str, target: Target, found: tuple[AppendWindow, Any] | None,
                     rows_key: str, where: str) -> CommitResult | None:
    """The result of an append whose window the table already took (``found``: the table's
    last window for the app id and its commit's (id, facts)), or None when it must commit.
    A rerun over that window (a kill before the bookmark commit) is its earlier commit."""
    window = target.window
    if window is None or found is None or not window_committed(found[0], window, where):
        return None
    ident, facts = found[1]
    log.info("%s: append window %d already committed as %s %s; skipped", where,
             window.sequence, "version" if fmt == "delta" else "snapshot", ident)
    return CommitResult(fmt, target.qualified_name, str(ident), int(facts.get(rows_key) or 0),
                        "APPEND (already committed)", (), (), facts)


def check_schema_change(current: StructType | None, new: StructType, *, allow_added: bool,
                        partition_by: Sequence[str], where: str) -> list[str]:
    """The columns ``new`` adds to ``current`` (a table's schema), or one clear
    :class:`SchemaEvolutionError` before anything is written.

    Added columns pass only when ``allow_added``; a dropped column, a changed type or changed
    partition keys never pass (rename the output or drop the table to change them).
    """
    if current is None:
        return []
    have = {f.name.lower(): f.dataType for f in current.fields}
    want = {f.name.lower(): f.dataType for f in new.fields}
    problems = [f"{n}: column dropped" for n in have if n not in want]
    problems += [f"{n}: type {have[n].simpleString()} -> {want[n].simpleString()}"
                 for n in want if n in have and have[n] != want[n]]
    added = [n for n in want if n not in have]
    if added and not allow_added:
        problems.append(f"added columns {added} (allow them with allow_schema_evolution: true "
                        "on the output)")
    if problems:
        raise SchemaEvolutionError(f"{where}: the rows' schema differs from the table's: "
                                   + "; ".join(problems) + "; nothing was written")
    return added


class DuplicateMergeKeyError(LakeforgeError, ValueError):
    """The rows of a MERGE hold more than one row for a merge key; nothing was written."""


def check_unique_merge_keys(df: DataFrame, keys: Sequence[str], where: str,
                            examples: int = 3) -> None:
    """One :class:`DuplicateMergeKeyError` naming ``where``, the keys and a few repeated values
    when ``df`` holds more than one row per value of ``keys`` (nulls equal: the MERGE matches
    with ``<=>``). One aggregate query; run it before anything is written.

    Otherwise a MERGE inserts every row of a key the table lacks (duplicate rows) and fails in
    the engine, in many lines naming no table, for a key it has.
    """
    from pyspark.sql import functions as F

    names = {c.lower(): c for c in df.columns}
    missing = [k for k in keys if k.lower() not in names]
    if missing:
        raise ConfigError(f"{where}: merge_keys {missing} are not columns of the rows "
                          f"(columns: {list(df.columns)})")
    cols = [F.col(f"`{names[k.lower()]}`") for k in keys]
    count = "__lakeforge_rows"
    repeated = (df.groupBy(*cols).agg(F.count(F.lit(1)).alias(count))
                .where(F.col(count) > 1).limit(examples).collect())
    if not repeated:
        return
    shown = ", ".join(
        "(" + ", ".join(f"{k}={r[i]!r}" for i, k in enumerate(keys)) + f": {r[count]} rows)"
        for r in repeated)
    raise DuplicateMergeKeyError(
        f"{where}: the rows repeat merge keys {list(keys)}, e.g. {shown}; MERGE takes at most "
        "one row per key (null keys are one key); deduplicate the rows on the merge keys; "
        "nothing was written")


def commit(fmt: str, df: DataFrame, target: Target, *, spark: SparkSession,
           catalog: Catalog) -> CommitResult:
    """Commit ``df`` to ``target`` as ``fmt`` (``delta`` or ``iceberg``) and register it in
    ``catalog``; the Parquet format is :func:`lakeforge.publish.switch_staged`."""
    check_format(fmt, f"commit {target.qualified_name}")
    require_format(spark, fmt, f"commit {target.qualified_name}")
    if fmt == "delta":
        from lakeforge.formats import delta

        return delta.commit(spark, df, target, catalog=catalog)
    if fmt == "iceberg":
        from lakeforge.formats import iceberg

        return iceberg.commit(spark, df, target, catalog=catalog)
    raise ConfigError(f"commit {target.qualified_name}: parquet is published by "
                      "lakeforge.publish.switch_staged, not by a table-format commit")


def table_schema(spark: SparkSession, fmt: str, target: Target) -> StructType | None:
    """The current schema of ``target`` in ``fmt`` (None when the table does not exist)."""
    if fmt == "delta":
        from lakeforge.formats import delta

        return delta.current_schema(spark, target)
    if fmt == "iceberg":
        from lakeforge.formats import iceberg

        return iceberg.current_schema(spark, target)
    raise ConfigError(f"table_schema: {fmt!r} is not a table format with a log")


def read_table(spark: SparkSession, fmt: str, database: str, table: str,
               location: str) -> DataFrame:
    """A published table's current rows, whichever its format (Delta by its location, so it
    reads the same whichever catalog registered it)."""
    if fmt == "delta":
        return spark.read.format("delta").load(location)
    if fmt == "iceberg":
        return spark.table(f"{ICEBERG_CATALOG}.`{database}`.`{table}`")
    return spark.table(f"`{database}`.`{table}`")


def partition_predicate(keys: Sequence[str], values: Sequence[Sequence[Any]]) -> str:
    """A SQL predicate selecting the partitions ``values`` (tuples in ``keys`` order)."""
    from lakeforge.catalog.athena_ddl import quote_identifier, quote_string

    ors = []
    for vals in values:
        ands = [f"{quote_identifier(k)} IS NULL" if v is None
                else f"{quote_identifier(k)} = {quote_string(str(v))}"
                for k, v in zip(keys, vals, strict=True)]
        ors.append("(" + " AND ".join(ands) + ")")
    return " OR ".join(ors) if ors else "false"


def glue_table_of_format(catalog: Catalog, target: Target, fmt: str) -> dict[str, Any] | None:
    """``target``'s Glue table (None when absent or the backend is not ``glue_api``); one
    :class:`SchemaMismatchError` when Glue has it as another format (replacing it would orphan
    its partitions and readers)."""
    if catalog.backend_name != "glue_api":
        return None
    raw: dict[str, Any] | None = catalog.get_table_raw(  # type: ignore[attr-defined]
        target.database, target.table)
    if raw is None:
        return None
    params = raw.get("Parameters") or {}
    kind = str(params.get("table_type", "")).upper()
    if kind != fmt.upper():
        found = kind.lower() if kind else params.get("classification") or "a Hive table"
        raise SchemaMismatchError(
            f"{fmt} {target.qualified_name}: Glue already has this table as {found}; drop it "
            "or publish under another name; nothing was written")
    return raw
