"""The job contract shared by every ``jobs/<name>.py``.

A job module defines a frozen config dataclass and a ``run(ctx) -> int`` body, and exposes::

    def main(argv: list[str] | None = None) -> int:
        return run_job("csv_to_parquet", CsvToParquetConfig, run, argv)

It then runs unchanged as ``python -m jobs.<name>``, ``lakeforge run <name>``, ``spark-submit
jobs/<name>.py`` and as an AWS Glue job. Arguments follow Glue's contract (``--JOB_NAME name
--config conf/jobs/x.yaml --env local --key value``): ``--KEY value`` pairs other than the known
ones become dotted config overrides, and the arguments Glue itself passes (``--TempDir``,
``--job-bookmark-option``, ``--enable-...``) are kept aside, not treated as config.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from lakeforge.bookmarks import OPTIONS as BOOKMARK_OPTIONS
from lakeforge.bookmarks import PAUSE
from lakeforge.config import (
    EnvConfig,
    conf_dir,
    conf_dir_problem,
    load_config,
    load_env,
    parse_override_value,
)
from lakeforge.errors import ConfigError, LakeforgeError
from lakeforge.paths import Lake

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

C = TypeVar("C")

# Arguments the Glue runtime passes to every job script; never config overrides.
GLUE_RESERVED = {
    # The three bookmark arguments are Glue's (job-bookmark-from/-to come with the pause option).
    "TempDir", "job-bookmark-option", "job-bookmark-from", "job-bookmark-to", "job-language",
    "enable-glue-datacatalog", "enable-metrics", "enable-continuous-cloudwatch-log",
    "enable-spark-ui",
    "spark-event-logs-path", "enable-job-insights", "enable-observability-metrics",
    "extra-py-files", "extra-jars", "extra-files", "additional-python-modules",
    "python-modules-installer-option", "user-jars-first", "conf", "debug", "mode",
    "redshift-tmp-dir", "continuation-option", "enable-auto-scaling", "JOB_ID", "JOB_RUN_ID",
    "SECURITY_CONFIGURATION", "encryption-type", "job-type", "datalake-formats",
    "enable-s3-parquet-optimized-committer", "enable-rename-algorithm-v2",
    "enable-continuous-log-filter", "continuous-log-logGroup", "continuous-log-logStreamPrefix",
    "continuous-log-conversionPattern", "scriptLocation", "WORKFLOW_NAME", "WORKFLOW_RUN_ID",
}


@dataclass(frozen=True)
class JobArgs:
    """Parsed job arguments."""

    job_name: str
    env: str
    config: str | None
    overrides: Mapping[str, Any] = field(default_factory=dict)
    env_overrides: Mapping[str, Any] = field(default_factory=dict)
    glue_args: Mapping[str, str] = field(default_factory=dict)
    log_level: str = "INFO"
    # Lifecycle jobs: one phase (write, audit, publish) or all three (None).
    phase: str | None = None
    # How a lifecycle job prints its run summary on stdout: one JSON line, or text.
    summary_format: str = "json"
    # Lifecycle jobs: the table format of every output (parquet, delta, iceberg), or None
    # for each output's own ``format``.
    output_format: str | None = None
    # Lifecycle jobs run phase by phase: the orchestrator's run (a Step Functions execution,
    # an Airflow run id) that the write, audit and publish steps belong to.
    handoff: str | None = None

    @property
    def config_source(self) -> str:
        """How errors name the job config: its file, and whether overrides applied."""
        where = self.config or "<defaults>"
        return f"{where} (with command-line overrides)" if self.overrides else where


def parse_job_args(argv: Sequence[str], default_job_name: str) -> JobArgs:
    """Parse Glue-style ``--KEY value`` arguments.

    Known keys: ``--JOB_NAME``, ``--env`` (default ``$LAKEFORGE_ENV`` or ``local``), ``--config``
    (default ``conf/jobs/<job>.yaml`` when it exists), ``--log-level``, ``--phase
    write|audit|publish``, ``--summary-format json|text`` and ``--output_format
    parquet|delta|iceberg`` and ``--handoff ID`` (lifecycle jobs). ``--env.<key>
    v`` overrides the env config; any other ``--a.b v`` overrides the job config.
    ``--key=value`` also works.
    """
    values: dict[str, str] = {}
    order: list[str] = []
    items = list(argv)
    i = 0
    while i < len(items):
        token = items[i]
        if not token.startswith("--") or token == "--":
            raise ConfigError(
                f"unexpected argument {token!r}: job arguments are --KEY value pairs "
                "(e.g. --env local --config conf/jobs/x.yaml)"
            )
        key = token[2:]
        if "=" in key:
            key, _, value = key.partition("=")
        else:
            if i + 1 >= len(items) or (items[i + 1].startswith("--") and items[i + 1] != "--"):
                # Glue flags such as --enable-glue-datacatalog may come without a value.
                if key in GLUE_RESERVED:
                    values[key] = "true"
                    order.append(key)
                    i += 1
                    continue
                raise ConfigError(f"argument --{key} needs a value: --{key} VALUE")
            value = items[i + 1]
            i += 1
        values[key] = value
        order.append(key)
        i += 1

    job_name = values.pop("JOB_NAME", default_job_name)
    if not job_name.strip() or any(p in ("", ".", "..") for p in job_name.split("/")):
        # the run's name keys its bookmarks and lock (jobs/<name>): refused before Spark, not
        # as "state key 'jobs/' is not valid" once the session is up
        raise ConfigError(f"--JOB_NAME {job_name!r}: give the run's name (no empty, '.' or "
                          "'..' part between '/')")
    env = values.pop("env", os.environ.get("LAKEFORGE_ENV", "local"))
    config = values.pop("config", None)
    if config is not None and not config.strip():
        raise ConfigError("--config is empty: give the job config's path (or leave --config out "
                          f"for conf/jobs/{default_job_name}.yaml)")
    log_level = check_log_level(values.pop("log-level", "INFO"))
    phase = values.pop("phase", None)
    if phase not in (None, "write", "audit", "publish"):
        raise ConfigError(f"--phase {phase!r}: use write, audit or publish (or no --phase for "
                          "all three)")
    summary_format = values.pop("summary-format", "json")
    if summary_format not in ("json", "text"):
        raise ConfigError(f"--summary-format {summary_format!r}: use json or text")
    output_format = values.pop("output_format", None) or values.pop("output-format", None)
    if output_format is not None:
        from lakeforge.formats import check_format

        check_format(output_format, "--output_format")
    handoff = values.pop("handoff", None)
    if handoff is not None and not handoff.strip():
        raise ConfigError("--handoff is empty: give the orchestrator's run id (or leave it out)")
    glue_args = {k: values.pop(k) for k in list(values) if k in GLUE_RESERVED}
    bookmark_option = glue_args.get("job-bookmark-option")
    if bookmark_option is not None and bookmark_option not in BOOKMARK_OPTIONS:
        raise ConfigError(f"--job-bookmark-option {bookmark_option!r}: use one of "
                          f"{', '.join(BOOKMARK_OPTIONS)}")
    for name in ("job-bookmark-from", "job-bookmark-to"):
        if name in glue_args and not glue_args[name].strip():
            raise ConfigError(f"--{name} is empty: give a committed run id (or leave it out)")
        if name in glue_args and bookmark_option not in (None, PAUSE):
            raise ConfigError(f"--{name} needs --job-bookmark-option {PAUSE}, not "
                              f"{bookmark_option}")
    env_overrides = {
        k[len("env."):]: parse_override_value(values.pop(k)) for k in list(values)
        if k.startswith("env.")
    }
    overrides = {k.replace("-", "_"): parse_override_value(v) for k, v in values.items()}
    if config is None:
        candidate = conf_dir() / "jobs" / f"{default_job_name}.yaml"
        config = str(candidate) if candidate.is_file() else None
    return JobArgs(job_name, env, config, overrides, env_overrides, glue_args, log_level,
                   phase, summary_format, output_format, handoff)


@dataclass
class JobContext(Generic[C]):
    """What a job body receives: its config, env, lake, session and arguments."""

    name: str
    config: C
    env: EnvConfig
    lake: Lake
    spark: SparkSession
    args: JobArgs
    #: Set by the body, printed by :func:`run_job` once it returns: the run summary (stdout,
    #: JSON or ``--summary-format text``) and the one-line reason a run failed a gate (stderr).
    summary: dict[str, Any] | None = None
    failure: str | None = None


def _report(ctx: JobContext[Any]) -> None:
    """The job's output: a gate failure's one line on stderr, the run summary on stdout."""
    import json

    from lakeforge.lifecycle.report import render_console

    if ctx.failure:
        print(f"error: {one_line(ctx.failure)}", file=sys.stderr)
    if ctx.summary is not None:
        if ctx.args.summary_format == "text":
            print("\n".join(render_console(ctx.summary)))
        else:
            print(json.dumps(ctx.summary, default=str))


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def check_log_level(level: str) -> str:
    """``--log-level``'s value upper-cased; an unknown level is a ConfigError (it was taken
    silently as INFO)."""
    name = str(level).strip().upper()
    if name == "WARN":
        name = "WARNING"
    if name not in LOG_LEVELS:
        raise ConfigError(f"--log-level {level!r}: use one of {', '.join(LOG_LEVELS)}")
    return name


def configure_logging(level: str = "INFO") -> None:
    """Jobs and the CLI own logging handlers; libraries only log."""
    level = check_log_level(level)
    logging.basicConfig(
        level=getattr(logging, level),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("py4j").setLevel(logging.WARNING)
    if level != "DEBUG":
        # Splink warns per comparison level it cannot train on small samples; keep errors.
        logging.getLogger("splink").setLevel(logging.ERROR)
        _quiet_query_context_loggers()
    from lakeforge.redact import install_log_redaction

    install_log_redaction()  # secrets never reach a log, whichever job or command logs them


def _quiet_query_context_loggers() -> None:
    """pyspark 4 logs every captured AnalysisException that carries a query context as an
    ERROR JSON line on stderr when the exception is made, even when the caller catches it
    (a probe for a table, a refused table in ``lakeforge table``): noise next to Lakeforge's
    own one-line errors. The exception keeps its message; ``--log-level DEBUG`` keeps the
    lines. pyspark 3.5 has no such loggers."""
    try:
        from pyspark.logger import PySparkLogger
    except ImportError:
        return
    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        # made as PySparkLogger (pyspark calls them with structured keyword arguments)
        PySparkLogger.getLogger(name).setLevel(logging.CRITICAL)


def run_job(
    default_name: str,
    config_cls: type[C],
    body: Callable[[JobContext[C]], int],
    argv: Sequence[str] | None = None,
    *,
    session_conf: Mapping[str, str] | None = None,
    preflight: Callable[[C, EnvConfig, Lake, str], None] | None = None,
) -> int:
    """Parse args, load config, build the session, run ``body``, stop; return the exit code.

    The config's ``validate(source)`` and ``preflight(config, env, lake, source)`` run before
    Spark starts (``source`` names the config file for errors), so a
    wrong path fails in a second, not after the JVM is up. A
    :class:`~lakeforge.errors.LakeforgeError` (bad config, missing input, ...) is printed as one
    line ``error: ...`` and gives exit code 2; any other exception propagates with its traceback.
    A session that was already active (tests, Glue, notebooks) is reused and not stopped.
    """
    from pyspark.sql import SparkSession

    from lakeforge.session import build_session, preflight_storage

    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parse_job_args(argv, default_name)
        configure_logging(args.log_level)
        try:
            config = load_config(config_cls, args.config, args.overrides)
        except ConfigError as exc:
            if args.config is not None:
                raise
            # no conf/jobs/<job>.yaml: "<defaults>: missing required key" alone hid why
            missing = conf_dir() / "jobs" / f"{default_name}.yaml"
            raise ConfigError(f"{exc}; no job config was read: {missing} does not exist"
                              f"{conf_dir_problem()}; pass --config FILE") from exc
        env = load_env(args.env, args.env_overrides)
        lake = Lake.from_env(env)
        _check_config(config, args.config_source)
        _check_bookmark_args(args.glue_args, config, args.config_source)
        preflight_storage(env, lake)  # S3 settings; endpoint and bucket of an s3:// lake
        if preflight is not None:
            preflight(config, env, lake, args.config_source)
    except LakeforgeError as exc:
        print(f"error: {one_line(str(exc))}", file=sys.stderr)
        return 2

    started = time.monotonic()
    spark = None
    owns_session = SparkSession.getActiveSession() is None and env.kind in ("local", "standalone")
    try:
        spark = build_session(env, f"lakeforge-{args.job_name}", extra_conf=session_conf,
                              lake=lake)
        ctx = JobContext(args.job_name, config, env, lake, spark, args)
        code = body(ctx)
        _report(ctx)
        log.info("job %s finished with code %s in %.1fs", args.job_name, code,
                 time.monotonic() - started)
        return code
    except LakeforgeError as exc:
        log.debug("job failed", exc_info=True)
        print(f"error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    finally:
        if spark is not None and owns_session:
            # On EMR and Glue (and in tests) someone else owns the session's lifetime.
            spark.stop()


def one_line(message: str) -> str:
    """Collapse a message to one line for ``error: ...`` output, credentials masked
    (:func:`lakeforge.redact.redact_text`: the line reaches stderr, logs and run summaries)."""
    from lakeforge.redact import redact_text

    return " ".join(part.strip() for part in redact_text(str(message)).splitlines()
                    if part.strip())


def _check_bookmark_args(glue_args: Mapping[str, str], config: Any, source: str) -> None:
    """The bookmark arguments with the config's ``run`` settings they override, as the run
    will combine them (a run range needs the pause option), before Spark starts."""
    run = getattr(config, "run", None)
    option = glue_args.get("job-bookmark-option", getattr(run, "bookmark_option", None))
    if option is None or option == PAUSE:
        return
    for name in ("job-bookmark-from", "job-bookmark-to"):
        if name in glue_args:
            raise ConfigError(f"--{name} needs --job-bookmark-option {PAUSE} ({source} has "
                              f"run.bookmark_option {option})")
        key = f"run.{name.replace('-', '_')}"
        # (without --job-bookmark-option the config's own pair is checked with the config)
        if "job-bookmark-option" in glue_args and getattr(run, key[4:], None):
            raise ConfigError(f"--job-bookmark-option {option}: {source} sets '{key}', which "
                              f"needs {PAUSE}; pass --job-bookmark-option {PAUSE} or drop {key}")


def _check_config(config: Any, source: str) -> None:
    validate = getattr(config, "validate", None)
    if callable(validate):
        validate(source)
