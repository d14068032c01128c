"""Repositories (Deequ's JSON format), ResultKey queries, anomaly strategies and anomaly checks."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import types as T

from lakeforge.quality_gate import metrics_repository
from quality import Check, CheckLevel, CheckStatus, ConstraintStatus, VerificationSuite
from quality.analyzers import (
    AnalysisRunner,
    ApproxQuantiles,
    Completeness,
    Histogram,
    Mean,
    Size,
    Uniqueness,
)
from quality.anomaly_detection import (
    AbsoluteChangeStrategy,
    Anomaly,
    BatchNormalStrategy,
    HoltWinters,
    MetricInterval,
    OnlineNormalStrategy,
    RelativeRateOfChangeStrategy,
    SeriesSeasonality,
    SimpleThresholdStrategy,
)
from quality.repository import (
    FileSystemMetricsRepository,
    InMemoryMetricsRepository,
    ResultKey,
    analyzer_from_json,
    analyzer_to_json,
)
from tests.quality.conftest import deequ_anomalies

SCHEMA = T.StructType([T.StructField("id", T.IntegerType()), T.StructField("s", T.StringType())])


def frame(spark: Any, n: int) -> Any:
    return spark.createDataFrame([(i, None if i % 3 == 0 else f"v{i % 2}") for i in range(n)],
                                 SCHEMA)


def test_file_repository_writes_deequ_json_and_reads_it_back(spark: Any, tmp_path: Path) -> None:
    path = tmp_path / "metrics" / "repo.json"
    repo = metrics_repository(spark, str(path))
    analyzers = [Size(), Completeness("s"), Uniqueness(["id"]), Histogram("s"),
                 ApproxQuantiles("id", [0.5]), Mean("s")]  # Mean(s) fails: not stored
    key = ResultKey(spark, 1_700_000_000_000, {"table": "t"})
    AnalysisRunner(spark).onData(frame(spark, 6)).addAnalyzers(analyzers) \
        .useRepository(repo).saveOrAppendResult(key).run()

    stored = json.loads(path.read_text())
    assert stored[0]["resultKey"] == {"dataSetDate": 1_700_000_000_000, "tags": {"table": "t"}}
    entries = stored[0]["analyzerContext"]["metricMap"]
    assert entries[0] == {"analyzer": {"analyzerName": "Size"},
                          "metric": {"metricName": "DoubleMetric", "entity": "Dataset",
                                     "instance": "*", "name": "Size", "value": 6.0}}
    assert entries[2]["analyzer"] == {"analyzerName": "Uniqueness", "columns": ["id"]}
    assert entries[3]["metric"]["metricName"] == "HistogramMetric"
    assert len(entries) == 5

    again = metrics_repository(spark, str(path))
    context = again.loadByKey(key)
    assert context is not None and context.metric(Completeness("s")).value == 4 / 6
    assert context.metric(Histogram("s")).value.absolutes == {"v1": 2, "v0": 2, "NullValue": 2}
    rows = again.load().withTagValues({"table": "t"}).forAnalyzers([Size()]) \
        .getSuccessMetricsAsJson()
    assert rows == [{"entity": "Dataset", "instance": "*", "name": "Size", "value": 6.0,
                     "dataset_date": 1_700_000_000_000, "table": "t"}]
    assert again.load().withTagValues({"table": "other"}).get() == []
    frame_df = again.load().getSuccessMetricsAsDataFrame(spark)
    assert frame_df.columns == ["entity", "instance", "name", "value", "dataset_date", "table"]


def test_analyzers_deequ_cannot_read_go_to_the_lakeforge_only_file(
        spark: Any, tmp_path: Path) -> None:
    """Deequ 2.0.7's serde fails a whole load on one analyzer it has no deserializer for, and
    on a Compliance without "columns": the main file holds only what it reads; the rest is in
    metrics.lakeforge.json and read back into the same result."""
    from quality.analyzers import ColumnCount, Compliance, Kurtosis

    path = tmp_path / "metrics.json"
    repo = metrics_repository(spark, str(path))
    key = ResultKey(spark, 1000, {"table": "t"})
    analyzers = [Size(), ColumnCount(), Kurtosis("id"), Compliance("pos", "id > 0")]
    AnalysisRunner(spark).onData(frame(spark, 6)).addAnalyzers(analyzers) \
        .useRepository(repo).saveOrAppendResult(key).run()
    (main,) = json.loads(path.read_text())
    assert [e["analyzer"] for e in main["analyzerContext"]["metricMap"]] == [
        {"analyzerName": "Size"},
        {"analyzerName": "Compliance", "instance": "pos", "predicate": "id > 0", "columns": []}]
    (aside,) = json.loads((tmp_path / "metrics.lakeforge.json").read_text())
    assert aside["resultKey"] == main["resultKey"]
    assert [e["analyzer"]["analyzerName"] for e in aside["analyzerContext"]["metricMap"]] == [
        "ColumnCount", "Kurtosis"]
    context = metrics_repository(spark, str(path)).loadByKey(key)
    assert context is not None and set(context.metricMap) == set(analyzers)
    assert context.metric(ColumnCount()).value == 2.0
    # A key only the Lakeforge-only file holds (its save did not finish) is not a result.
    orphan = {**aside, "resultKey": {"dataSetDate": 2000, "tags": {}}}
    (tmp_path / "metrics.lakeforge.json").write_text(json.dumps([aside, orphan]))
    assert [r.resultKey.dataSetDate for r in repo.load().get()] == [1000]


@pytest.mark.parametrize("opener", ["site", "gates"])
def test_concurrent_saves_to_one_file_lose_nothing(tmp_path: Path, opener: str) -> None:
    """Gates of different databases save to one metrics.json at once: each save re-reads and
    retries when the file changed since its read (two threads x 30 saves: 60 results). Both
    ways the lake opens it: the site's repository and the gates' ``metrics_repository``."""
    import threading

    from lakeforge.quality_repository import FileSystemMetricsRepository as LakeRepository
    from quality.analyzers import AnalyzerContext
    from quality.metrics import metric_from_json

    path = str(tmp_path / "metrics.json")
    size = metric_from_json({"metricName": "DoubleMetric", "entity": "Dataset",
                             "instance": "*", "name": "Size", "value": 1.0})

    def save_30(table: str) -> None:
        repo = LakeRepository(None, path) if opener == "site" else metrics_repository(None, path)
        for i in range(30):
            repo.save(ResultKey(1000 + i, {"table": table}), AnalyzerContext({Size(): size}))

    threads = [threading.Thread(target=save_30, args=(t,)) for t in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stored = json.loads(Path(path).read_text())
    assert sorted((r["resultKey"]["tags"]["table"], r["resultKey"]["dataSetDate"])
                  for r in stored) == sorted((t, 1000 + i) for t in "ab" for i in range(30))


@pytest.mark.aws
def test_a_conflicting_s3_write_is_refused_and_the_save_retries(moto_endpoint: str) -> None:
    """On S3 the version is the ETag: a PUT with a stale If-Match (or If-None-Match: * on an
    object that exists now) is refused by S3 (moto too), and save() re-reads and keeps both."""
    import uuid

    from lakeforge import aws
    from lakeforge.config import AwsSettings
    from lakeforge.quality_repository import FileSystemMetricsRepository as LakeRepository
    from lakeforge.quality_repository import VersionedLakeMetricsStorage
    from quality.analyzers import AnalyzerContext
    from quality.metrics import metric_from_json

    aws.configure(AwsSettings(endpoint_url=moto_endpoint, region="us-east-1"))
    try:
        bucket = f"metrics-{uuid.uuid4().hex[:12]}"
        aws.client("s3").create_bucket(Bucket=bucket)
        uri = f"s3://{bucket}/metadata/quality/metrics.json"
        storage = VersionedLakeMetricsStorage()
        assert storage.read_versioned(uri) == (None, None)
        assert storage.write_if_unchanged(uri, "[]", None)
        assert not storage.write_if_unchanged(uri, "[1]", None)  # exists now
        text, etag = storage.read_versioned(uri)
        assert text == "[]" and storage.write_if_unchanged(uri, "[ ]", etag)
        assert not storage.write_if_unchanged(uri, "[2]", etag)  # stale ETag

        size = metric_from_json({"metricName": "DoubleMetric", "entity": "Dataset",
                                 "instance": "*", "name": "Size", "value": 1.0})

        class InterleavedStorage(VersionedLakeMetricsStorage):
            """Another writer saves between this storage's first read and its write."""
            interleaved = False

            def write_if_unchanged(self, path: str, text: str, version: object) -> bool:
                if not self.interleaved:
                    self.interleaved = True
                    LakeRepository(None, uri).save(ResultKey(1, {"t": "other"}),
                                                   AnalyzerContext({Size(): size}))
                return super().write_if_unchanged(path, text, version)

        LakeRepository(None, uri, storage=InterleavedStorage()).save(
            ResultKey(2, {"t": "mine"}), AnalyzerContext({Size(): size}))
        stored = json.loads(storage.read_text(uri) or "[]")
        assert sorted(r["resultKey"]["dataSetDate"] for r in stored) == [1, 2]
    finally:
        aws.configure(None)


