"""Glue transforms listed by name in a job's YAML and applied in order."""

from __future__ import annotations

import pytest
import yaml
from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession

from lakeforge.errors import ConfigError
from transforms.glue import DropNullFields, ErrorLedger, ErrorThresholdExceeded
from transforms.registry import available_transforms, get_transform, run_steps

STEPS_YAML = """
steps:
  - name: ApplyMapping
    transformation_ctx: typing
    stageThreshold: 0
    mappings:
      - [id, string, id, long]
      - [price, string, price, string]
      - [address.city, string, city, string]
      - [unused, string, unused, string]
  - name: ResolveChoice
    specs: [[price, make_cols]]
    choice_types: {price: [double, string]}
  - name: drop_null_fields
  - {name: RenameField, old_name: city, new_name: town}
"""


@pytest.fixture
def raw(spark: SparkSession) -> DataFrame:
    return spark.createDataFrame(
        [("1", "9.5", ("Paris",), None), ("x", "n/a", None, None), ("3", None, ("Rome",), None)],
        "id string, price string, address struct<city:string>, unused string",
    )


def test_yaml_steps_apply_in_order(spark, raw) -> None:
    """Glue's GlueTransform name()/describe() let tools find transforms by name; a job's YAML
    lists ApplyMapping -> ResolveChoice -> DropNullFields -> RenameField with Glue's keywords."""
    steps = yaml.safe_load(STEPS_YAML)["steps"]
    ledger = ErrorLedger()
    out = run_steps(raw, steps, ledger=ledger)
    expected = spark.createDataFrame(
        [(1, 9.5, None, "Paris"), (None, None, "n/a", None), (3, None, None, "Rome")],
        "id bigint, price_double double, price_string string, town string",
    )
    out.collect()
    with pytest.raises(ErrorThresholdExceeded, match="typing"):  # "x" is not a long
        ledger.check()
    assert_df_equality(out, expected, ignore_nullable=True, ignore_row_order=True)


def test_collections_are_selected_and_joins_name_their_frame(spark, raw) -> None:
    """Glue's SelectFromCollection picks a frame from SplitFields/Relationalize output; Join
    takes its second frame by name."""
    orgs = spark.createDataFrame([(1, "acme")], "org_id bigint, org string")
    steps = [
        {"name": "ApplyMapping", "mappings": [["id", "string", "id", "long"]]},
        {"name": "Join", "frame2": "orgs", "keys1": ["id"], "keys2": ["org_id"]},
        {"name": "SplitFields", "paths": ["org"], "name1": "names", "name2": "keys"},
        {"name": "SelectFromCollection", "key": "keys"},
    ]
    out = run_steps(raw, steps, frames={"orgs": orgs})
    assert [tuple(r) for r in out.collect()] == [(1, 1)]
    # Relationalize's own "name" argument is spelled root_table_name in a step.
    root = run_steps(raw, [{"name": "Relationalize", "root_table_name": "hist_root",
                            "persist": False},
                           {"name": "SelectFromCollection", "key": "hist_root"}])
    assert root.columns == ["id", "price", "address.city", "unused"]


def test_bad_steps_are_refused_before_any_runs(spark, raw) -> None:
    """Unknown names, wrong keywords and an unselected collection are config errors naming the
    step, raised before the first step is applied."""
    with pytest.raises(ConfigError, match="Spigot writes files: call lakeforge.spigot"):
        get_transform("Spigot")
    assert get_transform("drop_null_fields") is DropNullFields
    assert get_transform("dropnullfields") is DropNullFields
    assert {t["name"] for t in available_transforms()} >= {"ApplyMapping", "Relationalize"}
    with pytest.raises(ConfigError, match="unknown Glue transform 'Explode'"):
        run_steps(raw, [{"name": "DropNullFields"}, {"name": "Explode"}])
    with pytest.raises(ConfigError, match=r"step #1 \(DropFields\)"):
        run_steps(raw, [{"name": "DropNullFields"}, {"name": "DropFields", "path": ["x"]}])
    with pytest.raises(ConfigError, match="SelectFromCollection"):
        run_steps(raw, [{"name": "SplitRows", "comparison_dict": {"id": {"=": "1"}}},
                        {"name": "DropNullFields"}])
    with pytest.raises(ConfigError, match="frame2"):
        run_steps(raw, [{"name": "Join", "frame2": "missing", "keys1": "id", "keys2": "id"}])
    with pytest.raises(ConfigError, match="'name'"):
        run_steps(raw, [{"mappings": []}])
