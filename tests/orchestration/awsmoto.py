"""A moto server for the orchestration tests, plus what the tests need around it: the request
recorder (every AWS call made against the server, to check against the generated IAM
policies) and a Glue runtime stand-in.

What moto cannot do, and how these tests deal with it (said here, and in each test):

* moto does not run Glue job scripts: a job run goes STARTING -> RUNNING -> SUCCEEDED whatever
  its script is. :class:`GlueRuns` records each run's arguments (``--phase``) and sets its end
  state (SUCCEEDED, or FAILED for the phases a test marks as failing) in moto's job run model.
* moto does not run EMR steps: a cluster's first step stays RUNNING. :class:`EmrSteps` ends
  each step (COMPLETED, or FAILED / INTERRUPTED for a failing phase) when it is described, and
  can make an AddJobFlowSteps call queue its step but answer an error (a reply lost to a
  timeout). moto 5.2.6 renders a step's StateChangeReason but never its FailureDetails (what
  EMR says failed, and the log file): the stand-in adds FailureDetails to the described status
  of a step it ended with them.
* moto does run Step Functions state machines (its ASL interpreter, ``execute_state_machine``),
  including ``glue:startJobRun.sync`` and ``sns:publish`` against the same server. Its
  ``.sync`` path for Glue dereferences a callback endpoint that only exists for services that
  also support ``.waitForTaskToken`` (moto 5.2.6: ``'NoneType' object has no attribute
  'interrupt_all'``); :func:`moto_server` registers that pattern for Glue so the endpoint
  exists; the ``.sync`` polling of GetJobRun is moto's own.
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ACCOUNT = "123456789012"  # moto's default account
REGION = "eu-west-1"


def _post(endpoint: str, path: str, body: dict[str, Any] | None = None) -> bytes:
    data = json.dumps(body).encode() if body is not None else b""
    request = urllib.request.Request(f"{endpoint}{path}", data=data, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (127.0.0.1)
        return bytes(response.read())


@contextmanager
def moto_server(recording: Path) -> Iterator[str]:
    """A ThreadedMotoServer on 127.0.0.1 that executes state machines and records requests
    into ``recording``; yields its endpoint URL."""
    from moto.moto_api import recorder
    from moto.server import ThreadedMotoServer

    saved = {k: os.environ.get(k) for k in ("MOTO_PORT", "AWS_ACCESS_KEY_ID",
                                            "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")}
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        resource as sfn_resource,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_glue as sfn_glue,
    )

    patterns = sfn_glue._SUPPORTED_INTEGRATION_PATTERNS
    token = sfn_resource.ResourceCondition.WaitForTaskToken
    added = token not in patterns
    patterns.add(token)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    # moto's state machine interpreter calls Glue and SNS on localhost:$MOTO_PORT.
    os.environ.update({"MOTO_PORT": str(port), "AWS_ACCESS_KEY_ID": "deployer",
                       "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION})
    previous_location = recorder._location
    recorder._location = str(recording)
    _post(endpoint, "/moto-api/config", {"stepfunctions": {"execute_state_machine": True}})
    try:
        yield endpoint
    finally:
        _post(endpoint, "/moto-api/config", {"stepfunctions": {"execute_state_machine": False}})
        recorder.stop_recording()
        recorder._location = previous_location
        server.stop()
        if added:
            patterns.discard(token)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def reset(endpoint: str, *, execute_state_machines: bool = True) -> None:
    """Forget every resource on the server; state machines are executed (moto's ASL
    interpreter) unless ``execute_state_machines`` is false."""
    _post(endpoint, "/moto-api/reset")
    # reset clears moto's user config too: set it again
    _post(endpoint, "/moto-api/config",
          {"stepfunctions": {"execute_state_machine": execute_state_machines}})


def start_recording(endpoint: str) -> None:
    _post(endpoint, "/moto-api/recorder/reset-recording")
    _post(endpoint, "/moto-api/recorder/start-recording")


def recorded(endpoint: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{endpoint}/moto-api/recorder/download-recording",
                                timeout=30) as response:  # noqa: S310
        text = response.read().decode()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@dataclass
class GlueRuns:
    """Glue runtime stand-in: moto cannot run the job script, so each run started on the moto
    server is recorded (job name, arguments) and ends in the state this object chooses:
    FAILED for a phase in ``failing`` (ErrorMessage: the reason), SUCCEEDED otherwise.
    ``busy_once`` phases raise ConcurrentRunsExceededException on their first start, as Glue
    does when the job is already running."""

    failing: dict[str, str] = field(default_factory=dict)
    busy_once: set[str] = field(default_factory=set)
    started: list[dict[str, Any]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def phases(self) -> list[str]:
        return [run["arguments"].get("--phase", "") for run in self.started]


@contextmanager
def glue_runtime(runs: GlueRuns) -> Iterator[GlueRuns]:
    """Patch moto's Glue job model (in this process, where the server runs) with ``runs``."""
    from moto.glue import models
    from moto.glue.exceptions import ConcurrentRunsExceededException

    original = models.FakeJob.start_job_run

    def start_job_run(self: Any, *args: Any, **kwargs: Any) -> str:
        phase = (kwargs.get("arguments") or {}).get("--phase", "")
        if phase in runs.busy_once and phase not in runs.refused:
            runs.refused.append(phase)
            raise ConcurrentRunsExceededException(f"Job with name {self.name} already running")
        run_id = original(self, *args, **kwargs)
        run = self.job_runs[-1]
        end = "FAILED" if phase in runs.failing else "SUCCEEDED"
        run._transitions = [("STARTING", "RUNNING"), ("RUNNING", end)]
        runs.started.append({"job": self.name, "run_id": run_id,
                             "arguments": dict(run.arguments or {}), "end": end})
        return str(run_id)

    models.FakeJob.start_job_run = start_job_run
    try:
        yield runs
    finally:
        models.FakeJob.start_job_run = original