def test_histogram_sum_is_stored_in_deequs_form_and_both_forms_are_read() -> None:
    """Deequ's AnalysisResultSerde writes a Histogram's aggregate function as two strings
    (``aggregateFunction``, ``aggregateColumn``; absent for the default Count) and reads only
    that; files written before in the object form still read."""
    summed = Histogram("status", aggregateFunction=Histogram.Sum("amount"))
    assert analyzer_to_json(summed) == {"analyzerName": "Histogram", "column": "status",
                                        "maxDetailBins": 1000, "aggregateFunction": "sum",
                                        "aggregateColumn": "amount"}
    assert analyzer_to_json(Histogram("status")) == {"analyzerName": "Histogram",
                                                     "column": "status", "maxDetailBins": 1000}
    deequ_form = {"analyzerName": "Histogram", "column": "status", "maxDetailBins": 1000,
                  "aggregateFunction": "sum", "aggregateColumn": "amount"}
    old_form = {"analyzerName": "Histogram", "column": "status", "maxDetailBins": 1000,
                "aggregateFunction": {"function": "sum", "column": "amount"}}
    count_form = {"analyzerName": "Histogram", "column": "status", "maxDetailBins": 1000,
                  "aggregateFunction": "count", "aggregateColumn": ""}
    assert analyzer_from_json(deequ_form) == summed
    assert analyzer_from_json(old_form) == summed
    assert analyzer_from_json(count_form) == Histogram("status")
    with pytest.raises(ValueError, match="Histogram aggregateFunction 'avg'"):
        analyzer_from_json({**deequ_form, "aggregateFunction": "avg"})
    with pytest.raises(ValueError, match="aggregateColumn None"):
        analyzer_from_json({**deequ_form, "aggregateColumn": None})


