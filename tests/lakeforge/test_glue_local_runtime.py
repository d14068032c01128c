"""The awsglue-compatible runtime on the suite's SparkSession (``glue_context`` fixture of the
lakeforge_glue pytest plugin): choice types, readers and writers over the lake's s3 folder,
catalog registration, bookmarks, purge, and the errors of unimplemented Glue APIs."""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import Row
from pyspark.sql import types as T  # noqa: N812


def _lake_s3(glue_context: Any, bucket: str) -> Path:
    return Path(glue_context._runtime.s3_root()) / bucket


def _write_json(folder: Path, rows: list[Any], name: str = "part.json") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(r) if not isinstance(r, str) else r for r in rows]
    (folder / name).write_text("\n".join(lines) + "\n")


PRICES = [{"id": 1, "price": 100}, {"id": 2, "price": "$100"}, {"id": 3, "price": None},
          {"id": 4}, {"id": 5, "price": "12"}]


@pytest.fixture
def prices(glue_context: Any) -> Any:
    _write_json(_lake_s3(glue_context, "shop") / "prices", [*PRICES, "not json {"])
    return glue_context.create_dynamic_frame.from_options(
        connection_type="s3", connection_options={"paths": ["s3://shop/prices/"]},
        format="json")


def test_mixed_json_field_is_a_choice_struct_in_todf(prices: Any) -> None:
    df = prices.toDF()
    assert df.schema["price"].dataType.simpleString() == "struct<int:int,string:string>"
    assert prices.choices() == {"price": ("int", "string")}
    got = {r.id: (r.price.int, r.price.string) if r.price else None for r in df.collect()}
    # A number is in the int field, a string (even "12") in the string field; null and a
    # missing field give a struct of nulls.
    assert got == {1: (100, None), 2: (None, "$100"), 3: (None, None), 4: (None, None),
                   5: (None, "12")}


def test_unparseable_line_is_an_error_record_not_dropped(prices: Any) -> None:
    assert prices.count() == 5
    assert prices.errorsCount() == 1
    assert prices.errorsAsDynamicFrame().toDF().collect() == [Row(_corrupt_record="not json {")]


def test_resolve_choice_make_cols(prices: Any) -> None:
    df = prices.resolveChoice(specs=[("price", "make_cols")]).toDF()
    assert df.columns == ["id", "price_int", "price_string"]
    assert sorted(df.collect()) == [Row(1, 100, None), Row(2, None, "$100"), Row(3, None, None),
                                    Row(4, None, None), Row(5, None, "12")]


def test_resolve_choice_cast_long_converts_every_member(prices: Any) -> None:
    from awsglue.transforms import ResolveChoice

    out = ResolveChoice.apply(frame=prices, specs=[("price", "cast:long")])
    df = out.toDF()
    assert df.schema["price"].dataType == T.LongType()
    assert dict(df.collect()) == {1: 100, 2: None, 3: None, 4: None, 5: 12}
    assert out.choices() == {}


def test_resolve_choice_project_string_and_refused_member(prices: Any) -> None:
    from lakeforge.glue_local.choice import ChoiceResolutionError

    df = prices.resolveChoice(specs=[("price", "project:string")]).toDF()
    assert dict(df.collect()) == {1: "100", 2: "$100", 3: None, 4: None, 5: "12"}
    with pytest.raises(ChoiceResolutionError, match="project takes one of the choice's types"):
        prices.resolveChoice(specs=[("price", "project:double")])


def test_resolve_choice_make_struct_keeps_the_struct_and_ends_the_choice(prices: Any) -> None:
    out = prices.resolveChoice(choice="make_struct")
    assert out.choices() == {}
    assert out.toDF().schema == prices.toDF().schema


def test_resolve_choice_bad_action_and_specs_with_choice(prices: Any) -> None:
    from lakeforge.glue_local.choice import ChoiceResolutionError

    with pytest.raises(ChoiceResolutionError, match="is not one of cast"):
        prices.resolveChoice(specs=[("price", "flatten")])
    with pytest.raises(ChoiceResolutionError, match="specs or choice"):
        prices.resolveChoice(specs=[("price", "make_cols")], choice="make_struct")


