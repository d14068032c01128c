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
     .addAnalyzer(A.Sum("b"))
     .useRepository(ours).saveOrAppendResult(ResultKey(spark, 1000, {"tag": "lakeforge"}))
     .run())
    deequ_repo = pr.FileSystemMetricsRepository(spark, path)
    assert _rows(deequ_repo.load().getSuccessMetricsAsJson()) == \
        _rows(ours.load().getSuccessMetricsAsJson())

    # Deequ appends its own run to Lakeforge's file; Lakeforge then sees both.
    (pa.AnalysisRunner(spark).onData(df).addAnalyzer(pa.Size())
     .useRepository(deequ_repo).saveOrAppendResult(pr.ResultKey(spark, 2000, {"tag": "deequ"}))
     .run())
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
