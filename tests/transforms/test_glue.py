"""Glue transforms on DataFrames: each test cites the AWS Glue doc section whose behaviour it
checks (https://docs.aws.amazon.com/glue/latest/dg/<page>)."""

from __future__ import annotations

import math
import sys
import types
from collections.abc import Sequence
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakeforge.catalog.base import Catalog, Column, Partition, TableSpec
from lakeforge.errors import MissingColumnsError
from lakeforge.spigot import Spigot, spigot
from transforms.glue import (
    ApplyMapping,
    ChoiceSpecError,
    DropNullFields,
    DuplicateColumnsError,
    ErrorCountsNotReady,
    ErrorLedger,
    ErrorThresholdExceeded,
    FillMissingValuesError,
    GlueTransformError,
    Join,
    MappingError,
    Relationalize,
    ResolveChoice,
    SchemaRequiredError,
    SplitRows,
    UnknownTypeError,
    apply_mapping,
    drop_fields,
    drop_null_fields,
    fill_missing_values,
    fit_missing_values,
    join,
    relationalize,
    rename_field,
    resolve_choice,
    select_fields,
    spigot_sample,
    split_fields,
    split_rows,
    unbox,
    unnest,
)
from transforms.glue.field_paths import FieldPathError, format_path, parse_path

DOCS = "https://docs.aws.amazon.com/glue/latest/dg/"

PEOPLE_SCHEMA = (
    "id string, `this.old.name` string, age string, "
    "name struct<first:string, last:string>, "
    "contact_details array<struct<type:string, value:string>>"
)


@pytest.fixture
def people(spark: SparkSession) -> DataFrame:
    return spark.createDataFrame(
        [
            ("1", "x", "42", ("Ada", "Lovelace"), [("fax", "111"), ("phone", "222")]),
            ("2", None, "forty", ("Alan", None), None),
            ("3", "z", None, None, []),
        ],
        PEOPLE_SCHEMA,
    )


def rows(df: DataFrame) -> list[tuple]:
    return sorted((tuple(r) for r in df.collect()), key=repr)


# ------------------------------------------------------------------ paths


def test_parse_path_handles_dots_backticks_and_arrays() -> None:
    """Glue path syntax: ApplyMapping class ("`this.old.name`") and ResolveChoice class
    ("myList[].price") in aws-glue-api-crawler-pyspark-transforms-*.html."""
    assert parse_path("a.b") == ("a", "b")
    assert parse_path("`this.old.name`") == ("this.old.name",)
    assert parse_path("myList[].price") == ("myList", "[]", "price")
    assert parse_path("a.`b``c`.d") == ("a", "b`c", "d")
    assert format_path(("a", "b.c", "[]", "d")) == "a.`b.c`[].d"
    for bad in ("", "a..b", "`open", "[].x"):
        with pytest.raises(FieldPathError):
            parse_path(bad)


# ------------------------------------------------------------------ ApplyMapping


def test_apply_mapping_renames_casts_nests_and_drops_unmapped(spark, people) -> None:
    """ApplyMapping class (aws-glue-api-crawler-pyspark-transforms-ApplyMapping.html): back-ticked
    source with dots, nested source, dotted target builds a struct, only mapped fields return."""
    out = apply_mapping(people, mappings=[
        ("id", "string", "person_id", "long"),
        ("`this.old.name`", "string", "thisNewName", "string"),
        ("name.first", "string", "person.given", "string"),
        ("age", "string", "person.age", "int"),
        ("contact_details", "array<struct<type:string,value:string>>", "contacts",
         "array<struct<type:string,value:string>>"),
    ])
    expected = spark.createDataFrame(
        [
            (1, "x", ("Ada", 42), [("fax", "111"), ("phone", "222")]),
            (2, None, ("Alan", None), None),
            (3, "z", (None, None), []),
        ],
        "person_id bigint, thisNewName string, person struct<given:string, age:int>, "
        "contacts array<struct<type:string,value:string>>",
    )
    assert_df_equality(out, expected, ignore_nullable=True, ignore_row_order=True)


def test_apply_mapping_failed_cast_is_null_and_counted_by_observe(spark, people) -> None:
    """ApplyMapping class: stageThreshold / totalThreshold ("maximum number of errors ... before
    it errors out"); here counted with DataFrame.observe by the job's own action."""
    ledger = ErrorLedger()
    out = apply_mapping(people, [("id", "string", "id", "string"), ("age", "string", "age", "int")],
                        ledger=ledger, transformation_ctx="typing", stage_threshold=0)
    with pytest.raises(ErrorCountsNotReady):
        ledger.results()
    assert rows(out) == [("1", 42), ("2", None), ("3", None)]  # the job's action
    [stage] = ledger.results()
    assert (stage.stage, stage.records, stage.error_records, stage.error_values) == (
        "typing", 3, 1, 1)  # "forty" rejected; the null age is not an error
    with pytest.raises(ErrorThresholdExceeded, match="stageThreshold 0 exceeded"):
        ledger.check()

    lenient = ErrorLedger()
    ok = apply_mapping(people, [("age", "string", "age", "int")], ledger=lenient,
                       stage_threshold=1, total_threshold=1)
    ok.count()
    assert lenient.check()[0].error_records == 1


