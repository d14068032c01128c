"""The Airflow DAG file imports cleanly in a DagBag and wires its tasks as documented.

Skipped when Airflow is not installed (it is the optional ``[airflow]`` extra). The DagBag is
built in a subprocess with its own AIRFLOW_HOME, so Airflow's config and database stay out of
the test process and the repository.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DAG_FOLDER = REPO / "orchestration" / "airflow"

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("airflow") is None
    or importlib.util.find_spec("airflow.providers.amazon") is None,
    reason="apache-airflow with the amazon provider is not installed (pip install '.[airflow]')",
)

PROBE = r"""
import json, sys
try:
    from airflow.dag_processing.dagbag import DagBag  # Airflow 3
    bag = DagBag(dag_folder=sys.argv[1])
except ImportError:
    from airflow.models.dagbag import DagBag  # Airflow 2
    bag = DagBag(dag_folder=sys.argv[1], include_examples=False)
out = {"errors": {str(k): str(v) for k, v in bag.import_errors.items()}, "dags": {}}
for dag in bag.dags.values():
    tasks = {}
    for task in dag.tasks:
        info = {"type": type(task).__name__, "downstream": sorted(task.downstream_task_ids)}
        for attr in ("job_name", "job_flow_id", "step_id", "config", "steps"):
            if hasattr(task, attr):
                info[attr] = getattr(task, attr)
        tasks[task.task_id] = info
    out["dags"][dag.dag_id] = tasks
print("DAGBAG" + json.dumps(out, default=str))
"""


def _dagbag(tmp_path: Path, folder: Path) -> dict:
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path / "airflow_home"),
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__CORE__UNIT_TEST_MODE": "True"}
    proc = subprocess.run([sys.executable, "-c", PROBE, str(folder)], capture_output=True,
                          text=True, timeout=300, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("DAGBAG"))
    return json.loads(line[len("DAGBAG"):])


@pytest.mark.slow
def test_dag_file_imports_cleanly_with_the_documented_tasks(tmp_path):
    """Slow: starting Airflow in a subprocess takes a few seconds."""
    bag = _dagbag(tmp_path, DAG_FOLDER)
    assert bag["errors"] == {}
    glue = bag["dags"]["lakeforge_customer_propensity_glue"]
    emr = bag["dags"]["lakeforge_customer_propensity_emr"]
    assert {t: v["downstream"] for t, v in glue.items()} == {
        "crawl_raw": ["run_job"], "run_job": ["quality_gate"], "quality_gate": []}
    assert glue["crawl_raw"]["type"] == "GlueCrawlerOperator"
    assert glue["run_job"]["type"] == "GlueJobOperator"
    assert glue["run_job"]["job_name"] == "lakeforge-customer-propensity"
    assert {t: v["downstream"] for t, v in emr.items()} == {
        "crawl_raw": ["add_job_step"], "add_job_step": ["watch_job_step"],
        "watch_job_step": ["add_quality_step"], "add_quality_step": ["watch_quality_step"],
        "watch_quality_step": []}
    assert emr["add_job_step"]["type"] == "EmrAddStepsOperator"
    assert emr["watch_job_step"]["type"] == "EmrStepSensor"
    assert emr["watch_job_step"]["step_id"] == (
        "{{ task_instance.xcom_pull(task_ids='add_job_step')[0] }}")
    # The DAG submits exactly what `lakeforge deploy emr` submits.
    from lakeforge.deploy.artifacts import S3Layout, UploadedArtifacts
    from lakeforge.deploy.emr import StepSettings, spark_submit_step

    layout = S3Layout.from_uri("s3://lakeforge-example-bucket/lakeforge-deploy", "0.1.0")
    uploaded = UploadedArtifacts.at(
        layout, version="0.1.0", jar_names=["scala-udf-similarity-0.1.2_spark3.x.jar"],
        conf_files=["envs/emr.yaml", "jobs/customer_propensity.yaml"])
    assert emr["add_job_step"]["steps"] == [
        spark_submit_step(uploaded, StepSettings(job="customer_propensity"))]


@pytest.mark.slow
def test_dagbag_reports_a_broken_dag_file(tmp_path):
    """Slow: starts Airflow in a subprocess. Shows the probe can fail: a DAG file with a bad
    import is reported as an import error, not silently skipped."""
    folder = tmp_path / "dags"
    folder.mkdir()
    source = (DAG_FOLDER / "lakeforge_dag.py").read_text(encoding="utf-8")
    (folder / "broken_dag.py").write_text(
        source.replace("from lakeforge.deploy.emr import", "from lakeforge.deploy.nope import"),
        encoding="utf-8")
    bag = _dagbag(tmp_path, folder)
    assert bag["dags"] == {}
    assert any("lakeforge.deploy.nope" in e for e in bag["errors"].values())
