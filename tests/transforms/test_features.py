"""transforms.features (spec, pyspark.ml pipeline, split) and lakeforge.feature_store (YAML,
versions, SageMaker outputs)."""

from __future__ import annotations

import csv
import json
import math
import statistics
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from pyspark.ml.functions import vector_to_array
from pyspark.sql import functions as F

from lakeforge.errors import ConfigError, MissingColumnsError
from lakeforge.feature_store import (
    feature_spec_from_mapping,
    list_feature_model_versions,
    load_feature_model,
    load_feature_spec,
    save_feature_model,
    write_feature_manifest,
    write_sagemaker,
    write_sagemaker_csv,
    write_sagemaker_parquet,
)
from transforms.features import (
    FeatureInputError,
    SplitSpec,
    build_feature_manifest,
    feature_names,
    fit_feature_pipeline,
    to_sagemaker_frame,
    with_split,
)

SCHEMA = (
    "customer_id string, age double, income double, visits int, spend double, "
    "plan string, signup date, churned int"
)
ROWS = [
    ("c1", 30.0, 1000.0, 10, 50.0, "basic", date(2023, 1, 15), 0),
    ("c2", None, 2000.0, 0, 20.0, "pro", date(2023, 6, 1), 1),
    ("c3", 50.0, None, 5, 25.0, "basic", date(2024, 2, 29), 0),
    ("c4", 40.0, 4000.0, 4, None, None, date(2022, 12, 31), 1),
    ("c5", 20.0, 500.0, 2, 10.0, "pro", date(2023, 3, 3), 0),
    ("c6", 60.0, 8000.0, 8, 80.0, "basic", date(2021, 7, 4), 1),
]

SPEC_YAML = """
features:
  name: churn
  label: churned
  entity_key: [customer_id]
  handle_invalid: keep
  split: {train: 0.6, validation: 0.2, test: 0.2, seed: 11}
  steps:
    - {kind: impute, columns: [age, income], strategy: median}
    - {kind: log, columns: [income_imputed]}
    - {kind: ratio, name: spend_per_visit, numerator: spend, denominator: visits}
    - {kind: date_parts, column: signup, parts: [year, month, dayofweek]}
    - {kind: scale, method: minmax, columns: [age_imputed, income_imputed_log], output: scaled}
    - {kind: one_hot, columns: [plan]}
    - {kind: quantile_bins, columns: [visits], buckets: 2}
    - {kind: buckets, columns: [spend], splits: [-.inf, 25.0, .inf]}
    - {kind: interaction, name: visits_x_plan, columns: [visits, plan_onehot]}
"""


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "churn.yaml"
    path.write_text(SPEC_YAML)
    return path


@pytest.fixture
def spec(spec_file: Path):
    return load_feature_spec(str(spec_file))


@pytest.fixture
def data(spark):
    return spark.createDataFrame(ROWS, SCHEMA)


def _features(df, col="features"):
    return {
        r["customer_id"]: [None if math.isnan(v) else v for v in r["f"]]
        for r in df.select("customer_id", vector_to_array(col).alias("f")).collect()
    }


# --------------------------------------------------------------------------- spec


def test_spec_loads_steps_in_order_and_leaf_features(spec):
    assert spec.step_kinds == (
        "impute", "log", "ratio", "date_parts", "scale", "one_hot", "quantile_bins", "buckets",
        "interaction",
    )
    # plan_onehot feeds the interaction but is not consumed otherwise -> it is no leaf.
    assert spec.feature_columns() == [
        "spend_per_visit", "signup_year", "signup_month", "signup_dayofweek", "scaled",
        "visits_qbin", "spend_bucket", "visits_x_plan",
    ]
    assert spec.split == SplitSpec(train=0.6, validation=0.2, test=0.2, seed=11)


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"steps": [{"kind": "explode"}]}, "'features.steps[0].kind' is 'explode'"),
        ({"steps": [{"kind": "log", "cols": ["a"]}]}, "unknown key 'features.steps[0].cols'"),
        ({"steps": [{"kind": "log", "columns": []}]}, "features.steps[0]' needs at least one"),
        (
            {"steps": [{"kind": "buckets", "columns": ["a"], "splits": [0, 2, 1]}]},
            "strictly increasing",
        ),
        (
            {"steps": [{"kind": "log", "columns": ["a"]}, {"kind": "log", "columns": ["a"]}]},
            "produces column 'a_log', already produced by features.steps[0]",
        ),
        ({"split": {"train": 0.5, "validation": 0.2, "test": 0.2}}, "sum to 1"),
        ({"split": {"method": "random"}}, "'features.split.method' is 'random'"),
        ({"entity_key": []}, "entity_key"),
        ({"steps": [{"kind": "date_parts", "column": "d", "parts": ["decade"]}]}, "decade"),
    ],
)
def test_spec_rejects_bad_config_naming_the_key(tmp_path, patch, message):
    data = yaml.safe_load(SPEC_YAML)["features"]
    data.update(patch)
    with pytest.raises(ConfigError, match="churn.yaml") as err:
        feature_spec_from_mapping(data, str(tmp_path / "churn.yaml"))
    assert message in str(err.value)


