"""Catalog backend that speaks Spark SQL DDL to the session's metastore.

Locally that is the embedded Hive metastore (Derby); on EMR and Glue it is the Glue Data Catalog
acting as the Hive metastore, so the same statements register tables Athena reads. Tables are
``CREATE EXTERNAL TABLE`` with Athena's SerDes (see :mod:`lakeforge.catalog.athena_ddl`), except
where Spark's Hive reader would mis-read the files: CSV with a header row (Spark ignores
``skip.header.line.count``) and JSON when the OpenX JSON SerDe is not on the classpath (the
pyspark wheel lacks it). Those become Spark data source tables (``USING csv|json``) that Spark
reads correctly but Athena does not: register them with the glue_api backend for Athena.

Partitions are added with one ``ALTER TABLE ... ADD PARTITION (...) LOCATION ... PARTITION ...``
statement per batch. Spark SQL cannot change a Hive column's type in place, so a partitioned
table's changed or dropped column is applied by dropping and re-creating the EXTERNAL table and
re-adding its partitions (no data is touched); an unpartitioned table moving to a new location
changes its columns with ``ExternalCatalog.alterTableDataSchema`` instead (never dropped).

Example::

    catalog = SparkSqlCatalog(spark)
    catalog.create_or_update_table(spec)
    part = Partition(("2024-01-01",), "/lake/sales/dt=2024-01-01")
    catalog.add_partitions("lake", "sales", [part])
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

from lakeforge.catalog.athena_ddl import (
    OPENX_JSON_SERDE,
    crawler_table_parameters,
    create_table_ddl,
    quote_identifier,
    quote_string,
)
from lakeforge.catalog.base import (
    Catalog,
    CatalogError,
    Column,
    Partition,
    PartitionValues,
    TableNotFoundError,
    TableSpec,
)
from lakeforge.catalog.derby_bulk import (
    BulkUnavailable,
    DerbyBulkRegistrar,
    NoTemplate,
    canonical_values,
    derby_url,
    part_name,
)
from lakeforge.paths import (
    HIVE_DEFAULT_PARTITION,
    normalize_uri,
    unescape_partition_value,
    validate_identifier,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 200
# Batches larger than this use the embedded Derby metastore's bulk path when it applies.
BULK_MIN_PARTITIONS = 20
# Table properties Hive/Spark manage themselves; never copied back into a TableSpec.
_SYSTEM_PROPERTIES = {
    "EXTERNAL", "transient_lastDdlTime", "numFiles", "totalSize", "numRows", "rawDataSize",
    "COLUMN_STATS_ACCURATE", "last_modified_by", "last_modified_time", "numFilesErasureCoded",
    "bucketing_version",
}


class SparkSqlCatalog(Catalog):
    """Register tables and partitions with Spark SQL DDL on ``spark``'s metastore."""

    backend_name = "spark_sql"

    def __init__(self, spark: SparkSession, *, batch_size: int = DEFAULT_BATCH_SIZE,
                 json_serde_available: bool | None = None, bulk_derby: bool = True) -> None:
        if spark.conf.get("spark.sql.catalogImplementation", "in-memory") != "hive":
            log.warning("spark_sql catalog on a session without Hive support: tables live only "
                        "as long as the session")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.spark = spark
        self.batch_size = batch_size
        self._json_serde = json_serde_available
        self.bulk_derby = bulk_derby

    # ------------------------------------------------------------------ helpers

    def _sql(self, statement: str) -> Any:
        log.debug("spark_sql: %s", statement[:500])
        # DDL carries literal ${...} (Athena projection templates): switch Spark's variable
        # substitution off for the statement, or it would blank them.
        conf = self.spark.conf
        previous = conf.get("spark.sql.variable.substitute", "true")
        conf.set("spark.sql.variable.substitute", "false")
        try:
            return self.spark.sql(statement)
        except Exception as exc:  # AnalysisException, ParseException, Py4JJavaError
            raise CatalogError(f"spark_sql: {statement.splitlines()[0][:200]} ... failed: "
                               f"{_first_line(exc)}") from exc
        finally:
            conf.set("spark.sql.variable.substitute", previous or "true")

    @staticmethod
    def _name(database: str, table: str) -> str:
        validate_identifier(database, "database name")
        validate_identifier(table, "table name")
        return f"{quote_identifier(database)}.{quote_identifier(table)}"

    def json_serde_available(self) -> bool:
        """Whether Athena's OpenX JSON SerDe class can be loaded by the session's JVM."""
        if self._json_serde is None:
            try:
                self._jvm().java.lang.Class.forName(OPENX_JSON_SERDE)
                self._json_serde = True
            except Exception:
                self._json_serde = False
        return bool(self._json_serde)

    def _jvm(self) -> Any:
        return self.spark.sparkContext._jvm  # type: ignore[attr-defined]

    def _external_catalog(self) -> Any:
        return self.spark._jsparkSession.sharedState().externalCatalog()  # type: ignore[attr-defined]

    # ------------------------------------------------------------------ databases and tables

    def create_database(self, database: str, location: str | None = None) -> None:
        validate_identifier(database, "database name")
        where = f" LOCATION {quote_string(location)}" if location else ""
        self._sql(f"CREATE DATABASE IF NOT EXISTS {quote_identifier(database)}{where}")

    def database_exists(self, database: str) -> bool:
        return bool(self.spark.catalog.databaseExists(database))

    def list_tables(self, database: str) -> list[str]:
        if not self.database_exists(database):
            raise CatalogError(f"spark_sql: database {database} does not exist")
        try:
            text = self._external_catalog().listTables(database).mkString("\n")
            return sorted(text.split("\n")) if text else []
        except Exception:  # no py4j access (e.g. Spark Connect): the SQL route
            rows = self._sql(f"SHOW TABLES IN {quote_identifier(database)}").collect()
            return sorted(r["tableName"] for r in rows if not r["isTemporary"])

    def _table_exists(self, database: str, table: str) -> bool:
        return bool(self.database_exists(database)
                    and self.spark.catalog.tableExists(f"{database}.{table}"))

    def get_table(self, database: str, table: str) -> TableSpec | None:
        if not self._table_exists(database, table):
            return None
        name = self._name(database, table)
        props = {r["key"]: r["value"]
                 for r in self._sql(f"SHOW TBLPROPERTIES {name}").collect()}
        info: dict[str, str] = {}
        columns: list[Column] = []
        keys: list[Column] = []
        section = "columns"
        for r in self._sql(f"DESCRIBE TABLE EXTENDED {name}").collect():
            col, dtype, comment = r["col_name"], r["data_type"], r["comment"]
            if col.startswith("# Partition Information"):
                section = "partition"
                continue
            if col.startswith("# Detailed Table Information"):
                section = "detail"
                continue
            if col.startswith("#") or not col.strip():
                continue
            if section == "columns":
                columns.append(Column(col, dtype, comment or None))
            elif section == "partition":
                keys.append(Column(col, dtype, comment or None))
            else:
                info[col] = dtype
        key_names = {k.name for k in keys}
        columns = [c for c in columns if c.name not in key_names]
        serde = info.get("Serde Library", "")
        provider = info.get("Provider", "hive").lower()
        fmt = props.get("classification") or (
            "parquet" if "parquet" in serde.lower() or provider == "parquet"
            else "json" if "json" in serde.lower() or provider == "json" else "csv"
        )
        storage = _parse_storage_properties(info.get("Storage Properties", ""))
        delimiter = props.get("delimiter") or storage.get("field.delim") or storage.get(
            "separatorChar") or ","
        compression = props.get("compressionType")
        params = {k: v for k, v in props.items()
                  if k not in _SYSTEM_PROPERTIES and not k.startswith("spark.sql.")}
        return TableSpec(
            database=database,
            name=table,
            columns=columns,
            location=normalize_uri(info.get("Location", "")),
            partition_keys=keys,
            format=fmt,  # type: ignore[arg-type]
            compression=None if compression in (None, "none") else compression,
            csv_delimiter=delimiter,
            csv_header=props.get("skip.header.line.count") == "1",
            parameters=params,
            csv_quoted="OpenCSVSerde" in serde,
        )

    def uses_datasource_table(self, spec: TableSpec) -> bool:
        """True when Spark could not read the Hive SerDe table correctly: CSV with a header
        (Spark's Hive reader ignores ``skip.header.line.count``) and JSON without the OpenX
        SerDe on the classpath. Such tables are Spark data source tables instead."""
        if spec.format == "csv":
            return spec.csv_header
        if spec.format == "json":
            return not self.json_serde_available()
        return False

    def _create_ddl(self, spec: TableSpec) -> str:
        if not self.uses_datasource_table(spec):
            return create_table_ddl(spec)
        # Athena reads the Glue Data Catalog only: with the embedded (Derby) metastore nobody
        # can act on this, so it is a warning only where the metastore is Glue's.
        # RuntimeConfig.get is typed Optional[str], but with a str default it returns a str.
        embedded = "derby" in cast(str, self.spark.conf.get(
            "spark.hadoop.javax.jdo.option.ConnectionURL", ""))
        log.log(logging.INFO if embedded else logging.WARNING,
                "table %s: registered as a Spark data source table (USING %s) because "
                "Spark's Hive reader would mis-read it; Athena cannot read this "
                "registration (use the glue_api backend for Athena)", spec.qualified_name,
                spec.format)
        cols = ", ".join(f"{quote_identifier(c.name)} {c.type}"
                         for c in [*spec.columns, *spec.partition_keys])
        parts = ", ".join(quote_identifier(k.name) for k in spec.partition_keys)
        options = {"path": spec.location}
        if spec.format == "csv":
            options.update({"header": "true" if spec.csv_header else "false",
                            "sep": spec.csv_delimiter, "quote": '"', "escape": '"',
                            "mode": "PERMISSIVE"})
        opts = ", ".join(f"{quote_string(k)} {quote_string(v)}" for k, v in options.items())
        params = crawler_table_parameters(spec)
        params.pop("EXTERNAL", None)
        props = ", ".join(f"{quote_string(k)}={quote_string(v)}"
                          for k, v in sorted(params.items()))
        return (f"CREATE TABLE {self._name(spec.database, spec.name)} ({cols}) "
                f"USING {spec.format} OPTIONS ({opts}) "
                + (f"PARTITIONED BY ({parts}) " if parts else "")
                + f"TBLPROPERTIES ({props})")

    def create_or_update_table(self, spec: TableSpec) -> None:
        name = self._name(spec.database, spec.name)
        existing = self.get_table(spec.database, spec.name)
        if existing is None:
            self._sql(self._create_ddl(spec))
            log.info("created table %s at %s", spec.qualified_name, spec.location)
            return
        old_cols = [(c.name.lower(), c.type) for c in existing.columns]
        new_cols = [(c.name.lower(), c.type) for c in spec.columns]
        same_layout = (
            [(k.name.lower(), k.type) for k in existing.partition_keys]
            == [(k.name.lower(), k.type) for k in spec.partition_keys]
            and existing.format == spec.format
            and existing.csv_quoted == spec.csv_quoted
            and existing.csv_delimiter == spec.csv_delimiter
        )
        if same_layout and not _same_location(existing.location, spec.location) \
                and not spec.partition_keys and (
                    new_cols == old_cols or self._alter_data_schema(existing, spec)):
            # An unpartitioned table switching to a new version folder: one metastore call
            # (after the columns' own call when they change), never a missing table.
            self._sql(f"ALTER TABLE {name} SET LOCATION {quote_string(spec.location)}")
            log.info("table %s: location -> %s", spec.qualified_name, spec.location)
            existing = self.get_table(spec.database, spec.name) or existing
            old_cols = [(c.name.lower(), c.type) for c in existing.columns]
        same_layout = same_layout and _same_location(existing.location, spec.location)
        if same_layout and new_cols[: len(old_cols)] == old_cols:
            added = spec.columns[len(old_cols):]
            if added:
                cols = ", ".join(f"{quote_identifier(c.name)} {c.type}" for c in added)
                self._sql(f"ALTER TABLE {name} ADD COLUMNS ({cols})")
                log.info("table %s: added columns %s", spec.qualified_name,
                         [c.name for c in added])
            wanted = {k: v for k, v in crawler_table_parameters(spec).items() if k != "EXTERNAL"}
            have = dict(existing.parameters)
            changed = {k: v for k, v in wanted.items() if have.get(k) != v}
            if changed:
                props = ", ".join(f"{quote_string(k)}={quote_string(v)}"
                                  for k, v in sorted(changed.items()))
                self._sql(f"ALTER TABLE {name} SET TBLPROPERTIES ({props})")
            removed = [k for k in have if k not in wanted and k not in _SYSTEM_PROPERTIES]
            if removed:
                keys = ", ".join(quote_string(k) for k in removed)
                self._sql(f"ALTER TABLE {name} UNSET TBLPROPERTIES IF EXISTS ({keys})")
            return
        # A type change, a dropped column or a new layout: Spark cannot alter these in place.
        # The table is EXTERNAL, so dropping it leaves the data; its partitions are re-added.
        partitions = self.get_partitions(spec.database, spec.name) if same_layout else []
        log.info("table %s: re-creating (schema or layout change); %d partitions kept",
                 spec.qualified_name, len(partitions))
        self._sql(f"DROP TABLE {name}")
        self._sql(self._create_ddl(spec))
        if partitions:
            self.add_partitions(spec.database, spec.name, partitions)

    def _alter_data_schema(self, existing: TableSpec, spec: TableSpec) -> bool:
        """Replace an unpartitioned table's columns in one metastore call
        (``ExternalCatalog.alterTableDataSchema``: added, dropped and retyped columns alike),
        ahead of its ``SET LOCATION``; False when the session has no JVM access (Spark
        Connect), and the table is re-created instead."""
        ddl = ", ".join(f"{quote_identifier(c.name)} {c.type}" for c in spec.columns)
        try:
            schema = self._jvm().org.apache.spark.sql.types.StructType.fromDDL(ddl)
            jcat = self._external_catalog()
        except Exception as exc:  # no py4j access
            log.warning("table %s: columns cannot change in place (%s): the table is dropped "
                        "and re-created, and is missing for readers in between",
                        spec.qualified_name, _first_line(exc))
            return False
        try:
            jcat.alterTableDataSchema(spec.database, spec.name, schema)
        except Exception as exc:
            raise CatalogError(f"spark_sql: changing the columns of {spec.qualified_name} "
                               f"failed: {_first_line(exc)}") from exc
        old = {c.name.lower(): c.type for c in existing.columns}
        retyped = [c.name for c in spec.columns
                   if old.get(c.name.lower(), c.type).lower() != c.type.lower()]
        log.log(logging.WARNING if retyped else logging.INFO,
                "table %s: columns %s -> %s, then the location: two metastore calls; between "
                "them readers see the new columns over the previous files%s",
                spec.qualified_name, [f"{c.name} {c.type}" for c in existing.columns],
                [f"{c.name} {c.type}" for c in spec.columns],
                f" and fail on the retyped {retyped}" if retyped else " (added ones null)")
        return True

    def drop_table(self, database: str, table: str) -> None:
        self._sql(f"DROP TABLE IF EXISTS {self._name(database, table)}")

    # ------------------------------------------------------------------ partitions

    def _require_table(self, database: str, table: str) -> TableSpec:
        spec = self.get_table(database, table)
        if spec is None:
            raise TableNotFoundError(database, table, self.backend_name)
        return spec

    def _spec_clause(self, keys: Sequence[Column], values: PartitionValues) -> str:
        if len(values) != len(keys):
            raise ValueError(
                f"partition values {values} do not match the partition keys "
                f"{[k.name for k in keys]}"
            )
        parts = []
        for key, value in zip(keys, values, strict=True):
            literal = quote_string(HIVE_DEFAULT_PARTITION if value is None else value)
            parts.append(f"{quote_identifier(key.name)}={literal}")
        return "PARTITION (" + ", ".join(parts) + ")"

    def list_partition_values(self, database: str, table: str) -> list[PartitionValues]:
        """Partition values from the partition names (much cheaper than locations)."""
        if not self._table_exists(database, table):
            raise TableNotFoundError(database, table, self.backend_name)
        try:
            # One JVM call returning every name: no DataFrame, no per-row transfer (an
            # unpartitioned table has none).
            names_text = self._external_catalog().listPartitionNames(
                database, table, self._jvm().scala.Option.empty()).mkString("\n")
            names = names_text.split("\n") if names_text else []
        except Exception:  # no py4j access (e.g. Spark Connect): the SQL route
            if not self._require_table(database, table).partition_keys:
                return []
            rows = self._sql(f"SHOW PARTITIONS {self._name(database, table)}").collect()
            names = [r[0] for r in rows]
        out = []
        for name in names:
            pieces = name.split("/")
            out.append(tuple(unescape_partition_value(p.partition("=")[2]) for p in pieces))
        return out

    def get_partitions(
        self, database: str, table: str, expression: str | None = None
    ) -> list[Partition]:
        spec = self._require_table(database, table)
        if not spec.partition_keys:
            return []
        jcat = self._external_catalog()
        seq = jcat.listPartitions(database, table, self._jvm().scala.Option.empty())
        keys = [k.name.lower() for k in spec.partition_keys]

        def spec_of(i: int) -> dict[str, str]:
            jspec = seq.apply(i).spec()
            return {k: HIVE_DEFAULT_PARTITION if (v := jspec.apply(k)) is None else str(v)
                    for k in keys}

        partitions = _parse_catalog_partitions(seq.mkString("\u0000"), keys, spec_of=spec_of)
        if expression:
            partitions = self._filter(partitions, spec, expression)
        return partitions

    def _filter(self, partitions: list[Partition], spec: TableSpec,
                expression: str) -> list[Partition]:
        """Evaluate a partition predicate with Spark SQL's own expression semantics."""
        from pyspark.sql.types import StringType, StructField, StructType

        names = [k.name.lower() for k in spec.partition_keys]
        schema = StructType([StructField(n, StringType()) for n in names]
                            + [StructField("__location", StringType())])
        rows = [(*p.values, p.location) for p in partitions]
        df = self.spark.createDataFrame(rows, schema)
        casts = [f"CAST({quote_identifier(k.name.lower())} AS {k.type}) AS "
                 f"{quote_identifier(k.name.lower())}" for k in spec.partition_keys]
        try:
            kept = {r["__location"] for r in
                    df.selectExpr(*casts, "__location").where(expression).collect()}
        except Exception as exc:
            raise ValueError(f"partition expression {expression!r} on {spec.qualified_name} "
                             f"(keys {names}) is not valid: {_first_line(exc)}") from exc
        return [p for p in partitions if p.location in kept]

    def add_partitions(self, database: str, table: str, partitions: Sequence[Partition]) -> int:
        spec = self._require_table(database, table)
        if not partitions:
            return 0
        if not spec.partition_keys:
            raise ValueError(f"table {database}.{table} has no partition keys; cannot add "
                             f"{len(partitions)} partition(s)")
        existing = set(self.list_partition_values(database, table))
        new = [p for p in partitions if tuple(p.values) not in existing]
        old = [p for p in partitions if tuple(p.values) in existing]
        name = self._name(database, table)
        self._add_batched(spec, new)
        for p in old:
            self._sql(f"ALTER TABLE {name} {self._spec_clause(spec.partition_keys, p.values)} "
                      f"SET LOCATION {quote_string(p.location)}")
        log.info("table %s.%s: %d partitions added, %d re-pointed", database, table,
                 len(new), len(old))
        return len(new) + len(old)

    def _add_batched(self, spec: TableSpec, partitions: Sequence[Partition]) -> None:
        if len(partitions) > BULK_MIN_PARTITIONS and self._bulk_add(spec, partitions):
            return
        self._add_ddl(spec, partitions)

    def _add_ddl(self, spec: TableSpec, partitions: Sequence[Partition]) -> None:
        name = self._name(spec.database, spec.name)
        for start in range(0, len(partitions), self.batch_size):
            batch = partitions[start:start + self.batch_size]
            clauses = " ".join(
                f"{self._spec_clause(spec.partition_keys, p.values)} "
                f"LOCATION {quote_string(p.location)}" for p in batch
            )
            self._sql(f"ALTER TABLE {name} ADD IF NOT EXISTS {clauses}")

    def _bulk_add(self, spec: TableSpec, partitions: Sequence[Partition]) -> bool:
        """The embedded Derby metastore's fast path (:mod:`lakeforge.catalog.derby_bulk`): the
        metastore rows of the table's latest partition (or, for a table without one, of the
        first partition, added by Hive) are cloned for the others in one transaction. False
        (nothing added) when it does not apply."""
        if not self.bulk_derby:
            return False
        url = derby_url(self.spark)
        if url is None:
            return False
        keys = [k.name for k in spec.partition_keys]
        types = [k.type for k in spec.partition_keys]
        if any(p.parameters for p in partitions) or not all(
                canonical_values(p.values, types) for p in partitions):
            log.info("%s: partition values or parameters need Hive's DDL path",
                     spec.qualified_name)
            return False
        registrar = DerbyBulkRegistrar(self.spark, url)
        pairs = [(p.values, p.location) for p in partitions]
        try:
            registrar.add(spec.database, spec.name, keys, pairs)
        except NoTemplate:
            # Hive adds the first partition; its rows are the template for the others.
            self._add_ddl(spec, partitions[:1])
            names = [HIVE_DEFAULT_PARTITION if v is None else v for v in partitions[0].values]
            try:
                registrar.add(spec.database, spec.name, keys, pairs[1:],
                              template=part_name(keys, names))
            except BulkUnavailable as exc:
                self._bulk_refused(spec, exc, partitions[1:])
        except BulkUnavailable as exc:
            self._bulk_refused(spec, exc, partitions)
        self.spark.catalog.refreshTable(self._name(spec.database, spec.name))
        return True

    def _bulk_refused(self, spec: TableSpec, exc: Exception,
                      partitions: Sequence[Partition]) -> None:
        log.info("%s: Derby bulk registration not used (%s); adding %d partitions with DDL",
                 spec.qualified_name, exc, len(partitions))
        self._add_ddl(spec, partitions)

    def add_new_partitions(self, spec: TableSpec, partitions: Sequence[Partition]) -> int:
        """One ``ALTER TABLE ... ADD IF NOT EXISTS`` with many PARTITION clauses per batch."""
        if partitions and not spec.partition_keys:
            raise ValueError(f"table {spec.qualified_name} has no partition keys; cannot add "
                             f"{len(partitions)} partition(s)")
        self._add_batched(spec, partitions)
        return len(partitions)

    def drop_partitions(
        self, database: str, table: str, values: Sequence[tuple[str | None, ...]]
    ) -> int:
        spec = self._require_table(database, table)
        existing = set(self.list_partition_values(database, table))
        present = [tuple(v) for v in values if tuple(v) in existing]
        name = self._name(database, table)
        for start in range(0, len(present), self.batch_size):
            batch = present[start:start + self.batch_size]
            clauses = ", ".join(self._spec_clause(spec.partition_keys, v) for v in batch)
            self._sql(f"ALTER TABLE {name} DROP IF EXISTS {clauses}")
        return len(present)

    def set_partition_locations(
        self, database: str, table: str, partitions: Sequence[Partition]
    ) -> None:
        """Re-point existing partitions and add new ones.

        Existing partitions move in ONE metastore call (``ExternalCatalog.alterPartitions``,
        which the Hive metastore applies in a single transaction), so a reader sees all of
        them at the old version or all at the new one; new partitions are then added in one
        batched ``ALTER TABLE ADD``. When the add fails the moved partitions stay moved: the
        caller puts them back (:func:`lakeforge.publish.switch_staged` does).
        """
        spec = self._require_table(database, table)
        keys = [k.name.lower() for k in spec.partition_keys]
        current = {tuple(p.values) for p in self.get_partitions(database, table)}
        moving = [p for p in partitions if tuple(p.values) in current]
        adding = [p for p in partitions if tuple(p.values) not in current]
        if moving:
            self._alter_partition_locations(database, table, keys, moving)
        if adding:
            self.add_partitions(database, table, adding)
        self.spark.catalog.refreshTable(self._name(database, table))

    def inherit_partition_schemas(self, database: str, table: str) -> int:
        """Glue's crawler option ``InheritFromTable`` for a Hive table: every registered
        partition gets the table's columns and storage format (SerDe, input and output
        formats), its location kept, in one ``ExternalCatalog.alterPartitions`` call (Hive
        fills a partition's columns from the table's). ``ALTER TABLE ADD COLUMNS`` leaves the
        partitions' column lists as they were, which Hive and Athena read (Spark reads through
        the table's schema). Returns how many partitions were rewritten: all of them, since
        Spark's catalog API does not return partition columns to compare; 0 for a Spark data
        source table, whose partitions hold no columns of their own."""
        spec = self._require_table(database, table)
        if not spec.partition_keys or self.uses_datasource_table(spec):
            return 0
        jvm = self._jvm()
        jcat = self._external_catalog()
        table_storage = jcat.getTable(database, table).storage()
        seq = jcat.listPartitions(database, table, jvm.scala.Option.empty())
        altered = jvm.java.util.ArrayList()
        for i in range(seq.size()):
            jp = seq.apply(i)
            st = jp.storage()
            storage = st.copy(st.locationUri(), table_storage.inputFormat(),
                              table_storage.outputFormat(), table_storage.serde(),
                              table_storage.compressed(), table_storage.properties())
            altered.add(jp.copy(jp.spec(), storage, jp.parameters(), jp.createTime(),
                                jp.lastAccessTime(), jp.stats()))
        if altered.size():
            converters = jvm.scala.collection.JavaConverters
            jcat.alterPartitions(database, table,
                                 converters.asScalaBufferConverter(altered).asScala().toSeq())
            self.spark.catalog.refreshTable(self._name(database, table))
        log.info("table %s.%s: %d partitions take the table's schema", database, table,
                 altered.size())
        return int(altered.size())

    def _alter_partition_locations(self, database: str, table: str, keys: list[str],
                                   partitions: Sequence[Partition]) -> None:
        jvm = self._jvm()
        jcat = self._external_catalog()
        wanted = {
            tuple(HIVE_DEFAULT_PARTITION if v is None else str(v) for v in p.values): p.location
            for p in partitions
        }
        seq = jcat.listPartitions(database, table, jvm.scala.Option.empty())
        altered = jvm.java.util.ArrayList()
        uris = jvm.org.apache.spark.sql.catalyst.catalog.CatalogUtils
        for i in range(seq.size()):
            jp = seq.apply(i)
            spec = jp.spec()
            values = tuple(str(spec.apply(k)) for k in keys)
            if values not in wanted:
                continue
            st = jp.storage()
            storage = st.copy(jvm.scala.Option.apply(uris.stringToURI(wanted[values])),
                              st.inputFormat(), st.outputFormat(), st.serde(), st.compressed(),
                              st.properties())
            altered.add(jp.copy(spec, storage, jp.parameters(), jp.createTime(),
                                jp.lastAccessTime(), jp.stats()))
        if altered.size() != len(wanted):
            raise CatalogError(f"{database}.{table}: {len(wanted)} partitions to move, "
                               f"{altered.size()} found in the metastore")
        converters = jvm.scala.collection.JavaConverters
        jcat.alterPartitions(database, table,
                             converters.asScalaBufferConverter(altered).asScala().toSeq())
        log.info("table %s.%s: %d partitions switched in one metastore call", database, table,
                 altered.size())


