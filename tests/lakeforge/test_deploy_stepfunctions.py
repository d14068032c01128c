"""lakeforge.deploy.stepfunctions: the structural checks and ``lakeforge deploy stepfunctions``
against a moto server (create, update, dry run). The definition's write -> audit -> publish
order, the asl-validator check and the executed runs are in tests/orchestration/."""

from __future__ import annotations

import json

import pytest

from lakeforge.aws import client
from lakeforge.cli import main as cli
from lakeforge.deploy import iam
from lakeforge.deploy import stepfunctions as sfn
from tests.orchestration import awsmoto

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's account
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:lakeforge-runs"


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The session's moto server, reset (state machines stored, not executed)."""
    awsmoto.reset(moto_endpoint, execute_state_machines=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    return moto_endpoint


def _cli(*args: str) -> int:
    return cli(list(args))


def _definition() -> dict:
    return sfn.build_definition(sfn.PipelineSettings(glue_job="a", topic_arn=TOPIC))


@pytest.mark.parametrize(
    ("break_it", "problem"),
    [
        (lambda d: d["States"]["Write"].update(Next="Nowhere"),
         "Write Next -> 'Nowhere' does not exist"),
        (lambda d: d["States"]["Publish"]["Catch"][0].update(Next="Gone"),
         "Publish Catch[0].Next -> 'Gone' does not exist"),
        (lambda d: d.update(StartAt="Missing"), "StartAt 'Missing' is not a state"),
        (lambda d: d["States"].update(Orphan={"Type": "Succeed"}),
         "state Orphan is unreachable"),
        (lambda d: d["States"]["Audit"].update(End=True),
         "Audit needs exactly one of Next or End"),
        (lambda d: d["States"]["Write"]["Retry"].insert(0, {"ErrorEquals": ["States.ALL"]}),
         "States.ALL must be alone and in the last entry"),
        (lambda d: d["States"]["Write"]["Retry"][0].update(BackoffRate=0.5),
         "BackoffRate must be >= 1.0"),
        (lambda d: d["States"]["Succeeded"].update(Next="Write"),
         "Succeed state Succeeded may not have Next"),
    ],
)
def test_structural_validation_names_each_problem(break_it, problem):
    definition = _definition()
    assert sfn.definition_problems(definition) == []
    break_it(definition)
    with pytest.raises(sfn.InvalidStateMachineError) as info:
        sfn.validate_definition(definition)
    assert any(problem in p for p in info.value.problems), info.value.problems


def test_structural_validation_finds_a_loop_with_no_way_out():
    looping = {"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Next": "B"},
        "B": {"Type": "Choice", "Choices": [{"Variable": "$.x", "BooleanEquals": True,
                                             "Next": "A"}], "Default": "A"},
        "Done": {"Type": "Succeed"}}}
    problems = sfn.definition_problems(looping)
    assert any("no terminal state" in p for p in problems)
    assert any("Done is unreachable" in p for p in problems)
    partly = {"StartAt": "A", "States": {
        "A": {"Type": "Choice", "Choices": [{"Variable": "$.x", "BooleanEquals": True,
                                             "Next": "Loop"}], "Default": "Done"},
        "Loop": {"Type": "Pass", "Next": "Loop"},
        "Done": {"Type": "Succeed"}}}
    assert sfn.definition_problems(partly) == [
        "definition: states ['Loop'] can never reach a terminal state"]
    assert sfn.definition_problems({"StartAt": "A", "States": {}}) == [
        "definition: States must be a non-empty mapping"]


def _topic(endpoint: str) -> str:
    return str(client("sns", region=REGION, endpoint_url=endpoint).create_topic(
        Name="lakeforge-runs")["TopicArn"])


def _sfn_role(endpoint: str) -> str:
    return iam.apply_role(
        client("iam", region=REGION, endpoint_url=endpoint), "lakeforge-sfn", "stepfunctions",
        iam.step_functions_policy(account_id=ACCOUNT, region=REGION,
                                  glue_jobs=["lakeforge-customer-propensity"], topic_arn=TOPIC))


