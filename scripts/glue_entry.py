"""Entry script for AWS Glue jobs and EMR steps: run ``jobs.<name>.main`` with Glue-style arguments.

Arguments (the same names on Glue, on EMR and on a laptop):

    --JOB_NAME NAME          the Glue job's name (Glue passes it; elsewhere defaults to the job)
    --lakeforge_job NAME     which module in jobs/ to run, e.g. customer_propensity
    --env ENV                env name or YAML path/URI (s3://.../conf/envs/glue.yaml)
    --config FILE            job config YAML path/URI (s3://.../conf/jobs/<job>.yaml)

On Glue they are read with ``awsglue.utils.getResolvedOptions``; where awsglue is not
importable an argparse parser with the same names and the same rules reads them. Every other
``--KEY value`` pair (config overrides, Glue's own ``--TempDir``, ``--job-bookmark-option``...)
is passed on unchanged to the job, whose argument parser knows what to keep aside.

The packages come from the ``--py-files`` / ``--extra-py-files`` zip; conf/ inside that zip is
made findable first (see ``lakeforge.deploy.artifacts.ensure_conf_dir``).

    spark-submit --py-files lakeforge_pyfiles.zip scripts/glue_entry.py \\
        --lakeforge_job csv_to_parquet --env local
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import re
import sys
from collections.abc import Sequence

REQUIRED = ("lakeforge_job",)
OPTIONAL = ("JOB_NAME", "env", "config")
_JOB_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class EntryArgumentError(ValueError):
    """The entry script's own arguments are missing or name no job."""


def _present(argv: Sequence[str], name: str) -> bool:
    return any(a == f"--{name}" or a.startswith(f"--{name}=") for a in argv)


def _fallback_resolved_options(argv: Sequence[str], names: Sequence[str]) -> dict[str, str]:
    """What ``getResolvedOptions(argv, names)`` returns, for machines without awsglue."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    for name in names:
        parser.add_argument(f"--{name}", required=True)
    try:
        known, _ = parser.parse_known_args(list(argv[1:]))
    except SystemExit as exc:
        missing = [n for n in names if not _present(argv, n)]
        raise EntryArgumentError(
            f"glue_entry: missing argument(s) {['--' + n for n in missing] or list(names)}; "
            "pass e.g. --lakeforge_job customer_propensity"
        ) from exc
    return {name: getattr(known, name) for name in names}


def resolve_options(argv: Sequence[str]) -> dict[str, str]:
    """The entry's own options from ``argv`` (``sys.argv`` shape: argv[0] is the script)."""
    names = list(REQUIRED) + [n for n in OPTIONAL if _present(argv, n)]
    try:
        from awsglue.utils import getResolvedOptions  # only on Glue
    except ImportError:
        return _fallback_resolved_options(argv, names)
    missing = [n for n in REQUIRED if not _present(argv, n)]
    if missing:
        raise EntryArgumentError(
            f"glue_entry: missing argument(s) {['--' + n for n in missing]}; add them to the "
            "Glue job's DefaultArguments (lakeforge deploy glue does)"
        )
    # Glue's parser also returns its own keys (job_bookmark_option, TempDir, JOB_RUN_ID...).
    resolved = getResolvedOptions(list(argv), names)
    return {name: resolved[name] for name in names}


def passthrough(argv: Sequence[str]) -> list[str]:
    """``argv[1:]`` without the entry's own options (both ``--k v`` and ``--k=v`` forms)."""
    own = set(REQUIRED) | set(OPTIONAL)
    out: list[str] = []
    items = list(argv[1:])
    i = 0
    while i < len(items):
        token = items[i]
        key = token[2:].partition("=")[0] if token.startswith("--") else None
        if key in own:
            has_inline = "=" in token
            i += 1 if has_inline else 2
            continue
        out.append(token)
        i += 1
    return out


def available_jobs() -> list[str]:
    """Modules in jobs/ (works from a zip too, unlike a folder glob)."""
    import jobs

    return sorted(m.name for m in pkgutil.iter_modules(jobs.__path__) if not m.name.startswith("_"))


def job_argv(argv: Sequence[str]) -> tuple[str, list[str]]:
    """The job module to run and the arguments for its ``main``."""
    options = resolve_options(argv)
    job = options["lakeforge_job"]
    if not _JOB_NAME.match(job):
        raise EntryArgumentError(f"glue_entry: --lakeforge_job {job!r} is not a module name")
    forwarded = ["--JOB_NAME", options.get("JOB_NAME") or job]
    for name in ("env", "config"):
        if options.get(name):
            forwarded += [f"--{name}", options[name]]
    return job, forwarded + passthrough(argv)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    try:
        job, forwarded = job_argv(argv)
    except EntryArgumentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from lakeforge.deploy.artifacts import ensure_conf_dir

    ensure_conf_dir()
    try:
        module = importlib.import_module(f"jobs.{job}")
    except ModuleNotFoundError as exc:
        if exc.name not in (f"jobs.{job}", "jobs"):
            raise
        print(f"error: glue_entry: no job {job!r}; available jobs: {available_jobs()}",
              file=sys.stderr)
        return 2
    # One line in the driver log saying which code runs: the zip's, not a stale install.
    print(f"glue_entry: running jobs.{job} from {module.__file__}", file=sys.stderr)
    return int(module.main(forwarded))


if __name__ == "__main__":
    code = main()
    # Glue marks a run failed on a non-zero exit; a zero exit is left to the runtime.
    if code:
        sys.exit(code)
