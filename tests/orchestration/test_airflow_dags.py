"""The Airflow DAGs (orchestration/airflow/lakeforge_dag.py) in .venv-airflow: loaded by a
DagBag with no import errors, and run end to end by ``dag.test()`` against a moto server.

moto cannot run Glue job scripts or EMR steps: the runtime stand-ins in
tests/orchestration/awsmoto.py end each Glue run SUCCEEDED and each EMR step COMPLETED, or
FAILED for the phase a scenario fails (moto lets a step's state be set in its backend, which
the stand-in does when the step is described), and can lose the reply of an AddJobFlowSteps
that queued its step; so these tests check the orchestration (which phases
run, in which order, with which arguments, what happens after a failed audit); what each phase
does to the data is the lifecycle's, tested with the lifecycle.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from lakeforge.deploy.artifacts import S3Layout, UploadedArtifacts
from lakeforge.deploy.emr import StepSettings, spark_submit_step
from lakeforge.deploy.stepfunctions import LOCK_LEASE_SECONDS, WRITE_RETRY_SECONDS
from tests.orchestration import awsmoto
from tests.orchestration.conftest import AIRFLOW_PY, REPO, airflow_env
from tests.orchestration.iam_requests import iam_requests, principal

DAG_FOLDER = REPO / "orchestration" / "airflow"

pytestmark = pytest.mark.slow

PROBE = r"""
import json, sys
from airflow.models.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1], include_examples=False)
out = {"errors": {str(k): str(v) for k, v in bag.import_errors.items()}, "dags": {}}
for dag in bag.dags.values():
    tasks = {}
    for task in dag.tasks:
        info = {"type": type(task).__name__, "downstream": sorted(task.downstream_task_ids),
                "trigger_rule": str(task.trigger_rule), "retries": task.retries}
        for attr in ("job_name", "script_args", "job_flow_id", "steps", "waiter_delay",
                     "waiter_max_attempts"):
            if hasattr(task, attr):
                info[attr] = getattr(task, attr)
        info["retry_delay_seconds"] = task.retry_delay.total_seconds()
        tasks[task.task_id] = info
    out["dags"][dag.dag_id] = tasks