def test_pipeline_rejects_missing_input_and_clashing_output(spark, spec, data):
    with pytest.raises(MissingColumnsError, match=r"\['spend'\].*features.steps\[2\] \(ratio\)"):
        fit_feature_pipeline(data.drop("spend"), spec)
    with pytest.raises(ConfigError, match="scaled"):
        fit_feature_pipeline(data.withColumn("scaled", F.lit(1.0)), spec)


# --------------------------------------------------------------------------- pipeline values


def test_each_stage_computes_the_expected_values(spark, spec, data):
    model = fit_feature_pipeline(data, spec)
    out = model.transform(data)
    rows = {r["customer_id"]: r for r in out.collect()}
    # Imputer median of age [20, 30, 40, 50, 60] -> 40; income median of 5 values -> 2000.
    assert rows["c2"]["age_imputed"] == 40.0
    assert rows["c3"]["income_imputed"] == 2000.0
    assert rows["c1"]["income_imputed_log"] == pytest.approx(math.log1p(1000.0))
    assert rows["c1"]["spend_per_visit"] == 5.0
    assert rows["c2"]["spend_per_visit"] is None  # zero visits -> null, not an error
    assert rows["c4"]["spend_per_visit"] is None  # null spend
    assert (rows["c3"]["signup_year"], rows["c3"]["signup_month"]) == (2024.0, 2.0)
    assert rows["c1"]["signup_dayofweek"] == 1.0  # 2023-01-15 was a Sunday
    scaled = {k: list(r["scaled"]) for k, r in rows.items()}
    assert scaled["c5"][0] == 0.0 and scaled["c6"][0] == 1.0  # min-max on age
    assert all(0.0 <= v <= 1.0 for vals in scaled.values() for v in vals)
    assert rows["c1"]["spend_bucket"] == 1.0 and rows["c5"]["spend_bucket"] == 0.0
    assert rows["c4"]["spend_bucket"] is None  # null stays null (NaN would get the extra bucket)
    assert {r["visits_qbin"] for r in rows.values()} == {0.0, 1.0}
    names = feature_names(out.schema, spec)
    assert names[:4] == ["spend_per_visit", "signup_year", "signup_month", "signup_dayofweek"]
    assert names[4:6] == ["scaled_age_imputed", "scaled_income_imputed_log"]
    assert names[-3:] == [
        "visits_x_plan_visits_plan_onehot_basic",
        "visits_x_plan_visits_plan_onehot_pro",
        "visits_x_plan_visits_plan_onehot___unknown",
    ]
    assert len(names) == len(_features(out)["c1"])


def test_unseen_and_null_categories_go_to_the_unknown_slot(spark, data):
    spec = feature_spec_from_mapping(
        {"name": "p", "label": "churned", "entity_key": ["customer_id"],
         "steps": [{"kind": "one_hot", "columns": ["plan"]}]},
        "inline",
    )
    model = fit_feature_pipeline(data.filter("plan IS NOT NULL"), spec)
    new = spark.createDataFrame(
        [("n1", "basic"), ("n2", "enterprise"), ("n3", None), ("n4", "pro")],
        "customer_id string, plan string",
    )
    out = model.transform(new)
    assert feature_names(out.schema, spec) == [
        "plan_onehot_basic", "plan_onehot_pro", "plan_onehot___unknown"
    ]
    assert _features(out) == {
        "n1": [1.0, 0.0, 0.0],
        "n2": [0.0, 0.0, 1.0],
        "n3": [0.0, 0.0, 1.0],
        "n4": [0.0, 1.0, 0.0],
    }


def test_null_feature_fails_loudly_with_handle_invalid_error(spark, data):
    spec = feature_spec_from_mapping(
        {"name": "r", "label": "churned", "entity_key": ["customer_id"],
         "steps": [{"kind": "ratio", "name": "spv", "numerator": "spend",
                    "denominator": "visits"}]},
        "inline",
    )
    out = fit_feature_pipeline(data, spec).transform(data)
    with pytest.raises(Exception, match="(?i)null|NaN"):
        out.select("features").collect()


# --------------------------------------------------------------------------- versions


