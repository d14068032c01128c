"""``ColumnProfilerRunner``: Deequ's column profiles, computed in three planned passes.

* pass 1 - one scan: Size and, per column, Completeness, ApproxCountDistinct, the DataType
  distribution (string columns), Minimum/Maximum/Mean/StandardDeviation/Sum/ZerosCount (typed
  numeric columns) and MinLength/MaxLength (string columns, a NULL as a length-0 string, as
  Deequ's profiler);
* pass 2 - one scan, only when string columns turn out to hold numbers: the numeric statistics
  of those columns cast to long (Integral) or double (Fractional), as Deequ profiles them;
* pass 3 - one grouping action: histograms of the columns with at most
  ``lowCardinalityHistogramThreshold`` (approximately) distinct values.

Example::

    result = ColumnProfilerRunner(spark).onData(df).run()
    for name, profile in result.profiles.items():
        print(name, profile.completeness, profile.dataType)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyspark.sql import types as T

from quality.analyzers import (
    AnalyzerOptions,
    ApproxCountDistinct,
    Completeness,
    DataType,
    Histogram,
    Maximum,
    MaxLength,
    Mean,
    Minimum,
    MinLength,
    NullBehavior,
    Size,
    StandardDeviation,
    Sum,
    ZerosCount,
    col,
)
from quality.metrics import Distribution
from quality.native_engine import compute_metrics

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

DEFAULT_CARDINALITY_THRESHOLD = 120
_NUMERIC = (T.ByteType, T.ShortType, T.IntegerType, T.LongType, T.FloatType, T.DoubleType,
            T.DecimalType)


@dataclass
class StandardColumnProfile:
    """Profile of a column that is neither numeric nor string (and the base of the others)."""

    column: str
    completeness: float
    approximateNumDistinctValues: int
    dataType: str
    isDataTypeInferred: bool
    typeCounts: dict[str, int] = field(default_factory=dict)
    histogram: Distribution | None = None


@dataclass
class StringColumnProfile(StandardColumnProfile):
    minLength: float | None = None
    maxLength: float | None = None


@dataclass
class NumericColumnProfile(StandardColumnProfile):
    kll: Any = None
    mean: float | None = None
    maximum: float | None = None
    minimum: float | None = None
    sum: float | None = None
    stdDev: float | None = None
    zerosCount: int | None = None
    approxPercentiles: list[float] | None = None


@dataclass
class ColumnProfiles:
    """``profiles`` by column, the number of records and how many Spark passes it took."""

    profiles: dict[str, StandardColumnProfile]
    numRecords: int
    passes: int


# Deequ 2.0.7's validSparkDataTypesForHistograms (ColumnProfiler.findTargetColumnsForHistograms):
# no histogram of dates, timestamps, decimals, bytes, binaries or nested columns.
_HISTOGRAM_TYPES = (T.StringType, T.BooleanType, T.DoubleType, T.FloatType, T.IntegerType,
                    T.LongType, T.ShortType)


def _type_of(dtype: T.DataType) -> str:
    if isinstance(dtype, (T.ByteType, T.ShortType, T.IntegerType, T.LongType)):
        return "Integral"
    if isinstance(dtype, (T.FloatType, T.DoubleType, T.DecimalType)):
        return "Fractional"
    if isinstance(dtype, T.BooleanType):
        return "Boolean"
    if isinstance(dtype, T.StringType):
        return "String"
    return "Unknown"


def determine_type(dist: Distribution) -> str:
    """Deequ's choice of an inferred type from the DataType distribution."""
    counts = dist.absolutes
    total = sum(counts.values())
    if total == 0 or counts.get("Unknown", 0) == total:
        return "Unknown"
    if counts.get("String", 0) > 0 or (counts.get("Boolean", 0) > 0 and (
            counts.get("Integral", 0) > 0 or counts.get("Fractional", 0) > 0)):
        return "String"
    if counts.get("Boolean", 0) > 0:
        return "Boolean"
    if counts.get("Fractional", 0) > 0:
        return "Fractional"
    return "Integral"


def _value(metric: Any) -> Any:
    return metric.value if metric is not None and metric.is_success else None


