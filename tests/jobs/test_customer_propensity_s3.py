"""The main job with the whole lake on s3:// (moto over HTTPS, SSE-KMS) against a local-folder
run of the same raw data.

The S3 run is ``lakeforge run customer_propensity --env <local_s3 + SSE-KMS>`` in a subprocess:
a fresh session takes the S3A settings (and the magic committer) when its JVM starts, and its
embedded metastore (Derby in spark.metastore_dir) checks partition locations with them; the
test session's metastore copied its Hadoop conf when it started, before any S3 endpoint
existed. The local-folder run it is compared with is the suite's shared in-process run of the
main job (tests/conftest.py ``main_job_run``: the same generated data, seed and arguments,
tests/jobsupport.py ``MAIN_JOB_DATA`` / ``MAIN_JOB_ARGS``); the S3 run's published version
folders are downloaded and read by the test session to compare.

What moto cannot do, and so is not exercised here: Glue crawlers, Glue jobs and EMR steps do
not run on moto; the crawl below is Lakeforge's own crawler listing S3 through the S3 API, and
Spark reads and writes through S3A against moto's S3.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from lakeforge import aws, io
from lakeforge.bookmarks import JobBookmarks
from lakeforge.config import conf_dir
from lakeforge.dev_s3 import TRUSTSTORE_PASSWORD, LocalS3Server, restore_jvm_trust, trust_in_jvm
from lakeforge.state import store_for
from tests.jobsupport import MAIN_JOB_ARGS, MAIN_JOB_DATA, MAIN_JOB_DB, MOTO_CREDENTIALS

# slow: a run of the whole pipeline (Splink training included) on tiny data on S3A in a
# subprocess (the folder run it is compared with is the suite's shared main_job_run)
pytestmark = [pytest.mark.aws, pytest.mark.jars, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
DATA = MAIN_JOB_DATA  # the local run's (main_job_run's) data and arguments
TABLES = ("customers_golden", "customer_matches", "contacts_enriched")
DB = MAIN_JOB_DB


@pytest.fixture(scope="module")
def tls_s3(spark: Any) -> Iterator[LocalS3Server]:
    """moto over HTTPS (S3A sends SSE-KMS requests over HTTPS only), trusted by boto3 and by
    the test session's JVM for this module."""
    if "hadoop-aws" not in spark.sparkContext.getConf().get("spark.jars", ""):
        pytest.skip("the test session has no s3a jar set (make jars)")
    server = LocalS3Server(https=True).start()
    mp = pytest.MonkeyPatch()
    for key, value in {**MOTO_CREDENTIALS, "AWS_CA_BUNDLE": str(server.ca_bundle),
                       "LAKEFORGE_AWS_ENDPOINT_URL": server.endpoint}.items():
        mp.setenv(key, value)
    mp.delenv("AWS_PROFILE", raising=False)
    mp.delenv("LAKEFORGE_LAKE_ROOT", raising=False)
    before = trust_in_jvm(spark, str(server.truststore))
    try:
        yield server
    finally:
        restore_jvm_trust(spark, before)
        aws.configure(None)
        mp.undo()
        server.stop()


def _generate_script() -> Any:
    spec = importlib.util.spec_from_file_location(
        "generate_sample_data", REPO / "scripts" / "generate_sample_data.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def runs(spark: Any, main_job_run: dict[str, Any], tls_s3: LocalS3Server,
         tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("s3_job")
    local_code = main_job_run["code"]

    bucket = f"lf-s3run-{uuid.uuid4().hex[:10]}"
    key_id = aws.client("kms").create_key()["KeyMetadata"]["KeyId"]
    env = yaml.safe_load((conf_dir() / "envs" / "local_s3.yaml").read_text())
    env["lake"]["root"] = f"s3://{bucket}/lake"
    env["spark"].update({"master": "local[2]", "driver_memory": "2g",
                         "metastore_dir": str(tmp / "metastore"),
                         "conf": {"spark.sql.shuffle.partitions": "2"}})
    env["aws"].update({"sse": "SSE-KMS", "kms_key_id": key_id})
    env_file = tmp / "local_s3_kms.yaml"
    env_file.write_text(yaml.safe_dump(env))
    gen_code = _generate_script().main(
        ["--env", str(env_file), "--rows", str(DATA["customers"]), "--days", str(DATA["days"]),
         "--seed", str(DATA["seed"])])
    child_env = dict(os.environ, JDK_JAVA_OPTIONS=(
        f"-Djavax.net.ssl.trustStore={tls_s3.truststore} "
        f"-Djavax.net.ssl.trustStorePassword={TRUSTSTORE_PASSWORD} "
        "-Djavax.net.ssl.trustStoreType=PKCS12"), LAKEFORGE_SITE="0")
    done = subprocess.run(
        [sys.executable, "-m", "lakeforge.cli", "run", "customer_propensity", "--env",
         str(env_file), "--database", DB, "--raw_database", f"{DB}_raw", *MAIN_JOB_ARGS],
        cwd=tmp, env=child_env, capture_output=True, text=True, timeout=1500, check=False)
    aws.configure(None)
    s3 = aws.client("s3")
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
            for o in page.get("Contents", [])]
    summaries = [k for k in keys if k.endswith("/run_summary.json")]
    summary = json.loads(io.read_text(f"s3://{bucket}/{summaries[-1]}")) if summaries else {}
    return {"codes": (local_code, gen_code, done.returncode), "stderr": done.stderr[-3000:],
            "bucket": bucket, "key_id": key_id, "keys": keys, "summary": summary, "s3": s3,
            "local_summary": main_job_run["summary"]}


