"""The generated IAM policies: linted by parliament, and sufficient and tight when every AWS
call recorded on a moto server is evaluated against them by @cloud-copilot/iam-simulate.

Who makes which calls, and which run records them:

* the job (Glue job role / EMR instance profile): the lifecycle's own AWS calls outside Spark,
  made here for real on moto - the write phase's crawl of the job's raw sources into its
  ``raw_database`` (Glue API catalog) and the run lock in the state store on S3. Spark's own
  S3A/EMRFS reads and writes run in the JVM on Glue/EMR, which moto cannot run; they touch the
  zones the S3 statements name (checked by prefix in tests/lakeforge/test_deploy_aws.py);
* Airflow's role: every call of the four ``dag.test()`` runs (tests/orchestration/
  test_airflow_dags.py);
* the Step Functions role: every call moto's state machine interpreter makes for an execution.

Each role signs with its own access key, so the recorded requests are told apart by key.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import pytest

from lakeforge.aws import client
from lakeforge.config import conf_dir, load_env, read_yaml
from lakeforge.deploy import DeployError, iam
from lakeforge.deploy.stepfunctions import PipelineSettings, build_definition
from tests.orchestration import awsmoto
from tests.orchestration.iam_requests import iam_requests, principal, simulate

ACCOUNT, REGION = awsmoto.ACCOUNT, awsmoto.REGION
BUCKET = "lf-iam-test"
ARTIFACTS = f"s3://{BUCKET}/lakeforge-deploy"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:lakeforge-runs"
GLUE_JOB = "lakeforge-customer-propensity"


def _job_config() -> dict[str, Any]:
    path = conf_dir() / "jobs" / "customer_propensity.yaml"
    return {**read_yaml(path), "_source": str(path)}


def _env() -> Any:
    env = load_env("glue")
    return dataclasses.replace(env, lake=dataclasses.replace(env.lake,
                                                             root=f"s3://{BUCKET}/lake"))


def _job_policy() -> dict[str, Any]:
    scope = iam.scope_from_jobs(_env(), [_job_config()], account_id=ACCOUNT,
                                artifacts_uri=ARTIFACTS, region=REGION,
                                extra_write=[f"{ARTIFACTS}/tmp"])
    return iam.glue_job_policy(scope)


def _all_policies() -> dict[str, dict[str, Any]]:
    env = _env()
    scope = iam.scope_from_jobs(env, [_job_config()], account_id=ACCOUNT,
                                artifacts_uri=ARTIFACTS, region=REGION)
    return {
        "glue": _job_policy(),
        "emr": iam.emr_instance_profile_policy(scope),
        "stepfunctions": iam.step_functions_policy(account_id=ACCOUNT, region=REGION,
                                                   glue_jobs=[GLUE_JOB], topic_arn=TOPIC),
        "airflow": iam.airflow_policy(account_id=ACCOUNT, region=REGION,
                                      glue_jobs=[GLUE_JOB], topic_arn=TOPIC),
    }


def _calls(entries: list[dict[str, Any]], key: str) -> list[tuple]:
    out: list[tuple] = []
    for entry in entries:
        if principal(entry) == key:
            out += iam_requests(entry, REGION, ACCOUNT)
    return out


def _denied(results: list[dict]) -> list[tuple[str, str]]:
    return [(r["action"], r["resource"]) for r in results if r["result"] != "Allowed"]


def _elsewhere(calls: list[tuple]) -> list[tuple]:
    """The same calls on resources the job does not own: another bucket, database, job,
    cluster and topic."""
    moved = []
    for action, resource, context in calls:
        other = (resource.replace(f":::{BUCKET}", ":::someone-elses-bucket")
                 .replace(f"job/{GLUE_JOB}", "job/someone-elses-job")
                 .replace("lakeforge-runs", "someone-elses-topic"))
        other = re.sub(r"(database|table)/lakeforge(_raw)?", r"\1/someone_elses_db", other)
        other = re.sub(r"cluster/j-\w+", "cluster/j-SOMEONEELSE", other)
        if other != resource:
            moved.append((action, other, context))
    return moved


# --------------------------------------------------------------------------- lint


@pytest.mark.parametrize("role", ["glue", "emr", "stepfunctions", "airflow"])
def test_parliament_finds_nothing_above_low_in_the_generated_policy(role):
    from parliament import analyze_policy_string, enhance_finding

    analyzed = analyze_policy_string(json.dumps(_all_policies()[role]))
    findings = [enhance_finding(f) for f in analyzed.findings]
    serious = [(f.issue, f.severity, f.detail) for f in findings
               if f.severity not in ("MUTE", "INFO", "LOW")]
    assert serious == []


def test_parliament_flags_a_policy_with_an_unknown_action():
    """The linter can fail: a misspelt action is reported."""
    from parliament import analyze_policy_string

    policy = _all_policies()["glue"]
    policy["Statement"][0]["Action"] = ["s3:ListBuckett"]
    issues = {f.issue for f in analyze_policy_string(json.dumps(policy)).findings}
    assert "UNKNOWN_ACTION" in issues


# --------------------------------------------------------------------------- derivation


def test_job_policy_names_the_raw_database_and_only_the_jobs_raw_source_folders():
    policy = _job_policy()
    resources = iam.policy_resources(policy)
    for db in ("lakeforge", "lakeforge_raw"):
        assert f"arn:aws:glue:{REGION}:{ACCOUNT}:database/{db}" in resources
        assert f"arn:aws:glue:{REGION}:{ACCOUNT}:table/{db}/*" in resources
    reads = next(s for s in policy["Statement"] if s["Sid"] == "ReadLakeAndArtifacts")
    raw = sorted(r for r in reads["Resource"] if "/lake/raw" in r)
    assert raw == sorted(f"arn:aws:s3:::{BUCKET}/lake/raw/{s}{tail}"
                         for s in ("contacts", "customers", "indicators") for tail in ("", "/*"))
    assert iam.listed_prefixes(policy)[BUCKET].count("lake/raw/contacts/*") == 1


@pytest.mark.parametrize("config, message", [
    ({"database": "", "sources": {}}, "'database' must be a database name"),
    ({"database": "db", "sources": {"a": {"format": "csv"}}}, "'sources.a.path' is missing"),
    ({"database": "db", "sources": ["a"]}, "'sources' must be a mapping"),
])
def test_job_scope_names_the_bad_key(config, message):
    with pytest.raises(DeployError, match=message):
        iam.scope_from_jobs(_env(), [{**config, "_source": "conf/jobs/x.yaml"}],
                            account_id=ACCOUNT, artifacts_uri=ARTIFACTS, region=REGION)
    with pytest.raises(DeployError, match="at least one job"):
        iam.scope_from_jobs(_env(), [], account_id=ACCOUNT, artifacts_uri=ARTIFACTS)


# --------------------------------------------------------------------------- sufficiency


@pytest.fixture
def job_calls(aws, monkeypatch) -> list[tuple]:
    """The lifecycle's AWS calls for customer_propensity on moto, signed as ``job-role``:
    the write phase's crawl of the raw sources into lakeforge_raw (Glue API catalog) and the
    run lock taken and released in the S3 state store."""
    from lakeforge.catalog.glue_api import GlueApiCatalog
    from lakeforge.crawler import crawl
    from lakeforge.locks import JobLock
    from lakeforge.paths import Lake
    from lakeforge.state import store_for

    s3 = client("s3", region=REGION, endpoint_url=aws)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket=BUCKET, Key="lake/raw/customers/customers.csv",
                  Body=b"customer_id,first_name\nc1,Ann\nc2,Bo\n")
    s3.put_object(Bucket=BUCKET, Key="lake/raw/indicators/indicators.csv",
                  Body=b"month,euribor3m\n2024-01,1.5\n")
    s3.put_object(Bucket=BUCKET, Key="lake/raw/contacts/dt=2024-01-01/part-0.json",
                  Body=b'{"contact_id": "k1", "customer_id": "c1"}\n')
    import boto3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "job-role")
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # its credentials were resolved before
    cfg, lake = _job_config(), Lake.from_env(_env())
    roots = [lake.resolve("raw", s["path"]) for s in cfg["sources"].values()]
    catalog = GlueApiCatalog(region=REGION, endpoint_url=aws)
    report = crawl(roots, database=cfg["raw_database"], catalog=catalog, endpoint_url=aws)
    assert sorted(t.name for t in report.tables) == ["contacts", "customers", "indicators"]
    store = store_for(lake.zone("bookmarks"), region=REGION, endpoint_url=aws)
    JobLock(store, f"customer_propensity.{cfg['database']}").acquire().release()
    calls = _calls(awsmoto.recorded(aws), "job-role")
    assert {a for a, _, _ in calls} >= {"glue:CreateTable", "s3:ListBucket", "s3:PutObject"}
    return calls


@pytest.mark.aws
def test_job_role_allows_every_call_the_lifecycle_made_on_moto_and_nothing_elsewhere(
        job_calls):
    """moto cannot run Spark on Glue/EMR: the calls are the lifecycle's boto3 ones (above)."""
    policy = _job_policy()
    assert _denied(simulate(policy, job_calls, ACCOUNT)) == []
    elsewhere = _elsewhere(job_calls)
    assert elsewhere
    results = simulate(policy, elsewhere, ACCOUNT)
    assert [r for r in results if r["result"] == "Allowed"] == []


