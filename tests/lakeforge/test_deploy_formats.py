"""lakeforge.deploy.formats: the Delta / Iceberg a deployed job publishes, and the Glue job
arguments, spark-submit settings and EMR classifications that give EMR and Glue those formats.
Plain functions, no AWS call and no Spark (the deploys that carry them are tested on moto in
tests/lakeforge/test_deploy_aws.py; moto does not run the Glue job or the EMR step, so whether
Glue and EMR load the jars from these settings is not tested here: docs/deploy.md)."""

from __future__ import annotations

import pytest

from lakeforge.config import load_env
from lakeforge.deploy import DeployError
from lakeforge.deploy.formats import (
    emr_configurations,
    glue_format_arguments,
    job_table_formats,
    merge_conf,
    parse_glue_conf,
    platform_conf,
)
from lakeforge.errors import ConfigError
from lakeforge.formats import (
    DELTA_CATALOG,
    DELTA_EXTENSION,
    ICEBERG_CATALOG,
    ICEBERG_EXTENSION,
    ICEBERG_GLUE_CATALOG,
    ICEBERG_S3_FILE_IO,
)

CONFIG = {"outputs": {"golden": {"table": "g", "format": "delta"},
                      "matches": {"table": "m"},
                      "contacts": {"table": "c", "format": "parquet"}}}


def test_formats_come_from_the_outputs_and_the_job_arguments_win() -> None:
    assert job_table_formats("j", config=CONFIG) == ("delta",)
    assert job_table_formats("j", ["--output_format", "iceberg"], config=CONFIG) == ("iceberg",)
    assert job_table_formats("j", ["--output_format", "parquet"], config=CONFIG) == ()
    assert job_table_formats("j", ["--outputs.matches.format", "iceberg"],
                             config=CONFIG) == ("delta", "iceberg")
    assert job_table_formats("j", ["--outputs.golden.format", "parquet", "--rows", "3"],
                             config=CONFIG) == ()
    # a config without outputs (or none at all): only the arguments say
    assert job_table_formats("j", config={}) == ()
    assert job_table_formats("j", ["--output-format", "delta"], config={}) == ("delta",)
    # the project's own jobs publish Parquet
    for job in ("customer_propensity", "csv_to_parquet", "web_sessions"):
        assert job_table_formats(job) == (), job
    assert job_table_formats("no_such_job") == ()


def test_an_unknown_format_or_bad_outputs_fail_naming_where() -> None:
    with pytest.raises(ConfigError, match=r"conf/jobs/j.yaml outputs.golden.format: output "
                                          r"format 'orc'"):
        job_table_formats("j", config={"outputs": {"golden": {"format": "orc"}}})
    with pytest.raises(ConfigError, match="job argument --output_format: output format 'hudi'"):
        job_table_formats("j", ["--output_format", "hudi"], config=CONFIG)
    with pytest.raises(DeployError, match="conf/jobs/j.yaml: outputs must be a mapping"):
        job_table_formats("j", config={"outputs": ["golden"]})


def test_platform_conf_on_glue_commits_iceberg_through_the_glue_catalog() -> None:
    env = load_env("glue")  # lake s3://lakeforge-example-bucket/lake, eu-west-1
    conf = platform_conf(("delta", "iceberg"), env)
    prefix = f"spark.sql.catalog.{ICEBERG_CATALOG}"
    assert conf["spark.sql.extensions"] == f"{DELTA_EXTENSION},{ICEBERG_EXTENSION}"
    assert conf["spark.sql.catalog.spark_catalog"] == DELTA_CATALOG
    assert conf[prefix] == "org.apache.iceberg.spark.SparkCatalog"
    assert conf[f"{prefix}.catalog-impl"] == ICEBERG_GLUE_CATALOG
    assert conf[f"{prefix}.io-impl"] == ICEBERG_S3_FILE_IO
    assert conf[f"{prefix}.warehouse"] == "s3://lakeforge-example-bucket/lake/curated"
    assert conf[f"{prefix}.client.region"] == "eu-west-1"
    # no local endpoint and no local-only Delta tuning on a platform
    assert not any(k.endswith(("glue.endpoint", "s3.endpoint")) for k in conf)
    assert "spark.databricks.delta.snapshotPartitions" not in conf
    assert platform_conf((), env) == {}
    assert set(platform_conf(("delta",), load_env("emr"))) == {
        "spark.sql.extensions", "spark.sql.catalog.spark_catalog"}


