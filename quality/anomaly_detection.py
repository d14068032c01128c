"""Deequ's anomaly detection strategies and ``AnomalyDetector``.

``strategy.detect(series, (start, end))`` returns ``[(index, Anomaly(value, confidence,
detail))]`` for the points of ``series[start:end]`` that are anomalous. Invalid arguments raise
ValueError with Deequ's messages.

Example::

    RelativeRateOfChangeStrategy(maxRateIncrease=2.0).detect([10.0, 11.0, 30.0], (2, 3))
    # [(2, Anomaly(30.0, 1.0, "[RelativeRateOfChangeStrategy]: Change of 2.727... ..."))]
"""

from __future__ import annotations

import math
import sys
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from quality._format import java_double

MAX_LONG = 2**63 - 1
Interval = tuple[int, int]


@dataclass(frozen=True)
class Anomaly:
    """An anomalous value, the confidence (1.0 for rule-based strategies) and an explanation."""

    value: float | None
    confidence: float
    detail: str | None = None


@dataclass(frozen=True)
class DataPoint:
    """A metric value at a time (epoch milliseconds); ``metricValue`` None when missing."""

    time: int
    metricValue: float | None


@dataclass(frozen=True)
class DetectionResult:
    anomalies: list[tuple[int, Anomaly]]


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def _factor(factor: float | None) -> float:
    """A deviation factor; a missing one is Double.MaxValue, as in Deequ (a bound of +/-inf,
    or the mean itself when the standard deviation is 0)."""
    return factor if factor is not None else sys.float_info.max


def _interval(series: Sequence[float], interval: Interval | None) -> Interval:
    start, end = interval if interval is not None else (0, len(series))
    _require(start <= end, "The start of the interval cannot be larger than the end.")
    return int(start), int(min(end, len(series)))


class AnomalyDetectionStrategy(ABC):
    """Base class: ``detect(dataSeries, searchInterval)``."""

    @abstractmethod
    def detect(self, dataSeries: Sequence[float],
               searchInterval: Interval = (0, MAX_LONG)) -> list[tuple[int, Anomaly]]: ...


class SimpleThresholdStrategy(AnomalyDetectionStrategy):
    """Values outside ``[lowerBound, upperBound]``."""

    def __init__(self, lowerBound: float = -sys.float_info.max,
                 upperBound: float = sys.float_info.max) -> None:
        _require(lowerBound <= upperBound,
                 "The lower bound must be smaller or equal to the upper bound.")
        self.lowerBound = float(lowerBound)
        self.upperBound = float(upperBound)

    def detect(self, dataSeries: Sequence[float],
               searchInterval: Interval = (0, MAX_LONG)) -> list[tuple[int, Anomaly]]:
        start, end = _interval(dataSeries, searchInterval)
        out = []
        for i in range(start, end):
            value = float(dataSeries[i])
            if value < self.lowerBound or value > self.upperBound:
                detail = (f"[SimpleThresholdStrategy]: Value {java_double(value)} is not in bounds "
                          f"[{java_double(self.lowerBound)}, {java_double(self.upperBound)}]")
                out.append((i, Anomaly(value, 1.0, detail)))
        return out


class _BaseChangeStrategy(AnomalyDetectionStrategy):
    name = ""

    def __init__(self, maxRateDecrease: float | None = None,
                 maxRateIncrease: float | None = None, order: int = 1) -> None:
        _require(maxRateDecrease is not None or maxRateIncrease is not None,
                 "At least one of the two limits (maxRateDecrease or maxRateIncrease) has to "
                 "be specified.")
        _require(maxRateDecrease is None or maxRateIncrease is None
                 or maxRateDecrease <= maxRateIncrease,
                 "The maximal rate of increase has to be bigger than the maximal rate of "
                 "decrease.")
        _require(order >= 0, "Order of derivative cannot be negative.")
        self.maxRateDecrease = maxRateDecrease
        self.maxRateIncrease = maxRateIncrease
        self.order = int(order)

    @abstractmethod
    def diff(self, series: list[float], order: int) -> list[float]: ...

    def detect(self, dataSeries: Sequence[float],
               searchInterval: Interval = (0, MAX_LONG)) -> list[tuple[int, Anomaly]]:
        start, end = _interval(dataSeries, searchInterval)
        start_point = max(start - self.order, 0)
        data = self.diff([float(v) for v in dataSeries[start_point:end]], self.order)
        # a missing limit is Double.MinValue / Double.MaxValue, as in Deequ: a change of
        # +/-Infinity (a rate from 0) is beyond it, and the detail prints it
        low = self.maxRateDecrease if self.maxRateDecrease is not None else -sys.float_info.max
        high = self.maxRateIncrease if self.maxRateIncrease is not None else sys.float_info.max
        out = []
        for index, change in enumerate(data):
            if change < low or change > high:
                position = index + start_point + self.order
                detail = (f"[{self.name}]: Change of {java_double(change)} is not in bounds "
                          f"[{java_double(low)}, {java_double(high)}]. Order={self.order}")
                out.append((position, Anomaly(float(dataSeries[position]), 1.0, detail)))
        return out