def test_saved_pipeline_reloads_and_gives_identical_output(spark, spec, data, lake):
    train = data.filter(F.col("customer_id").isin("c1", "c2", "c3", "c4"))
    model = fit_feature_pipeline(train, spec)
    ref = save_feature_model(model, spec, lake=lake, version="1")
    save_feature_model(model, spec, lake=lake, version="2")
    assert list_feature_model_versions(lake, "churn") == ["1", "2"]
    assert json.loads(Path(ref.spec_uri).read_text())["features"] == spec.feature_columns()

    loaded, loaded_ref = load_feature_model(lake=lake, name="churn", version="1")
    assert loaded_ref == ref
    # Rows the pipeline never saw (c5, c6) included: same vectors to the last bit.
    assert _features(loaded.transform(data)) == _features(model.transform(data))
    assert load_feature_model(lake=lake, name="churn")[1].version == "2"

    with pytest.raises(ConfigError, match="immutable"):
        save_feature_model(model, spec, lake=lake, version="1")
    with pytest.raises(ConfigError, match=r"no version '9'; have \['1', '2'\]"):
        load_feature_model(lake=lake, name="churn", version="9")
    with pytest.raises(ConfigError, match="no saved feature pipeline"):
        load_feature_model(lake=lake, name="other")


# --------------------------------------------------------------------------- split


@pytest.fixture
def population(spark):
    """400 entities, 25% positive, plus a null-label stratum of 9."""
    return spark.range(409).select(
        F.format_string("k%05d", "id").alias("customer_id"),
        F.when(F.col("id") >= 400, None).when(F.col("id") % 4 == 0, 1).otherwise(0)
        .alias("churned"),
    )


def _assignments(df):
    return {r["customer_id"]: r["split"] for r in df.select("customer_id", "split").collect()}


def test_stratified_split_is_deterministic_and_exact_per_stratum(spark, population):
    split = SplitSpec(train=0.7, validation=0.15, test=0.15, seed=3)
    first = with_split(population, key=["customer_id"], split=split, stratify_by="churned")
    shuffled = population.repartition(3, "churned").orderBy(F.rand(5))
    second = with_split(shuffled, key=["customer_id"], split=split, stratify_by="churned")
    assert _assignments(first) == _assignments(second)
    assert first.count() == 409  # nothing dropped, nulls included
    counts = {
        (r["churned"], r["split"]): r["count"]
        for r in first.groupBy("churned", "split").count().collect()
    }
    for label, n in ((1, 100), (0, 300), (None, 9)):
        assert abs(counts.get((label, "train"), 0) - 0.7 * n) <= 1
        assert abs(counts.get((label, "validation"), 0) - 0.15 * n) <= 1
        assert sum(counts.get((label, s), 0) for s in ("train", "validation", "test")) == n
    other_seed = with_split(population, key=["customer_id"], split=SplitSpec(seed=4),
                            stratify_by="churned")
    assert _assignments(other_seed) != _assignments(first)


def test_hash_split_keeps_each_key_in_its_split_when_data_grows(spark, population):
    split = SplitSpec(method="hash", seed=3)
    small = _assignments(with_split(population.limit(100), key=["customer_id"], split=split,
                                    stratify_by="churned"))
    full = _assignments(with_split(population, key=["customer_id"], split=split,
                                   stratify_by="churned"))
    assert all(full[k] == v for k, v in small.items())
    share = sum(v == "train" for v in full.values()) / len(full)
    assert 0.6 < share < 0.8


def test_split_without_validation_and_bad_input(spark, population):
    split = SplitSpec(train=0.8, validation=0.0, test=0.2)
    out = with_split(population, key=["customer_id"], split=split, stratify_by="churned")
    assert {r["split"] for r in out.select("split").distinct().collect()} == {"train", "test"}
    with pytest.raises(MissingColumnsError, match="customer"):
        with_split(population, key=["customer"], split=split)
    with pytest.raises(ConfigError, match="'split' already exists"):
        with_split(out, key=["customer_id"], split=split)


@pytest.fixture
def contacts(spark):
    """Several rows per entity with different labels: 300 customers, each with a label-0 contact;
    every third also has a label-1 contact, every fifth a second label-0 contact, and c00007 a
    null-label contact. 100 entities are mixed, so a per-row stratum would cut them apart."""
    base = spark.range(300).select(F.format_string("c%05d", "id").alias("customer_id"),
                                   F.col("id"))
    rows = (base.select("customer_id", F.lit(0).alias("churned"))
            .unionByName(base.where("id % 3 = 0").select("customer_id", F.lit(1).alias("churned")))
            .unionByName(base.where("id % 5 = 0").select("customer_id", F.lit(0).alias("churned")))
            .unionByName(base.where("id = 7").select("customer_id",
                                                      F.lit(None).cast("int").alias("churned"))))
    return rows


