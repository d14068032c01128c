"""Run one Lakeforge DAG with ``dag.test()`` against a moto server; runs inside .venv-airflow.

    .venv-airflow/bin/python tests/orchestration/airflow_harness.py --scenario glue \
        --scenario emr:audit --out results.json

AIRFLOW_HOME must point at a migrated Airflow database (the test makes one). The moto server
runs in this process, so the Glue and EMR runtime stand-ins of tests.orchestration.awsmoto
apply: moto cannot run Glue job scripts or EMR steps, so each run / step ends SUCCEEDED /
COMPLETED, or FAILED for the scenario's failing phase (every time, or its first EMR step
only), or INTERRUPTED (EMR); an EMR scenario can also lose the reply of a phase's first
AddJobFlowSteps. Airflow talks to moto as the principal ``airflow-role`` (its connection's
access key), so its calls can be told apart in the recorded requests the result carries. The
connection names another region (``CONNECTION_REGION``) than ``LAKEFORGE_AIRFLOW_REGION``, so
a call made in the connection's region shows in the recorded requests (and finds nothing: the
resources are in awsmoto.REGION). The result also carries the error text of each failed task
try (``task_errors``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.orchestration import awsmoto  # noqa: E402

JOB = "customer_propensity"
GLUE_JOB = "lakeforge-customer-propensity"
TOPIC = f"arn:aws:sns:{awsmoto.REGION}:{awsmoto.ACCOUNT}:lakeforge-runs"
ARTIFACTS = "s3://lf-orchestration-test/lakeforge-deploy"
CONNECTION_REGION = "us-east-2"


class _TaskErrors(logging.Handler):
    """The ERROR records (with their exception) logged while a DAG runs: a failed task's
    error text."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            text += f" | {type(error).__name__}: {error}"
        self.texts.append(text)


def _setup_aws(endpoint: str) -> str:
    """What `lakeforge deploy glue` / `deploy emr --create-cluster --keep-alive` leave behind:
    the Glue job, a waiting cluster; and the SNS topic. Returns the cluster id."""
    from lakeforge.aws import client
    from lakeforge.deploy import glue
    from lakeforge.deploy.artifacts import S3Layout, UploadedArtifacts

    layout = S3Layout.from_uri(ARTIFACTS, "0.1.0")
    uploaded = UploadedArtifacts.at(
        layout, version="0.1.0", jar_names=["scala-udf-similarity-0.1.2_spark3.x.jar"],
        conf_files=["envs/glue.yaml", f"jobs/{JOB}.yaml"])
    definition = glue.job_definition(uploaded, glue.GlueJobSettings(
        job=JOB, role_arn=f"arn:aws:iam::{awsmoto.ACCOUNT}:role/lakeforge-glue-job"))
    glue.deploy_job(client("glue", region=awsmoto.REGION, endpoint_url=endpoint), definition)
    client("sns", region=awsmoto.REGION, endpoint_url=endpoint).create_topic(
        Name="lakeforge-runs")
    emr = client("emr", region=awsmoto.REGION, endpoint_url=endpoint)
    return str(emr.run_job_flow(
        Name="lakeforge", ReleaseLabel="emr-7.5.0", JobFlowRole="lakeforge-emr-instance",
        ServiceRole="EMR_DefaultRole",
        Instances={"MasterInstanceType": "m5.xlarge", "SlaveInstanceType": "m5.xlarge",
                   "InstanceCount": 3, "KeepJobFlowAliveWhenNoSteps": True},
        Tags=[{"Key": "lakeforge:job", "Value": JOB}])["JobFlowId"])


def _run(endpoint: str, dag_name: str, fail_phase: str, mode: str) -> dict:
    from airflow.models.dagbag import DagBag

    awsmoto.reset(endpoint)
    cluster_id = _setup_aws(endpoint)
    os.environ["AIRFLOW_VAR_LAKEFORGE_EMR_CLUSTER_ID"] = cluster_id
    bag = DagBag(dag_folder=str(REPO / "orchestration" / "airflow"), include_examples=False)
    if bag.import_errors:
        return {"import_errors": {str(k): v for k, v in bag.import_errors.items()}}
    dag = bag.get_dag(f"lakeforge_{JOB}_{dag_name}")
    failing = {fail_phase: "stand-in failure"} if fail_phase and mode == "fails" else {}
    awsmoto.start_recording(endpoint)
    glue_runs = awsmoto.GlueRuns(failing=failing)
    emr_steps = awsmoto.EmrSteps(
        failing=failing,
        fail_once={fail_phase} if mode == "fails_once" else set(),
        reply_lost_once={fail_phase} if mode == "add_reply_lost" else set(),
        interrupted={fail_phase} if mode == "interrupted" else set())
    errors = _TaskErrors()
    logging.getLogger().addHandler(errors)
    try:
        with awsmoto.glue_runtime(glue_runs), awsmoto.emr_runtime(emr_steps):
            run = dag.test()
    finally:
        logging.getLogger().removeHandler(errors)
    return {
        "dag_id": dag.dag_id,
        "fail_phase": fail_phase,
        "mode": mode,
        "state": str(run.state),
        "tasks": {ti.task_id: str(ti.state) for ti in run.get_task_instances()},
        "glue_runs": glue_runs.started,
        "emr_steps": emr_steps.ended,
        "emr_lost_replies": emr_steps.lost_replies,
        "sns": awsmoto.sns_messages(TOPIC),
        "task_errors": errors.texts,
        "cluster_id": cluster_id,
        "requests": awsmoto.recorded(endpoint),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenario", action="append", required=True,
                        help="DAG[:PHASE[:MODE]], e.g. glue, emr:audit or emr:write:fails_once "
                             "(repeatable); MODE: fails (default: every run / step of PHASE "
                             "fails), fails_once (EMR: its first step fails), add_reply_lost "
                             "(EMR: its first add queues the step but answers 500), "
                             "interrupted (EMR: every step of PHASE ends INTERRUPTED)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    recording = Path(tempfile.mkdtemp()) / "recording.jsonl"
    results = []
    with awsmoto.moto_server(recording) as endpoint:
        os.environ.update({
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps({
                "conn_type": "aws", "login": "airflow-role", "password": "testing",
                "extra": {"endpoint_url": endpoint, "region_name": CONNECTION_REGION}}),
            "LAKEFORGE_AIRFLOW_ARTIFACTS": ARTIFACTS,
            "LAKEFORGE_AIRFLOW_TOPIC_ARN": TOPIC,
            "LAKEFORGE_AIRFLOW_POLL_SECONDS": "0.2",
            "LAKEFORGE_AIRFLOW_RETRY_DELAY_SECONDS": "1",
            # A step the wait does not see end fails the task in 30 s, not the 24 h default.
            "LAKEFORGE_AIRFLOW_STEP_TIMEOUT_SECONDS": "30",
            "LAKEFORGE_AIRFLOW_REGION": awsmoto.REGION,
        })
        for scenario in args.scenario:
            dag_name, _, rest = scenario.partition(":")
            fail_phase, _, mode = rest.partition(":")
            results.append(_run(endpoint, dag_name, fail_phase, mode or "fails"))
    Path(args.out).write_text(json.dumps(results, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
