"""Glue-crawler semantics: list, classify, infer schemas, group tables, find partitions, and
register them through a catalog backend.

Example::

    from lakeforge.crawler import crawl
    from lakeforge.catalog import get_catalog

    report = crawl(["/lake/raw/sales"], database="raw", catalog=get_catalog("spark_sql", spark))
    report.to_json()  # the JSON report `lakeforge crawl --report-json` writes
"""

from lakeforge.crawler.classify import FileSchema, UnreadableObject, classify
from lakeforge.crawler.crawl import (
    DELETE_BEHAVIORS,
    DEPRECATED_PROPERTY,
    RECRAWL_POLICIES,
    SCHEMA_CHANGE_POLICIES,
    CrawlReport,
    DeleteBehavior,
    RecrawlPolicy,
    SchemaChangePolicy,
    TableReport,
    TableThresholdExceeded,
    crawl,
)
from lakeforge.crawler.grouping import (
    MAX_CLUSTERS,
    PARTITION_THRESHOLD,
    SIMILARITY_THRESHOLD,
    TABLE_GROUPING_POLICIES,
    Cluster,
    Folder,
    Skipped,
    TableGroupingPolicy,
    TablePlan,
    cluster_folders,
    plan_tables,
)
from lakeforge.crawler.listing import Root, list_objects, resolve_root

__all__ = [
    "DELETE_BEHAVIORS", "DEPRECATED_PROPERTY", "MAX_CLUSTERS", "PARTITION_THRESHOLD",
    "RECRAWL_POLICIES", "SCHEMA_CHANGE_POLICIES", "SIMILARITY_THRESHOLD",
    "TABLE_GROUPING_POLICIES", "Cluster", "CrawlReport", "DeleteBehavior", "FileSchema", "Folder",
    "RecrawlPolicy", "Root", "SchemaChangePolicy", "Skipped", "TableGroupingPolicy", "TablePlan",
    "TableReport", "TableThresholdExceeded", "UnreadableObject", "classify", "cluster_folders",
    "crawl", "list_objects", "plan_tables", "resolve_root",
]
