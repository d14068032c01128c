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


OPTIONS = A.AnalyzerOptions(A.NullBehavior.Fail, A.FilteredRowOutcome.NULL)
#: Every analyzer Lakeforge can store (a Histogram with a binningUdf cannot, as in Deequ).
EVERY_STORED_ANALYZER = [
    A.Size(), A.Size("b > 1"), A.ColumnCount(), A.Completeness("a"),
    A.Completeness("a", "b > 1", OPTIONS), A.Compliance("positive c", "c > 0"),
    A.Compliance("positive c", "c > 0", "b > 1", ["c"], OPTIONS), A.PatternMatch("a", r"^b"),
    A.PatternMatch("a", r"^b", "b > 1", OPTIONS), A.Mean("c"), A.Mean("c", "b > 1"), A.Sum("b"),
    A.StandardDeviation("c"), A.Variance("c"), A.Skewness("c"), A.Kurtosis("c"),
    A.ApproxCountDistinct("a"), A.ZerosCount("b"), A.Minimum("c"), A.Maximum("c", "b > 1", OPTIONS),
    A.MinLength("a"), A.MaxLength("a", None, OPTIONS), A.Range("c"), A.InterquartileRange("c"),
    A.ExactQuantile("c", 0.5), A.ApproxQuantile("c", 0.5), A.ApproxQuantiles("c", [0.25, 0.75]),
    A.Correlation("b", "c"), A.DataType("a"), A.Uniqueness(["a"]),
    A.Uniqueness(["a", "b"], "b > 1", OPTIONS), A.Distinctness(["b"]), A.UniqueValueRatio(["b"]),
    A.CountDistinct(["b"]), A.DuplicateRowCount(["b"]), A.Entropy("a"),
    A.MutualInformation(["a", "b"]), A.Histogram("a"),
    A.Histogram("a", aggregateFunction=A.Histogram.Sum("b")), A.HistogramBinned("c", binCount=3)]
#: What Deequ 2.0.7's own serializer leaves out when it writes an entry back: analyzerOptions
#: everywhere, and the where of Uniqueness (Deequ loses them on its rewrite, not on reading).
DEEQU_DROPS = {"analyzerOptions"}


