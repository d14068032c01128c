"""Glue scripts run on Lakeforge's runtime, on generated data of the us-legislators schema,
checked against the same steps done with Lakeforge's DataFrame transforms.

* ``glue_scripts/legislators_history.py`` (written for these tests) makes the calls of AWS's
  join_and_relationalize example; it runs in CI.
* AWS's own samples (aws-samples/aws-glue-samples, not in this repository and not downloadable
  in CI) run unmodified when ``$LAKEFORGE_GLUE_SAMPLES_DIR`` holds ``join_and_relationalize.py``
  and ``GlueUnitTestingLocalSample/``; otherwise those tests are skipped saying so.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame
from pyspark.sql import functions as F  # noqa: N812

from lakeforge.glue_local.sample_data import LEGISLATOR_TABLES, write_legislators
from transforms.glue import drop_fields, join, relationalize, rename_field

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SAMPLES_ENV_VAR = "LAKEFORGE_GLUE_SAMPLES_DIR"
TARGET = "s3://glue-sample-target/output-dir"


@pytest.fixture
def legislators(glue_context: Any, spark: Any) -> dict[str, DataFrame]:
    """Generated persons/memberships/organizations crawled into ``legislators.*_json``."""
    from lakeforge.crawler import crawl

    runtime = glue_context._runtime
    folders = write_legislators(Path(runtime.s3_root()) / "awsglue-datasets/legislators",
                                persons=30)
    catalog = runtime.catalog
    if not catalog.database_exists("legislators"):
        catalog.create_database("legislators")
    for _name, folder in folders.items():
        crawl(str(folder), database="legislators", catalog=catalog)
    return {name: spark.read.json(str(folders[name])) for name in LEGISLATOR_TABLES}


def reference_history(tables: dict[str, DataFrame]) -> DataFrame:
    """The example's steps with transforms.glue on DataFrames; a field both joined frames
    have (links, image) takes the organisation's value unless null, as the runtime's join."""
    orgs = rename_field(rename_field(drop_fields(tables["organizations_json"],
                                                 paths=["other_names", "identifiers"]),
                                     old_name="id", new_name="org_id"),
                        old_name="name", new_name="org_name")
    orgs = orgs.withColumnRenamed("links", "o_links").withColumnRenamed("image", "o_image")
    people = join(tables["persons_json"], tables["memberships_json"], keys1=["id"],
                  keys2=["person_id"])
    joined = join(orgs, people, keys1=["org_id"], keys2=["organization_id"])
    joined = (joined.withColumn("links", F.coalesce("o_links", "links"))
              .withColumn("image", F.coalesce("o_image", "image")).drop("o_links", "o_image"))
    return drop_fields(joined, paths=["person_id", "org_id"])


def _check_outputs(spark: Any, expected: DataFrame) -> None:
    for folder in ("legislator_history", "legislator_single", "legislator_part"):
        got = spark.read.parquet(f"{TARGET}/{folder}")
        assert_df_equality(got, expected.select(*got.columns), ignore_row_order=True,
                           ignore_nullable=True)
    single = spark.read.parquet(f"{TARGET}/legislator_single").inputFiles()
    assert len(single) == 1
    parts = spark.read.parquet(f"{TARGET}/legislator_part")
    assert sorted(r.org_name for r in parts.select("org_name").distinct().collect()) == [
        "House of Representatives", "Senate"]


def test_legislators_script_matches_dataframe_transforms(
        glue_context: Any, spark: Any, legislators: dict[str, DataFrame]) -> None:
    from lakeforge.glue_local.runner import run_glue_script

    run_glue_script(HERE / "glue_scripts/legislators_history.py",
                    ["--JOB_NAME", "legislators", "--database", "legislators",
                     "--target", TARGET], runtime=glue_context._runtime)
    expected = reference_history(legislators)
    assert expected.count() > 30
    _check_outputs(spark, expected)
    reference = relationalize(expected, root_table_name="hist_root", persist=False)
    for name, table in reference.items():
        got = spark.read.parquet(f"{TARGET}/relational/{name}")
        assert got.count() == table.count(), name
        values = [c for c in table.columns if c not in ("id", "index") and
                  dict(table.dtypes)[c] != "bigint"]
        # chispa sorts rows by column name unquoted: give dotted names plain aliases.
        values = [F.col(f"`{c}`").alias(c.replace(".", "__")) for c in values]
        assert_df_equality(got.select(*values), table.select(*values), ignore_row_order=True,
                           ignore_nullable=True)


def test_script_with_a_missing_argument_fails_naming_it(glue_context: Any) -> None:
    from lakeforge.glue_local.errors import GlueArgumentError
    from lakeforge.glue_local.runner import run_glue_script

    with pytest.raises(GlueArgumentError, match="--target"):
        run_glue_script(HERE / "glue_scripts/legislators_history.py",
                        ["--JOB_NAME", "j", "--database", "legislators"],
                        runtime=glue_context._runtime)


def _samples_dir() -> Path:
    folder = os.environ.get(SAMPLES_ENV_VAR)
    if not folder:
        pytest.skip(f"${SAMPLES_ENV_VAR} is not set: AWS's aws-glue-samples are not in this "
                    "repository and cannot be downloaded here")
    return Path(folder)


@pytest.mark.slow
def test_aws_join_and_relationalize_sample_unmodified(
        glue_context: Any, spark: Any, legislators: dict[str, DataFrame]) -> None:
    """Slow: AWS's example end to end (three writes and relationalize). Its last step writes
    to Redshift through a Glue connection, which does not exist locally: the runtime stops
    there with GlueApiNotImplementedError naming from_jdbc_conf (the JDBC sink excepted)."""
    from lakeforge.glue_local.errors import GlueApiNotImplementedError
    from lakeforge.glue_local.runner import run_glue_script

    script = _samples_dir() / "join_and_relationalize.py"
    with pytest.raises(GlueApiNotImplementedError, match="from_jdbc_conf"):
        run_glue_script(script, [], runtime=glue_context._runtime)
    _check_outputs(spark, reference_history(legislators))


@pytest.mark.slow
def test_aws_unit_testing_sample_with_its_own_test(tmp_path: Path) -> None:
    """Slow: AWS's GlueUnitTestingLocalSample, its test/test_glue_script.py driving its
    src/my_script.py, in a pytest subprocess (its conftest starts its own SparkContext) with
    the plugin's --glue-local; its pytest.ini addopts need pytest-cov, so they are cleared."""
    sample = _samples_dir() / "GlueUnitTestingLocalSample"
    env = {**os.environ, "LAKEFORGE_LAKE_ROOT": str(tmp_path / "lake"),
           "LAKEFORGE_CONF_DIR": str(REPO / "conf"), "PYSPARK_PYTHON": sys.executable,
           "SPARK_LOCAL_IP": "127.0.0.1"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--glue-local", "-o", "addopts=", "-p",
         "no:cacheprovider", "-q", "test/test_glue_script.py"],
        cwd=sample, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "1 passed" in done.stdout
