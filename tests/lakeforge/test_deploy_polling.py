"""lakeforge.deploy.polling and the URI helpers EMR steps and Glue jobs share (no AWS calls)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from lakeforge.deploy import DeployError, RemoteRunFailedError, RemoteRunTimeoutError
from lakeforge.deploy.artifacts import S3Layout, UploadedArtifacts
from lakeforge.deploy.polling import poll_until_done


def _states(*states: dict[str, Any]):
    answers = iter(states)
    return lambda: next(answers)


def _poll(describe, **kwargs: Any) -> dict[str, Any]:
    return poll_until_done(describe, what="run r1", state_key="S", done="OK",
                           failed=("BAD",), reason=lambda s: s.get("why") or "no reason",
                           poll_seconds=7, **kwargs)


def test_returns_the_final_status_and_logs_each_state_once(caplog):
    slept: list[float] = []
    with caplog.at_level(logging.INFO, logger="lakeforge.deploy.polling"):
        status = _poll(_states({"S": "WAIT"}, {"S": "WAIT"}, {"S": "RUN"}, {"S": "OK", "n": 1}),
                       sleep=slept.append)
    assert status == {"S": "OK", "n": 1}
    assert slept == [7, 7, 7]
    assert [r.getMessage() for r in caplog.records] == ["run r1: WAIT", "run r1: RUN",
                                                        "run r1: OK"]


def test_a_failed_state_raises_with_the_reason():
    with pytest.raises(RemoteRunFailedError, match=r"^run r1 ended BAD: disk full$"):
        _poll(_states({"S": "RUN"}, {"S": "BAD", "why": "disk full"}), sleep=lambda s: None)
    with pytest.raises(RemoteRunFailedError, match="ended BAD: no reason"):
        _poll(_states({"S": "BAD"}), sleep=lambda s: None)


def test_times_out_with_the_last_state_and_the_hint():
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    running = iter(lambda: {"S": "RUN"}, None)
    with pytest.raises(RemoteRunTimeoutError,
                       match=r"^run r1 still RUN after 20s; look in the console$"):
        _poll(lambda: next(running), timeout_seconds=20, timeout_hint="; look in the console",
              sleep=sleep, clock=lambda: now[0])
    assert now[0] == 21  # polled at 0, 7, 14 and 21, then gave up


def _throttled() -> Exception:
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"},
                        "ResponseMetadata": {"HTTPStatusCode": 400}}, "GetJobRun")


def _answers(*answers: Any):
    """A describe that returns the dicts and raises the exceptions, in order."""
    queue = iter(answers)

    def describe() -> dict[str, Any]:
        answer = next(queue)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return describe


def test_a_throttled_or_timed_out_describe_is_called_again_at_the_next_poll(caplog):
    from botocore.exceptions import ReadTimeoutError

    slept: list[float] = []
    timeout = ReadTimeoutError(endpoint_url="https://glue.eu-west-1.amazonaws.com/")
    with caplog.at_level(logging.WARNING, logger="lakeforge.deploy.polling"):
        status = _poll(_answers({"S": "RUN"}, _throttled(), timeout, {"S": "OK"}),
                       sleep=slept.append)
    assert status == {"S": "OK"}
    assert slept == [7, 7, 7]
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == [
        "run r1: describing it failed", "run r1: describing it failed"]


def test_a_describe_error_that_is_not_transient_is_raised_at_once():
    from botocore.exceptions import ClientError

    denied = ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"},
                          "ResponseMetadata": {"HTTPStatusCode": 400}}, "GetJobRun")
    slept: list[float] = []
    with pytest.raises(ClientError, match="AccessDeniedException"):
        _poll(_answers({"S": "RUN"}, denied), sleep=slept.append)
    assert slept == [7]
    with pytest.raises(KeyError):
        _poll(_answers(KeyError("S")), sleep=slept.append)


def test_more_throttled_describes_in_a_row_than_allowed_are_raised():
    from botocore.exceptions import ClientError

    from lakeforge.deploy.polling import MAX_DESCRIBE_FAILURES

    slept: list[float] = []
    throttles = [_throttled() for _ in range(MAX_DESCRIBE_FAILURES + 1)]
    with pytest.raises(ClientError, match="ThrottlingException"):
        _poll(_answers({"S": "RUN"}, *throttles), sleep=slept.append)
    assert len(slept) == 1 + MAX_DESCRIBE_FAILURES
    # failures apart, with a good answer between them, never add up
    spaced = [a for _ in range(MAX_DESCRIBE_FAILURES + 1) for a in (_throttled(), {"S": "RUN"})]
    assert _poll(_answers(*spaced, {"S": "OK"}), sleep=lambda s: None) == {"S": "OK"}


def test_glue_wait_for_run_outlasts_a_throttled_get_job_run_stubbed():
    """moto never throttles: GetJobRun's answers are stubbed with botocore's Stubber (the
    client sends each call once, so the throttle reaches the wait as it would after botocore's
    own retries)."""
    from botocore.config import Config
    from botocore.stub import Stubber

    from lakeforge.aws import client
    from lakeforge.deploy import glue

    c = client("glue", region="eu-west-1", endpoint_url="http://127.0.0.1:9",
               config=Config(retries={"total_max_attempts": 1}))
    params = {"JobName": "lakeforge-x", "RunId": "jr_1"}
    run = {"Id": "jr_1", "JobName": "lakeforge-x"}
    with Stubber(c) as stub:
        stub.add_response("get_job_run", {"JobRun": {**run, "JobRunState": "RUNNING"}}, params)
        stub.add_client_error("get_job_run", "ThrottlingException", "Rate exceeded", 400,
                              expected_params=params)
        stub.add_response("get_job_run", {"JobRun": {**run, "JobRunState": "SUCCEEDED"}},
                          params)
        done = glue.wait_for_run(c, "lakeforge-x", "jr_1", poll_seconds=0, sleep=lambda s: None)
        stub.assert_no_pending_responses()
    assert done["JobRunState"] == "SUCCEEDED"


def _uploaded(conf: tuple[str, ...]) -> UploadedArtifacts:
    layout = S3Layout.from_uri("s3://art/deploy", version="1.0")
    return UploadedArtifacts.at(layout, version="1.0", jar_names=[], conf_files=conf)


def test_env_location_and_uploaded_job_config():
    uploaded = _uploaded(("envs/emr.yaml", "jobs/orders.yaml"))
    assert uploaded.env_location("emr") == "s3://art/deploy/1.0/conf/envs/emr.yaml"
    assert uploaded.env_location("s3://other/envs/x.yaml") == "s3://other/envs/x.yaml"
    with pytest.raises(DeployError, match="conf/envs/glue.yaml was not uploaded"):
        uploaded.env_location("glue")
    assert uploaded.uploaded_job_config("orders") == "s3://art/deploy/1.0/conf/jobs/orders.yaml"
    assert uploaded.uploaded_job_config("customers") is None
    assert _uploaded(()).uploaded_job_config("orders") is None
