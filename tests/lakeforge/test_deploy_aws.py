"""Deployment to EMR, Glue and IAM, against a moto server on 127.0.0.1 (Step Functions:
tests/lakeforge/test_deploy_stepfunctions.py and tests/orchestration/).

Where moto lacks an API the call is covered with botocore's Stubber and a response recorded
from the real service's shape; each such test says which API moto lacks.
"""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lakeforge.aws import client
from lakeforge.cli import main as cli
from lakeforge.config import load_env
from lakeforge.deploy import (
    DeployError,
    RemoteRunFailedError,
    RemoteRunTimeoutError,
    emr,
    glue,
    iam,
)
from lakeforge.deploy.artifacts import S3Layout, UploadedArtifacts, load_artifacts, upload_artifacts

pytestmark = pytest.mark.aws

REPO = Path(__file__).resolve().parents[2]
REGION = "eu-west-1"
BUCKET = "lf-deploy-test"
ACCOUNT = "123456789012"  # moto's account
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/lakeforge-glue-job"


@pytest.fixture(scope="module")
def moto_url(moto_endpoint: str) -> Iterator[str]:
    """The session's moto server, with this module's default region."""
    mp = pytest.MonkeyPatch()
    mp.setenv("AWS_DEFAULT_REGION", REGION)
    try:
        yield moto_endpoint
    finally:
        mp.undo()


@pytest.fixture
def aws(moto_url: str) -> Iterator[str]:
    """A clean moto server with the deployment bucket; yields the endpoint URL."""
    request = urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST")
    urllib.request.urlopen(request).close()
    s3 = client("s3", region=REGION, endpoint_url=moto_url)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    yield moto_url


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """dist/ built by the real script (pip wheel + zip + jar) once for this module."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(["bash", str(REPO / "scripts/build_artifacts.sh"), "--dist", str(out)],
                   check=True, capture_output=True, text=True, timeout=300,
                   env={**_env_without_aws(), "PYTHON": sys.executable})
    return out


def _env_without_aws() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}


@pytest.fixture
def conf_root(tmp_path: Path) -> Path:
    """A conf/ with the project's envs plus a customer_propensity job config."""
    import shutil

    root = tmp_path / "conf"
    shutil.copytree(REPO / "conf", root)
    (root / "jobs").mkdir(exist_ok=True)
    (root / "jobs" / "customer_propensity.yaml").write_text("rows: 10\n", encoding="utf-8")
    return root


def _cli(*args: str) -> int:
    return cli(list(args))


def _keys(endpoint: str, prefix: str = "") -> list[str]:
    s3 = client("s3", region=REGION, endpoint_url=endpoint)
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def _common(endpoint: str, dist: Path, conf_root: Path) -> list[str]:
    return ["--region", REGION, "--endpoint-url", endpoint, "--dist", str(dist),
            "--artifacts", f"s3://{BUCKET}/deploy", "--conf-dir", str(conf_root)]


def _uploaded(endpoint: str, dist: Path, conf_root: Path) -> UploadedArtifacts:
    artifacts = load_artifacts(dist)
    return upload_artifacts(client("s3", region=REGION, endpoint_url=endpoint), artifacts,
                            S3Layout.from_uri(f"s3://{BUCKET}/deploy", artifacts.version),
                            conf_root=conf_root)


# --------------------------------------------------------------------------- S3 upload


def test_upload_puts_every_artifact_and_conf_file_at_its_key(aws, dist, conf_root):
    uploaded = _uploaded(aws, dist, conf_root)
    jar = next((dist / "jars").glob("*.jar")).name
    expected_conf = sorted(
        f"deploy/0.1.0/conf/{p.relative_to(conf_root).as_posix()}"
        for p in conf_root.rglob("*") if p.is_file() and p.suffix in (".yaml", ".properties")
    )
    assert _keys(aws) == sorted([
        "deploy/0.1.0/lakeforge-0.1.0-py3-none-any.whl",
        "deploy/0.1.0/lakeforge_pyfiles.zip",
        "deploy/0.1.0/glue_entry.py",
        "deploy/0.1.0/bootstrap.sh",
        f"deploy/0.1.0/jars/{jar}",
        *expected_conf,
    ])
    # The bytes that landed are the bytes that were built.
    s3 = client("s3", region=REGION, endpoint_url=aws)
    body = s3.get_object(Bucket=BUCKET, Key="deploy/0.1.0/lakeforge_pyfiles.zip")["Body"].read()
    assert body == (dist / "lakeforge_pyfiles.zip").read_bytes()
    assert uploaded.env_uri("emr") == f"s3://{BUCKET}/deploy/0.1.0/conf/envs/emr.yaml"
    with pytest.raises(DeployError, match="conf/envs/nope.yaml was not uploaded"):
        uploaded.env_uri("nope")


def test_upload_refuses_an_empty_conf_folder(aws, dist, tmp_path):
    empty = tmp_path / "empty_conf"
    empty.mkdir()
    artifacts = load_artifacts(dist)
    with pytest.raises(DeployError, match="holds no config files"):
        upload_artifacts(client("s3", region=REGION, endpoint_url=aws), artifacts,
                         S3Layout.from_uri(f"s3://{BUCKET}/x", "0.1.0"), conf_root=empty)