def test_deequ_loads_every_analyzer_lakeforge_stores(spark: Any, pydeequ: Any,
                                                      tmp_path: Path) -> None:
    """Deequ 2.0.7's AnalysisResultSerde reads every entry of the file (one entry it cannot
    read fails its load() of the whole file); the metrics of analyzers it has no serde for are
    in the Lakeforge-only file beside it, and Lakeforge reads every metric back."""
    import json

    from quality.analyzers import AnalysisRunner
    from quality.repository import DEEQU_SERDE_ANALYZERS

    pr = pydeequ.repository
    df = spark.createDataFrame(ROWS, SCHEMA)
    path = tmp_path / "every.json"
    ours = FileSystemMetricsRepository(spark, str(path))
    key = ResultKey(spark, 1000, {"tag": "every"})
    context = (AnalysisRunner(spark).onData(df).addAnalyzers(EVERY_STORED_ANALYZER)
               .useRepository(ours).saveOrAppendResult(key).run())
    failed = [a for a, m in context.metricMap.items() if not m.is_success]
    assert failed == []

    stored = json.loads(path.read_text())[0]["analyzerContext"]["metricMap"]
    names = {e["analyzer"]["analyzerName"] for e in stored}
    assert names <= DEEQU_SERDE_ANALYZERS
    aside = json.loads((tmp_path / "every.lakeforge.json").read_text())
    assert {e["analyzer"]["analyzerName"] for e in aside[0]["analyzerContext"]["metricMap"]} == {
        "ColumnCount", "Variance", "Skewness", "Kurtosis", "ZerosCount", "Range",
        "InterquartileRange", "DuplicateRowCount", "HistogramBinned"}
    assert len(stored) + len(aside[0]["analyzerContext"]["metricMap"]) == len(
        EVERY_STORED_ANALYZER)

    # Deequ's own serde reads each entry as written (its rewrite equals ours but for what
    # Deequ's serializer never writes).
    serde = spark.sparkContext._jvm.com.amazon.deequ.repository.AnalysisResultSerde
    (reread,) = json.loads(serde.serialize(serde.deserialize(path.read_text())))
    deequ_entries = {json.dumps(e["analyzer"], sort_keys=True)
                     for e in reread["analyzerContext"]["metricMap"]}
    for entry in stored:
        expected = {k: v for k, v in entry["analyzer"].items() if k not in DEEQU_DROPS}
        if expected["analyzerName"] == "Uniqueness":
            expected.pop("where", None)
        assert json.dumps(expected, sort_keys=True) in deequ_entries

    deequ_view = pr.FileSystemMetricsRepository(spark, str(path)).load() \
        .getSuccessMetricsAsJson()
    our_view = ours.load().getSuccessMetricsAsJson()
    # Deequ's loader names a filtered analyzer's metric "Size (where: b > 1)"; Lakeforge's
    # repository loader "Size" (a difference of the views, not of the file).
    deequ_rows = [(e, i, n.split(" (where: ")[0], *rest) for e, i, n, *rest in _rows(deequ_view)]
    assert deequ_rows and set(deequ_rows) <= set(_rows(our_view))
    only_ours = {r[2] for r in _rows(our_view)} - {r[2] for r in deequ_rows}
    assert {n for n in only_ours if not n.startswith("Histogram.")} == {
        "ColumnCount", "Variance", "Skewness", "Kurtosis", "ZerosCount", "Range",
        "InterquartileRange", "DuplicateRowCount"}
    assert "Histogram.abs.[3.5, 6.0]" in only_ours  # HistogramBinned's bins
    loaded = ours.loadByKey(key)
    assert loaded is not None and set(loaded.metricMap) == set(EVERY_STORED_ANALYZER)


def test_a_save_moves_aside_what_deequ_cannot_read_in_a_file_written_before(
        spark: Any, pydeequ: Any, tmp_path: Path) -> None:
    """A file Lakeforge wrote before the Lakeforge-only file existed (every metric in it, a
    Compliance without ``columns``) fails Deequ's load() whole; the next save moves those
    entries aside (and rewrites the Compliance), then Deequ loads the file and Lakeforge still
    reads every metric of the earlier result."""
    import json

    from quality.analyzers import AnalysisRunner
    from quality.repository import AnalysisResult, results_to_json

    df = spark.createDataFrame(ROWS, SCHEMA)
    analyzers = [A.Size(), A.Kurtosis("c"), A.Compliance("pos", "b > 1")]
    old_key = ResultKey(spark, 1000, {"tag": "old"})
    context = AnalysisRunner(spark).onData(df).addAnalyzers(analyzers).run()
    (item,) = results_to_json([AnalysisResult(old_key, context)])
    for entry in item["analyzerContext"]["metricMap"]:
        entry["analyzer"].pop("columns", None)  # as Lakeforge wrote Compliance before
    path = tmp_path / "old.json"
    path.write_text(json.dumps([item]))
    deequ_repo = pydeequ.repository.FileSystemMetricsRepository(spark, str(path))
    with pytest.raises(Exception):  # noqa: B017 - py4j's error: Deequ's serde refuses the file
        deequ_repo.load().getSuccessMetricsAsJson()

    ours = FileSystemMetricsRepository(spark, str(path))
    AnalysisRunner(spark).onData(df).addAnalyzer(A.Size()).useRepository(ours) \
        .saveOrAppendResult(ResultKey(spark, 2000, {"tag": "new"})).run()
    assert sorted({(int(m["dataset_date"]), m["name"])
                   for m in deequ_repo.load().getSuccessMetricsAsJson()}) == [
        (1000, "Compliance"), (1000, "Size"), (2000, "Size")]
    again = ours.loadByKey(old_key)
    assert again is not None and set(again.metricMap) == set(analyzers)
    assert again.metric(A.Kurtosis("c")).value == context.metric(A.Kurtosis("c")).value
