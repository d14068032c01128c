"""Helpers for tests that run jobs as separate processes (python -m, lakeforge, spark-submit)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

# JVM flags for the Spark drivers the tests start (tests/conftest.py puts them in the suite's
# environment, so the test session's own JVM gets them too): the C1 compiler only (no C2
# compiler threads competing for 2 cores with the work: in a cold main-job run C2 took 80 of
# the JVM's 160 CPU seconds) and the serial collector. Java's floating point is strict (JEP
# 306), so they change no result, only how much CPU a JVM spends to get through tiny data.
FAST_JVM_OPTS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")

# What `make test` leaves out for time, each part tested elsewhere (the folder lake's extra kill
# points, the local-metastore Delta / Iceberg kill, Iceberg's full re-deduplication run): run
# with LAKEFORGE_TESTS_FULL=1 to include it.
FULL_TESTS = os.environ.get("LAKEFORGE_TESTS_FULL") == "1"

# The suite's shared in-process run of the main job (tests/conftest.py ``main_job_run``): its
# generated data, its arguments and its database.
MAIN_JOB_DATA = {"customers": 120, "days": 3, "seed": 5}
MAIN_JOB_ARGS = ("--dedup.max_em_iterations", "5")
MAIN_JOB_DB = "mj"

# moto's dummy credentials and region: boto3, S3A and the Iceberg AWS SDK never reach AWS.
MOTO_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                    "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def with_fast_jvm(env: MutableMapping[str, str]) -> MutableMapping[str, str]:
    """``env`` with :data:`FAST_JVM_OPTS` added to ``SPARK_SUBMIT_OPTS`` (read by spark-submit,
    which PySpark also uses to start its driver JVM); a collector already chosen there or in
    ``JAVA_TOOL_OPTIONS`` is kept."""
    current = env.get("SPARK_SUBMIT_OPTS", "")
    chosen = current + " " + env.get("JAVA_TOOL_OPTIONS", "")
    extra = [o for o in FAST_JVM_OPTS if o not in current
             and not (o.endswith("GC") and "GC" in chosen)]
    env["SPARK_SUBMIT_OPTS"] = " ".join([current, *extra]).strip()
    return env


def job_env(lake_root: Path | str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        LAKEFORGE_LAKE_ROOT=str(lake_root),
        LAKEFORGE_CONF_DIR=str(REPO / "conf"),
        PYSPARK_PYTHON=sys.executable,
        PYSPARK_DRIVER_PYTHON=sys.executable,
        SPARK_LOCAL_IP="127.0.0.1",
        PATH=f"{BIN}:{env.get('PATH', '')}",
    )
    env.pop("PYSPARK_GATEWAY_PORT", None)
    env.pop("PYSPARK_GATEWAY_SECRET", None)
    env.update(extra)
    with_fast_jvm(env)
    return env


def finish(proc: subprocess.Popen[str], timeout: int = 900) -> tuple[int, str, str]:
    """Wait for a job started with ``start_new_session=True``; then kill its process group: the
    driver's JVM exits when its Python parent dies, make sure of it before the next run opens
    the same Derby metastore. Returns (exit code, stdout, stderr)."""
    out, err = proc.communicate(timeout=timeout)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    return proc.returncode, out, err


def failure_text(stderr: str, tail: int = 3000) -> str:
    """What a failed subprocess run said, for an assertion message: its first error lines
    (the cause: a later error, e.g. in a ``finally`` block, often hides it in the tail) and
    the tail of its stderr."""
    first = [line for line in stderr.splitlines()
             if line.startswith(("error:", "Traceback", "Caused by:", "Exception"))
             or " ERROR " in line or "Error:" in line or "Exception:" in line][:15]
    return "\n".join(["first error lines:", *first, "--- stderr tail:", stderr[-tail:]])


def rounded(value: Any) -> Any:
    """Floats to 9 significant digits: the features' scaler means and deviations are sums over
    a table, and a table built over several runs is summed in another order than one built at
    once (a difference in the 15th digit, e.g. -0.10471673640393989 vs -0.10471673640394032).
    Every other value, and every row, must still be equal."""
    if isinstance(value, float):
        return float(f"{value:.9g}")
    if isinstance(value, list):
        return [rounded(v) for v in value]
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    return value


def run(cmd: list[str], env: dict[str, str], timeout: int = 300, cwd: Path | None = None
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, env=env, cwd=cwd or REPO, capture_output=True, text=True,
                          timeout=timeout, check=False)


def pyfiles_zip(dest: Path) -> Path:
    """The ``--py-files`` zip scripts/build_artifacts.sh ships (the same builder), at ``dest``."""
    from lakeforge.deploy.artifacts import build_pyfiles_zip

    build_pyfiles_zip(REPO, dest)
    return dest


def read_parquet_rows(folder: Path) -> list[dict[str, object]]:
    import pyarrow.dataset as ds

    table = ds.dataset(str(folder), format="parquet", partitioning="hive").to_table()
    return sorted(table.to_pylist(), key=lambda r: r["order_id"])  # type: ignore[arg-type,return-value]
