"""Glue version / EMR release choice: GlueVersion, Python, arguments and the Spark line check
(lakeforge.deploy.runtimes, used by deploy.glue and deploy.emr). No AWS call: the requests are
built, not sent, except the existing-cluster check, whose DescribeCluster is stubbed."""

from __future__ import annotations

import pytest

from lakeforge.deploy import DeployError, emr, glue
from lakeforge.deploy.artifacts import S3Layout, UploadedArtifacts, spark_line_of_jars
from lakeforge.deploy.runtimes import (
    GLUE_RUNTIMES,
    abbreviated_names,
    check_artifacts_line,
    emr_release,
    glue_runtime,
)

ROLE_ARN = "arn:aws:iam::123456789012:role/lakeforge-glue-job"
SPARK3_JAR = "scala-udf-similarity-0.1.2_spark3.x.jar"
SPARK4_JAR = "scala-udf-similarity-0.2.1_spark4.x.jar"


def _uploaded(jar: str | None, spark_line: str | None = None) -> UploadedArtifacts:
    layout = S3Layout.from_uri("s3://bucket/lakeforge-deploy", "0.1.0")
    return UploadedArtifacts.at(layout, version="0.1.0", jar_names=[jar] if jar else [],
                                conf_files=["envs/glue.yaml", "envs/emr.yaml"],
                                spark_line=spark_line)


@pytest.mark.parametrize(("version", "jar", "spark", "python"), [
    ("5.0", SPARK3_JAR, "3.5.4", "3.11"),
    ("5.1", SPARK3_JAR, "3.5.6", "3.11"),
    ("6.0", SPARK4_JAR, "4.1.1", "3.13"),
])
def test_glue_version_sets_glue_version_python_and_arguments(version, jar, spark, python):
    definition = glue.job_definition(_uploaded(jar), glue.GlueJobSettings(
        job="csv_to_parquet", role_arn=ROLE_ARN, glue_version=version))
    assert definition["GlueVersion"] == version
    assert definition["Tags"]["lakeforge:python"] == python
    assert definition["Tags"]["lakeforge:spark"] == spark
    args = definition["DefaultArguments"]
    assert args["--lakeforge_job"] == "csv_to_parquet"
    assert args["--extra-jars"].endswith(jar)
    assert args["--enable-continuous-cloudwatch-log"] == "true"


def test_glue_default_is_5_0_and_an_unknown_version_is_refused():
    assert glue.GlueJobSettings(job="x", role_arn=ROLE_ARN).glue_version == "5.0"
    with pytest.raises(DeployError, match=r"Glue version '4.0' is not supported; use one of "
                                          r"5.0, 5.1, 6.0"):
        glue.GlueJobSettings(job="x", role_arn=ROLE_ARN, glue_version="4.0").validate()


def test_glue_6_refuses_spark_3_artifacts_and_glue_5_refuses_spark_4_artifacts():
    with pytest.raises(DeployError, match=r"Glue 6.0 runs spark-4.1 but the artifacts were built "
                                          r"on spark-3.x; .*make artifacts-spark4"):
        glue.job_definition(_uploaded(SPARK3_JAR), glue.GlueJobSettings(
            job="x", role_arn=ROLE_ARN, glue_version="6.0"))
    with pytest.raises(DeployError, match=r"Glue 5.1 runs spark-3.5 .* `make artifacts`"):
        glue.job_definition(_uploaded(SPARK4_JAR), glue.GlueJobSettings(
            job="x", role_arn=ROLE_ARN, glue_version="5.1"))


def test_artifacts_without_a_spark_line_are_refused_with_the_rebuild_command():
    with pytest.raises(DeployError, match="record no Spark line.*make artifacts"):
        glue.job_definition(_uploaded(None), glue.GlueJobSettings(job="x", role_arn=ROLE_ARN))


def test_glue_6_refuses_abbreviated_entry_arguments_glue_5_passes_them_on():
    """Glue 6's getResolvedOptions matches full names only: --lakeforge_j would reach Glue 5's
    entry as --lakeforge_job and fail on 6.0 at run time, so deploy refuses it for 6.0."""
    abbreviated = {"--lakeforge_j": "csv_to_parquet", "--conf": "spark.x=1", "--rows": "5"}
    with pytest.raises(DeployError, match=r"Glue 6.0 reads job arguments by their full names "
                                          r"only; \['--lakeforge_j'\]"):
        glue.GlueJobSettings(job="x", role_arn=ROLE_ARN, glue_version="6.0",
                             arguments=abbreviated).validate()
    glue.GlueJobSettings(job="x", role_arn=ROLE_ARN, glue_version="5.0",
                         arguments=abbreviated).validate()
    # --conf is Glue's own Spark-conf parameter, not an abbreviation of --config
    glue.GlueJobSettings(job="x", role_arn=ROLE_ARN, glue_version="6.0",
                         arguments={"--conf": "spark.x=1", "--config_extra": "a"}).validate()


