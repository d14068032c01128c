"""``lakeforge jobs``: list the runnable jobs; the CLI's registry of jobs by name.

Jobs sit above lakeforge/ (``jobs/<name>.py``): the runtime never imports them. The CLI finds
them by name: the modules of the ``jobs`` package (found with importlib, not imported) whose
source defines ``main``, loaded only when one is run.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
from pathlib import Path
from types import ModuleType

from lakeforge.errors import ConfigError

JOBS_PACKAGE = "jobs"


def discover_jobs() -> list[str]:
    """Names of the runnable jobs (modules of the ``jobs`` package that define ``main``)."""
    spec = importlib.util.find_spec(JOBS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return []
    return sorted(
        p.stem for folder in spec.submodule_search_locations for p in Path(folder).glob("*.py")
        if not p.stem.startswith("_") and "def main(" in p.read_text(encoding="utf-8")
    )


def load_job(name: str) -> ModuleType:
    """The job module ``jobs.<name>``; an unknown name is a one-line error listing the jobs."""
    available = discover_jobs()
    if name not in available:
        raise ConfigError(f"unknown job {name!r}; available jobs: {available}")
    return importlib.import_module(f"{JOBS_PACKAGE}.{name}")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("jobs", help="list the jobs in jobs/")
    p.set_defaults(func=_list)


def _list(args: argparse.Namespace) -> int:
    for name in discover_jobs():
        print(name)
    return 0
