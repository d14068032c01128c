"""Metrics repositories: ``InMemoryMetricsRepository`` and ``FileSystemMetricsRepository``.

The file repository writes Deequ's JSON format (``AnalysisResultSerde``): a list of
``{"resultKey": {"dataSetDate": <ms>, "tags": {...}}, "analyzerContext": {"metricMap": [
{"analyzer": {"analyzerName": "Completeness", "column": "a"}, "metric": {"metricName":
"DoubleMetric", "entity": "Column", "instance": "a", "name": "Completeness", "value": 1.0}}]}}``,
so a repository written by Deequ can be read here and the other way round. The file holds only
analyzers Deequ 2.0.7's ``AnalyzerDeserializer`` reads (:data:`DEEQU_SERDE_ANALYZERS`: one entry
it cannot read makes Deequ's ``load()`` fail for the whole file); the metrics of the others
(ColumnCount, Variance, Skewness, Kurtosis, ZerosCount, Range, InterquartileRange,
DuplicateRowCount, HistogramBinned) go to a Lakeforge-only file next to it
(:func:`lakeforge_only_path`: ``metrics.json`` -> ``metrics.lakeforge.json``, same format), which
Deequ never opens and which Lakeforge reads back into the same results. The files are read and
written through a :class:`MetricsStorage` the caller passes in (quality/ writes no files);
``lakeforge.quality_gate.metrics_repository`` gives one for local paths and ``s3://`` URIs.

Example::

    repo = metrics_repository(spark, "/lake/metadata/quality/orders.json")
    key = ResultKey(spark, ResultKey.current_milli_time(), {"table": "orders"})
    VerificationSuite(spark).onData(df).addCheck(check).useRepository(repo) \\
        .saveOrAppendResult(key).run()
    repo.load().withTagValues({"table": "orders"}).getSuccessMetricsAsJson()
"""

from __future__ import annotations

import json
import logging
import os
import random
import tempfile
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from lakeforge.errors import LakeforgeError
from quality import analyzers as A
from quality.analyzers import Analyzer, AnalyzerContext
from quality.metrics import iter_flat_success, metric_from_json

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)


class ResultKey:
    """When (``dataSetDate``, epoch milliseconds) and for what (``tags``) metrics were computed.

    ``ResultKey(spark, date, tags)`` (PyDeequ) and ``ResultKey(date, tags)`` (Deequ) both work;
    the date defaults to now.
    """

    def __init__(self, *args: Any, dataSetDate: int | None = None,
                 tags: Mapping[str, str] | None = None) -> None:
        rest = list(args)
        if rest and not isinstance(rest[0], (int, float)) and rest[0] is not None \
                and not isinstance(rest[0], Mapping):
            rest.pop(0)  # the SparkSession of PyDeequ's signature
        if rest:
            dataSetDate = rest.pop(0) if dataSetDate is None else dataSetDate
        if rest:
            tags = rest.pop(0) if tags is None else tags
        self.dataSetDate = int(dataSetDate if dataSetDate is not None else
                               ResultKey.current_milli_time())
        self.tags: dict[str, str] = {str(k): str(v) for k, v in (tags or {}).items()}

    @staticmethod
    def current_milli_time() -> int:
        return int(time.time() * 1000)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, ResultKey) and self.dataSetDate == other.dataSetDate
                and self.tags == other.tags)

    def __hash__(self) -> int:
        return hash((self.dataSetDate, tuple(sorted(self.tags.items()))))

    def __repr__(self) -> str:
        return f"ResultKey({self.dataSetDate},{self.tags})"

    def to_json(self) -> dict[str, Any]:
        return {"dataSetDate": self.dataSetDate, "tags": dict(self.tags)}

    @staticmethod
    def from_json(key: Any) -> ResultKey:
        """The key :meth:`to_json` wrote (KeyError/TypeError/ValueError when unreadable)."""
        return ResultKey(int(key["dataSetDate"]), key.get("tags") or {})


