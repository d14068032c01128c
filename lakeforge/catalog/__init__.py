"""Catalog interface and its backends (spark_sql, glue_api).

Example::

    from lakeforge.catalog import get_catalog, TableSpec, Column, Partition
    catalog = get_catalog(env, spark)
"""

from lakeforge.catalog.athena_ddl import create_table_ddl, projection_properties
from lakeforge.catalog.base import (
    Catalog,
    CatalogError,
    Column,
    DataFormat,
    Partition,
    PartitionValues,
    TableNotFoundError,
    TableSpec,
)
from lakeforge.catalog.factory import get_catalog

__all__ = [
    "Catalog", "CatalogError", "Column", "DataFormat", "Partition", "PartitionValues",
    "TableNotFoundError", "TableSpec", "create_table_ddl", "get_catalog", "projection_properties",
]