@pytest.mark.aws
def test_shipped_env_database_only_policy_denies_the_raw_database_calls(job_calls):
    """The policy as it was (the env's database only) is denied the crawl's lakeforge_raw
    calls: the gap this derivation closes."""
    old = iam.glue_job_policy(iam.scope_from_env(_env(), account_id=ACCOUNT,
                                                 artifacts_uri=ARTIFACTS, region=REGION))
    denied = _denied(simulate(old, job_calls, ACCOUNT))
    assert denied and all("lakeforge_raw" in r for _, r in denied)


@pytest.mark.slow
def test_airflow_role_allows_every_call_of_the_dag_runs_and_nothing_elsewhere(dag_runs):
    """Slow: uses the dag.test() runs of tests/orchestration/test_airflow_dags.py."""
    calls = [c for run in dag_runs.values() for c in _calls(run["requests"], "airflow-role")]
    actions = {a for a, _, _ in calls}
    assert actions == {"glue:GetJob", "glue:StartJobRun", "glue:GetJobRun",
                       "elasticmapreduce:AddJobFlowSteps", "elasticmapreduce:ListSteps",
                       "elasticmapreduce:DescribeStep", "sns:Publish"}
    policy = iam.airflow_policy(account_id=ACCOUNT, region=REGION, glue_jobs=[GLUE_JOB],
                                topic_arn=TOPIC)
    assert _denied(simulate(policy, calls, ACCOUNT)) == []
    clusters = sorted({r.rsplit("/", 1)[1] for _, r, _ in calls if ":cluster/" in r})
    pinned = iam.airflow_policy(account_id=ACCOUNT, region=REGION, glue_jobs=[GLUE_JOB],
                                topic_arn=TOPIC, emr_cluster_ids=clusters)
    results = simulate(pinned, _elsewhere(calls), ACCOUNT)
    assert [r for r in results if r["result"] == "Allowed"] == []


@pytest.mark.aws
def test_step_functions_role_allows_every_call_of_an_execution_on_moto(aws):
    """moto's interpreter signs its Glue and SNS calls with the access key ``ak``."""
    from tests.orchestration.test_stepfunctions import _execute

    definition = build_definition(PipelineSettings(glue_job=GLUE_JOB, topic_arn=TOPIC))
    with awsmoto.glue_runtime(awsmoto.GlueRuns()):
        result = _execute(aws, definition, job=GLUE_JOB)
    assert result["status"] == "SUCCEEDED"
    calls = _calls(awsmoto.recorded(aws), "ak")
    assert {a for a, _, _ in calls} == {"glue:StartJobRun", "glue:GetJobRun", "sns:Publish"}
    policy = iam.step_functions_policy(account_id=ACCOUNT, region=REGION,
                                       glue_jobs=[GLUE_JOB], topic_arn=TOPIC)
    assert _denied(simulate(policy, calls, ACCOUNT)) == []
    results = simulate(policy, _elsewhere(calls), ACCOUNT)
    assert [r for r in results if r["result"] == "Allowed"] == []
