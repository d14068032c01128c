"""Helpers for tests that run jobs as separate processes (python -m, lakeforge, spark-submit)."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

# JVM flags for the short-lived Spark drivers the tests start: the C1 compiler only (no C2
# compiler threads competing for 2 cores with the work) and the serial collector. They change
# no result, only how fast a JVM that lives for a minute gets through its work.
FAST_JVM_OPTS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")


def with_fast_jvm(env: dict[str, str]) -> dict[str, str]:
    """``env`` with :data:`FAST_JVM_OPTS` added to ``SPARK_SUBMIT_OPTS`` (read by spark-submit,
    which PySpark also uses to start its driver JVM); a collector already chosen there or in
    ``JAVA_TOOL_OPTIONS`` is kept."""
    current = env.get("SPARK_SUBMIT_OPTS", "")
    chosen = current + " " + env.get("JAVA_TOOL_OPTIONS", "")
    extra = [o for o in FAST_JVM_OPTS if o not in current
             and not (o.endswith("GC") and "GC" in chosen)]
    env["SPARK_SUBMIT_OPTS"] = " ".join([current, *extra]).strip()
    return env


def job_env(lake_root: Path, **extra: str) -> dict[str, str]:
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
    return with_fast_jvm(env)


def run(cmd: list[str], env: dict[str, str], timeout: int = 300, cwd: Path | None = None
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, env=env, cwd=cwd or REPO, capture_output=True, text=True,
                          timeout=timeout, check=False)


def pyfiles_zip(dest: Path) -> Path:
    """The project's packages as one zip, the shape spark-submit --py-files ships."""
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for pkg in ("lakeforge", "transforms", "quality", "jobs"):
            for path in sorted((REPO / pkg).rglob("*.py")):
                zf.write(path, path.relative_to(REPO).as_posix())
    return dest


def read_parquet_rows(folder: Path) -> list[dict[str, object]]:
    import pyarrow.dataset as ds

    table = ds.dataset(str(folder), format="parquet", partitioning="hive").to_table()
    return sorted(table.to_pylist(), key=lambda r: r["order_id"])  # type: ignore[arg-type,return-value]
