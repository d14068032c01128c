"""A real distributed run: a Spark standalone master and one worker from the pyspark install on
127.0.0.1, the small job spark-submitted to it with the project shipped via --py-files."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from lakeforge.sample_data import write_sales_csv
from tests.jobsupport import BIN, REPO, job_env, pyfiles_zip, read_parquet_rows, run

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def _master_state(ui_port: int) -> dict:  # type: ignore[type-arg]
    with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=2) as resp:
        return json.loads(resp.read())  # type: ignore[no-any-return]


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    import pyspark

    spark_home = Path(pyspark.__file__).parent
    work = tmp_path_factory.mktemp("cluster")
    env = job_env(work, SPARK_HOME=str(spark_home), SPARK_LOG_DIR=str(work / "logs"),
                  SPARK_WORKER_DIR=str(work / "worker"), SPARK_NO_DAEMONIZE="1")
    port, ui, worker_ui = _free_port(), _free_port(), _free_port()
    spark_class = str(spark_home / "bin" / "spark-class")
    master_log = open(work / "master.log", "wb")  # noqa: SIM115 - closed in teardown
    worker_log = open(work / "worker.log", "wb")  # noqa: SIM115
    master = subprocess.Popen(
        [spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
         "--port", str(port), "--webui-port", str(ui)],
        env=env, stdout=master_log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    procs = [master]
    try:
        _wait(lambda: _master_state(ui)["status"] == "ALIVE", 90, "the master")
        worker = subprocess.Popen(
            [spark_class, "org.apache.spark.deploy.worker.Worker", f"spark://127.0.0.1:{port}",
             "--host", "127.0.0.1", "--cores", "1", "--memory", "1g",
             "--webui-port", str(worker_ui), "--work-dir", str(work / "worker")],
            env=env, stdout=worker_log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        procs.append(worker)
        _wait(lambda: any(w["state"] == "ALIVE" for w in _master_state(ui)["workers"]), 90,
              "the worker to register")
        yield {"url": f"spark://127.0.0.1:{port}", "ui": ui, "work": work, "env": env,
               "pids": [p.pid for p in procs]}
    finally:
        for p in reversed(procs):
            _stop(p)
        master_log.close()
        worker_log.close()


def test_spark_submit_to_standalone_cluster(cluster: dict[str, object]) -> None:
    work = Path(str(cluster["work"]))
    counts = write_sales_csv(work / "raw" / "sales", rows=600, files=3, bad_rows=3)
    zip_path = pyfiles_zip(work / "lakeforge_project.zip")
    cmd = [
        str(BIN / "spark-submit"), "--master", str(cluster["url"]),
        "--py-files", str(zip_path),
        "--conf", "spark.ui.enabled=false", "--conf", "spark.executor.memory=768m",
        "--conf", "spark.cores.max=1",
        str(REPO / "jobs" / "csv_to_parquet.py"),
        "--env", "standalone", "--env.spark.master", str(cluster["url"]),
        "--database", "cluster_db",
    ]
    proc = run(cmd, dict(cluster["env"]), timeout=600)  # type: ignore[arg-type]
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads([ln for ln in proc.stdout.splitlines() if ln.startswith("{")][-1])
    ledger = summary["rows"]["sales"]
    assert ledger["published"] == counts["good"] and ledger["balanced"]
    assert ledger["quarantined"] == counts["bad"]
    (version,) = (work / "curated" / "cluster_db" / "sales" / "_versions").iterdir()
    rows = read_parquet_rows(version)
    assert len(rows) == counts["good"]
    # The work really ran on the cluster: the master recorded a finished application whose
    # executor ran on our worker.
    state = _master_state(int(cluster["ui"]))  # type: ignore[arg-type]
    apps = state["completedapps"] + state["activeapps"]
    assert any(a["name"] == "lakeforge-csv_to_parquet" for a in apps), apps
    executor_dirs = list((work / "worker").glob("app-*/*/stderr"))
    assert executor_dirs, "no executor ran on the worker"


def test_cluster_processes_stop_by_pid(cluster: dict[str, object]) -> None:
    for pid in cluster["pids"]:  # type: ignore[attr-defined]
        os.kill(pid, 0)  # alive while the module's tests run; teardown stops them by PID


def test_main_job_on_standalone_cluster(cluster: dict[str, object]) -> None:
    """The main job (crawl, dedup with Splink's jar shipped via --jars, quality, publish,
    features) through spark-submit on the cluster."""
    from lakeforge.localquery import query_table
    from lakeforge.paths import Lake
    from lakeforge.sample_data import write_bank_marketing
    from lakeforge.session import splink_jar_path

    work = Path(str(cluster["work"])) / "main_job"
    counts = write_bank_marketing(work, customers=60, days=2, seed=11)
    zip_path = pyfiles_zip(Path(str(cluster["work"])) / "lakeforge_main.zip")
    cmd = [
        str(BIN / "spark-submit"), "--master", str(cluster["url"]),
        "--py-files", str(zip_path), "--jars", str(splink_jar_path()),
        "--conf", "spark.ui.enabled=false", "--conf", "spark.executor.memory=768m",
        "--conf", "spark.cores.max=1", "--conf", "spark.sql.shuffle.partitions=2",
        str(REPO / "jobs" / "customer_propensity.py"),
        "--env", "standalone", "--env.spark.master", str(cluster["url"]),
        "--database", "cl", "--raw_database", "cl_raw", "--dedup.max_em_iterations", "3",
    ]
    env = dict(cluster["env"])  # type: ignore[call-overload]
    env["LAKEFORGE_LAKE_ROOT"] = str(work)
    proc = run(cmd, env, timeout=900)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-3000:]
    summary = json.loads([ln for ln in proc.stdout.splitlines() if ln.startswith('{"job"')][-1])
    assert summary["status"] == "published"
    assert summary["rows"]["customers"]["balanced"] and summary["rows"]["contacts"]["balanced"]
    lake = Lake.from_settings(str(work), allow_env_override=False)
    n = query_table(lake, "cl", "contacts_enriched", "SELECT count(*) FROM t")[0][0]
    assert n == summary["rows"]["contacts"]["published"]
    assert n <= counts["contacts"]