def test_apply_mapping_total_threshold_adds_up_stages(spark, people) -> None:
    """ApplyMapping class: totalThreshold counts errors "overall", i.e. across stages."""
    ledger = ErrorLedger()
    first = apply_mapping(people, [("id", "string", "id", "string"),
                                   ("age", "string", "age", "int"),
                                   ("`this.old.name`", "string", "code", "string")],
                          ledger=ledger, transformation_ctx="a", stage_threshold=1)
    second = apply_mapping(first, [("id", "string", "id", "string"),
                                   ("code", "string", "code", "int")],
                           ledger=ledger, transformation_ctx="b", stage_threshold=5,
                           total_threshold=2)
    second.collect()
    a, b = ledger.results()
    assert (a.error_records, b.error_records, b.total_error_records) == (1, 2, 3)
    with pytest.raises(ErrorThresholdExceeded) as info:
        ledger.check()
    assert [f.stage for f in info.value.failures] == ["b"]


def test_apply_mapping_empty_frame_and_errors(spark, people) -> None:
    """ApplyMapping class: mappings are (source column, source type, target column, target
    type); a malformed mapping, unknown type or missing source is refused with its name."""
    empty = spark.createDataFrame([], PEOPLE_SCHEMA)
    out = apply_mapping(empty, [("name.last", "string", "last", "string")])
    assert out.columns == ["last"] and out.count() == 0
    with pytest.raises(MissingColumnsError, match="nope"):
        apply_mapping(people, [("nope", "string", "x", "string")])
    with pytest.raises(UnknownTypeError, match="mapping #0 target_type"):
        apply_mapping(people, [("id", "string", "id", "notatype")])
    with pytest.raises(MappingError, match="4-tuple"):
        apply_mapping(people, [("id", "string", "id")])
    with pytest.raises(MappingError, match="already the target"):
        apply_mapping(people, [("id", "string", "x", "string"), ("age", "string", "x", "string")])
    with pytest.raises(ValueError, match="ledger"):
        apply_mapping(people, [("id", "string", "id", "string")], stage_threshold=0)


def test_apply_mapping_bare_struct_and_array_types_keep_nested_fields(spark, people) -> None:
    """Glue's generated mappings name nested fields' types bare: ("links", "array", "links",
    "array"); the field keeps the type it has. A bare kind that is not the field's is refused."""
    out = apply_mapping(people, [("id", "string", "id", "long"),
                                 ("name", "struct", "person", "struct"),
                                 ("contact_details", "array", "contacts", "ARRAY")])
    assert out.schema.simpleString() == (
        "struct<id:bigint,person:struct<first:string,last:string>,"
        "contacts:array<struct<type:string,value:string>>>")
    assert rows(out.select("id", "person.first")) == [(1, "Ada"), (2, "Alan"), (3, None)]
    with pytest.raises(MappingError, match="'age' is string"):
        apply_mapping(people, [("age", "string", "age", "struct")])


def test_apply_mapping_matches_source_case_insensitively_by_default(spark) -> None:
    """Glue's default case_sensitive=False: ``ZID`` and ``Addr.ZIP`` find ``zid`` and
    ``addr.zip``; two fields equal but for case are refused; a lone 4-tuple is one mapping
    (the ApplyMapping class forwards case_sensitive)."""
    df = spark.createDataFrame([(1, ("E1",)), (None, None)], "zid int, addr struct<zip:string>")
    out = apply_mapping(df, [("ZID", "int", "id", "long"), ("Addr.ZIP", "string", "z", "string")])
    assert out.schema.simpleString() == "struct<id:bigint,z:string>"
    assert out.collect() == [(1, "E1"), (None, None)]
    assert apply_mapping(df, ("zid", "int", "i", "int")).collect() == [(1,), (None,)]
    assert ApplyMapping.apply(frame=df, mappings=[("zId", "int", "k", "int")]).columns == ["k"]
    with pytest.raises(MissingColumnsError, match="ZID"):
        apply_mapping(df, [("ZID", "int", "id", "long")], case_sensitive=True)
    with pytest.raises(MissingColumnsError, match="ZID"):
        ApplyMapping.apply(frame=df, mappings=[("ZID", "int", "k", "int")], case_sensitive=True)
    with pytest.raises(MappingError, match="must be strings"):
        apply_mapping(df, [("zid", "int", "id", 5)])
    twins = spark.createDataFrame([], "Id int, ID int, s struct<a:int,A:int>")
    with pytest.raises(MappingError, match=r"'Id' matches fields \['ID', 'Id'\]"):
        apply_mapping(twins, [("Id", "int", "i", "int")])
    with pytest.raises(MappingError, match=r"'S.a' matches fields \['A', 'a'\]"):
        apply_mapping(twins, [("S.a", "int", "z", "int")])