def test_resolve_choice_match_catalog(glue_context: Any, prices: Any) -> None:
    from lakeforge.catalog import Column, TableSpec

    catalog = glue_context._runtime.catalog
    db = f"glue_mc_{uuid.uuid4().hex[:6]}"
    catalog.create_database(db)
    catalog.create_or_update_table(TableSpec(
        db, "prices", [Column("id", "bigint"), Column("price", "double")],
        str(_lake_s3(glue_context, "shop") / "prices"), format="json"))
    df = prices.resolveChoice(choice="match_catalog", database=db, table_name="prices").toDF()
    assert df.schema["price"].dataType == T.DoubleType()
    assert dict(df.collect())[5] == 12.0


def test_choice_survives_other_transforms_and_apply_mapping_casts_it(prices: Any) -> None:
    from awsglue.transforms import ApplyMapping, RenameField

    renamed = RenameField.apply(frame=prices, old_name="price", new_name="cost")
    assert renamed.choices() == {"cost": ("int", "string")}
    mapped = ApplyMapping.apply(frame=renamed, mappings=[("id", "long", "id", "int"),
                                                        ("cost", "string", "cost", "long")])
    assert mapped.toDF().schema.simpleString() == "struct<id:int,cost:bigint>"
    assert dict(mapped.toDF().collect()) == {1: 100, 2: None, 3: None, 4: None, 5: 12}


def test_csv_values_typed_per_record_and_header_options(glue_context: Any) -> None:
    folder = _lake_s3(glue_context, "shop") / "csv"
    folder.mkdir(parents=True)
    (folder / "a.csv").write_text("Provider Id;amount;note\n1;2.5;a\nX7;3;\n")
    dyf = glue_context.create_dynamic_frame.from_options(
        "s3", {"paths": ["s3://shop/csv"]}, format="csv",
        format_options={"withHeader": True, "separator": ";"})
    assert dyf.choices() == {"Provider Id": ("long", "string"), "amount": ("long", "double")}
    rows = dyf.resolveChoice(specs=[("Provider Id", "make_cols")]).toDF().collect()
    assert [(r["Provider Id_long"], r["Provider Id_string"]) for r in rows] == [(1, None),
                                                                              (None, "X7")]
    no_header = glue_context.create_dynamic_frame.from_options(
        "s3", {"paths": ["s3://shop/csv"]}, format="csv", format_options={"separator": ";"})
    assert no_header.toDF().columns == ["col0", "col1", "col2"]
    assert no_header.count() == 3



def test_csv_blank_value_in_a_number_column_is_null_on_both_spark_lines(
        glue_context: Any) -> None:
    """A whitespace-only value is no value: the column stays long, the blank becomes null
    (Spark 4.1's ANSI cast would raise CAST_INVALID_INPUT on it; 3.5's gave null)."""
    folder = _lake_s3(glue_context, "shop") / "csv_blank"
    folder.mkdir(parents=True)
    (folder / "a.csv").write_text("id,qty\n1, 7 \n2,   \n3,\n")
    dyf = glue_context.create_dynamic_frame.from_options(
        "s3", {"paths": ["s3://shop/csv_blank"]}, format="csv",
        format_options={"withHeader": True})
    df = dyf.toDF()
    assert dyf.choices() == {}
    assert df.schema["qty"].dataType == T.LongType()
    assert sorted(df.collect()) == [Row(id=1, qty=7), Row(id=2, qty=None), Row(id=3, qty=None)]

