"""Airflow DAGs for a Lakeforge job as write -> audit -> publish (Airflow 2.9+ / 3.x).

Each lifecycle phase of the job is its own task, so a failed audit stops the run before the
publish: the staged version is never switched in and the current one stays.

* ``lakeforge_<job>_glue``: three GlueJobOperator runs of the Glue job that ``lakeforge deploy
  glue`` created, with ``--phase write``, ``--phase audit``, ``--phase publish`` as run
  arguments.
* ``lakeforge_<job>_emr``: three spark-submit steps on the cluster named by the Airflow
  Variable ``lakeforge_emr_cluster_id``, one task per phase that adds the step and waits for it
  (:class:`EmrPhaseStepOperator`), so a task's retry resubmits a failed step (FAILED,
  CANCELLED or INTERRUPTED, with EMR's failure details in the task's error); the steps are
  built by ``lakeforge.deploy.emr`` from where ``lakeforge deploy`` uploaded the artifacts, so
  the DAG and the command line submit the same ``spark-submit``, plus ``--phase``.

The job registers its raw tables itself (the write phase crawls the raw zone into the job's
``raw_database``), so no Glue crawler is needed. When ``LAKEFORGE_AIRFLOW_TOPIC_ARN`` is set, a
``notify_failure`` task publishes to that SNS topic when any phase fails (a failed audit:
"current version kept"), and ``run_failed`` keeps that run failed.

The write task is retried once, after ``RETRY_DELAY_SECONDS`` (default
``lakeforge.deploy.stepfunctions.WRITE_RETRY_SECONDS``: the job lock's default lease plus a
minute, so a killed driver's lock has expired when the retry takes it).

Settings are environment variables of the Airflow deployment (``LAKEFORGE_AIRFLOW_*``, below);
no AWS or metadata-database call happens while the file is parsed. Every AWS call is made in
``LAKEFORGE_AIRFLOW_REGION`` (whatever region the Airflow connection names).
Install on the Airflow workers: ``pip install 'lakeforge[airflow]'`` (the amazon provider).
"""

from __future__ import annotations

import json
import math
import os
from datetime import datetime, timedelta
from typing import Any

from airflow import DAG
from airflow.exceptions import AirflowFailException
from airflow.operators.python import PythonOperator
from airflow.providers.amazon.aws.hooks.emr import EmrHook
from airflow.providers.amazon.aws.operators.emr import EmrAddStepsOperator
from airflow.providers.amazon.aws.operators.glue import GlueJobOperator
from airflow.providers.amazon.aws.operators.sns import SnsPublishOperator
from airflow.utils.trigger_rule import TriggerRule
from botocore.config import Config

from lakeforge import __version__
from lakeforge.deploy.artifacts import S3Layout, UploadedArtifacts
from lakeforge.deploy.emr import StepSettings, spark_submit_step, wait_for_step
from lakeforge.deploy.stepfunctions import WRITE_RETRY_SECONDS


def _setting(name: str, default: str) -> str:
    return os.environ.get(f"LAKEFORGE_AIRFLOW_{name}", default)


JOB = _setting("JOB", "customer_propensity")
ARTIFACTS = _setting("ARTIFACTS", "s3://lakeforge-example-bucket/lakeforge-deploy")
VERSION = _setting("VERSION", __version__)
SPLINK_JAR = _setting("SPLINK_JAR", "scala-udf-similarity-0.1.2_spark3.x.jar")
EMR_ENV = _setting("EMR_ENV", "emr")
GLUE_JOB_NAME = _setting("GLUE_JOB_NAME", f"lakeforge-{JOB.replace('_', '-')}")
AWS_CONN_ID = _setting("AWS_CONN_ID", "aws_default")
REGION = _setting("REGION", "eu-west-1")
TOPIC_ARN = _setting("TOPIC_ARN", "")
POLL_SECONDS = float(_setting("POLL_SECONDS", "60"))
# Longer than the job lock's default lease (run.lock_ttl_seconds): a killed write's lock
# outlives its driver until the lease runs out, so a sooner retry only meets LockHeldError.
RETRY_DELAY_SECONDS = float(_setting("RETRY_DELAY_SECONDS", str(WRITE_RETRY_SECONDS)))
STEP_TIMEOUT_SECONDS = float(_setting("STEP_TIMEOUT_SECONDS", "86400"))
CLUSTER_ID = "{{ var.value.lakeforge_emr_cluster_id }}"


