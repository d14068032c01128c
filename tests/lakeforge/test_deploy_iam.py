"""``lakeforge deploy iam``: policies derived from the jobs named with ``--job`` (no AWS call
with ``--account-id``; applying the roles on moto is in tests/lakeforge/test_deploy_aws.py)."""

from __future__ import annotations

import json

from lakeforge.cli import main as cli

ACCOUNT = "123456789012"


def _iam(tmp_path, *extra: str) -> int:
    return cli(["deploy", "iam", "--env", "emr", "--account-id", ACCOUNT, "--region", "eu-west-1",
                "--artifacts", "s3://art/deploy", "--output-dir", str(tmp_path), *extra])


def test_policies_follow_each_jobs_databases_and_raw_sources(tmp_path, capsys):
    assert _iam(tmp_path, "--job", "customer_propensity", "--job", "csv_to_parquet") == 0
    capsys.readouterr()
    policy = json.loads((tmp_path / "emr-instance-profile-policy.json").read_text())
    resources = [r for s in policy["Statement"] for r in
                 ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])]
    assert "arn:aws:glue:eu-west-1:123456789012:database/lakeforge_raw" in resources
    raw = sorted({r for r in resources if "/lake/raw/" in r and r.endswith("/*")})
    assert raw == [f"arn:aws:s3:::lakeforge-example-bucket/lake/raw/{s}/*"
                   for s in ("contacts", "customers", "indicators", "sales")]
    # expire_versions lists and aborts a killed write's multipart uploads (lakeforge.io)
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    assert {"s3:ListBucketMultipartUploads", "s3:AbortMultipartUpload"} <= actions
    locate = next(s for s in policy["Statement"] if s["Sid"] == "LocateLakeBuckets")
    assert "Condition" not in locate  # s3:prefix is not a condition key of these actions
    airflow = json.loads((tmp_path / "airflow-policy.json").read_text())
    jobs = next(s for s in airflow["Statement"] if s["Sid"] == "RunGlueJobPhases")
    assert jobs["Resource"] == [
        "arn:aws:glue:eu-west-1:123456789012:job/lakeforge-csv-to-parquet",
        "arn:aws:glue:eu-west-1:123456789012:job/lakeforge-customer-propensity"]


def test_an_unknown_job_is_named_in_one_line(tmp_path, capsys):
    assert _iam(tmp_path, "--job", "no_such_job") == 2
    err = capsys.readouterr().err
    assert "--job no_such_job" in err and "no_such_job.yaml not found" in err
    assert not (tmp_path / "glue-job-policy.json").exists()


def test_an_unknown_job_or_topic_is_refused_before_asking_sts_for_the_account(tmp_path, capsys):
    """Without --account-id the account comes from STS; here STS cannot answer (a closed port,
    and no credentials unless the machine has some), so asking it first ended the command with
    that error instead of the real problem."""
    common = ["deploy", "iam", "--env", "emr", "--region", "eu-west-1", "--endpoint-url",
              "http://127.0.0.1:9", "--artifacts", "s3://art/deploy", "--output-dir",
              str(tmp_path)]
    assert cli([*common, "--job", "no_such_job"]) == 2
    err = capsys.readouterr().err
    assert "--job no_such_job" in err and "GetCallerIdentity" not in err
    assert cli([*common, "--topic-arn", "lakeforge-runs"]) == 2
    err = capsys.readouterr().err
    assert "--topic-arn 'lakeforge-runs' is not an SNS topic ARN" in err
    assert "GetCallerIdentity" not in err
