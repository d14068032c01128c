"""Fixtures for the orchestration tests: one moto server per module (state machines executed,
requests recorded), the node tools (asl-validator, iam-simulate) from .tools/."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.orchestration import awsmoto

REPO = Path(__file__).resolve().parents[2]
TOOLS = REPO / ".tools" / "node_modules"


@pytest.fixture(scope="module")
def moto_sfn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with awsmoto.moto_server(tmp_path_factory.mktemp("moto") / "recording.jsonl") as endpoint:
        yield endpoint


@pytest.fixture
def aws(moto_sfn: str) -> str:
    """A clean moto server (state machines executed) whose requests are being recorded."""
    awsmoto.reset(moto_sfn)
    awsmoto.start_recording(moto_sfn)
    return moto_sfn


@pytest.fixture(scope="session")
def node_tools() -> Path:
    """.tools/node_modules, installed by `make tools` (npm ci from .tools/package-lock.json)."""
    if shutil.which("node") is None:
        pytest.fail("node is not installed: the orchestration tests need it (make tools)")
    if not (TOOLS / ".bin" / "asl-validator").exists():
        pytest.fail(f"{TOOLS} is missing asl-validator: run `make tools`")
    return TOOLS


AIRFLOW_VENV = REPO / ".venv-airflow"
AIRFLOW_PY = AIRFLOW_VENV / "bin" / "python"
SCENARIOS = ("glue", "glue:audit", "emr", "emr:audit", "emr:write", "emr:write:fails_once",
             "emr:write:add_reply_lost", "emr:audit:interrupted")


def airflow_env(home: Path) -> dict[str, str]:
    """The environment Airflow runs in for the tests: its own AIRFLOW_HOME (SQLite), the
    sequential executor, no examples, no AWS outside the moto server."""
    import os

    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AIRFLOW", "AWS_", "LAKEFORGE_"))}
    env.update({"AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__EXECUTOR": "SequentialExecutor",
                "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING"})
    return env


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated Airflow metadata database (SQLite) in .venv-airflow (`make venv-airflow`)."""
    import subprocess

    if not AIRFLOW_PY.exists():
        pytest.fail(f"{AIRFLOW_VENV} is missing: run `make venv-airflow` (make test does)")
    home = tmp_path_factory.mktemp("airflow_home")
    proc = subprocess.run([str(AIRFLOW_PY), "-m", "airflow", "db", "migrate"],
                          capture_output=True, text=True, timeout=900, env=airflow_env(home))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return home


@pytest.fixture(scope="session")
def dag_runs(airflow_home: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Each DAG run once with every phase succeeding and once with the audit failing, and the
    EMR DAG with its write step failing every time, failing once, and with the reply of its
    first add lost, and with its audit step INTERRUPTED, by ``dag.test()`` in .venv-airflow
    against a moto server (tests/orchestration/airflow_harness.py); keyed by scenario
    (SCENARIOS)."""
    import json
    import subprocess

    out = tmp_path_factory.mktemp("dag_runs") / "results.json"
    args = [str(AIRFLOW_PY), str(REPO / "tests" / "orchestration" / "airflow_harness.py"),
            "--out", str(out)]
    for scenario in SCENARIOS:
        args += ["--scenario", scenario]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=1200,
                          env=airflow_env(airflow_home), cwd=REPO)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    results = json.loads(out.read_text(encoding="utf-8"))
    return {s: r for s, r in zip(SCENARIOS, results, strict=True)}