@dataclass
class AnalysisResult:
    """A ResultKey and the AnalyzerContext stored under it."""

    resultKey: ResultKey
    analyzerContext: AnalyzerContext = field(default_factory=AnalyzerContext)


# --------------------------------------------------------------------------- analyzer serde

#: The analyzer names Deequ 2.0.7's ``AnalysisResultSerde`` (``AnalyzerDeserializer``) reads, as
#: in the jar; any other name there fails Deequ's ``load()`` of the whole file.
DEEQU_SERDE_ANALYZERS = frozenset({
    "Size", "Completeness", "Compliance", "PatternMatch", "Sum", "RatioOfSums", "Mean",
    "Minimum", "Maximum", "CountDistinct", "Distinctness", "Entropy", "MutualInformation",
    "UniqueValueRatio", "Uniqueness", "Histogram", "DataType", "ApproxCountDistinct",
    "Correlation", "StandardDeviation", "ApproxQuantile", "ApproxQuantiles", "ExactQuantile",
    "MinLength", "MaxLength"})


def analyzer_to_json(analyzer: Analyzer) -> dict[str, Any] | None:
    """Deequ's serialized form of an analyzer; None for ones Deequ cannot store either
    (histograms with a binning function)."""
    name = type(analyzer).__name__
    out: dict[str, Any] = {"analyzerName": name}
    if isinstance(analyzer, A.Histogram):
        if analyzer.binningUdf is not None:
            return None
        out.update(column=analyzer.column, maxDetailBins=analyzer.maxDetailBins)
        agg = analyzer.sum_column()
        if agg:  # Deequ's AnalysisResultSerde: two string properties; Count (default) omitted
            out.update(aggregateFunction="sum", aggregateColumn=agg)
    elif isinstance(analyzer, A.Compliance):
        # Deequ always writes "columns" and its reader needs it (NullPointerException without)
        out.update(instance=analyzer.instance, predicate=analyzer.predicate,
                   columns=list(analyzer.columns or ()))
    elif isinstance(analyzer, A.PatternMatch):
        out.update(column=analyzer.column, pattern=analyzer.pattern)
    elif isinstance(analyzer, A.ApproxQuantiles):
        out.update(column=analyzer.column, relativeError=analyzer.relativeError,
                   quantiles=",".join(str(q) for q in analyzer.quantiles))
    elif isinstance(analyzer, A.ApproxQuantile):
        out.update(column=analyzer.column, quantile=analyzer.quantile,
                   relativeError=analyzer.relativeError)
    elif isinstance(analyzer, A.ExactQuantile):
        out.update(column=analyzer.column, quantile=analyzer.quantile)
    elif isinstance(analyzer, A.Correlation):
        out.update(firstColumn=analyzer.firstColumn, secondColumn=analyzer.secondColumn)
    elif isinstance(analyzer, A.HistogramBinned):
        out.update(column=analyzer.column)
        if analyzer.binCount is not None:
            out["binCount"] = analyzer.binCount
        if analyzer.customEdges is not None:
            out["customEdges"] = list(analyzer.customEdges)
    elif isinstance(analyzer, A.Entropy):
        out["column"] = analyzer.column
    elif isinstance(analyzer, A._FrequencyAnalyzer):
        out["columns"] = list(analyzer.columns)
    elif isinstance(analyzer, (A.Size, A.ColumnCount)):
        pass
    elif hasattr(analyzer, "column"):
        out["column"] = analyzer.column  # type: ignore[attr-defined]
    else:
        return None
    if analyzer.where:
        out["where"] = analyzer.where
    options = getattr(analyzer, "analyzerOptions", None)
    if options is not None:
        out["analyzerOptions"] = {"nullBehavior": options.nullBehavior.value,
                                  "filteredRow": options.filteredRow.value}
    return out


