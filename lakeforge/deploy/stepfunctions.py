"""The Step Functions state machine: write -> audit -> publish, each phase its own Glue run.

States (Amazon States Language)::

    Write          glue:startJobRun.sync   the job with --phase write: stages a new version
    Audit          glue:startJobRun.sync   --phase audit: the quality gate on the staged version
    Publish        glue:startJobRun.sync   --phase publish: switches the staged version in
    NotifyPublished sns:publish            the three runs' ids and states
    Succeeded      Succeed
    NotifyAuditFailed sns:publish          the audit failed: nothing was switched, the current
                                           version stays (then Failed)
    NotifyFailure  sns:publish             every other Catch lands here with the error and cause
    Failed         Fail

The three tasks start the same Glue job (``lakeforge deploy glue``) with ``--phase`` in the run's
Arguments; the lifecycle hands a staged run from one phase to the next through its state store.
Each task retries Glue's transient errors (throttling, concurrent-run limit, internal errors)
with exponential backoff; the write phase is rerun ``job_retries`` times when its run fails (a
new write starts a new staged run, nothing was switched); a failed audit is a verdict on the
data and a failed publish needs a look, so neither is rerun. The first rerun of the write waits
:data:`WRITE_RETRY_SECONDS` (the job lock's default lease plus a minute): a killed Glue driver
leaves its lock until the lease runs out (the rerun runs on another host, so it cannot tell the
holder is dead), and a rerun that starts sooner only meets LockHeldError.

:func:`validate_definition` checks the structure itself (every Next/Default/Catch target exists,
every state is reachable, a terminal state is reachable from every state, Retry/Catch are well
formed) so a definition is checked without AWS; :func:`aws_validate` asks AWS as well.

Example::

    definition = build_definition(PipelineSettings(glue_job="lakeforge-customer-propensity",
                                                   topic_arn=topic))
    validate_definition(definition)
    arn = deploy_state_machine(sfn_client, "lakeforge-pipeline", definition, role_arn)
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from lakeforge.deploy import DeployError
from lakeforge.locks import DEFAULT_LEASE_SECONDS

log = logging.getLogger(__name__)

GLUE_SYNC = "arn:aws:states:::glue:startJobRun.sync"
SNS_PUBLISH = "arn:aws:states:::sns:publish"
GLUE_TRANSIENT_ERRORS = [
    "Glue.ConcurrentRunsExceededException",
    "Glue.ThrottlingException",
    "Glue.InternalServiceException",
    "Glue.OperationTimeoutException",
]
TERMINAL_TYPES = ("Succeed", "Fail")
STATE_TYPES = ("Task", "Pass", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map")
# The job lock's default lease (RunSettings.lock_ttl_seconds' default; lakeforge.locks imports
# no pyspark, which the Airflow workers and a deploy-only install do not have).
LOCK_LEASE_SECONDS = DEFAULT_LEASE_SECONDS
# How long a crashed write's rerun waits: a killed driver's lease outlives it by up to
# LOCK_LEASE_SECONDS, so wait that plus a minute (the Step Functions write retrier and the
# Airflow DAGs' retry_delay). A job whose run.lock_ttl_seconds is longer needs a longer wait.
WRITE_RETRY_SECONDS = int(LOCK_LEASE_SECONDS) + 60


class InvalidStateMachineError(DeployError):
    """A state machine definition is structurally wrong; ``problems`` lists every finding."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("state machine definition is invalid: " + "; ".join(problems))


@dataclass(frozen=True)
class PipelineSettings:
    """Names the state machine needs: the Glue job whose phases run, the SNS topic."""

    glue_job: str
    topic_arn: str
    job_arguments: Mapping[str, str] = field(default_factory=dict)
    job_retries: int = 1
    transient_retries: int = 3

    def validate(self) -> None:
        if not self.glue_job:
            raise DeployError("the state machine needs the Glue job name")
        if not self.topic_arn.startswith("arn:aws") or ":sns:" not in self.topic_arn:
            raise DeployError(f"topic {self.topic_arn!r} is not an SNS topic ARN")
        bad = sorted(k for k in self.job_arguments if not k.startswith("--"))
        if bad:
            raise DeployError(f"job arguments must start with '--', got {bad}")
        for own in ("--phase", "--handoff"):
            if own in self.job_arguments or f"{own}.$" in self.job_arguments:
                raise DeployError(f"job arguments may not set {own}: each state sets its own")
        if self.job_retries < 0 or self.transient_retries < 0:
            raise DeployError("retry counts must be >= 0")


