"""DynamicFrame and DynamicFrameCollection call conventions as awsglue has them: one path given
as a string, one resolveChoice spec given as a tuple, collections built from lists, selecting a
key a collection lacks, map / flatmap results, and the names frames carry (the default names
of SplitFields' frames come from them)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from pyspark.sql import Row


def _frame(glue_context: Any, spark: Any, name: str = "src") -> Any:
    from awsglue.dynamicframe import DynamicFrame

    df = spark.createDataFrame([(1, "a", "x"), (2, "b", "y")], "id long, name string, v string")
    return DynamicFrame.fromDF(df, glue_context, name)


def test_one_path_given_as_a_string_is_one_path(glue_context: Any, spark: Any) -> None:
    from awsglue.dynamicframe import DynamicFrame
    from awsglue.transforms import DropFields, SelectFields, SplitFields

    dyf = _frame(glue_context, spark)
    # awsglue wraps a lone string in a list; list("name") would be the paths n, a, m, e.
    assert dyf.drop_fields("name").toDF().columns == ["id", "v"]
    assert DropFields.apply(frame=dyf, paths="name").toDF().columns == ["id", "v"]
    assert dyf.select_fields("name").toDF().columns == ["name"]
    assert SelectFields.apply(frame=dyf, paths="name").toDF().columns == ["name"]
    parts = dyf.split_fields("name", "picked", "rest")
    assert parts["picked"].toDF().columns == ["name"]
    assert SplitFields.apply(frame=dyf, paths="v", name1="p", name2="r")["r"].toDF().columns == [
        "id", "name"]
    stage = DynamicFrame.fromDF(spark.createDataFrame([(2, "B", "z")], dyf.toDF().schema),
                                glue_context, "stage")
    merged = dyf.mergeDynamicFrame(stage, "id")
    assert sorted(merged.toDF().collect()) == [Row(1, "a", "x"), Row(2, "B", "z")]


def test_resolve_choice_takes_one_spec_pair_as_a_tuple(glue_context: Any, spark: Any) -> None:
    from awsglue.transforms import ResolveChoice

    dyf = _frame(glue_context, spark)
    out = dyf.resolveChoice(specs=("id", "cast:string"))
    assert out.toDF().dtypes[0] == ("id", "string")
    out = ResolveChoice.apply(frame=dyf, specs=("id", "cast:int"))
    assert out.toDF().dtypes[0] == ("id", "int")


def test_collection_of_a_list_keys_frames_by_name(glue_context: Any, spark: Any) -> None:
    from awsglue.dynamicframe import DynamicFrameCollection

    a, b = _frame(glue_context, spark, "a"), _frame(glue_context, spark, "b")
    dfc = DynamicFrameCollection([a, b], glue_context)
    assert sorted(dfc.keys()) == ["a", "b"]
    assert dfc.select("b") is b


def test_collection_map_and_flatmap_follow_awsglue(glue_context: Any, spark: Any) -> None:
    import pytest
    from awsglue.dynamicframe import DynamicFrameCollection

    dyf = _frame(glue_context, spark)
    dfc = DynamicFrameCollection({"k": dyf}, glue_context)
    seen: list[str] = []

    def keep(frame: Any, ctx: str) -> Any:
        seen.append(ctx)
        return frame.drop_fields(["v"])

    assert dfc.map(keep, "m")["k"].toDF().columns == ["id", "name"]
    assert seen == ["m:k"]
    with pytest.raises(TypeError, match="must return a DynamicFrame; for 'k' it returned int"):
        dfc.map(lambda frame, ctx: 1)
    # flatmap keys a frame by its name and a collection's frames by their keys (unprefixed).
    renamed = dfc.flatmap(lambda frame, ctx: frame.split_fields(["id"], "ids", "others"))
    assert sorted(renamed.keys()) == ["ids", "others"]
    assert sorted(dfc.flatmap(lambda frame, ctx: frame).keys()) == ["src"]


def test_frames_keep_glue_names_through_transforms(glue_context: Any, spark: Any) -> None:
    from awsglue.dynamicframe import DynamicFrame
    from awsglue.transforms import DropFields, SplitFields

    folder = Path(glue_context._runtime.s3_root()) / "shop" / "prices"
    folder.mkdir(parents=True)
    (folder / "a.json").write_text(json.dumps({"id": 1, "v": "x"}) + "\n")
    read = glue_context.create_dynamic_frame.from_options(
        connection_type="s3", connection_options={"paths": ["s3://shop/prices/"]},
        format="json", transformation_ctx="read_ctx")
    # Glue names an S3 source by its paths' common prefix without scheme, ':', '/' and '.'.
    assert read.name == "shopprices"
    # A transform's transformation_ctx does not rename the frame.
    assert read.drop_fields(["v"], transformation_ctx="drop_ctx").name == "shopprices"
    assert DropFields.apply(frame=read, paths=["v"], transformation_ctx="d").name == "shopprices"
    # SplitFields without names: the frame's name + "1" / "2" (not its transformation_ctx).
    parts = SplitFields.apply(frame=read, paths=["id"], transformation_ctx="split_ctx")
    assert sorted(parts.keys()) == ["shopprices1", "shopprices2"]
    other = DynamicFrame.fromDF(spark.createDataFrame([(1, 5)], "id long, w long"),
                                glue_context, "other")
    assert read.join(["id"], ["id"], other).name == "shoppricesother"

    db = f"glue_n_{uuid.uuid4().hex[:6]}"
    glue_context.write_dynamic_frame.from_catalog(frame=other, database=db, table_name="t")
    back = glue_context.create_dynamic_frame.from_catalog(database=db, table_name="t",
                                                          transformation_ctx="cat_ctx")
    assert back.name == "t"
    assert back.toDF().collect() == [Row(id=1, w=5)]


def test_write_compresses_by_the_compression_connection_option(glue_context: Any,
                                                              spark: Any) -> None:
    """Glue Studio puts the S3 sink's compression in connection_options ("gzip" / "bzip")."""
    dyf = _frame(glue_context, spark)
    root = Path(glue_context._runtime.s3_root()) / "out"
    for fmt, codec, suffix in (("csv", "gzip", ".csv.gz"), ("json", "bzip", ".json.bz2")):
        glue_context.write_dynamic_frame.from_options(
            frame=dyf, connection_type="s3", format=fmt,
            connection_options={"path": f"s3://out/{fmt}/", "compression": codec,
                                "partitionKeys": []})
        files = [p.name for p in (root / fmt).iterdir() if p.name.startswith("part-")]
        assert files and all(f.endswith(suffix) for f in files), files
    back = glue_context.create_dynamic_frame.from_options(
        connection_type="s3", connection_options={"paths": ["s3://out/json/"]}, format="json")
    assert sorted(r.id for r in back.toDF().collect()) == [1, 2]


