"""Catalog backend on the AWS Glue Data Catalog API (boto3).

Tables are ``EXTERNAL_TABLE`` with the storage descriptor Athena expects (same SerDes as the
Spark SQL backend, from :mod:`lakeforge.catalog.athena_ddl`). Partitions are created with
``batch_create_partition`` in batches of 100 (Glue's limit), updated with
``batch_update_partition`` and deleted with ``batch_delete_partition`` in batches of 25. None of
these is atomic: each applies the entries it does not report in ``Errors``.

Example::

    catalog = GlueApiCatalog(region="eu-west-1")
    catalog.create_or_update_table(spec)
    catalog.get_partitions("lake", "sales", expression="dt >= '2024-01-02'")
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import Iterator, Sequence
from typing import Any, cast

from lakeforge.aws import retryable_aws_error
from lakeforge.catalog.athena_ddl import crawler_table_parameters, storage_format
from lakeforge.catalog.base import (
    Catalog,
    CatalogError,
    Column,
    DataFormat,
    Partition,
    TableNotFoundError,
    TableSpec,
)
from lakeforge.paths import validate_identifier

log = logging.getLogger(__name__)

CREATE_BATCH = 100  # batch_create_partition / batch_update_partition limit
DELETE_BATCH = 25  # batch_delete_partition limit
#: Error codes of a throttled call (botocore's own list, ``ThrottlingException`` "Rate exceeded"
#: for Glue): Glue's per-account request rates are met by crawls of many partitions.
class GlueApiCatalog(Catalog):
    """Register tables and partitions through boto3's Glue client."""

    backend_name = "glue_api"
    #: Calls a throttled request gets (each one botocore's own attempts, which Lakeforge keeps
    #: at two so that a dead endpoint fails fast), with exponential back-off and jitter between
    #: them, from ``throttle_base_delay_s`` up to ``throttle_max_delay_s``.
    throttle_attempts = 8
    throttle_base_delay_s = 1.0
    throttle_max_delay_s = 20.0

    def __init__(self, client: Any | None = None, *, region: str | None = None,
                 endpoint_url: str | None = None, catalog_id: str | None = None) -> None:
        if client is None:
            from lakeforge.aws import client as aws_client

            client = aws_client("glue", region=region, endpoint_url=endpoint_url)
        self.glue = client
        self.catalog_id = catalog_id

    # ------------------------------------------------------------------ helpers

    def _kw(self, **kwargs: Any) -> dict[str, Any]:
        if self.catalog_id:
            kwargs["CatalogId"] = self.catalog_id
        return kwargs

    def _call(self, what: str, fn: Any, *, passthrough: tuple[type[BaseException], ...] = (),
              **kwargs: Any) -> Any:
        """``fn(**kwargs)``: a throttled call is made again (``throttle_attempts`` in all,
        backing off); EntityNotFoundException and ``passthrough`` reach the caller as they
        are, any other failure is a :class:`CatalogError` naming ``what``."""
        attempt = 1
        while True:
            try:
                return fn(**self._kw(**kwargs))
            except (self.glue.exceptions.EntityNotFoundException, *passthrough):
                raise
            except self.glue.exceptions.ClientError as exc:
                if not retryable_aws_error(exc, throttling_only=True):
                    raise CatalogError(f"glue_api: {what} failed: {exc}") from exc
                code = exc.response.get("Error", {}).get("Code", "")
                if attempt >= self.throttle_attempts:
                    raise CatalogError(f"glue_api: {what} failed: throttled {attempt} times "
                                       f"in a row: {exc}") from exc
                delay = min(self.throttle_max_delay_s,
                            self.throttle_base_delay_s * 2 ** (attempt - 1))
                delay *= random.uniform(0.5, 1.0)
                log.info("glue_api: %s throttled (%s), try %d of %d in %.1f s", what, code,
                         attempt + 1, self.throttle_attempts, delay)
                time.sleep(delay)
                attempt += 1
            except Exception as exc:  # connection errors, time-outs
                raise CatalogError(f"glue_api: {what} failed: {exc}") from exc

    def _pages(self, what: str, fn: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Every page of a Glue list call (``NextToken``), each page through :meth:`_call`."""
        token: str | None = None
        while True:
            page = self._call(what, fn, **{**kwargs, **({"NextToken": token} if token else {})})
            yield page
            token = page.get("NextToken")
            if not token:
                return

    def _storage_descriptor(self, spec: TableSpec, location: str | None = None) -> dict[str, Any]:
        fmt = storage_format(spec)
        return {
            "Columns": [_column(c) for c in spec.columns],
            "Location": location or spec.location,
            "InputFormat": fmt.input_format,
            "OutputFormat": fmt.output_format,
            "Compressed": bool(spec.compression and spec.format != "parquet"),
            "SerdeInfo": {"SerializationLibrary": fmt.serde,
                          "Parameters": dict(fmt.serde_parameters)},
            "Parameters": {k: v for k, v in crawler_table_parameters(spec).items()
                           if k in ("classification", "compressionType", "delimiter",
                                    "typeOfData")},
        }

    def _table_input(self, spec: TableSpec) -> dict[str, Any]:
        return {
            "Name": spec.name,
            "TableType": "EXTERNAL_TABLE",
            "StorageDescriptor": self._storage_descriptor(spec),
            "PartitionKeys": [_column(k) for k in spec.partition_keys],
            "Parameters": crawler_table_parameters(spec),
        }

    # ------------------------------------------------------------------ databases and tables

    def create_database(self, database: str, location: str | None = None) -> None:
        validate_identifier(database, "database name")
        if self.database_exists(database):
            return
        db_input: dict[str, Any] = {"Name": database}
        if location:
            db_input["LocationUri"] = location
        with contextlib.suppress(self.glue.exceptions.AlreadyExistsException):
            self._call(f"create_database {database}", self.glue.create_database,
                       passthrough=(self.glue.exceptions.AlreadyExistsException,),
                       DatabaseInput=db_input)

    def database_exists(self, database: str) -> bool:
        try:
            self._call(f"get_database {database}", self.glue.get_database, Name=database)
        except self.glue.exceptions.EntityNotFoundException:
            return False
        return True

    def list_tables(self, database: str) -> list[str]:
        names: list[str] = []
        try:
            for page in self._pages(f"get_tables {database}", self.glue.get_tables,
                                    DatabaseName=database):
                names.extend(t["Name"] for t in page["TableList"])
        except self.glue.exceptions.EntityNotFoundException as exc:
            raise CatalogError(f"glue_api: database {database} does not exist") from exc
        return sorted(names)

    def get_table(self, database: str, table: str) -> TableSpec | None:
        try:
            t = self._call(f"get_table {database}.{table}", self.glue.get_table,
                           DatabaseName=database, Name=table)["Table"]
        except self.glue.exceptions.EntityNotFoundException:
            return None
        sd = t.get("StorageDescriptor", {})
        params = dict(t.get("Parameters", {}))
        serde = sd.get("SerdeInfo", {})
        lib = serde.get("SerializationLibrary", "")
        serde_params = serde.get("Parameters", {})
        fmt = params.get("classification") or (
            "parquet" if "parquet" in lib.lower() else "json" if "json" in lib.lower() else "csv"
        )
        compression = params.get("compressionType")
        params.pop("EXTERNAL", None)
        return TableSpec(
            database=database,
            name=table,
            columns=[Column(c["Name"], c["Type"], c.get("Comment")) for c in sd.get("Columns", [])],
            location=sd.get("Location", ""),
            partition_keys=[Column(c["Name"], c["Type"], c.get("Comment"))
                            for c in t.get("PartitionKeys", [])],
            format=cast(DataFormat, fmt),
            compression=None if compression in (None, "none") else compression,
            csv_delimiter=params.get("delimiter") or serde_params.get("field.delim")
            or serde_params.get("separatorChar") or ",",
            csv_header=params.get("skip.header.line.count") == "1",
            parameters={k: v for k, v in params.items()},
            csv_quoted="OpenCSVSerde" in lib,
        )

    def create_or_update_table(self, spec: TableSpec) -> None:
        validate_identifier(spec.database, "database name")
        validate_identifier(spec.name, "table name")
        table_input = self._table_input(spec)
        try:
            current = self._call(f"get_table {spec.qualified_name}", self.glue.get_table,
                                 DatabaseName=spec.database, Name=spec.name)["Table"]
            exists = True
        except self.glue.exceptions.EntityNotFoundException:
            exists = False
        if exists:
            _refuse_other_kind(spec, current)
            _keep_unmodelled(table_input, current)
            self._drop_partitions_of_other_keys(spec, current)
            self._call(f"update_table {spec.qualified_name}", self.glue.update_table,
                       DatabaseName=spec.database, TableInput=table_input)
        else:
            self._call(f"create_table {spec.qualified_name}", self.glue.create_table,
                       DatabaseName=spec.database, TableInput=table_input)
        log.info("%s table %s at %s", "updated" if exists else "created", spec.qualified_name,
                 spec.location)

    def _drop_partitions_of_other_keys(self, spec: TableSpec, current: dict[str, Any]) -> None:
        """Glue's UpdateTable takes new partition keys and leaves the table's partitions as
        they were, keyed by the old ones (one value where the table now has two, or values of
        another key): Athena cannot read them, and nothing would find them again. As the
        spark_sql backend re-creates such a table without them, they are dropped first (while
        they still match the keys they were registered under); the data is not touched."""
        old = [k.get("Name", "").lower() for k in current.get("PartitionKeys", [])]
        new = [k.name.lower() for k in spec.partition_keys]
        if not old or old == new:
            return
        values = self.list_partition_values(spec.database, spec.name)
        if values:
            log.warning("table %s: partition keys %s -> %s: its %d partition(s) of the old keys "
                        "are dropped (their data is kept)", spec.qualified_name, old, new,
                        len(values))
            self.drop_partitions(spec.database, spec.name, values)

    def put_table_input(self, database: str, table_input: dict[str, Any]) -> bool:
        """Create or update a table from a raw Glue ``TableInput`` (the shapes the table
        formats register for Athena: ``table_type`` DELTA / ICEBERG); True when it was
        created."""
        validate_identifier(database, "database name")
        name = table_input["Name"]
        try:
            self._call(f"get_table {database}.{name}", self.glue.get_table,
                       DatabaseName=database, Name=name)
        except self.glue.exceptions.EntityNotFoundException:
            self._call(f"create_table {database}.{name}", self.glue.create_table,
                       DatabaseName=database, TableInput=table_input)
            return True
        self._call(f"update_table {database}.{name}", self.glue.update_table,
                   DatabaseName=database, TableInput=table_input)
        return False

    def get_table_raw(self, database: str, table: str) -> dict[str, Any] | None:
        """The Glue ``Table`` structure as stored (None when absent)."""
        try:
            return dict(self._call(f"get_table {database}.{table}", self.glue.get_table,
                                   DatabaseName=database, Name=table)["Table"])
        except self.glue.exceptions.EntityNotFoundException:
            return None

    def drop_table(self, database: str, table: str) -> None:
        """Delete the table's partitions (``batch_delete_partition``, 25 per call), then the
        table. Glue's DeleteTable leaves the partitions to be deleted "asynchronously ... at
        the discretion of the service" and says to delete them first for them to go at once:
        a table re-created under the same name (a publish after its undo, a crawl) must not
        meet them."""
        try:
            values = self.list_partition_values(database, table)
        except TableNotFoundError:
            return
        if values:
            self.drop_partitions(database, table, values)
        with contextlib.suppress(self.glue.exceptions.EntityNotFoundException):
            self._call(f"delete_table {database}.{table}", self.glue.delete_table,
                       DatabaseName=database, Name=table)

    # ------------------------------------------------------------------ partitions

    def _require_table(self, database: str, table: str) -> TableSpec:
        spec = self.get_table(database, table)
        if spec is None:
            raise TableNotFoundError(database, table, self.backend_name)
        return spec

    def _partition_input(self, spec: TableSpec, p: Partition) -> dict[str, Any]:
        if len(p.values) != len(spec.partition_keys):
            raise ValueError(
                f"partition values {p.values} do not match the partition keys "
                f"{[k.name for k in spec.partition_keys]} of {spec.qualified_name}"
            )
        # Glue stores values as strings; Hive's default-partition name stands for null.
        values = ["__HIVE_DEFAULT_PARTITION__" if v is None else v for v in p.values]
        return {
            "Values": values,
            "StorageDescriptor": self._storage_descriptor(spec, p.location),
            "Parameters": dict(p.parameters),
        }

    def get_partitions(
        self, database: str, table: str, expression: str | None = None
    ) -> list[Partition]:
        self._require_table(database, table)
        kwargs: dict[str, Any] = {"DatabaseName": database, "TableName": table}
        if expression:
            kwargs["Expression"] = expression
        out: list[Partition] = []
        try:
            for page in self._pages(f"get_partitions {database}.{table}",
                                    self.glue.get_partitions, **kwargs):
                for p in page["Partitions"]:
                    values = tuple(None if v == "__HIVE_DEFAULT_PARTITION__" else v
                                   for v in p["Values"])
                    out.append(Partition(values, p.get("StorageDescriptor", {}).get("Location", ""),
                                         dict(p.get("Parameters", {}))))
        except self.glue.exceptions.EntityNotFoundException as exc:
            raise TableNotFoundError(database, table, self.backend_name) from exc
        except CatalogError as exc:
            if expression and "InvalidInput" in str(exc):
                raise ValueError(f"partition expression {expression!r} on {database}.{table} is "
                                 f"not valid: {exc.__cause__ or exc}") from exc
            raise
        return out

    def list_partition_values(self, database: str, table: str) -> list[tuple[str | None, ...]]:
        """Partition values only (``ExcludeColumnSchema``: much smaller pages)."""
        self._require_table(database, table)
        out: list[tuple[str | None, ...]] = []
        try:
            for page in self._pages(f"get_partitions {database}.{table}",
                                    self.glue.get_partitions, DatabaseName=database,
                                    TableName=table, ExcludeColumnSchema=True):
                out.extend(tuple(None if v == "__HIVE_DEFAULT_PARTITION__" else v
                                 for v in p["Values"]) for p in page["Partitions"])
        except self.glue.exceptions.EntityNotFoundException as exc:
            raise TableNotFoundError(database, table, self.backend_name) from exc
        return out

    def add_partitions(self, database: str, table: str, partitions: Sequence[Partition]) -> int:
        """``batch_create_partition`` in batches of 100; partitions that already exist are
        updated to the new location with ``batch_update_partition``."""
        spec = self._require_table(database, table)
        if partitions and not spec.partition_keys:
            raise ValueError(f"table {database}.{table} has no partition keys; cannot add "
                             f"{len(partitions)} partition(s)")
        inputs = [self._partition_input(spec, p) for p in partitions]
        existing: list[Partition] = []
        created = 0
        for start in range(0, len(inputs), CREATE_BATCH):
            batch = inputs[start:start + CREATE_BATCH]
            resp = self._call(f"batch_create_partition {database}.{table}",
                              self.glue.batch_create_partition, DatabaseName=database,
                              TableName=table, PartitionInputList=batch)
            errors = resp.get("Errors", [])
            failed: list[str] = []
            for err in errors:
                code = err.get("ErrorDetail", {}).get("ErrorCode", "")
                vals = tuple(err.get("PartitionValues", []))
                if code == "AlreadyExistsException":
                    match = next(p for p, i in zip(partitions[start:start + CREATE_BATCH], batch,
                                                   strict=True)
                                 if tuple(i["Values"]) == vals)
                    existing.append(match)
                else:
                    failed.append(f"{list(vals)}: {code} "
                                  f"{err.get('ErrorDetail', {}).get('ErrorMessage', '')}")
            if failed:
                raise CatalogError(f"glue_api: batch_create_partition {database}.{table} failed "
                                   f"for {len(failed)} partition(s): {failed[:5]}")
            created += len(batch) - len(errors)
        if existing:
            self._update(spec, existing)
        log.info("table %s.%s: %d partitions created, %d updated", database, table, created,
                 len(existing))
        return created + len(existing)

    def add_new_partitions(self, spec: TableSpec, partitions: Sequence[Partition]) -> int:
        """``batch_create_partition`` in batches of 100; ones that already exist are kept."""
        inputs = [self._partition_input(spec, p) for p in partitions]
        for start in range(0, len(inputs), CREATE_BATCH):
            resp = self._call(f"batch_create_partition {spec.qualified_name}",
                              self.glue.batch_create_partition, DatabaseName=spec.database,
                              TableName=spec.name,
                              PartitionInputList=inputs[start:start + CREATE_BATCH])
            failed = [e for e in resp.get("Errors", [])
                      if e.get("ErrorDetail", {}).get("ErrorCode") != "AlreadyExistsException"]
            if failed:
                raise CatalogError(f"glue_api: batch_create_partition {spec.qualified_name} "
                                   f"failed for {len(failed)} partition(s): {failed[:5]}")
        return len(partitions)

    def _update(self, spec: TableSpec, partitions: Sequence[Partition]) -> None:
        for start in range(0, len(partitions), CREATE_BATCH):
            batch = partitions[start:start + CREATE_BATCH]
            entries = []
            for p in batch:
                pin = self._partition_input(spec, p)
                entries.append({"PartitionValueList": pin["Values"], "PartitionInput": pin})
            resp = self._call(f"batch_update_partition {spec.qualified_name}",
                              self.glue.batch_update_partition, DatabaseName=spec.database,
                              TableName=spec.name, Entries=entries)
            errors = resp.get("Errors", [])
            if errors:
                # Glue applies the other entries of the call: the caller must know
                failed = [f"{e.get('PartitionValueList')}: "
                          f"{e.get('ErrorDetail', {}).get('ErrorCode', '')} "
                          f"{e.get('ErrorDetail', {}).get('ErrorMessage', '')}".strip()
                          for e in errors]
                raise CatalogError(
                    f"glue_api: batch_update_partition {spec.qualified_name} failed for "
                    f"{len(errors)} of {len(entries)} partition(s) of the call (the others "
                    f"were updated, as were {start} in earlier calls): {failed[:5]}")

    def inherit_partition_schemas(self, database: str, table: str) -> int:
        """Glue's crawler option ``InheritFromTable`` ("Update all new and existing partitions
        with metadata from the table"): each partition whose storage descriptor (columns,
        SerDe, input and output formats) differs from the table's is rewritten with the
        table's, its location and parameters kept, with ``batch_update_partition`` (100 per
        call). A table-level type change otherwise leaves old partitions with their old
        columns, and Athena fails text tables with HIVE_PARTITION_SCHEMA_MISMATCH. Returns how
        many partitions were updated."""
        spec = self._require_table(database, table)
        wanted = _sd_shape(self._storage_descriptor(spec))
        stale: list[Partition] = []
        try:
            for page in self._pages(f"get_partitions {database}.{table}",
                                    self.glue.get_partitions, DatabaseName=database,
                                    TableName=table):
                for p in page["Partitions"]:
                    sd = p.get("StorageDescriptor", {})
                    if _sd_shape(sd) != wanted:
                        values = tuple(None if v == "__HIVE_DEFAULT_PARTITION__" else v
                                       for v in p["Values"])
                        stale.append(Partition(values, sd.get("Location", ""),
                                               dict(p.get("Parameters", {}))))
        except self.glue.exceptions.EntityNotFoundException as exc:
            raise TableNotFoundError(database, table, self.backend_name) from exc
        if stale:
            self._update(spec, stale)
        log.info("table %s.%s: %d partitions updated to the table's schema", database, table,
                 len(stale))
        return len(stale)

    def drop_partitions(
        self, database: str, table: str, values: Sequence[tuple[str | None, ...]]
    ) -> int:
        self._require_table(database, table)
        dropped = 0
        for start in range(0, len(values), DELETE_BATCH):
            batch = [{"Values": ["__HIVE_DEFAULT_PARTITION__" if v is None else v for v in vals]}
                     for vals in values[start:start + DELETE_BATCH]]
            resp = self._call(f"batch_delete_partition {database}.{table}",
                              self.glue.batch_delete_partition, DatabaseName=database,
                              TableName=table, PartitionsToDelete=batch)
            missing = [e for e in resp.get("Errors", [])
                       if e.get("ErrorDetail", {}).get("ErrorCode") == "EntityNotFoundException"]
            others = [e for e in resp.get("Errors", []) if e not in missing]
            if others:
                raise CatalogError(f"glue_api: batch_delete_partition {database}.{table} "
                                   f"failed: {others[:5]}")
            dropped += len(batch) - len(missing)
        return dropped

    def set_partition_locations(
        self, database: str, table: str, partitions: Sequence[Partition]
    ) -> None:
        """Existing partitions are re-pointed with ``batch_update_partition`` (100 per call),
        missing ones created with ``batch_create_partition``. Neither call is documented as
        atomic: AWS applies the entries it does not report in ``Errors``. Any error raises
        :class:`CatalogError` with some partitions already switched; the caller puts them back
        (:func:`lakeforge.publish.switch_staged` does)."""
        spec = self._require_table(database, table)
        wanted = {tuple(p.values): p for p in partitions}
        present = set()
        keys = list(wanted)
        for start in range(0, len(keys), CREATE_BATCH):
            chunk = keys[start:start + CREATE_BATCH]
            resp = self._call(
                f"batch_get_partition {database}.{table}", self.glue.batch_get_partition,
                DatabaseName=database, TableName=table,
                PartitionsToGet=[{"Values": ["__HIVE_DEFAULT_PARTITION__" if v is None else v
                                             for v in k]} for k in chunk],
            )
            for p in resp.get("Partitions", []):
                present.add(tuple(None if v == "__HIVE_DEFAULT_PARTITION__" else v
                                  for v in p["Values"]))
        to_update = [p for k, p in wanted.items() if k in present]
        to_create = [p for k, p in wanted.items() if k not in present]
        if to_update:
            self._update(spec, to_update)
        if to_create:
            self.add_partitions(database, table, to_create)


#: Glue tables a TableSpec (a Hive table of Parquet, CSV or JSON files) must never replace:
#: open table formats (``table_type``) keep their state in the parameters UpdateTable would
#: overwrite (Iceberg's ``metadata_location``), and a view has no files at all.
_OTHER_KINDS = ("ICEBERG", "DELTA", "HUDI")


def _refuse_other_kind(spec: TableSpec, current: dict[str, Any]) -> None:
    """A :class:`CatalogError` when the stored table is a view or an Iceberg/Delta/Hudi
    table: updating it as a Hive table would drop what makes it one (nothing is changed)."""
    params = current.get("Parameters") or {}
    kind = str(params.get("table_type", "")).upper()
    if current.get("TableType") == "VIRTUAL_VIEW":
        what = "a view"
    elif kind in _OTHER_KINDS:
        what = f"an {kind} table" if kind[0] in "AEIOU" else f"a {kind} table"
    else:
        return
    raise CatalogError(
        f"glue_api: {spec.qualified_name} is {what} in Glue; updating it as a {spec.format} "
        "Hive table would replace its definition and leave it unreadable: drop it or use "
        "another table name (nothing was changed)")


#: TableInput fields a TableSpec does not model. UpdateTable replaces the whole table
#: definition, so an update without them would erase what the console, Lake Formation or a
#: data steward set on the table.
_UNMODELLED_TABLE_FIELDS = ("Description", "Owner", "Retention", "LastAccessTime",
                            "LastAnalyzedTime")


def _keep_unmodelled(table_input: dict[str, Any], current: dict[str, Any]) -> None:
    """Carry over into ``table_input`` (an UpdateTable input) what the stored table ``current``
    has and a TableSpec cannot say: the table's description, owner and retention, and each
    kept column's comment (when the spec gives none) and column parameters."""
    for key in _UNMODELLED_TABLE_FIELDS:
        if current.get(key) is not None and key not in table_input:
            table_input[key] = current[key]
    old_cols = {c["Name"].lower(): c for c in [
        *current.get("StorageDescriptor", {}).get("Columns", []),
        *current.get("PartitionKeys", [])]}
    for col in [*table_input["StorageDescriptor"]["Columns"], *table_input["PartitionKeys"]]:
        old = old_cols.get(col["Name"].lower())
        if old is None:
            continue
        if "Comment" not in col and old.get("Comment"):
            col["Comment"] = old["Comment"]
        if old.get("Parameters") and "Parameters" not in col:
            col["Parameters"] = dict(old["Parameters"])


def _sd_shape(sd: dict[str, Any]) -> tuple[object, ...]:
    """What a partition inherits from its table: columns, formats and SerDe."""
    serde = sd.get("SerdeInfo", {})
    return ([(c.get("Name", "").lower(), c.get("Type", "")) for c in sd.get("Columns", [])],
            sd.get("InputFormat"), sd.get("OutputFormat"), serde.get("SerializationLibrary"),
            dict(serde.get("Parameters", {})))


def _column(c: Column) -> dict[str, Any]:
    out: dict[str, Any] = {"Name": c.name, "Type": c.type}
    if c.comment:
        out["Comment"] = c.comment
    return out
