"""Airflow DAGs for the Lakeforge customer propensity pipeline (Airflow 2.9+ / 3.x).

Two DAGs, one per runtime; both crawl the raw zone, run the job, then run the quality gate:

* ``lakeforge_customer_propensity_glue``: GlueCrawlerOperator -> GlueJobOperator (the job
  deployed by ``lakeforge deploy glue``) -> GlueJobOperator (the quality gate job).
* ``lakeforge_customer_propensity_emr``: GlueCrawlerOperator -> EmrAddStepsOperator +
  EmrStepSensor (the job's spark-submit step) -> EmrAddStepsOperator + EmrStepSensor (quality).
  The cluster id comes from the Airflow Variable ``lakeforge_emr_cluster_id`` at run time.

The EMR steps are built by ``lakeforge.deploy.emr`` from where ``lakeforge deploy`` uploaded the
artifacts, so the DAG and the command line submit exactly the same ``spark-submit``. Settings are
read from environment variables of the Airflow deployment (``LAKEFORGE_AIRFLOW_*``, below); no
AWS or metadata-database call happens while the file is parsed.

Install on the Airflow workers: ``pip install 'lakeforge[airflow]'`` (the amazon provider).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

from airflow import DAG
from airflow.providers.amazon.aws.operators.emr import EmrAddStepsOperator
from airflow.providers.amazon.aws.operators.glue import GlueJobOperator
from airflow.providers.amazon.aws.operators.glue_crawler import GlueCrawlerOperator
from airflow.providers.amazon.aws.sensors.emr import EmrStepSensor

from lakeforge import __version__
from lakeforge.deploy.artifacts import S3Layout, UploadedArtifacts
from lakeforge.deploy.emr import StepSettings, spark_submit_step


def _setting(name: str, default: str) -> str:
    return os.environ.get(f"LAKEFORGE_AIRFLOW_{name}", default)


JOB = _setting("JOB", "customer_propensity")
QUALITY_JOB = _setting("QUALITY_JOB", "quality_gate")
ARTIFACTS = _setting("ARTIFACTS", "s3://lakeforge-example-bucket/lakeforge-deploy")
VERSION = _setting("VERSION", __version__)
SPLINK_JAR = _setting("SPLINK_JAR", "scala-udf-similarity-0.1.2_spark3.x.jar")
EMR_ENV = _setting("EMR_ENV", "emr")
GLUE_JOB_NAME = _setting("GLUE_JOB_NAME", f"lakeforge-{JOB.replace('_', '-')}")
GLUE_QUALITY_JOB_NAME = _setting("GLUE_QUALITY_JOB_NAME", "lakeforge-quality-gate")
RAW_CRAWLER = _setting("RAW_CRAWLER", "lakeforge-raw")
AWS_CONN_ID = _setting("AWS_CONN_ID", "aws_default")
REGION = _setting("REGION", "eu-west-1")
CLUSTER_ID = "{{ var.value.lakeforge_emr_cluster_id }}"

DEFAULT_ARGS: dict[str, Any] = {
    "owner": "lakeforge",
    "retries": 1,
    "retry_delay": timedelta(minutes=5),
}


def emr_step(job: str) -> dict[str, Any]:
    """The spark-submit step for ``job`` (same arguments as ``lakeforge deploy emr``)."""
    layout = S3Layout.from_uri(ARTIFACTS, VERSION)
    uploaded = UploadedArtifacts.at(
        layout, version=VERSION, jar_names=[SPLINK_JAR],
        conf_files=[f"envs/{EMR_ENV}.yaml", f"jobs/{job}.yaml"],
    )
    return spark_submit_step(uploaded, StepSettings(job=job, env=EMR_ENV))


def _crawl_raw() -> GlueCrawlerOperator:
    return GlueCrawlerOperator(
        task_id="crawl_raw",
        config={"Name": RAW_CRAWLER},
        aws_conn_id=AWS_CONN_ID,
        region_name=REGION,
        wait_for_completion=True,
    )


with DAG(
    dag_id="lakeforge_customer_propensity_glue",
    description="crawl raw -> Glue job -> quality gate",
    start_date=datetime(2024, 1, 1),
    schedule="@daily",
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["lakeforge", "glue"],
) as glue_dag:
    glue_crawl = _crawl_raw()
    glue_run = GlueJobOperator(
        task_id="run_job",
        job_name=GLUE_JOB_NAME,
        aws_conn_id=AWS_CONN_ID,
        region_name=REGION,
        wait_for_completion=True,
    )
    glue_quality = GlueJobOperator(
        task_id="quality_gate",
        job_name=GLUE_QUALITY_JOB_NAME,
        aws_conn_id=AWS_CONN_ID,
        region_name=REGION,
        wait_for_completion=True,
        retries=0,  # a failed gate is a verdict on the data; rerunning it changes nothing
    )
    glue_crawl >> glue_run >> glue_quality


with DAG(
    dag_id="lakeforge_customer_propensity_emr",
    description="crawl raw -> EMR spark-submit step -> quality gate step",
    start_date=datetime(2024, 1, 1),
    schedule="@daily",
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["lakeforge", "emr"],
) as emr_dag:
    emr_crawl = _crawl_raw()
    add_job = EmrAddStepsOperator(
        task_id="add_job_step",
        job_flow_id=CLUSTER_ID,
        steps=[emr_step(JOB)],
        aws_conn_id=AWS_CONN_ID,
    )
    watch_job = EmrStepSensor(
        task_id="watch_job_step",
        job_flow_id=CLUSTER_ID,
        step_id="{{ task_instance.xcom_pull(task_ids='add_job_step')[0] }}",
        aws_conn_id=AWS_CONN_ID,
        poke_interval=60,
    )
    add_quality = EmrAddStepsOperator(
        task_id="add_quality_step",
        job_flow_id=CLUSTER_ID,
        steps=[emr_step(QUALITY_JOB)],
        aws_conn_id=AWS_CONN_ID,
    )
    watch_quality = EmrStepSensor(
        task_id="watch_quality_step",
        job_flow_id=CLUSTER_ID,
        step_id="{{ task_instance.xcom_pull(task_ids='add_quality_step')[0] }}",
        aws_conn_id=AWS_CONN_ID,
        poke_interval=60,
        retries=0,
    )
    emr_crawl >> add_job >> watch_job >> add_quality >> watch_quality