def test_csv_quote_char_minus_one_turns_quoting_off(glue_context: Any, spark: Any) -> None:
    """Glue's CSV quoteChar -1 (Glue Studio's "disabled") reads and writes quotes as data."""
    root = Path(glue_context._runtime.s3_root())
    (root / "in" / "q").mkdir(parents=True)
    (root / "in" / "q" / "a.csv").write_text('id|name\n1|say "hi"\n2|"quoted"\n')
    fo = {"withHeader": True, "separator": "|", "quoteChar": -1}
    dyf = glue_context.create_dynamic_frame.from_options(
        connection_type="s3", connection_options={"paths": ["s3://in/q/"]}, format="csv",
        format_options=fo)
    assert sorted(dyf.toDF().collect()) == [Row(id=1, name='say "hi"'), Row(id=2, name='"quoted"')]
    glue_context.write_dynamic_frame.from_options(
        frame=dyf, connection_type="s3", connection_options={"path": "s3://out/q/"},
        format="csv", format_options={"quoteChar": -1, "separator": "|"})
    lines = sorted(line for p in (root / "out" / "q").glob("part-*")
                   for line in p.read_text().splitlines())
    assert lines == ['1|say "hi"', '2|"quoted"', "id|name"]


def test_job_takes_a_spark_session_as_awsglue_does(glue_context: Any, spark: Any) -> None:
    import pytest
    from awsglue.job import Job

    job = Job(spark)
    job.init("plain_spark_job", {"job_bookmark_option": "job-bookmark-disable"})
    assert job.isInitialized()
    assert job.commit() is False  # no bookmark to advance
    assert glue_context._runtime.bookmarks is None
    with pytest.raises(TypeError, match="cannot init a Job given a int"):
        Job(42)


