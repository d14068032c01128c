"""Which Glue transforms run Spark jobs, counted with the SparkContext status tracker."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakeforge.catalog.base import Column, TableSpec
from tests.transforms.test_glue import InMemoryCatalog
from transforms.glue import (
    ApplyMapping,
    DropFields,
    ErrorLedger,
    Join,
    RenameField,
    SelectFields,
    SplitFields,
    SplitRows,
    UnnestFrame,
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
    split_fields,
    split_rows,
    unbox,
    unnest,
)
from transforms.glue.joins import spigot_sample
from transforms.registry import run_steps


def jobs_run_by(spark: SparkSession, fn: Callable[[], object]) -> int:
    """How many Spark jobs ``fn`` started (job group + status tracker)."""
    sc = spark.sparkContext
    bus = sc._jsc.sc().listenerBus()
    bus.waitUntilEmpty(10_000)
    group = f"glue-jobs-{uuid.uuid4().hex}"
    sc.setJobGroup(group, "count the jobs of one transform")
    try:
        fn()
    finally:
        sc.setLocalProperty("spark.jobGroup.id", None)  # type: ignore[arg-type]
        sc.setLocalProperty("spark.job.description", None)  # type: ignore[arg-type]
    bus.waitUntilEmpty(10_000)  # the tracker learns of jobs through the listener bus
    return len(sc.statusTracker().getJobIdsForGroup(group))


@pytest.fixture
def frame(spark: SparkSession) -> DataFrame:
    return spark.createDataFrame(
        [
            ("1", "42", '{"a": 1}', ("Ada", None), [("fax", "1")], 1.0),
            ("2", "x", "bad", None, None, None),
        ],
        "id string, age string, raw string, name struct<first:string, last:string>, "
        "contacts array<struct<type:string, value:string>>, score double",
    )


def test_counting_sees_a_job(spark, frame) -> None:
    """The counter itself: an action is seen (so zero below means zero)."""
    assert jobs_run_by(spark, frame.count) >= 1


def test_no_transform_but_drop_null_fields_runs_a_spark_job(spark, frame) -> None:
    """Every transform except drop_null_fields (and fill_missing_values fitting, whose purpose
    is to compute) only builds a plan: zero Spark jobs."""
    other = spark.createDataFrame([("1", "org")], "person_id string, org string")
    catalog = InMemoryCatalog([TableSpec("db", "t", [Column("age", "int")], "s3://b/t")])
    ledger = ErrorLedger()
    relationalized = []
    steps = [
        {"name": "ApplyMapping", "mappings": [["id", "string", "id", "string"],
                                              ["age", "string", "age", "int"]]},
        {"name": "Join", "frame2": "orgs", "keys1": ["id"], "keys2": ["person_id"]},
        {"name": "SplitRows", "comparison_dict": {"age": {">": 1}}},
        {"name": "SelectFromCollection", "key": "frame1"},
    ]
    calls: dict[str, Callable[[], object]] = {
        "apply_mapping": lambda: apply_mapping(
            frame, [("age", "string", "age", "int"), ("name.first", "string", "n.f", "string")],
            ledger=ledger, stage_threshold=0),
        "resolve_choice cast": lambda: resolve_choice(
            frame, specs=[("age", "cast:int"), ("contacts[].value", "cast:int")], ledger=ledger),
        "resolve_choice make_cols": lambda: resolve_choice(
            frame, specs=[("age", "make_cols")], choice_types={"age": ["int", "string"]}),
        "resolve_choice make_struct": lambda: resolve_choice(
            frame, choice="make_struct", choice_types={"age": ["int", "string"]}),
        "resolve_choice project": lambda: resolve_choice(frame, specs=[("age", "project:int")]),
        "resolve_choice match_catalog": lambda: resolve_choice(
            frame, choice="match_catalog", database="db", table_name="t", catalog=catalog),
        "drop_fields": lambda: drop_fields(frame, ["name.last", "contacts[].value"]),
        "select_fields": lambda: select_fields(frame, ["id", "name.first"]),
        "rename_field": lambda: rename_field(frame, "name.first", "name.given"),
        "join": lambda: join(frame, other, "id", "person_id"),
        "split_fields": lambda: split_fields(frame, ["id"]),
        "split_rows": lambda: split_rows(frame, {"age": {"=": "42"}}),
        "relationalize": lambda: relationalized.append(relationalize(frame, "root")),
        "unbox": lambda: unbox(frame, "raw", with_schema="a int", ledger=ledger),
        "unnest": lambda: unnest(frame),
        "spigot_sample": lambda: spigot_sample(frame, top_k=3, prob=0.5),
        "wrappers": lambda: (
            ApplyMapping.apply(frame=frame, mappings=[("id", "string", "id", "int")]),
            DropFields.apply(frame=frame, paths=["age"]),
            SelectFields.apply(frame=frame, paths=["id"]),
            RenameField.apply(frame=frame, old_name="id", new_name="key"),
            Join.apply(frame1=frame, frame2=other, keys1="id", keys2="person_id"),
            SplitFields.apply(frame=frame, paths=["id"]),
            SplitRows.apply(frame=frame, comparison_dict={"id": {"=": "1"}}),
            UnnestFrame.apply(frame=frame),
        ),
        "run_steps": lambda: run_steps(frame, steps, frames={"orgs": other}, ledger=ledger),
    }
    counts = {name: jobs_run_by(spark, call) for name, call in calls.items()}
    assert counts == {name: 0 for name in calls}
    for tables in relationalized:
        tables.unpersist()


def _wide(spark: SparkSession, n: int) -> DataFrame:
    """``n`` columns: half top-level, half nested in structs, some null everywhere."""
    cols = []
    for i in range(n // 2):
        cols.append(F.lit(None if i % 3 == 0 else i).cast("int").alias(f"c{i}"))
    per_struct = 2
    for s in range((n - n // 2) // per_struct):
        fields = [F.lit(None if j % 2 else f"v{j}").cast("string").alias(f"f{j}")
                  for j in range(per_struct)]
        cols.append(F.struct(*fields).alias(f"s{s}"))
    return spark.range(50).select(*cols)


def test_drop_null_fields_runs_the_same_single_aggregation_for_4_and_60_columns(spark) -> None:
    """DropNullFields looks at the data once: one aggregation (one action, split by adaptive
    execution into at most two jobs) whatever the number of columns and nesting."""
    narrow, wide = _wide(spark, 4), _wide(spark, 60)
    assert len(narrow.columns) == 3 and len(wide.columns) == 45
    assert len(_leaves(narrow)) == 4 and len(_leaves(wide)) == 60
    narrow_jobs = jobs_run_by(spark, lambda: drop_null_fields(narrow))
    wide_jobs = jobs_run_by(spark, lambda: drop_null_fields(wide))
    assert narrow_jobs == wide_jobs
    assert 1 <= wide_jobs <= 2
    kept = drop_null_fields(wide)
    assert "c0" not in kept.columns and "c1" in kept.columns
    assert kept.schema["s0"].dataType.simpleString() == "struct<f0:string>"


def _leaves(df: DataFrame) -> list[str]:
    from transforms.glue.field_paths import leaf_paths

    return [".".join(p) for p, _ in leaf_paths(df.schema)]


def test_fill_missing_values_fits_with_spark_jobs_by_design(spark, frame) -> None:
    """FillMissingValues learns from the data (Glue's trains an ML model); fitting the pyspark.ml
    Imputer is therefore an action, reported here so the exception is explicit."""
    assert jobs_run_by(spark, lambda: fit_missing_values(frame, "score")) >= 1
    model = fit_missing_values(frame, "score")
    out = fill_missing_values(frame, "score", model=model)
    assert {r["id"]: r["score_filled"] for r in out.collect()} == {"1": 1.0, "2": 1.0}
