"""emr/bootstrap.sh: shellcheck clean, and run for real against a scratch S3 prefix on moto.

What stands in for an EMR node: ``aws`` is a small script doing ``aws s3 cp`` with boto3
against the moto server (the AWS CLI is not installed here), ``sudo`` runs its command as is
(no root here), and ``--python`` is a scratch venv whose ``.pth`` file sees this venv's
packages, so the script's pip install resolves the pins locally and installs the real wheel
(built from this checkout) without downloading numpy/pandas/pyarrow again.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import uuid
from pathlib import Path

import pytest

from lakeforge.aws import client

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "emr" / "bootstrap.sh"
REGION = "eu-west-1"

AWS_STUB = """#!{python}
# aws s3 cp s3://bucket/key DEST (what bootstrap.sh calls), with boto3 against moto
import os, sys
import boto3
args = sys.argv[1:]
if args[:2] != ["s3", "cp"] or len(args) != 4:
    sys.exit(f"aws stub: only 's3 cp SRC DEST' is supported, got {{args}}")
bucket, key = args[2][len("s3://"):].split("/", 1)
dest = args[3]
if dest.endswith("/"):
    dest = os.path.join(dest, key.rsplit("/", 1)[-1])
s3 = boto3.client("s3", endpoint_url=os.environ["STUB_S3_ENDPOINT"], region_name="{region}")
s3.download_file(bucket, key, dest)
print(f"download: {{args[2]}} to {{dest}}")
"""


def test_bootstrap_passes_shellcheck():
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is missing: `make tools` installs it (apt-get)"
    proc = subprocess.run([shellcheck, "--severity=style", str(SCRIPT)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout


def test_shellcheck_reports_an_unquoted_variable(tmp_path):
    """The check can fail: an unquoted expansion in a copy of the script is reported."""
    broken = tmp_path / "bootstrap.sh"
    broken.write_text(SCRIPT.read_text().replace('aws s3 cp "$WHEEL" "$WORK/"',
                                                 "aws s3 cp $WHEEL $WORK/"))
    proc = subprocess.run([shutil.which("shellcheck") or "shellcheck", str(broken)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "SC2086" in proc.stdout




def _node(tmp_path: Path, endpoint: str) -> tuple[dict[str, str], Path]:
    """PATH with the aws and sudo stand-ins, and the scratch python (see the module doc)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    aws = bin_dir / "aws"
    aws.write_text(AWS_STUB.format(python=sys.executable, region=REGION))
    sudo = bin_dir / "sudo"
    sudo.write_text('#!/usr/bin/env bash\nexec "$@"\n')
    for stub in (aws, sudo):
        stub.chmod(0o755)
    venv = tmp_path / "node-python"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    site = next((venv / "lib").glob("python3*/site-packages"))
    (site / "lakeforge-test-host.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "STUB_S3_ENDPOINT": endpoint, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    return env, venv / "bin" / "python"


@pytest.mark.aws
@pytest.mark.slow
def test_bootstrap_installs_the_wheel_from_a_scratch_prefix_on_moto(moto_endpoint, wheel,
                                                                     tmp_path):
    """Slow: builds the wheel and runs pip in a scratch venv (about a minute)."""
    s3 = client("s3", region=REGION, endpoint_url=moto_endpoint)
    bucket, prefix = "lf-bootstrap-test", f"scratch-{uuid.uuid4().hex[:8]}/0.1.0"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.upload_file(str(wheel), bucket, f"{prefix}/{wheel.name}")
    env, python = _node(tmp_path, moto_endpoint)
    proc = subprocess.run(["bash", str(SCRIPT), "--wheel", f"s3://{bucket}/{prefix}/{wheel.name}",
                           "--python", str(python), "--extras", "aws"],
                          capture_output=True, text=True, timeout=900, env=env)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert "lakeforge 0.1.0 ready" in proc.stdout
    # The wheel went into the node's python, not this venv's.
    where = subprocess.run([str(python), "-c", "import lakeforge; print(lakeforge.__file__)"],
                           capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert str(tmp_path / "node-python") in where.stdout


@pytest.mark.aws
def test_bootstrap_fails_with_one_line_for_a_missing_wheel_and_bad_arguments(moto_endpoint,
                                                                             tmp_path):
    env, python = _node(tmp_path, moto_endpoint)
    missing = subprocess.run(["bash", str(SCRIPT), "--python", str(python)],
                             capture_output=True, text=True, timeout=120, env=env)
    assert missing.returncode == 2
    assert "--wheel s3://.../lakeforge-*.whl is required" in missing.stderr
    unknown = subprocess.run(["bash", str(SCRIPT), "--wheel", "s3://b/k.whl", "--nope"],
                             capture_output=True, text=True, timeout=120, env=env)
    assert unknown.returncode == 2 and "unknown argument --nope" in unknown.stderr
    s3 = client("s3", region=REGION, endpoint_url=moto_endpoint)
    s3.create_bucket(Bucket="lf-bootstrap-empty",
                     CreateBucketConfiguration={"LocationConstraint": REGION})
    absent = subprocess.run(["bash", str(SCRIPT), "--wheel",
                             "s3://lf-bootstrap-empty/none/lakeforge-0.1.0-py3-none-any.whl",
                             "--python", str(python)],
                            capture_output=True, text=True, timeout=300, env=env)
    assert absent.returncode != 0
    assert "404" in absent.stderr or "Not Found" in absent.stderr