def analyzer_from_json(data: Mapping[str, Any]) -> Analyzer:
    """Rebuild an analyzer from its serialized form (Deequ's field names)."""
    name = data.get("analyzerName")
    where = data.get("where")
    raw_options = data.get("analyzerOptions")
    options = (A.AnalyzerOptions(raw_options["nullBehavior"], raw_options["filteredRow"])
               if raw_options else None)
    # Unvalidated JSON, like every other field here (None when absent).
    column: Any = data.get("column")
    simple: dict[str, Callable[..., Analyzer]] = {
        "Mean": A.Mean, "Sum": A.Sum, "StandardDeviation": A.StandardDeviation,
        "Variance": A.Variance, "Skewness": A.Skewness, "Kurtosis": A.Kurtosis,
        "ApproxCountDistinct": A.ApproxCountDistinct, "ZerosCount": A.ZerosCount,
        "Range": A.Range, "InterquartileRange": A.InterquartileRange,
        "DataType": A.DataType, "Entropy": A.Entropy}
    with_options: dict[str, Callable[..., Analyzer]] = {
        "Completeness": A.Completeness, "Minimum": A.Minimum, "Maximum": A.Maximum,
        "MaxLength": A.MaxLength, "MinLength": A.MinLength}
    if name == "Size":
        return A.Size(where)
    if name == "ColumnCount":
        return A.ColumnCount(where)
    if name in simple:
        return simple[name](column, where)
    if name in with_options:
        return with_options[name](column, where, options)
    if name == "Compliance":
        return A.Compliance(data["instance"], data["predicate"], where, data.get("columns"),
                            options)
    if name == "PatternMatch":
        return A.PatternMatch(column, data["pattern"], where, options)
    if name in ("Uniqueness", "UniqueValueRatio", "DuplicateRowCount"):
        cls = {"Uniqueness": A.Uniqueness, "UniqueValueRatio": A.UniqueValueRatio,
               "DuplicateRowCount": A.DuplicateRowCount}[name]
        return cls(data.get("columns", []), where, options)
    if name == "Distinctness":
        return A.Distinctness(data["columns"], where)
    if name == "MutualInformation":
        return A.MutualInformation(data["columns"], where)
    if name == "CountDistinct":
        return A.CountDistinct(data["columns"])
    if name == "Histogram":
        return A.Histogram(column, None, data.get("maxDetailBins"), where,
                           aggregateFunction=_histogram_aggregate(data))
    if name == "HistogramBinned":
        return A.HistogramBinned(column, data.get("binCount"), data.get("customEdges"), where)
    if name == "ApproxQuantile":
        return A.ApproxQuantile(column, data["quantile"], data.get("relativeError", 0.01), where)
    if name == "ApproxQuantiles":
        quantiles = [float(q) for q in str(data["quantiles"]).split(",")]
        return A.ApproxQuantiles(column, quantiles, data.get("relativeError", 0.01))
    if name == "ExactQuantile":
        return A.ExactQuantile(column, data["quantile"], where)
    if name == "Correlation":
        return A.Correlation(data["firstColumn"], data["secondColumn"], where)
    raise ValueError(f"unknown analyzerName {name!r} in stored analyzer {dict(data)}")


def _histogram_aggregate(data: Mapping[str, Any]) -> Any:
    """A stored Histogram's aggregate function: Deequ's ``"aggregateFunction": "sum",
    "aggregateColumn": "x"`` (absent = count), or the ``{"function": "sum", "column": "x"}``
    object earlier Lakeforge versions wrote."""
    function: Any = data.get("aggregateFunction")
    column: Any = data.get("aggregateColumn")
    if isinstance(function, Mapping):
        column = function.get("column")
        function = function.get("function")
    if function is None or function == "count":
        return None
    if function == "sum" and isinstance(column, str) and column:
        return A.Histogram.Sum(column)
    raise ValueError(f"Histogram aggregateFunction {function!r} with aggregateColumn "
                     f"{column!r}: expected 'count', or 'sum' with a column")


