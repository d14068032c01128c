"""Table-format settings checked before Spark starts: ``--output_format``, the output keys
(format, merge_keys, ...), the session settings per env, the schema rule and the Glue table
shapes Athena reads. No Spark: building a session here fails the test."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml
from pyspark.sql import types as T  # noqa: N812

from jobs import customer_propensity
from lakeforge.config import load_env
from lakeforge.errors import ConfigError
from lakeforge.formats import (
    DELTA_CATALOG,
    ICEBERG_GLUE_CATALOG,
    SchemaEvolutionError,
    Target,
    check_schema_change,
    partition_predicate,
    table_format_conf,
)
from lakeforge.job import parse_job_args
from lakeforge.lifecycle.settings import with_output_format
from lakeforge.paths import Lake
from tests.jobsupport import REPO


@pytest.fixture(autouse=True)
def no_spark(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("Spark was started: the error should have come before")

    monkeypatch.setattr("lakeforge.session.build_session", refuse)


def test_output_format_argument_is_parsed_and_a_wrong_one_refused() -> None:
    assert parse_job_args(["--output_format", "delta"], "j").output_format == "delta"
    assert parse_job_args(["--output-format=iceberg"], "j").output_format == "iceberg"
    assert parse_job_args([], "j").output_format is None
    with pytest.raises(ConfigError, match=r"--output_format: output format 'orc'; use one of"):
        parse_job_args(["--output_format", "orc"], "j")


def _config(tmp_path: Path, edit) -> str:  # type: ignore[no-untyped-def]
    data = yaml.safe_load((REPO / "conf" / "jobs" / "customer_propensity.yaml").read_text())
    edit(data["outputs"])
    path = tmp_path / "cp.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


@pytest.mark.parametrize(("edit", "expected"), [
    (lambda o: o["golden"].update(format="orc"), "format"),
    (lambda o: o["golden"].update(merge_keys=["customer_id"]),
     "'outputs.golden' sets merge_keys / allow_schema_evolution / max_files_per_partition, "
     "which need format delta or iceberg"),
    (lambda o: o["golden"].update(format="delta", max_files_per_partition=-1),
     "'outputs.golden.max_files_per_partition' must be >= 0"),
    (lambda o: o["golden"].update(format="delta", merge_keys=["bad key"]), "merge_keys"),
])
def test_format_keys_fail_before_spark_with_one_line(capsys, tmp_path: Path, monkeypatch,
                                                      edit, expected: str) -> None:
    monkeypatch.setenv("LAKEFORGE_LAKE_ROOT", str(tmp_path / "lake"))
    code = customer_propensity.main(["--env", "local", "--config", _config(tmp_path, edit)])
    assert code == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1 and err[0].startswith("error: ") and expected in err[0]
    assert "cp.yaml" in err[0]


def test_with_output_format_sets_every_output_and_keeps_the_rest() -> None:
    from lakeforge.config import load_config

    cfg = load_config(customer_propensity.CustomerPropensityConfig,
                      REPO / "conf" / "jobs" / "customer_propensity.yaml")
    out = with_output_format(cfg, "iceberg")
    assert {o.format for o in out.outputs.values()} == {"iceberg"}
    assert {o.format for o in cfg.outputs.values()} == {"parquet"}  # the original is unchanged
    assert out.outputs["contacts"].partition_by == cfg.outputs["contacts"].partition_by


def test_session_settings_follow_the_env_jar_sets(tmp_path: Path) -> None:
    lake = Lake.from_settings(str(tmp_path), allow_env_override=False)
    local = load_env("local")
    assert table_format_conf(local, lake) == {}  # no delta/iceberg set: nothing added
    both = dataclasses.replace(local, spark=dataclasses.replace(
        local.spark, jar_sets=["delta", "iceberg"]))
    conf = table_format_conf(both, lake)
    assert conf["spark.sql.catalog.spark_catalog"] == DELTA_CATALOG
    assert conf["spark.sql.extensions"].split(",") == [
        "io.delta.sql.DeltaSparkSessionExtension",
        "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions"]
    assert conf["spark.sql.catalog.lakeforge_iceberg.type"] == "hadoop"
    assert conf["spark.sql.catalog.lakeforge_iceberg.warehouse"] == lake.zone("curated")
    glue = load_env("glue")
    glue = dataclasses.replace(glue, spark=dataclasses.replace(glue.spark,
                                                               jar_sets=["iceberg"]))
    conf = table_format_conf(glue, Lake.from_settings("s3://bucket/lake",
                                                      allow_env_override=False))
    assert conf["spark.sql.catalog.lakeforge_iceberg.catalog-impl"] == ICEBERG_GLUE_CATALOG
    assert "spark.sql.catalog.spark_catalog" not in conf


def test_schema_rule_passes_added_columns_only_when_allowed() -> None:
    old = T.StructType([T.StructField("id", T.LongType()), T.StructField("dt", T.StringType())])
    wider = T.StructType([*old.fields, T.StructField("score", T.DoubleType())])
    assert check_schema_change(None, wider, allow_added=False, partition_by=["dt"],
                               where="t") == []  # a new table: anything goes
    assert check_schema_change(old, old, allow_added=False, partition_by=["dt"], where="t") == []
    assert check_schema_change(old, wider, allow_added=True, partition_by=["dt"],
                               where="t") == ["score"]
    with pytest.raises(SchemaEvolutionError, match=r"t: .*added columns \['score'\]"):
        check_schema_change(old, wider, allow_added=False, partition_by=["dt"], where="t")
    retyped = T.StructType([T.StructField("id", T.StringType()), old.fields[1]])
    with pytest.raises(SchemaEvolutionError, match="id: type bigint -> string"):
        check_schema_change(old, retyped, allow_added=True, partition_by=["dt"], where="t")
    with pytest.raises(SchemaEvolutionError, match="dt: column dropped"):
        check_schema_change(old, T.StructType([old.fields[0]]), allow_added=True,
                            partition_by=[], where="t")


def test_partition_predicate_quotes_values_and_handles_null_and_empty() -> None:
    assert partition_predicate(["dt", "c"], [("2024-01-01", "it's"), (None, "x")]) == (
        "(`dt` = '2024-01-01' AND `c` = 'it\\'s') OR (`dt` IS NULL AND `c` = 'x')")
    assert partition_predicate(["dt"], []) == "false"


def test_glue_shapes_are_the_ones_athena_reads() -> None:
    from lakeforge.formats import delta, iceberg

    schema = T.StructType([T.StructField("id", T.LongType()), T.StructField("dt", T.StringType())])
    target = Target("db", "t", "s3://b/lake/curated/db/t", ["dt"])
    d = delta.glue_table_input(target, schema)
    assert d["Parameters"]["table_type"] == "DELTA"
    assert d["Parameters"]["spark.sql.sources.provider"] == "delta"
    assert d["StorageDescriptor"]["SerdeInfo"]["Parameters"]["path"] == target.location
    assert d["StorageDescriptor"]["Columns"] == [{"Name": "id", "Type": "bigint"},
                                                 {"Name": "dt", "Type": "string"}]
    assert d["PartitionKeys"] == []
    i = iceberg.glue_table_input(target, schema, target.location, "m/v2.metadata.json",
                                 "m/v1.metadata.json")
    assert i["Parameters"] == {"EXTERNAL": "TRUE", "table_type": "ICEBERG",
                               "metadata_location": "m/v2.metadata.json",
                               "previous_metadata_location": "m/v1.metadata.json"}
    first = iceberg.glue_table_input(target, schema, target.location, "m/v1.metadata.json", None)
    assert "previous_metadata_location" not in first["Parameters"]


def test_table_command_refuses_a_bad_name_before_spark(capsys) -> None:
    from lakeforge.cli import main

    assert main(["table", "rollback", "no_dot", "--to-version", "1", "--env", "local"]) == 2
    assert "table 'no_dot': use database.table" in capsys.readouterr().err


def test_table_command_refuses_a_table_with_no_versions_before_spark(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """No such table, or a Parquet output (no Delta log, no Iceberg metadata): one line,
    exit 2, and no session built (build_session would fail the test)."""
    import lakeforge.session
    from lakeforge.cli import main

    def no_spark(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("build_session was called")

    monkeypatch.setattr(lakeforge.session, "build_session", no_spark)
    monkeypatch.setenv("LAKEFORGE_LAKE_ROOT", str(tmp_path))
    parquet_output = tmp_path / "curated" / "db" / "orders" / "_versions" / "v1"
    parquet_output.mkdir(parents=True)
    for name in ("missing", "orders"):
        assert main(["table", "history", f"db.{name}", "--env", "local"]) == 2
        err = capsys.readouterr().err.strip()
        assert err.splitlines() == [
            f"error: table db.{name}: no Delta log or Iceberg metadata at "
            f"{tmp_path / 'curated' / 'db' / name} (no such table, or a Parquet output, whose "
            "versions are folders under _versions/); name the format with --format when the "
            "table lives elsewhere"]


def test_an_incremental_run_merges_on_the_keys_and_a_full_run_overwrites(tmp_path: Path) -> None:
    """The golden record: MERGE only when the run is incremental and the output has keys."""
    from types import SimpleNamespace

    from lakeforge.catalog.base import TableSpec
    from lakeforge.lifecycle.runner import RunState, format_target
    from lakeforge.lifecycle.settings import OutputSpec, RunSettings
    from lakeforge.publish import PublishPlan, StagedVersion

    lake = Lake.from_settings(str(tmp_path), allow_env_override=False)
    ctx = SimpleNamespace(config=SimpleNamespace(database="db", run=RunSettings()), lake=lake)
    plan = PublishPlan("db", "golden", "overwrite", "v1", "", "", (), ())
    staged = StagedVersion(plan, TableSpec("db", "golden", [], ""), 3, (), 1, 1.0, ())
    out = OutputSpec(table="golden", mode="overwrite", format="delta",
                     merge_keys=["customer_id"], allow_schema_evolution=True)
    incremental = RunState("r1", {"mode": "incremental"})
    target = format_target(ctx, incremental, "golden", out, staged)  # type: ignore[arg-type]
    assert (target.mode, target.merge_keys) == ("merge", ("customer_id",))
    assert target.location == lake.table_uri("curated", "golden", "db")
    assert target.allow_added_columns and target.retention_hours == 24.0
    full = RunState("r2", {"mode": "full"})
    assert format_target(ctx, full, "golden", out, staged).mode == "overwrite"  # type: ignore[arg-type]
    no_keys = dataclasses.replace(out, merge_keys=[])
    assert format_target(ctx, incremental, "golden", no_keys,  # type: ignore[arg-type]
                         staged).mode == "overwrite"


def test_declared_changes_merge_on_their_keys_even_in_a_full_run(tmp_path: Path) -> None:
    """Steps.publish_changes (the job's incremental golden records): the output is MERGEd on
    the declared keys whatever the run's mode; parquet outputs, unknown outputs and no keys
    are refused with one line."""
    from types import SimpleNamespace

    from lakeforge.catalog.base import TableSpec
    from lakeforge.lifecycle import Steps
    from lakeforge.lifecycle.runner import RunState, format_target
    from lakeforge.lifecycle.settings import OutputSpec, RunSettings
    from lakeforge.publish import PublishPlan, StagedVersion

    lake = Lake.from_settings(str(tmp_path), allow_env_override=False)
    outputs = {"golden": OutputSpec(table="golden", mode="overwrite", format="iceberg"),
               "flat": OutputSpec(table="flat", mode="overwrite")}
    config = SimpleNamespace(database="db", run=RunSettings(), outputs=outputs)
    steps = Steps(None, config, "r1", True, {}, lake=lake)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="output 'flat' is parquet; only delta and iceberg"):
        steps.publish_changes("flat", ["id"])
    with pytest.raises(ConfigError, match="unknown output 'nope'"):
        steps.publish_changes("nope", ["id"])
    with pytest.raises(ConfigError, match="name the key columns"):
        steps.publish_changes("golden", [])
    assert steps.changes == {}
    steps.publish_changes("golden", ["golden_customer_id"])
    assert steps.changes == {"golden": ["golden_customer_id"]}

    ctx = SimpleNamespace(config=config, lake=lake)
    plan = PublishPlan("db", "golden", "overwrite", "v1", "", "", (), ())
    staged = StagedVersion(plan, TableSpec("db", "golden", [], ""), 2, (), 1, 1.0, ())
    full = RunState("r1", {"mode": "full", "merged_changes": dict(steps.changes)})
    target = format_target(ctx, full, "golden", outputs["golden"], staged)  # type: ignore[arg-type]
    assert (target.mode, target.merge_keys) == ("merge", ("golden_customer_id",))
    undeclared = RunState("r2", {"mode": "full", "merged_changes": {}})
    assert format_target(ctx, undeclared, "golden", outputs["golden"],  # type: ignore[arg-type]
                         staged).mode == "overwrite"
