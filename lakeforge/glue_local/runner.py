"""Run a Glue script as Glue would: ``sys.argv`` = [script, --JOB_NAME x, ...], ``__main__``.

The session is built for the env (or the active one is reused), the awsglue-compatible runtime
is put on ``sys.path`` (unless the real awsglue imports), the buckets named in the script and
its arguments are mapped into the lake, and the script runs in this process. ``sys.argv``,
``sys.path`` and the awsglue modules are restored afterwards.

Example::

    run_glue_script("jobs/legislators.py", ["--JOB_NAME", "legislators"], env_name="local")
"""

from __future__ import annotations

import logging
import runpy
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakeforge.errors import ConfigError
from lakeforge.glue_local.runtime import GlueRuntime, buckets_in
from lakeforge.glue_local.shim_path import shim_activated

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)


def run_glue_script(script: str | Path, argv: Sequence[str] = (), *, env_name: str = "local",
                    spark: SparkSession | None = None,
                    runtime: GlueRuntime | None = None) -> dict[str, Any]:
    """Run ``script`` with Glue's arguments ``argv``; returns the script's globals."""
    path = Path(script)
    if not path.is_file():
        raise ConfigError(f"Glue script {path} does not exist")
    source = path.read_text(encoding="utf-8")
    if runtime is None:
        from lakeforge.config import load_env
        from lakeforge.session import build_session

        env = load_env(env_name)
        spark = spark or build_session(env, f"glue-{path.stem}")
        runtime = GlueRuntime.for_env(spark, env)
    runtime.map_buckets(buckets_in([source, *argv]))
    saved_argv = list(sys.argv)
    sys.argv = [str(path), *argv]
    try:
        with shim_activated(), runtime.installed():
            log.info("running Glue script %s with %s", path, list(argv))
            return runpy.run_path(str(path), run_name="__main__")
    finally:
        sys.argv = saved_argv
