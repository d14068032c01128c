"""The quality package and the Glue transforms over a Spark Connect session give the same
results as over the classic session (pyspark 4 only: the Spark 4.1 line of `make test`).

The Connect side runs in a child process (``python -m tests.lakeforge.test_spark_connect``):
creating a remote session marks the whole Python process as Spark Connect
(SPARK_CONNECT_MODE_ENABLED), which
would turn the rest of the suite's classic ``F.col`` into Connect columns. The child starts a
local Connect server (``SparkSession.builder.remote("local[1]")``, its own JVM), computes the
same functions on the same inline data and prints them as JSON; the test computes them on the
suite's classic session and the rows, metrics, messages and rejected-value counts must be
equal. PyDeequ cannot be used over Connect at all (it needs the py4j gateway: python-deequ
#221); the native engine can.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import types as T

pyspark = pytest.importorskip("pyspark")
if int(pyspark.__version__.split(".")[0]) < 4:
    pytest.skip("Spark Connect sessions need pyspark 4 (the Spark 4.1 line: make test-spark4)",
                allow_module_level=True)
pytest.importorskip("grpc", reason="pyspark[connect] (grpcio) is not installed")

from quality import Check, CheckLevel, VerificationResult, VerificationSuite  # noqa: E402
from quality.analyzers import (  # noqa: E402
    AnalysisRunner,
    AnalyzerContext,
    ApproxCountDistinct,
    Completeness,
    Maximum,
    Mean,
    Size,
    Uniqueness,
)
from transforms.glue import (  # noqa: E402
    apply_mapping,
    drop_null_fields,
    resolve_choice,
    unnest,
)
from transforms.glue.error_ledger import ErrorLedger  # noqa: E402

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]

ORDERS = T.StructType([
    T.StructField("id", T.IntegerType()), T.StructField("country", T.StringType()),
    T.StructField("amount", T.DoubleType()), T.StructField("qty", T.StringType()),
])
ORDER_ROWS = [(1, "GB", 10.5, "1"), (2, "FR", -1.0, "two"), (3, None, 7.25, "3"),
              (3, "GB", None, None), (4, "DE", 0.0, "3000000000")]


def _orders(session: Any) -> Any:
    return session.createDataFrame(ORDER_ROWS, ORDERS)


def _sorted_rows(df: Any) -> list[str]:
    return sorted(repr(tuple(r)) for r in df.collect())


def _check() -> Check:
    return (Check(CheckLevel.Error, "orders")
            .hasSize(lambda n: n == 5)
            .isComplete("country")
            .isUnique("id")
            .isNonNegative("amount")
            .hasMean("amount", lambda m: m > 0)
            .isContainedIn("country", ["GB", "FR"])
            .hasPattern("qty", r"^[0-9]+$")
            .satisfies("amount < 100", "small amounts", lambda r: r == 1.0))


def verification(session: Any) -> dict[str, Any]:
    result = VerificationSuite(session).onData(_orders(session)).addCheck(_check()).run()
    return {
        "status": result.status,
        "checks": _sorted_rows(VerificationResult.checkResultsAsDataFrame(session, result)),
        "metrics": _sorted_rows(VerificationResult.successMetricsAsDataFrame(session, result)),
    }


def analysis(session: Any, rows: list[tuple[Any, ...]]) -> list[str]:
    df = session.createDataFrame(rows, ORDERS)
    ctx = (AnalysisRunner(session).onData(df).addAnalyzer(Size())
           .addAnalyzer(Completeness("country")).addAnalyzer(Uniqueness(["id"]))
           .addAnalyzer(Mean("amount")).addAnalyzer(Maximum("amount"))
           .addAnalyzer(ApproxCountDistinct("country")).run())
    return _sorted_rows(AnalyzerContext.successMetricsAsDataFrame(session, ctx))


NESTED = T.StructType([
    T.StructField("sku", T.StringType()), T.StructField("price", T.StringType()),
    T.StructField("addr", T.StructType([T.StructField("city", T.StringType()),
                                        T.StructField("zip", T.StringType())])),
])
NESTED_ROWS = [("a", "100", ("Leeds", None)), ("b", "$100", (None, None)), ("c", None, None)]


def glue_transforms(session: Any) -> dict[str, Any]:
    ledger = ErrorLedger()
    mapped = apply_mapping(_orders(session), [("id", "int", "order.id", "long"),
                                              ("qty", "string", "order.qty", "int"),
                                              ("amount", "double", "amount", "decimal(4,2)")],
                           ledger=ledger, transformation_ctx="map")
    frame = session.createDataFrame(NESTED_ROWS, NESTED)
    choice_ledger = ErrorLedger()
    resolved = resolve_choice(frame, specs=[("price", "cast:int")], ledger=choice_ledger,
                              transformation_ctx="choice")
    dropped = drop_null_fields(frame)
    return {
        "mapped": _sorted_rows(mapped), "mapped_schema": mapped.schema.simpleString(),
        "resolved": _sorted_rows(resolved), "dropped": _sorted_rows(dropped),
        "dropped_schema": dropped.schema.simpleString(), "unnested": _sorted_rows(unnest(frame)),
        "map_counts": [[s.records, s.error_records, s.error_values] for s in ledger.results()],
        "choice_counts": [[s.records, s.error_records] for s in choice_ledger.results()],
    }


def everything(session: Any) -> dict[str, Any]:
    return {"verification": verification(session), "analysis": analysis(session, ORDER_ROWS),
            "analysis_empty": analysis(session, []), "glue": glue_transforms(session)}


@pytest.fixture(scope="module")
def over_connect(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``everything`` computed over a Spark Connect session, in a child process.

    Slow: the child starts its own JVM with a local Connect server (about a minute on a loaded
    2-core machine)."""
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable,
           "SPARK_LOCAL_IP": "127.0.0.1", "PYTHONPATH": str(REPO)}
    env.pop("SPARK_CONNECT_MODE_ENABLED", None)
    env.pop("SPARK_REMOTE", None)
    done = subprocess.run([sys.executable, "-m", "tests.lakeforge.test_spark_connect"],
                          capture_output=True, text=True, env=env,
                          cwd=tmp_path_factory.mktemp("connect"), timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]
    marked = [line for line in done.stdout.splitlines() if line.startswith(MARK)]
    assert marked, done.stdout[-2000:]
    return dict(json.loads(marked[-1][len(MARK):]))


