"""Fixtures of the quality tests that need real Deequ (the jar set ``deequ``, pydeequ)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="module")
def deequ(spark: Any) -> Iterator[Any]:
    """The suite's session when the Deequ jar is on its classpath (``make test`` fetches it),
    else the test is skipped naming ``make jars``. Py4J's callback server is shut down after the
    module, so no PyDeequ callback keeps the test process alive."""
    from quality.deequ_engine import deequ_unavailable_reason, shutdown_callback_server

    if int(spark.version.split(".")[0]) >= 4:
        pytest.skip("no Deequ for Spark 4: Maven Central's com.amazon.deequ:deequ ends at "
                    "2.0.7-spark-3.5 / 2.1.0-spark-3.5 (jvm/spark-4.1 has no deequ set), so real "
                    "Deequ and PyDeequ run on the Spark 3.5 line only")
    reason = deequ_unavailable_reason(spark)
    if reason is not None:
        pytest.skip(f"run `make jars` (make test does): {reason}")
    yield spark
    shutdown_callback_server(spark)