def test_writers_refuse_a_dataframe_as_awsglue_does(glue_context: Any, spark: Any) -> None:
    """awsglue's write_from_options raises TypeError for a frame that is no DynamicFrame; a
    DataFrame passed by mistake failed in Spark's toDF ('number of columns doesn't match')."""
    import pytest

    df = spark.createDataFrame([(1, "a")], "id long, v string")
    with pytest.raises(TypeError, match="write_dynamic_frame.from_options: frame must be a "
                                        "DynamicFrame, got DataFrame"):
        glue_context.write_dynamic_frame.from_options(
            frame=df, connection_type="s3", connection_options={"path": "s3://o/x/"},
            format="json")
    with pytest.raises(TypeError, match="write_dynamic_frame.from_catalog: frame must be"):
        glue_context.write_dynamic_frame.from_catalog(frame=df, database="db", table_name="t")
    assert not (Path(glue_context._runtime.s3_root()) / "o").exists()


def test_dynamic_record_fields_are_attributes_as_in_awsglue(glue_context: Any, spark: Any
                                                            ) -> None:
    """awsglue's DynamicRecord: rec.age reads a field, rec.addr.city a struct's field, a
    missing one is a KeyError (filter drops the record), rec.total = ... sets a field."""
    from awsglue.dynamicframe import DynamicFrame

    df = spark.createDataFrame([(1, 40, ("Oslo",)), (2, 20, ("Rome",))],
                               "id int, age int, addr struct<city:string>")
    dyf = DynamicFrame.fromDF(df, glue_context, "people")
    older = dyf.filter(lambda r: r.age > 30)
    assert [r.id for r in older.toDF().collect()] == [1]
    assert older.errorsCount() == 0
    assert [r.id for r in dyf.filter(lambda r: r.addr.city == "Rome").toDF().collect()] == [2]
    assert dyf.filter(lambda r: r.no_such_field > 1).count() == 0  # KeyError: not kept

    def doubled(rec: Any) -> Any:
        rec.twice = rec.age * 2
        return rec

    out = dyf.map(doubled)
    assert out.errorsCount() == 0
    assert sorted((r.id, r.twice) for r in out.toDF().collect()) == [(1, 80), (2, 40)]


def test_map_adding_a_field_to_a_struct_keeps_it(glue_context: Any, spark: Any) -> None:
    """A map function that adds a field inside a struct: Glue's records keep it; the struct
    kept its old type here and the new field was silently dropped."""
    from awsglue.dynamicframe import DynamicFrame

    df = spark.createDataFrame([(1, ("Oslo",)), (2, None)], "id int, addr struct<city:string>")

    def add_country(rec: Any) -> Any:
        if rec["addr"] is not None:
            rec["addr"]["country"] = "NO"
        return rec

    out = DynamicFrame.fromDF(df, glue_context, "p").map(add_country).toDF()
    assert out.schema["addr"].dataType.simpleString() == "struct<city:string,country:string>"
    assert sorted(out.collect()) == [Row(id=1, addr=Row(city="Oslo", country="NO")),
                                     Row(id=2, addr=None)]


def test_glue_context_answers_sql_context_calls_and_takes_a_session(glue_context: Any,
                                                                    spark: Any) -> None:
    """Glue's GlueContext is a SQLContext (glueContext.sql, .read, .table, .createDataFrame)
    and is also made from a SparkSession; here those calls raised GlueApiNotImplementedError
    and a session became its SparkContext."""
    from awsglue.context import GlueContext

    assert glue_context.sql("SELECT 1 AS x").collect() == [Row(x=1)]
    assert glue_context.createDataFrame([(2,)], "y int").collect() == [Row(y=2)]
    assert glue_context.read.json is not None
    from_session = GlueContext(spark)
    assert from_session._sc is spark.sparkContext
    assert from_session.spark_session is spark


def test_from_catalog_prunes_by_catalog_partition_predicate(glue_context: Any,
                                                            spark: Any) -> None:
    """additional_options={"catalogPartitionPredicate": ...} selects partitions on Glue
    (server-side, with partition indexes); it was ignored and every partition was read."""
    db = f"glue_cpp_{uuid.uuid4().hex[:6]}"
    df = spark.createDataFrame([(1, "GB", 2023), (2, "FR", 2024), (3, "GB", 2024)],
                               "id int, country string, year int")
    sink = glue_context.getSink(connection_type="s3", path="s3://wh/cpp",
                                enableUpdateCatalog=True, partitionKeys=["country", "year"])
    sink.setFormat("glueparquet")
    sink.setCatalogInfo(catalogDatabase=db, catalogTableName="t")
    sink.writeFrame(glue_context.create_dynamic_frame_from_rdd(df.rdd, "x", df.schema))
    pruned = glue_context.create_dynamic_frame.from_catalog(
        database=db, table_name="t",
        additional_options={"catalogPartitionPredicate": "country = 'GB'"})
    assert sorted(r.id for r in pruned.toDF().collect()) == [1, 3]
    both = glue_context.create_data_frame.from_catalog(
        database=db, table_name="t", push_down_predicate="year >= 2024",
        additional_options={"catalogPartitionPredicate": "country = 'GB'"})
    assert [r.id for r in both.collect()] == [3]