def test_an_unreadable_entry_is_skipped_with_a_warning_and_kept_on_save(
        spark: Any, tmp_path: Path, caplog: Any) -> None:
    """One entry this version cannot read (an analyzer it does not know, a result without a
    key) must not make the whole repository unreadable; a save keeps it as written."""
    size = {"analyzer": {"analyzerName": "Size"},
            "metric": {"metricName": "DoubleMetric", "entity": "Dataset", "instance": "*",
                       "name": "Size", "value": 3.0}}
    unknown = {"analyzer": {"analyzerName": "FutureAnalyzer", "column": "s"},
               "metric": {"metricName": "DoubleMetric", "entity": "Column", "instance": "s",
                          "name": "Future", "value": 1.0}}
    no_key = {"analyzerContext": {"metricMap": [size]}}
    stored = [{"resultKey": {"dataSetDate": 1000, "tags": {}},
               "analyzerContext": {"metricMap": [size, unknown]}}, no_key]
    path = tmp_path / "repo.json"
    path.write_text(json.dumps(stored))
    repo = metrics_repository(spark, str(path))
    with caplog.at_level("WARNING", logger="quality.repository"):
        results = repo.load().get()
    assert [(r.resultKey.dataSetDate, r.analyzerContext.metric(Size()).value)
            for r in results] == [(1000, 3.0)]
    assert len(results[0].analyzerContext.metricMap) == 1
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2
    assert f"metrics repository {path}" in warnings[0] and "FutureAnalyzer" in warnings[0]
    assert "result 1 skipped" in warnings[1] and "resultKey" in warnings[1]

    AnalysisRunner(spark).onData(frame(spark, 2)).addAnalyzer(Size()) \
        .useRepository(repo).saveOrAppendResult(ResultKey(spark, 2000, {})).run()
    rewritten = json.loads(path.read_text())
    assert rewritten[:2] == stored  # the unreadable entries, as written
    assert [r.resultKey.dataSetDate for r in repo.load().get()] == [1000, 2000]