def test_plain_spark_and_glue_writers_share_the_s3_mapping(glue_context: Any, spark: Any
                                                          ) -> None:
    runtime = glue_context._runtime
    runtime.map_buckets(["out-bucket"])
    spark.createDataFrame([(1, "a"), (2, None)], "id int, v string").write.parquet(
        "s3://out-bucket/plain/t1")
    assert (Path(runtime.s3_root()) / "out-bucket/plain/t1/_SUCCESS").is_file()
    dyf = glue_context.create_dynamic_frame.from_options(
        "s3", {"paths": ["s3://out-bucket/plain/t1"]}, format="parquet")
    glue_context.write_dynamic_frame.from_options(
        frame=dyf, connection_type="s3", format="json",
        connection_options={"path": "s3://out-bucket/json/t1", "partitionKeys": ["id"]})
    assert sorted(p.name for p in (Path(runtime.s3_root()) / "out-bucket/json/t1").iterdir()
                  if p.is_dir()) == ["id=1", "id=2"]
    back = spark.read.json("s3://out-bucket/json/t1")
    assert sorted(back.collect(), key=lambda r: r.id) == [Row(v="a", id=1), Row(v=None, id=2)]


def test_unmapped_bucket_fails_in_hadoop_naming_it(glue_context: Any, spark: Any) -> None:
    glue_context._runtime.map_buckets(["known"])
    with pytest.raises(Exception, match="never-mapped"):
        spark.read.parquet("s3://never-mapped/x").count()


def test_write_with_update_catalog_registers_a_readable_table(glue_context: Any, spark: Any
                                                             ) -> None:
    db = f"glue_w_{uuid.uuid4().hex[:6]}"
    df = spark.createDataFrame([(1, "GB"), (2, "FR"), (3, "GB")], "id int, country string")
    dyf = glue_context.create_dynamic_frame_from_rdd(df.rdd, "x", df.schema)
    sink = glue_context.getSink(connection_type="s3", path="s3://wh/orders",
                                enableUpdateCatalog=True, partitionKeys=["country"])
    sink.setFormat("glueparquet")
    sink.setCatalogInfo(catalogDatabase=db, catalogTableName="orders")
    sink.writeFrame(dyf)
    spec = glue_context._runtime.catalog.get_table(db, "orders")
    assert [k.name for k in spec.partition_keys] == ["country"]
    assert sorted(spark.table(f"{db}.orders").collect()) == sorted(
        [Row(id=1, country="GB"), Row(id=2, country="FR"), Row(id=3, country="GB")])
    back = glue_context.create_dynamic_frame.from_catalog(
        database=db, table_name="orders", push_down_predicate="country = 'GB'")
    assert sorted(back.toDF().collect()) == [Row(id=1, country="GB"), Row(id=3, country="GB")]


def test_write_from_catalog_publishes_and_reads_back(glue_context: Any, spark: Any) -> None:
    db = f"glue_p_{uuid.uuid4().hex[:6]}"
    df = spark.createDataFrame([(1, "a"), (2, None)], "id int, v string")
    dyf = glue_context.create_dynamic_frame_from_rdd(df.rdd, "x", df.schema)
    glue_context.write_dynamic_frame.from_catalog(frame=dyf, database=db, table_name="t")
    glue_context.write_dynamic_frame.from_catalog(frame=dyf, database=db, table_name="t")
    spec = glue_context._runtime.catalog.get_table(db, "t")
    assert "lakeforge.version" in spec.parameters
    assert spark.table(f"{db}.t").count() == 4  # two appends
    assert glue_context.create_data_frame.from_catalog(database=db, table_name="t").count() == 4


def _pipe_csv_table(glue_context: Any) -> tuple[Any, str, Path]:
    """A crawled-style table: pipe-delimited CSV without a header row, with parameters."""
    from lakeforge.catalog import Column, TableSpec

    folder = _lake_s3(glue_context, "raw") / "people"
    folder.mkdir(parents=True)
    (folder / "part1.csv").write_text("1|alice|30\n2|bob|40\n")
    catalog = glue_context._runtime.catalog
    db = f"glue_cw_{uuid.uuid4().hex[:6]}"
    catalog.create_database(db)
    catalog.create_or_update_table(TableSpec(
        db, "people", [Column("id", "bigint"), Column("name", "string"), Column("age", "bigint")],
        str(folder), format="csv", csv_delimiter="|", csv_header=False,
        parameters={"classification": "csv", "UPDATED_BY_CRAWLER": "c1"}))
    return catalog, db, folder