class ColumnProfilerRunBuilder:
    """``ColumnProfilerRunner(spark).onData(df).restrictToColumns([...]).run()``."""

    def __init__(self, spark: SparkSession, df: DataFrame) -> None:
        self._spark = spark
        self._df = df
        self._columns: list[str] | None = None
        self._threshold = DEFAULT_CARDINALITY_THRESHOLD

    def restrictToColumns(self, restrictToColumns: Sequence[str]) -> ColumnProfilerRunBuilder:
        missing = [c for c in restrictToColumns if c not in self._df.columns]
        if missing:
            from lakeforge.errors import MissingColumnsError

            raise MissingColumnsError(missing, self._df.columns, "ColumnProfilerRunner")
        self._columns = list(restrictToColumns)
        return self

    def withLowCardinalityHistogramThreshold(self, lowCardinalityHistogramThreshold: int
                                             ) -> ColumnProfilerRunBuilder:
        self._threshold = int(lowCardinalityHistogramThreshold)
        return self

    def run(self) -> ColumnProfiles:
        df = self._df
        columns = self._columns or df.columns
        schema = {f.name: f.dataType for f in df.schema.fields}
        pass1: list[Any] = [Size()]
        for c in columns:
            pass1 += [Completeness(c), ApproxCountDistinct(c)]
            if isinstance(schema[c], T.StringType):
                pass1 += [DataType(c), *_length_analyzers(c)]
            elif isinstance(schema[c], _NUMERIC):
                pass1 += _numeric_analyzers(c)
        m1 = compute_metrics(df, pass1)
        passes = 1
        num_records = int(_value(m1[Size()]) or 0)

        inferred: dict[str, str] = {}
        for c in columns:
            if isinstance(schema[c], T.StringType):
                dist = _value(m1[DataType(c)])
                inferred[c] = determine_type(dist) if dist is not None else "Unknown"
        numeric_strings = [c for c, t in inferred.items() if t in ("Integral", "Fractional")]
        m2: dict[Any, Any] = {}
        if numeric_strings:
            # as Deequ's castNumericStringColumns: Integral to long ("-0" is 0), Fractional
            # to double
            cast = df.select(*[col(c).cast("long" if inferred[c] == "Integral" else "double")
                               .alias(c) for c in numeric_strings])
            m2 = compute_metrics(cast, [a for c in numeric_strings for a in _numeric_analyzers(c)])
            passes += 1

        # Deequ's findTargetColumnsForHistograms: a String, Boolean, Double, Float, Integer,
        # Long or Short column whose (inferred) type is known, at or under the threshold.
        low_card = [c for c in columns
                    if isinstance(schema[c], _HISTOGRAM_TYPES)
                    and (inferred.get(c) or _type_of(schema[c])) != "Unknown"
                    and (_value(m1[ApproxCountDistinct(c)]) or 0) <= self._threshold]
        m3: dict[Any, Any] = {}
        if low_card:
            m3 = compute_metrics(df, [Histogram(c) for c in low_card])
            passes += 1

        profiles: dict[str, StandardColumnProfile] = {}
        for c in columns:
            is_string = isinstance(schema[c], T.StringType)
            dtype = inferred.get(c) if is_string else _type_of(schema[c])
            type_dist = _value(m1.get(DataType(c))) if is_string else None
            common: dict[str, Any] = {
                "column": c,
                "completeness": _value(m1[Completeness(c)]),
                "approximateNumDistinctValues": int(_value(m1[ApproxCountDistinct(c)]) or 0),
                "dataType": dtype or "Unknown",
                "isDataTypeInferred": is_string,
                "typeCounts": type_dist.absolutes if type_dist else {},
                "histogram": _value(m3.get(Histogram(c))),
            }
            source = m2 if c in numeric_strings else m1
            if c in numeric_strings or isinstance(schema[c], _NUMERIC):
                profiles[c] = NumericColumnProfile(
                    **common, mean=_value(source.get(Mean(c))),
                    maximum=_value(source.get(Maximum(c))),
                    minimum=_value(source.get(Minimum(c))), sum=_value(source.get(Sum(c))),
                    stdDev=_value(source.get(StandardDeviation(c))),
                    zerosCount=(None if _value(source.get(ZerosCount(c))) is None
                                else int(_value(source.get(ZerosCount(c))))))
            elif is_string and dtype == "String":
                # Deequ picks the profile class by the (inferred) type: a string column of
                # booleans, or of NULLs only (Unknown), gets a StandardColumnProfile
                shortest, longest = _length_analyzers(c)
                profiles[c] = StringColumnProfile(**common,
                                                  minLength=_value(m1.get(shortest)),
                                                  maxLength=_value(m1.get(longest)))
            else:
                profiles[c] = StandardColumnProfile(**common)
        log.info("profiled %d columns of %d records in %d passes", len(columns), num_records,
                 passes)
        return ColumnProfiles(profiles, num_records, passes)


def _length_analyzers(column: str) -> tuple[MinLength, MaxLength]:
    """Deequ 2.0.7's profiler measures lengths with NullBehavior.EmptyString: a NULL value is
    a length-0 string (``minLength`` 0 for a string column with NULLs)."""
    options = AnalyzerOptions(NullBehavior.EmptyString)
    return MinLength(column, analyzerOptions=options), MaxLength(column, analyzerOptions=options)


def _numeric_analyzers(column: str) -> list[Any]:
    return [Minimum(column), Maximum(column), Mean(column), StandardDeviation(column),
            Sum(column), ZerosCount(column)]


class ColumnProfilerRunner:
    """Entry point: ``ColumnProfilerRunner(spark).onData(df).run()``."""

    def __init__(self, spark_session: SparkSession) -> None:
        self._spark = spark_session

    def onData(self, df: DataFrame) -> ColumnProfilerRunBuilder:
        return ColumnProfilerRunBuilder(self._spark, df)


__all__ = [
    "ColumnProfilerRunner", "ColumnProfiles", "NumericColumnProfile", "StandardColumnProfile",
    "StringColumnProfile", "determine_type",
]