def test_uploaded_config_is_readable_by_the_job_loader(aws, dist, conf_root, monkeypatch):
    """The job reads --env s3://.../envs/emr.yaml through lakeforge.config (read_yaml on S3)."""
    uploaded = _uploaded(aws, dist, conf_root)
    monkeypatch.setenv("LAKEFORGE_AWS_ENDPOINT_URL", aws)
    env = load_env(uploaded.env_uri("emr"))
    assert env.kind == "emr" and env.name == "emr"
    assert env.lake.root == "s3://lakeforge-example-bucket/lake"


# --------------------------------------------------------------------------- EMR


def _running_cluster(endpoint: str) -> str:
    c = client("emr", region=REGION, endpoint_url=endpoint)
    return str(c.run_job_flow(
        Name="long-lived", ReleaseLabel="emr-7.5.0", JobFlowRole="EMR_EC2_DefaultRole",
        ServiceRole="EMR_DefaultRole",
        Instances={"MasterInstanceType": "m5.xlarge", "SlaveInstanceType": "m5.xlarge",
                   "InstanceCount": 3, "KeepJobFlowAliveWhenNoSteps": True},
    )["JobFlowId"])


def test_deploy_emr_adds_a_spark_submit_step_with_the_uploaded_artifacts(aws, dist, conf_root,
                                                                         capsys):
    cluster_id = _running_cluster(aws)
    code = _cli("deploy", "emr", "--cluster-id", cluster_id, "--job", "customer_propensity",
                *_common(aws, dist, conf_root), "--conf", "spark.executor.memory=4g",
                "--output.table", "propensity_v2")
    assert code == 0, capsys.readouterr().err
    out = json.loads(capsys.readouterr().out)
    c = client("emr", region=REGION, endpoint_url=aws)
    step = c.describe_step(ClusterId=cluster_id, StepId=out["step_id"])["Step"]
    base = f"s3://{BUCKET}/deploy/0.1.0"
    jar = next((dist / "jars").glob("*.jar")).name
    assert step["Config"]["Jar"] == "command-runner.jar"
    assert step["ActionOnFailure"] == "CONTINUE"
    assert step["Config"]["Args"] == [
        "spark-submit", "--deploy-mode", "cluster",
        "--py-files", f"{base}/lakeforge_pyfiles.zip",
        "--jars", f"{base}/jars/{jar}",
        "--conf", "spark.executor.memory=4g",
        f"{base}/glue_entry.py",
        "--JOB_NAME", "customer_propensity", "--lakeforge_job", "customer_propensity",
        "--env", f"{base}/conf/envs/emr.yaml",
        "--config", f"{base}/conf/jobs/customer_propensity.yaml",
        "--output.table", "propensity_v2",
    ]
    # Everything the step points at exists in S3.
    keys = set(_keys(aws))
    for arg in step["Config"]["Args"]:
        for uri in arg.split(","):
            if uri.startswith("s3://"):
                assert uri[len(f"s3://{BUCKET}/"):] in keys, uri


def test_deploy_emr_create_cluster_is_transient_with_bootstrap_and_glue_catalog(aws, dist,
                                                                                 conf_root, capsys):
    code = _cli("deploy", "emr", "--create-cluster", "--job", "csv_to_parquet",
                "--log-uri", f"s3://{BUCKET}/emr-logs/", *_common(aws, dist, conf_root))
    assert code == 0, capsys.readouterr().err
    out = json.loads(capsys.readouterr().out)
    c = client("emr", region=REGION, endpoint_url=aws)
    cluster = c.describe_cluster(ClusterId=out["cluster_id"])["Cluster"]
    assert out["created_cluster"] is True
    assert cluster["ReleaseLabel"] == emr.DEFAULT_RELEASE
    assert cluster["AutoTerminate"] is True  # KeepJobFlowAliveWhenNoSteps=False
    assert cluster["LogUri"] == f"s3://{BUCKET}/emr-logs/"
    assert {a["Name"] for a in cluster["Applications"]} >= {"Spark", "Hadoop"}
    classes = {cfg["Classification"]: cfg for cfg in cluster["Configurations"]}
    assert classes["spark-hive-site"]["Properties"]["hive.metastore.client.factory.class"] == (
        "com.amazonaws.glue.catalog.metastore.AWSGlueDataCatalogHiveClientFactory")
    bootstrap = c.list_bootstrap_actions(ClusterId=out["cluster_id"])["BootstrapActions"]
    assert bootstrap[0]["ScriptPath"] == f"s3://{BUCKET}/deploy/0.1.0/bootstrap.sh"
    assert bootstrap[0]["Args"][:2] == [
        "--wheel", f"s3://{BUCKET}/deploy/0.1.0/lakeforge-0.1.0-py3-none-any.whl"]
    step = c.describe_step(ClusterId=out["cluster_id"], StepId=out["step_id"])["Step"]
    assert step["ActionOnFailure"] == "TERMINATE_CLUSTER"
    assert step["Config"]["Args"][-4:] == [
        "--env", f"s3://{BUCKET}/deploy/0.1.0/conf/envs/emr.yaml",
        "--config", f"s3://{BUCKET}/deploy/0.1.0/conf/jobs/csv_to_parquet.yaml"]