# ------------------------------------------------------------------ ResolveChoice

PRICES_SCHEMA = "sku string, price string, myList array<struct<price:string>>"


@pytest.fixture
def prices(spark: SparkSession) -> DataFrame:
    # Spark reads a JSON field holding 100 and "$100" as a string column.
    return spark.createDataFrame(
        [("a", "100", [("100.0",), ("$100.00",)]), ("b", "$100", None), ("c", None, [(None,)])],
        PRICES_SCHEMA,
    )


def test_resolve_choice_cast_inside_array_counts_rejects(spark, prices) -> None:
    """ResolveChoice class: cast action, and the doc's own example ("myList[].price",
    "cast:double") for a path through an array."""
    ledger = ErrorLedger()
    out = resolve_choice(prices, specs=[("myList[].price", "cast:double")], ledger=ledger)
    expected = spark.createDataFrame(
        [("a", "100", [(100.0,), (None,)]), ("b", "$100", None), ("c", None, [(None,)])],
        "sku string, price string, myList array<struct<price:double>>",
    )
    out.collect()  # the job's action; a sorting comparison would scan the rows twice
    assert ledger.results()[0].error_values == 1  # "$100.00"
    assert_df_equality(out, expected, ignore_nullable=True, ignore_row_order=True)


def test_resolve_choice_takes_one_spec_pair_as_a_tuple(prices) -> None:
    """awsglue's resolveChoice wraps a lone (path, action) tuple in a list."""
    out = ResolveChoice.apply(frame=prices, specs=("price", "cast:int"))
    assert rows(out.select("sku", "price")) == [("a", 100), ("b", None), ("c", None)]
    assert resolve_choice(prices, specs=("sku", "cast:string")).columns == prices.columns


def test_resolve_choice_make_cols_names_columns_by_type(spark, prices) -> None:
    """ResolveChoice class, make_cols: "if columnA could be an int or a string, the resolution
    is to produce two columns named columnA_int and columnA_string"."""
    out = resolve_choice(prices, specs=[("price", "make_cols")],
                         choice_types={"price": ["string", "int"]})
    assert out.columns == ["sku", "price_int", "price_string", "myList"]
    assert rows(out.select("sku", "price_int", "price_string")) == [
        ("a", 100, None), ("b", None, "$100"), ("c", None, None)]


def test_resolve_choice_make_cols_uses_glue_type_names_and_skips_single_typed(spark) -> None:
    """Glue labels members with its own names (``long``, not Spark's ``bigint``); a column of
    one non-string type is no choice, so make_cols / make_struct leave it unchanged."""
    df = spark.createDataFrame([(1, "7"), (2, "x"), (3, None)], "id long, price string")
    out = resolve_choice(df, specs=[("price", "make_cols")],
                         choice_types={"price": ["bigint", "string"]})
    assert out.columns == ["id", "price_long", "price_string"]
    assert sorted(out.collect()) == [(1, 7, None), (2, None, "x"), (3, None, None)]
    for action in ("make_cols", "make_struct"):
        same = resolve_choice(df, specs=[("id", action)])
        assert same.schema == df.schema and sorted(same.collect()) == sorted(df.collect())


def test_resolve_choice_make_struct_and_project(spark, prices) -> None:
    """ResolveChoice class: make_struct ("a structure column where each structure contains both
    an int and a string") and project:<type> (values of other types are removed)."""
    out = resolve_choice(prices, specs=[("price", "make_struct")],
                         choice_types={"price": ["int", "string"]})
    assert out.schema["price"].dataType.simpleString() == "struct<int:int,string:string>"
    assert rows(out.select("sku", "price")) == [
        ("a", (100, None)), ("b", (None, "$100")), ("c", None)]

    ledger = ErrorLedger()
    projected = resolve_choice(prices, choice="project:int", choice_types={"price": ["int"]},
                               ledger=ledger)
    assert rows(projected.select("sku", "price")) == [("a", 100), ("b", None), ("c", None)]
    assert ledger.results()[0].error_records == 1


