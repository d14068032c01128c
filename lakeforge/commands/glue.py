"""``lakeforge glue run SCRIPT.py [--JOB_NAME x --key value ...] [--env local]``.

Runs an unmodified AWS Glue script on Lakeforge's awsglue-compatible runtime (only where the
real awsglue is not importable): ``s3://BUCKET/KEY`` is ``<lake root>/s3/BUCKET/KEY`` unless
the env sets an S3 endpoint, and catalog tables come from the env's catalog. Arguments other
than ``--env`` and ``--glue-version`` go to the script, as Glue passes job parameters.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from lakeforge.commands import add_env_option


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "glue", help="run AWS Glue scripts locally (awsglue-compatible runtime)")
    sub = parser.add_subparsers(dest="glue_command", metavar="GLUE_COMMAND")
    run = sub.add_parser(
        "run", allow_abbrev=False,
        help="run a Glue script: lakeforge glue run job.py --JOB_NAME j [--key value ...]")
    run.add_argument("script", help="the Glue script (.py)")
    add_env_option(run)
    run.add_argument("--glue-version", choices=["5.0", "6.0"], default=None,
                     help="argument rules of this Glue version (default: the Spark line's)")
    run.set_defaults(func=_run, accepts_extra=True)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def _run(args: argparse.Namespace) -> int:
    from lakeforge.glue_local.options import GLUE_VERSION_ENV_VAR
    from lakeforge.glue_local.runner import run_glue_script

    if args.glue_version:
        os.environ[GLUE_VERSION_ENV_VAR] = args.glue_version
    run_glue_script(args.script, list(args.extra), env_name=args.env)
    return 0