def test_deploy_emr_keep_alive_cluster_stays_up_and_continues_on_failure(aws, dist, conf_root,
                                                                         capsys):
    code = _cli("deploy", "emr", "--create-cluster", "--keep-alive", "--job", "csv_to_parquet",
                *_common(aws, dist, conf_root))
    assert code == 0, capsys.readouterr().err
    out = json.loads(capsys.readouterr().out)
    c = client("emr", region=REGION, endpoint_url=aws)
    assert c.describe_cluster(ClusterId=out["cluster_id"])["Cluster"]["AutoTerminate"] is False
    step = c.describe_step(ClusterId=out["cluster_id"], StepId=out["step_id"])["Step"]
    assert step["ActionOnFailure"] == "CONTINUE"
    assert _cli("deploy", "emr", "--cluster-id", out["cluster_id"], "--keep-alive",
                *_common(aws, dist, conf_root)) == 2
    assert "--keep-alive applies to --create-cluster only" in capsys.readouterr().err


def test_deploy_emr_refuses_a_terminated_cluster(aws, dist, conf_root, capsys):
    cluster_id = _running_cluster(aws)
    client("emr", region=REGION, endpoint_url=aws).terminate_job_flows(JobFlowIds=[cluster_id])
    code = _cli("deploy", "emr", "--cluster-id", cluster_id, *_common(aws, dist, conf_root))
    assert code == 2
    assert f"EMR cluster {cluster_id} is TERMINATED" in capsys.readouterr().err
    assert _keys(aws) == []


def test_wait_for_step_times_out_while_moto_keeps_the_step_running(aws, dist, conf_root):
    """moto leaves a cluster's first step RUNNING forever: the timeout path, no real sleeping."""
    cluster_id = _running_cluster(aws)
    c = client("emr", region=REGION, endpoint_url=aws)
    step = emr.spark_submit_step(_uploaded(aws, dist, conf_root), emr.StepSettings(job="x"))
    step_id = emr.add_step(c, cluster_id, step)
    ticks = iter(range(100))
    naps: list[float] = []
    with pytest.raises(RemoteRunTimeoutError, match=f"{step_id} on cluster {cluster_id} still"):
        emr.wait_for_step(c, cluster_id, step_id, poll_seconds=5, timeout_seconds=3,
                          sleep=naps.append, clock=lambda: float(next(ticks)))
    assert naps and all(n == 5 for n in naps)


def _describe_step_response(state: str, **extra: Any) -> dict[str, Any]:
    # Recorded shape of EMR DescribeStep.
    return {"Step": {"Id": "s-1", "Name": "lakeforge x", "ActionOnFailure": "CONTINUE",
                     "Config": {"Jar": "command-runner.jar", "Args": []},
                     "Status": {"State": state, **extra}}}


def test_wait_for_step_reports_completion_and_failure_details():
    """moto never moves a step to COMPLETED or FAILED, so those describe_step answers are
    stubbed with botocore's Stubber (recorded response shape)."""
    from botocore.stub import Stubber

    c = client("emr", region=REGION, endpoint_url="http://127.0.0.1:9")
    params = {"ClusterId": "j-1", "StepId": "s-1"}
    with Stubber(c) as stub:
        stub.add_response("describe_step", _describe_step_response("PENDING"), params)
        stub.add_response("describe_step", _describe_step_response("RUNNING"), params)
        stub.add_response("describe_step", _describe_step_response("COMPLETED"), params)
        status = emr.wait_for_step(c, "j-1", "s-1", poll_seconds=0, sleep=lambda s: None)
        assert status["State"] == "COMPLETED"
        stub.assert_no_pending_responses()
    failure = {"FailureDetails": {"Reason": "Unknown Error.",
                                  "Message": "Exception in thread main: InputPathError",
                                  "LogFile": "s3://logs/j-1/steps/s-1/stderr.gz"}}
    with Stubber(c) as stub:
        stub.add_response("describe_step", _describe_step_response("FAILED", **failure), params)
        with pytest.raises(RemoteRunFailedError) as info:
            emr.wait_for_step(c, "j-1", "s-1", poll_seconds=0, sleep=lambda s: None)
    message = str(info.value)
    assert message == ("EMR step s-1 on cluster j-1 ended FAILED: Unknown Error. - Exception in "
                       "thread main: InputPathError (logs: s3://logs/j-1/steps/s-1/stderr.gz)")


def _describe_cluster_response(state: str, **reason: str) -> dict[str, Any]:
    # Recorded shape of EMR DescribeCluster (the fields wait_for_step reads).
    return {"Cluster": {"Id": "j-1", "Name": "lakeforge", "ReleaseLabel": "emr-7.5.0",
                        "Status": {"State": state, "StateChangeReason": reason}}}


