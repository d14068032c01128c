"""The catalog interface every backend implements (spark_sql, glue_api).

Tables are EXTERNAL with Athena-compatible SerDes. Column types are Hive/Athena type strings
(``bigint``, ``double``, ``string``, ``date``, ``timestamp``, ``decimal(10,2)``,
``array<string>``, ``struct<a:int>``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from lakeforge.errors import LakeforgeError

DataFormat = Literal["parquet", "csv", "json"]
PartitionValues = tuple[str | None, ...]


class CatalogError(LakeforgeError, RuntimeError):
    """A catalog call failed (the message names the database, table and backend)."""


class TableNotFoundError(CatalogError, LookupError):
    """The table does not exist in the catalog."""

    def __init__(self, database: str, table: str, backend: str = "") -> None:
        where = f" ({backend})" if backend else ""
        super().__init__(
            f"table {database}.{table} does not exist in the catalog{where}; crawl or publish "
            "it first, or check the database and table names"
        )


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    comment: str | None = None


@dataclass(frozen=True)
class TableSpec:
    """What a catalog table is: its columns, partition keys, location, format and properties."""

    database: str
    name: str
    columns: Sequence[Column]
    location: str
    partition_keys: Sequence[Column] = ()
    format: DataFormat = "parquet"
    compression: str | None = None
    csv_delimiter: str = ","
    csv_header: bool = True
    parameters: Mapping[str, str] = field(default_factory=dict)
    csv_quoted: bool = False
    """Quoted CSV fields: OpenCSVSerde (every column is read as a string)."""

    @property
    def qualified_name(self) -> str:
        return f"{self.database}.{self.name}"


@dataclass(frozen=True)
class Partition:
    """One partition: its values in partition-key order and its folder."""

    values: tuple[str | None, ...]
    location: str
    parameters: Mapping[str, str] = field(default_factory=dict)


class Catalog(ABC):
    """Register tables and partitions. Implementations: SparkSqlCatalog, GlueApiCatalog."""

    @abstractmethod
    def create_database(self, database: str, location: str | None = None) -> None: ...

    @abstractmethod
    def create_or_update_table(self, spec: TableSpec) -> None: ...

    @abstractmethod
    def get_table(self, database: str, table: str) -> TableSpec | None: ...

    @abstractmethod
    def list_tables(self, database: str) -> list[str]: ...

    @abstractmethod
    def drop_table(self, database: str, table: str) -> None: ...

    @abstractmethod
    def add_partitions(self, database: str, table: str, partitions: Sequence[Partition]) -> int:
        """Add partitions (existing ones are updated to the new location); returns how many."""

    @abstractmethod
    def get_partitions(
        self, database: str, table: str, expression: str | None = None
    ) -> list[Partition]:
        """All partitions, or those matching a Glue/Athena-style ``expression`` on the partition
        keys (``"dt >= '2024-01-02' AND country = 'GB'"``)."""

    @abstractmethod
    def drop_partitions(
        self, database: str, table: str, values: Sequence[tuple[str | None, ...]]
    ) -> int: ...

    @abstractmethod
    def set_partition_locations(
        self, database: str, table: str, partitions: Sequence[Partition]
    ) -> None:
        """Point existing or new partitions at new folders in as close to one step as the
        backend allows (atomic publish switches versions this way)."""

    # ------------------------------------------------------------------ provided by the base class

    backend_name: str = "catalog"

    def database_exists(self, database: str) -> bool:
        """True when the database exists (backends override with a cheaper call)."""
        try:
            self.list_tables(database)
        except CatalogError:
            return False
        return True

    def list_partition_values(self, database: str, table: str) -> list[PartitionValues]:
        """The values of every registered partition (backends override with a cheaper call than
        :meth:`get_partitions` when they have one; the incremental crawl uses this)."""
        return [p.values for p in self.get_partitions(database, table)]

    def add_new_partitions(self, spec: TableSpec, partitions: Sequence[Partition]) -> int:
        """Add partitions the caller knows are not registered yet (the crawler has just listed
        them), skipping the backend's existence check; any that do exist are left as they are.
        Returns how many were sent."""
        return self.add_partitions(spec.database, spec.name, partitions)

    def set_table_parameters(
        self, database: str, table: str, parameters: Mapping[str, str]
    ) -> None:
        """Merge ``parameters`` into the table's properties. The format properties
        (``classification``, ``compressionType``, ``delimiter``, ``areColumnsQuoted``,
        ``skip.header.line.count``) follow the table's format fields instead
        (:func:`lakeforge.catalog.athena_ddl.crawler_table_parameters`): change those with
        :meth:`create_or_update_table`."""
        spec = self.get_table(database, table)
        if spec is None:
            raise TableNotFoundError(database, table, self.backend_name)
        merged = {**dict(spec.parameters), **dict(parameters)}
        self.create_or_update_table(replace(spec, parameters=merged))

    def show_create_table(self, database: str, table: str) -> str:
        """The Athena ``CREATE EXTERNAL TABLE`` statement for a registered table."""
        from lakeforge.catalog.athena_ddl import create_table_ddl

        spec = self.get_table(database, table)
        if spec is None:
            raise TableNotFoundError(database, table, self.backend_name)
        return create_table_ddl(spec)