class InMemoryCatalog(Catalog):
    """The Catalog interface over a dict (tables only), for match_catalog."""

    def __init__(self, tables: Sequence[TableSpec]) -> None:
        self.tables = {(t.database, t.name): t for t in tables}

    def create_database(self, database: str, location: str | None = None) -> None:
        pass

    def create_or_update_table(self, spec: TableSpec) -> None:
        self.tables[(spec.database, spec.name)] = spec

    def get_table(self, database: str, table: str) -> TableSpec | None:
        return self.tables.get((database, table))

    def list_tables(self, database: str) -> list[str]:
        return [n for d, n in self.tables if d == database]

    def drop_table(self, database: str, table: str) -> None:
        self.tables.pop((database, table), None)

    def add_partitions(self, database: str, table: str, partitions: Sequence[Partition]) -> int:
        return 0

    def get_partitions(self, database: str, table: str) -> list[Partition]:
        return []

    def drop_partitions(self, database: str, table: str, values) -> int:  # type: ignore[override]
        return 0

    def set_partition_locations(self, database: str, table: str,
                                partitions: Sequence[Partition]) -> None:
        pass


def test_resolve_choice_match_catalog_casts_to_table_types(spark, prices) -> None:
    """ResolveChoice class / ChoiceOption MATCH_CATALOG: cast each column to the type of the
    same column in the Data Catalog table (database, table_name)."""
    catalog = InMemoryCatalog([TableSpec("shop", "prices", [
        Column("sku", "string"), Column("PRICE", "int")], "s3://b/prices")])
    ledger = ErrorLedger()
    out = resolve_choice(prices, choice="match_catalog", database="shop", table_name="prices",
                         catalog=catalog, ledger=ledger)
    assert out.schema["price"].dataType.simpleString() == "int"
    assert rows(out.select("sku", "price")) == [("a", 100), ("b", None), ("c", None)]
    assert ledger.results()[0].error_values == 1
    with pytest.raises(GlueTransformError, match="shop.missing"):
        resolve_choice(prices, choice="match_catalog", database="shop", table_name="missing",
                       catalog=catalog)


def test_resolve_choice_refuses_bad_specs(spark, prices) -> None:
    """ResolveChoice class: "You can only use one of the spec and choice parameters"; actions
    are cast, make_cols, make_struct, project (and match_catalog)."""
    with pytest.raises(ChoiceSpecError, match="not both"):
        resolve_choice(prices, specs=[("price", "cast:int")], choice="make_cols")
    with pytest.raises(ChoiceSpecError, match="unknown action"):
        resolve_choice(prices, specs=[("price", "explode")])
    with pytest.raises(ChoiceSpecError, match="needs a type"):
        resolve_choice(prices, specs=[("price", "cast")])
    with pytest.raises(ChoiceSpecError, match="choice_types"):
        resolve_choice(prices, specs=[("price", "make_cols")])
    with pytest.raises(MissingColumnsError):
        resolve_choice(prices, specs=[("nope", "cast:int")])
    empty = spark.createDataFrame([], PRICES_SCHEMA)
    assert resolve_choice(empty, specs=[("price", "cast:int")]).count() == 0


# ------------------------------------------------------------------ DropNullFields

NESTED_SCHEMA = (
    "id int, always_null string, sometimes string, blank string, minus int, "
    "address struct<city:string, zip:string>, "
    "items array<struct<sku:string, note:string>>, nothing void"
)


@pytest.fixture
def nested(spark: SparkSession) -> DataFrame:
    return spark.createDataFrame(
        [
            (1, None, "x", "", -1, ("Paris", None), [("s1", None)], None),
            (2, None, None, "null", None, None, None, None),
            (3, None, None, None, -1, ("Rome", None), [], None),
        ],
        NESTED_SCHEMA,
    )


def test_drop_null_fields_drops_nested_and_array_fields_null_everywhere(spark, nested) -> None:
    """DropNullFields class (aws-glue-api-crawler-pyspark-transforms-DropNullFields.html): drops
    fields "with missing or null values in every record", NullType fields included; nested
    struct fields and fields of array elements count on their own; partly-null fields stay."""
    out = drop_null_fields(nested)
    expected = spark.createDataFrame(
        [
            (1, "x", "", -1, ("Paris",), [("s1",)]),
            (2, None, "null", None, None, None),
            (3, None, None, -1, ("Rome",), []),
        ],
        "id int, sometimes string, blank string, minus int, address struct<city:string>, "
        "items array<struct<sku:string>>",
    )
    assert_df_equality(out, expected, ignore_nullable=True, ignore_row_order=True)


def test_drop_null_fields_null_values_as_in_glue_studio(spark, nested) -> None:
    """Using DropNullFields to remove fields with null values (transforms-dropnull-fields.html):
    empty strings, "null" strings and -1 integers can be declared null; types must match."""
    out = drop_null_fields(nested, null_values=["", "null", -1])
    assert out.columns == ["id", "sometimes", "address", "items"]
    # "-1" as a string does not make the int column null: data types must match exactly.
    assert "minus" in drop_null_fields(nested, null_values=["-1"]).columns
    with pytest.raises(GlueTransformError, match="null_values"):
        drop_null_fields(nested, null_values=[{"a": 1}])