print("DAGBAG" + json.dumps(out, default=str))
"""


def _dagbag(home: Path, folder: Path, **env: str) -> dict:
    proc = subprocess.run([str(AIRFLOW_PY), "-c", PROBE, str(folder)], capture_output=True,
                          text=True, timeout=600, env={**airflow_env(home), **env})
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("DAGBAG"))
    return json.loads(line[len("DAGBAG"):])


def test_dagbag_loads_both_dags_with_zero_import_errors_and_three_phases(airflow_home):
    """Slow: Airflow starts in .venv-airflow (a few seconds)."""
    bag = _dagbag(airflow_home, DAG_FOLDER)
    assert bag["errors"] == {}
    glue = bag["dags"]["lakeforge_customer_propensity_glue"]
    emr = bag["dags"]["lakeforge_customer_propensity_emr"]
    # No topic configured: the phases alone, no crawler.
    assert {t: v["downstream"] for t, v in glue.items()} == {
        "write": ["audit"], "audit": ["publish"], "publish": []}
    for phase in ("write", "audit", "publish"):
        assert glue[phase]["type"] == "GlueJobOperator"
        assert glue[phase]["job_name"] == "lakeforge-customer-propensity"
        assert glue[phase]["script_args"] == {"--phase": phase, "--handoff": "{{ run_id }}"}
    assert glue["audit"]["retries"] == 0  # a failed audit is a verdict, not retried
    # One task per phase adds the step and waits for it, so the task that fails when the step
    # fails is the one with the retries: write rerun once, audit and publish never.
    assert {t: v["downstream"] for t, v in emr.items()} == {
        "write_step": ["audit_step"], "audit_step": ["publish_step"], "publish_step": []}
    assert {t: (v["type"], v["retries"]) for t, v in emr.items()} == {
        "write_step": ("EmrPhaseStepOperator", 1), "audit_step": ("EmrPhaseStepOperator", 0),
        "publish_step": ("EmrPhaseStepOperator", 0)}
    # A crashed write's lock outlives its driver until the lease runs out: the retry waits
    # the lease (run.lock_ttl_seconds's default) plus a minute, or it only meets
    # LockHeldError.
    for task in ("write", "audit", "publish"):
        assert glue[task]["retry_delay_seconds"] == WRITE_RETRY_SECONDS
        assert emr[f"{task}_step"]["retry_delay_seconds"] == WRITE_RETRY_SECONDS
    assert WRITE_RETRY_SECONDS > LOCK_LEASE_SECONDS
    assert emr["write_step"]["waiter_delay"] == 60.0
    assert emr["write_step"]["waiter_max_attempts"] == 1440  # 24 h at one poll a minute
    # The DAG submits what `lakeforge deploy emr` submits, plus --phase; the name carries the
    # run id (templated), which is how a retry finds an earlier try's step.
    layout = S3Layout.from_uri("s3://lakeforge-example-bucket/lakeforge-deploy", "0.1.0")
    uploaded = UploadedArtifacts.at(
        layout, version="0.1.0", jar_names=["scala-udf-similarity-0.1.2_spark3.x.jar"],
        conf_files=["envs/emr.yaml", "jobs/customer_propensity.yaml"])
    for phase in ("write", "audit", "publish"):
        step = spark_submit_step(uploaded, StepSettings(
            job="customer_propensity", job_args=("--phase", phase, "--handoff", "{{ run_id }}"),
            name=f"lakeforge customer_propensity {phase} {{{{ run_id }}}}"))
        assert emr[f"{phase}_step"]["steps"] == [step]
        assert step["HadoopJarStep"]["Args"][-4:] == ["--phase", phase,
                                                     "--handoff", "{{ run_id }}"]
    with_topic = _dagbag(airflow_home, DAG_FOLDER, LAKEFORGE_AIRFLOW_TOPIC_ARN=(
        "arn:aws:sns:eu-west-1:123456789012:lakeforge-runs"))
    glue = with_topic["dags"]["lakeforge_customer_propensity_glue"]
    assert glue["notify_failure"]["type"] == "SnsPublishOperator"
    assert glue["notify_failure"]["trigger_rule"] == "one_failed"
    assert glue["run_failed"]["trigger_rule"] == "one_failed"
    assert glue["publish"]["downstream"] == ["notify_failure", "run_failed"]


def test_emr_steps_carry_the_spark_conf_setting_and_a_bad_one_is_an_import_error(
        airflow_home):
    """Slow: Airflow starts in .venv-airflow twice. A Delta / Iceberg job's formats reach the
    EMR DAG's steps through LAKEFORGE_AIRFLOW_SPARK_CONF (the deploy's --conf pairs)."""
    conf = {"spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
            "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog"}
    bag = _dagbag(airflow_home, DAG_FOLDER, LAKEFORGE_AIRFLOW_SPARK_CONF=json.dumps(conf))
    assert bag["errors"] == {}
    emr = bag["dags"]["lakeforge_customer_propensity_emr"]
    for phase in ("write", "audit", "publish"):
        args = emr[f"{phase}_step"]["steps"][0]["HadoopJarStep"]["Args"]
        assert [args[i + 1] for i, a in enumerate(args) if a == "--conf"] == sorted(
            f"{k}={v}" for k, v in conf.items())
    broken = _dagbag(airflow_home, DAG_FOLDER, LAKEFORGE_AIRFLOW_SPARK_CONF='["not", "a map"]')
    assert list(broken["dags"]) == []
    assert "LAKEFORGE_AIRFLOW_SPARK_CONF must be a JSON object of strings" in "".join(
        broken["errors"].values())


def test_dagbag_reports_a_broken_dag_file(airflow_home, tmp_path):
    """Slow: starts Airflow. Shows the probe can fail: a DAG file with a bad import is
    reported as an import error, not silently skipped."""
    folder = tmp_path / "dags"
    folder.mkdir()
    source = (DAG_FOLDER / "lakeforge_dag.py").read_text(encoding="utf-8")
    (folder / "broken_dag.py").write_text(
        source.replace("from lakeforge.deploy.emr import", "from lakeforge.deploy.nope import"),
        encoding="utf-8")
    bag = _dagbag(airflow_home, folder)
    assert bag["dags"] == {}
    assert any("lakeforge.deploy.nope" in e for e in bag["errors"].values())


def test_glue_dag_test_on_moto_runs_write_audit_publish_as_three_glue_runs(dag_runs):
    """Slow: dag.test() in .venv-airflow. Glue runs end SUCCEEDED (stand-in: moto runs no
    script)."""
    run = dag_runs["glue"]
    assert run["state"] == "success"
    assert run["tasks"] == {"write": "success", "audit": "success", "publish": "success",
                            "notify_failure": "skipped", "run_failed": "skipped"}
    assert [r["arguments"]["--phase"] for r in run["glue_runs"]] == ["write", "audit",
                                                                     "publish"]
    # The run arguments add --phase to the job's own (from `lakeforge deploy glue`), and the
    # DAG run's id as --handoff (rendered), the same for the three phases.
    handoffs = {r["arguments"]["--handoff"] for r in run["glue_runs"]}
    assert len(handoffs) == 1 and "{" not in handoffs.pop()
    for r in run["glue_runs"]:
        assert r["job"] == "lakeforge-customer-propensity"
        assert r["arguments"]["--lakeforge_job"] == "customer_propensity"
    assert run["sns"] == []


def test_glue_dag_test_on_moto_with_a_failed_audit_skips_publish_reports_and_fails(dag_runs):
    """Slow: dag.test(). The audit's Glue run ends FAILED (stand-in for an Error-level check
    failing): publish never starts, so the current version stays; the topic is told."""
    run = dag_runs["glue:audit"]
    assert run["state"] == "failed"
    assert run["tasks"] == {"write": "success", "audit": "failed",
                            "publish": "upstream_failed", "notify_failure": "success",
                            "run_failed": "failed"}
    assert [r["arguments"]["--phase"] for r in run["glue_runs"]] == ["write", "audit"]
    assert len(run["sns"]) == 1
    assert "current version stays" in run["sns"][0]["message"]


def _step_names(run: dict) -> list[str]:
    return [s["name"] for s in run["emr_steps"]]


def test_emr_dag_test_on_moto_adds_and_waits_for_three_phase_steps(dag_runs):
    """Slow: dag.test(). moto never runs an EMR step: the stand-in ends each step COMPLETED
    when the task first describes it."""
    run = dag_runs["emr"]
    assert run["state"] == "success"
    assert [(s["phase"], s["state"]) for s in run["emr_steps"]] == [
        (p, "COMPLETED") for p in ("write", "audit", "publish")]
    # Each step is named after the phase and the DAG run.
    assert all(name.startswith(f"lakeforge customer_propensity {p} manual__")
               for name, p in zip(_step_names(run), ("write", "audit", "publish"), strict=True))
    assert run["tasks"]["notify_failure"] == "skipped"


def test_emr_dag_test_on_moto_with_a_failed_audit_step_never_adds_publish(dag_runs):
    """Slow: dag.test(). The audit step ends FAILED (stand-in) and is not retried."""
    run = dag_runs["emr:audit"]
    assert run["state"] == "failed"
    assert [s["phase"] for s in run["emr_steps"]] == ["write", "audit"]
    assert run["emr_steps"][1]["state"] == "FAILED"
    assert run["tasks"]["publish_step"] == "upstream_failed"
    assert run["tasks"]["notify_failure"] == "success"
    assert len(run["sns"]) == 1


def _adds(run: dict) -> list[tuple]:
    """The AddJobFlowSteps calls Airflow made (recorded on the moto server)."""
    return [call for entry in run["requests"] if principal(entry) == "airflow-role"
            for call in iam_requests(entry, awsmoto.REGION, awsmoto.ACCOUNT)
            if call[0] == "elasticmapreduce:AddJobFlowSteps"]


def test_emr_dag_test_on_moto_resubmits_a_failed_write_step_exactly_once(dag_runs):
    """Slow: dag.test(). Every write step ends FAILED (stand-in): the write task's one retry
    submits a second step, which fails too; then the run fails and audit is never added."""
    run = dag_runs["emr:write"]
    assert run["state"] == "failed"
    assert [(s["phase"], s["state"]) for s in run["emr_steps"]] == [
        ("write", "FAILED"), ("write", "FAILED")]
    assert len(_adds(run)) == 2
    assert run["tasks"]["write_step"] == "failed"
    assert run["tasks"]["audit_step"] == "upstream_failed"
    assert len(run["sns"]) == 1


def test_emr_dag_test_on_moto_reruns_a_write_step_that_failed_once_and_publishes(dag_runs):
    """Slow: dag.test(). The first write step ends FAILED (stand-in), the resubmitted one
    COMPLETED: the run goes on and succeeds."""
    run = dag_runs["emr:write:fails_once"]
    assert run["state"] == "success"
    assert [(s["phase"], s["state"]) for s in run["emr_steps"]] == [
        ("write", "FAILED"), ("write", "COMPLETED"), ("audit", "COMPLETED"),
        ("publish", "COMPLETED")]
    assert run["tasks"]["notify_failure"] == "skipped"


def test_emr_dag_test_on_moto_after_a_lost_add_reply_waits_for_the_queued_step(dag_runs):
    """Slow: dag.test(). The first AddJobFlowSteps of the write queues its step but answers 500
    (stand-in for a timeout after EMR took the call): the write task fails, and its retry finds
    the step (same name, still PENDING/RUNNING) and waits for it instead of adding a second."""
    run = dag_runs["emr:write:add_reply_lost"]
    assert run["emr_lost_replies"] == ["write"]
    assert run["state"] == "success"
    assert [(s["phase"], s["state"]) for s in run["emr_steps"]] == [
        ("write", "COMPLETED"), ("audit", "COMPLETED"), ("publish", "COMPLETED")]
    # One add per phase: the write's add was sent once (no botocore retry of the 500).
    assert len(_adds(run)) == 3


def _signed_regions(run: dict) -> dict[str, set[str]]:
    """service -> the regions Airflow's requests were signed for (SigV4 credential scope)."""
    out: dict[str, set[str]] = {}
    for entry in run["requests"]:
        if principal(entry) != "airflow-role":
            continue
        scope = re.search(r"Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/",
                          entry["headers"].get("Authorization", ""))
        assert scope, entry["headers"]
        out.setdefault(scope.group(2), set()).add(scope.group(1))
    return out