class AbsoluteChangeStrategy(_BaseChangeStrategy):
    """The ``order``-th difference of consecutive values must stay within the limits."""

    name = "AbsoluteChangeStrategy"

    def diff(self, series: list[float], order: int) -> list[float]:
        for _ in range(order):
            series = [b - a for a, b in zip(series, series[1:], strict=False)]
        return series


class RelativeRateOfChangeStrategy(_BaseChangeStrategy):
    """The ratio ``x[t] / x[t - order]`` must stay within the limits."""

    name = "RelativeRateOfChangeStrategy"

    def diff(self, series: list[float], order: int) -> list[float]:
        if order == 0:
            return series
        return [(series[i] / series[i - order]) if series[i - order] != 0 else
                (math.inf if series[i] > 0 else (-math.inf if series[i] < 0 else math.nan))
                for i in range(order, len(series))]


class OnlineNormalStrategy(AnomalyDetectionStrategy):
    """Running mean and standard deviation; values beyond factor x stdDev are anomalies
    (and, with ``ignoreAnomalies``, do not update the running statistics)."""

    def __init__(self, lowerDeviationFactor: float | None = 3.0,
                 upperDeviationFactor: float | None = 3.0, ignoreStartPercentage: float = 0.1,
                 ignoreAnomalies: bool = True) -> None:
        _require(lowerDeviationFactor is not None or upperDeviationFactor is not None,
                 "At least one factor has to be specified.")
        _require((lowerDeviationFactor or 0) >= 0 and (upperDeviationFactor or 0) >= 0,
                 "Factors cannot be smaller than zero.")
        _require(0.0 <= ignoreStartPercentage <= 1.0,
                 "Percentage of start values to ignore must be in interval [0, 1].")
        self.lowerDeviationFactor = lowerDeviationFactor
        self.upperDeviationFactor = upperDeviationFactor
        self.ignoreStartPercentage = ignoreStartPercentage
        self.ignoreAnomalies = ignoreAnomalies

    def detect(self, dataSeries: Sequence[float],
               searchInterval: Interval = (0, MAX_LONG)) -> list[tuple[int, Anomaly]]:
        start, end = _interval(dataSeries, searchInterval)
        mean = variance = sn = 0.0
        skip = len(dataSeries) * self.ignoreStartPercentage
        upper_f, lower_f = _factor(self.upperDeviationFactor), _factor(self.lowerDeviationFactor)
        out = []
        for i, raw in enumerate(dataSeries):
            value = float(raw)
            last_mean, last_variance, last_sn = mean, variance, sn
            # Deequ's arithmetic, operation for operation (the bounds are printed).
            mean = value if i == 0 else last_mean + (1.0 / (i + 1)) * (value - last_mean)
            sn += (value - last_mean) * (value - mean)
            variance = sn / (i + 1)
            std = math.sqrt(variance)
            upper, lower = mean + upper_f * std, mean - lower_f * std
            if i < skip or i < start or i >= end or lower <= value <= upper:
                continue
            if self.ignoreAnomalies:
                mean, variance, sn = last_mean, last_variance, last_sn
            # As Deequ's detect: the bounds of the stored result, i.e. the mean after the
            # rollback (the last one, with ignoreAnomalies) and the standard deviation that
            # included the anomaly.
            detail = (f"[OnlineNormalStrategy]: Value {java_double(value)} is not in bounds "
                      f"[{java_double(mean - lower_f * std)}, "
                      f"{java_double(mean + upper_f * std)}].")
            out.append((i, Anomaly(value, 1.0, detail)))
        return out


