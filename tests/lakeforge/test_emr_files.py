"""emr/bootstrap.sh: what its pip install asks for on an EMR node.

EMR 7 runs its own Spark 3.5 (pyspark from /usr/lib/spark on the PYTHONPATH of spark-submit), so
the bootstrap must not install a pyspark from PyPI: Splink's ``spark`` extra (which the wheel's
``match`` extra names) is ``pyspark>=3.5.0`` with no upper bound, i.e. the newest pyspark (4.x,
an sdist built on every node) beside EMR's Spark.

Stand-ins, as nothing real can run here: ``aws`` copies from a local folder (no AWS CLI; the moto
run is tests/orchestration/test_emr_bootstrap.py), ``sudo`` runs its command, and the node's
python is this venv's python except for ``-m pip``, which records its arguments (a real install
would download from PyPI). The recorded requirements are then followed through the real
metadata: the built wheel's and the installed distributions' (Splink's)."""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "emr" / "bootstrap.sh"

NODE_PYTHON = """#!/bin/sh
# this venv's python, but `-m pip ...` only records its arguments (one a line)
if [ "$1" = -m ] && [ "$2" = pip ]; then printf '%s\\n' "$@" > "{log}"; exit 0; fi
exec "{python}" "$@"
"""
AWS = """#!/bin/sh
# aws s3 cp s3://bucket/KEY DEST/ -> copies {bucket_dir}/KEY
[ "$1 $2" = "s3 cp" ] || exit 2
cp "{bucket_dir}/${{3#s3://*/}}" "$4"
"""




def _wheel_requires(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as whl:
        name = next(n for n in whl.namelist() if n.endswith(".dist-info/METADATA"))
        return Parser().parsestr(whl.read(name).decode()).get_all("Requires-Dist") or []


def _closure(requirements: list[str], wheel: Path) -> set[str]:
    """The distribution names pip would install for ``requirements``: each one's requirements
    under the extras asked for, followed through the wheel's and the installed metadata (a
    distribution not installed here is listed, not followed)."""
    seen: set[tuple[str, frozenset[str]]] = set()
    names: set[str] = set()
    todo = []
    for arg in requirements:
        if Path(re.sub(r"\[[^]]*\]$", "", arg)).name == wheel.name:
            extras = re.findall(r"\[([^]]*)\]$", arg)
            todo.append(("lakeforge", frozenset(extras[0].split(",")) if extras else frozenset()))
        else:
            req = Requirement(arg)
            todo.append((canonicalize_name(req.name), frozenset(req.extras)))
    while todo:
        name, extras = todo.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        names.add(name)
        if name == "lakeforge":
            requires = _wheel_requires(wheel)
        else:
            try:
                requires = importlib.metadata.requires(name) or []
            except importlib.metadata.PackageNotFoundError:
                continue
        for text in requires:
            req = Requirement(text)
            wanted = req.marker is None or any(
                req.marker.evaluate({**default_environment(), "extra": extra})
                for extra in (extras or {""}))
            if wanted:
                todo.append((canonicalize_name(req.name), frozenset(req.extras)))
    return names


def _run_bootstrap(tmp_path: Path, wheel: Path, *args: str) -> list[str]:
    """bootstrap.sh on a stand-in node (see the module doc); the pip arguments it gave."""
    bucket = tmp_path / "bucket"
    (bucket / "deploy").mkdir(parents=True)
    (bucket / "deploy" / wheel.name).write_bytes(wheel.read_bytes())
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "pip-args.txt"
    python = bin_dir / "node-python"
    python.write_text(NODE_PYTHON.format(log=log, python=sys.executable))
    (bin_dir / "aws").write_text(AWS.format(bucket_dir=bucket))
    (bin_dir / "sudo").write_text('#!/bin/sh\nexec "$@"\n')
    for stub in bin_dir.iterdir():
        stub.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(["bash", str(SCRIPT), "--wheel", f"s3://lf/deploy/{wheel.name}",
                           "--python", str(python), *args], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "lakeforge 0.1.0 ready" in done.stdout
    pip_args = log.read_text().splitlines()
    assert pip_args[:4] == ["-m", "pip", "install", "--quiet"]
    return pip_args[4:]


@pytest.mark.slow
def test_bootstrap_installs_splink_at_the_wheels_pin_without_a_pyspark_from_pypi(
        tmp_path: Path, wheel: Path) -> None:
    """Slow: builds the wheel (pip wheel). The default extras (aws, match) once pulled
    splink[spark] and with it pyspark>=3.5.0 (pip picks the newest, 4.x)."""
    requirements = _run_bootstrap(tmp_path, wheel)
    match_pins = [r.split(";")[0].replace(" ", "") for r in _wheel_requires(wheel)
                  if "extra == \"match\"" in r]
    assert [re.sub(r"\[[^]]*\]", "", p) for p in match_pins] == ["splink<5.1,>=5.0"]
    installed = _closure(requirements, wheel)
    assert {"lakeforge", "boto3", "splink", "duckdb"} <= installed
    assert "pyspark" not in installed and "py4j" not in installed
    local_wheel = next(r for r in requirements if r.endswith((".whl", "]")))
    assert Path(re.sub(r"\[[^]]*\]$", "", local_wheel)).name == wheel.name
    assert local_wheel.endswith(f"{wheel.name}[aws]")
    assert "splink<5.1,>=5.0" in requirements
    # the version the deploy pins (deploy/emr.py passes the Splink its jar came from)
    assert "splink==5.0.0" in _run_bootstrap(tmp_path / "pinned", wheel,
                                             "--splink-version", "5.0.0")


@pytest.mark.slow
def test_bootstrap_with_extras_aws_only_installs_no_splink(tmp_path: Path, wheel: Path) -> None:
    """Slow: builds the wheel (shared with the test above)."""
    requirements = _run_bootstrap(tmp_path, wheel, "--extras", "aws")
    assert requirements[-1].endswith(f"{wheel.name}[aws]")
    assert not any(r.startswith("splink") for r in requirements)
