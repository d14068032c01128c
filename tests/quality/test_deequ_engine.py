"""The ``deequ`` engine against real Deequ (the jar set ``deequ``, pydeequ 1.7): the same suite
gives the native engine's results, untranslatable constraints are listed, failures keep Deequ's
messages, and Py4J's callback server never keeps a process alive (python-deequ #7 / #156)."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import types as T

from quality import (
    AnalyzerOptions,
    Check,
    CheckLevel,
    CheckStatus,
    ConstrainableDataTypes,
    ConstraintStatus,
    NullBehavior,
    VerificationResult,
    VerificationSuite,
)
from quality.metrics import Distribution, EmptyStateException, NoSuchColumnException

REPO = Path(__file__).resolve().parents[2]
SCHEMA = T.StructType([T.StructField("x", T.DoubleType()), T.StructField("k", T.IntegerType()),
                       T.StructField("s", T.StringType())])
ROWS = [(1.0, 1, "a"), (None, 2, "b"), (3.5, 2, None), (-1.0, 4, "bb"), (2.0, 5, "a")]

pytestmark = pytest.mark.jars


def _both(spark: Any, df: Any, *checks: Check) -> tuple[VerificationResult, VerificationResult]:
    native = VerificationSuite(spark).onData(df).addCheck(checks[0])
    deequ = VerificationSuite(spark, engine="deequ").onData(df).addCheck(checks[0])
    for check in checks[1:]:
        native, deequ = native.addCheck(check), deequ.addCheck(check)
    return native.run(), deequ.run()


def _outcomes(result: VerificationResult) -> list[tuple[str, str, str | None, Any, str | None]]:
    """(constraint, status, message, metric value, metric exception type) per constraint."""
    out = []
    for check_result in result.checkResults.values():
        for cr in check_result.constraintResults:
            metric = cr.metric
            value = None if metric is None else metric.value
            if isinstance(value, float) and math.isnan(value):
                value = "NaN"
            error = None if metric is None or metric.exception is None else \
                type(metric.exception).__name__
            out.append((str(cr.constraint), cr.status.value, cr.message, value, error))
    return out


def test_same_suite_gives_native_results_on_data_with_nulls(deequ: Any) -> None:
    df = deequ.createDataFrame(ROWS, SCHEMA)
    check = (Check(deequ, CheckLevel.Error, "orders")
             .hasSize(lambda n: n == 5).isComplete("x").hasCompleteness("s", lambda v: v > 0.5)
             .isUnique("k").hasMin("x", lambda v: v >= 0).hasMax("x", lambda v: v < 4)
             .hasMean("x", lambda v: v > 1).hasSum("k", lambda v: v == 14)
             .hasStandardDeviation("x", lambda v: v < 2).isNonNegative("x")
             .isContainedIn("s", ["a", "b"]).hasPattern("s", r"^b")
             .isComplete("s").where("k > 1")
             .hasDataType("s", ConstrainableDataTypes.String)
             .isPrimaryKey("k", "s").hasUniqueness(["s"], lambda v: v > 0.3)
             .hasDistinctness(["k"], lambda v: v == 0.8)
             .hasHistogramValues("s", lambda d: d["a"].absolute == 2)
             .hasMinLength("s", lambda v: v == 1).hasMaxLength("s", lambda v: v == 1)
             .satisfies("x > 0 OR k > 3", "positive", lambda v: v == 1.0)
             .isLessThan("x", "k")
             .isContainedIn("x", lowerBound=0, upperBound=3.5, includeUpperBound=False))
    warn = Check(deequ, CheckLevel.Warning, "sizes").hasSize(lambda n: n > 100)
    native, real = _both(deequ, df, check, warn)
    assert real.engine == "deequ" and real.notTranslated == {}
    assert _outcomes(real) == _outcomes(native)
    assert real.status == native.status == CheckStatus.Error
    assert [r.status for r in real.checkResults.values()] == [CheckStatus.Error,
                                                              CheckStatus.Warning]
    statuses = [o[1] for o in _outcomes(real)]
    assert "Success" in statuses and "Failure" in statuses
    # The histogram assertion got Lakeforge's Distribution, not a JVM object.
    histogram = real.checkResults[check].constraintResults[17]
    assert histogram.status == ConstraintStatus.Success
    assert isinstance(histogram.metric.value, Distribution)  # type: ignore[union-attr]
    assert histogram.metric.value.absolutes == {"a": 2, "b": 1, "bb": 1,  # type: ignore[union-attr]
                                                "NullValue": 1}
    rows = VerificationResult.checkResultsAsJson(deequ, real)
    assert rows == VerificationResult.checkResultsAsJson(deequ, native)
    def metrics(result: VerificationResult) -> list[tuple[str, str, str, float]]:
        return sorted(tuple(m.values()) for m in VerificationResult.successMetricsAsJson(
            deequ, result))
    assert metrics(real) == metrics(native)


def test_failures_on_an_empty_frame_and_a_missing_column_keep_deequs_messages(
        deequ: Any) -> None:
    empty = deequ.createDataFrame([], SCHEMA)
    check = (Check(deequ, CheckLevel.Error, "empty")
             .hasSize(lambda n: n == 0).isComplete("x").hasMin("x", lambda v: v > 0)
             .hasMean("k", lambda v: v > 0).hasMin("nope", lambda v: True))
    native, real = _both(deequ, empty, check)
    assert _outcomes(real) == _outcomes(native)
    results = real.checkResults[check].constraintResults
    assert results[0].status == ConstraintStatus.Success
    assert isinstance(results[2].metric.exception, EmptyStateException)  # type: ignore[union-attr]
    assert results[4].message == "Input data does not include column nope!"
    assert isinstance(results[4].metric.exception, NoSuchColumnException)  # type: ignore[union-attr]


def test_all_null_column_and_a_filter_that_keeps_no_row(deequ: Any) -> None:
    df = deequ.createDataFrame([(None, 1, None), (None, 2, None)], SCHEMA)
    check = (Check(deequ, CheckLevel.Warning, "nulls")
             .isComplete("s").hasCompleteness("x", lambda v: v == 0.0)
             .hasMax("x", lambda v: v > 0).isUnique("k").where("k > 10"))
    native, real = _both(deequ, df, check)
    assert _outcomes(real) == _outcomes(native)
    assert real.status == CheckStatus.Warning


def test_calls_pydeequ_cannot_take_are_listed_not_run(deequ: Any) -> None:
    df = deequ.createDataFrame(ROWS, SCHEMA)
    check = (Check(deequ, CheckLevel.Error, "mixed").isComplete("k")
             .isContainedIn("x", lowerBound=0, upperBound=5, assertion=lambda v: v > 0.5)
             .isComplete("x", analyzerOptions=AnalyzerOptions(NullBehavior.Fail)))
    result = VerificationSuite(deequ, engine="deequ").onData(df).addCheck(check).run()
    assert [cr.status for cr in result.checkResults[check].constraintResults] == [
        ConstraintStatus.Success]
    reasons = [reason for _, reason in result.notTranslated[check]]
    assert len(reasons) == 2
    assert "isContainedIn with bounds takes no assertion" in reasons[0]
    assert "isComplete does not take these arguments" in reasons[1]
    rows = VerificationResult.checkResultsAsJson(deequ, result)
    assert [r["constraint_status"] for r in rows] == ["Success", "NotTranslatable",
                                                      "NotTranslatable"]


def test_callback_server_is_down_after_each_run_and_the_next_run_restarts_it(
        deequ: Any) -> None:
    df = deequ.createDataFrame(ROWS, SCHEMA)
    gateway = deequ.sparkContext._gateway
    for expected in (True, False):
        check = Check(deequ, CheckLevel.Error, "again").hasSize(lambda n, e=expected: e)
        result = VerificationSuite(deequ, engine="deequ").onData(df).addCheck(check).run()
        assert result.checkResults[check].constraintResults[0].status == (
            ConstraintStatus.Success if expected else ConstraintStatus.Failure)
        server = gateway.get_callback_server()
        assert server is not None and server.is_shutdown


@pytest.mark.slow
def test_a_job_on_the_deequ_engine_exits_without_stopping_spark(deequ: Any,
                                                                 tmp_path: Path) -> None:
    """Slow: starts its own Spark (with the deequ jar set) in a subprocess, runs one check on the
    deequ engine and ends the script without spark.stop(); before the callback server was shut
    down such a process never exited (python-deequ #7)."""
    script = tmp_path / "job.py"
    script.write_text(textwrap.dedent("""
        from lakeforge.config import load_env
        from lakeforge.session import build_session
        from quality import Check, CheckLevel, VerificationSuite

        env = load_env("local", overrides={"spark.jar_sets": ["deequ"],
                                            "spark.master": "local[1]"})
        spark = build_session(env, "deequ-exit")
        df = spark.createDataFrame([(1,), (None,)], "a int")
        check = Check(spark, CheckLevel.Error, "c").hasCompleteness("a", lambda v: v > 0.4)
        result = VerificationSuite(spark, engine="deequ").onData(df).addCheck(check).run()
        print("status", result.status.value, result.engine, flush=True)
    """))
    env = {**os.environ, "LAKEFORGE_CONF_DIR": str(REPO / "conf"),
           "LAKEFORGE_LAKE_ROOT": str(tmp_path / "lake")}
    env.pop("SPARK_VERSION", None)  # the engine sets it for pydeequ
    done = subprocess.run([sys.executable, str(script)], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "status Success deequ" in done.stdout