class BatchNormalStrategy(AnomalyDetectionStrategy):
    """Mean and (sample) standard deviation of the values outside the search interval (or all
    values with ``includeInterval``); values in the interval beyond factor x stdDev are
    anomalies."""

    def __init__(self, lowerDeviationFactor: float | None = 3.0,
                 upperDeviationFactor: float | None = 3.0, includeInterval: bool = False) -> None:
        _require(lowerDeviationFactor is not None or upperDeviationFactor is not None,
                 "At least one factor has to be specified.")
        _require((lowerDeviationFactor or 0) >= 0 and (upperDeviationFactor or 0) >= 0,
                 "Factors cannot be smaller than zero.")
        self.lowerDeviationFactor = lowerDeviationFactor
        self.upperDeviationFactor = upperDeviationFactor
        self.includeInterval = includeInterval

    def detect(self, dataSeries: Sequence[float],
               searchInterval: Interval = (0, MAX_LONG)) -> list[tuple[int, Anomaly]]:
        start, end = _interval(dataSeries, searchInterval)
        _require(len(dataSeries) > 0, "Data series is empty. Can't calculate mean/stdDev.")
        values = [float(v) for v in dataSeries]
        training = values if self.includeInterval else values[:start] + values[end:]
        _require(len(training) > 0,
                 "There are not enough data points to calculate a mean/stdDev outside the "
                 "search interval.")
        mean = sum(training) / len(training)
        std = (math.sqrt(sum((v - mean) ** 2 for v in training) / (len(training) - 1))
               if len(training) > 1 else 0.0)
        upper = mean + _factor(self.upperDeviationFactor) * std
        lower = mean - _factor(self.lowerDeviationFactor) * std
        out = []
        for i in range(start, end):
            value = values[i]
            if value < lower or value > upper:
                detail = (f"[BatchNormalStrategy]: Value {java_double(value)} is not in bounds "
                          f"[{java_double(lower)}, {java_double(upper)}].")
                out.append((i, Anomaly(value, 1.0, detail)))
        return out


class MetricInterval(str, Enum):
    Daily = "Daily"
    Monthly = "Monthly"


class SeriesSeasonality(str, Enum):
    Weekly = "Weekly"
    Yearly = "Yearly"


class HoltWinters(AnomalyDetectionStrategy):
    """Additive Holt-Winters (triple exponential smoothing) forecast; a value further than
    1.96 residual standard deviations from its forecast is an anomaly. The search interval must
    be at the end of the series, and at least two full seasons must precede it.
    ``HoltWinters(MetricInterval.Daily, SeriesSeasonality.Weekly)`` -> period 7; Monthly/Yearly
    -> 12."""

    def __init__(self, metricsInterval: MetricInterval | str = MetricInterval.Daily,
                 seasonality: SeriesSeasonality | str = SeriesSeasonality.Weekly) -> None:
        interval, season = MetricInterval(metricsInterval), SeriesSeasonality(seasonality)
        periods = {(MetricInterval.Daily, SeriesSeasonality.Weekly): 7,
                   (MetricInterval.Monthly, SeriesSeasonality.Yearly): 12}
        _require((interval, season) in periods,
                 f"Unsupported combination of metrics interval {interval.value} and "
                 f"seasonality {season.value}: use Daily/Weekly or Monthly/Yearly.")
        self.period = periods[(interval, season)]

    @staticmethod
    def _fit(series: list[float], period: int, alpha: float, beta: float, gamma: float
             ) -> tuple[list[float], float, float, list[float]]:
        level = sum(series[:period]) / period
        trend = (sum(series[period:2 * period]) - sum(series[:period])) / period ** 2
        season = [series[i] - level for i in range(period)]
        fitted = []
        for t, value in enumerate(series):
            s = season[t % period]
            fitted.append(level + trend + s)
            last_level = level
            level = alpha * (value - s) + (1 - alpha) * (level + trend)
            trend = beta * (level - last_level) + (1 - beta) * trend
            season[t % period] = gamma * (value - level) + (1 - gamma) * s
        return fitted, level, trend, season

    def detect(self, dataSeries: Sequence[float],
               searchInterval: Interval = (0, MAX_LONG)) -> list[tuple[int, Anomaly]]:
        start, end = _interval(dataSeries, searchInterval)
        _require(end == len(dataSeries),
                 "The search interval needs to end at the last data point.")
        training = [float(v) for v in dataSeries[:start]]
        _require(len(training) >= 2 * self.period,
                 "Need at least two full cycles of data to estimate model")
        from scipy.optimize import minimize

        def sse(params: Any) -> float:
            fitted, *_ = self._fit(training, self.period, *params)
            return float(sum((f - v) ** 2 for f, v in zip(fitted, training, strict=True)))

        best = minimize(sse, x0=[0.3, 0.1, 0.1], bounds=[(0, 1)] * 3, method="L-BFGS-B")
        alpha, beta, gamma = (float(x) for x in best.x)
        fitted, level, trend, season = self._fit(training, self.period, alpha, beta, gamma)
        residuals = [v - f for v, f in zip(training, fitted, strict=True)]
        mean_r = sum(residuals) / len(residuals)
        std_r = math.sqrt(sum((r - mean_r) ** 2 for r in residuals) / max(len(residuals) - 1, 1))
        out = []
        n = len(training)
        for h, i in enumerate(range(start, end), start=1):
            forecast = level + h * trend + season[(n + h - 1) % self.period]
            value = float(dataSeries[i])
            if abs(value - forecast) > 1.96 * std_r:
                detail = (f"Forecasted {java_double(forecast)} for observed value "
                          f"{java_double(value)}")
                out.append((i, Anomaly(value, 1.0, detail)))
        return out