@pytest.mark.aws
def test_deploy_stepfunctions_creates_then_updates_the_state_machine_on_moto(aws, tmp_path,
                                                                             capsys):
    topic, role = _topic(aws), _sfn_role(aws)
    args = ["deploy", "stepfunctions", "--region", REGION, "--endpoint-url", aws,
            "--topic-arn", topic, "--role-arn", role, "--output", str(tmp_path / "sm.json")]
    assert _cli(*args) == 0, capsys.readouterr().err
    first = json.loads(capsys.readouterr().out)
    assert first["action"] == "created"
    c = client("stepfunctions", region=REGION, endpoint_url=aws)
    described = c.describe_state_machine(stateMachineArn=first["state_machine_arn"])
    assert described["roleArn"] == role
    stored = json.loads(described["definition"])
    assert stored == json.loads((tmp_path / "sm.json").read_text())
    assert stored["States"]["NotifyPublished"]["Parameters"]["TopicArn"] == topic
    assert _cli(*args, "--glue-job", "other-job") == 0
    second = json.loads(capsys.readouterr().out)
    assert second == {**second, "action": "updated",
                      "state_machine_arn": first["state_machine_arn"]}
    updated = json.loads(c.describe_state_machine(
        stateMachineArn=first["state_machine_arn"])["definition"])
    assert {updated["States"][s]["Parameters"]["JobName"]
            for s in ("Write", "Audit", "Publish")} == {"other-job"}
    assert len(c.list_state_machines()["stateMachines"]) == 1


@pytest.mark.aws
def test_deploy_stepfunctions_needs_a_role_unless_dry_run(aws, tmp_path, capsys):
    args = ["deploy", "stepfunctions", "--region", REGION, "--endpoint-url", aws,
            "--topic-arn", TOPIC, "--output", str(tmp_path / "sm.json")]
    assert _cli(*args) == 2
    assert "--role-arn is needed" in capsys.readouterr().err
    # refused before the definition is written or AWS is asked to validate it
    assert _cli(*args, "--aws-validate") == 2
    assert "--role-arn is needed" in capsys.readouterr().err
    assert not (tmp_path / "sm.json").exists()
    assert _cli(*args, "--dry-run") == 0
    assert json.loads((tmp_path / "sm.json").read_text())["StartAt"] == "Write"
    assert client("stepfunctions", region=REGION,
                  endpoint_url=aws).list_state_machines()["stateMachines"] == []


@pytest.mark.aws
def test_deploy_stepfunctions_refuses_a_role_name_for_its_arn_before_any_call(aws, tmp_path,
                                                                               capsys):
    """CreateStateMachine takes the role's ARN: AWS (and moto) refuse a name with InvalidArn,
    but only after the definition was written; now refused first, nothing written or sent."""
    code = _cli("deploy", "stepfunctions", "--region", REGION, "--endpoint-url", aws,
                "--topic-arn", TOPIC, "--output", str(tmp_path / "sm.json"),
                "--role-arn", "lakeforge-stepfunctions")
    assert code == 2
    assert ("state machine role 'lakeforge-stepfunctions' is not an IAM role ARN "
            "(arn:aws:iam::<account>:role/<name>)") in capsys.readouterr().err
    assert not (tmp_path / "sm.json").exists()
    assert client("stepfunctions", region=REGION,
                  endpoint_url=aws).list_state_machines()["stateMachines"] == []


def test_aws_validate_passes_and_raises_on_error_diagnostics_stubbed():
    """moto has no ValidateStateMachineDefinition: both answers are stubbed (recorded shape)."""
    from botocore.stub import ANY, Stubber

    c = client("stepfunctions", region=REGION, endpoint_url="http://127.0.0.1:9")
    params = {"definition": ANY, "type": "STANDARD"}
    warning = {"severity": "WARNING", "code": "UNUSED", "message": "m", "location": "/States"}
    with Stubber(c) as stub:
        stub.add_response("validate_state_machine_definition",
                          {"result": "OK", "diagnostics": [warning], "truncated": False}, params)
        assert sfn.aws_validate(c, _definition()) == [warning]
        error = {"severity": "ERROR", "code": "SCHEMA_VALIDATION_FAILED",
                 "message": "The field 'Resource' is required", "location": "/States/Write"}
        stub.add_response("validate_state_machine_definition",
                          {"result": "FAIL", "diagnostics": [error], "truncated": False}, params)
        with pytest.raises(sfn.InvalidStateMachineError,
                           match="'Resource' is required at /States/Write"):
            sfn.aws_validate(c, _definition())