def _version_rows(spark: Any, folder: str) -> Any:
    """The rows of a published version folder, every column as a string (partition values
    inferred from folder names come back typed otherwise)."""
    from pyspark.sql import functions as F  # noqa: N812

    df = spark.read.option("basePath", folder).parquet(folder)
    return df.select(*[F.col(c).cast("string").alias(c) for c in sorted(df.columns)])


def _version_folder(summary: dict[str, Any], table: str) -> str:
    pub = summary["published"][table]
    return f"{pub['location']}/_versions/{pub['version']}"


def _download(s3: Any, uri: str, folder: Path) -> str:
    """The objects under ``uri`` downloaded with boto3 into ``folder``. The S3 version is read
    from there, not through the shared test JVM's S3A client, whose TLS trust and endpoint are
    process-wide state that other modules on this pytest worker change."""
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/"):
        for obj in page.get("Contents", []):
            target = folder / obj["Key"][len(prefix) + 1:]
            target.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, obj["Key"], str(target))
    return str(folder)


def test_the_whole_run_succeeds_on_s3(runs: dict[str, Any]) -> None:
    assert runs["codes"] == (0, 0, 0), runs["stderr"]
    s = runs["summary"]
    assert s["status"] == "published" and s["lake_root"] == f"s3://{runs['bucket']}/lake"
    assert s["rows"]["customers"]["balanced"] and s["rows"]["contacts"]["balanced"]
    assert s["rows"]["customers"]["quarantined"] > 0  # the generator's malformed lines
    assert {"customers", "contacts", "indicators"} <= set(s["crawl"]["tables"])
    # the bookmark, committed after the publish, is an S3 object of the state store
    marks = JobBookmarks(store_for(f"s3://{runs['bucket']}/lake/bookmarks"),
                         "customer_propensity")
    assert [r["run_id"] for r in marks.runs()] == [s["run_id"]]
    assert s["rows"] == runs["local_summary"]["rows"]  # the same ledgers as the local run


def test_published_rows_equal_the_local_folder_run(runs: dict[str, Any], spark: Any,
                                                   tmp_path: Path) -> None:
    for table in TABLES:
        location = runs["summary"]["published"][table]["location"]
        assert location.startswith(f"s3://{runs['bucket']}/lake/curated/{DB}/"), location
        on_s3 = _version_rows(spark, _download(runs["s3"], _version_folder(runs["summary"], table),
                                               tmp_path / table))
        local = _version_rows(spark, _version_folder(runs["local_summary"], table))
        assert on_s3.columns == local.columns, table
        assert on_s3.count() == local.count() > 0, table
        assert on_s3.exceptAll(local).count() == 0, table  # equal as multisets
        assert local.exceptAll(on_s3).count() == 0, table


def test_every_zone_is_s3_objects(runs: dict[str, Any]) -> None:
    keys = runs["keys"]
    for prefix in ("lake/raw/contacts/dt=", f"lake/curated/{DB}/contacts_enriched/_versions/",
                   "lake/metadata/ground_truth/",
                   f"lake/curated/{DB}/customers_golden/_athena_ddl.sql", "lake/quarantine/",
                   "lake/features/propensity/", "lake/bookmarks/", "lake/metadata/runs/",
                   "lake/metadata/quality/metrics.json"):
        assert any(k.startswith(prefix) for k in keys), prefix
    manifest = json.loads(io.read_text(runs["summary"]["features"]["manifest"]))
    assert manifest["label"]["name"] == "label"
    assert not [k for k in keys if "/_temporary/" in k or "__magic" in k]
    assert not [k for k in keys if k.startswith("lake/bookmarks/locks/")]  # lock released


def test_every_object_carries_sse_kms(runs: dict[str, Any]) -> None:
    s3, bucket = runs["s3"], runs["bucket"]
    assert len(runs["keys"]) > 20
    unencrypted = []
    for key in runs["keys"]:
        head = s3.head_object(Bucket=bucket, Key=key)
        if (head.get("ServerSideEncryption") != "aws:kms"
                or not str(head.get("SSEKMSKeyId", "")).endswith(runs["key_id"])):
            unencrypted.append(key)
    assert unencrypted == []