def test_write_from_catalog_keeps_crawled_csv_definition(glue_context: Any, spark: Any
                                                         ) -> None:
    from awsglue.dynamicframe import DynamicFrame

    catalog, db, folder = _pipe_csv_table(glue_context)
    before = catalog.get_table(db, "people")
    # The frame's columns in another order and case: written in the table's order.
    new = DynamicFrame.fromDF(spark.createDataFrame([("carol", 50, 3)],
                                                    "NAME string, age long, id long"),
                              glue_context, "n")
    glue_context.write_dynamic_frame.from_catalog(frame=new, database=db, table_name="people")
    assert catalog.get_table(db, "people") == before
    back = glue_context.create_dynamic_frame.from_catalog(database=db, table_name="people")
    assert sorted(back.toDF().collect()) == [Row(id=1, name="alice", age=30),
                                             Row(id=2, name="bob", age=40),
                                             Row(id=3, name="carol", age=50)]


def test_write_from_catalog_updates_schema_only_when_asked(glue_context: Any, spark: Any
                                                          ) -> None:
    from awsglue.dynamicframe import DynamicFrame

    catalog, db, _ = _pipe_csv_table(glue_context)
    before = catalog.get_table(db, "people")
    df = spark.createDataFrame([(3, "carol", 50, "x")], "id long, name string, age long, t string")
    new = DynamicFrame.fromDF(df, glue_context, "n")
    glue_context.write_dynamic_frame.from_catalog(
        frame=new, database=db, table_name="people",
        additional_options={"enableUpdateCatalog": True, "updateBehavior": "LOG"})
    assert catalog.get_table(db, "people") == before
    glue_context.write_dynamic_frame.from_catalog(
        frame=new, database=db, table_name="people",
        additional_options={"enableUpdateCatalog": True})
    after = catalog.get_table(db, "people")
    assert [(c.name, c.type) for c in after.columns] == [
        ("id", "bigint"), ("name", "string"), ("age", "bigint"), ("t", "string")]
    assert (after.csv_delimiter, after.csv_header, after.format) == ("|", False, "csv")
    assert after.parameters == before.parameters
    with pytest.raises(ValueError, match="updateBehavior 'MERGE'"):
        glue_context.write_dynamic_frame.from_catalog(
            frame=new, database=db, table_name="people",
            additional_options={"enableUpdateCatalog": True, "updateBehavior": "MERGE"})


def test_from_catalog_of_a_missing_table_says_crawl_or_publish(glue_context: Any) -> None:
    from lakeforge.catalog import TableNotFoundError

    with pytest.raises(TableNotFoundError, match="crawl or publish it first"):
        glue_context.create_dynamic_frame.from_catalog(database="nope", table_name="nothing")


def test_crawled_csv_header_with_space_is_read_by_catalog_name(glue_context: Any) -> None:
    """The crawler records 'Provider Id' as 'provider id'; a Glue script selects it so."""
    from lakeforge.crawler import crawl

    folder = _lake_s3(glue_context, "medicare") / "inpatient"
    folder.mkdir(parents=True)
    (folder / "data.csv").write_text(
        "DRG Definition,Provider Id,Average Covered Charges\n"
        "039 - EXTRACRANIAL,10001,32963.07\n039 - EXTRACRANIAL,ABC,15131.85\n")
    db = f"glue_c_{uuid.uuid4().hex[:6]}"
    catalog = glue_context._runtime.catalog
    catalog.create_database(db)
    crawl(str(folder), database=db, catalog=catalog)
    spec = catalog.get_table(db, "inpatient")
    assert [c.name for c in spec.columns] == ["drg definition", "provider id",
                                              "average covered charges"]
    assert "`provider id` string" in catalog.show_create_table(db, "inpatient")
    dyf = glue_context.create_dynamic_frame.from_catalog(database=db, table_name="inpatient")
    assert dyf.choices() == {"provider id": ("long", "string")}
    out = dyf.resolveChoice(specs=[("provider id", "cast:long")]).select_fields(
        ["provider id"]).toDF()
    assert sorted(out.collect(), key=str) == [Row(**{"provider id": 10001}),
                                              Row(**{"provider id": None})]