def test_glue_arguments_merge_with_the_users_conf_and_formats() -> None:
    conf = {"spark.sql.extensions": DELTA_EXTENSION,
            "spark.sql.catalog.spark_catalog": DELTA_CATALOG}
    assert glue_format_arguments((), conf) == {}
    args = glue_format_arguments(("delta",), conf, {
        "--datalake-formats": "hudi", "--conf": "spark.sql.shuffle.partitions=400"})
    assert args["--datalake-formats"] == "delta,hudi"
    assert args["--conf"] == (f"spark.sql.catalog.spark_catalog={DELTA_CATALOG} --conf "
                              f"spark.sql.extensions={DELTA_EXTENSION} --conf "
                              "spark.sql.shuffle.partitions=400")
    # what Glue hands spark-submit reads back as the same settings
    assert parse_glue_conf(args["--conf"]) == {**conf, "spark.sql.shuffle.partitions": "400"}
    # the user's own value of a setting the formats need is refused, the same value is fine
    with pytest.raises(DeployError, match=r"--conf: spark.sql.extensions='x' clashes"):
        glue_format_arguments(("delta",), conf, {"--conf": "spark.sql.extensions=x"})
    same = glue_format_arguments(("delta",), conf,
                                 {"--conf": f"spark.sql.extensions={DELTA_EXTENSION}"})
    assert parse_glue_conf(same["--conf"]) == conf


def test_glue_conf_values_are_key_value_pairs() -> None:
    assert parse_glue_conf("") == {}
    assert parse_glue_conf("a.b=1 --conf c.d=x=y") == {"a.b": "1", "c.d": "x=y"}
    with pytest.raises(DeployError, match="'nonsense' is not key=value"):
        parse_glue_conf("a.b=1 --conf nonsense")


def test_emr_classifications_enable_the_formats_on_a_new_cluster() -> None:
    hive = {"Classification": "spark-hive-site", "Properties": {"k": "v"}}
    out = emr_configurations(("delta", "iceberg"), [hive])
    assert out == [hive,
                   {"Classification": "delta-defaults", "Properties": {"delta.enabled": "true"}},
                   {"Classification": "iceberg-defaults",
                    "Properties": {"iceberg.enabled": "true"}}]
    assert emr_configurations((), [hive]) == [hive]
    mine = {"Classification": "iceberg-defaults", "Properties": {"other": "1"}}
    assert emr_configurations(("iceberg",), [mine]) == [
        {"Classification": "iceberg-defaults",
         "Properties": {"other": "1", "iceberg.enabled": "true"}}]
    assert mine["Properties"] == {"other": "1"}  # the caller's list is not changed
    with pytest.raises(DeployError, match="delta-defaults delta.enabled=false, but the job "
                                          "publishes delta tables"):
        emr_configurations(("delta",), [{"Classification": "delta-defaults",
                                         "Properties": {"delta.enabled": "false"}}])


def test_merge_conf_keeps_the_users_other_settings() -> None:
    assert merge_conf({"a": "1"}, {"b": "2"}, "--conf") == {"a": "1", "b": "2"}
    assert merge_conf({}, {}, "--conf") == {}
    with pytest.raises(DeployError, match="--conf: a='2' clashes"):
        merge_conf({"a": "1"}, {"a": "2"}, "--conf")


def test_a_broken_job_config_fails_naming_the_file(tmp_path, monkeypatch) -> None:
    (tmp_path / "envs").mkdir()
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "j.yaml").write_text("outputs: [unclosed\n", encoding="utf-8")
    (tmp_path / "jobs" / "k.yaml").write_text("outputs:\n  golden: {format: iceberg}\n",
                                              encoding="utf-8")
    monkeypatch.setenv("LAKEFORGE_CONF_DIR", str(tmp_path))
    with pytest.raises(ConfigError, match=r"jobs/j.yaml: not valid YAML at line 2"):
        job_table_formats("j")
    assert job_table_formats("k") == ("iceberg",)  # read from that conf dir