def test_map_to_collection_calls_the_function_with_frame_and_ctx(glue_context: Any,
                                                                 spark: Any) -> None:
    """awsglue's MapToCollection hands each frame and 'ctx:key' to a plain function; it was
    called as a transform class (callable.apply(frame=...)) and a function failed."""
    from awsglue.dynamicframe import DynamicFrameCollection
    from awsglue.transforms import MapToCollection

    dfc = DynamicFrameCollection({"a": _frame(glue_context, spark, "a")}, glue_context)
    seen: list[str] = []

    def only_ids(frame: Any, ctx: str) -> Any:
        seen.append(ctx)
        return frame.select_fields(["id"])

    out = MapToCollection.apply(dfc=dfc, callable=only_ids, transformation_ctx="m")
    assert out["a"].toDF().columns == ["id"]
    assert seen == ["m:a"]


def test_json_multiline_option_is_read_whatever_its_case(glue_context: Any, spark: Any) -> None:
    """Glue Studio writes format_options={"multiline": True}; the reader looked up only
    "multiLine", read the pretty-printed file line by line and made every line an error."""
    folder = Path(glue_context._runtime.s3_root()) / "in" / "pretty"
    folder.mkdir(parents=True)
    (folder / "a.json").write_text(json.dumps({"id": 1, "tags": ["x", "y"]}, indent=2) + "\n")
    dyf = glue_context.create_dynamic_frame.from_options(
        connection_type="s3", connection_options={"paths": ["s3://in/pretty/"],
                                                  "recurse": True},
        format="json", format_options={"multiline": True})
    assert dyf.toDF().collect() == [Row(id=1, tags=["x", "y"])]
    assert dyf.errorsCount() == 0


GLUE_STUDIO_STYLE_SCRIPT = '''
import sys
from awsglue.transforms import *
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext
from awsglue.context import GlueContext
from awsglue.job import Job
from awsglue.gluetypes import *
from awsglue import DynamicFrame


def null_paths(schema, path=""):
    found = []
    if isinstance(schema, StructType):
        for field in schema:
            found += null_paths(field.dataType, f"{path}.{field.name}" if path else field.name)
    elif isinstance(schema, ArrayType) and isinstance(schema.elementType, StructType):
        found += null_paths(schema.elementType, path)
    elif isinstance(schema, NullType):
        found.append(path)
    return found


args = getResolvedOptions(sys.argv, ["JOB_NAME"])
glueContext = GlueContext(SparkContext.getOrCreate())
job = Job(glueContext)
job.init(args["JOB_NAME"], args)
df = glueContext.spark_session.sql(
    "SELECT 1 AS id, NULL AS empty, named_struct('a', NULL, 'b', 2) AS s")
frame = DynamicFrame.fromDF(df, glueContext, "src")
dropped = null_paths(frame.schema())
cleaned = DropFields.apply(frame=frame, paths=dropped, transformation_ctx="drop")
columns = cleaned.toDF().schema.simpleString()
job.commit()
'''


def test_glue_studio_scripts_import_gluetypes_and_walk_the_schema(glue_context: Any,
                                                                  tmp_path: Path) -> None:
    """Glue Studio's scripts start with `from awsglue.gluetypes import *` and walk
    frame.schema() with its StructType / ArrayType / NullType; the shim had no gluetypes, so
    every such script failed at its imports (ModuleNotFoundError)."""
    from lakeforge.glue_local.runner import run_glue_script

    script = tmp_path / "studio_job.py"
    script.write_text(GLUE_STUDIO_STYLE_SCRIPT)
    names = run_glue_script(script, ["--JOB_NAME", "studio"], runtime=glue_context._runtime)
    assert names["dropped"] == ["empty", "s.a"]
    assert names["columns"] == "struct<id:int,s:struct<b:int>>"