def test_dag_test_on_moto_makes_every_aws_call_in_lakeforge_airflow_region(dag_runs):
    """Slow: dag.test(). The harness's Airflow connection names another region (us-east-2)
    than LAKEFORGE_AIRFLOW_REGION (eu-west-1): every Glue, EMR and SNS request Airflow signs
    is for eu-west-1, the EMR tasks' too."""
    regions: dict[str, set[str]] = {}
    for run in dag_runs.values():
        for service, seen in _signed_regions(run).items():
            regions.setdefault(service, set()).update(seen)
    assert set(regions) == {"glue", "elasticmapreduce", "sns"}
    assert regions == {service: {awsmoto.REGION} for service in regions}


def test_emr_dag_test_on_moto_fails_an_interrupted_step_at_once_with_emrs_failure_details(
        dag_runs):
    """Slow: dag.test(). The audit step ends INTERRUPTED (stand-in; botocore's StepComplete
    waiter would keep polling it): the task fails on the first DescribeStep that shows it,
    with EMR's FailureDetails in the error, and publish is never added. moto 5.2.6 renders a
    step's StateChangeReason but not its FailureDetails: the stand-in adds those to the
    described status (awsmoto.INTERRUPTED_DETAILS)."""
    run = dag_runs["emr:audit:interrupted"]
    assert run["state"] == "failed"
    assert [(s["phase"], s["state"]) for s in run["emr_steps"]] == [
        ("write", "COMPLETED"), ("audit", "INTERRUPTED")]
    assert run["tasks"]["audit_step"] == "failed"
    assert run["tasks"]["publish_step"] == "upstream_failed"
    describes = [call for entry in run["requests"] if principal(entry) == "airflow-role"
                 for call in iam_requests(entry, awsmoto.REGION, awsmoto.ACCOUNT)
                 if call[0] == "elasticmapreduce:DescribeStep"]
    assert len(describes) == 2  # one per step: the write's, the audit's; no polling after
    details = awsmoto.INTERRUPTED_DETAILS
    failure = [e for e in run["task_errors"] if "RemoteRunFailedError" in e]
    assert failure, run["task_errors"]
    assert "ended INTERRUPTED: " in failure[0]
    assert all(details[k] in failure[0] for k in ("Reason", "Message", "LogFile"))
    assert run["tasks"]["notify_failure"] == "success"
    assert len(run["sns"]) == 1