def test_drop_null_fields_empty_frame_and_wrapper(spark) -> None:
    """DropNullFields class: a DynamicFrame without records has no field with a value, so all
    go; the wrapper is called like Glue's DropNullFields.apply(frame=...)."""
    empty = spark.createDataFrame([], NESTED_SCHEMA)
    assert drop_null_fields(empty).columns == []
    one = spark.createDataFrame([(1, None)], "a int, b string")
    out = DropNullFields.apply(frame=one)
    assert isinstance(out, DataFrame) and out.columns == ["a"]


# ------------------------------------------------------------------ DropFields / SelectFields


def test_drop_fields_nested_backticked_and_array_paths(spark, people, nested) -> None:
    """DropFields class (aws-glue-api-crawler-pyspark-transforms-DropFields.html): "paths - A
    list of full paths to the nodes to drop"; a missing path is refused."""
    out = drop_fields(people, ["`this.old.name`", "name.last", "contact_details[].value", "age"])
    expected = spark.createDataFrame(
        [("1", ("Ada",), [("fax",), ("phone",)]), ("2", ("Alan",), None), ("3", None, [])],
        "id string, name struct<first:string>, contact_details array<struct<type:string>>",
    )
    assert_df_equality(out, expected, ignore_nullable=True, ignore_row_order=True)
    # dropping the last field of a struct drops the struct
    assert "address" not in drop_fields(nested, ["address.city", "address.zip"]).columns
    with pytest.raises(MissingColumnsError, match="name.middle"):
        drop_fields(people, ["name.middle", "id"])


def test_select_fields_keeps_nested_subset_and_null_structs(spark, people) -> None:
    """SelectFields class (aws-glue-api-crawler-pyspark-transforms-SelectFields.html): "paths -
    A list of full paths to the nodes to select"."""
    out = select_fields(people, ["name.first", "id"])
    expected = spark.createDataFrame(
        [("1", ("Ada",)), ("2", ("Alan",)), ("3", None)], "id string, name struct<first:string>")
    assert_df_equality(out, expected, ignore_nullable=True, ignore_row_order=True)
    with pytest.raises(MissingColumnsError):
        select_fields(people, ["name.middle"])
    empty = spark.createDataFrame([], PEOPLE_SCHEMA)
    assert select_fields(empty, ["contact_details[].type"]).columns == ["contact_details"]


# ------------------------------------------------------------------ RenameField


def test_rename_field_top_nested_array_and_move(spark, people) -> None:
    """RenameField class (aws-glue-api-crawler-pyspark-transforms-RenameField.html): old_name is
    a full path, back-ticked when it has dots ("`this.old.name`" -> "thisNewName"); new_name is
    the new full path."""
    out = rename_field(people, "`this.old.name`", "thisNewName")
    assert out.columns[1] == "thisNewName"
    nested = rename_field(people, "name.last", "name.family")
    assert nested.schema["name"].dataType.simpleString() == "struct<first:string,family:string>"
    assert rows(nested.select("id", "name")) == [
        ("1", ("Ada", "Lovelace")), ("2", ("Alan", None)), ("3", None)]
    in_array = rename_field(people, "contact_details[].value", "contact_details[].number")
    assert rows(in_array.select("id", F.col("contact_details.number").alias("n"))) == [
        ("1", ["111", "222"]), ("2", None), ("3", [])]
    moved = rename_field(people, "name.first", "given")
    assert moved.columns[-1] == "given"
    assert moved.schema["name"].dataType.simpleString() == "struct<last:string>"
    assert rows(moved.select("id", "given")) == [("1", "Ada"), ("2", "Alan"), ("3", None)]
    with pytest.raises(DuplicateColumnsError):
        rename_field(people, "age", "id")
    with pytest.raises(MissingColumnsError):
        rename_field(people, "nope", "x")


# ------------------------------------------------------------------ Join


def test_join_equality_keeps_both_keys_and_drops_null_keys(spark) -> None:
    """Join class (aws-glue-api-crawler-pyspark-transforms-join.html): "Performs an equality
    join on two DynamicFrames" with keys1 / keys2; both key fields stay in the result."""
    persons = spark.createDataFrame([("p1", "Ada"), ("p2", "Alan"), (None, "Nobody")],
                                    "id string, name string")
    memberships = spark.createDataFrame([("p1", "o1"), ("p1", "o2"), (None, "o3")],
                                        "person_id string, org_id string")
    out = Join.apply(frame1=persons, frame2=memberships, keys1=["id"], keys2=["person_id"])
    expected = spark.createDataFrame([("p1", "Ada", "p1", "o1"), ("p1", "Ada", "p1", "o2")],
                                     "id string, name string, person_id string, org_id string")
    assert_df_equality(out, expected, ignore_nullable=True, ignore_row_order=True)
    with pytest.raises(DuplicateColumnsError, match=r"\['id'\]"):
        join(persons, persons.withColumnRenamed("name", "n2"), "id", "id")
    with pytest.raises(GlueTransformError, match="same length"):
        join(persons, memberships, ["id", "name"], ["person_id"])
    assert join(persons.limit(0), memberships, "id", "person_id").count() == 0