def _as_json(data: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(json.dumps(data, default=repr)))


def test_child_ran_a_remote_session(over_connect) -> None:
    assert over_connect["session"].startswith("pyspark.sql.connect.session.SparkSession")


def test_verification_suite_gives_the_same_results_over_connect(spark, over_connect) -> None:
    classic = _as_json(verification(spark))
    assert over_connect["verification"] == classic
    assert classic["status"] == "Error"  # the failure path: most constraints fail
    assert sum("'Failure'" in row for row in classic["checks"]) == 6
    assert sum("'Success'" in row for row in classic["checks"]) == 2


def test_analysis_runner_metrics_are_equal_over_connect_including_empty_data(spark,
                                                                             over_connect) -> None:
    assert over_connect["analysis"] == _as_json({"a": analysis(spark, ORDER_ROWS)})["a"]
    assert over_connect["analysis_empty"] == _as_json({"a": analysis(spark, [])})["a"]
    assert len(over_connect["analysis"]) == 6


def test_glue_transforms_give_the_same_rows_and_rejections_over_connect(spark,
                                                                        over_connect) -> None:
    classic = _as_json(glue_transforms(spark))
    assert over_connect["glue"] == classic
    # 'two' and 3000000000 do not fit an int: null and counted, in either session
    assert classic["map_counts"] == [[5, 2, 2]]
    assert classic["choice_counts"] == [[3, 1]]
    assert "zip" not in classic["dropped_schema"]  # null in every record: dropped
    assert "city" in classic["dropped_schema"]


MARK = "CONNECT-RESULTS "


def _main() -> int:
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.remote("local[1]")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.sql.shuffle.partitions", "2").getOrCreate())
    try:
        out = _as_json(everything(session))
        out["session"] = f"{type(session).__module__}.{type(session).__name__}"
        print(MARK + json.dumps(out), flush=True)
    finally:
        session.stop()
    return 0


if __name__ == "__main__":
    sys.exit(_main())