def test_wait_for_step_cancelled_by_a_failed_cluster_says_why_the_cluster_ended():
    """A bootstrap action fails: EMR ends the cluster TERMINATED_WITH_ERRORS and cancels its
    steps, whose status says nothing. moto never cancels a step nor fails a bootstrap action,
    so DescribeStep and DescribeCluster are stubbed with botocore's Stubber (recorded shape)."""
    from botocore.stub import Stubber

    c = client("emr", region=REGION, endpoint_url="http://127.0.0.1:9")
    with Stubber(c) as stub:
        stub.add_response("describe_step", _describe_step_response("PENDING"),
                          {"ClusterId": "j-1", "StepId": "s-1"})
        stub.add_response("describe_step", _describe_step_response("CANCELLED"),
                          {"ClusterId": "j-1", "StepId": "s-1"})
        stub.add_response("describe_cluster", _describe_cluster_response(
            "TERMINATED_WITH_ERRORS", Code="BOOTSTRAP_FAILURE",
            Message="On the master instance (i-0abc), bootstrap action 1 returned a non-zero "
                    "return code"), {"ClusterId": "j-1"})
        with pytest.raises(RemoteRunFailedError) as info:
            emr.wait_for_step(c, "j-1", "s-1", poll_seconds=0, sleep=lambda s: None)
        stub.assert_no_pending_responses()
        # A step cancelled on a cluster that still runs (someone cancelled it): nothing added.
        stub.add_response("describe_step", _describe_step_response("CANCELLED"),
                          {"ClusterId": "j-1", "StepId": "s-1"})
        stub.add_response("describe_cluster", _describe_cluster_response("WAITING"),
                          {"ClusterId": "j-1"})
        with pytest.raises(RemoteRunFailedError, match=r"ended CANCELLED: no reason given$"):
            emr.wait_for_step(c, "j-1", "s-1", poll_seconds=0, sleep=lambda s: None)
        stub.assert_no_pending_responses()
    assert str(info.value) == (
        "EMR step s-1 on cluster j-1 ended CANCELLED: no reason given; cluster "
        "TERMINATED_WITH_ERRORS: BOOTSTRAP_FAILURE: On the master instance (i-0abc), bootstrap "
        "action 1 returned a non-zero return code")


def test_emr_settings_are_validated():
    with pytest.raises(DeployError, match="emr-6.15.0.*use emr-7"):
        emr.ClusterSettings(release_label="emr-6.15.0").validate()
    with pytest.raises(DeployError, match="--KEY value pairs"):
        emr.StepSettings(job="x", job_args=("output.table", "t")).validate()
    # spark.jars.packages is optional on EMR: the step passes it to the cluster's spark-submit.
    step = emr.StepSettings(job="x", spark_conf={"spark.jars.packages": "a:b:1"})
    step.validate()
    with pytest.raises(DeployError, match="not a module name"):
        emr.StepSettings(job="../etc").validate()


def test_step_template_matches_what_the_code_submits():
    """emr/step_template.json (for `aws emr add-steps --steps file://...`) never drifts."""
    layout = S3Layout.from_uri("s3://YOUR-BUCKET/lakeforge-deploy", "0.1.0")
    uploaded = UploadedArtifacts.at(
        layout, version="0.1.0", jar_names=["scala-udf-similarity-0.1.2_spark3.x.jar"],
        conf_files=["envs/emr.yaml", "jobs/customer_propensity.yaml"])
    expected = [emr.spark_submit_step(uploaded, emr.StepSettings(job="customer_propensity"))]
    assert json.loads((REPO / "emr/step_template.json").read_text()) == expected


def test_configurations_file_sets_glue_metastore_and_python(tmp_path):
    configs = emr.load_configurations(REPO / "emr/configurations.json")
    by_class = {c["Classification"]: c for c in configs}
    assert set(by_class) >= {"spark-hive-site", "spark-defaults", "spark-env"}
    assert by_class["spark-defaults"]["Properties"]["spark.pyspark.python"] == "/usr/bin/python3.11"
    bad = tmp_path / "bad.json"
    bad.write_text('{"Classification": "x"}')
    with pytest.raises(DeployError, match="must be a JSON list"):
        emr.load_configurations(bad)


# --------------------------------------------------------------------------- Glue


def test_deploy_glue_creates_a_glue5_job_and_starts_a_run_that_moto_does_not_execute(
        aws, dist, conf_root, capsys):
    """moto records the run and reports it SUCCEEDED without running glue_entry.py: what is
    tested is the job definition, the start and the polling, not the job."""
    code = _cli("deploy", "glue", "--job", "customer_propensity", "--role-arn", ROLE_ARN,
                *_common(aws, dist, conf_root), "--start", "--wait", "--poll-seconds", "0",
                "--output.table", "propensity_v2")
    assert code == 0, capsys.readouterr().err
    out = json.loads(capsys.readouterr().out)
    assert out["action"] == "created" and out["state"] == "SUCCEEDED"
    job = client("glue", region=REGION, endpoint_url=aws).get_job(
        JobName="lakeforge-customer-propensity")["Job"]
    base = f"s3://{BUCKET}/deploy/0.1.0"
    jar = next((dist / "jars").glob("*.jar")).name
    from lakeforge.deploy.artifacts import splink_version

    assert job["GlueVersion"] == "5.0"
    assert job["Role"] == ROLE_ARN
    assert job["Command"] == {"Name": "glueetl", "ScriptLocation": f"{base}/glue_entry.py",
                              "PythonVersion": "3"}
    assert job["WorkerType"] == "G.1X" and job["NumberOfWorkers"] == 2
    assert job["DefaultArguments"] == {
        "--job-language": "python",
        "--lakeforge_job": "customer_propensity",
        "--env": f"{base}/conf/envs/glue.yaml",
        "--config": f"{base}/conf/jobs/customer_propensity.yaml",
        "--extra-py-files": f"{base}/lakeforge_pyfiles.zip",
        "--extra-jars": f"{base}/jars/{jar}",
        "--additional-python-modules": f"PyYAML>=6,splink=={splink_version()}",
        "--job-bookmark-option": "job-bookmark-enable",
        "--enable-glue-datacatalog": "true",
        "--enable-metrics": "true",
        "--enable-continuous-cloudwatch-log": "true",
        "--TempDir": f"s3://{BUCKET}/deploy/tmp",
        "--output.table": "propensity_v2",
    }
    runs = client("glue", region=REGION, endpoint_url=aws).get_job_runs(
        JobName="lakeforge-customer-propensity")["JobRuns"]
    assert [r["Id"] for r in runs] == [out["run_id"]]


