"""Glue Data Catalog semantics of the glue_api backend and the Athena DDL, on a moto server.

moto stores what the Glue API is sent and answers as Glue does; it does not run Athena, so
what Athena would make of a table (a skipped header row, a statement over Athena's query
length) is checked on the stored table properties and the DDL text.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from lakeforge.catalog import Column, TableSpec
from lakeforge.catalog.athena_ddl import crawler_table_parameters
from lakeforge.catalog.glue_api import GlueApiCatalog

pytestmark = pytest.mark.aws


def _csv_spec(db: str) -> TableSpec:
    return TableSpec(db, "people", [Column("id", "bigint"), Column("name", "string")],
                     "s3://bucket/people", format="csv", csv_header=True,
                     parameters={"owner": "team-a"})


def test_read_back_spec_with_changed_header_compression_delimiter_updates_table_properties(
        glue: GlueApiCatalog, glue_db: str) -> None:
    """A spec read back with get_table carries the old table's format properties in its
    parameters (the crawler merges them the same way); the changed fields must win: the old
    code kept skip.header.line.count=1 (Athena drops the first data row of every file),
    compressionType none and delimiter ',' (get_table then read the old delimiter back)."""
    glue.create_database(glue_db)
    glue.create_or_update_table(_csv_spec(glue_db))
    back = glue.get_table(glue_db, "people")
    assert back is not None and back.csv_header
    glue.create_or_update_table(replace(back, csv_header=False, compression="gzip",
                                        csv_delimiter="|"))
    raw = glue.glue.get_table(DatabaseName=glue_db, Name="people")["Table"]
    assert "skip.header.line.count" not in raw["Parameters"]
    assert raw["Parameters"]["compressionType"] == "gzip"
    assert raw["Parameters"]["delimiter"] == "|"
    assert raw["Parameters"]["owner"] == "team-a"
    assert raw["StorageDescriptor"]["SerdeInfo"]["Parameters"]["field.delim"] == "|"
    now = glue.get_table(glue_db, "people")
    assert now is not None
    assert (now.csv_header, now.compression, now.csv_delimiter) == (False, "gzip", "|")


def test_format_properties_follow_the_spec_fields_user_header_count_kept() -> None:
    """classification follows a format change; a CSV table's own skip count other than 1
    (csv_header False) is the user's and stays; CSV-only properties leave a Parquet table."""
    old = {"classification": "csv", "delimiter": ";", "areColumnsQuoted": "false",
           "skip.header.line.count": "1", "compressionType": "gzip", "team": "a"}
    spec = TableSpec("db", "t", [Column("a", "int")], "s3://b/t", format="parquet",
                     parameters=old)
    params = crawler_table_parameters(spec)
    assert params["classification"] == "parquet" and params["compressionType"] == "none"
    assert not {"delimiter", "areColumnsQuoted", "skip.header.line.count"} & set(params)
    assert params["team"] == "a"
    two = replace(spec, format="csv", csv_header=False,
                  parameters={"skip.header.line.count": "2"})
    assert crawler_table_parameters(two)["skip.header.line.count"] == "2"


def test_update_keeps_description_owner_retention_and_column_comments(
        glue: GlueApiCatalog, glue_db: str) -> None:
    """UpdateTable replaces the whole table definition: the old code's update (a publish or a
    crawl builds its spec without them) erased the description, owner, retention and column
    comments someone set in the console. A comment the spec does give still wins."""
    glue.create_database(glue_db)
    spec = TableSpec(glue_db, "sales", [Column("id", "bigint"), Column("amount", "double")],
                     "s3://bucket/sales/v1", [Column("dt", "string")])
    glue.create_or_update_table(spec)
    raw = glue.glue.get_table(DatabaseName=glue_db, Name="sales")["Table"]
    sd = raw["StorageDescriptor"]
    sd["Columns"] = [{"Name": "id", "Type": "bigint", "Comment": "customer id"},
                     {"Name": "amount", "Type": "double", "Comment": "gross, EUR"}]
    glue.glue.update_table(DatabaseName=glue_db, TableInput={
        "Name": "sales", "Description": "daily sales", "Owner": "finance", "Retention": 30,
        "TableType": raw["TableType"], "Parameters": raw["Parameters"],
        "StorageDescriptor": sd,
        "PartitionKeys": [{"Name": "dt", "Type": "string", "Comment": "sale date"}]})
    glue.create_or_update_table(replace(
        spec, location="s3://bucket/sales/v2",
        columns=[Column("id", "bigint"), Column("amount", "double", "net, EUR"),
                 Column("note", "string")]))
    now = glue.glue.get_table(DatabaseName=glue_db, Name="sales")["Table"]
    assert (now.get("Description"), now.get("Owner"), now.get("Retention")) == (
        "daily sales", "finance", 30)
    assert [(c["Name"], c.get("Comment")) for c in now["StorageDescriptor"]["Columns"]] == [
        ("id", "customer id"), ("amount", "net, EUR"), ("note", None)]
    assert [(c["Name"], c.get("Comment")) for c in now["PartitionKeys"]] == [("dt", "sale date")]
    assert now["StorageDescriptor"]["Location"] == "s3://bucket/sales/v2"


