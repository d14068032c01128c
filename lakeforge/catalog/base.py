"""The catalog interface every backend implements (spark_sql, glue_api).

Tables are EXTERNAL with Athena-compatible SerDes. Column types are Hive/Athena type strings
(``bigint``, ``double``, ``string``, ``date``, ``timestamp``, ``decimal(10,2)``,
``array<string>``, ``struct<a:int>``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

DataFormat = Literal["parquet", "csv", "json"]


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
    def get_partitions(self, database: str, table: str) -> list[Partition]: ...

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