# ------------------------------------------------------------------ SplitFields / SplitRows


def test_split_fields_returns_selected_and_remaining(spark, people) -> None:
    """SplitFields class (aws-glue-api-crawler-pyspark-transforms-SplitFields.html): name1 gets
    the split-off fields, name2 the fields that remain."""
    parts = split_fields(people, ["id", "name.first"], "left", "right")
    assert list(parts) == ["left", "right"]
    assert parts["left"].columns == ["id", "name"]
    assert parts["right"].schema.simpleString() == (
        "struct<this.old.name:string,age:string,name:struct<last:string>,"
        "contact_details:array<struct<type:string,value:string>>>")
    with pytest.raises(MissingColumnsError):
        split_fields(people, ["nope"])


def test_split_rows_sends_nulls_to_the_remaining_frame(spark) -> None:
    """SplitRows class (aws-glue-api-crawler-pyspark-transforms-SplitRows.html): {"age": {">":
    10, "<": 20}} splits off rows with age between 10 and 20, exclusive."""
    df = spark.createDataFrame([(1, 5), (2, 15), (3, None), (4, 20)], "id int, age int")
    out = SplitRows.apply(frame=df, comparison_dict={"age": {">": 10, "<": 20}})
    assert rows(out["frame1"]) == [(2, 15)]
    assert rows(out["frame2"]) == [(1, 5), (3, None), (4, 20)]
    nulls = split_rows(df, {"age": {"=": None}}, "missing", "present")
    assert rows(nulls["missing"]) == [(3, None)]
    with pytest.raises(GlueTransformError, match="unknown comparator"):
        split_rows(df, {"age": {"~": 1}})
    assert split_rows(df.limit(0), {"age": {">": 1}})["frame1"].count() == 0


# ------------------------------------------------------------------ Relationalize

ORDERS_SCHEMA = (
    "id string, name struct<first:string, last:string>, "
    "contact_details array<struct<type:string, value:string>>, tags array<string>, "
    "orders array<struct<no:int, items:array<struct<sku:string>>>>"
)


@pytest.fixture
def orders(spark: SparkSession) -> DataFrame:
    return spark.createDataFrame(
        [
            ("a", ("Ada", "L"), [("fax", "111"), ("phone", "222")], ["x", None],
             [(1, [("s1",), ("s2",)]), (2, None)]),
            ("b", None, None, [], None),
        ],
        ORDERS_SCHEMA,
    )


def test_relationalize_uses_glue_table_and_column_names(spark, orders) -> None:
    """Relationalize class (aws-glue-api-crawler-pyspark-transforms-Relationalize.html) and the
    legislators example (aws-glue-programming-python-samples-legislators.html): tables hist_root,
    hist_root_contact_details; child columns id, index, contact_details.val.type; the root keeps
    a bigint contact_details key that joins to the child's id."""
    tables = relationalize(orders, root_table_name="root")
    try:
        assert list(tables) == ["root", "root_contact_details", "root_tags", "root_orders",
                                "root_orders.val.items"]
        root = tables["root"]
        assert root.columns == ["id", "name.first", "name.last", "contact_details", "tags",
                                "orders"]
        assert root.schema["contact_details"].dataType.simpleString() == "bigint"
        child = tables["root_contact_details"]
        assert child.columns == ["id", "index", "contact_details.val.type",
                                 "contact_details.val.value"]
        joined = root.join(child, root["contact_details"] == child["id"]).select(
            root["id"], "index", "`contact_details.val.type`", "`contact_details.val.value`")
        assert rows(joined) == [("a", 0, "fax", "111"), ("a", 1, "phone", "222")]
        by_id = {r["id"]: r for r in root.collect()}
        assert by_id["b"]["contact_details"] is None  # null array: null key
        assert by_id["b"]["tags"] is not None  # empty array: a key, no child rows
        assert by_id["a"]["name.first"] == "Ada" and by_id["b"]["name.first"] is None
        tags = tables["root_tags"]
        assert tags.columns == ["id", "index", "tags.val"]
        assert rows(tags.join(root.select(F.col("tags").alias("k"), F.col("id").alias("rid")),
                              F.col("id") == F.col("k")).select("rid", "index", "`tags.val`")
                    ) == [("a", 0, "x"), ("a", 1, None)]
        ords, items = tables["root_orders"], tables["root_orders.val.items"]
        assert ords.columns == ["id", "index", "orders.val.no", "orders.val.items"]
        assert items.columns == ["id", "index", "orders.val.items.val.sku"]
        nested = ords.join(items, ords["`orders.val.items`"] == items["id"]).select(
            "`orders.val.no`", items["index"], "`orders.val.items.val.sku`")
        assert rows(nested) == [(1, 0, "s1"), (1, 1, "s2")]
        assert items.count() == 2 and ords.count() == 2
    finally:
        tables.unpersist()


