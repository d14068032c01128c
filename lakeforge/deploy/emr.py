"""Run a Lakeforge job on Amazon EMR: a ``spark-submit`` step through command-runner.jar.

Two ways:

* an existing cluster (``--cluster-id j-...``): the step is added with ``ActionOnFailure``
  CONTINUE, so a failed job leaves the cluster up for the next one;
* a transient cluster (``--create-cluster``): ``run_job_flow`` with the step, the bootstrap action
  (emr/bootstrap.sh: Python 3.11 + the project wheel), emr/configurations.json (Glue Data Catalog
  as the Hive metastore, PYSPARK_PYTHON) and ``KeepJobFlowAliveWhenNoSteps=False``: the cluster
  terminates itself when the step ends.

The step runs ``spark-submit --deploy-mode cluster --py-files <zip> --jars <splink jar>
<glue_entry.py> --JOB_NAME j --lakeforge_job j --env s3://.../envs/emr.yaml --config s3://...``.

Example::

    step = spark_submit_step(uploaded, job="customer_propensity", env="emr")
    step_id = add_step(emr_client, "j-1ABC", step)
    wait_for_step(emr_client, "j-1ABC", step_id)
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from lakeforge.deploy import DeployError
from lakeforge.deploy.artifacts import Artifacts, UploadedArtifacts
from lakeforge.deploy.polling import poll_until_done
from lakeforge.deploy.runtimes import DEFAULT_EMR_RELEASE, check_artifacts_line, emr_release

log = logging.getLogger(__name__)

COMMAND_RUNNER = "command-runner.jar"
DEFAULT_RELEASE = DEFAULT_EMR_RELEASE
STEP_DONE = "COMPLETED"
STEP_FAILED = ("FAILED", "CANCELLED", "INTERRUPTED")
CLUSTER_GONE = ("TERMINATING", "TERMINATED", "TERMINATED_WITH_ERRORS")
_CONF_KEY = re.compile(r"^spark\.[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class StepSettings:
    """What one ``spark-submit`` step runs."""

    job: str
    env: str = "emr"
    deploy_mode: Literal["cluster", "client"] = "cluster"
    action_on_failure: Literal["CONTINUE", "CANCEL_AND_WAIT", "TERMINATE_CLUSTER"] = "CONTINUE"
    spark_conf: Mapping[str, str] = field(default_factory=dict)
    job_args: Sequence[str] = ()
    name: str | None = None

    def validate(self) -> None:
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", self.job):
            raise DeployError(f"job {self.job!r} is not a module name in jobs/")
        bad = [k for k in self.spark_conf if not _CONF_KEY.match(k)]
        if bad:
            raise DeployError(f"spark conf keys {bad} must look like spark.section.name")
        if "spark.jars.packages" in self.spark_conf:
            # Optional: resolved by the cluster's spark-submit (it needs Maven or a mirror);
            # no lakeforge code depends on it - uploaded jars travel in --jars.
            log.info("step %s: spark.jars.packages %s is resolved by the cluster's spark-submit",
                     self.job, self.spark_conf["spark.jars.packages"])
        odd = [a for a in self.job_args[::2] if not str(a).startswith("--")]
        if odd or len(self.job_args) % 2:
            raise DeployError(
                f"job arguments must be --KEY value pairs, got {list(self.job_args)}"
            )


@dataclass(frozen=True)
class ClusterSettings:
    """A cluster for ``--create-cluster``: transient unless ``keep_alive``."""

    name: str = "lakeforge"
    release_label: str = DEFAULT_RELEASE
    log_uri: str | None = None
    service_role: str = "EMR_DefaultRole"
    instance_profile: str = "EMR_EC2_DefaultRole"
    master_instance_type: str = "m5.xlarge"
    core_instance_type: str = "m5.xlarge"
    core_instance_count: int = 2
    subnet_id: str | None = None
    python: str = "python3.11"
    keep_alive: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)

    def validate(self) -> None:
        emr_release(self.release_label)  # emr-7.x.y (Spark 3.5) or emr-spark-8.x.y (Spark 4.0)
        if self.core_instance_count < 1:
            raise DeployError("core instance count must be at least 1")
        if self.log_uri is not None and not self.log_uri.startswith("s3://"):
            raise DeployError(f"log URI {self.log_uri!r} must be an s3:// location")

    def check_artifacts(self, spark_line: str | None) -> None:
        """Refuse artifacts built on the other Spark major line than the release runs (called
        with dist/'s manifest before anything is uploaded)."""
        check_artifacts_line(spark_line, emr_release(self.release_label).spark_line,
                             f"EMR {self.release_label}")


# --------------------------------------------------------------------------- requests


def spark_submit_args(uploaded: UploadedArtifacts, settings: StepSettings) -> list[str]:
    """The command-runner.jar arguments of the step."""
    settings.validate()
    args = ["spark-submit", "--deploy-mode", settings.deploy_mode, "--py-files", uploaded.pyfiles]
    if uploaded.jars:
        args += ["--jars", ",".join(uploaded.jars)]
    for key, value in sorted(settings.spark_conf.items()):
        args += ["--conf", f"{key}={value}"]
    args += [
        uploaded.entry,
        "--JOB_NAME", settings.job,
        "--lakeforge_job", settings.job,
        "--env", uploaded.env_location(settings.env),
    ]
    config = uploaded.uploaded_job_config(settings.job)
    if config:
        args += ["--config", config]
    return args + [str(a) for a in settings.job_args]


def spark_submit_step(uploaded: UploadedArtifacts, settings: StepSettings) -> dict[str, Any]:
    """An ``add_job_flow_steps`` / ``run_job_flow`` step dict."""
    return {
        "Name": settings.name or f"lakeforge {settings.job}",
        "ActionOnFailure": settings.action_on_failure,
        "HadoopJarStep": {"Jar": COMMAND_RUNNER, "Args": spark_submit_args(uploaded, settings)},
    }


def default_configurations_path() -> Path:
    """emr/configurations.json in the working directory, else beside the package."""
    cwd = Path.cwd() / "emr" / "configurations.json"
    if cwd.is_file():
        return cwd
    return Path(__file__).resolve().parents[2] / "emr" / "configurations.json"


def load_configurations(path: str | Path | None = None) -> list[dict[str, Any]]:
    """EMR configuration classifications from a JSON file (a list of objects)."""
    source = Path(path) if path else default_configurations_path()
    if not source.is_file():
        raise DeployError(f"EMR configurations file {source} does not exist")
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise DeployError(f"{source}: not valid JSON: {exc}") from exc
    if not isinstance(data, list) or not all(
        isinstance(c, dict) and "Classification" in c for c in data
    ):
        raise DeployError(f"{source}: must be a JSON list of {{'Classification': ...}} objects")
    return data


def bootstrap_action(uploaded: UploadedArtifacts, python: str = "python3.11") -> dict[str, Any]:
    """The bootstrap action that installs Python and the project wheel on every node."""
    args = ["--wheel", uploaded.wheel, "--python", python]
    if uploaded.splink_version:
        args += ["--splink-version", uploaded.splink_version]
    return {
        "Name": "lakeforge python environment",
        "ScriptBootstrapAction": {"Path": uploaded.bootstrap, "Args": args},
    }


def run_job_flow_request(
    cluster: ClusterSettings,
    uploaded: UploadedArtifacts,
    steps: Sequence[Mapping[str, Any]],
    configurations: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """``run_job_flow`` arguments for a transient cluster that ends when its steps end."""
    cluster.validate()
    cluster.check_artifacts(uploaded.spark_line)
    if not steps:
        raise DeployError("a transient cluster needs at least one step")
    python_path = f"/usr/bin/{cluster.python}"
    configs = [_with_python(c, python_path) for c in configurations]
    instances: dict[str, Any] = {
        "InstanceGroups": [
            {"Name": "primary", "InstanceRole": "MASTER", "Market": "ON_DEMAND",
             "InstanceType": cluster.master_instance_type, "InstanceCount": 1},
            {"Name": "core", "InstanceRole": "CORE", "Market": "ON_DEMAND",
             "InstanceType": cluster.core_instance_type,
             "InstanceCount": cluster.core_instance_count},
        ],
        # Transient by default: the cluster terminates itself when its steps end.
        "KeepJobFlowAliveWhenNoSteps": cluster.keep_alive,
        "TerminationProtected": False,
    }
    if cluster.subnet_id:
        instances["Ec2SubnetId"] = cluster.subnet_id
    request: dict[str, Any] = {
        "Name": cluster.name,
        "ReleaseLabel": cluster.release_label,
        "Applications": [{"Name": "Hadoop"}, {"Name": "Spark"}],
        "Instances": instances,
        "Steps": [dict(s) for s in steps],
        "BootstrapActions": [bootstrap_action(uploaded, cluster.python)],
        "Configurations": configs,
        "JobFlowRole": cluster.instance_profile,
        "ServiceRole": cluster.service_role,
        "VisibleToAllUsers": True,
        "Tags": [{"Key": k, "Value": v} for k, v in
                 sorted({"lakeforge:version": uploaded.layout.prefix.rsplit("/", 1)[-1],
                         **cluster.tags}.items())],
    }
    if cluster.log_uri:
        request["LogUri"] = cluster.log_uri
    return request


def _with_python(config: Mapping[str, Any], python_path: str) -> dict[str, Any]:
    """Point every PYSPARK_PYTHON-like setting at the bootstrap's interpreter."""
    out = dict(config)
    if "Properties" in out:
        out["Properties"] = {
            k: (python_path if ("PYSPARK" in k.upper() or k.startswith("spark.pyspark."))
                and v.startswith("/usr/bin/python") else v)
            for k, v in out["Properties"].items()
        }
    if "Configurations" in out:
        out["Configurations"] = [_with_python(c, python_path) for c in out["Configurations"]]
    return out


# --------------------------------------------------------------------------- calls


def check_cluster_usable(emr: Any, cluster_id: str,
                         uploaded: Artifacts | UploadedArtifacts | None = None) -> str:
    """Return the cluster's state; a terminated or terminating cluster is a DeployError, and
    so is a cluster whose release runs the other Spark major line than ``uploaded`` (dist/'s
    artifacts before the upload, or the uploaded ones) was built on."""
    try:
        cluster = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]
    except emr.exceptions.InvalidRequestException as exc:
        raise DeployError(f"EMR cluster {cluster_id} not found: {exc}") from exc
    state = cluster["Status"]["State"]
    label = cluster.get("ReleaseLabel")
    if uploaded is not None and label:
        release = emr_release(label)
        check_artifacts_line(uploaded.spark_line, release.spark_line,
                             f"EMR cluster {cluster_id} ({label})")
    if state in CLUSTER_GONE:
        raise DeployError(
            f"EMR cluster {cluster_id} is {state}; steps cannot be added. Start a new one "
            "with --create-cluster or pass a running cluster's id"
        )
    return str(state)


def single_attempt_client(emr: Any) -> Any:
    """An EMR client for ``emr``'s region and endpoint (:func:`lakeforge.aws.client`: the same
    credential chain and time limits) that sends each call once: botocore's retries off.

    RunJobFlow and AddJobFlowSteps take no idempotency token. A call whose reply is lost after
    EMR took it (a read timeout, a 5xx) and that botocore then retries starts a second cluster
    or queues a second step running the same job.
    """
    from botocore.config import Config

    from lakeforge.aws import client

    return client("emr", region=emr.meta.region_name, endpoint_url=emr.meta.endpoint_url,
                  config=Config(retries={"total_max_attempts": 1}))


def _send_once(emr: Any, operation: str, what: str, check: str, **params: Any) -> Any:
    """``operation`` sent once (:func:`single_attempt_client`); its failure is a DeployError
    saying that EMR may have done it anyway and how to check."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return getattr(single_attempt_client(emr), operation)(**params)
    except (ClientError, BotoCoreError) as exc:
        said = " ".join(str(exc).split())  # one line (a gateway's 500 answers in HTML)
        raise DeployError(
            f"{what} failed ({said}); it is not retried because EMR may "
            f"have done it before the reply was lost: check {check} before deploying again"
        ) from exc


def add_step(emr: Any, cluster_id: str, step: Mapping[str, Any],
             uploaded: UploadedArtifacts | None = None) -> str:
    """Add ``step`` to a running cluster; return the step id (``uploaded``: the step's
    artifacts, whose Spark line is checked against the cluster's release). AddJobFlowSteps
    is sent once (no idempotency token: a retry could queue the step twice)."""
    check_cluster_usable(emr, cluster_id, uploaded)
    response = _send_once(
        emr, "add_job_flow_steps", f"EMR AddJobFlowSteps on cluster {cluster_id}",
        f"`aws emr list-steps --cluster-id {cluster_id}` for a step named {step['Name']!r}",
        JobFlowId=cluster_id, Steps=[dict(step)])
    step_id = str(response["StepIds"][0])
    log.info("added step %s to cluster %s", step_id, cluster_id)
    return step_id


def create_cluster(emr: Any, request: Mapping[str, Any]) -> tuple[str, list[str]]:
    """Start a transient cluster; return its id and its step ids in submission order.
    RunJobFlow is sent once (no idempotency token: a retry could start a second cluster)."""
    response = _send_once(
        emr, "run_job_flow", f"EMR RunJobFlow of cluster {request['Name']!r}",
        f"`aws emr list-clusters --active` for a cluster named {request['Name']!r}",
        **request)
    cluster_id = str(response["JobFlowId"])
    steps = emr.list_steps(ClusterId=cluster_id)["Steps"]
    # list_steps returns the newest first.
    step_ids = [str(s["Id"]) for s in reversed(steps)]
    log.info("started transient cluster %s with steps %s", cluster_id, step_ids)
    return cluster_id, step_ids


def wait_for_step(
    emr: Any,
    cluster_id: str,
    step_id: str,
    *,
    poll_seconds: float = 30.0,
    timeout_seconds: float = 6 * 3600,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Poll ``describe_step`` until the step ends; return its final Status.

    COMPLETED returns; FAILED, CANCELLED and INTERRUPTED raise RemoteRunFailedError with EMR's
    failure reason and log file; for a CANCELLED step on a cluster that has ended, the
    cluster's state and reason too (EMR cancels the steps of a cluster that failed, e.g. in a
    bootstrap action, and the step's status says nothing). No end within ``timeout_seconds``
    raises RemoteRunTimeoutError.
    """
    return poll_until_done(
        lambda: emr.describe_step(ClusterId=cluster_id, StepId=step_id)["Step"]["Status"],
        what=f"EMR step {step_id} on cluster {cluster_id}", state_key="State", done=STEP_DONE,
        failed=STEP_FAILED,
        reason=lambda status: _step_failure(status) + (
            _cluster_ended(emr, cluster_id) if status["State"] == "CANCELLED" else ""),
        timeout_hint="; it keeps running - check it in the EMR console",
        poll_seconds=poll_seconds, timeout_seconds=timeout_seconds, sleep=sleep, clock=clock,
    )


def _step_failure(status: Mapping[str, Any]) -> str:
    details = status.get("FailureDetails") or {}
    reason = status.get("StateChangeReason", {}).get("Message", "")
    return (
        f"{details.get('Reason') or reason or 'no reason given'}"
        + (f" - {details['Message']}" if details.get("Message") else "")
        + (f" (logs: {details['LogFile']})" if details.get("LogFile") else "")
    )


def _cluster_ended(emr: Any, cluster_id: str) -> str:
    """``; cluster TERMINATED_WITH_ERRORS: BOOTSTRAP_FAILURE: ...`` when the cluster has ended,
    else nothing (nor when it cannot be described: the step's failure is reported as is)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        status = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]
    except (ClientError, BotoCoreError) as exc:
        log.warning("EMR cluster %s could not be described: %s", cluster_id, exc)
        return ""
    if status.get("State") not in CLUSTER_GONE:
        return ""
    why = status.get("StateChangeReason") or {}
    said = ": ".join(str(p) for p in (why.get("Code"), why.get("Message")) if p)
    return f"; cluster {status['State']}" + (f": {said}" if said else "")


@dataclass(frozen=True)
class EmrSubmission:
    """What :func:`submit` did."""

    cluster_id: str
    step_id: str
    step: dict[str, Any]
    created_cluster: bool
    final_status: dict[str, Any] | None = None


def submit(
    emr: Any,
    uploaded: UploadedArtifacts,
    step_settings: StepSettings,
    *,
    cluster_id: str | None = None,
    cluster: ClusterSettings | None = None,
    configurations: Sequence[Mapping[str, Any]] | None = None,
    wait: bool = False,
    poll_seconds: float = 30.0,
    timeout_seconds: float = 6 * 3600,
) -> EmrSubmission:
    """Add the job's step to ``cluster_id``, or start a transient ``cluster`` running it."""
    if (cluster_id is None) == (cluster is None):
        raise DeployError("give exactly one of --cluster-id or --create-cluster")
    if cluster is not None:
        settings = step_settings
        if settings.action_on_failure == "CONTINUE" and not cluster.keep_alive:
            # Nothing else will run on a transient cluster: stop it as soon as the step fails.
            from dataclasses import replace

            settings = replace(settings, action_on_failure="TERMINATE_CLUSTER")
        step = spark_submit_step(uploaded, settings)
        request = run_job_flow_request(
            cluster, uploaded, [step],
            configurations if configurations is not None else load_configurations(),
        )
        new_id, step_ids = create_cluster(emr, request)
        cid, sid, created = new_id, step_ids[-1], True
    else:
        assert cluster_id is not None
        step = spark_submit_step(uploaded, step_settings)
        cid, sid, created = cluster_id, add_step(emr, cluster_id, step, uploaded), False
    status = None
    if wait:
        status = wait_for_step(emr, cid, sid, poll_seconds=poll_seconds,
                               timeout_seconds=timeout_seconds)
    return EmrSubmission(cid, sid, step, created, status)