def _glue_phase_task(settings: PipelineSettings, phase: str, next_state: str,
                     job_retries: int, on_error: str) -> dict[str, Any]:
    # --handoff: the execution's name, so each phase takes over only what this execution's
    # write left (an overlapping execution's write is refused, not audited and published)
    params: dict[str, Any] = {"JobName": settings.glue_job,
                              "Arguments": {**settings.job_arguments, "--phase": phase,
                                            "--handoff.$": "$$.Execution.Name"}}
    retry: list[dict[str, Any]] = []
    if settings.transient_retries:
        retry.append({"ErrorEquals": list(GLUE_TRANSIENT_ERRORS), "IntervalSeconds": 30,
                      "MaxAttempts": settings.transient_retries, "BackoffRate": 2.0})
    if job_retries:
        # Longer than the job lock's lease, so a crashed write's lock has expired when the
        # rerun takes it (WRITE_RETRY_SECONDS).
        retry.append({"ErrorEquals": ["States.TaskFailed"],
                      "IntervalSeconds": WRITE_RETRY_SECONDS,
                      "MaxAttempts": job_retries, "BackoffRate": 2.0})
    task: dict[str, Any] = {
        "Type": "Task",
        "Resource": GLUE_SYNC,
        "Parameters": params,
        "ResultSelector": {
            "JobName.$": "$.JobName",
            "JobRunId.$": "$.Id",
            "JobRunState.$": "$.JobRunState",
            "ExecutionTime.$": "$.ExecutionTime",
        },
        "ResultPath": f"$.results.{phase}",
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": on_error}],
        "Next": next_state,
    }
    if retry:
        task["Retry"] = retry
    return task


def _notify(topic_arn: str, subject: str, message: dict[str, str], next_state: str,
            catch_to: str | None, result_path: str) -> dict[str, Any]:
    state: dict[str, Any] = {
        "Type": "Task",
        "Resource": SNS_PUBLISH,
        "Parameters": {
            "TopicArn": topic_arn,
            "Subject": subject,
            **message,
            "MessageAttributes": {
                "execution": {"DataType": "String", "StringValue.$": "$$.Execution.Name"},
            },
        },
        "ResultPath": result_path,
        "Retry": [{"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 10,
                   "MaxAttempts": 3, "BackoffRate": 2.0}],
        "Next": next_state,
    }
    if catch_to:
        state["Catch"] = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.notify_error",
                           "Next": catch_to}]
    return state


def build_definition(settings: PipelineSettings) -> dict[str, Any]:
    """The state machine definition (a dict; ``json.dumps`` it for AWS)."""
    settings.validate()
    failure = "States.Format('Execution {} failed: {} {}', $$.Execution.Name, $.error.Error, " \
              "$.error.Cause)"
    return {
        "Comment": "Lakeforge write-audit-publish: stage a new version, run the quality gate "
                   "on it, switch it in",
        "StartAt": "Write",
        "States": {
            "Write": _glue_phase_task(settings, "write", "Audit", settings.job_retries,
                                      "NotifyFailure"),
            # A failing audit is a verdict on the data, not a fault: never rerun. The staged
            # version is not switched in; the current one stays.
            "Audit": _glue_phase_task(settings, "audit", "Publish", 0, "NotifyAuditFailed"),
            "Publish": _glue_phase_task(settings, "publish", "NotifyPublished", 0,
                                        "NotifyFailure"),
            "NotifyPublished": _notify(
                settings.topic_arn, "Lakeforge run published",
                {"Message.$": "States.JsonToString($.results)"}, "Succeeded", None,
                "$.notified"),
            "Succeeded": {"Type": "Succeed"},
            "NotifyAuditFailed": _notify(
                settings.topic_arn, "Lakeforge audit failed: current version kept",
                {"Message.$": "States.Format('Execution {}: the audit of the staged version "
                              "failed ({}); nothing was published and the current version "
                              "stays. {}', $$.Execution.Name, $.error.Error, $.error.Cause)"},
                "Failed", "Failed", "$.notified"),
            "NotifyFailure": _notify(settings.topic_arn, "Lakeforge run failed",
                                     {"Message.$": failure}, "Failed", "Failed",
                                     "$.notified"),
            # Even if a notification fails, the execution must still end as failed.
            "Failed": {"Type": "Fail", "Error": "LakeforgePipelineFailed",
                       "Cause": "a phase failed; see the notification for the cause"},
        },
    }


