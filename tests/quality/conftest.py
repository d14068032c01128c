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


def run_deequ_dqdl(cases: list[dict[str, Any]], folder: Any, timeout: int) -> dict[str, Any]:
    """``cases`` (deequ_dqdl_runner.py's job format, without the jars) through Deequ 2.1.0's
    DQDL module in a JVM of its own; returns the runner's output by case id. Skips when the
    line has no ``deequ-dqdl`` set (Deequ is built for Spark 3.5 only); under ``make test``
    (``LAKEFORGE_REQUIRE_JARS=1``) a pinned set that is missing fails instead."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    from lakeforge.jars import JarSetMissingError, available_sets, set_jars, spark_line
    from tests.jobsupport import REPO

    try:
        jars = set_jars("deequ-dqdl")
    except JarSetMissingError as exc:
        if (os.environ.get("LAKEFORGE_REQUIRE_JARS") == "1"
                and "deequ-dqdl" in available_sets(spark_line())):
            pytest.fail(f"make test fetched the jars, yet Deequ's DQDL module is missing: {exc}")
        pytest.skip(f"no Deequ DQDL module for this Spark line (Deequ is built for Spark 3.5 "
                    f"only): {exc}")
    job, out = Path(folder) / "dqdl_job.json", Path(folder) / "dqdl_out.json"
    job.write_text(json.dumps({"jars": jars, "cases": cases}))
    proc = subprocess.run([sys.executable, str(Path(__file__).with_name("deequ_dqdl_runner.py")),
                           str(job), str(out)], capture_output=True, text=True, timeout=timeout,
                          cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text())  # type: ignore[no-any-return]


def deequ_anomalies(jvm: Any, strategy: Any, series: list[float],
                    interval: tuple[int, int]) -> list[tuple[int, float, str]]:
    """(index, value, detail) of every anomaly a real Deequ strategy (a py4j object of
    ``com.amazon.deequ.anomalydetection``) finds in ``series`` within ``interval``."""
    values = jvm.java.util.ArrayList()
    for v in series:
        values.add(jvm.java.lang.Double(v))
    vector = jvm.scala.collection.JavaConverters.asScalaBufferConverter(values).asScala() \
        .toVector()
    found = jvm.scala.collection.JavaConverters.seqAsJavaListConverter(
        strategy.detect(vector, jvm.scala.Tuple2(*interval))).asJava()
    return [(int(p._1()), p._2().value().get(), p._2().detail().get()) for p in found]