def test_relationalize_empty_frame_and_name_clash(spark, orders) -> None:
    """Relationalize class: name is the root table's name (default 'roottable'); flattening must
    not produce two columns with one name."""
    tables = Relationalize.apply(frame=orders.limit(0))
    assert sorted(tables) == ["roottable", "roottable_contact_details", "roottable_orders",
                              "roottable_orders.val.items", "roottable_tags"]
    assert all(t.count() == 0 for t in tables.values())
    tables.unpersist()
    clash = spark.createDataFrame([("x", ("y",))], "`name.first` string, name struct<first:string>")
    with pytest.raises(DuplicateColumnsError, match="name.first"):
        relationalize(clash, "root", persist=False)


# ------------------------------------------------------------------ Unbox / Unnest


def test_unbox_json_in_place_counts_unparseable(spark) -> None:
    """Unbox class (aws-glue-api-crawler-pyspark-transforms-Unbox.html): "Unboxes a string field"
    into a struct; withSchema gives the schema as StructType.json()."""
    df = spark.createDataFrame(
        [(1, ('{"a": 1, "b": "x"}',)), (2, ("not json",)), (3, (None,)), (4, None)],
        "id int, payload struct<raw:string>")
    schema = spark.createDataFrame([], "a int, b string").schema
    ledger = ErrorLedger()
    out = unbox(df, "payload.raw", "json", with_schema=schema.json(), ledger=ledger)
    assert out.schema["payload"].dataType.simpleString() == "struct<raw:struct<a:int,b:string>>"
    assert rows(out) == [(1, ((1, "x"),)), (2, (None,)), (3, (None,)), (4, None)]
    assert ledger.results()[0].error_records == 1
    csv = spark.createDataFrame([("1;x",), ("2;y",), ("oops;z",)], "line string")
    csv_ledger = ErrorLedger()
    parsed = unbox(csv, "line", "csv", with_schema="n INT, s STRING", separator=";",
                   ledger=csv_ledger)
    assert rows(parsed) == [(None,), ((1, "x"),), ((2, "y"),)]
    assert csv_ledger.results()[0].error_records == 1
    with pytest.raises(SchemaRequiredError, match="with_schema"):
        unbox(csv, "line")
    with pytest.raises(GlueTransformError, match="not a string"):
        unbox(df, "id", with_schema="a int")
    assert unbox(csv.limit(0), "line", with_schema="a int").count() == 0


def test_unbox_csv_quote_char_minus_one_turns_quoting_off(spark) -> None:
    """Glue's CSV quoteChar -1 turns quoting off (S3CsvSource QuoteChar); Spark has no -1."""
    csv = spark.createDataFrame([('1;"x"',), ('2;say "hi"',)], "line string")
    parsed = unbox(csv, "line", "csv", with_schema="n INT, s STRING", separator=";",
                   quoteChar=-1)
    assert sorted(rows(parsed)) == [((1, '"x"'),), ((2, 'say "hi"'),)]


def test_unnest_flattens_structs_with_dotted_names(spark, people) -> None:
    """UnnestFrame class (aws-glue-api-crawler-pyspark-transforms-UnnestFrame.html): "flattens
    nested objects to top-level elements"; arrays stay as they are."""
    out = unnest(people)
    assert out.columns == ["id", "this.old.name", "age", "name.first", "name.last",
                           "contact_details"]
    assert rows(out.select("id", "`name.first`")) == [("1", "Ada"), ("2", "Alan"), ("3", None)]
    clash = spark.createDataFrame([("x", ("y",))], "`a.b` string, a struct<b:string>")
    with pytest.raises(DuplicateColumnsError):
        unnest(clash)
    assert unnest(people.limit(0)).count() == 0


# ------------------------------------------------------------------ FillMissingValues


