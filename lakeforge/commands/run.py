"""``lakeforge run JOB [--phase write|audit|publish] [--output_format parquet|delta|iceberg]
--env ENV [--config FILE] [--KEY value]``:
run a job in-process (all three lifecycle phases unless ``--phase`` names one)."""

from __future__ import annotations

import argparse

from lakeforge.commands import add_env_option
from lakeforge.commands.jobs import discover_jobs, load_job


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="run a job from jobs/ (Glue-style --KEY value arguments are passed through)",
        description="Run jobs/<JOB>.py's main() with Glue-style arguments. Any --KEY value not "
        "listed here overrides the job config (dotted keys: --outputs.sales.table sales_v2).",
    )
    p.add_argument("job", help=f"job name, one of: {', '.join(discover_jobs())}")
    add_env_option(p)
    p.add_argument("--config", help="job config YAML (default: conf/jobs/<JOB>.yaml)")
    p.add_argument("--phase", choices=["write", "audit", "publish"],
                   help="run one lifecycle phase: write stages a new version, audit runs the "
                   "quality gate on it, publish switches it in (default: all three)")
    p.add_argument("--summary-format", choices=["json", "text"],
                   help="print the run summary as one JSON line (default) or as text")
    p.add_argument("--output_format", "--output-format", dest="output_format",
                   choices=["parquet", "delta", "iceberg"],
                   help="publish every output in this table format (default: each output's "
                   "format in the job config); delta/iceberg need an env with those jar sets")
    p.set_defaults(func=_run, accepts_extra=True)


def _run(args: argparse.Namespace) -> int:
    module = load_job(args.job)
    argv: list[str] = []
    for flag, value in (("--env", args.env), ("--config", args.config),
                        ("--phase", args.phase), ("--summary-format", args.summary_format),
                        ("--output_format", args.output_format)):
        if value is not None:  # an empty --config or --env is refused by the job, not dropped
            argv += [flag, value]
    argv += ["--log-level", args.log_level]
    return int(module.main(argv + list(args.extra)))