def _throttle(glue: GlueApiCatalog, operation: str, times: int) -> list[str]:
    """Answer the first ``times`` HTTP sends of ``operation`` as Glue does when an account's
    request rate is exceeded (400 ThrottlingException "Rate exceeded"), before they reach moto;
    botocore's own retry sees them as it would Glue's. Returns the operations sent."""
    from botocore.awsrequest import AWSResponse

    class _Raw:
        def __init__(self, body: bytes) -> None:
            self.body = body

        def stream(self, **_: object) -> object:
            yield self.body

    sent: list[str] = []

    def before_send(request: object, **_: object) -> AWSResponse | None:
        sent.append(operation)
        if len(sent) > times:
            return None
        body = b'{"__type":"ThrottlingException","message":"Rate exceeded"}'
        return AWSResponse(getattr(request, "url", ""), 400,
                           {"Content-Type": "application/x-amz-json-1.1",
                            "x-amzn-ErrorType": "ThrottlingException"}, _Raw(body))

    glue.glue.meta.events.register(f"before-send.glue.{operation}", before_send)
    return sent


def test_throttled_glue_calls_are_made_again(glue: GlueApiCatalog, glue_db: str) -> None:
    """Three throttled sends in a row: the old code gave up after botocore's two attempts
    (Lakeforge's clients keep them at two so a dead endpoint fails fast) with a CatalogError
    for batch_create_partition and a raw ClientError from the get_partitions paginator; the
    catalog now backs off and calls again. moto never throttles: the 400s are sent in front of
    it (back-off shortened for the test)."""
    glue.throttle_base_delay_s = 0.01
    glue.create_database(glue_db)
    glue.create_or_update_table(TableSpec(glue_db, "t", [Column("a", "int")], "s3://b/t",
                                          [Column("dt", "string")]))
    from lakeforge.catalog import Partition

    sent = _throttle(glue, "BatchCreatePartition", 3)
    assert glue.add_partitions(glue_db, "t", [Partition(("1",), "s3://b/t/dt=1")]) == 1
    assert len(sent) == 4
    sent = _throttle(glue, "GetPartitions", 3)
    assert [p.values for p in glue.get_partitions(glue_db, "t")] == [("1",)]
    assert len(sent) == 4


def test_throttled_without_end_is_one_catalog_error(glue: GlueApiCatalog, glue_db: str) -> None:
    """A call throttled on every try ends, after ``throttle_attempts`` calls, in one
    CatalogError naming the call and how often it was throttled."""
    from lakeforge.catalog import CatalogError

    glue.throttle_base_delay_s = 0.01
    glue.throttle_attempts = 2
    glue.create_database(glue_db)
    _throttle(glue, "GetTables", 1000)
    with pytest.raises(CatalogError, match=rf"get_tables {glue_db} failed: throttled 2 times"):
        glue.list_tables(glue_db)