def _spark_conf(raw: str) -> dict[str, str]:
    """``LAKEFORGE_AIRFLOW_SPARK_CONF``: a JSON object of Spark settings for the EMR steps'
    ``spark-submit --conf`` (a Delta / Iceberg job's formats: the ``--conf`` pairs that
    ``lakeforge deploy emr`` printed in ``spark_submit``)."""
    try:
        conf = json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"LAKEFORGE_AIRFLOW_SPARK_CONF is not JSON: {exc}") from None
    if not isinstance(conf, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in conf.items()):
        raise ValueError("LAKEFORGE_AIRFLOW_SPARK_CONF must be a JSON object of strings, e.g. "
                         '{"spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension"}')
    return conf


SPARK_CONF = _spark_conf(_setting("SPARK_CONF", "{}"))
PHASES = ("write", "audit", "publish")

DEFAULT_ARGS: dict[str, Any] = {
    "owner": "lakeforge",
    "retries": 1,
    "retry_delay": timedelta(seconds=RETRY_DELAY_SECONDS),
}
# A failed audit is a verdict on the data (rerunning it changes nothing); a failed publish
# needs a look before it is retried.
PHASE_RETRIES = {"write": 1, "audit": 0, "publish": 0}


def emr_step(job: str, phase: str) -> dict[str, Any]:
    """The spark-submit step for one phase of ``job`` (``lakeforge deploy emr``'s step plus
    ``--phase``), named ``lakeforge <job> <phase> <run id>`` (the run id is templated): the
    name is how a retry finds the step an earlier try queued."""
    layout = S3Layout.from_uri(ARTIFACTS, VERSION)
    uploaded = UploadedArtifacts.at(
        layout, version=VERSION, jar_names=[SPLINK_JAR],
        conf_files=[f"envs/{EMR_ENV}.yaml", f"jobs/{job}.yaml"],
    )
    return spark_submit_step(uploaded, StepSettings(
        job=job, env=EMR_ENV, spark_conf=SPARK_CONF,
        job_args=("--phase", phase, "--handoff", "{{ run_id }}"),
        name=f"lakeforge {job} {phase} {{{{ run_id }}}}"))


class EmrPhaseStepOperator(EmrAddStepsOperator):
    """Add one phase's step to the cluster and wait until it ends, in one task, so the task's
    retries rerun the phase: a step that ends FAILED, CANCELLED or INTERRUPTED fails the task at
    once (``lakeforge.deploy.emr.wait_for_step``: the error carries EMR's failure reason,
    message and log file), and the retry submits it again. The wait polls DescribeStep every
    ``waiter_delay`` seconds for up to ``waiter_delay * waiter_max_attempts``.

    AddJobFlowSteps has no idempotency token, so a call that timed out may still have queued
    the step. The add is therefore sent once (botocore's own retries are off for it), and every
    try first looks for a step of the same name (which carries the run id) still PENDING or
    RUNNING on the cluster and waits for that one instead of queueing a second. Returns
    ``[step id]``.
    """

    def execute(self, context: Any) -> list[str]:
        hook = EmrHook(aws_conn_id=self.aws_conn_id, region_name=REGION)
        cluster = str(self.job_flow_id)
        (step,) = self.steps  # one step per phase, built by emr_step
        step_id = _step_in_flight(hook.conn, cluster, step["Name"])
        if step_id:
            self.log.info("step %s (%s) is already queued on %s: waiting for it",
                          step_id, step["Name"], cluster)
        else:
            once = hook.get_client_type(region_name=REGION,
                                        config=Config(retries={"total_max_attempts": 1}))
            step_id = str(once.add_job_flow_steps(JobFlowId=cluster, Steps=[step])["StepIds"][0])
            self.log.info("added step %s (%s) to %s", step_id, step["Name"], cluster)
        # Not botocore's StepComplete waiter: it fails on FAILED and CANCELLED only and keeps
        # polling an INTERRUPTED step until the timeout.
        wait_for_step(hook.conn, cluster, step_id, poll_seconds=self.waiter_delay,
                      timeout_seconds=self.waiter_delay * self.waiter_max_attempts)
        return [step_id]


