"""Metrics files shared with real Deequ (jar set ``deequ``, through PyDeequ): a file written by
Deequ's FileSystemMetricsRepository is read by Lakeforge's, a file written by Lakeforge's is
read (and appended to) by Deequ's, and both see the same metrics."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import types as T

from lakeforge.quality_repository import FileSystemMetricsRepository, ResultKey
from quality import analyzers as A

pytestmark = pytest.mark.jars

SCHEMA = T.StructType([T.StructField("a", T.StringType()), T.StructField("b", T.IntegerType()),
                       T.StructField("c", T.DoubleType())])
ROWS = [("foo", 1, 5.0), ("bar", 2, 6.0), ("baz", 3, None), (None, 3, -1.5)]


@pytest.fixture(scope="module")
def pydeequ(deequ: Any) -> Any:
    import pydeequ.analyzers
    import pydeequ.repository

    return pydeequ


def _deequ_sum_histogram(pydeequ: Any, column: str, summed: str) -> Any:
    """Deequ's ``Histogram(column, aggregateFunction = Histogram.Sum(summed))``: PyDeequ's
    Histogram has no aggregateFunction, so the Scala analyzer is built here."""
    pa = pydeequ.analyzers

    class SumHistogram(pa.Histogram):  # type: ignore[misc, name-defined]
        @property
        def _analyzer_jvm(self) -> Any:
            scala = self._jvm.com.amazon.deequ.analyzers.Histogram
            summing = getattr(self._jvm.com.amazon.deequ.analyzers, "Histogram$Sum")(summed)
            return self._deequAnalyzers.Histogram(
                self.column, self._jvm.scala.Option.apply(None),
                getattr(scala, "apply$default$3")(), self._jvm.scala.Option.apply(None),
                getattr(scala, "apply$default$5")(), summing)

    return SumHistogram(column)


def _rows(metrics: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    out = []
    for m in metrics:
        value = m["value"]
        value = "NaN" if isinstance(value, float) and math.isnan(value) else round(value, 12)
        out.append((m["entity"], m["instance"], m["name"], value, int(m["dataset_date"]),
                    m.get("tag")))
    return sorted(out)


def test_lakeforge_reads_a_file_deequ_wrote(spark: Any, pydeequ: Any, tmp_path: Path) -> None:
    pa, pr = pydeequ.analyzers, pydeequ.repository
    df = spark.createDataFrame(ROWS, SCHEMA)
    path = str(tmp_path / "deequ_metrics.json")
    deequ_repo = pr.FileSystemMetricsRepository(spark, path)
    key = pr.ResultKey(spark, 1_700_000_000_000, {"tag": "from deequ"})
    (pa.AnalysisRunner(spark).onData(df)
     .addAnalyzer(pa.Size()).addAnalyzer(pa.Completeness("a")).addAnalyzer(pa.Mean("c"))
     .addAnalyzer(pa.Maximum("b")).addAnalyzer(pa.Uniqueness(["b"]))
     .addAnalyzer(pa.ApproxCountDistinct("a")).addAnalyzer(pa.Histogram("a"))
     .addAnalyzer(pa.Compliance("positive c", "c > 0"))
     .addAnalyzer(_deequ_sum_histogram(pydeequ, "a", "b"))
     .useRepository(deequ_repo).saveOrAppendResult(key).run())
    deequ_view = deequ_repo.load().getSuccessMetricsAsJson()

    ours = FileSystemMetricsRepository(spark, path)
    our_view = ours.load().getSuccessMetricsAsJson()
    assert _rows(our_view) == _rows(deequ_view)
    names = {r[2] for r in _rows(our_view)}
    assert {"Size", "Completeness", "Mean", "Maximum", "Uniqueness", "ApproxCountDistinct",
            "Compliance", "Histogram.bins", "Histogram.abs.foo"} <= names
    # Lakeforge's analyzers find Deequ's entries (the analyzer JSON is the key).
    context = ours.loadByKey(ResultKey(spark, 1_700_000_000_000, {"tag": "from deequ"}))
    assert context is not None
    assert context.metricMap[A.Completeness("a")].value == 0.75
    assert context.metricMap[A.Mean("c")].value == pytest.approx(9.5 / 3)
    only_max = ours.load().forAnalyzers([A.Maximum("b")]).getSuccessMetricsAsJson()
    assert [(m["name"], m["value"]) for m in only_max] == [("Maximum", 3.0)]
    # Deequ's Histogram with Histogram.Sum ("aggregateFunction": "sum", "aggregateColumn": "b")
    summed = context.metricMap[A.Histogram("a", aggregateFunction=A.Histogram.Sum("b"))]
    assert summed.value.absolutes == {"foo": 1, "bar": 2, "baz": 3, "NullValue": 3}
    assert context.metricMap[A.Histogram("a")].value.absolutes == {
        "foo": 1, "bar": 1, "baz": 1, "NullValue": 1}


def test_deequ_reads_and_appends_to_a_file_lakeforge_wrote(spark: Any, pydeequ: Any,
                                                           tmp_path: Path) -> None:
    from quality.analyzers import AnalysisRunner

    pa, pr = pydeequ.analyzers, pydeequ.repository
    df = spark.createDataFrame(ROWS, SCHEMA)
    path = str(tmp_path / "lakeforge_metrics.json")
    ours = FileSystemMetricsRepository(spark, path)
    (AnalysisRunner(spark).onData(df)
     .addAnalyzer(A.Size()).addAnalyzer(A.Completeness("c")).addAnalyzer(A.Minimum("c"))
     .addAnalyzer(A.Distinctness(["b"])).addAnalyzer(A.Histogram("b"))
     .addAnalyzer(A.Sum("b")).addAnalyzer(A.Histogram("a", aggregateFunction=A.Histogram.Sum("b")))
     .useRepository(ours).saveOrAppendResult(ResultKey(spark, 1000, {"tag": "lakeforge"}))
     .run())
    deequ_repo = pr.FileSystemMetricsRepository(spark, path)
    assert _rows(deequ_repo.load().getSuccessMetricsAsJson()) == \
        _rows(ours.load().getSuccessMetricsAsJson())
    # Deequ finds the Histogram.Sum entry by its own analyzer (the analyzer JSON is the key).
    deequ_summed = deequ_repo.load().forAnalyzers(
        [_deequ_sum_histogram(pydeequ, "a", "b")]).getSuccessMetricsAsJson()
    assert sorted((m["name"], m["value"]) for m in deequ_summed
                  if m["name"].startswith("Histogram.abs")) == [
        ("Histogram.abs.NullValue", 3.0), ("Histogram.abs.bar", 2.0),
        ("Histogram.abs.baz", 3.0), ("Histogram.abs.foo", 1.0)]

    # Deequ appends its own run to Lakeforge's file; Lakeforge then sees both.
    (pa.AnalysisRunner(spark).onData(df).addAnalyzer(pa.Size())
     .useRepository(deequ_repo).saveOrAppendResult(pr.ResultKey(spark, 2000, {"tag": "deequ"}))
     .run())
    summed = A.Histogram("a", aggregateFunction=A.Histogram.Sum("b"))  # through Deequ's rewrite
    context = ours.loadByKey(ResultKey(spark, 1000, {"tag": "lakeforge"}))
    assert context is not None
    assert context.metricMap[summed].value.absolutes == {"foo": 1, "bar": 2, "baz": 3,
                                                         "NullValue": 3}
    both = ours.load().getSuccessMetricsAsJson()
    assert sorted({(m["dataset_date"], m["tag"]) for m in both}) == [(1000, "lakeforge"),
                                                                     (2000, "deequ")]
    assert [m["value"] for m in ours.load().after(1500).forAnalyzers([A.Size()])
            .getSuccessMetricsAsJson()] == [4.0]


def test_a_broken_file_fails_with_its_path(spark: Any, tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("[{not json")
    with pytest.raises(ValueError, match=f"metrics repository {path} is not valid JSON"):
        FileSystemMetricsRepository(spark, str(path)).load().getSuccessMetricsAsJson()