# --------------------------------------------------------------------------- parsing


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _same_location(a: str, b: str) -> bool:
    return normalize_uri(a) == normalize_uri(b)


def _parse_storage_properties(text: str) -> dict[str, str]:
    """``[field.delim=,, serialization.format=,]`` -> dict (values may contain ', ')."""
    body = text.strip()
    if body.startswith("[") and body.endswith("]"):
        body = body[1:-1]
    out: dict[str, str] = {}
    for m in re.finditer(r"(?:^|, )([A-Za-z_.]+)=(.*?)(?=, [A-Za-z_.]+=|$)", body):
        out[m.group(1)] = m.group(2)
    return out


def _parse_catalog_partitions(
    text: str, keys: list[str],
    spec_of: Callable[[int], dict[str, str]] | None = None,
) -> list[Partition]:
    """Parse ``CatalogTablePartition.toString`` blocks (joined by NUL) into Partitions.

    One JVM call returns every partition, which is far cheaper than a py4j call per field.
    Values are split on the known key names, so a value never needs escaping, unless a value
    itself holds ``, <key>=``: then the split is ambiguous and ``spec_of(i)`` (the i-th
    partition's spec, from the JVM) gives its values.
    """
    out: list[Partition] = []
    if not text:
        return out
    for i, block in enumerate(text.split("\u0000")):
        values_text = _field(block, "Partition Values")
        location = _field(block, "Location")
        if values_text is None or location is None:
            raise CatalogError(f"spark_sql: cannot read partition description {block[:200]!r}")
        inner = values_text[1:-1] if values_text.startswith("[") else values_text
        by_key = _split_spec(inner, keys)
        if by_key is _AMBIGUOUS:
            if spec_of is None:
                raise CatalogError(f"spark_sql: partition values {values_text!r} cannot be "
                                   f"split on the keys {keys}: a value holds ', <key>='")
            by_key = spec_of(i)
        if by_key is None:
            raise CatalogError(f"spark_sql: unexpected partition values {values_text!r} "
                               f"for keys {keys}")
        values = [None if by_key[k] == HIVE_DEFAULT_PARTITION else by_key[k] for k in keys]
        out.append(Partition(tuple(values), normalize_uri(location)))
    return out