# --------------------------------------------------------------------------- validation


def _targets(state: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(where, target state name) for every transition out of ``state``."""
    out: list[tuple[str, str]] = []
    if "Next" in state:
        out.append(("Next", state["Next"]))
    if "Default" in state:
        out.append(("Default", state["Default"]))
    for i, choice in enumerate(state.get("Choices") or []):
        if isinstance(choice, Mapping) and "Next" in choice:
            out.append((f"Choices[{i}].Next", choice["Next"]))
    for i, catch in enumerate(state.get("Catch") or []):
        if isinstance(catch, Mapping) and "Next" in catch:
            out.append((f"Catch[{i}].Next", catch["Next"]))
    return out


def _check_error_list(name: str, field_name: str, entries: Any, problems: list[str]) -> None:
    if not isinstance(entries, list) or not entries:
        problems.append(f"state {name}: {field_name} must be a non-empty list")
        return
    for i, entry in enumerate(entries):
        where = f"state {name}: {field_name}[{i}]"
        errors = entry.get("ErrorEquals") if isinstance(entry, Mapping) else None
        if not isinstance(errors, list) or not errors:
            problems.append(f"{where} needs a non-empty ErrorEquals list")
            continue
        if "States.ALL" in errors and (len(errors) > 1 or i != len(entries) - 1):
            problems.append(f"{where}: States.ALL must be alone and in the last entry")
        if field_name == "Retry":
            attempts = entry.get("MaxAttempts", 3)
            backoff = entry.get("BackoffRate", 2.0)
            if not isinstance(attempts, int) or attempts < 0:
                problems.append(f"{where}: MaxAttempts must be an integer >= 0")
            if not isinstance(backoff, (int, float)) or backoff < 1.0:
                problems.append(f"{where}: BackoffRate must be >= 1.0")
        if field_name == "Catch" and "Next" not in entry:
            problems.append(f"{where} has no Next")


def _machine_problems(machine: Mapping[str, Any], label: str) -> list[str]:
    problems: list[str] = []
    states = machine.get("States")
    start = machine.get("StartAt")
    if not isinstance(states, Mapping) or not states:
        return [f"{label}: States must be a non-empty mapping"]
    if start not in states:
        problems.append(f"{label}: StartAt {start!r} is not a state")
    for name, state in states.items():
        if not isinstance(state, Mapping):
            problems.append(f"{label}: state {name} must be an object")
            continue
        kind = state.get("Type")
        if kind not in STATE_TYPES:
            problems.append(f"{label}: state {name} has unknown Type {kind!r}")
            continue
        for where, target in _targets(state):
            if target not in states:
                problems.append(f"{label}: state {name} {where} -> {target!r} does not exist")
        if kind in TERMINAL_TYPES:
            if "Next" in state or "End" in state:
                problems.append(f"{label}: {kind} state {name} may not have Next or End")
        elif kind == "Choice":
            if not state.get("Choices"):
                problems.append(f"{label}: Choice state {name} has no Choices")
        else:
            has_next, has_end = "Next" in state, state.get("End") is True
            if has_next == has_end:
                problems.append(f"{label}: state {name} needs exactly one of Next or End: true")
        if kind == "Task" and not str(state.get("Resource", "")).startswith("arn:"):
            problems.append(f"{label}: Task state {name} needs a Resource ARN")
        for field_name in ("Retry", "Catch"):
            if field_name in state:
                _check_error_list(name, field_name, state[field_name], problems)
        for i, branch in enumerate(state.get("Branches") or []):
            problems += _machine_problems(branch, f"{label}/{name}.Branches[{i}]")
        inner = state.get("ItemProcessor") or state.get("Iterator")
        if isinstance(inner, Mapping):
            problems += _machine_problems(inner, f"{label}/{name}.ItemProcessor")
    if problems or start not in states:
        return problems

    def successors(n: str) -> list[str]:
        return [t for _, t in _targets(states[n]) if t in states]

    reachable: list[str] = []
    todo: list[str] = [str(start)]
    while todo:
        current = todo.pop()
        if current in reachable:
            continue
        reachable.append(current)
        todo += successors(current)
    for name in states:
        if name not in reachable:
            problems.append(f"{label}: state {name} is unreachable from StartAt {start}")

    def is_terminal(n: str) -> bool:
        s = states[n]
        return s.get("Type") in TERMINAL_TYPES or s.get("End") is True

    ends = {n for n in states if is_terminal(n)}
    if not ends & set(reachable):
        problems.append(f"{label}: no terminal state (Succeed, Fail or End: true) is reachable")
        return problems
    # Walk backwards from the terminal states: a state that cannot reach one loops forever.
    can_finish = set(ends)
    changed = True
    while changed:
        changed = False
        for n in reachable:
            if n not in can_finish and any(t in can_finish for t in successors(n)):
                can_finish.add(n)
                changed = True
    stuck = [n for n in reachable if n not in can_finish]
    if stuck:
        problems.append(f"{label}: states {stuck} can never reach a terminal state")
    return problems


def definition_problems(definition: Mapping[str, Any]) -> list[str]:
    """Every structural problem found in ``definition`` (empty when it is sound)."""
    return _machine_problems(definition, "definition")


def validate_definition(definition: Mapping[str, Any]) -> None:
    """Raise InvalidStateMachineError listing every structural problem."""
    problems = definition_problems(definition)
    if problems:
        raise InvalidStateMachineError(problems)


def aws_validate(sfn: Any, definition: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Ask AWS (``ValidateStateMachineDefinition``); ERROR diagnostics raise, others return."""
    response = sfn.validate_state_machine_definition(
        definition=json.dumps(definition), type="STANDARD"
    )
    diagnostics = list(response.get("diagnostics") or [])
    errors = [d for d in diagnostics if d.get("severity") == "ERROR"]
    if response.get("result") != "OK" or errors:
        raise InvalidStateMachineError(
            [f"{d.get('code')}: {d.get('message')} at {d.get('location')}" for d in errors]
            or [f"AWS validation result {response.get('result')}"]
        )
    return diagnostics


# --------------------------------------------------------------------------- deploying


def find_state_machine(sfn: Any, name: str) -> str | None:
    """The ARN of the state machine called ``name``, if any."""
    for page in sfn.get_paginator("list_state_machines").paginate():
        for machine in page["stateMachines"]:
            if machine["name"] == name:
                return str(machine["stateMachineArn"])
    return None


_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")


def check_role_arn(role_arn: str) -> None:
    """CreateStateMachine / UpdateStateMachine take the role's ARN, not its name."""
    if not _ROLE_ARN.match(role_arn):
        raise DeployError(f"state machine role {role_arn!r} is not an IAM role ARN "
                          "(arn:aws:iam::<account>:role/<name>); `lakeforge deploy iam "
                          "--topic-arn ... --apply` prints the one it creates")


def deploy_state_machine(
    sfn: Any,
    name: str,
    definition: Mapping[str, Any],
    role_arn: str,
    *,
    tags: Mapping[str, str] | None = None,
) -> tuple[str, Literal["created", "updated"]]:
    """Validate, then create the state machine or update the one of that name; return its ARN."""
    validate_definition(definition)
    check_role_arn(role_arn)
    body = json.dumps(definition, indent=2)
    existing = find_state_machine(sfn, name)
    if existing:
        sfn.update_state_machine(stateMachineArn=existing, definition=body, roleArn=role_arn)
        log.info("updated state machine %s", existing)
        return existing, "updated"
    response = sfn.create_state_machine(
        name=name, definition=body, roleArn=role_arn, type="STANDARD",
        tags=[{"key": k, "value": v} for k, v in sorted((tags or {}).items())],
    )
    arn = str(response["stateMachineArn"])
    log.info("created state machine %s", arn)
    return arn, "created"