def results_to_json(results: Sequence[AnalysisResult]) -> list[dict[str, Any]]:
    """Every successful metric of ``results`` in Deequ's JSON layout, the analyzers Deequ cannot
    read included (:func:`split_for_deequ` separates them)."""
    out = []
    for result in results:
        entries = []
        for analyzer, metric in result.analyzerContext.metricMap.items():
            if not metric.is_success:
                continue  # Deequ stores successful metrics only
            serialized = analyzer_to_json(analyzer)
            if serialized is None:
                log.warning("analyzer %s cannot be stored in a repository; skipped", analyzer)
                continue
            entries.append({"analyzer": serialized, "metric": metric.to_json_dict()})
        out.append({"resultKey": result.resultKey.to_json(),
                    "analyzerContext": {"metricMap": entries}})
    return out


def is_deequ_readable(entry: Any) -> bool:
    """True when Deequ 2.0.7's serde reads this stored ``{"analyzer": ..., "metric": ...}``
    entry's analyzer (by name: :data:`DEEQU_SERDE_ANALYZERS`)."""
    try:
        return entry["analyzer"]["analyzerName"] in DEEQU_SERDE_ANALYZERS
    except (KeyError, TypeError):
        return False


def split_for_deequ(item: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """One stored result split in two: the entries Deequ reads (the result itself, kept even
    when empty: it records the run) and the Lakeforge-only rest (None when there is none)."""
    entries = item["analyzerContext"]["metricMap"]
    deequ = [e for e in entries if is_deequ_readable(e)]
    rest = [e for e in entries if not is_deequ_readable(e)]
    main = {**item, "analyzerContext": {**item["analyzerContext"], "metricMap": deequ}}
    if not rest:
        return main, None
    return main, {"resultKey": item["resultKey"], "analyzerContext": {"metricMap": rest}}


def lakeforge_only_path(path: str) -> str:
    """The Lakeforge-only file next to a repository file: ``metrics.json`` ->
    ``metrics.lakeforge.json`` (``x`` -> ``x.lakeforge.json``)."""
    stem = path[:-len(".json")] if path.endswith(".json") else path
    return f"{stem}.lakeforge.json"


def results_from_json(data: Sequence[Mapping[str, Any]],
                      source: str = "metrics repository") -> list[AnalysisResult]:
    """Parse Deequ's repository JSON. One unreadable entry (an analyzer or metric this
    version does not know, a field of the wrong shape) is skipped with a warning naming
    ``source``, the result and the entry: it must not hide every other metric of the
    repository (anomaly history, DQDL dynamic rules, trends). An unreadable result key skips
    that result the same way."""
    if not isinstance(data, Sequence) or isinstance(data, (str, bytes)):
        raise ValueError(f"{source}: expected a JSON list of results, got {type(data).__name__}")
    out = []
    for index, item in enumerate(data):
        try:
            result_key = ResultKey.from_json(item["resultKey"])
            entries = item["analyzerContext"]["metricMap"]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            log.warning("%s: result %d skipped, unreadable (%s: %s): %s", source, index,
                        type(exc).__name__, exc, _short(item))
            continue
        metrics = {}
        for entry in entries:
            try:
                metrics[analyzer_from_json(entry["analyzer"])] = metric_from_json(entry["metric"])
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                log.warning("%s: entry of result %s skipped, unreadable (%s: %s): %s", source,
                            result_key, type(exc).__name__, exc, _short(entry))
        out.append(AnalysisResult(result_key, AnalyzerContext(metrics)))
    return out


def _short(value: Any, limit: int = 500) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[:limit] + "..."


# --------------------------------------------------------------------------- repositories


class MetricsRepository(ABC):
    """Base: ``save``, ``loadByKey`` and ``load()`` (a query builder)."""

    def __init__(self, spark_session: SparkSession | None = None) -> None:
        self._spark = spark_session

    @abstractmethod
    def _all(self) -> list[AnalysisResult]: ...

    @abstractmethod
    def save(self, resultKey: ResultKey, analyzerContext: AnalyzerContext) -> None: ...

    def loadByKey(self, resultKey: ResultKey) -> AnalyzerContext | None:
        for result in self._all():
            if result.resultKey == resultKey:
                return result.analyzerContext
        return None

    def load(self) -> MetricsRepositoryMultipleResultsLoader:
        return MetricsRepositoryMultipleResultsLoader(self._all, self._spark)


class InMemoryMetricsRepository(MetricsRepository):
    """Keeps results in memory (one per ResultKey; a save replaces the key's result)."""

    def __init__(self, spark_session: SparkSession | None = None) -> None:
        super().__init__(spark_session)
        self._results: dict[ResultKey, AnalysisResult] = {}
        self._lock = threading.Lock()

    def _all(self) -> list[AnalysisResult]:
        with self._lock:
            return list(self._results.values())

    def save(self, resultKey: ResultKey, analyzerContext: AnalyzerContext) -> None:
        successful = {a: m for a, m in analyzerContext.metricMap.items() if m.is_success}
        with self._lock:
            self._results[resultKey] = AnalysisResult(resultKey, AnalyzerContext(successful))


class MetricsStorage(Protocol):
    """Where a FileSystemMetricsRepository keeps its JSON file (a local folder, s3://, ...).

    quality/ writes no files: the runtime passes one in
    (:class:`lakeforge.quality_gate.LakeMetricsStorage` for local paths and s3://).
    """

    def read_text(self, path: str) -> str | None:
        """The file's text, or None when it does not exist."""

    def write_text(self, path: str, text: str) -> None:
        """Replace the file's text (readers must never see a half-written file)."""


@runtime_checkable
class VersionedMetricsStorage(MetricsStorage, Protocol):
    """A MetricsStorage that can refuse a write when the file changed since it was read, so
    concurrent saves to one file (every gate writes metadata/quality/metrics.json) lose nothing:
    :meth:`FileSystemMetricsRepository.save` re-reads and retries on a refusal."""

    def read_versioned(self, path: str) -> tuple[str | None, object]:
        """The file's text (None when it does not exist) and a token of that version."""

    def write_if_unchanged(self, path: str, text: str, version: object) -> bool:
        """Replace the file's text only if it is still at ``version`` (the token of a missing
        file: still missing); False, writing nothing, when it changed."""


#: Read-modify-write attempts of one save before it gives up on a busy file.
SAVE_ATTEMPTS = 30


class MetricsRepositoryConflictError(LakeforgeError):
    """Other writers changed the repository file on every attempt of a save."""


class FileSystemMetricsRepository(MetricsRepository):
    """One JSON file in Deequ's format; ``saveOrAppendResult`` appends (replacing the key).

    Metrics of analyzers Deequ 2.0.7 cannot read live in :attr:`lakeforge_only_path` beside it,
    so Deequ loads the file and Lakeforge's history (trends, anomaly checks) keeps every metric.

    ``storage`` reads and writes the file; ``lakeforge.quality_gate.metrics_repository(spark,
    path)`` builds one on the lake's storage.
    """

    def __init__(self, spark_session: SparkSession | None = None, path: str | None = None,
                 *, storage: MetricsStorage | None = None) -> None:
        super().__init__(spark_session)
        if storage is None:
            raise ValueError(
                "FileSystemMetricsRepository needs storage= (where its JSON file lives): use "
                "lakeforge.quality_gate.metrics_repository(spark, path) for a local path or s3://")
        if not path:
            path = FileSystemMetricsRepository.helper_metrics_file(spark_session)
        self.path = str(path)
        self.storage = storage

    @staticmethod
    def helper_metrics_file(spark_session: SparkSession | None = None,
                            filename: str = "metrics.json") -> str:
        """A fresh file path in the temp folder (PyDeequ's helper; nothing is created)."""
        return os.path.join(tempfile.gettempdir(), f"quality-metrics-{uuid.uuid4().hex}",
                            filename)

    @property
    def lakeforge_only_path(self) -> str:
        """Where metrics of analyzers Deequ cannot read are kept (:func:`lakeforge_only_path`)."""
        return lakeforge_only_path(self.path)

    def _raw(self, path: str | None = None) -> list[Any]:
        return _parse_results(self.storage.read_text(path or self.path), path or self.path)

    def _all(self) -> list[AnalysisResult]:
        """The results of the file, each with its Lakeforge-only metrics merged in (those of a
        result key the file does not hold are left out: the save of that key did not finish)."""
        results = results_from_json(self._raw(), f"metrics repository {self.path}")
        extra_path = self.lakeforge_only_path
        extra = results_from_json(self._raw(extra_path), f"metrics repository {extra_path}")
        by_key = {r.resultKey: r.analyzerContext.metricMap for r in extra}
        out = []
        for result in results:
            more = by_key.get(result.resultKey)
            out.append(result if not more else AnalysisResult(
                result.resultKey,
                AnalyzerContext({**result.analyzerContext.metricMap, **more})))
        return out

    def save(self, resultKey: ResultKey, analyzerContext: AnalyzerContext) -> None:
        """Replace ``resultKey``'s result, keeping every other stored result as it was written
        (entries this version cannot read included: another writer's data is not dropped).

        Metrics of analyzers Deequ 2.0.7 cannot read go to :attr:`lakeforge_only_path` (written
        first, so the result in the main file is the commit: Lakeforge reads a key's
        Lakeforge-only metrics only when the main file holds the key)."""
        (item,) = results_to_json([AnalysisResult(resultKey, analyzerContext)])
        main, extra = split_for_deequ(item)
        kept_aside = len(extra["analyzerContext"]["metricMap"]) if extra else 0
        if kept_aside:
            log.debug("metrics repository %s: %d metric(s) of analyzers Deequ cannot read "
                      "stored in %s", self.path, kept_aside, self.lakeforge_only_path)
        self._replace(self.lakeforge_only_path, resultKey, extra)
        self._replace(self.path, resultKey, main)
        self._move_unreadable_aside()

    def _move_unreadable_aside(self) -> None:
        """Move what Deequ cannot read out of the main file's other results (files written
        before the Lakeforge-only file existed hold them, and one such entry makes Deequ's
        ``load()`` fail for the whole file): each moved entry is added to the Lakeforge-only
        file first, then the main file is rewritten without it only if it did not change
        since it was read (else read again), so a crash or a concurrent save loses nothing.
        An entry in an older form Deequ cannot read (a Compliance without ``columns``) is
        rewritten in the current form. Costs one read when there is nothing to move."""
        def mend(stored: list[Any]) -> list[Any] | None:
            moves = {i: m for i, item in enumerate(stored)
                     if (m := _migrated_for_deequ(item)) is not None}
            if not moves:
                return None
            for key, _main, aside in moves.values():
                if aside:
                    self._add_entries(self.lakeforge_only_path, key, aside)
            return [moves[i][1] if i in moves else item for i, item in enumerate(stored)]

        if self._update(self.path, mend, "move what Deequ cannot read aside"):
            log.info("metrics repository %s: earlier results rewritten for Deequ; what Deequ "
                     "cannot read moved to %s", self.path, self.lakeforge_only_path)

    def _add_entries(self, path: str, resultKey: ResultKey, entries: list[Any]) -> None:
        """Add ``entries`` to ``resultKey``'s result in the file at ``path`` (an entry of the
        same analyzer is replaced)."""
        def same(entry: Any) -> str:
            return json.dumps(entry.get("analyzer"), sort_keys=True)

        new = {same(e) for e in entries}

        def add(stored: list[Any]) -> list[Any] | None:
            held = next((i for i in stored if _stored_under(i, resultKey)), None)
            old = held["analyzerContext"]["metricMap"] if held else []
            if held is not None and all(e in old for e in entries):
                return None  # an earlier attempt (or a crashed save) put them there already
            item = {"resultKey": resultKey.to_json(), "analyzerContext": {
                "metricMap": [e for e in old if same(e) not in new] + entries}}
            return [i for i in stored if not _stored_under(i, resultKey)] + [item]

        self._update(path, add, f"save {resultKey}")

    def _replace(self, path: str, resultKey: ResultKey, item: dict[str, Any] | None) -> None:
        """Put ``item`` under ``resultKey`` in the file at ``path`` (None: remove the key's
        result; a missing file without anything to write stays missing)."""
        def put(stored: list[Any]) -> list[Any] | None:
            kept = [i for i in stored if not _stored_under(i, resultKey)]
            if item is None and len(kept) == len(stored):
                return None
            return kept + ([item] if item else [])

        self._update(path, put, f"save {resultKey}")

    def _update(self, path: str, change: Callable[[list[Any]], list[Any] | None],
                what: str) -> bool:
        """Read the file's results, write ``change(results)`` (None: nothing to write; False
        is returned): a compare-and-swap on a :class:`VersionedMetricsStorage`, read again
        and retried while other writers change the file; a plain write on another storage
        (no concurrent writers assumed)."""
        storage = self.storage
        for attempt in range(SAVE_ATTEMPTS):
            if isinstance(storage, VersionedMetricsStorage):
                text, version = storage.read_versioned(path)
            else:
                text, version = storage.read_text(path), None
            changed = change(_parse_results(text, path))
            if changed is None:
                return False
            body = json.dumps(changed)
            if not isinstance(storage, VersionedMetricsStorage):
                storage.write_text(path, body)
                return True
            if storage.write_if_unchanged(path, body, version):
                return True
            time.sleep(random.uniform(0, min(0.5, 0.005 * 2 ** attempt)))
        raise MetricsRepositoryConflictError(
            f"metrics repository {path}: changed by other writers on each of {SAVE_ATTEMPTS} "
            f"attempts to {what}; retry the save")


def _parse_results(text: str | None, path: str) -> list[Any]:
    if text is None or not text.strip():
        return []
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"metrics repository {path} is not valid JSON: {exc}") from exc
    if not isinstance(data, list):
        raise ValueError(f"metrics repository {path}: expected a JSON list of results, "
                         f"got {type(data).__name__}")
    return data