def test_new_partition_keys_drop_the_partitions_of_the_old_keys(
        glue: GlueApiCatalog, glue_db: str) -> None:
    """UpdateTable with other partition keys left the old code's table with partitions of one
    value under two keys (moto, like Glue, does not check), which Athena cannot read and the
    spark_sql backend never keeps (it re-creates the table). They are dropped; the table's
    partitions are then only those of the new keys."""
    from lakeforge.catalog import Partition

    glue.create_database(glue_db)
    spec = TableSpec(glue_db, "t", [Column("a", "int")], "s3://b/t", [Column("dt", "string")])
    glue.create_or_update_table(spec)
    glue.add_partitions(glue_db, "t", [Partition(("1",), "s3://b/t/dt=1"),
                                       Partition(("2",), "s3://b/t/dt=2")])
    glue.create_or_update_table(replace(spec, parameters={"k": "v"}))  # same keys: kept
    assert sorted(glue.list_partition_values(glue_db, "t")) == [("1",), ("2",)]
    two = replace(spec, partition_keys=[Column("dt", "string"), Column("shop", "string")])
    glue.create_or_update_table(two)
    assert glue.list_partition_values(glue_db, "t") == []
    glue.add_partitions(glue_db, "t", [Partition(("1", "a"), "s3://b/t/dt=1/shop=a")])
    assert glue.list_partition_values(glue_db, "t") == [("1", "a")]


@pytest.mark.parametrize("kind", ["iceberg", "view"])
def test_update_refuses_an_iceberg_table_or_a_view(glue: GlueApiCatalog, glue_db: str,
                                                    kind: str) -> None:
    """A publish or crawl to the name of an Iceberg table (Athena's, or lakeforge.formats')
    or a view: the old code's UpdateTable replaced it with a Hive Parquet table, so the
    Iceberg table lost its metadata_location (unreadable, its snapshots orphaned) and the view
    its SQL. Now one CatalogError and the table as it was. (Athena itself is not run.)"""
    from lakeforge.catalog import CatalogError

    glue.create_database(glue_db)
    if kind == "iceberg":
        table_input = {"Name": "t", "TableType": "EXTERNAL_TABLE",
                       "Parameters": {"table_type": "ICEBERG",
                                      "metadata_location": "s3://b/t/metadata/00001.json"},
                       "StorageDescriptor": {"Columns": [{"Name": "a", "Type": "int"}],
                                             "Location": "s3://b/t"}}
    else:
        table_input = {"Name": "t", "TableType": "VIRTUAL_VIEW",
                       "ViewOriginalText": "/* Presto View: e30= */",
                       "StorageDescriptor": {"Columns": [{"Name": "a", "Type": "int"}]}}
    glue.glue.create_table(DatabaseName=glue_db, TableInput=table_input)
    before = glue.glue.get_table(DatabaseName=glue_db, Name="t")["Table"]
    spec = TableSpec(glue_db, "t", [Column("a", "int")], "s3://b/t/_versions/v1")
    what = "an ICEBERG table" if kind == "iceberg" else "a view"
    with pytest.raises(CatalogError, match=f"{glue_db}.t is {what} in Glue"):
        glue.create_or_update_table(spec)
    after = glue.glue.get_table(DatabaseName=glue_db, Name="t")["Table"]
    assert after.get("Parameters") == before.get("Parameters")
    assert after.get("TableType") == before.get("TableType")


def test_drop_table_deletes_its_partitions_before_the_table(glue: GlueApiCatalog,
                                                            glue_db: str) -> None:
    """Glue's DeleteTable leaves a table's partitions to an asynchronous clean-up and
    documents deleting them first (BatchDeletePartition) for them to go at once; the old code
    only called delete_table. moto drops them with the table at once, so the test checks the
    calls Glue is sent: every partition, 25 per call, before the table."""
    from lakeforge.catalog import Partition

    glue.create_database(glue_db)
    glue.create_or_update_table(TableSpec(glue_db, "t", [Column("a", "int")], "s3://b/t",
                                          [Column("dt", "string")]))
    glue.add_partitions(glue_db, "t", [Partition((str(i),), f"s3://b/t/dt={i}")
                                       for i in range(30)])
    calls: list[tuple[str, int]] = []
    for op in ("batch_delete_partition", "delete_table"):
        original = getattr(glue.glue, op)

        def spy(_op: str = op, _fn: object = original, **kwargs: object) -> object:
            calls.append((_op, len(kwargs.get("PartitionsToDelete", []))))  # type: ignore[arg-type]
            return _fn(**kwargs)  # type: ignore[operator]

        setattr(glue.glue, op, spy)
    glue.drop_table(glue_db, "t")
    assert calls == [("batch_delete_partition", 25), ("batch_delete_partition", 5),
                     ("delete_table", 0)]
    assert glue.get_table(glue_db, "t") is None
    glue.drop_table(glue_db, "t")  # absent: nothing to do