@dataclass
class EmrSteps:
    """EMR runtime stand-in: moto never runs a step (the first stays RUNNING, later ones
    PENDING), so a step ends when it is first described: FAILED when its ``--phase`` argument
    is in ``failing``, or for the first step of a phase in ``fail_once``; INTERRUPTED, with
    :data:`INTERRUPTED_DETAILS` as its FailureDetails and StateChangeReason, when its phase is
    in ``interrupted``; COMPLETED otherwise.
    For a phase in ``reply_lost_once`` the first AddJobFlowSteps queues the step and then
    answers 500 (what a client sees when the call timed out after EMR took it). ``ended`` lists
    (name, phase, state); ``lost_replies`` the phases whose reply was lost."""

    failing: dict[str, str] = field(default_factory=dict)
    fail_once: set[str] = field(default_factory=set)
    reply_lost_once: set[str] = field(default_factory=set)
    interrupted: set[str] = field(default_factory=set)
    ended: list[dict[str, Any]] = field(default_factory=list)
    lost_replies: list[str] = field(default_factory=list)


# What EMR says about a step it interrupted (FailureDetails), set by the stand-in.
INTERRUPTED_DETAILS = {
    "Reason": "Step was interrupted by the stand-in",
    "Message": "the core nodes were lost",
    "LogFile": "s3://lf-orchestration-test/logs/steps/stderr.gz",
}


def _phase_of(args: list[str]) -> str:
    return args[args.index("--phase") + 1] if "--phase" in args else ""


@contextmanager
def emr_runtime(steps: EmrSteps) -> Iterator[EmrSteps]:
    """Patch moto's EMR backend (in this process) so described steps end as ``steps`` says."""
    from moto.core.exceptions import ServiceException
    from moto.emr import models

    class InternalServerError(ServiceException):
        code = "InternalServerError"

    original = models.ElasticMapReduceBackend.describe_step
    original_add = models.ElasticMapReduceBackend.add_job_flow_steps
    original_status: Any = models.Step.__dict__["status"]  # the property object

    def status(self: Any) -> dict[str, Any]:
        out = dict(original_status.fget(self))
        details = getattr(self, "stand_in_failure_details", None)
        if details:  # moto renders no FailureDetails: the stand-in adds what EMR would send
            out["FailureDetails"] = dict(details)
        return out

    def describe_step(self: Any, cluster_id: str, step_id: str) -> Any:
        step = original(self, cluster_id, step_id)
        if step is not None and step.state in ("PENDING", "RUNNING"):
            phase = _phase_of(list(step.args))
            failed_before = any(e["phase"] == phase and e["state"] == "FAILED"
                                for e in steps.ended)
            fails = phase in steps.failing or (phase in steps.fail_once and not failed_before)
            step.state = "FAILED" if fails else "COMPLETED"
            if phase in steps.interrupted:
                step.state = "INTERRUPTED"
                step.last_state_change_reason = INTERRUPTED_DETAILS["Reason"]  # type: ignore[attr-defined]
                step.stand_in_failure_details = INTERRUPTED_DETAILS  # type: ignore[attr-defined]
            steps.ended.append({"name": step.name, "phase": phase, "state": step.state})
        return step

    def add_job_flow_steps(self: Any, job_flow_id: str, new: list[dict[str, Any]]) -> Any:
        added = original_add(self, job_flow_id, new)
        phases = {_phase_of(list(step.args)) for step in added}
        lost = (phases & steps.reply_lost_once) - set(steps.lost_replies)
        if lost:
            steps.lost_replies.extend(sorted(lost))
            raise InternalServerError("stand-in: the step was queued but the reply was lost")
        return added

    models.ElasticMapReduceBackend.describe_step = describe_step
    models.ElasticMapReduceBackend.add_job_flow_steps = add_job_flow_steps
    models.Step.status = property(status)  # type: ignore[assignment,method-assign]
    try:
        yield steps
    finally:
        models.ElasticMapReduceBackend.describe_step = original
        models.ElasticMapReduceBackend.add_job_flow_steps = original_add
        models.Step.status = original_status  # type: ignore[method-assign]


def sns_messages(topic_arn: str, region: str = REGION) -> list[dict[str, Any]]:
    """The messages published to ``topic_arn`` on the moto server (subject, message)."""
    from moto.sns.models import sns_backends

    topic = sns_backends[ACCOUNT][region].topics[topic_arn]
    return [{"subject": n[2], "message": n[1]} for n in topic.sent_notifications]