def test_fill_missing_values_adds_filled_column(spark) -> None:
    """FillMissingValues class (aws-glue-api-crawler-pyspark-transforms-fillmissingvalues.html):
    output_column defaults to missing_values_column + "_filled"; rows without a missing value
    keep their value. Built on pyspark.ml Imputer (mean)."""
    df = spark.createDataFrame([(1, 2.0), (2, None), (3, float("nan")), (4, 4.0)],
                               "id int, score double")
    out = fill_missing_values(df, "score")
    assert out.columns == ["id", "score", "score_filled"]
    filled = {r["id"]: r["score_filled"] for r in out.collect()}
    assert filled == {1: 2.0, 2: 3.0, 3: 3.0, 4: 4.0}
    model = fit_missing_values(df, "score", strategy="median")
    other = spark.createDataFrame([(9, None)], "id int, score double")
    assert fill_missing_values(other, "score", model=model).first()["score_filled"] in (2.0, 4.0)
    with pytest.raises(FillMissingValuesError, match="nothing to learn"):
        fill_missing_values(df.limit(0), "score")
    with pytest.raises(FillMissingValuesError, match="numeric"):
        fill_missing_values(spark.createDataFrame([("a",)], "s string"), "s")
    assert not math.isnan(filled[3])


# ------------------------------------------------------------------ Spigot


def test_spigot_writes_top_k_and_returns_frame(spark, people, tmp_path: Path) -> None:
    """Spigot class (aws-glue-api-crawler-pyspark-transforms-spigot.html): "topk" writes the first
    k records; "prob" is the probability of picking a record."""
    target = tmp_path / "sample"
    assert spigot(people, str(target), top_k=2) is people
    assert spark.read.json(str(target)).count() == 2
    with pytest.raises(Exception, match="already exists"):
        spigot(people, str(target), top_k=1)
    spigot(people, str(tmp_path / "none"), prob=0.0)
    assert spark.read.schema(people.schema).json(str(tmp_path / "none")).count() == 0
    with pytest.raises(GlueTransformError, match="prob"):
        spigot(people, str(tmp_path / "x"), prob=1.5)
    with pytest.raises(GlueTransformError, match="top_k must be an int >= 0"):
        spigot_sample(people, top_k=-1)
    assert Spigot.apply(frame=people, path=str(tmp_path / "cls"), options={"topk": 1}) is people
    assert spark.read.json(str(tmp_path / "cls")).count() == 1
    with pytest.raises(GlueTransformError, match="unknown option"):
        Spigot.apply(frame=people, path=str(tmp_path / "y"), options={"top": 1})


def test_spigot_sample_is_lazy_and_defaults_to_100_rows(spark) -> None:
    df = spark.range(250)
    assert spigot_sample(df).count() == 100
    assert spigot_sample(df, top_k=0).count() == 0
    assert spigot_sample(spark.range(0)).count() == 0


# ------------------------------------------------------------------ DynamicFrame round trip


def test_wrappers_return_dynamic_frames_when_given_them(spark, people, monkeypatch) -> None:
    """GlueTransform apply (aws-glue-api-crawler-pyspark-transforms-GlueTransform.html): the
    wrappers take a DynamicFrame, use toDF()/DynamicFrame.fromDF, and give back a DynamicFrame
    (a DynamicFrameCollection for Relationalize). awsglue is not installable here, so a stand-in
    module with awsglue's constructor signatures plays its part."""

    class DynamicFrame:
        def __init__(self, df: DataFrame, glue_ctx: object, name: str) -> None:
            self._df, self.glue_ctx, self.name = df, glue_ctx, name

        def toDF(self) -> DataFrame:
            return self._df

        @staticmethod
        def fromDF(df: DataFrame, glue_ctx: object, name: str) -> DynamicFrame:
            return DynamicFrame(df, glue_ctx, name)

    class DynamicFrameCollection:
        def __init__(self, dynamic_frames: dict, glue_ctx: object) -> None:
            self._frames, self.glue_ctx = dynamic_frames, glue_ctx

        def keys(self) -> list[str]:
            return list(self._frames)

        def select(self, key: str) -> DynamicFrame:
            return self._frames[key]

    module = types.ModuleType("awsglue.dynamicframe")
    module.DynamicFrame, module.DynamicFrameCollection = DynamicFrame, DynamicFrameCollection
    monkeypatch.setitem(sys.modules, "awsglue", types.ModuleType("awsglue"))
    monkeypatch.setitem(sys.modules, "awsglue.dynamicframe", module)

    ctx = object()
    dyf = DynamicFrame(people, ctx, "people")
    out = ApplyMapping.apply(frame=dyf, mappings=[("id", "string", "id", "int")],
                             transformation_ctx="am")
    assert isinstance(out, DynamicFrame) and out.glue_ctx is ctx and out.name == "am"
    assert out.toDF().schema.simpleString() == "struct<id:int>"
    dfc = Relationalize.apply(frame=dyf, name="hist_root", persist=False)
    assert isinstance(dfc, DynamicFrameCollection)
    assert dfc.keys() == ["hist_root", "hist_root_contact_details"]
    assert ResolveChoice.apply(people, specs=[("age", "cast:int")]).schema["age"].dataType \
        .simpleString() == "int"
    with pytest.raises(TypeError, match="DataFrame"):
        DropNullFields.apply(frame=[1, 2])