class AnomalyDetector:
    """Runs a strategy over a history of DataPoints."""

    def __init__(self, strategy: AnomalyDetectionStrategy) -> None:
        self.strategy = strategy

    def isNewPointAnomalous(self, historicalDataPoints: Sequence[DataPoint],
                            newPoint: DataPoint) -> DetectionResult:
        _require(all(p.time < newPoint.time for p in historicalDataPoints),
                 "Can't decide which range to use for anomaly detection. New data point with "
                 f"time {newPoint.time} is in history range.")
        points = sorted([*historicalDataPoints, newPoint], key=lambda p: p.time)
        return self.detectAnomaliesInHistory(points, (newPoint.time, MAX_LONG))

    def detectAnomaliesInHistory(self, dataSeries: Sequence[DataPoint],
                                 searchInterval: Interval = (0, MAX_LONG)) -> DetectionResult:
        start_time, end_time = searchInterval
        _require(start_time <= end_time, "The first interval element has to be smaller or equal "
                 "to the last.")
        points = sorted((p for p in dataSeries if p.metricValue is not None),
                        key=lambda p: p.time)
        values = [float(p.metricValue) for p in points]  # type: ignore[arg-type]
        lo = next((i for i, p in enumerate(points) if p.time >= start_time), len(points))
        hi = next((i for i, p in enumerate(points) if p.time >= end_time), len(points))
        found = self.strategy.detect(values, (lo, hi))
        return DetectionResult([(points[i].time, anomaly) for i, anomaly in found])


def is_newest_point_non_anomalous(repository: Any, strategy: AnomalyDetectionStrategy,
                                  analyzer: Any, value: float, withTagValues: dict[str, str],
                                  afterDate: int | None, beforeDate: int | None) -> bool:
    """Deequ's ``Check.isNewestPointNonAnomalous``: history from the repository, then detect."""
    loader = repository.load().withTagValues(withTagValues).forAnalyzers([analyzer])
    if afterDate is not None:
        loader = loader.after(afterDate)
    if beforeDate is not None:
        loader = loader.before(beforeDate)
    results = loader.get()
    if not results:
        raise ValueError("requirement failed: There have to be previous results in the "
                         "MetricsRepository!")
    history = []
    for result in sorted(results, key=lambda r: (r.resultKey.dataSetDate,
                                                 sorted(r.resultKey.tags.values()))):
        metric = result.analyzerContext.metricMap.get(analyzer)
        metric_value = float(metric.value) if metric is not None and metric.is_success else None
        history.append(DataPoint(result.resultKey.dataSetDate, metric_value))
    test_time = max(r.resultKey.dataSetDate for r in results) + 1
    detected = AnomalyDetector(strategy).isNewPointAnomalous(history,
                                                             DataPoint(test_time, value))
    return not detected.anomalies


__all__ = [
    "AbsoluteChangeStrategy", "Anomaly", "AnomalyDetectionStrategy", "AnomalyDetector",
    "BatchNormalStrategy", "DataPoint", "DetectionResult", "HoltWinters", "MetricInterval",
    "OnlineNormalStrategy", "RelativeRateOfChangeStrategy", "SeriesSeasonality",
    "SimpleThresholdStrategy", "is_newest_point_non_anomalous",
]