def test_stratified_split_keeps_each_entity_in_one_split(spark, contacts):
    split = SplitSpec(train=0.7, validation=0.15, test=0.15, seed=3)
    out = with_split(contacts, key=["customer_id"], split=split, stratify_by="churned")
    assert out.count() == contacts.count() == 461  # every row kept, the null label included
    spread = out.groupBy("customer_id").agg(F.countDistinct("split").alias("n"))
    assert spread.where("n > 1").count() == 0
    assert spread.count() == 300
    # Deterministic whatever the row order or partitioning.
    shuffled = contacts.repartition(4, "churned").orderBy(F.rand(9))
    again = with_split(shuffled, key=["customer_id"], split=split, stratify_by="churned")
    assert _assignments(out) == _assignments(again)
    # Still stratified: each split holds its fraction of the rows, and its share of label-1 rows
    # is close to the whole's (100 of the 460 labelled rows). Entities are stratified exactly;
    # rows only as closely as the rows per entity vary (validation holds ~70 rows here).
    rows = {(r["split"], r["churned"]): r["count"]
            for r in out.groupBy("split", "churned").count().collect()}
    whole_share = 100 / 460
    for name, fraction in (("train", 0.7), ("validation", 0.15), ("test", 0.15)):
        total = sum(n for (s, _), n in rows.items() if s == name)
        assert abs(total - fraction * 461) <= 0.03 * 461, (name, total)
        share = rows.get((name, 1), 0) / (total - rows.get((name, None), 0))
        assert abs(share - whole_share) <= 0.04, (name, share)
    # Entities per split: an entity's stratum is its most frequent label, ties to the greatest
    # (c00003: 0 and 1 -> 1; c00015: 0, 0 and 1 -> 0; c00007: 0 and null -> 0), so 80 entities
    # are in stratum 1 and 220 in stratum 0; each stratum splits 70/15/15 to within one entity.
    labels: dict[str, list[int | None]] = {}
    for r in contacts.collect():
        labels.setdefault(r["customer_id"], []).append(r["churned"])
    def stratum(values):
        return max(set(values), key=lambda v: (values.count(v), v is not None, v or 0))
    strata = {k: stratum(v) for k, v in labels.items()}
    assert (strata["c00003"], strata["c00015"], strata["c00007"]) == (1, 0, 0)
    assignments = _assignments(out)
    for value, n in ((1, 80), (0, 220)):
        assert sum(s == value for s in strata.values()) == n
        for name, fraction in (("train", 0.7), ("validation", 0.15), ("test", 0.15)):
            got = sum(1 for k, s in strata.items() if s == value and assignments[k] == name)
            assert abs(got - fraction * n) <= 1, (value, name, got)


def test_stratified_split_of_empty_frame_and_null_keys(spark):
    empty = spark.createDataFrame([], "customer_id string, churned int")
    split = SplitSpec(train=0.6, validation=0.2, test=0.2, seed=1)
    out = with_split(empty, key=["customer_id"], split=split, stratify_by="churned")
    assert out.columns == ["customer_id", "churned", "split"]
    assert out.collect() == []
    # A null key is one entity (as the hash sees it): all its rows share one split.
    nulls = spark.createDataFrame(
        [(None, 0), (None, 1), (None, None), ("a", 1), ("a", 0), ("b", None)],
        "customer_id string, churned int",
    )
    got = with_split(nulls, key=["customer_id"], split=split, stratify_by="churned")
    assert got.count() == 6
    per_key: dict[str | None, set[str]] = {}
    for r in got.collect():
        per_key.setdefault(r["customer_id"], set()).add(r["split"])
    assert set(per_key) == {None, "a", "b"}
    assert all(len(v) == 1 for v in per_key.values()), per_key


# --------------------------------------------------------------------------- SageMaker outputs


def _read_csv_rows(folder: str) -> list[list[str]]:
    rows: list[list[str]] = []
    for part in sorted(Path(folder).glob("part-*.csv")):
        with part.open() as fh:
            rows.extend(csv.reader(fh))
    return rows


