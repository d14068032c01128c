"""``lakeforge deploy glue|emr`` refuses what cannot run before it uploads anything: every
upload rewrites the version's conf/ that deployed jobs read, so a deploy that is then refused
must not have touched S3. The job arguments after the options reach the job as written
(argparse does not take them for abbreviations of the deploy's own options), and the env and
job config the deploy reads are those of the conf/ it uploads (``--conf-dir``).

AWS is the suite's moto server. dist/ is a hand-made one (tiny stand-in files with a real
manifest and digests): nothing here runs the artifacts, only their Spark line matters.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lakeforge.aws import client
from lakeforge.cli import main as cli
from lakeforge.jars import sha256_of
from tests.lakeforge.conftest import DEPLOY_REGION

pytestmark = pytest.mark.aws

REPO = Path(__file__).resolve().parents[2]
REGION = DEPLOY_REGION
BUCKET = "lf-before-upload"
ROLE_ARN = "arn:aws:iam::123456789012:role/lakeforge-glue-job"
SPARK3_JAR = "scala-udf-similarity-0.1.2_spark3.x.jar"


@pytest.fixture
def aws(moto_deploy: str) -> str:
    """The session's moto server, reset, with the deployment bucket."""
    client("s3", region=REGION, endpoint_url=moto_deploy).create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    return moto_deploy