def test_a_repository_file_that_is_not_a_list_is_refused_with_its_path(
        spark: Any, tmp_path: Path) -> None:
    path = tmp_path / "object.json"
    path.write_text('{"resultKey": {}}')
    with pytest.raises(ValueError, match=f"metrics repository {path}: expected a JSON list"):
        metrics_repository(spark, str(path)).load().get()


def test_repository_rejects_corrupt_file(spark: Any, tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        metrics_repository(spark, str(path)).load().get()


def test_file_repository_without_storage_is_refused_with_the_helper_named(spark: Any) -> None:
    with pytest.raises(ValueError, match="metrics_repository"):
        FileSystemMetricsRepository(spark, "/tmp/never-written.json")


def test_in_memory_repository_after_before(spark: Any) -> None:
    repo = InMemoryMetricsRepository(spark)
    for day, n in ((1, 3), (2, 4), (3, 5)):
        AnalysisRunner(spark).onData(frame(spark, n)).addAnalyzer(Size()).useRepository(repo) \
            .saveOrAppendResult(ResultKey(day * 1000, {})).run()
    sizes = [r["value"] for r in repo.load().after(2000).getSuccessMetricsAsJson()]
    assert sizes == [4.0, 5.0]
    assert [r["value"] for r in repo.load().before(1500).getSuccessMetricsAsJson()] == [3.0]


def test_anomaly_check_uses_history(spark: Any) -> None:
    repo = InMemoryMetricsRepository(spark)
    for day, n in enumerate((10, 11, 10, 12)):
        AnalysisRunner(spark).onData(frame(spark, n)).addAnalyzer(Size()).useRepository(repo) \
            .saveOrAppendResult(ResultKey(day, {"t": "x"})).run()
    strategy = RelativeRateOfChangeStrategy(maxRateIncrease=1.5)
    ok = (VerificationSuite(spark).onData(frame(spark, 13)).useRepository(repo)
          .addAnomalyCheck(strategy, Size()).saveOrAppendResult(ResultKey(10, {"t": "x"})).run())
    assert ok.status == CheckStatus.Success
    bad = (VerificationSuite(spark).onData(frame(spark, 40)).useRepository(repo)
           .addAnomalyCheck(strategy, Size()).run())
    assert bad.status == CheckStatus.Warning
    (check_result,) = bad.checkResults.values()
    assert check_result.check.description == "Anomaly check for Size(None)"
    (cr,) = check_result.constraintResults
    assert str(cr.constraint) == "AnomalyConstraint(Size(None))"
    assert cr.message == "Value: 40.0 does not meet the constraint requirement!"


def test_anomaly_check_without_history_fails(spark: Any) -> None:
    repo = InMemoryMetricsRepository(spark)
    result = (VerificationSuite(spark).onData(frame(spark, 3)).useRepository(repo)
              .addAnomalyCheck(AbsoluteChangeStrategy(-1, 1), Size()).run())
    (cr,) = next(iter(result.checkResults.values())).constraintResults
    assert cr.status == ConstraintStatus.Failure
    assert cr.message == ("Can't execute the assertion: requirement failed: There have to be "
                          "previous results in the MetricsRepository!!")
    with pytest.raises(ValueError, match="useRepository"):
        VerificationSuite(spark).onData(frame(spark, 3)).addAnomalyCheck(
            AbsoluteChangeStrategy(-1, 1), Size())


def test_simple_threshold() -> None:
    found = SimpleThresholdStrategy(upperBound=1.0).detect([-1.0, 2.0, 0.5, 3.0])
    assert [i for i, _ in found] == [1, 3]
    assert found[0][1] == Anomaly(2.0, 1.0, "[SimpleThresholdStrategy]: Value 2.0 is not in "
                                  "bounds [-1.7976931348623157E308, 1.0]")  # Double.MinValue
    assert SimpleThresholdStrategy(-1, 1).detect([5.0, 5.0], (1, 2))[0][0] == 1
    with pytest.raises(ValueError, match="lower bound must be smaller"):
        SimpleThresholdStrategy(2.0, 1.0)


def test_absolute_and_relative_change() -> None:
    series = [1.0, 2.0, 3.0, 10.0, 11.0]
    assert [i for i, _ in AbsoluteChangeStrategy(-2.0, 2.0).detect(series)] == [3]
    assert [i for i, _ in AbsoluteChangeStrategy(-2.0, 2.0, order=2).detect(series)] == [3, 4]
    assert [i for i, _ in AbsoluteChangeStrategy(-2.0, 2.0).detect(series, (4, 5))] == []
    assert [i for i, _ in RelativeRateOfChangeStrategy(0.5, 2.0).detect(series)] == [3]
    assert [i for i, _ in RelativeRateOfChangeStrategy(maxRateDecrease=0.9).detect(
        [10.0, 5.0, 5.0])] == [1]
    with pytest.raises(ValueError, match="At least one of the two limits"):
        AbsoluteChangeStrategy()
    with pytest.raises(ValueError, match="maximal rate of increase"):
        AbsoluteChangeStrategy(3.0, 1.0)
    with pytest.raises(ValueError, match="cannot be negative"):
        RelativeRateOfChangeStrategy(0.5, 2.0, order=-1)
    with pytest.raises(ValueError, match="start of the interval"):
        AbsoluteChangeStrategy(-1.0, 1.0).detect(series, (3, 1))


def test_online_and_batch_normal() -> None:
    # Deequ's online strategy folds the current value into mean and variance before testing it,
    # so an outlier needs enough history to stand out by 3 standard deviations.
    series = [10.0 + (0.5 if i % 2 else -0.5) for i in range(30)] + [100.0, 10.0]
    online = OnlineNormalStrategy(ignoreStartPercentage=0.2).detect(series)
    assert [i for i, _ in online] == [30]
    assert OnlineNormalStrategy().detect(series, (31, 32)) == []
    batch = BatchNormalStrategy().detect(series, (30, 32))
    assert [i for i, _ in batch] == [30]
    assert BatchNormalStrategy(includeInterval=True).detect([1.0, 1.0, 1.0], (2, 3)) == []
    with pytest.raises(ValueError, match="smaller than zero"):
        OnlineNormalStrategy(lowerDeviationFactor=-1.0)
    with pytest.raises(ValueError, match="interval \\[0, 1\\]"):
        OnlineNormalStrategy(ignoreStartPercentage=2.0)
    with pytest.raises(ValueError, match="not enough data points"):
        BatchNormalStrategy().detect([1.0, 2.0], (0, 2))


SPIKE = [1.0, 1.1, 0.9, 1.0, 1.1, 0.9, 1.0, 1.0, 1.1, 0.9, 1.0, 1.05, 2.0]


def test_online_normal_detail_matches_deequ() -> None:
    """Deequ prints the bounds of the stored result: the mean rolled back to the last one
    (ignoreAnomalies) and the standard deviation that included the anomaly."""
    ((index, anomaly),) = OnlineNormalStrategy(ignoreStartPercentage=0.0).detect(SPIKE, (12, 13))
    assert index == 12 and anomaly.value == 2.0
    # Real Deequ 2.0.7's text (test_online_normal_anomalies_and_details_equal_real_deequs).
    assert anomaly.detail == ("[OnlineNormalStrategy]: Value 2.0 is not in bounds "
                              "[0.1814492757447025, 1.826884057588631].")


@pytest.mark.jars
@pytest.mark.parametrize("kwargs, series, interval", [
    ({"ignoreStartPercentage": 0.0}, SPIKE, (12, 13)),
    ({"ignoreStartPercentage": 0.0, "ignoreAnomalies": False}, SPIKE, (0, 13)),
    ({"ignoreStartPercentage": 0.1}, SPIKE + [0.2, 1.0, 3.5], (0, 16)),
    ({"lowerDeviationFactor": None, "upperDeviationFactor": 1.5}, SPIKE + [-5.0], (0, 14)),
    ({"lowerDeviationFactor": 2.0, "upperDeviationFactor": None}, [3.0] * 9 + [-20.0],
     (0, 10)),
])
def test_online_normal_anomalies_and_details_equal_real_deequs(
        deequ: Any, kwargs: dict[str, Any], series: list[float],
        interval: tuple[int, int]) -> None:
    jvm = deequ.sparkContext._jvm
    options = {"lowerDeviationFactor": 3.0, "upperDeviationFactor": 3.0,
               "ignoreStartPercentage": 0.1, "ignoreAnomalies": True, **kwargs}
    real = jvm.com.amazon.deequ.anomalydetection.OnlineNormalStrategy(
        jvm.scala.Option.apply(options["lowerDeviationFactor"]),
        jvm.scala.Option.apply(options["upperDeviationFactor"]),
        float(options["ignoreStartPercentage"]), options["ignoreAnomalies"])
    expected = [(i, d) for i, _v, d in deequ_anomalies(jvm, real, series, interval)]
    ours = OnlineNormalStrategy(**options).detect(series, interval)
    assert [(i, a.detail) for i, a in ours] == expected
    assert expected  # every case has an anomaly to print


@pytest.mark.jars
@pytest.mark.parametrize("kwargs, series, interval", [
    ({}, SPIKE, (12, 13)),
    ({"includeInterval": True}, SPIKE + [9.0], (12, 14)),
    # a missing factor is Double.MaxValue: with a constant history that bound is the mean
    ({"lowerDeviationFactor": None}, [3.0] * 8 + [2.0, 3.5], (8, 10)),
    ({"upperDeviationFactor": None}, [3.0] * 8 + [2.0, 3.5], (8, 10)),
    ({"upperDeviationFactor": None}, [1.0, 5.0, 9.0, -40.0, 40.0], (3, 5)),
])
def test_batch_normal_anomalies_and_details_equal_real_deequs(
        deequ: Any, kwargs: dict[str, Any], series: list[float],
        interval: tuple[int, int]) -> None:
    jvm = deequ.sparkContext._jvm
    options = {"lowerDeviationFactor": 3.0, "upperDeviationFactor": 3.0,
               "includeInterval": False, **kwargs}
    real = jvm.com.amazon.deequ.anomalydetection.BatchNormalStrategy(
        jvm.scala.Option.apply(options["lowerDeviationFactor"]),
        jvm.scala.Option.apply(options["upperDeviationFactor"]), options["includeInterval"])
    expected = [(i, d) for i, _v, d in deequ_anomalies(jvm, real, series, interval)]
    ours = BatchNormalStrategy(**options).detect(series, interval)
    assert [(i, a.detail) for i, a in ours] == expected
    assert expected  # every case has an anomaly to print


def test_holt_winters_flags_a_break_in_a_weekly_pattern() -> None:
    week = [100.0, 120.0, 130.0, 125.0, 140.0, 60.0, 50.0]
    history = [v + 0.5 * i for i, v in enumerate(week * 4)]
    normal = history + [week[0] + 14.0]
    strategy = HoltWinters(MetricInterval.Daily, SeriesSeasonality.Weekly)
    assert strategy.detect(normal, (28, 29)) == []
    broken = history + [400.0]
    (found,) = strategy.detect(broken, (28, 29))
    assert found[0] == 28 and found[1].value == 400.0 and not math.isnan(found[1].confidence)
    with pytest.raises(ValueError, match="two full cycles"):
        strategy.detect(history[:10] + [1.0], (10, 11))


def test_failing_check_result_is_error_level(spark: Any) -> None:
    check = Check(spark, CheckLevel.Error, "e").hasSize(lambda n: n > 100)
    result = VerificationSuite(spark).onData(frame(spark, 3)).addCheck(check).run()
    assert result.status == CheckStatus.Error


def test_a_save_moves_aside_what_deequ_cannot_read_of_earlier_results(tmp_path: Path) -> None:
    """A file written before the Lakeforge-only file existed: its Kurtosis entry goes aside
    and its Compliance (no ``columns``) is rewritten on the next save of another key; an entry
    of an analyzer this version does not know stays as written (another writer's); a result
    Deequ reads as it is stays as it was; a second save has nothing to move."""
    from quality.analyzers import AnalyzerContext, Compliance, Kurtosis
    from quality.metrics import metric_from_json
    from quality.repository import is_deequ_readable

    def entry(analyzer: dict[str, Any], name: str, instance: str, value: float) -> dict[str, Any]:
        return {"analyzer": analyzer, "metric": {
            "metricName": "DoubleMetric", "entity": "Column" if instance != "*" else "Dataset",
            "instance": instance, "name": name, "value": value}}

    old = {"resultKey": {"dataSetDate": 1000, "tags": {"t": "old"}}, "analyzerContext": {
        "metricMap": [entry({"analyzerName": "Size"}, "Size", "*", 4.0),
                      entry({"analyzerName": "Kurtosis", "column": "c"}, "Kurtosis", "c", -1.5),
                      entry({"analyzerName": "Compliance", "instance": "pos",
                             "predicate": "b > 1"}, "Compliance", "pos", 0.5),
                      entry({"analyzerName": "FutureThing", "column": "c"}, "FutureThing", "c",
                            1.0)]}}
    deequs = {"resultKey": {"dataSetDate": 500, "tags": {}}, "analyzerContext": {
        "metricMap": [entry({"analyzerName": "Size"}, "Size", "*", 3.0)]}}
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps([deequs, old]))
    repo = metrics_repository(None, str(path))
    metric = metric_from_json(entry({}, "Size", "*", 7.0)["metric"])
    repo.save(ResultKey(2000, {"t": "new"}), AnalyzerContext({Size(): metric}))

    stored = json.loads(path.read_text())
    assert stored[0] == deequs
    (migrated,) = [r for r in stored if r["resultKey"]["dataSetDate"] == 1000]
    assert [e["analyzer"] for e in migrated["analyzerContext"]["metricMap"]] == [
        {"analyzerName": "Size"},
        {"analyzerName": "Compliance", "instance": "pos", "predicate": "b > 1", "columns": []},
        {"analyzerName": "FutureThing", "column": "c"}]
    assert [is_deequ_readable(e) for r in stored for e in r["analyzerContext"]["metricMap"]
            ].count(False) == 1
    aside = json.loads((tmp_path / "metrics.lakeforge.json").read_text())
    assert [(r["resultKey"]["dataSetDate"], [e["analyzer"]["analyzerName"]
                                              for e in r["analyzerContext"]["metricMap"]])
            for r in aside] == [(1000, ["Kurtosis"])]
    context = repo.loadByKey(ResultKey(1000, {"t": "old"}))
    assert context is not None
    assert set(context.metricMap) == {Size(), Kurtosis("c"), Compliance("pos", "b > 1")}
    assert context.metric(Kurtosis("c")).value == -1.5
    before = (path.read_text(), (tmp_path / "metrics.lakeforge.json").read_text())
    repo.save(ResultKey(2000, {"t": "new"}), AnalyzerContext({Size(): metric}))
    assert (path.read_text(), (tmp_path / "metrics.lakeforge.json").read_text()) == before
