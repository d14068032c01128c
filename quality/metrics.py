"""Deequ's metric types: DoubleMetric, HistogramMetric (a Distribution), KeyedDoubleMetric.

A metric holds either a value or the exception that prevented computing it (Deequ's
``Try[T]``). ``flatten()`` turns any metric into DoubleMetrics, which is what
``successMetricsAsDataFrame`` shows: ``Histogram.bins``, ``Histogram.abs.<value>``,
``Histogram.ratio.<value>``, ``ApproxQuantiles-0.5``, ...
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from quality._format import java_double


class Entity(str, Enum):
    """What a metric describes (Deequ's ``Entity``)."""

    Dataset = "Dataset"
    Column = "Column"
    Multicolumn = "Multicolumn"

    def __str__(self) -> str:
        return self.value


class MetricCalculationException(Exception):
    """A metric could not be computed; the message becomes the constraint message."""


class EmptyStateException(MetricCalculationException):
    """All input values were NULL (or there were no rows) for an analyzer that needs values."""


class MetricCalculationPreconditionException(MetricCalculationException):
    """A precondition on the schema failed (missing column, wrong type, bad parameter)."""


class NoSuchColumnException(MetricCalculationPreconditionException):
    """The data has no column of that name."""


class WrongColumnTypeException(MetricCalculationPreconditionException):
    """The column's type is not one the analyzer accepts."""


class NoColumnsSpecifiedException(MetricCalculationPreconditionException):
    """A multi-column analyzer got no columns."""


class NumberOfSpecifiedColumnsException(MetricCalculationPreconditionException):
    """A multi-column analyzer got the wrong number of columns."""


class IllegalAnalyzerParameterException(MetricCalculationPreconditionException):
    """A parameter (quantile, relative error, bin count, ...) is out of range."""


class MetricCalculationRuntimeException(MetricCalculationException):
    """Spark failed while computing the metric (e.g. an invalid SQL expression)."""


@dataclass(frozen=True)
class DistributionValue:
    """Absolute count and ratio of one histogram bin."""

    absolute: int
    ratio: float

    def __str__(self) -> str:
        return f"DistributionValue({self.absolute},{java_double(self.ratio)})"


@dataclass(frozen=True)
class Distribution:
    """A histogram: bin -> DistributionValue, plus the total number of bins.

    ``values`` holds at most ``maxDetailBins`` bins (the most frequent); ``numberOfBins`` counts
    all of them. ``absolutes`` / ``ratios`` are convenience views for assertions.
    """

    values: Mapping[str, DistributionValue]
    numberOfBins: int

    @property
    def absolutes(self) -> dict[str, int]:
        return {k: v.absolute for k, v in self.values.items()}

    @property
    def ratios(self) -> dict[str, float]:
        return {k: v.ratio for k, v in self.values.items()}

    def __getitem__(self, key: str) -> DistributionValue:
        return self.values[key]

    def argmax(self) -> str:
        """The most frequent bin."""
        return max(self.values.items(), key=lambda kv: kv[1].absolute)[0]

    def __str__(self) -> str:
        inner = ", ".join(f"{k} -> {v}" for k, v in self.values.items())
        return f"Distribution(Map({inner}),{self.numberOfBins})"


@dataclass(frozen=True)
class Metric(ABC):
    """Base: a named value about an entity/instance, or the failure that prevented it."""

    entity: Entity
    name: str
    instance: str
    value: Any = None
    exception: Exception | None = field(default=None, compare=False)

    @property
    def is_success(self) -> bool:
        return self.exception is None

    isSuccess = is_success

    @abstractmethod
    def flatten(self) -> list[DoubleMetric]:
        """This metric as DoubleMetrics (what ``successMetricsAsDataFrame`` shows)."""

    @abstractmethod
    def to_json_dict(self) -> dict[str, Any]:
        """The repository's stored form; :func:`metric_from_json` reads it back."""


@dataclass(frozen=True)
class DoubleMetric(Metric):
    """A single double value (Deequ ``DoubleMetric``)."""

    def flatten(self) -> list[DoubleMetric]:
        return [self]

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "metricName": "DoubleMetric",
            "entity": self.entity.value,
            "instance": self.instance,
            "name": self.name,
            "value": _json_double(self.value),
        }