def _step_in_flight(emr: Any, cluster: str, name: str) -> str | None:
    """The id of a PENDING or RUNNING step named ``name`` on ``cluster``, if any."""
    pages = emr.get_paginator("list_steps").paginate(
        ClusterId=cluster, StepStates=["PENDING", "RUNNING"])
    for page in pages:
        for step in page["Steps"]:
            if step["Name"] == name:
                return str(step["Id"])
    return None


def _fail_run() -> None:
    raise AirflowFailException("a phase failed (see its log); the phases after it did not run")


def _notify_failure(upstream: list[Any]) -> None:
    """notify_failure (when a topic is set) and run_failed run when any phase fails. The run
    must still end failed: with notify_failure as its only leaf a run whose audit failed would
    end ``success``, so run_failed (a leaf that fails) keeps it failed."""
    if not TOPIC_ARN:
        return
    notify = SnsPublishOperator(
        task_id="notify_failure",
        target_arn=TOPIC_ARN,
        subject=f"Lakeforge {JOB} failed",
        message=(f"Lakeforge {JOB} run {{{{ run_id }}}}: a phase failed; nothing after it ran. "
                 "When the audit failed, the staged version was not published and the current "
                 "version stays."),
        aws_conn_id=AWS_CONN_ID,
        region_name=REGION,
        trigger_rule=TriggerRule.ONE_FAILED,
        retries=0,
    )
    failed = PythonOperator(task_id="run_failed", python_callable=_fail_run,
                            trigger_rule=TriggerRule.ONE_FAILED, retries=0)
    upstream >> notify
    upstream >> failed


with DAG(
    dag_id=f"lakeforge_{JOB}_glue",
    description="write -> audit -> publish as three runs of the job's Glue job",
    start_date=datetime(2024, 1, 1),
    schedule="@daily",
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["lakeforge", "glue"],
) as glue_dag:
    glue_tasks = [
        GlueJobOperator(
            task_id=phase,
            job_name=GLUE_JOB_NAME,
            # --handoff: each phase takes over only what this DAG run's write left
            script_args={"--phase": phase, "--handoff": "{{ run_id }}"},
            aws_conn_id=AWS_CONN_ID,
            region_name=REGION,
            wait_for_completion=True,
            job_poll_interval=POLL_SECONDS,
            retries=PHASE_RETRIES[phase],
        )
        for phase in PHASES
    ]
    glue_tasks[0] >> glue_tasks[1] >> glue_tasks[2]
    _notify_failure(glue_tasks)


with DAG(
    dag_id=f"lakeforge_{JOB}_emr",
    description="write -> audit -> publish as three spark-submit steps on an EMR cluster",
    start_date=datetime(2024, 1, 1),
    schedule="@daily",
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["lakeforge", "emr"],
) as emr_dag:
    emr_tasks: list[Any] = []
    for phase in PHASES:
        task = EmrPhaseStepOperator(
            task_id=f"{phase}_step",
            job_flow_id=CLUSTER_ID,
            steps=[emr_step(JOB, phase)],
            aws_conn_id=AWS_CONN_ID,
            waiter_delay=POLL_SECONDS,
            waiter_max_attempts=max(1, math.ceil(STEP_TIMEOUT_SECONDS / POLL_SECONDS)),
            retries=PHASE_RETRIES[phase],
        )
        if emr_tasks:
            emr_tasks[-1] >> task
        emr_tasks.append(task)
    _notify_failure(emr_tasks)
