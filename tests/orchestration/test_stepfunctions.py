"""The Step Functions state machine: write -> audit -> publish, checked by npm's asl-validator
and executed end to end by moto's ASL interpreter on a moto server.

moto cannot run Glue job scripts: the Glue runtime stand-in (tests.orchestration.awsmoto.GlueRuns)
records each run's ``--phase`` and ends it SUCCEEDED, or FAILED for the phase a test fails, so
what is tested is the orchestration: order, arguments, Retry, Catch and the notifications; the
phases' own effect on the data (a failed audit leaves the current version) is the lifecycle's,
tested in the lifecycle tests.
"""

from __future__ import annotations

import inspect
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from lakeforge.aws import client
from lakeforge.deploy import DeployError
from lakeforge.deploy.stepfunctions import (
    LOCK_LEASE_SECONDS,
    WRITE_RETRY_SECONDS,
    PipelineSettings,
    build_definition,
    deploy_state_machine,
    validate_definition,
)
from tests.orchestration import awsmoto

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "orchestration" / "stepfunctions" / "lakeforge-pipeline.asl.json"
TOPIC = f"arn:aws:sns:{awsmoto.REGION}:{awsmoto.ACCOUNT}:lakeforge-runs"
JOB = "lakeforge-csv-to-parquet"


def _asl_validator(tools: Path, definition: dict[str, Any], tmp_path: Path) -> tuple[int, str]:
    path = tmp_path / "definition.asl.json"
    path.write_text(json.dumps(definition), encoding="utf-8")
    proc = subprocess.run([str(tools / ".bin" / "asl-validator"), "--json-path", str(path)],
                          capture_output=True, text=True, timeout=120)
    return proc.returncode, proc.stdout + proc.stderr


def _settings(**kw: Any) -> PipelineSettings:
    return PipelineSettings(glue_job=kw.pop("glue_job", JOB), topic_arn=TOPIC, **kw)


def test_generated_definition_passes_the_npm_asl_validator(node_tools, tmp_path):
    rc, out = _asl_validator(node_tools, build_definition(_settings()), tmp_path)
    assert rc == 0, out
    assert "is valid" in out


def test_asl_validator_rejects_a_definition_with_a_missing_target(node_tools, tmp_path):
    definition = build_definition(_settings())
    definition["States"]["Audit"]["Next"] = "Publsh"
    rc, out = _asl_validator(node_tools, definition, tmp_path)
    assert rc != 0
    assert "MISSING_TRANSITION_TARGET" in out and "Publsh" in out
    with pytest.raises(DeployError, match="Publsh"):
        validate_definition(definition)


def test_committed_definition_is_what_the_deploy_command_writes(node_tools, tmp_path):
    committed = json.loads(COMMITTED.read_text(encoding="utf-8"))
    assert committed == build_definition(
        PipelineSettings(glue_job="lakeforge-customer-propensity",
                         topic_arn="arn:aws:sns:eu-west-1:123456789012:lakeforge-runs"))
    rc, out = _asl_validator(node_tools, committed, tmp_path)
    assert rc == 0, out


def test_states_run_write_then_audit_then_publish_each_a_phase_of_the_same_glue_job():
    definition = build_definition(_settings(job_arguments={"--output.table": "sales_v2"}))
    states = definition["States"]
    order, name = [], definition["StartAt"]
    while "Next" in states[name]:  # the success path, from StartAt
        order.append(name)
        name = states[name]["Next"]
    assert order + [name] == ["Write", "Audit", "Publish", "NotifyPublished", "Succeeded"]
    for state, phase in (("Write", "write"), ("Audit", "audit"), ("Publish", "publish")):
        params = states[state]["Parameters"]
        assert states[state]["Resource"] == "arn:aws:states:::glue:startJobRun.sync"
        assert params["JobName"] == JOB
        assert params["Arguments"] == {"--output.table": "sales_v2", "--phase": phase,
                                       "--handoff.$": "$$.Execution.Name"}