@dataclass(frozen=True)
class HistogramMetric(Metric):
    """A Distribution for a column (``Histogram`` and ``DataType`` analyzers)."""

    def flatten(self) -> list[DoubleMetric]:
        if not self.is_success:
            return [DoubleMetric(self.entity, f"{self.name}.bins", self.instance, None,
                                 self.exception)]
        dist: Distribution = self.value
        out = [DoubleMetric(self.entity, f"{self.name}.bins", self.instance,
                            float(dist.numberOfBins))]
        for key, dv in dist.values.items():
            out.append(DoubleMetric(self.entity, f"{self.name}.abs.{key}", self.instance,
                                    float(dv.absolute)))
            out.append(DoubleMetric(self.entity, f"{self.name}.ratio.{key}", self.instance,
                                    float(dv.ratio)))
        return out

    def to_json_dict(self) -> dict[str, Any]:
        dist: Distribution = self.value
        return {
            "metricName": "HistogramMetric",
            "column": self.instance,
            "numberOfBins": dist.numberOfBins,
            "value": {
                "numberOfBins": dist.numberOfBins,
                "values": {
                    k: {"absolute": v.absolute, "ratio": _json_double(v.ratio)}
                    for k, v in dist.values.items()
                },
            },
        }


@dataclass(frozen=True)
class KeyedDoubleMetric(Metric):
    """Several doubles keyed by name (``ApproxQuantiles``): flattens to ``name-key``."""

    def flatten(self) -> list[DoubleMetric]:
        if not self.is_success:
            return [DoubleMetric(self.entity, self.name, self.instance, None, self.exception)]
        return [DoubleMetric(self.entity, f"{self.name}-{k}", self.instance, float(v))
                for k, v in self.value.items()]

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "metricName": "KeyedDoubleMetric",
            "entity": self.entity.value,
            "instance": self.instance,
            "name": self.name,
            "value": {k: _json_double(v) for k, v in self.value.items()},
        }


def _json_double(value: Any) -> Any:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return java_double(value)  # Deequ's Gson writes NaN; JSON has no NaN literal
    return value


def metric_from_json(data: Mapping[str, Any]) -> Metric:
    """Inverse of ``to_json_dict`` (the repository's stored metric)."""
    kind = data.get("metricName")
    if kind == "DoubleMetric":
        return DoubleMetric(Entity(data["entity"]), data["name"], data["instance"],
                            _from_json_double(data["value"]))
    if kind == "HistogramMetric":
        raw = data["value"]
        values = {k: DistributionValue(int(v["absolute"]), float(_from_json_double(v["ratio"])))
                  for k, v in raw["values"].items()}
        return HistogramMetric(Entity.Column, "Histogram", data["column"],
                               Distribution(values, int(raw["numberOfBins"])))
    if kind == "KeyedDoubleMetric":
        return KeyedDoubleMetric(Entity(data["entity"]), data["name"], data["instance"],
                                 {k: _from_json_double(v) for k, v in data["value"].items()})
    raise ValueError(f"unknown metricName {kind!r} in stored metric {dict(data)}")


def _from_json_double(value: Any) -> float:
    if isinstance(value, str):
        return float({"NaN": "nan", "Infinity": "inf", "-Infinity": "-inf"}.get(value, value))
    return float(value)


def iter_flat_success(metrics: Iterable[Metric]) -> Iterator[DoubleMetric]:
    """Successful DoubleMetrics after flattening, in order."""
    for metric in metrics:
        for flat in metric.flatten():
            if flat.is_success:
                yield flat