def test_deploy_glue_of_an_iceberg_job_asks_glue_for_iceberg_and_its_glue_catalog(
        aws, dist, conf_root, capsys):
    """The job's outputs are Iceberg (--output_format): the Glue job carries
    --datalake-formats and the catalog settings in --conf, as Glue reads static Spark settings
    only from there. moto stores the arguments; it does not start Spark with them."""
    code = _cli("deploy", "glue", "--job", "customer_propensity", "--role-arn", ROLE_ARN,
                *_common(aws, dist, conf_root), "--output_format", "iceberg")
    assert code == 0, capsys.readouterr().err
    args = client("glue", region=REGION, endpoint_url=aws).get_job(
        JobName="lakeforge-customer-propensity")["Job"]["DefaultArguments"]
    assert args["--datalake-formats"] == "iceberg"
    assert args["--output_format"] == "iceberg"
    conf = dict(item.split("=", 1) for item in args["--conf"].split(" --conf "))
    assert conf == {
        "spark.sql.extensions":
            "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions",
        "spark.sql.catalog.lakeforge_iceberg": "org.apache.iceberg.spark.SparkCatalog",
        "spark.sql.catalog.lakeforge_iceberg.catalog-impl":
            "org.apache.iceberg.aws.glue.GlueCatalog",
        "spark.sql.catalog.lakeforge_iceberg.io-impl": "org.apache.iceberg.aws.s3.S3FileIO",
        "spark.sql.catalog.lakeforge_iceberg.warehouse":
            "s3://lakeforge-example-bucket/lake/curated",
        "spark.sql.catalog.lakeforge_iceberg.client.region": "eu-west-1",
    }


def test_deploy_emr_of_a_delta_job_creates_a_delta_cluster_and_a_step_with_delta_conf(
        aws, dist, conf_root, capsys):
    """A Delta job on a new cluster: the delta-defaults classification (EMR's own Delta jars)
    and the session settings on the step. A clashing --conf is refused before any upload.
    moto records the cluster and the step; it runs neither."""
    code = _cli("deploy", "emr", "--create-cluster", "--job", "customer_propensity",
                *_common(aws, dist, conf_root), "--conf", "spark.executor.memory=4g",
                "--output_format", "delta")
    assert code == 0, capsys.readouterr().err
    out = json.loads(capsys.readouterr().out)
    c = client("emr", region=REGION, endpoint_url=aws)
    cluster = c.describe_cluster(ClusterId=out["cluster_id"])["Cluster"]
    classes = {cfg["Classification"]: cfg for cfg in cluster["Configurations"]}
    assert classes["delta-defaults"]["Properties"] == {"delta.enabled": "true"}
    assert "spark-hive-site" in classes  # the configurations file is still there
    args = c.describe_step(ClusterId=out["cluster_id"], StepId=out["step_id"])["Step"][
        "Config"]["Args"]
    confs = [args[i + 1] for i, a in enumerate(args) if a == "--conf"]
    assert confs == ["spark.executor.memory=4g",
                     "spark.sql.catalog.spark_catalog="
                     "org.apache.spark.sql.delta.catalog.DeltaCatalog",
                     "spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension"]
    before = _keys(aws)
    code = _cli("deploy", "emr", "--create-cluster", "--job", "customer_propensity",
                *_common(aws, dist, conf_root), "--conf", "spark.sql.extensions=com.example.X",
                "--output_format", "delta")
    assert code == 2
    assert "spark.sql.extensions='com.example.X' clashes with the job's table formats" in (
        capsys.readouterr().err)
    assert _keys(aws) == before


def test_deploy_job_updates_an_existing_job_in_place(aws, dist, conf_root):
    """moto has no glue UpdateJob, so the update path is stubbed with botocore's Stubber: the
    job exists (GetJob answers), UpdateJob must receive the full new definition and
    TagResource the tags (JobUpdate has none; tests/lakeforge/test_deploy_glue_update.py
    checks them on moto)."""
    from botocore.stub import Stubber

    uploaded = _uploaded(aws, dist, conf_root)
    definition = glue.job_definition(
        uploaded, glue.GlueJobSettings(job="csv_to_parquet", role_arn=ROLE_ARN,
                                       number_of_workers=5, bookmark_option="job-bookmark-pause"))
    c = client("glue", region=REGION, endpoint_url=aws)
    expected_update = {k: v for k, v in definition.items() if k not in ("Name", "Tags")}
    with Stubber(c) as stub:
        stub.add_response("get_job", {"Job": {"Name": definition["Name"], "GlueVersion": "4.0"}},
                          {"JobName": definition["Name"]})
        stub.add_response("update_job", {"JobName": definition["Name"]},
                          {"JobName": definition["Name"], "JobUpdate": expected_update})
        stub.add_response("tag_resource", {}, {
            "ResourceArn": f"arn:aws:glue:{REGION}:{ACCOUNT}:job/{definition['Name']}",
            "TagsToAdd": definition["Tags"]})
        assert glue.deploy_job(c, definition) == "updated"
        stub.assert_no_pending_responses()
    assert expected_update["GlueVersion"] == "5.0"
    assert expected_update["NumberOfWorkers"] == 5
    assert expected_update["DefaultArguments"]["--job-bookmark-option"] == "job-bookmark-pause"


