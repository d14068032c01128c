"""``lakeforge deploy ...`` when AWS says no: the command ends with one ``error:`` line naming
the target, the AWS operation and AWS's error code and message, and exit code 2 (the CLI's code
for a LakeforgeError), never a traceback. The CLI runs as a real process (``python -m
lakeforge.cli``) so what is checked is exactly what a user sees on stderr; AWS is a moto server
(a call moto refuses), the same server with no credentials anywhere, or a closed port."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lakeforge.aws import client
from lakeforge.commands.deploy import aws_error
from tests.orchestration import awsmoto

REPO = Path(__file__).resolve().parents[2]
REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's account
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:lakeforge-runs"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/lakeforge-stepfunctions"

pytestmark = pytest.mark.aws


@pytest.fixture
def aws(moto_endpoint: str) -> str:
    """The session's moto server, reset."""
    awsmoto.reset(moto_endpoint, execute_state_machines=False)
    return moto_endpoint


def _deploy_sfn(tmp_path: Path, endpoint: str, *extra: str,
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "lakeforge.cli", "deploy", "stepfunctions",
            "--region", REGION, "--endpoint-url", endpoint, "--topic-arn", TOPIC,
            "--role-arn", ROLE, "--output", str(tmp_path / "sm.asl.json"), *extra]
    return subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=REPO,
                          env=env if env is not None else dict(os.environ))


def _one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: deploy stepfunctions: ")
    assert proc.stdout == ""
    return lines[0]


def test_cli_deploy_stepfunctions_with_a_name_moto_refuses_prints_one_error_line_exit_2(
        aws, tmp_path):
    proc = _deploy_sfn(tmp_path, aws, "--name", "bad name!")
    assert _one_error_line(proc) == (
        "error: deploy stepfunctions: AWS CreateStateMachine failed: InvalidName: "
        "Invalid Name: 'bad name!'")
    assert client("stepfunctions", region=REGION,
                  endpoint_url=aws).list_state_machines()["stateMachines"] == []


def test_cli_deploy_stepfunctions_with_no_credentials_prints_one_error_line_exit_2(
        aws, tmp_path):
    """No AWS_* variables, no credentials or config file, no instance metadata: botocore's
    NoCredentialsError, raised before the first call (ListStateMachines) is sent."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
                "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_EC2_METADATA_DISABLED": "true"})
    proc = _deploy_sfn(tmp_path, aws, env=env)
    assert _one_error_line(proc) == (
        "error: deploy stepfunctions: AWS ListStateMachines failed: NoCredentialsError: "
        "Unable to locate credentials")


def test_cli_deploy_stepfunctions_with_no_endpoint_listening_prints_one_error_line_exit_2(
        moto_endpoint, tmp_path):
    """Port 9 on 127.0.0.1 has no server: botocore's EndpointConnectionError (one attempt:
    AWS_MAX_ATTEMPTS=1, so the test does not wait through botocore's retries). The moto
    fixture only supplies its dummy credentials, so the connection is what fails."""
    proc = _deploy_sfn(tmp_path, "http://127.0.0.1:9",
                       env={**os.environ, "AWS_MAX_ATTEMPTS": "1"})
    line = _one_error_line(proc)
    assert line.startswith("error: deploy stepfunctions: AWS ListStateMachines failed: "
                           "EndpointConnectionError: Could not connect to the endpoint URL: "
                           '"http://127.0.0.1:9/"'), line


def test_a_failed_upload_to_a_bucket_moto_does_not_have_names_put_object_and_the_file(
        aws, tmp_path):
    """boto3's S3UploadFailedError (what ``deploy emr|glue`` get when the artifacts bucket is
    missing), raised by a real upload_file to moto, becomes one line naming PutObject, AWS's
    code and message, and the file."""
    from boto3.exceptions import S3UploadFailedError

    path = tmp_path / "lakeforge.zip"
    path.write_bytes(b"zip")
    s3 = client("s3", region=REGION, endpoint_url=aws)
    with pytest.raises(S3UploadFailedError) as info:
        s3.upload_file(str(path), "lf-no-such-bucket", "lakeforge-deploy/lakeforge.zip")
    error = aws_error(info.value, "deploy glue")
    assert error is not None
    assert str(error) == (
        "deploy glue: AWS PutObject failed: NoSuchBucket: The specified bucket does not exist "
        f"(Failed to upload {path} to lf-no-such-bucket/lakeforge-deploy/lakeforge.zip)")
    assert aws_error(ValueError("not AWS"), "deploy glue") is None