def test_purge_s3_path_respects_retention(glue_context: Any) -> None:
    folder = _lake_s3(glue_context, "tmpb") / "stage"
    folder.mkdir(parents=True)
    old, new = folder / "old.txt", folder / "new.txt"
    old.write_text("x")
    new.write_text("y")
    two_days_ago = time.time() - 48 * 3600
    os.utime(old, (two_days_ago, two_days_ago))
    glue_context.purge_s3_path("s3://tmpb/stage", {"retentionPeriod": 24})
    assert not old.exists() and new.exists()
    glue_context.purge_s3_path("s3://tmpb/stage", {"retentionPeriod": 0})
    assert not new.exists()


def test_unimplemented_apis_name_themselves(glue_context: Any, prices: Any) -> None:
    from lakeforge.glue_local.errors import GlueApiNotImplementedError

    with pytest.raises(GlueApiNotImplementedError, match="GlueContext.forEachBatch"):
        glue_context.forEachBatch(prices, lambda df, i: None)
    with pytest.raises(GlueApiNotImplementedError, match="DynamicFrame.simplify_ddb_json"):
        prices.simplify_ddb_json()
    with pytest.raises(GlueApiNotImplementedError, match="connection_type='dynamodb'"):
        glue_context.create_dynamic_frame.from_options("dynamodb", {"tableName": "t"})
    with pytest.raises(GlueApiNotImplementedError, match="from_jdbc_conf"):
        glue_context.write_dynamic_frame.from_jdbc_conf(prices, "redshift3", {"dbtable": "t"})
    with pytest.raises(GlueApiNotImplementedError, match="manifestFilePath"):
        glue_context.purge_s3_path("s3://shop/prices", {"manifestFilePath": "s3://m/"})


def test_jdbc_sink_writes_through_spark_jdbc_to_derby_standing_in_for_postgres(
        glue_context: Any, spark: Any, tmp_path: Path) -> None:
    url = f"jdbc:derby:{tmp_path / 'db'};create=true"
    df = spark.createDataFrame([(1, "John")], "customerId int, firstname string")
    glue_context.write_dynamic_frame.from_options(
        frame=glue_context.create_dynamic_frame_from_rdd(df.rdd, "c", df.schema),
        connection_type="postgresql", connection_options={"url": url, "dbtable": "customer"})
    back = spark.read.jdbc(url, "customer")
    assert back.collect() == [Row(CUSTOMERID=1, FIRSTNAME="John")]


def test_job_bookmark_reads_only_new_files_after_commit(glue_context: Any) -> None:
    from awsglue.job import Job

    folder = _lake_s3(glue_context, "bm") / "in"
    _write_json(folder, [{"a": 1}], "one.json")
    args = {"job_bookmark_option": "job-bookmark-enable"}

    def run() -> int:
        job = Job(glue_context)
        job.init("bookmarked", args)
        dyf = glue_context.create_dynamic_frame.from_options(
            "s3", {"paths": ["s3://bm/in"]}, format="json", transformation_ctx="src")
        count = dyf.count()
        job.commit()
        return count

    assert run() == 1
    assert run() == 0  # nothing new: an empty frame
    _write_json(folder, [{"a": 2}, {"a": 3}], "two.json")
    assert run() == 2
    job = Job(glue_context)
    with pytest.raises(RuntimeError, match="before Job.init"):
        job.commit()