def _migrated_for_deequ(item: Any) -> tuple[ResultKey, dict[str, Any], list[Any]] | None:
    """A stored result with an entry Deequ cannot read, as (its key, the result with only
    what Deequ reads, each entry in the current form, and the entries to keep aside); None when
    Deequ reads every entry as it is, or when the result key itself is unreadable (left as it
    is). An entry this version cannot read stays as it was written (another writer's data,
    perhaps of a newer Deequ)."""
    try:
        key = ResultKey.from_json(item["resultKey"])
        entries = list(item["analyzerContext"]["metricMap"])
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    keep: list[Any] = []
    aside: list[Any] = []
    changed = False
    for entry in entries:
        try:
            current = analyzer_to_json(analyzer_from_json(entry["analyzer"]))
        except (KeyError, TypeError, ValueError, AttributeError):
            current = None
        if current is None:  # unknown here (a newer writer's, maybe a newer Deequ's): as is
            keep.append(entry)
            continue
        if is_deequ_readable(entry) and not set(current) - set(entry["analyzer"]):
            keep.append(entry)  # as Deequ (or this version) wrote it: left untouched
            continue
        changed = True
        fresh = {**entry, "analyzer": current}
        (keep if is_deequ_readable(fresh) else aside).append(fresh)
    if not changed:
        return None
    main = {**item, "analyzerContext": {**item["analyzerContext"], "metricMap": keep}}
    return key, main, aside


