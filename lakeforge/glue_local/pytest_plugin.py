"""pytest plugin (entry point ``pytest11: lakeforge_glue``): test Glue scripts without Glue.

* ``glue_context`` fixture: a :class:`awsglue.context.GlueContext` on the test's SparkSession
  (your ``spark`` fixture when you have one, else one local session), with ``s3://`` mapped to
  a temporary lake. While the fixture is active, ``import awsglue`` finds Lakeforge's runtime
  when the real awsglue is not importable; it is removed again afterwards.
* ``--glue-local`` (or ini ``glue_local = true``): put that runtime on ``sys.path`` for the
  whole run, before conftest files are imported, for suites whose conftest does
  ``from awsglue.context import GlueContext`` at import time.

The real awsglue, where it imports (the Glue Docker image, a Glue job), is never shadowed.
Nothing here imports pyspark until a fixture runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("lakeforge-glue")
    group.addoption("--glue-local", action="store_true", default=False,
                    help="make `import awsglue` find Lakeforge's awsglue-compatible runtime for "
                         "the whole run (only when the real awsglue is not importable)")
    parser.addini("glue_local", type="bool", default=False,
                  help="same as --glue-local")


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser,
                                  args: list[str]) -> None:
    """Before the first conftest is imported (it may import awsglue at module level)."""
    if "--glue-local" in args or early_config.getini("glue_local"):
        from lakeforge.glue_local.shim_path import activate_shim

        activate_shim()


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--glue-local") or config.getini("glue_local"):
        from lakeforge.glue_local.shim_path import activate_shim

        activate_shim()


@pytest.fixture
def glue_context(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A GlueContext whose ``s3://`` paths and catalog live in a fresh lake under tmp_path."""
    from lakeforge.glue_local.shim_path import shim_activated

    with shim_activated():
        from lakeforge.glue_local.runtime import GlueRuntime, local_session

        try:
            spark = request.getfixturevalue("spark")
        except pytest.FixtureLookupError:
            spark = local_session()
        runtime = GlueRuntime.for_lake(spark, str(tmp_path / "lake"))
        with runtime.installed():
            from awsglue.context import GlueContext

            yield GlueContext(spark.sparkContext)
