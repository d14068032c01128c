"""Run a Lakeforge job as an AWS Glue job: 5.0 / 5.1 (Spark 3.5, Python 3.11) or 6.0 (Spark 4.1,
Python 3.13); the version sets GlueVersion and the arguments (:mod:`lakeforge.deploy.runtimes`).

The Glue job's script is scripts/glue_entry.py (uploaded); its DefaultArguments carry:

* ``--lakeforge_job``, ``--env``, ``--config``: what the entry script dispatches to;
* ``--extra-py-files``: the lakeforge zip; ``--extra-jars``: Splink's similarity jar;
* ``--additional-python-modules``: the splink version the artifacts were built with (and
  PyYAML), installed by Glue with pip;
* ``--job-bookmark-option``: passed through to the job (Lakeforge's bookmarks honour it);
* ``--enable-glue-datacatalog``: Glue Data Catalog as the Hive metastore;
* for a job publishing Delta or Iceberg tables (``table_formats``): ``--datalake-formats`` and
  ``--conf`` with the formats' Spark settings (:mod:`lakeforge.deploy.formats`).

:func:`deploy_job` creates the job or, when it exists, updates it in place (``update_job``
replaces the whole definition, so nothing from an older deployment lingers).

Example::

    definition = job_definition(uploaded, GlueJobSettings(job="customer_propensity",
                                role_arn="arn:aws:iam::123456789012:role/lakeforge-glue"))
    deploy_job(glue_client, definition)
    run_id = start_run(glue_client, definition["Name"])
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from lakeforge.bookmarks import OPTIONS as BOOKMARK_OPTIONS
from lakeforge.deploy import DeployError
from lakeforge.deploy.artifacts import UploadedArtifacts
from lakeforge.deploy.formats import glue_format_arguments
from lakeforge.deploy.polling import poll_until_done
from lakeforge.deploy.runtimes import (
    DEFAULT_GLUE_VERSION,
    abbreviated_names,
    check_artifacts_line,
    glue_runtime,
)

log = logging.getLogger(__name__)

GLUE_VERSION = DEFAULT_GLUE_VERSION
RUN_DONE = "SUCCEEDED"
RUN_FAILED = ("FAILED", "ERROR", "TIMEOUT", "STOPPED", "EXPIRED")
_ROLE_ARN = re.compile(r"^arn:(?P<partition>aws[a-z-]*):iam::(?P<account>\d{12}):role/"
                       r"[\w+=,.@/-]+$")
_GLUE_JOB_NAME = re.compile(r"^[\w .:/=+@-]{1,255}$")

# The worker types of a Glue Spark ETL job (Command.Name "glueetl") on Glue 5.x / 6.0, from the
# Glue API's WorkerType (CreateJob): G.1X to G.8X (Glue 3.0+); G.12X, G.16X and R.1X to R.8X
# (Glue 4.0+, in select regions: Glue refuses them elsewhere). Not here: G.025X (Glue streaming
# jobs only), Z.2X (Glue Ray jobs only) and Standard (the legacy type).
WorkerType = Literal["G.1X", "G.2X", "G.4X", "G.8X", "G.12X", "G.16X",
                     "R.1X", "R.2X", "R.4X", "R.8X"]
WORKER_TYPES: tuple[str, ...] = get_args(WorkerType)
_OTHER_JOB_KINDS = {"G.025X": "Glue streaming jobs", "Z.2X": "Glue Ray jobs"}


@dataclass(frozen=True)
class GlueJobSettings:
    """One Glue job for one module in jobs/."""

    job: str
    role_arn: str
    name: str | None = None
    env: str = "glue"
    glue_version: str = DEFAULT_GLUE_VERSION
    worker_type: WorkerType = "G.1X"
    number_of_workers: int = 2
    timeout_minutes: int = 120
    max_retries: int = 0
    max_concurrent_runs: int = 1
    bookmark_option: str = "job-bookmark-enable"
    temp_dir: str | None = None
    extra_python_modules: tuple[str, ...] = ()
    arguments: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    # Delta / Iceberg tables the job publishes, and their Spark settings on Glue
    # (lakeforge.deploy.formats.job_table_formats / platform_conf)
    table_formats: tuple[str, ...] = ()
    format_conf: Mapping[str, str] = field(default_factory=dict)

    @property
    def glue_name(self) -> str:
        return self.name or f"lakeforge-{self.job.replace('_', '-')}"

    def validate(self) -> None:
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", self.job):
            raise DeployError(f"job {self.job!r} is not a module name in jobs/")
        runtime = glue_runtime(self.glue_version)
        if not _GLUE_JOB_NAME.match(self.glue_name):
            raise DeployError(f"Glue job name {self.glue_name!r} is not valid")
        if not _ROLE_ARN.match(self.role_arn):
            raise DeployError(
                f"role {self.role_arn!r} is not an IAM role ARN "
                "(arn:aws:iam::<account>:role/<name>); create one from `lakeforge deploy iam`"
            )
        if self.bookmark_option not in BOOKMARK_OPTIONS:
            raise DeployError(
                f"bookmark option {self.bookmark_option!r}; allowed: {list(BOOKMARK_OPTIONS)}"
            )
        if self.worker_type in _OTHER_JOB_KINDS:
            raise DeployError(
                f"worker type {self.worker_type!r} is for {_OTHER_JOB_KINDS[self.worker_type]} "
                f"only; a Lakeforge Glue job is a Spark ETL job (glueetl): use one of "
                f"{list(WORKER_TYPES)}")
        if self.worker_type not in WORKER_TYPES:
            raise DeployError(f"worker type {self.worker_type!r} is not a Glue Spark ETL worker "
                              f"type; use one of {list(WORKER_TYPES)}")
        if self.number_of_workers < 2:
            raise DeployError("Glue Spark jobs need at least 2 workers")
        if self.temp_dir is not None and not self.temp_dir.startswith("s3://"):
            raise DeployError(f"temp dir {self.temp_dir!r} must be an s3:// location")
        clash = sorted(k for k in self.arguments if k.lstrip("-") in _MANAGED)
        if clash:
            raise DeployError(
                f"arguments {clash} are set by lakeforge deploy glue; use its options instead"
            )
        bad = sorted(k for k in self.arguments if not k.startswith("--"))
        if bad:
            raise DeployError(f"Glue job arguments must start with '--', got {bad}")
        short = abbreviated_names([k for k in self.arguments if k.lstrip("-") not in _GLUE_OWN],
                                  list(ENTRY_ARGUMENTS))
        if runtime.exact_argument_names and short:
            raise DeployError(
                f"Glue {self.glue_version} reads job arguments by their full names only; "
                f"{short} abbreviate(s) an argument name: spell it out")
        _check_module_commas(self.extra_python_modules)
        # a user --conf / --datalake-formats that clashes with the table formats' settings
        glue_format_arguments(self.table_formats, self.format_conf, self.arguments)

    def check_artifacts(self, spark_line: str | None) -> None:
        """Refuse artifacts built on the other Spark major line than this Glue version runs
        (called with dist/'s manifest before anything is uploaded)."""
        runtime = glue_runtime(self.glue_version)
        check_artifacts_line(spark_line, runtime.spark_line, f"Glue {runtime.version}")


# The names scripts/glue_entry.py resolves with getResolvedOptions, and Glue's own parameters
# that happen to start like one of them (--conf is Glue's Spark conf, not --config).
ENTRY_ARGUMENTS = ("lakeforge_job", "JOB_NAME", "env", "config")
_GLUE_OWN = {"conf"}

_MANAGED = {
    "lakeforge_job", "env", "config", "extra-py-files", "extra-jars",
    "additional-python-modules", "job-bookmark-option", "enable-glue-datacatalog",
    "job-language", "TempDir",
}


def python_modules(uploaded: UploadedArtifacts, extra: tuple[str, ...] = ()) -> str:
    """``--additional-python-modules``: the exact splink version the jar came from, PyYAML."""
    modules = ["PyYAML>=6"]
    if uploaded.splink_version:
        modules.append(f"splink=={uploaded.splink_version}")
    modules += list(extra)
    _check_module_commas(modules)
    return ",".join(modules)


def _check_module_commas(modules: Sequence[str]) -> None:
    commas = [m for m in modules if "," in m]
    if commas:
        raise DeployError(
            f"--additional-python-modules is comma separated; {commas} contain commas: "
            "pin with == or a single bound"
        )


def default_temp_dir(uploaded: UploadedArtifacts) -> str:
    """``s3://<artifacts>/tmp``: beside the versions, where the Glue job role may write."""
    return uploaded.layout.base_uri("tmp")


def default_arguments(uploaded: UploadedArtifacts, settings: GlueJobSettings) -> dict[str, str]:
    """The Glue job's DefaultArguments."""
    args = {
        "--job-language": "python",
        "--lakeforge_job": settings.job,
        "--env": uploaded.env_location(settings.env),
        "--extra-py-files": uploaded.pyfiles,
        "--additional-python-modules": python_modules(uploaded, settings.extra_python_modules),
        "--job-bookmark-option": settings.bookmark_option,
        "--enable-glue-datacatalog": "true",
        "--enable-metrics": "true",
        **glue_runtime(settings.glue_version).arguments,
        "--TempDir": settings.temp_dir or default_temp_dir(uploaded),
    }
    config = uploaded.uploaded_job_config(settings.job)
    if config:
        args["--config"] = config
    if uploaded.jars:
        args["--extra-jars"] = ",".join(uploaded.jars)
    args.update(settings.arguments)
    args.update(glue_format_arguments(settings.table_formats, settings.format_conf,
                                      settings.arguments))
    return args


def job_definition(uploaded: UploadedArtifacts, settings: GlueJobSettings) -> dict[str, Any]:
    """``create_job`` arguments (``update_job`` takes the same minus Name).

    The uploaded artifacts must have been built on the Glue version's Spark major line.
    """
    settings.validate()
    settings.check_artifacts(uploaded.spark_line)
    runtime = glue_runtime(settings.glue_version)
    return {
        "Name": settings.glue_name,
        "Description": f"Lakeforge job {settings.job} ({uploaded.layout.uri()})",
        "Role": settings.role_arn,
        "ExecutionProperty": {"MaxConcurrentRuns": settings.max_concurrent_runs},
        "Command": {"Name": "glueetl", "ScriptLocation": uploaded.entry, "PythonVersion": "3"},
        "DefaultArguments": default_arguments(uploaded, settings),
        "MaxRetries": settings.max_retries,
        "Timeout": settings.timeout_minutes,
        "GlueVersion": runtime.version,
        "WorkerType": settings.worker_type,
        "NumberOfWorkers": settings.number_of_workers,
        "Tags": {"lakeforge:job": settings.job, "lakeforge:python": runtime.python,
                 "lakeforge:spark": runtime.spark, **settings.tags},
    }


def job_exists(glue: Any, name: str) -> bool:
    try:
        glue.get_job(JobName=name)
    except glue.exceptions.EntityNotFoundException:
        return False
    return True


def job_arn(glue: Any, name: str, role_arn: str) -> str:
    """The Glue job's ARN: the region of ``glue``, the partition and account of the job's role
    (Glue runs a job only with a role of its own account: iam:PassRole)."""
    m = _ROLE_ARN.match(role_arn)
    if not m:
        raise DeployError(f"role {role_arn!r} is not an IAM role ARN; the Glue job's ARN (for "
                          "its tags) is derived from it")
    partition, account = m.group("partition"), m.group("account")
    return f"arn:{partition}:glue:{glue.meta.region_name}:{account}:job/{name}"


def deploy_job(glue: Any, definition: Mapping[str, Any]) -> Literal["created", "updated"]:
    """Create the Glue job, or update it in place when a job of that name exists.

    UpdateJob takes no Tags (JobUpdate has none): the definition's tags (``lakeforge:spark``
    and ``lakeforge:python`` change with the Glue version) are written with TagResource.
    """
    name = definition["Name"]
    if job_exists(glue, name):
        update = {k: v for k, v in definition.items() if k not in ("Name", "Tags")}
        glue.update_job(JobName=name, JobUpdate=update)
        tags = dict(definition.get("Tags") or {})
        if tags:
            glue.tag_resource(ResourceArn=job_arn(glue, name, definition["Role"]),
                              TagsToAdd=tags)
        log.info("updated Glue job %s", name)
        return "updated"
    glue.create_job(**definition)
    log.info("created Glue job %s", name)
    return "created"


def start_run(glue: Any, name: str, arguments: Mapping[str, str] | None = None) -> str:
    """Start a run (``arguments`` override DefaultArguments for this run); return its id."""
    bad = sorted(k for k in (arguments or {}) if not k.startswith("--"))
    if bad:
        raise DeployError(f"run arguments must start with '--', got {bad}")
    response = glue.start_job_run(JobName=name, Arguments=dict(arguments or {}))
    run_id = str(response["JobRunId"])
    log.info("started Glue job %s run %s", name, run_id)
    return run_id


def wait_for_run(
    glue: Any,
    name: str,
    run_id: str,
    *,
    poll_seconds: float = 30.0,
    timeout_seconds: float = 6 * 3600,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Poll ``get_job_run`` until the run ends; return the JobRun.

    SUCCEEDED returns; FAILED, ERROR, TIMEOUT, STOPPED and EXPIRED raise RemoteRunFailedError
    carrying Glue's ErrorMessage; no end within ``timeout_seconds`` raises RemoteRunTimeoutError.
    """
    return poll_until_done(
        lambda: glue.get_job_run(JobName=name, RunId=run_id)["JobRun"],
        what=f"Glue job {name} run {run_id}", state_key="JobRunState", done=RUN_DONE,
        failed=RUN_FAILED, reason=lambda run: run.get("ErrorMessage") or "no error message",
        poll_seconds=poll_seconds, timeout_seconds=timeout_seconds, sleep=sleep, clock=clock,
    )