def test_retry_and_catch_paths():
    states = build_definition(_settings(job_retries=2, transient_retries=4))["States"]
    transient = ["Glue.ConcurrentRunsExceededException", "Glue.ThrottlingException",
                 "Glue.InternalServiceException", "Glue.OperationTimeoutException"]
    # Every phase retries Glue's transient errors; only the write is rerun after a failed run.
    for name in ("Write", "Audit", "Publish"):
        assert states[name]["Retry"][0]["ErrorEquals"] == transient
        assert states[name]["Retry"][0]["MaxAttempts"] == 4
    assert states["Write"]["Retry"][1] == {"ErrorEquals": ["States.TaskFailed"],
                                           "IntervalSeconds": WRITE_RETRY_SECONDS,
                                           "MaxAttempts": 2, "BackoffRate": 2.0}
    assert len(states["Audit"]["Retry"]) == 1 and len(states["Publish"]["Retry"]) == 1
    catches = {n: [(c["ErrorEquals"], c["Next"]) for c in states[n]["Catch"]]
               for n in ("Write", "Audit", "Publish", "NotifyAuditFailed", "NotifyFailure")}
    assert catches == {
        "Write": [(["States.ALL"], "NotifyFailure")],
        "Audit": [(["States.ALL"], "NotifyAuditFailed")],
        "Publish": [(["States.ALL"], "NotifyFailure")],
        "NotifyAuditFailed": [(["States.ALL"], "Failed")],
        "NotifyFailure": [(["States.ALL"], "Failed")],
    }
    assert states["NotifyAuditFailed"]["Next"] == "Failed"
    assert states["Failed"]["Type"] == "Fail"
    no_retries = build_definition(_settings(job_retries=0, transient_retries=0))["States"]
    assert "Retry" not in no_retries["Write"]


def test_a_crashed_write_is_rerun_only_after_the_job_locks_default_lease_ran_out():
    """A killed Glue driver keeps the job lock until its lease (run.lock_ttl_seconds) runs out,
    and the rerun, on another host, cannot tell the holder is dead: a rerun inside the lease
    only meets LockHeldError. The wait is derived from the lease, which must be the lifecycle
    setting's default."""
    from lakeforge.lifecycle.settings import RunSettings
    from lakeforge.locks import JobLock

    assert RunSettings().lock_ttl_seconds == LOCK_LEASE_SECONDS
    assert inspect.signature(JobLock).parameters["ttl_seconds"].default == LOCK_LEASE_SECONDS
    assert WRITE_RETRY_SECONDS == LOCK_LEASE_SECONDS + 60
    write = build_definition(_settings())["States"]["Write"]
    (rerun,) = [r for r in write["Retry"] if r["ErrorEquals"] == ["States.TaskFailed"]]
    assert rerun["IntervalSeconds"] > RunSettings().lock_ttl_seconds
    committed = json.loads(COMMITTED.read_text(encoding="utf-8"))["States"]["Write"]["Retry"]
    assert rerun in committed


@pytest.mark.parametrize("bad, message", [
    ({"glue_job": ""}, "Glue job name"),
    ({"job_arguments": {"phase": "x"}}, "must start with '--'"),
    ({"job_arguments": {"--phase": "write"}}, "may not set --phase"),
    ({"job_arguments": {"--handoff": "x"}}, "may not set --handoff"),
    ({"job_retries": -1}, "retry counts"),
])
def test_pipeline_settings_name_what_is_wrong(bad, message):
    with pytest.raises(DeployError, match=message):
        build_definition(_settings(**bad))


# --------------------------------------------------------------------------- executed on moto