def test_abbreviated_names_finds_strict_prefixes_only():
    assert abbreviated_names(["--en", "--env", "--JOB", "--x", "--"], ["env", "JOB_NAME"]) == [
        "--JOB", "--en"]
    assert abbreviated_names([], ["env"]) == []


@pytest.mark.parametrize(("label", "line"), [
    ("emr-7.5.0", "spark-3.5"), ("emr-7.10.0", "spark-3.5"), ("emr-spark-8.0.0", "spark-4.0")])
def test_emr_release_labels_map_to_their_spark_line(label, line):
    assert emr_release(label).spark_line == line


@pytest.mark.parametrize("label", ["emr-6.15.0", "emr-8.0.0", "emr-spark-8", "", "EMR-7.5.0"])
def test_emr_release_refuses_other_labels(label):
    with pytest.raises(DeployError, match="use emr-7.x.y .* or emr-spark-8.x.y"):
        emr_release(label)


def test_transient_emr_8_cluster_takes_spark_4_artifacts_only():
    step = emr.spark_submit_step(_uploaded(SPARK4_JAR), emr.StepSettings(job="csv_to_parquet"))
    cluster = emr.ClusterSettings(release_label="emr-spark-8.0.0")
    request = emr.run_job_flow_request(cluster, _uploaded(SPARK4_JAR), [step], [])
    assert request["ReleaseLabel"] == "emr-spark-8.0.0"
    with pytest.raises(DeployError, match=r"EMR emr-spark-8.0.0 runs spark-4.0 but the "
                                          r"artifacts were built on spark-3.x"):
        emr.run_job_flow_request(cluster, _uploaded(SPARK3_JAR), [step], [])
    with pytest.raises(DeployError, match=r"EMR emr-7.5.0 runs spark-3.5"):
        emr.run_job_flow_request(emr.ClusterSettings(), _uploaded(SPARK4_JAR), [step], [])


def test_existing_emr_cluster_release_is_checked_against_the_artifacts_stubbed():
    """moto's DescribeCluster has the real shape; the answer is stubbed so the release label is
    the one under test."""
    from botocore.stub import Stubber

    from lakeforge.aws import client

    c = client("emr", region="us-east-1", endpoint_url="http://127.0.0.1:9")
    answer = {"Cluster": {"Id": "j-1", "Name": "c", "Status": {"State": "WAITING"},
                          "ReleaseLabel": "emr-7.5.0"}}
    with Stubber(c) as stub:
        stub.add_response("describe_cluster", answer, {"ClusterId": "j-1"})
        with pytest.raises(DeployError, match=r"EMR cluster j-1 \(emr-7.5.0\) runs spark-3.5"):
            emr.check_cluster_usable(c, "j-1", _uploaded(SPARK4_JAR))
        stub.add_response("describe_cluster", answer, {"ClusterId": "j-1"})
        assert emr.check_cluster_usable(c, "j-1", _uploaded(SPARK3_JAR)) == "WAITING"


def test_spark_line_of_jars_and_the_major_check():
    assert spark_line_of_jars([SPARK4_JAR]) == "spark-4.x"
    assert spark_line_of_jars(["other.jar", SPARK3_JAR]) == "spark-3.x"
    assert spark_line_of_jars(["other.jar"]) is None
    check_artifacts_line("spark-4.1", "spark-4.0", "EMR 8")  # same major: the same jars
    with pytest.raises(DeployError, match="is not a Spark line"):
        check_artifacts_line("4.1", "spark-4.1", "Glue 6.0")


def test_every_glue_runtime_is_reachable_by_its_version():
    for version, runtime in GLUE_RUNTIMES.items():
        assert glue_runtime(version) is runtime
        assert runtime.spark.startswith(runtime.spark_line.removeprefix("spark-"))


def test_built_manifest_records_the_installed_spark_line(tmp_path):
    """The wheel is a placeholder file (build copies it, never opens it); the zip and jar are
    real, from this checkout and the installed splink."""
    import importlib.metadata
    import json

    from lakeforge.deploy.artifacts import build, load_artifacts
    from lakeforge.jars import repo_root

    wheel = tmp_path / "lakeforge-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"PK")
    manifest = build(repo_root(), tmp_path / "dist", wheel)
    major, minor = importlib.metadata.version("pyspark").split(".")[:2]
    assert json.loads(manifest.read_text())["spark_line"] == f"spark-{major}.{minor}"
    loaded = load_artifacts(tmp_path / "dist")
    assert loaded.spark_line == f"spark-{major}.{minor}"
    assert [j.name for j in loaded.jars][0].endswith(f"_spark{major}.x.jar")