def test_sagemaker_csv_parquet_and_manifest_match(spark, spec, data, lake):
    model = fit_feature_pipeline(data, spec)
    out = model.transform(data)
    names = feature_names(out.schema, spec)
    csv_dir = lake.path("features", "churn", "train_csv")
    pq_dir = lake.path("features", "churn", "train_parquet")
    assert write_sagemaker_csv(out, csv_dir, label="churned", lake=lake,
                               feature_names=names) == csv_dir
    assert write_sagemaker(out, pq_dir, file_format="parquet", label="churned", lake=lake,
                           feature_names=names) == pq_dir
    manifest = build_feature_manifest(
        out, spec, version="1", files={"csv": csv_dir, "parquet": pq_dir}
    )
    manifest_uri = lake.path("features", "churn", "manifest.json")
    write_feature_manifest(manifest, manifest_uri, lake=lake)
    manifest = json.loads(Path(manifest_uri).read_text())

    # CSV: no header, label first, numeric only, one field per manifest column.
    assert not list(Path(csv_dir).glob("_SUCCESS"))
    rows = _read_csv_rows(csv_dir)
    assert len(rows) == len(ROWS)
    assert all(len(r) == len(manifest["columns"]) for r in rows)
    for r in rows:
        for value in r:
            assert value == "" or math.isfinite(float(value))
    expected = {c: float(ch) for (c, *_rest, ch) in ROWS}
    assert sorted(float(r[0]) for r in rows) == sorted(expected.values())

    # Parquet: label + one double column per feature, in manifest order, no vectors.
    table = pq.read_table(pq_dir)
    assert table.schema.names == manifest["columns"]
    assert {str(t) for t in table.schema.types} == {"double"}
    def key(row):
        return [(v is None, v or 0.0) for v in row]

    by_csv = sorted(([None if v == "" else float(v) for v in r] for r in rows), key=key)
    by_pq = sorted(
        (list(r) for r in zip(*[table.column(c).to_pylist() for c in manifest["columns"]],
                              strict=True)),
        key=key,
    )
    assert by_csv == by_pq

    # Manifest statistics agree with the file contents.
    assert manifest["label"] == {"name": "churned", "index": 0}
    assert [f["name"] for f in manifest["features"]] == names == manifest["columns"][1:]
    for feat in manifest["features"]:
        values = [v for v in table.column(feat["name"]).to_pylist() if v is not None]
        assert feat["statistics"]["count"] == len(values)
        assert feat["statistics"]["nulls"] == len(ROWS) - len(values)
        assert feat["statistics"]["min"] == min(values)
        assert feat["statistics"]["max"] == max(values)
        assert feat["statistics"]["mean"] == pytest.approx(statistics.fmean(values))
        if len(values) > 1:
            assert feat["statistics"]["stddev"] == pytest.approx(statistics.stdev(values),
                                                                 abs=1e-12)
    by_name = {f["name"]: f for f in manifest["features"]}
    assert by_name["spend_per_visit"]["statistics"]["nulls"] == 2
    assert by_name["scaled_age_imputed"]["source_column"] == "scaled"
    assert by_name["scaled_age_imputed"]["source_stage"] == "scale"
    assert by_name["visits_x_plan_visits_plan_onehot_pro"]["source_stage"] == "interaction"


def test_sagemaker_writers_reject_bad_labels_and_paths(spark, spec, data, lake, tmp_path):
    out = fit_feature_pipeline(data, spec).transform(data)
    names = feature_names(out.schema, spec)
    target = lake.path("features", "x")
    with pytest.raises(FeatureInputError, match="'churned' has null values"):
        write_sagemaker_csv(out.withColumn("churned", F.when(F.col("churned") == 1, 1)),
                            target, label="churned", lake=lake, feature_names=names)
    with pytest.raises(FeatureInputError, match="'plan' is string"):
        to_sagemaker_frame(out, label="plan", feature_names=names)
    with pytest.raises(FeatureInputError, match="2 feature names"):
        to_sagemaker_frame(out, label="churned", feature_names=names[:2])
    with pytest.raises(ConfigError, match="outside the lake"):
        write_sagemaker_parquet(out, str(tmp_path / "elsewhere"), label="churned", lake=lake,
                                feature_names=names)
    with pytest.raises(ConfigError, match=r"format 'json': use one of \['csv', 'parquet'\]"):
        write_sagemaker(out, target, file_format="json", label="churned",  # type: ignore[arg-type]
                        lake=lake, feature_names=names)
    assert not Path(target).exists()


def test_empty_training_data_gives_a_manifest_with_zero_rows(spark, data):
    spec = feature_spec_from_mapping(
        {"name": "e", "label": "churned", "entity_key": ["customer_id"],
         "steps": [{"kind": "log", "columns": ["spend"]}], "handle_invalid": "keep"},
        "inline",
    )
    model = fit_feature_pipeline(data, spec)
    manifest = build_feature_manifest(model.transform(data.limit(0)), spec, version="v")
    assert manifest["training_rows"] == 0
    assert manifest["features"][0]["statistics"]["count"] == 0
    assert manifest["features"][0]["statistics"]["mean"] is None


