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