def test_dynamic_frame_filter_map_union_split_and_collection(glue_context: Any, spark: Any
                                                            ) -> None:
    from awsglue.dynamicframe import DynamicFrame
    from awsglue.transforms import Filter, Map, SelectFromCollection, SplitRows

    df = spark.createDataFrame([(1, "a"), (2, None), (3, "c")], "n int, s string")
    dyf = DynamicFrame.fromDF(df, glue_context, "d")
    assert sorted(r.n for r in Filter.apply(frame=dyf, f=lambda r: r["n"] > 1).toDF()
                  .collect()) == [2, 3]
    mapped = Map.apply(frame=dyf, f=lambda r: {"n2": r["n"] * 2, "s": r["s"]})
    assert sorted(r.n2 for r in mapped.toDF().collect()) == [2, 4, 6]
    assert dyf.union(dyf).count() == 6
    parts = SplitRows.apply(frame=dyf, comparison_dict={"n": {">": 1}}, name1="big",
                            name2="small")
    assert sorted(parts.keys()) == ["big", "small"]
    assert SelectFromCollection.apply(dfc=parts, key="big").count() == 2
    # As awsglue: a key the collection lacks selects an empty frame of that name.
    missing = parts.select("nope")
    assert (missing.name, missing.count(), missing.toDF().columns) == ("nope", 0, [])
    empty = DynamicFrame.fromDF(spark.createDataFrame([], "n int"), glue_context, "e")
    assert empty.count() == 0 and empty.union(dyf).count() == 3


def test_awsgluedq_evaluate_data_quality_on_a_dynamic_frame(glue_context: Any, spark: Any
                                                           ) -> None:
    from awsglue.dynamicframe import DynamicFrame, DynamicFrameCollection
    from awsgluedq.transforms import EvaluateDataQuality

    df = spark.createDataFrame([(1, "a"), (2, None)], "id int, v string")
    dyf = DynamicFrame.fromDF(df, glue_context, "d")
    out = EvaluateDataQuality().process_rows(
        frame=dyf, ruleset='Rules = [ IsComplete "id", IsComplete "v" ]')
    assert isinstance(out, DynamicFrameCollection)
    assert sorted(out.keys()) == ["originalData", "rowLevelOutcomes", "ruleOutcomes"]
    outcomes = {r["Rule"]: r["Outcome"] for r in out.select("ruleOutcomes").toDF().collect()}
    assert outcomes == {'IsComplete "id"': "Passed", 'IsComplete "v"': "Failed"}


def test_filter_drops_records_whose_predicate_raises_key_value_or_type_error(
        glue_context: Any, spark: Any) -> None:
    from awsglue.dynamicframe import DynamicFrame

    df = spark.createDataFrame([(1, None), (2, 40), (3, 20)], "id int, age int")
    dyf = DynamicFrame.fromDF(df, glue_context, "people")
    older = dyf.filter(lambda r: r["age"] > 30)  # None > 30: TypeError -> dropped
    assert older.toDF().collect() == [Row(id=2, age=40)]
    assert older.toDF().schema == df.schema
    assert dyf.filter(lambda r: r["missing"] == 1).count() == 0  # KeyError -> dropped
    assert dyf.filter(lambda r: int("x" if r["id"] == 3 else "1")).count() == 2  # ValueError
    assert older.errorsCount() == 0


def test_filter_other_exception_is_an_error_record_not_a_crash(glue_context: Any, spark: Any
                                                               ) -> None:
    from awsglue.dynamicframe import DynamicFrame

    df = spark.createDataFrame([(1, 2), (2, 0), (3, 1)], "id int, d int")
    dyf = DynamicFrame.fromDF(df, glue_context, "ratios")
    out = dyf.filter(lambda r: 6 / r["d"] > 2)
    assert sorted(out.toDF().collect()) == [Row(id=1, d=2), Row(id=3, d=1)]
    assert (out.errorsCount(), out.stageErrorsCount()) == (1, 1)
    assert out.errorsAsDynamicFrame().toDF().collect() == [
        Row(_corrupt_record='{"id": 2, "d": 0}', errorMessage="division by zero")]
    later = out.select_fields(["id"])
    assert (later.errorsCount(), later.stageErrorsCount()) == (1, 0)