def test_manifest_counts_a_null_feature_vector_as_a_null_in_every_slot(spark, spec, data):
    """A row whose assembled vector is null (not NaN) still counts among the training rows,
    as a null in every slot; the other rows' values make the statistics."""
    out = fit_feature_pipeline(data, spec).transform(data)
    col = spec.output_col  # its metadata names the slots: kept
    nulled = out.withColumn(col, F.when(F.col("customer_id") != "c1", F.col(col))
                            .alias(col, metadata=out.schema[col].metadata))
    manifest = build_feature_manifest(nulled, spec, version="v")
    assert manifest["training_rows"] == len(ROWS)
    others = [v for cid, v in _features(out, spec.output_col).items() if cid != "c1"]
    for feat in manifest["features"]:
        values = [row[feat["index"] - 1] for row in others]
        values = [v for v in values if v is not None]
        assert feat["statistics"]["count"] == len(values)
        assert feat["statistics"]["nulls"] == len(ROWS) - len(values)
        assert feat["statistics"]["max"] == (max(values) if values else None)


# --------------------------------------------------------------------------- split: small strata


def _split_counts(df, by=None):
    cols = ["split"] + ([by] if by else [])
    return {tuple(r[c] for c in cols): r["count"] for r in df.groupBy(*cols).count().collect()}


@pytest.mark.parametrize("label", ["id * 1.37 + 0.01", "id"], ids=["continuous", "distinct_ints"])
def test_stratified_split_pools_one_entity_strata_and_still_fills_every_split(spark, label):
    """100 entities, each with its own label value (a continuous double, or distinct integers):
    every stratum is too small for its own cut points, so they are pooled into one stratum cut
    at the fractions (before, every entity went to train)."""
    df = spark.range(100).select(F.format_string("k%03d", "id").alias("customer_id"),
                                 F.expr(label).alias("y"))
    split = SplitSpec(train=0.7, validation=0.15, test=0.15, seed=5)
    out = with_split(df, key=["customer_id"], split=split, stratify_by="y")
    counts = _split_counts(out)
    assert out.count() == 100
    assert abs(counts[("train",)] - 70) <= 1
    assert abs(counts[("validation",)] - 15) <= 1
    assert abs(counts[("test",)] - 15) <= 1
    assert _assignments(out) == _assignments(
        with_split(df.orderBy(F.rand(2)), key=["customer_id"], split=split, stratify_by="y"))


def test_stratified_split_pools_a_continuous_label_and_broadcasts_its_stratum_tables(
        spark, capsys):
    """100 distinct doubles (and NaN) are one pooled stratum, cut 70/15/15. The per-stratum
    tables (one row per integral label value, plus the pool) are joined by broadcast: a
    shuffle join would hash every row by its stratum, so a binary label would leave the rows
    in two partitions (two writing tasks, empty files in the SageMaker channels)."""
    df = spark.range(110).select(
        F.format_string("k%03d", "id").alias("customer_id"),
        F.when(F.col("id") < 100, F.col("id") * 1.37 + 0.01).otherwise(F.lit(float("nan")))
        .alias("y"))
    split = SplitSpec(train=0.7, validation=0.15, test=0.15, seed=5)
    out = with_split(df, key=["customer_id"], split=split, stratify_by="y")
    # as on a job's data, whose size Spark cannot estimate: no broadcast unless asked for
    conf = spark.conf.get("spark.sql.autoBroadcastJoinThreshold")
    spark.conf.set("spark.sql.autoBroadcastJoinThreshold", "-1")
    try:
        out.explain(extended=True)
    finally:
        spark.conf.set("spark.sql.autoBroadcastJoinThreshold", conf)
    plans = capsys.readouterr().out
    assert plans.count("BroadcastHashJoin") >= 2 and "SortMergeJoin" not in plans
    counts = _split_counts(out)
    assert abs(counts[("train",)] - 77) <= 1
    assert abs(counts[("validation",)] - 16.5) <= 1
    assert abs(counts[("test",)] - 16.5) <= 1


def test_stratified_split_keeps_integral_double_labels_as_strata(spark):
    """A 0.0/1.0 double label is still stratified per value (integral values are classes)."""
    df = spark.range(200).select(F.format_string("k%03d", "id").alias("customer_id"),
                                 (F.col("id") % 4 == 0).cast("double").alias("y"))
    out = with_split(df, key=["customer_id"], split=SplitSpec(seed=8), stratify_by="y")
    counts = _split_counts(out, "y")
    for value, n in ((1.0, 50), (0.0, 150)):
        assert abs(counts[("train", value)] - 0.7 * n) <= 1
        assert abs(counts[("validation", value)] - 0.15 * n) <= 1
        assert abs(counts[("test", value)] - 0.15 * n) <= 1


