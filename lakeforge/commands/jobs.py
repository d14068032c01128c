"""``lakeforge jobs``: list the runnable jobs."""

from __future__ import annotations

import argparse

from lakeforge.job import job_modules


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("jobs", help="list the jobs in jobs/")
    p.set_defaults(func=_list)


def _list(args: argparse.Namespace) -> int:
    for name in job_modules():
        print(name)
    return 0