def test_deploy_job_creates_when_moto_has_no_such_job(aws, dist, conf_root):
    uploaded = _uploaded(aws, dist, conf_root)
    definition = glue.job_definition(
        uploaded, glue.GlueJobSettings(job="csv_to_parquet", role_arn=ROLE_ARN))
    c = client("glue", region=REGION, endpoint_url=aws)
    assert not glue.job_exists(c, definition["Name"])
    assert glue.deploy_job(c, definition) == "created"
    assert glue.job_exists(c, definition["Name"])
    assert "--config" in c.get_job(JobName=definition["Name"])["Job"]["DefaultArguments"]


def test_wait_for_run_raises_with_glues_error_message():
    """moto's job runs always succeed, so a FAILED GetJobRun is stubbed (recorded shape)."""
    from botocore.stub import Stubber

    c = client("glue", region=REGION, endpoint_url="http://127.0.0.1:9")
    with Stubber(c) as stub:
        stub.add_response("get_job_run", {"JobRun": {
            "Id": "jr_1", "JobName": "lakeforge-x", "JobRunState": "FAILED",
            "ErrorMessage": "ConfigError: unknown key 'rows'"}},
            {"JobName": "lakeforge-x", "RunId": "jr_1"})
        with pytest.raises(RemoteRunFailedError, match="ended FAILED: ConfigError: unknown key"):
            glue.wait_for_run(c, "lakeforge-x", "jr_1", poll_seconds=0, sleep=lambda s: None)


def test_glue_settings_are_validated(aws, dist, conf_root):
    uploaded = _uploaded(aws, dist, conf_root)
    with pytest.raises(DeployError, match="not an IAM role ARN"):
        glue.job_definition(uploaded, glue.GlueJobSettings(job="x", role_arn="lakeforge"))
    with pytest.raises(DeployError, match="set by lakeforge deploy glue"):
        glue.job_definition(uploaded, glue.GlueJobSettings(
            job="x", role_arn=ROLE_ARN, arguments={"--extra-jars": "s3://b/other.jar"}))
    with pytest.raises(DeployError, match="contain commas"):
        glue.python_modules(uploaded, ("numpy>=1.24,<2",))
    with pytest.raises(DeployError, match="at least 2 workers"):
        glue.GlueJobSettings(job="x", role_arn=ROLE_ARN, number_of_workers=1).validate()


@pytest.mark.parametrize("worker_type", ["G.1X", "G.2X", "G.4X", "G.8X", "G.12X", "G.16X",
                                         "R.1X", "R.2X", "R.4X", "R.8X"])
def test_glue_spark_etl_worker_types_are_accepted(worker_type):
    glue.GlueJobSettings(job="x", role_arn=ROLE_ARN, worker_type=worker_type).validate()


@pytest.mark.parametrize(("worker_type", "message"), [
    ("G.025X", "'G.025X' is for Glue streaming jobs only; a Lakeforge Glue job is a Spark ETL"),
    ("Z.2X", "'Z.2X' is for Glue Ray jobs only"),
    ("Standard", "'Standard' is not a Glue Spark ETL worker type; use one of"),
    ("", "'' is not a Glue Spark ETL worker type"),
])
def test_glue_worker_types_of_other_job_kinds_are_refused_in_one_line(worker_type, message):
    """G.025X is for streaming jobs, Z.2X for Ray jobs (Glue API, WorkerType): a glueetl job
    with them would fail at CreateJob / StartJobRun instead of here."""
    settings = glue.GlueJobSettings(job="x", role_arn=ROLE_ARN,
                                    worker_type=worker_type)  # type: ignore[arg-type]
    with pytest.raises(DeployError, match=re.escape(message)) as err:
        settings.validate()
    assert "\n" not in str(err.value)


def test_cli_refuses_a_streaming_worker_type_before_uploading(aws, conf_root, tmp_path, capsys):
    code = _cli("deploy", "glue", "--role-arn", ROLE_ARN, "--worker-type", "G.025X",
                *_common(aws, tmp_path / "no-dist", conf_root))
    assert code == 2
    err = capsys.readouterr().err
    assert "'G.025X' is for Glue streaming jobs only" in err
    assert _keys(aws) == []  # validated before anything was uploaded


def test_cli_reports_missing_artifacts(aws, conf_root, tmp_path, capsys):
    code = _cli("deploy", "glue", "--role-arn", ROLE_ARN,
                *_common(aws, tmp_path / "no-dist", conf_root))
    assert code == 2
    assert "build the artifacts first with `bash scripts/build_artifacts.sh`" in (
        capsys.readouterr().err)


# --------------------------------------------------------------------------- Step Functions


def _topic(endpoint: str) -> str:
    return str(client("sns", region=REGION, endpoint_url=endpoint).create_topic(
        Name="lakeforge-runs")["TopicArn"])


# --------------------------------------------------------------------------- IAM


def _emr_env(**lake: Any) -> Any:
    env = load_env("emr")
    return dataclasses.replace(env, lake=dataclasses.replace(env.lake, **lake)) if lake else env