def test_stratified_split_with_a_rare_class_of_five_keeps_overall_fractions(spark):
    """Classes of 300, 200 and 5 entities: the two large ones are cut exactly, the rare one (too
    small for its own cut points, and alone in the pool) by the fixed hash cut points."""
    df = spark.range(505).select(
        F.format_string("k%03d", "id").alias("customer_id"),
        F.when(F.col("id") < 300, 0).when(F.col("id") < 500, 1).otherwise(2).alias("y"))
    out = with_split(df, key=["customer_id"], split=SplitSpec(seed=3), stratify_by="y")
    counts = _split_counts(out, "y")
    for value, n in ((0, 300), (1, 200)):
        assert abs(counts.get(("train", value), 0) - 0.7 * n) <= 1
        assert abs(counts.get(("validation", value), 0) - 0.15 * n) <= 1
    assert sum(n for (_, y), n in counts.items() if y == 2) == 5
    totals = _split_counts(out)
    assert out.count() == 505
    for name, fraction in (("train", 0.7), ("validation", 0.15), ("test", 0.15)):
        assert abs(totals[(name,)] - fraction * 505) <= 6, (name, totals)
    # The rare class follows the fixed cut points: the same as method 'hash' gives it.
    hashed = _assignments(with_split(df, key=["customer_id"],
                                     split=SplitSpec(seed=3, method="hash")))
    rare = {k: v for k, v in _assignments(out).items() if k >= "k500"}
    assert rare == {k: hashed[k] for k in rare}


# --------------------------------------------------------------------------- null inputs


def _inline_spec(steps, handle_invalid="error"):
    return feature_spec_from_mapping(
        {"name": "n", "label": "y", "entity_key": ["customer_id"], "steps": steps,
         "handle_invalid": handle_invalid},
        "inline",
    )


@pytest.fixture
def with_null_a(spark):
    return spark.createDataFrame(
        [("r1", 10.0, 1.0, 0), ("r2", None, 2.0, 1), ("r3", 30.0, 3.0, 0), ("r4", 40.0, 4.0, 1)],
        "customer_id string, a double, b double, y int",
    )


def test_scale_keep_fits_on_complete_rows_and_leaves_nan_only_in_the_null_slot(
        spark, with_null_a):
    spec = _inline_spec([{"kind": "scale", "columns": ["a", "b"], "output": "s"}], "keep")
    out = _features(fit_feature_pipeline(with_null_a, spec).transform(with_null_a))
    # Mean/std from r1, r3, r4 (the rows with both inputs), not NaN from r2's null.
    a, b = [10.0, 30.0, 40.0], [1.0, 3.0, 4.0]
    for cid, (x, z) in {"r1": (10.0, 1.0), "r3": (30.0, 3.0), "r4": (40.0, 4.0)}.items():
        assert out[cid] == pytest.approx([(x - statistics.fmean(a)) / statistics.stdev(a),
                                          (z - statistics.fmean(b)) / statistics.stdev(b)])
    assert out["r2"][0] is None  # NaN in a's slot only
    assert out["r2"][1] == pytest.approx((2.0 - statistics.fmean(b)) / statistics.stdev(b))

    minmax = _inline_spec(
        [{"kind": "scale", "method": "minmax", "columns": ["a"], "output": "m"}], "keep")
    got = _features(fit_feature_pipeline(with_null_a, minmax).transform(with_null_a))
    assert got == {"r1": [0.0], "r2": [None], "r3": [pytest.approx(2 / 3)], "r4": [1.0]}


def test_scale_with_handle_invalid_error_fails_at_fit_naming_the_column(spark, with_null_a):
    spec = _inline_spec([{"kind": "scale", "columns": ["b", "a"], "output": "s"}])
    with pytest.raises(Exception, match=r"features.steps\[0\] \(scale 's'\): column 'a' is null"):
        fit_feature_pipeline(with_null_a, spec)
    # Fitted on complete rows, the same check fails on new data with a NaN.
    model = fit_feature_pipeline(with_null_a.where("a IS NOT NULL"), spec)
    nan_row = with_null_a.withColumn("a", F.when(F.col("customer_id") != "r3", F.col("a"))
                                     .otherwise(F.lit(float("nan"))))
    with pytest.raises(Exception, match=r"column 'a' is null or NaN"):
        model.transform(nan_row.where("a IS NOT NULL")).collect()
    # Empty input fits and transforms to nothing (no row to check).
    assert model.transform(with_null_a.limit(0)).collect() == []


