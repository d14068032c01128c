"""``lakeforge deploy artifacts|emr|glue|stepfunctions|iam``: ship jobs to AWS.

* ``artifacts``: assemble dist/ (py-files zip, Splink jar, entry script, bootstrap, manifest)
  around a wheel built by ``pip wheel --no-deps``; ``scripts/build_artifacts.sh`` does both.
* ``emr``: upload dist/ and conf/ to S3, then add a spark-submit step to ``--cluster-id`` or start
  a transient cluster with ``--create-cluster``; ``--wait`` polls the step to its end.
* ``glue``: upload, then create or update the Glue job (5.0, 5.1 or 6.0); ``--start``
  starts a run.
* ``stepfunctions``: write the write -> audit -> publish definition (three runs of the job's
  Glue job, one per ``--phase``), validate it, create or update the state machine
  (``--dry-run`` only writes and validates).
* ``iam``: write least-privilege policy documents derived from the env and the jobs' configs
  (``--apply`` creates/updates the Glue, EMR and Step Functions roles).

Build the artifacts first: ``bash scripts/build_artifacts.sh``. AWS settings (region, endpoint)
come from the env file (conf/envs/<env>.yaml) unless given here. Arguments after the options
(``--outputs.sales.table x``) are passed to the job as config overrides.

An AWS error (refused call, no credentials, endpoint down, failed upload) ends the command with
one ``error:`` line naming the target, the AWS operation and AWS's error code and message
(exit 2), not a traceback.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from lakeforge import bookmarks
from lakeforge.config import EnvConfig, conf_dir, load_env
from lakeforge.deploy import DeployError
from lakeforge.deploy.glue import WORKER_TYPES
from lakeforge.deploy.runtimes import DEFAULT_GLUE_VERSION, GLUE_RUNTIMES
from lakeforge.errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_JOB = "customer_propensity"
DEFAULT_DEPLOY_PREFIX = "lakeforge-deploy"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "deploy",
        help="build artifacts; deploy jobs to EMR, Glue, Step Functions; write IAM policies",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    targets = p.add_subparsers(dest="target", metavar="TARGET", required=True)
    _artifacts_parser(targets)
    _emr_parser(targets)
    _glue_parser(targets)
    _sfn_parser(targets)
    _iam_parser(targets)


# --------------------------------------------------------------------------- parsers


def _common(p: argparse.ArgumentParser, default_env: str, *, uploads: bool = True) -> None:
    p.add_argument("--env", default=default_env,
                   help=f"env name in conf/envs (default {default_env})")
    p.add_argument("--region", help="AWS region (default: the env's aws.region)")
    p.add_argument("--endpoint-url", help="AWS endpoint (moto, LocalStack); default: the env's")
    if uploads:
        p.add_argument("--job", default=DEFAULT_JOB,
                       help=f"module in jobs/ (default {DEFAULT_JOB})")
        p.add_argument("--dist", default="dist", help="artifacts folder (default dist)")
        p.add_argument("--artifacts",
                       help="S3 location for artifacts and conf (default: "
                            f"s3://<lake bucket>/{DEFAULT_DEPLOY_PREFIX})")
        p.add_argument("--conf-dir", help="conf/ folder to upload (default: the project's)")


def _artifacts_parser(targets: argparse._SubParsersAction) -> None:
    p = targets.add_parser(
        "artifacts", help="assemble dist/ around a built wheel (scripts/build_artifacts.sh)")
    p.add_argument("--source", default=".", help="repository root (default: .)")
    p.add_argument("--dist", default="dist", help="output folder (default: dist)")
    p.add_argument("--wheel", required=True, help="the wheel built by pip wheel --no-deps")
    p.set_defaults(func=_deploy_artifacts)


def _emr_parser(targets: argparse._SubParsersAction) -> None:
    # allow_abbrev=False (emr, glue): the job arguments after the options are not taken for
    # an abbreviated option (Glue's own --conf is not --conf-dir, a job's --config is not
    # --configurations)
    p = targets.add_parser("emr", help="run a job as a spark-submit step on EMR",
                           allow_abbrev=False)
    _common(p, "emr")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--cluster-id", help="add the step to this running cluster")
    where.add_argument("--create-cluster", action="store_true",
                       help="start a transient cluster that terminates after the step")
    p.add_argument("--keep-alive", action="store_true",
                   help="with --create-cluster: keep the cluster up after the step (for later "
                        "--cluster-id steps; terminate it yourself)")
    p.add_argument("--release-label", default=None,
                   help="EMR release: emr-7.x.y (Spark 3.5, default emr-7.5.0) or "
                        "emr-spark-8.x.y (Spark 4.0; artifacts from make artifacts-spark4)")
    p.add_argument("--log-uri", help="s3:// prefix for cluster logs")
    p.add_argument("--service-role", default="EMR_DefaultRole")
    p.add_argument("--instance-profile", default="EMR_EC2_DefaultRole")
    p.add_argument("--instance-type", default="m5.xlarge")
    p.add_argument("--core-count", type=int, default=2)
    p.add_argument("--subnet-id")
    p.add_argument("--configurations", help="EMR configurations JSON (default "
                                            "emr/configurations.json)")
    p.add_argument("--deploy-mode", choices=["cluster", "client"], default="cluster")
    p.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE",
                   help="extra spark-submit --conf (repeatable)")
    p.add_argument("--wait", action="store_true", help="poll the step until it ends")
    p.add_argument("--poll-seconds", type=float, default=30.0)
    p.add_argument("--timeout", type=float, default=6 * 3600, help="seconds --wait may take")
    p.set_defaults(func=_deploy_emr, accepts_extra=True)


def _glue_parser(targets: argparse._SubParsersAction) -> None:
    p = targets.add_parser("glue", help="create or update a Glue job; optionally run it",
                           allow_abbrev=False)
    _common(p, "glue")
    p.add_argument("--glue-version", default=DEFAULT_GLUE_VERSION, choices=list(GLUE_RUNTIMES),
                   help="5.0 / 5.1: Spark 3.5, Python 3.11 (artifacts from make artifacts); "
                        "6.0: Spark 4.1, Python 3.13 (make artifacts-spark4 --dist)")
    p.add_argument("--role-arn", required=True, help="the Glue job's IAM role ARN")
    p.add_argument("--name", help="Glue job name (default lakeforge-<job>)")
    p.add_argument("--worker-type", default="G.1X",
                   help="a Spark ETL worker type: " + ", ".join(WORKER_TYPES)
                   + " (G.025X and Z.2X are for streaming and Ray jobs: refused in one line)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--timeout-minutes", type=int, default=120)
    p.add_argument("--bookmark-option", default=bookmarks.ENABLE, choices=bookmarks.OPTIONS)
    p.add_argument("--temp-dir", help="s3:// --TempDir (default under --artifacts)")
    p.add_argument("--python-module", action="append", default=[],
                   help="extra --additional-python-modules entry (repeatable)")
    p.add_argument("--start", action="store_true", help="start a run after deploying")
    p.add_argument("--wait", action="store_true", help="with --start: poll the run to its end")
    p.add_argument("--poll-seconds", type=float, default=30.0)
    p.add_argument("--timeout", type=float, default=6 * 3600)
    p.set_defaults(func=_deploy_glue, accepts_extra=True)


def _sfn_parser(targets: argparse._SubParsersAction) -> None:
    p = targets.add_parser("stepfunctions",
                           help="the write -> audit -> publish state machine (Glue runs)")
    _common(p, "glue", uploads=False)
    p.add_argument("--name", default="lakeforge-pipeline", help="state machine name")
    p.add_argument("--glue-job", default="lakeforge-customer-propensity",
                   help="the Glue job (from lakeforge deploy glue) whose phases the states run")
    p.add_argument("--topic-arn", required=True, help="SNS topic for published/failed messages")
    p.add_argument("--role-arn", help="the state machine's IAM role ARN (needed unless --dry-run)")
    p.add_argument("--job-retries", type=int, default=1)
    p.add_argument("--output", help="write the definition here (default "
                                    "orchestration/stepfunctions/<name>.asl.json)")
    p.add_argument("--dry-run", action="store_true", help="write and validate only")
    p.add_argument("--aws-validate", action="store_true",
                   help="also run AWS ValidateStateMachineDefinition")
    p.set_defaults(func=_deploy_sfn)


def _iam_parser(targets: argparse._SubParsersAction) -> None:
    p = targets.add_parser("iam", help="least-privilege policies for the Glue, EMR, SFN roles")
    _common(p, "emr", uploads=False)
    p.add_argument("--account-id", help="12-digit account (default: STS GetCallerIdentity)")
    p.add_argument("--artifacts", help=f"artifacts location (default s3://<lake bucket>/"
                                       f"{DEFAULT_DEPLOY_PREFIX})")
    p.add_argument("--log-uri", help="EMR log prefix the instance profile may write")
    p.add_argument("--temp-dir", help="Glue --TempDir the job role may write")
    p.add_argument("--job", action="append", default=[],
                   help=f"module in jobs/ whose conf/jobs/<job>.yaml names the raw sources and "
                        f"databases (repeatable; default {DEFAULT_JOB})")
    p.add_argument("--database", action="append", default=[],
                   help="another catalog database the roles may use (repeatable)")
    p.add_argument("--glue-job", action="append", default=[],
                   help="Glue job the state machine and Airflow may run (repeatable; default "
                        "lakeforge-<job>)")
    p.add_argument("--emr-cluster-id", action="append", default=[],
                   help="EMR cluster the Airflow role may add steps to (default: any)")
    p.add_argument("--topic-arn", help="SNS topic for the state machine policy")
    p.add_argument("--output-dir", default="dist/iam", help="where the JSON documents go")
    p.add_argument("--apply", action="store_true", help="create/update the roles in IAM")
    p.add_argument("--glue-role", default="lakeforge-glue-job")
    p.add_argument("--emr-role", default="lakeforge-emr-instance")
    p.add_argument("--sfn-role", default="lakeforge-stepfunctions")
    p.set_defaults(func=_deploy_iam)


# --------------------------------------------------------------------------- shared


def _conf_root(args: argparse.Namespace) -> Path:
    """The conf/ a deploy uploads (``--conf-dir``, else the project's): the env and job config
    the deploy reads are the ones the job will read."""
    given = getattr(args, "conf_dir", None)
    return Path(given) if given else conf_dir()


def _load_deploy_env(name: str, args: argparse.Namespace | None = None) -> EnvConfig:
    if "/" in name or name.endswith((".yaml", ".yml")):
        raise ConfigError(
            f"--env {name!r}: deploy takes an env name from conf/envs (its file is uploaded "
            "with conf/); put the file there or pass --conf-dir"
        )
    if args is None or not getattr(args, "conf_dir", None):
        return load_env(name)
    path = _conf_root(args) / "envs" / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"--env {name}: {path} not found in --conf-dir {args.conf_dir}; it is "
                          "uploaded for the job")
    return load_env(str(path))


def _table_formats(args: argparse.Namespace) -> tuple[str, ...]:
    """The job's Delta / Iceberg formats, from the uploaded conf's jobs/<job>.yaml."""
    from lakeforge.config import read_yaml
    from lakeforge.deploy.formats import job_table_formats

    path = _conf_root(args) / "jobs" / f"{args.job}.yaml"
    return job_table_formats(args.job, _job_args(args),
                             read_yaml(path) if path.is_file() else {})


def _aws(args: argparse.Namespace, env: EnvConfig) -> tuple[str | None, str | None]:
    return args.region or env.aws.region, args.endpoint_url or env.aws.endpoint_url


def _client(service: str, args: argparse.Namespace, env: EnvConfig) -> Any:
    from lakeforge.aws import client

    region, endpoint = _aws(args, env)
    return client(service, region=region, endpoint_url=endpoint)


def default_artifacts_uri(env: EnvConfig) -> str:
    """``s3://<lake bucket>/lakeforge-deploy`` for an env whose lake is on S3."""
    from lakeforge.aws import split_s3_uri

    root = env.lake.root
    if not root.startswith(("s3://", "s3a://")):
        raise ConfigError(
            f"env {env.name}: lake.root {root} is not on S3; pass --artifacts s3://bucket/prefix"
        )
    bucket, _ = split_s3_uri(root)
    return f"s3://{bucket}/{DEFAULT_DEPLOY_PREFIX}"


def _load_artifacts(args: argparse.Namespace) -> Any:
    """dist/'s checked artifacts (no AWS call): their Spark line is checked against the target
    before anything is uploaded."""
    from lakeforge.deploy import artifacts as art

    return art.load_artifacts(args.dist)


def _upload(args: argparse.Namespace, env: EnvConfig, artifacts: Any) -> Any:
    from lakeforge.deploy import artifacts as art

    layout = art.S3Layout.from_uri(args.artifacts or default_artifacts_uri(env), artifacts.version)
    conf_root = _conf_root(args)
    if not (conf_root / "envs" / f"{env.name}.yaml").is_file():
        raise ConfigError(f"{conf_root}/envs/{env.name}.yaml not found; it is uploaded for the job")
    return art.upload_artifacts(
        _client("s3", args, env), artifacts, layout, conf_root=conf_root,
        extra_args=art.sse_extra_args(env.aws.sse, env.aws.kms_key_id),
    )


def _job_args(args: argparse.Namespace) -> list[str]:
    extra = [a for a in getattr(args, "extra", []) if a != "--"]
    return extra


def _print(data: dict[str, Any]) -> None:
    print(json.dumps(data, indent=2, default=str))


def _key_values(items: list[str], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"{what} {item!r} must be KEY=VALUE")
        out[key] = value
    return out


def _operation_of(tb: TracebackType | None) -> str | None:
    """The AWS operation a botocore error was raised in (botocore's BotoCoreError subclasses,
    unlike ClientError, do not carry it): the ``operation_name`` of the client's
    ``_make_api_call`` frame, if the traceback passes through one."""
    while tb is not None:
        frame = tb.tb_frame
        if frame.f_code.co_name == "_make_api_call" and "operation_name" in frame.f_locals:
            return str(frame.f_locals["operation_name"])
        tb = tb.tb_next
    return None


def aws_error(exc: BaseException, what: str) -> DeployError | None:
    """``exc`` as a one-line DeployError naming ``what``, the AWS operation and AWS's error
    code and message, when it is a botocore / boto3 error (ClientError; BotoCoreError: no
    credentials, no region, endpoint down, a waiter; S3UploadFailedError); else None."""
    try:
        from boto3.exceptions import S3UploadFailedError
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:  # no boto3: no AWS call was made
        return None
    if isinstance(exc, S3UploadFailedError) and isinstance(exc.__context__, ClientError):
        upload = str(exc).split(": An error occurred", 1)[0]
        found = aws_error(exc.__context__, what)
        return DeployError(f"{found} ({upload})") if found else None
    if isinstance(exc, ClientError):
        error = exc.response.get("Error") or {}
        code = error.get("Code") or "unknown error code"
        message = error.get("Message") or str(exc)
        return DeployError(f"{what}: AWS {exc.operation_name} failed: {code}: {message}")
    if isinstance(exc, (BotoCoreError, S3UploadFailedError)):
        operation = _operation_of(exc.__traceback__)
        call = f"AWS {operation}" if operation else "an AWS call"
        return DeployError(f"{what}: {call} failed: {type(exc).__name__}: {exc}")
    return None


def _aws_errors_in_one_line(
        target: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Run a deploy target; an AWS error becomes a DeployError (:func:`aws_error`), which the
    CLI prints as one ``error:`` line with exit code 2."""

    @functools.wraps(target)
    def run(args: argparse.Namespace) -> int:
        try:
            return target(args)
        except Exception as exc:
            error = aws_error(exc, f"deploy {args.target}")
            if error is None:
                raise
            raise error from exc

    return run


# --------------------------------------------------------------------------- targets


def _deploy_artifacts(args: argparse.Namespace) -> int:
    from lakeforge.deploy import artifacts as art

    manifest = art.build(args.source, args.dist, args.wheel)
    data = json.loads(manifest.read_text(encoding="utf-8"))
    files = {}
    for name in [*data["files"].values(), *data["jars"]]:
        files[str(manifest.parent / name)] = (manifest.parent / name).stat().st_size
    _print({"manifest": str(manifest), "version": data["version"], "files": files})
    return 0


@_aws_errors_in_one_line
def _deploy_emr(args: argparse.Namespace) -> int:
    from lakeforge.deploy import emr
    from lakeforge.deploy.formats import (
        emr_configurations,
        merge_conf,
        platform_conf,
    )

    env = _load_deploy_env(args.env, args)
    formats = _table_formats(args)
    step = emr.StepSettings(
        job=args.job, env=env.name, deploy_mode=args.deploy_mode,
        spark_conf=merge_conf(platform_conf(formats, env), _key_values(args.conf, "--conf"),
                              "--conf"),
        job_args=tuple(_job_args(args)),
    )
    step.validate()
    cluster = None
    configurations = None
    if args.keep_alive and not args.create_cluster:
        raise ConfigError("--keep-alive applies to --create-cluster only")
    if args.create_cluster:
        cluster = emr.ClusterSettings(
            release_label=args.release_label or emr.DEFAULT_RELEASE, log_uri=args.log_uri,
            service_role=args.service_role, instance_profile=args.instance_profile,
            master_instance_type=args.instance_type, core_instance_type=args.instance_type,
            core_instance_count=args.core_count, subnet_id=args.subnet_id,
            keep_alive=args.keep_alive, tags={"lakeforge:job": args.job},
        )
        cluster.validate()
        configurations = emr_configurations(formats,
                                            emr.load_configurations(args.configurations))
    artifacts = _load_artifacts(args)
    if cluster is not None:
        cluster.check_artifacts(artifacts.spark_line)
    emr_client = _client("emr", args, env)
    if args.cluster_id:
        # before uploading anything: the cluster runs, on the artifacts' Spark line
        emr.check_cluster_usable(emr_client, args.cluster_id, artifacts)
    uploaded = _upload(args, env, artifacts)
    submission = emr.submit(
        emr_client, uploaded, step, cluster_id=args.cluster_id, cluster=cluster,
        configurations=configurations, wait=args.wait, poll_seconds=args.poll_seconds,
        timeout_seconds=args.timeout,
    )
    _print({
        "cluster_id": submission.cluster_id, "step_id": submission.step_id,
        "created_cluster": submission.created_cluster,
        "state": (submission.final_status or {}).get("State", "SUBMITTED"),
        "artifacts": uploaded.layout.uri(),
        "spark_submit": submission.step["HadoopJarStep"]["Args"],
    })
    return 0


@_aws_errors_in_one_line
def _deploy_glue(args: argparse.Namespace) -> int:
    from lakeforge.deploy import glue
    from lakeforge.deploy.formats import platform_conf

    env = _load_deploy_env(args.env, args)
    formats = _table_formats(args)
    settings = glue.GlueJobSettings(
        job=args.job, role_arn=args.role_arn, name=args.name, env=env.name,
        glue_version=args.glue_version, worker_type=args.worker_type,
        number_of_workers=args.workers,
        timeout_minutes=args.timeout_minutes, bookmark_option=args.bookmark_option,
        temp_dir=args.temp_dir, extra_python_modules=tuple(args.python_module),
        arguments=_pairs(_job_args(args)),
        table_formats=formats, format_conf=platform_conf(formats, env),
    )
    settings.validate()
    if args.wait and not args.start:
        raise ConfigError("--wait needs --start")
    artifacts = _load_artifacts(args)
    settings.check_artifacts(artifacts.spark_line)  # before uploading anything
    uploaded = _upload(args, env, artifacts)
    definition = glue.job_definition(uploaded, settings)
    client = _client("glue", args, env)
    action = glue.deploy_job(client, definition)
    result: dict[str, Any] = {"job": definition["Name"], "action": action,
                              "artifacts": uploaded.layout.uri(),
                              "default_arguments": definition["DefaultArguments"]}
    if args.start:
        run_id = glue.start_run(client, definition["Name"])
        result["run_id"] = run_id
        if args.wait:
            run = glue.wait_for_run(client, definition["Name"], run_id,
                                    poll_seconds=args.poll_seconds, timeout_seconds=args.timeout)
            result["state"] = run["JobRunState"]
    _print(result)
    return 0


def _pairs(items: list[str]) -> dict[str, str]:
    if len(items) % 2 or any(not k.startswith("--") for k in items[::2]):
        raise ConfigError(f"job arguments must be --KEY value pairs, got {items}")
    return dict(zip(items[::2], items[1::2], strict=True))


@_aws_errors_in_one_line
def _deploy_sfn(args: argparse.Namespace) -> int:
    from lakeforge.deploy import stepfunctions as sfn

    env = _load_deploy_env(args.env)
    definition = sfn.build_definition(sfn.PipelineSettings(
        glue_job=args.glue_job, topic_arn=args.topic_arn, job_retries=args.job_retries,
    ))
    sfn.validate_definition(definition)
    if not args.dry_run:  # before writing the definition or any AWS call
        if not args.role_arn:
            raise ConfigError("--role-arn is needed to create the state machine "
                              "(or pass --dry-run)")
        sfn.check_role_arn(args.role_arn)
    out = Path(args.output or f"orchestration/stepfunctions/{args.name}.asl.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(definition, indent=2) + "\n", encoding="utf-8")
    result: dict[str, Any] = {"definition": str(out), "valid": True}
    if args.aws_validate or not args.dry_run:
        client = _client("stepfunctions", args, env)
        if args.aws_validate:
            result["aws_diagnostics"] = sfn.aws_validate(client, definition)
        if not args.dry_run:
            arn, action = sfn.deploy_state_machine(client, args.name, definition, args.role_arn,
                                                   tags={"lakeforge:pipeline": args.name})
            result.update({"state_machine_arn": arn, "action": action})
    _print(result)
    return 0


def _job_configs(names: list[str]) -> list[dict[str, Any]]:
    from lakeforge.config import read_yaml

    configs = []
    for name in names:
        path = conf_dir() / "jobs" / f"{name}.yaml"
        if not path.is_file():
            raise ConfigError(f"--job {name}: {path} not found; the IAM policies are derived "
                              "from the job's config")
        configs.append({**read_yaml(path), "_source": str(path)})
    return configs


@_aws_errors_in_one_line
def _deploy_iam(args: argparse.Namespace) -> int:
    from lakeforge.deploy import iam

    env = _load_deploy_env(args.env)
    region, _ = _aws(args, env)
    artifacts = args.artifacts or default_artifacts_uri(env)
    jobs = args.job or [DEFAULT_JOB]
    configs = _job_configs(jobs)  # the local checks first: STS is the first AWS call
    if args.topic_arn and ":sns:" not in args.topic_arn:
        raise ConfigError(f"--topic-arn {args.topic_arn!r} is not an SNS topic ARN")
    account = args.account_id or _client("sts", args, env).get_caller_identity()["Account"]
    common = {"account_id": account, "artifacts_uri": artifacts, "region": region,
              "extra_databases": args.database}
    glue_scope = iam.scope_from_jobs(env, configs, extra_write=[u for u in [args.temp_dir] if u]
                                     or [f"{artifacts.rstrip('/')}/tmp"], **common)
    emr_scope = iam.scope_from_jobs(env, configs, extra_write=[u for u in [args.log_uri] if u],
                                    **common)
    glue_jobs = args.glue_job or [f"lakeforge-{j.replace('_', '-')}" for j in jobs]
    documents = {
        "glue-job-policy.json": iam.glue_job_policy(glue_scope),
        "emr-instance-profile-policy.json": iam.emr_instance_profile_policy(emr_scope),
        "airflow-policy.json": iam.airflow_policy(
            account_id=account, region=glue_scope.region, glue_jobs=glue_jobs,
            topic_arn=args.topic_arn, emr_cluster_ids=args.emr_cluster_id),
    }
    if args.topic_arn:
        documents["stepfunctions-policy.json"] = iam.step_functions_policy(
            account_id=account, region=glue_scope.region, glue_jobs=glue_jobs,
            topic_arn=args.topic_arn,
        )
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, doc in documents.items():
        (out / name).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    result: dict[str, Any] = {"written": sorted(str(out / n) for n in documents)}
    if args.apply:
        client = _client("iam", args, env)
        roles = {
            "glue": iam.apply_role(client, args.glue_role, "glue",
                                   documents["glue-job-policy.json"]),
            "emr_instance_profile": iam.apply_role(
                client, args.emr_role, "emr_ec2", documents["emr-instance-profile-policy.json"],
                instance_profile=True),
        }
        if "stepfunctions-policy.json" in documents:
            roles["stepfunctions"] = iam.apply_role(
                client, args.sfn_role, "stepfunctions", documents["stepfunctions-policy.json"])
        result["roles"] = roles
    _print(result)
    return 0