def _allowed_s3(policy: dict[str, Any], prefixes: list[str]) -> None:
    for resource in iam.policy_resources(policy):
        if resource.startswith("arn:aws:s3:::"):
            path = resource[len("arn:aws:s3:::"):]
            assert any(path in (p.split("/", 1)[0], p, f"{p}/*") for p in prefixes), resource


def test_policies_name_only_the_configured_buckets_prefixes_and_database():
    env = _emr_env(zones={"raw": "s3://landing-bucket/incoming"})
    scope = iam.scope_from_env(env, account_id=ACCOUNT, artifacts_uri="s3://art/deploy",
                               extra_write=["s3://logs-bucket/emr"])
    policy = iam.emr_instance_profile_policy(scope)
    lake = "lakeforge-example-bucket/lake"
    zones = [f"{lake}/{z}" for z in ("curated", "features", "quarantine", "bookmarks",
                                     "metadata")]
    configured = ["landing-bucket/incoming", "art/deploy", "logs-bucket/emr", *zones]
    _allowed_s3(policy, configured)
    assert "*" not in iam.policy_resources(policy)
    writes = next(s for s in policy["Statement"] if s["Sid"] == "WriteLakeZones")["Resource"]
    assert sorted(writes) == sorted(f"arn:aws:s3:::{p}/*" for p in [*zones, "logs-bucket/emr"])
    # The raw zone and the artifacts are read-only.
    assert not any("landing-bucket" in w or "art/deploy" in w for w in writes)
    assert iam.listed_prefixes(policy) == {
        "art": ["deploy", "deploy/*"],
        "landing-bucket": ["incoming", "incoming/*"],
        "lakeforge-example-bucket": sorted(
            [z.split("/", 1)[1] for z in zones] + [f"{z.split('/', 1)[1]}/*" for z in zones]),
        "logs-bucket": ["emr", "emr/*"],
    }
    glue_resources = [r for r in iam.policy_resources(policy) if r.startswith("arn:aws:glue")]
    assert sorted(set(glue_resources)) == sorted({
        f"arn:aws:glue:eu-west-1:{ACCOUNT}:catalog",
        f"arn:aws:glue:eu-west-1:{ACCOUNT}:database/lakeforge",
        f"arn:aws:glue:eu-west-1:{ACCOUNT}:table/lakeforge/*",
        f"arn:aws:glue:eu-west-1:{ACCOUNT}:userDefinedFunction/lakeforge/*",
        f"arn:aws:glue:eu-west-1:{ACCOUNT}:database/default",
    })