@pytest.mark.parametrize("handle_invalid", ["error", "keep"])
def test_scale_takes_the_vector_output_of_an_earlier_step(spark, with_null_a, handle_invalid):
    """scale over an interaction's vector: the null/NaN check casts plain columns only (a vector
    cannot be cast to double); keep also leaves NaN in the slot of a missing plain input."""
    data = with_null_a.where("a IS NOT NULL").withColumn(
        "c", F.when(F.col("customer_id") != "r4", F.col("b") * 2))
    steps = [{"kind": "interaction", "name": "ab", "columns": ["a", "b"]},
             {"kind": "scale", "method": "minmax", "columns": ["ab", "c"], "output": "s"}]
    spec = _inline_spec(steps, handle_invalid)
    if handle_invalid == "error":
        data = data.where("c IS NOT NULL")
    model = fit_feature_pipeline(data, spec)
    got = _features(model.transform(data), "s")
    # ab: 10, 90 (r1, r3), and 160 (r4); c: 2, 6 (r4's c is null under keep).
    assert got["r1"] == [0.0, 0.0] and got["r3"][1] == 1.0
    if handle_invalid == "error":
        assert got["r3"][0] == 1.0 and "r4" not in got
    else:  # min/max from r1 and r3, the rows with every input present
        assert got["r3"][0] == 1.0
        assert got["r4"] == [pytest.approx(150 / 80), None]


def test_scale_with_handle_invalid_error_fails_on_a_null_vector_naming_the_column(spark):
    from pyspark.ml.linalg import Vectors, VectorUDT
    from pyspark.sql import types as T

    schema = T.StructType([T.StructField("customer_id", T.StringType()),
                           T.StructField("v", VectorUDT()), T.StructField("y", T.IntegerType())])
    rows = [("r1", Vectors.dense([1.0, 2.0]), 0), ("r2", None, 1),
            ("r3", Vectors.dense([3.0, 5.0]), 0)]
    df = spark.createDataFrame(rows, schema)
    spec = _inline_spec([{"kind": "scale", "columns": ["v"], "output": "s"}])
    with pytest.raises(Exception, match=r"features.steps\[0\] \(scale 's'\): column 'v' is null;"):
        fit_feature_pipeline(df, spec)
    model = fit_feature_pipeline(df.where("v IS NOT NULL"), spec)
    assert set(_features(model.transform(df.where("v IS NOT NULL")), "s")) == {"r1", "r3"}


def test_scale_keep_without_a_complete_training_row_names_the_step_and_columns(spark):
    df = spark.createDataFrame([("r1", 1.0, None, 0), ("r2", None, 2.0, 1)],
                               "customer_id string, a double, b double, y int")
    spec = _inline_spec([{"kind": "scale", "columns": ["a", "b"], "output": "s"}], "keep")
    with pytest.raises(FeatureInputError, match=r"^features.steps\[0\] \(scale 's'\): no training "
                                                r"row has all of \['a', 'b'\] present"):
        fit_feature_pipeline(df, spec)


@pytest.mark.parametrize("handle_invalid", ["error", "keep"])
def test_interaction_with_a_null_input_fails_naming_the_column(
        spark, with_null_a, handle_invalid):
    spec = _inline_spec([{"kind": "interaction", "name": "ab", "columns": ["b", "a"]}],
                        handle_invalid)
    model = fit_feature_pipeline(with_null_a, spec)
    complete = with_null_a.where("a IS NOT NULL")
    assert _features(model.transform(complete)) == {"r1": [10.0], "r3": [90.0], "r4": [160.0]}
    with pytest.raises(Exception, match=r"features.steps\[0\] \(interaction 'ab'\): "
                                        r"column 'a' is null; .*impute"):
        model.transform(with_null_a).collect()


# --------------------------------------------------------------------------- version order


def test_latest_saved_version_loads_whatever_its_name_sorts_like(spark, spec, data, lake):
    model = fit_feature_pipeline(data, spec)
    for version in ("v1", "1.9", "1.10"):
        ref = save_feature_model(model, spec, lake=lake, version=version)
        assert "created_at" in json.loads(Path(ref.spec_uri).read_text())
    assert list_feature_model_versions(lake, "churn") == ["v1", "1.9", "1.10"]
    assert load_feature_model(lake=lake, name="churn")[1].version == "1.10"
    # A version saved before save times were recorded counts as older, in text order.
    old = Path(ref.uri).parent / "v=zz-old"
    (old / "pipeline").mkdir(parents=True)
    (old / "feature_spec.json").write_text(json.dumps({"name": "churn"}))
    assert list_feature_model_versions(lake, "churn") == ["zz-old", "v1", "1.9", "1.10"]
    assert load_feature_model(lake=lake, name="churn")[1].version == "1.10"
