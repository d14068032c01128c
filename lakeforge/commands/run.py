"""``lakeforge run JOB --env ENV [--config FILE] [--KEY value ...]``: run a job in-process."""

from __future__ import annotations

import argparse
import importlib

from lakeforge.errors import ConfigError
from lakeforge.job import job_modules


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="run a job from jobs/ (Glue-style --KEY value arguments are passed through)",
        description="Run jobs/<JOB>.py's main() with Glue-style arguments. Any --KEY value not "
        "listed here overrides the job config (dotted keys: --output.table sales).",
    )
    p.add_argument("job", help=f"job name, one of: {', '.join(job_modules())}")
    p.add_argument("--env", help="environment name in conf/envs (default: local)")
    p.add_argument("--config", help="job config YAML (default: conf/jobs/<JOB>.yaml)")
    p.set_defaults(func=_run, accepts_extra=True)


def _run(args: argparse.Namespace) -> int:
    available = job_modules()
    if args.job not in available:
        raise ConfigError(f"unknown job {args.job!r}; available jobs: {available}")
    module = importlib.import_module(f"jobs.{args.job}")
    argv: list[str] = []
    if args.env:
        argv += ["--env", args.env]
    if args.config:
        argv += ["--config", args.config]
    argv += ["--log-level", args.log_level]
    return int(module.main(argv + list(args.extra)))