def _stored_under(item: Any, resultKey: ResultKey) -> bool:
    try:
        return ResultKey.from_json(item["resultKey"]) == resultKey
    except (KeyError, TypeError, ValueError, AttributeError):
        return False


class MetricsRepositoryMultipleResultsLoader:
    """``repo.load().withTagValues(...).forAnalyzers(...).after(t).before(t).get()``."""

    def __init__(self, source: Any, spark: SparkSession | None) -> None:
        self._source = source
        self._spark = spark
        self._tags: dict[str, str] = {}
        self._analyzers: list[Analyzer] | None = None
        self._after: int | None = None
        self._before: int | None = None

    def withTagValues(self, tagValues: Mapping[str, str]) -> MetricsRepositoryMultipleResultsLoader:
        self._tags = {str(k): str(v) for k, v in tagValues.items()}
        return self

    def forAnalyzers(self, analyzers: Sequence[Analyzer]) -> MetricsRepositoryMultipleResultsLoader:
        self._analyzers = list(analyzers)
        return self

    def after(self, dateTime: int) -> MetricsRepositoryMultipleResultsLoader:
        self._after = int(dateTime)
        return self

    def before(self, dateTime: int) -> MetricsRepositoryMultipleResultsLoader:
        self._before = int(dateTime)
        return self

    def get(self) -> list[AnalysisResult]:
        out = []
        for result in self._source():
            key = result.resultKey
            if any(key.tags.get(k) != v for k, v in self._tags.items()):
                continue
            if self._after is not None and key.dataSetDate < self._after:
                continue
            if self._before is not None and key.dataSetDate > self._before:
                continue
            metrics = result.analyzerContext.metricMap
            if self._analyzers is not None:
                metrics = {a: m for a, m in metrics.items() if a in self._analyzers}
            out.append(AnalysisResult(key, AnalyzerContext(metrics)))
        return sorted(out, key=lambda r: r.resultKey.dataSetDate)

    def _rows(self, withTags: Sequence[str] | None) -> list[dict[str, Any]]:
        rows = []
        for result in self.get():
            for metric in iter_flat_success(result.analyzerContext.metricMap.values()):
                row: dict[str, Any] = {"entity": metric.entity.value, "instance": metric.instance,
                                       "name": metric.name, "value": float(metric.value),
                                       "dataset_date": result.resultKey.dataSetDate}
                tags = result.resultKey.tags
                for tag in (withTags if withTags is not None else sorted(tags)):
                    row[tag] = tags.get(tag)
                rows.append(row)
        return rows

    def getSuccessMetricsAsJson(self, withTags: Sequence[str] | None = None
                                ) -> list[dict[str, Any]]:
        """``entity, instance, name, value, dataset_date`` and the tag values of each metric."""
        return self._rows(withTags)

    def getSuccessMetricsAsDataFrame(self, spark: SparkSession | None = None,
                                     withTags: Sequence[str] | None = None,
                                     pandas: bool = False) -> DataFrame | Any:
        from pyspark.sql import types as T

        session = spark or self._spark
        if session is None:
            raise ValueError("getSuccessMetricsAsDataFrame needs a SparkSession: pass it here "
                             "or to the repository")
        rows = self._rows(withTags)
        tag_names = list(withTags) if withTags is not None else sorted(
            {k for r in rows for k in r} - {"entity", "instance", "name", "value",
                                            "dataset_date"})
        schema = T.StructType([
            T.StructField("entity", T.StringType()), T.StructField("instance", T.StringType()),
            T.StructField("name", T.StringType()), T.StructField("value", T.DoubleType()),
            T.StructField("dataset_date", T.LongType()),
            *[T.StructField(t, T.StringType()) for t in tag_names]])
        df = session.createDataFrame(
            [tuple(r.get(f.name) for f in schema.fields) for r in rows], schema)
        return df.toPandas() if pandas else df


__all__ = [
    "DEEQU_SERDE_ANALYZERS", "AnalysisResult", "FileSystemMetricsRepository",
    "InMemoryMetricsRepository", "MetricsRepository", "MetricsRepositoryConflictError",
    "MetricsRepositoryMultipleResultsLoader", "MetricsStorage", "ResultKey",
    "VersionedMetricsStorage", "analyzer_from_json", "analyzer_to_json", "is_deequ_readable",
    "lakeforge_only_path", "split_for_deequ",
]