def test_map_keeps_types_and_order_and_counts_errors(glue_context: Any, spark: Any) -> None:
    import datetime
    from decimal import Decimal

    from awsglue.dynamicframe import DynamicFrame

    df = spark.createDataFrame(
        [(1, 30, datetime.date(2024, 1, 2), Decimal("1.50"), "ann"),
         (2, None, None, None, None), (3, 5, datetime.date(2024, 3, 4), Decimal("2.00"), "x")],
        "zid int, age int, d date, amt decimal(10,2), name string")
    dyf = DynamicFrame.fromDF(df, glue_context, "t")

    def upper(r: dict[str, Any]) -> dict[str, Any]:
        r["name"] = r["name"] and r["name"].upper()
        return r

    same = dyf.map(upper)
    assert same.toDF().schema == df.schema
    assert sorted(same.toDF().collect())[0] == Row(zid=1, age=30, d=datetime.date(2024, 1, 2),
                                                  amt=Decimal("1.50"), name="ANN")
    assert same.errorsCount() == 0

    def fail_on_two(r: dict[str, Any]) -> dict[str, Any] | None:
        if r["zid"] == 2:
            raise RuntimeError("bad")
        return None if r["zid"] == 3 else r

    failed = dyf.map(fail_on_two)
    assert failed.count() == 1 and failed.toDF().schema == df.schema
    assert failed.errorsCount() == 2 and failed.stageErrorsCount() == 2
    messages = sorted(r.errorMessage for r in failed.errorsAsDynamicFrame().toDF().collect())
    assert messages == ["User-specified function returned None instead of DynamicRecord", "bad"]

    def retype(r: dict[str, Any]) -> dict[str, Any]:
        r["age"] = "n/a" if r["age"] is None else r["age"]  # int and text: the field is text
        r["flag"] = r["zid"] > 1
        del r["d"]
        return r

    changed = dyf.map(retype).toDF()
    assert changed.schema.simpleString() == (
        "struct<zid:int,age:string,amt:decimal(10,2),name:string,flag:boolean>")
    assert sorted((r.zid, r.age, r.flag) for r in changed.collect()) == [
        (1, "30", False), (2, "n/a", True), (3, "5", True)]


def test_from_options_recurse_and_exclusions(glue_context: Any,
                                             caplog: pytest.LogCaptureFixture) -> None:
    from awsglue.job import Job

    from lakeforge.glue_local.errors import GlueApiNotImplementedError

    root = _lake_s3(glue_context, "raw") / "ev"
    _write_json(root, [{"id": 1}], "a.json")
    _write_json(root, [{"id": 9}], "skip.csv")  # JSON lines in a .csv: only a glob skips it
    _write_json(root / "2024", [{"id": 8}], "c.csv")
    _write_json(root / "2024" / "01", [{"id": 2}], "b.json")

    def ids(ctx: str = "", path: str = "s3://raw/ev/", **options: Any) -> list[int]:
        dyf = glue_context.create_dynamic_frame.from_options(
            "s3", {"paths": [path], **options}, format="json",
            transformation_ctx=ctx)
        return sorted(r.id for r in dyf.toDF().collect())

    assert ids() == [1, 9]
    assert ids(recurse=True) == [1, 2, 8, 9]
    assert ids(recurse=True, exclusions='["**.csv"]') == [1, 2]
    assert ids(recurse=True, exclusions=["2024/*"]) == [1, 2, 9]  # * stays in one folder
    assert ids(exclusions=["s3://raw/ev/a.*"]) == [9]
    # a path naming one object reads that object, recurse or not; a glob can still exclude it
    assert ids(path="s3://raw/ev/2024/c.csv") == [8]
    assert ids(path="s3://raw/ev/2024/c.csv", recurse=True) == [8]
    assert ids(path="s3://raw/ev/2024/c.csv", exclusions=["*.csv"]) == []
    job = Job(glue_context)
    job.init("recursing", {"job_bookmark_option": "job-bookmark-enable"})
    assert ids("src", recurse=True, exclusions='["**.csv"]') == [1, 2]
    assert ids("src2") == [1, 9]
    with caplog.at_level("WARNING", logger="lakeforge.glue_local.context"):
        assert ids(recursive=True) == [1, 9]
    assert "'recursive' is not an S3 source option" in caplog.text
    with pytest.raises(GlueApiNotImplementedError, match=r"\['isFailFast'\]"):
        ids(isFailFast=True)
    with pytest.raises(ValueError, match="'exclusions' '\\*\\*.csv' is not a JSON list"):
        ids(exclusions="**.csv")