def test_glue_job_policy_limits_the_unscoped_metric_action_and_adds_kms():
    env = load_env("glue")
    env = dataclasses.replace(env, aws=dataclasses.replace(env.aws, sse="SSE-KMS",
                                                           kms_key_id="1234abcd"))
    policy = iam.glue_job_policy(iam.scope_from_env(env, account_id=ACCOUNT,
                                                    artifacts_uri="s3://art/deploy"))
    unscoped = [s for s in policy["Statement"] if s["Resource"] == "*"]
    assert unscoped == [{"Sid": "GlueJobMetrics", "Effect": "Allow",
                         "Action": ["cloudwatch:PutMetricData"], "Resource": "*",
                         "Condition": {"StringEquals": {"cloudwatch:namespace": "Glue"}}}]
    kms = next(s for s in policy["Statement"] if s["Sid"] == "LakeKmsKey")
    assert kms["Resource"] == f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/1234abcd"
    logs = next(s for s in policy["Statement"] if s["Sid"] == "GlueJobLogs")["Resource"]
    assert all(r.startswith(f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/aws-glue/")
               for r in logs)


def test_glue_job_role_may_write_the_glue_temp_dir_and_read_everything_the_job_names(
        aws, dist, conf_root, tmp_path, capsys):
    uploaded = _uploaded(aws, dist, conf_root)
    definition = glue.job_definition(uploaded, glue.GlueJobSettings(job="csv_to_parquet",
                                                                    role_arn=ROLE_ARN))
    assert _cli("deploy", "iam", "--env", "glue", "--account-id", ACCOUNT, "--region", REGION,
                "--artifacts", f"s3://{BUCKET}/deploy", "--output-dir", str(tmp_path)) == 0
    capsys.readouterr()
    policy = json.loads((tmp_path / "glue-job-policy.json").read_text())
    statements = {s["Sid"]: s for s in policy["Statement"]}
    temp = definition["DefaultArguments"]["--TempDir"][len("s3://"):]
    assert f"arn:aws:s3:::{temp}/*" in statements["WriteLakeZones"]["Resource"]
    readable = statements["ReadLakeAndArtifacts"]["Resource"]
    for key in ("--extra-py-files", "--extra-jars", "--env", "--config"):
        uri = definition["DefaultArguments"][key][len("s3://"):]
        assert any(r.endswith("/*") and uri.startswith(r[len("arn:aws:s3:::"):-1])
                   for r in readable), key


def test_iam_refuses_local_lakes_and_bad_locations():
    with pytest.raises(DeployError, match="is not on S3"):
        iam.scope_from_env(load_env("local"), account_id=ACCOUNT, artifacts_uri="s3://a/b")
    with pytest.raises(DeployError, match="not a plain s3://bucket/prefix"):
        iam.scope_from_env(load_env("emr"), account_id=ACCOUNT, artifacts_uri="s3://a/*")
    with pytest.raises(DeployError, match="12 digits"):
        iam.scope_from_env(load_env("emr"), account_id="42", artifacts_uri="s3://a/b")


def test_deploy_iam_writes_and_applies_roles_in_moto(aws, tmp_path, capsys):
    topic = _topic(aws)
    code = _cli("deploy", "iam", "--env", "emr", "--region", REGION, "--endpoint-url", aws,
                "--artifacts", f"s3://{BUCKET}/deploy", "--log-uri", f"s3://{BUCKET}/emr-logs",
                "--topic-arn", topic, "--glue-job", "lakeforge-customer-propensity",
                "--output-dir", str(tmp_path / "iam"), "--apply")
    assert code == 0, capsys.readouterr().err
    out = json.loads(capsys.readouterr().out)
    assert sorted(p.name for p in (tmp_path / "iam").iterdir()) == [
        "airflow-policy.json", "emr-instance-profile-policy.json", "glue-job-policy.json",
        "stepfunctions-policy.json"]
    c = client("iam", region=REGION, endpoint_url=aws)
    for role, name in (("glue", "lakeforge-glue-job"), ("emr_instance_profile",
                                                         "lakeforge-emr-instance"),
                       ("stepfunctions", "lakeforge-stepfunctions")):
        assert out["roles"][role] == c.get_role(RoleName=name)["Role"]["Arn"]
        stored = c.get_role_policy(RoleName=name, PolicyName="lakeforge")["PolicyDocument"]
        stored = json.loads(stored) if isinstance(stored, str) else stored
        file = {"glue": "glue-job-policy.json", "emr_instance_profile":
                "emr-instance-profile-policy.json",
                "stepfunctions": "stepfunctions-policy.json"}[role]
        assert stored == json.loads((tmp_path / "iam" / file).read_text())
        # moto's policy validator accepts each document as a managed policy too.
        c.create_policy(PolicyName=f"check-{name}", PolicyDocument=json.dumps(stored))
    profile = c.get_instance_profile(InstanceProfileName="lakeforge-emr-instance")
    assert [r["RoleName"] for r in profile["InstanceProfile"]["Roles"]] == [
        "lakeforge-emr-instance"]
    sfn_doc = json.loads((tmp_path / "iam" / "stepfunctions-policy.json").read_text())
    assert iam.policy_resources(sfn_doc) == [
        f"arn:aws:glue:{REGION}:{ACCOUNT}:job/lakeforge-customer-propensity", topic]
    # Applying again updates in place (idempotent), no duplicate roles.
    assert _cli("deploy", "iam", "--env", "emr", "--region", REGION, "--endpoint-url", aws,
                "--artifacts", f"s3://{BUCKET}/deploy", "--output-dir", str(tmp_path / "iam"),
                "--apply") == 0
    names = [r["RoleName"] for r in c.list_roles()["Roles"]]
    assert names.count("lakeforge-glue-job") == 1


def test_deploy_emr_names_an_unknown_cluster(aws, dist, conf_root, capsys):
    code = _cli("deploy", "emr", "--cluster-id", "j-DOESNOTEXIST", *_common(aws, dist, conf_root))
    assert code == 2
    assert "EMR cluster j-DOESNOTEXIST not found" in capsys.readouterr().err
    assert _keys(aws) == []  # nothing uploaded for a step that cannot run


def test_apply_role_lets_its_service_assume_an_existing_role_that_did_not_trust_it(aws):
    """A role of that name already existed for EC2 (a reused name): `deploy iam --apply` wrote
    its policy but Glue could not assume it. Now the Glue statement is added, EC2's kept; a
    second apply changes nothing."""
    c = client("iam", region=REGION, endpoint_url=aws)
    ec2_trust = iam.trust_policy("emr_ec2")
    c.create_role(RoleName="lakeforge-glue-job", AssumeRolePolicyDocument=json.dumps(ec2_trust))
    policy = iam.step_functions_policy(account_id=ACCOUNT, region=REGION, glue_jobs=["j"],
                                       topic_arn=f"arn:aws:sns:{REGION}:{ACCOUNT}:t")
    arn = iam.apply_role(c, "lakeforge-glue-job", "glue", policy)
    role = c.get_role(RoleName="lakeforge-glue-job")["Role"]
    assert role["Arn"] == arn
    trust = role["AssumeRolePolicyDocument"]
    assert [s["Principal"]["Service"] for s in trust["Statement"]] == [
        "ec2.amazonaws.com", "glue.amazonaws.com"]
    iam.apply_role(c, "lakeforge-glue-job", "glue", policy)
    again = c.get_role(RoleName="lakeforge-glue-job")["Role"]["AssumeRolePolicyDocument"]
    assert again == trust


def test_apply_role_keeps_a_trust_policy_that_already_lets_its_service_in_with_a_condition(aws):
    c = client("iam", region=REGION, endpoint_url=aws)
    guarded = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "glue.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}}]}
    c.create_role(RoleName="lakeforge-glue-job", AssumeRolePolicyDocument=json.dumps(guarded))
    policy = iam.step_functions_policy(account_id=ACCOUNT, region=REGION, glue_jobs=["j"],
                                       topic_arn=f"arn:aws:sns:{REGION}:{ACCOUNT}:t")
    iam.apply_role(c, "lakeforge-glue-job", "glue", policy)
    assert c.get_role(RoleName="lakeforge-glue-job")["Role"]["AssumeRolePolicyDocument"] == guarded