@pytest.fixture
def spark3_dist(tmp_path: Path) -> Path:
    """A dist/ whose manifest says it was built on Spark 3.5 (Splink's _spark3.x jar)."""
    dist = tmp_path / "dist"
    (dist / "jars").mkdir(parents=True)
    files = {"wheel": "lakeforge-0.1.0-py3-none-any.whl", "pyfiles": "lakeforge_pyfiles.zip",
             "entry": "glue_entry.py", "bootstrap": "bootstrap.sh"}
    jars = [f"jars/{SPARK3_JAR}"]
    for name in [*files.values(), *jars]:
        (dist / name).write_bytes(f"stand-in {name}".encode())
    manifest = {"version": "0.1.0", "spark_line": "spark-3.5", "splink_version": "4.0.8",
                "files": files, "jars": jars,
                "sha256": {n: sha256_of(dist / n) for n in [*files.values(), *jars]}}
    (dist / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return dist


def _common(endpoint: str, dist: Path) -> list[str]:
    return ["--region", REGION, "--endpoint-url", endpoint, "--dist", str(dist),
            "--artifacts", f"s3://{BUCKET}/deploy", "--conf-dir", str(REPO / "conf")]


def _keys(endpoint: str) -> list[str]:
    listed = client("s3", region=REGION, endpoint_url=endpoint).list_objects_v2(Bucket=BUCKET)
    return sorted(o["Key"] for o in listed.get("Contents", []))


def _error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


def test_deploy_glue_6_refuses_spark_3_artifacts_before_uploading_anything(
        aws, spark3_dist, capsys):
    code = cli(["deploy", "glue", "--role-arn", ROLE_ARN, "--glue-version", "6.0",
                *_common(aws, spark3_dist)])
    assert code == 2
    assert "Glue 6.0 runs spark-4.1 but the artifacts were built on spark-3.5" in _error(capsys)
    assert _keys(aws) == []


def test_deploy_emr_new_spark_4_cluster_refuses_spark_3_artifacts_before_uploading_anything(
        aws, spark3_dist, capsys):
    code = cli(["deploy", "emr", "--create-cluster", "--release-label", "emr-spark-8.0.0",
                *_common(aws, spark3_dist)])
    assert code == 2
    assert ("EMR emr-spark-8.0.0 runs spark-4.0 but the artifacts were built on spark-3.5"
            in _error(capsys))
    assert _keys(aws) == []
    assert client("emr", region=REGION, endpoint_url=aws).list_clusters()["Clusters"] == []


def test_deploy_emr_existing_spark_4_cluster_refuses_spark_3_artifacts_before_uploading(
        aws, spark3_dist, capsys):
    emr = client("emr", region=REGION, endpoint_url=aws)
    cluster_id = emr.run_job_flow(
        Name="spark4", ReleaseLabel="emr-spark-8.0.0", JobFlowRole="EMR_EC2_DefaultRole",
        ServiceRole="EMR_DefaultRole",
        Instances={"MasterInstanceType": "m5.xlarge", "SlaveInstanceType": "m5.xlarge",
                   "InstanceCount": 3, "KeepJobFlowAliveWhenNoSteps": True})["JobFlowId"]
    code = cli(["deploy", "emr", "--cluster-id", cluster_id, *_common(aws, spark3_dist)])
    assert code == 2
    assert (f"EMR cluster {cluster_id} (emr-spark-8.0.0) runs spark-4.0 but the artifacts were "
            "built on spark-3.5" in _error(capsys))
    assert _keys(aws) == []
    assert emr.list_steps(ClusterId=cluster_id)["Steps"] == []


def test_deploy_glue_refuses_a_comma_in_a_python_module_before_uploading_anything(
        aws, spark3_dist, capsys):
    code = cli(["deploy", "glue", "--role-arn", ROLE_ARN, "--python-module", "numpy>=1.24,<2",
                *_common(aws, spark3_dist)])
    assert code == 2
    assert "['numpy>=1.24,<2'] contain commas" in _error(capsys)
    assert _keys(aws) == []


def test_deploy_glue_refuses_a_conf_job_argument_clashing_with_iceberg_before_uploading(
        aws, spark3_dist, capsys):
    """Glue's --conf among the job arguments (not --conf-dir abbreviated) sets the Iceberg
    extensions to something else: refused in one line, nothing uploaded."""
    code = cli(["deploy", "glue", "--role-arn", ROLE_ARN, *_common(aws, spark3_dist),
                "--output_format", "iceberg", "--conf", "spark.sql.extensions=com.example.X"])
    assert code == 2
    assert ("--conf: spark.sql.extensions='com.example.X' clashes with the job's table formats"
            in _error(capsys))
    assert _keys(aws) == []


def test_deploy_glue_reads_env_and_job_formats_from_the_conf_dir_it_uploads(
        aws, spark3_dist, tmp_path, capsys):
    """With --conf-dir the deploy took the env (lake bucket, warehouse) and the job's output
    formats from the project's conf/ while uploading --conf-dir's: the Glue job then lacked
    the Iceberg settings its uploaded config needs, and the artifacts went to the other lake's
    bucket. moto stores the job's arguments; it runs nothing."""
    import shutil

    conf = tmp_path / "team_conf"
    shutil.copytree(REPO / "conf", conf)
    env = conf / "envs" / "glue.yaml"
    env.write_text(env.read_text().replace("s3://lakeforge-example-bucket/lake",
                                           "s3://lf-team-lake/lake"))
    (conf / "jobs" / "csv_to_parquet.yaml").write_text(
        "outputs:\n  sales:\n    table: sales\n    format: iceberg\n")
    client("s3", region=REGION, endpoint_url=aws).create_bucket(
        Bucket="lf-team-lake", CreateBucketConfiguration={"LocationConstraint": REGION})
    code = cli(["deploy", "glue", "--role-arn", ROLE_ARN, "--job", "csv_to_parquet",
                "--region", REGION, "--endpoint-url", aws, "--dist", str(spark3_dist),
                "--conf-dir", str(conf)])
    assert code == 0, capsys.readouterr().err
    args = client("glue", region=REGION, endpoint_url=aws).get_job(
        JobName="lakeforge-csv-to-parquet")["Job"]["DefaultArguments"]
    base = "s3://lf-team-lake/lakeforge-deploy/0.1.0"
    assert args["--env"] == f"{base}/conf/envs/glue.yaml"
    assert args["--config"] == f"{base}/conf/jobs/csv_to_parquet.yaml"
    assert args["--datalake-formats"] == "iceberg"
    assert ("spark.sql.catalog.lakeforge_iceberg.warehouse=s3://lf-team-lake/lake/curated"
            in args["--conf"].split(" --conf "))
    assert _keys(aws) == []  # nothing in the project env's deployment bucket either


def test_deploy_glue_passes_a_conf_job_argument_to_the_glue_job(aws, spark3_dist, capsys):
    """``--conf`` after the options is Glue's own job parameter, not an abbreviation of
    ``--conf-dir``. moto stores the job's arguments; it runs nothing."""
    code = cli(["deploy", "glue", "--role-arn", ROLE_ARN, *_common(aws, spark3_dist),
                "--conf", "spark.executor.memoryOverhead=1g"])
    assert code == 0, capsys.readouterr().err
    job = client("glue", region=REGION, endpoint_url=aws).get_job(
        JobName="lakeforge-customer-propensity")["Job"]
    assert job["DefaultArguments"]["--conf"] == "spark.executor.memoryOverhead=1g"
    assert job["DefaultArguments"]["--env"] == f"s3://{BUCKET}/deploy/0.1.0/conf/envs/glue.yaml"