#: What :func:`_split_spec` returns when a value holds ``, <key>=`` (it cannot tell where the
#: values end).
_AMBIGUOUS: dict[str, str] = {}


def _split_spec(text: str, keys: list[str]) -> dict[str, str] | None:
    """``dt=2024-01-01, country=GB`` -> values by key (keys in any order: Scala maps of more
    than four entries do not keep insertion order); None when a key is missing,
    :data:`_AMBIGUOUS` when a key could start at more than one place (a value holding
    ``, country=``)."""
    starts: list[tuple[int, str]] = []
    for key in keys:
        found = [0] if text.startswith(f"{key}=") else []
        idx = text.find(f", {key}=")
        while idx >= 0:
            found.append(idx + 2)
            idx = text.find(f", {key}=", idx + 1)
        if not found:
            return None
        if len(found) > 1:
            return _AMBIGUOUS
        starts.append((found[0], key))
    starts.sort()
    out: dict[str, str] = {}
    for i, (pos, key) in enumerate(starts):
        end = starts[i + 1][0] - 2 if i + 1 < len(starts) else len(text)
        out[key] = text[pos + len(key) + 1:end]
    return out


def _field(block: str, name: str) -> str | None:
    marker = f"\n\t{name}: "
    start = block.find(marker)
    if start < 0:
        return None
    start += len(marker)
    end = block.find("\n\t", start)
    value = block[start:] if end < 0 else block[start:end]
    return value[:-1] if value.endswith(")") and end < 0 else value