def _execute(endpoint: str, definition: dict[str, Any], job: str = JOB) -> dict[str, Any]:
    glue = client("glue", region=awsmoto.REGION, endpoint_url=endpoint)
    glue.create_job(Name=job, Role=f"arn:aws:iam::{awsmoto.ACCOUNT}:role/lakeforge-glue-job",
                    Command={"Name": "glueetl", "ScriptLocation": "s3://b/glue_entry.py"},
                    GlueVersion="5.0")
    client("sns", region=awsmoto.REGION, endpoint_url=endpoint).create_topic(
        Name="lakeforge-runs")
    sfn = client("stepfunctions", region=awsmoto.REGION, endpoint_url=endpoint)
    arn, action = deploy_state_machine(
        sfn, "lakeforge-pipeline", definition,
        f"arn:aws:iam::{awsmoto.ACCOUNT}:role/lakeforge-stepfunctions")
    assert action == "created"
    # named: Step Functions names an unnamed execution with a UUID, moto names it "None"
    execution = sfn.start_execution(stateMachineArn=arn, name="lakeforge-run-1",
                                    input="{}")["executionArn"]
    for _ in range(600):  # moto's interpreter runs in a thread; poll it (no sleeping assertions)
        described = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            break
        time.sleep(0.1)
    history = sfn.get_execution_history(executionArn=execution)["events"]
    entered = [e["stateEnteredEventDetails"]["name"] for e in history
               if e["type"].endswith("StateEntered")]
    return {"status": described["status"], "entered": entered, "execution": execution,
            "output": json.loads(described.get("output") or "null")}


@pytest.mark.aws
def test_execution_on_moto_runs_write_audit_publish_in_order_then_notifies(aws):
    """moto's ASL interpreter runs the definition; Glue runs end SUCCEEDED (stand-in)."""
    with awsmoto.glue_runtime(awsmoto.GlueRuns()) as runs:
        result = _execute(aws, build_definition(_settings()))
    assert result["status"] == "SUCCEEDED"
    assert result["entered"] == ["Write", "Audit", "Publish", "NotifyPublished", "Succeeded"]
    assert runs.phases() == ["write", "audit", "publish"]
    assert {r["job"] for r in runs.started} == {JOB}
    # every phase carries the execution's name: the lifecycle ties the hand-over to it
    name = result["execution"].rsplit(":", 1)[-1]
    assert [r["arguments"].get("--handoff") for r in runs.started] == [name] * 3
    assert [r["JobRunState"] for r in result["output"]["results"].values()] == ["SUCCEEDED"] * 3
    messages = awsmoto.sns_messages(TOPIC)
    assert [m["subject"] for m in messages] == ["Lakeforge run published"]
    assert set(json.loads(messages[0]["message"])) == {"write", "audit", "publish"}


@pytest.mark.aws
def test_execution_on_moto_with_a_failed_audit_never_starts_publish_and_reports(aws):
    """The audit's Glue run ends FAILED (stand-in for an Error-level check failing): no
    publish run starts, so the staged version is never switched in; subscribers are told."""
    with awsmoto.glue_runtime(awsmoto.GlueRuns(failing={"audit": "quality gate"})) as runs:
        result = _execute(aws, build_definition(_settings()))
    assert result["status"] == "FAILED"
    assert runs.phases() == ["write", "audit"]  # not retried, publish never started
    assert result["entered"] == ["Write", "Audit", "NotifyAuditFailed", "Failed"]
    messages = awsmoto.sns_messages(TOPIC)
    assert [m["subject"] for m in messages] == ["Lakeforge audit failed: current version kept"]
    assert "current version stays" in messages[0]["message"]


@pytest.mark.aws
def test_execution_on_moto_retries_a_busy_glue_job_and_a_failed_write(aws):
    """Glue's ConcurrentRunsExceededException on the first start of the write is retried
    (transient), then a failed write run is rerun once, fails again, and lands in
    NotifyFailure. Intervals are 1 s here so the test does not wait minutes."""
    definition = build_definition(_settings(job_retries=1))
    for retry in definition["States"]["Write"]["Retry"]:
        retry["IntervalSeconds"] = 1
    with awsmoto.glue_runtime(awsmoto.GlueRuns(failing={"write": "boom"},
                                               busy_once={"write"})) as runs:
        result = _execute(aws, definition)
    assert runs.refused == ["write"]
    assert runs.phases() == ["write", "write"]  # the failed write rerun once, then given up
    assert result["status"] == "FAILED"
    assert result["entered"][-2:] == ["NotifyFailure", "Failed"]
    assert "Audit" not in result["entered"]
    assert [m["subject"] for m in awsmoto.sns_messages(TOPIC)] == ["Lakeforge run failed"]