def test_apply_mapping_case_insensitive_by_default(glue_context: Any, spark: Any) -> None:
    from awsglue.dynamicframe import DynamicFrame
    from awsglue.transforms import ApplyMapping

    from lakeforge.errors import MissingColumnsError
    from lakeforge.glue_local.errors import GlueApiNotImplementedError

    df = spark.createDataFrame([(1, "a"), (None, None)], "zid int, name string")
    dyf = DynamicFrame.fromDF(df, glue_context, "t")
    out = dyf.apply_mapping([("ZID", "int", "id", "long"), ("Name", "string", "name", "string")])
    assert out.toDF().schema.simpleString() == "struct<id:bigint,name:string>"
    assert out.toDF().collect() == [Row(id=1, name="a"), Row(id=None, name=None)]
    assert dyf.apply_mapping(("zid", "int", "id", "long")).toDF().columns == ["id"]
    assert ApplyMapping.apply(frame=dyf, mappings=[("NAME", "string", "n", "string")]
                              ).toDF().columns == ["n"]
    with pytest.raises(MissingColumnsError, match="ZID"):
        dyf.apply_mapping([("ZID", "int", "id", "long")], case_sensitive=True)
    with pytest.raises(GlueApiNotImplementedError, match="2-tuple"):
        dyf.apply_mapping([("zid", "id")])
    with pytest.raises(ValueError, match="length 2, 3, or 4"):
        dyf.apply_mapping([("zid", "int", "id", "long", "x")])
    with pytest.raises(TypeError, match="must be a tuple"):
        dyf.apply_mapping([["zid", "int", "id", "long"]])


def test_apply_mapping_finds_a_choice_column_ignoring_case(prices: Any) -> None:
    mapped = prices.apply_mapping([("ID", "int", "id", "int"), ("PRICE", "string", "p", "long")])
    assert dict(mapped.toDF().collect()) == {1: 100, 2: None, 3: None, 4: None, 5: 12}


def test_make_cols_on_non_choice_is_noop(glue_context: Any, spark: Any) -> None:
    from awsglue.dynamicframe import DynamicFrame
    from awsglue.transforms import ResolveChoice

    from lakeforge.errors import MissingColumnsError

    df = spark.createDataFrame([(1, 10, "a"), (2, None, None)],
                               "id long, price long, name string")
    dyf = DynamicFrame.fromDF(df, glue_context, "t")
    for action in ("make_cols", "make_struct"):
        out = dyf.resolveChoice(specs=[("price", action), ("name", action)]).toDF()
        assert out.schema == df.schema and sorted(out.collect()) == sorted(df.collect())
        assert ResolveChoice.apply(frame=dyf, specs=[("price", action)]).toDF().schema == \
            df.schema
    cast = dyf.resolveChoice(specs=[("price", "cast:string")]).toDF()
    assert cast.schema["price"].dataType == T.StringType()
    with pytest.raises(MissingColumnsError, match="nope"):
        dyf.resolveChoice(specs=[("nope", "make_cols")])
