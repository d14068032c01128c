"""Deequ's analyzers, computed natively in PySpark, and AnalyzerContext (the runner is in
:mod:`quality.analysis_runner`; ``from quality.analyzers import AnalysisRunner`` still works).

Every analyzer is a small immutable value (equal analyzers are computed once). It says how it is
computed, and the engine (:mod:`quality.native_engine`) plans all analyzers of a run together:

* *scan* analyzers (Size, Completeness, Compliance, PatternMatch, Mean, Sum, Minimum, Maximum,
  StandardDeviation, Variance, Skewness, Kurtosis, ApproxCountDistinct, ApproxQuantile(s),
  ExactQuantile, MinLength, MaxLength, Correlation, DataType, ZerosCount, Range,
  InterquartileRange) contribute aggregate expressions to one shared aggregation;
* *grouping* analyzers (Uniqueness, Distinctness, UniqueValueRatio, CountDistinct, Entropy,
  DuplicateRowCount, Histogram, HistogramBinned) contribute a grouping set; all grouping sets are
  counted by one ``GROUP BY ... GROUPING SETS`` and summarised in the same action;
* MutualInformation needs marginal frequencies and runs its own query; ColumnCount reads the
  schema only.

Semantics follow Deequ: population standard deviation and variance, excess kurtosis, a ``where``
turns filtered rows into NULL for the aggregate (so Completeness over zero selected rows is NaN
and Mean is an "Empty state" failure), grouping analyzers ignore rows whose grouping columns are
all NULL, Histogram counts NULL as ``NullValue``.

Example::

    ctx = (AnalysisRunner(spark).onData(df)
           .addAnalyzer(Size()).addAnalyzer(Completeness("email")).run())
    AnalyzerContext.successMetricsAsDataFrame(spark, ctx).show()
"""

from __future__ import annotations

import copy
import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql import types as T

from quality._format import Some, case_class, java_double, scala
from quality.metrics import (
    Distribution,
    DistributionValue,
    DoubleMetric,
    EmptyStateException,
    Entity,
    HistogramMetric,
    IllegalAnalyzerParameterException,
    KeyedDoubleMetric,
    Metric,
    MetricCalculationException,
    NoColumnsSpecifiedException,
    NoSuchColumnException,
    NumberOfSpecifiedColumnsException,
    WrongColumnTypeException,
    iter_flat_success,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

NULL_FIELD_REPLACEMENT = "NullValue"
MAXIMUM_ALLOWED_DETAIL_BINS = 1000
DOUBLE_MAX = 1.7976931348623157e308
DOUBLE_MIN = -DOUBLE_MAX

_NUMERIC_TYPES = (T.ByteType, T.ShortType, T.IntegerType, T.LongType, T.FloatType,
                  T.DoubleType, T.DecimalType)


# --------------------------------------------------------------------------- options


class NullBehavior(str, Enum):
    """How row-level results (and MinLength/MaxLength) treat NULL values."""

    Ignore = "Ignore"
    EmptyString = "EmptyString"
    Fail = "Fail"

    def __str__(self) -> str:
        return self.value


class FilteredRowOutcome(str, Enum):
    """Row-level outcome of rows excluded by a ``where`` filter."""

    NULL = "NULL"
    TRUE = "TRUE"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class AnalyzerOptions:
    """Deequ's ``AnalyzerOptions(nullBehavior, filteredRow)``."""

    nullBehavior: NullBehavior = NullBehavior.Ignore
    filteredRow: FilteredRowOutcome = FilteredRowOutcome.TRUE

    def __post_init__(self) -> None:
        object.__setattr__(self, "nullBehavior", NullBehavior(self.nullBehavior))
        object.__setattr__(self, "filteredRow", FilteredRowOutcome(self.filteredRow))

    def __str__(self) -> str:
        return f"AnalyzerOptions({self.nullBehavior},{self.filteredRow})"


def _opt(value: Any) -> Any:
    return None if value is None else Some(value)


# --------------------------------------------------------------------------- helpers


def sel(column: Column, where: str | None) -> Column:
    """Deequ's conditionalSelection: the value where the filter holds, else NULL."""
    return F.when(F.expr(where), column) if where else column


def conditional_count(where: str | None) -> Column:
    """Deequ's conditionalCount: rows passing the filter (all rows without one)."""
    return F.sum(F.expr(where).cast("long")) if where else F.count(F.lit(1))


def col(name: str) -> Column:
    """A column reference that survives dots and spaces in the name."""
    return F.col("`" + name.replace("`", "``") + "`")


def quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _field_type(schema: T.StructType, column: str) -> T.DataType:
    return schema[column].dataType


def scala_type_name(dtype: T.DataType) -> str:
    """Spark's Scala name of a type: ``StringType``, ``DecimalType(10,2)``."""
    if isinstance(dtype, T.DecimalType):
        return f"DecimalType({dtype.precision},{dtype.scale})"
    if isinstance(dtype, (T.StructType, T.ArrayType, T.MapType)):
        return dtype.simpleString()
    return type(dtype).__name__


def has_column(column: str) -> Callable[[T.StructType], None]:
    def check(schema: T.StructType) -> None:
        if column not in schema.fieldNames():
            raise NoSuchColumnException(f"Input data does not include column {column}!")
    return check


def is_numeric(column: str) -> Callable[[T.StructType], None]:
    def check(schema: T.StructType) -> None:
        dtype = _field_type(schema, column)
        if not isinstance(dtype, _NUMERIC_TYPES):
            raise WrongColumnTypeException(
                f"Expected type of column {column} to be one of (ByteType,ShortType,IntegerType,"
                f"LongType,FloatType,DoubleType,DecimalType), but found "
                f"{scala_type_name(dtype)} instead!"
            )
    return check


def is_string(column: str) -> Callable[[T.StructType], None]:
    def check(schema: T.StructType) -> None:
        dtype = _field_type(schema, column)
        if not isinstance(dtype, T.StringType):
            raise WrongColumnTypeException(
                f"Expected type of column {column} to be StringType, but found "
                f"{scala_type_name(dtype)} instead!"
            )
    return check


def is_not_nested(column: str) -> Callable[[T.StructType], None]:
    def check(schema: T.StructType) -> None:
        dtype = _field_type(schema, column)
        if isinstance(dtype, (T.StructType, T.MapType, T.ArrayType)):
            raise WrongColumnTypeException(
                f"Unsupported nested column type of column {column}: {scala_type_name(dtype)}!"
            )
    return check


def at_least_one(columns: Sequence[str]) -> Callable[[T.StructType], None]:
    def check(_: T.StructType) -> None:
        if not columns:
            raise NoColumnsSpecifiedException("At least one column needs to be specified!")
    return check


def exactly_n_columns(columns: Sequence[str], n: int) -> Callable[[T.StructType], None]:
    def check(_: T.StructType) -> None:
        if len(columns) != n:
            raise NumberOfSpecifiedColumnsException(
                f"{n} columns have to be specified! Currently, columns contains only "
                f"{len(columns)} column(s): {','.join(columns)}!"
            )
    return check


def _param_check(ok: bool, message: str) -> Callable[[T.StructType], None]:
    def check(_: T.StructType) -> None:
        if not ok:
            raise IllegalAnalyzerParameterException(message)
    return check


def _as_list(columns: str | Iterable[str]) -> tuple[str, ...]:
    return (columns,) if isinstance(columns, str) else tuple(columns)


# --------------------------------------------------------------------------- base classes


class UnsupportedAnalyzerError(TypeError):
    """An analyzer that derives from none of the computation bases the engine can run."""


class Analyzer(ABC):
    """Base of all analyzers. Subclasses set ``_fields`` (their Deequ constructor arguments).

    A concrete analyzer also derives from exactly one computation base, which sets ``kind`` and
    declares the hooks the engine calls: :class:`ScanAnalyzer`, :class:`GroupingAnalyzer`,
    :class:`DirectAnalyzer` or :class:`SchemaAnalyzer`.
    """

    metric_name: str = ""
    kind: ClassVar[str]  # scan | group | direct | meta, set by the computation base

    @abstractmethod
    def _fields(self) -> tuple[Any, ...]:
        """The Deequ constructor arguments, in order (identity, repr and serialization)."""

    def _key(self) -> tuple[Any, ...]:
        return tuple(_hashable(f) for f in self._fields())

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self._key() == other._key()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._key()))

    def __repr__(self) -> str:
        return case_class(type(self).__name__, self._fields())

    __str__ = __repr__

    # ---- identity of the produced metric
    @property
    def instance(self) -> str:
        return getattr(self, "column", "*")

    @property
    def entity(self) -> Entity:
        return Entity.Column

    @property
    def where(self) -> str | None:
        return getattr(self, "_where", None)

    def columns_referenced(self) -> tuple[str, ...]:
        column = getattr(self, "column", None)
        return (column,) if column else ()

    def preconditions(self) -> list[Callable[[T.StructType], None]]:
        return []

    def sql_expressions(self) -> list[str]:
        """SQL snippets (filters, predicates) validated against the schema before running."""
        return [self.where] if self.where else []

    # ---- metric construction
    def to_success(self, value: Any) -> Metric:
        return DoubleMetric(self.entity, self.metric_name, self.instance, float(value))

    def to_failure(self, exc: Exception) -> Metric:
        return DoubleMetric(self.entity, self.metric_name, self.instance, None, exc)

    def empty_failure(self) -> Metric:
        return self.to_failure(
            EmptyStateException(f"Empty state for analyzer {self}, all input values were NULL.")
        )

    def resolved(self, schema: T.StructType, *, ansi: bool = True) -> Analyzer:
        """The analyzer as computed on data of ``schema`` (equal to ``self``): some analyzers
        plan cheaper expressions for some column types. ``ansi`` is Spark's
        ``spark.sql.ansi.enabled``. The engine checks the preconditions on the result."""
        return self


GROUP_STATS = ("n", "groups", "unique", "clnc", "dup")


class ScanAnalyzer(Analyzer):
    """Computed from aggregate expressions that share one aggregation with other analyzers."""

    kind = "scan"
    #: True when the aggregates are Spark ImperativeAggregates (percentile, HyperLogLog): the
    #: engine computes those apart from the others, which then keep Spark's generated code.
    imperative: ClassVar[bool] = False

    @abstractmethod
    def scan_aggregates(self) -> list[tuple[Any, Column]]:
        """(key, aggregate) pairs; equal keys are computed once per run."""

    @abstractmethod
    def from_scan(self, values: list[Any]) -> Metric:
        """The metric from the values of :meth:`scan_aggregates`, in the same order."""


class GroupingAnalyzer(Analyzer):
    """Computed from the group counts of one grouping set, shared by equal specs."""

    kind = "group"
    #: The statistics :meth:`from_group` reads (the engine computes only those): ``n`` rows,
    #: ``groups``, ``unique`` (groups of one row), ``clnc`` (sum of count * ln(count)), ``dup``
    #: (rows in groups of more than one row).
    group_stats: ClassVar[frozenset[str]] = frozenset(GROUP_STATS)

    @abstractmethod
    def group_spec(self) -> GroupSpec:
        """The grouping set (columns, filter, histogram options) this analyzer counts."""

    @abstractmethod
    def from_group(self, stats: Mapping[str, Any]) -> Metric:
        """The metric from the statistics the engine gathered for :meth:`group_spec`."""


class DirectAnalyzer(Analyzer):
    """Runs its own query over the data."""

    kind = "direct"

    @abstractmethod
    def compute(self, df: DataFrame) -> Metric:
        """The metric of ``df``."""


class SchemaAnalyzer(Analyzer):
    """Reads the schema only; no job runs."""

    kind = "meta"

    @abstractmethod
    def compute_from_schema(self, schema: T.StructType) -> Metric:
        """The metric of ``schema``."""


COMPUTATION_BASES = (ScanAnalyzer, GroupingAnalyzer, DirectAnalyzer, SchemaAnalyzer)


def _hashable(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, Some):
        return ("Some", _hashable(value.value))
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value


class _ColumnAnalyzer(ScanAnalyzer):
    """Single-column scan analyzer with an optional where."""

    numeric_only = False

    def __init__(self, column: str, where: str | None = None) -> None:
        self.column = column
        self._where = where

    def _fields(self) -> tuple[Any, ...]:
        return (self.column, _opt(self._where))

    def preconditions(self) -> list[Callable[[T.StructType], None]]:
        out = [has_column(self.column)]
        if self.numeric_only:
            out.append(is_numeric(self.column))
        return out

    def value(self) -> Column:
        return sel(col(self.column), self._where)


class _SingleAggregate(_ColumnAnalyzer):
    """Analyzers whose state is a single nullable aggregate value."""

    @abstractmethod
    def aggregate(self) -> Column:
        """The aggregate over :meth:`value`; NULL when no value was aggregated."""

    def scan_aggregates(self) -> list[tuple[Any, Column]]:
        return [((type(self).__name__, self._key()), self.aggregate())]

    def from_scan(self, values: list[Any]) -> Metric:
        (value,) = values
        if value is None:
            return self.empty_failure()
        return self.to_success(float(value))


# --------------------------------------------------------------------------- scan analyzers


class _WholeDataset:
    """Analyzers of the whole dataset (instance ``*``), filtered by ``where`` only."""

    def __init__(self, where: str | None = None) -> None:
        self._where = where

    def _fields(self) -> tuple[Any, ...]:
        return (_opt(self._where),)

    @property
    def instance(self) -> str:
        return "*"

    @property
    def entity(self) -> Entity:
        return Entity.Dataset


class Size(_WholeDataset, ScanAnalyzer):
    """Number of rows (passing ``where``)."""

    metric_name = "Size"

    def scan_aggregates(self) -> list[tuple[Any, Column]]:
        return [(("count", self._where), conditional_count(self._where))]

    def from_scan(self, values: list[Any]) -> Metric:
        (count,) = values
        return self.empty_failure() if count is None else self.to_success(float(count))


class ColumnCount(_WholeDataset, SchemaAnalyzer):
    """Number of columns of the data (read from the schema: no Spark job)."""

    metric_name = "ColumnCount"

    def _fields(self) -> tuple[Any, ...]:
        return ()  # Deequ's ColumnCount() takes no filter: its string is "ColumnCount()"

    def compute_from_schema(self, schema: T.StructType) -> Metric:
        return self.to_success(float(len(schema.fields)))


class Completeness(_ColumnAnalyzer):
    """Fraction of non-null values (of the rows passing ``where``)."""

    metric_name = "Completeness"

    def __init__(self, column: str, where: str | None = None,
                 analyzerOptions: AnalyzerOptions | None = None) -> None:
        super().__init__(column, where)
        self.analyzerOptions = analyzerOptions

    def _fields(self) -> tuple[Any, ...]:
        return (self.column, _opt(self._where), _opt(self.analyzerOptions))

    def preconditions(self) -> list[Callable[[T.StructType], None]]:
        return [has_column(self.column), is_not_nested(self.column)]

    def scan_aggregates(self) -> list[tuple[Any, Column]]:
        matches = F.sum(self.value().isNotNull().cast("int"))
        return [(("completeness", self.column, self._where), matches),
                (("count", self._where), conditional_count(self._where))]

    def from_scan(self, values: list[Any]) -> Metric:
        return _ratio_metric(self, values)


def _ratio_metric(analyzer: Analyzer, values: list[Any]) -> Metric:
    matches, count = values
    if matches is None or count is None:
        return analyzer.empty_failure()
    return analyzer.to_success(float("nan") if count == 0 else matches / count)


class Compliance(ScanAnalyzer):
    """Fraction of rows satisfying a SQL predicate (Deequ ``Compliance``)."""

    metric_name = "Compliance"

    def __init__(self, instance: str, predicate: str, where: str | None = None,
                 columns: Sequence[str] | None = None,
                 analyzerOptions: AnalyzerOptions | None = None) -> None:
        self._instance = instance
        self.predicate = predicate
        self._where = where
        self.columns = list(columns or [])
        self.analyzerOptions = analyzerOptions
        self._evaluated: Column | None = None  # an equivalent of predicate, see resolved()

    def _fields(self) -> tuple[Any, ...]:
        return (self._instance, self.predicate, _opt(self._where), self.columns,
                _opt(self.analyzerOptions))

    @property
    def instance(self) -> str:
        return self._instance

    def columns_referenced(self) -> tuple[str, ...]:
        return tuple(self.columns)

    def preconditions(self) -> list[Callable[[T.StructType], None]]:
        return [has_column(c) for c in self.columns]

    def sql_expressions(self) -> list[str]:
        return [self.predicate] + super().sql_expressions()

    def resolved(self, schema: T.StructType, *, ansi: bool = True) -> Compliance:
        """Deequ's isNonNegative / isPositive predicates cast each value to DECIMAL(20,10),
        which Spark does through a decimal string per row. On a non-ANSI session, for double and
        integer columns, the same outcome is planned from plain comparisons (see
        :func:`decimal_sign_predicate`)."""
        if ansi or len(self.columns) != 1:
            return self
        for pattern, strict in ((_NON_NEGATIVE, False), (_POSITIVE, True)):
            match = pattern.fullmatch(self.predicate)
            if match and match["column"] == self.columns[0] \
                    and match["column"] in schema.fieldNames() \
                    and isinstance(_field_type(schema, match["column"]), _SIGN_FAST_TYPES):
                planned = Compliance(self._instance, self.predicate, self._where, self.columns,
                                     self.analyzerOptions)
                planned._evaluated = decimal_sign_predicate(
                    match["column"], self.predicate, strict,
                    isinstance(_field_type(schema, match["column"]), T.DoubleType))
                return planned
        return self

    def scan_aggregates(self) -> list[tuple[Any, Column]]:
        evaluated = self._evaluated
        predicate = F.expr(self.predicate) if evaluated is None else evaluated
        matches = F.sum(sel(predicate, self._where).cast("int"))
        key = "compliance" if evaluated is None else "compliance:sign"
        return [((key, self.predicate, self._where), matches),
                (("count", self._where), conditional_count(self._where))]

    def from_scan(self, values: list[Any]) -> Metric:
        return _ratio_metric(self, values)


# Deequ's isNonNegative and isPositive predicates (quality.checks writes them the same way).
_NON_NEGATIVE = re.compile(
    r"COALESCE\(CAST\((?P<column>[A-Za-z_][A-Za-z0-9_]*) AS DECIMAL\(20,10\)\), 0\.0\) >= 0")
_POSITIVE = re.compile(
    r"COALESCE\(CAST\((?P<column>[A-Za-z_][A-Za-z0-9_]*) AS DECIMAL\(20,10\)\), 1\.0\) > 0")
_SIGN_FAST_TYPES = (T.ByteType, T.ShortType, T.IntegerType, T.LongType, T.DoubleType)


def decimal_sign_predicate(column: str, predicate: str, strict: bool, is_double: bool) -> Column:
    """``predicate`` (``COALESCE(CAST(c AS DECIMAL(20,10)), d) >= 0`` or ``> 0``) from
    comparisons, for a double or integer column on a non-ANSI session.

    The cast rounds half-up to 10 decimals and yields NULL (hence the default, which passes)
    for NULL, NaN, infinities and magnitudes of 10^10 and more. Away from the two rounding
    edges the outcome is the sign test, or true below -10^10; values near zero
    (|x| <= 1e-9) or near 10^10 are rare and evaluated by ``predicate`` itself, so the result
    is the same for every value.
    """
    x = col(column)
    sign = (x > 0) if strict else (x >= 0)
    planned = F.when(x.isNull(), F.lit(True))
    if is_double:
        planned = planned.when(F.isnan(x), F.lit(True))
    magnitude = F.abs(x.cast("double"))
    edge = (magnitude <= F.lit(1e-9)) | magnitude.between(9e9, 1.1e10)
    return planned.when(edge, F.expr(predicate)).otherwise(sign | (x < F.lit(-1e10)))


class PatternMatch(_ColumnAnalyzer):
    """Fraction of values matching a regex (NULL counts as not matching)."""

    metric_name = "PatternMatch"

    def __init__(self, column: str, pattern: str | re.Pattern[str], where: str | None = None,
                 analyzerOptions: AnalyzerOptions | None = None) -> None:
        super().__init__(column, where)
        self.pattern = pattern.pattern if isinstance(pattern, re.Pattern) else str(pattern)
        self.analyzerOptions = analyzerOptions

    def _fields(self) -> tuple[Any, ...]:
        return (self.column, self.pattern, _opt(self._where), _opt(self.analyzerOptions))

    def preconditions(self) -> list[Callable[[T.StructType], None]]:
        return [has_column(self.column), is_string(self.column)]

    def match_expression(self) -> Column:
        extracted = F.regexp_extract(col(self.column), self.pattern, 0)
        return F.when(extracted != F.lit(""), 1).otherwise(0)

    def scan_aggregates(self) -> list[tuple[Any, Column]]:
        matches = F.sum(sel(self.match_expression(), self._where).cast("int"))
        return [(("pattern", self.column, self.pattern, self._where), matches),
                (("count", self._where), conditional_count(self._where))]

    def from_scan(self, values: list[Any]) -> Metric:
        return _ratio_metric(self, values)


class _DoubleAggregate(_SingleAggregate):
    """A numeric column's values as double, aggregated by one Spark function."""

    numeric_only = True
    function: Callable[[Column], Column] = F.avg

    def aggregate(self) -> Column:
        return type(self).function(self.value().cast("double"))


class _SumAggregate(_DoubleAggregate):
    """Sum and Mean: on a DECIMAL column Deequ sums the decimals and converts the sum to double
    (``sum(col).cast(DoubleType)``, Mean divides it by the count); summing the values as
    doubles differs in the last digit (17239.699999999997 vs 17239.7). Other types are summed
    as doubles (the same value, and no long overflow on an ANSI session)."""

    _exact_decimal = False

    def resolved(self, schema: T.StructType, *, ansi: bool = True) -> Analyzer:
        if self.column in schema.fieldNames() and isinstance(
                _field_type(schema, self.column), T.DecimalType):
            planned = copy.copy(self)
            planned._exact_decimal = True
            return planned
        return self

    def aggregate(self) -> Column:
        if not self._exact_decimal:
            return super().aggregate()
        total = F.sum(self.value()).cast("double")
        if type(self).metric_name == "Mean":
            return total / F.count(self.value())
        return total


def _double_aggregate(name: str, function: Callable[[Column], Column], doc: str,
                      base: type[_DoubleAggregate] = _DoubleAggregate) -> type[_DoubleAggregate]:
    return type(name, (base,), {"__doc__": doc, "__module__": __name__, "metric_name": name,
                                "function": staticmethod(function)})


class Mean(_SumAggregate):
    """Mean of a numeric column."""

    metric_name = "Mean"
    function = staticmethod(F.avg)  # type: ignore[assignment]


class Sum(_SumAggregate):
    """Sum of a numeric column."""

    metric_name = "Sum"
    function = staticmethod(F.sum)  # type: ignore[assignment]


StandardDeviation = _double_aggregate(
    "StandardDeviation", F.stddev_pop,
    "Population standard deviation (Deequ divides by n, not n - 1).")
Variance = _double_aggregate("Variance", F.var_pop, "Population variance.")


class _HigherMoment(_DoubleAggregate):
    """Skewness and Kurtosis: 0.0 when the second central moment is 0 (all values equal, or one
    value), as Deequ's ``SkewnessState``/``KurtosisState.metricValue``; an empty state only when
    no value is counted. Spark's ``skewness``/``kurtosis`` answer NULL there (NaN with
    ``spark.sql.legacy.statisticalAggregate``), which would read as "all values were NULL"."""

    def aggregate(self) -> Column:
        values = self.value().cast("double")
        return (F.when(F.count(values) == 0, F.lit(None).cast("double"))
                .when(F.var_pop(values) == 0, F.lit(0.0))
                .otherwise(type(self).function(values)))


Skewness = _double_aggregate("Skewness", F.skewness, "Population skewness (g1).", _HigherMoment)
Kurtosis = _double_aggregate("Kurtosis", F.kurtosis, "Excess kurtosis (normal distribution = 0).",
                             _HigherMoment)


class ApproxCountDistinct(_SingleAggregate):
    """HyperLogLog++ estimate of the number of distinct non-null values."""

    metric_name = "ApproxCountDistinct"
    imperative = True

    def aggregate(self) -> Column:
        return F.approx_count_distinct(self.value())


class ZerosCount(_SingleAggregate):
    """Number of values equal to zero."""

    metric_name = "ZerosCount"
    numeric_only = True

    def aggregate(self) -> Column:
        return F.sum(F.when(self.value() == 0, 1).otherwise(0)).cast("long")


class _MinMax(_ColumnAnalyzer):
    numeric_only = True
    function: Callable[[Column], Column] = F.min

    def __init__(self, column: str, where: str | None = None,
                 analyzerOptions: AnalyzerOptions | None = None) -> None:
        super().__init__(column, where)
        self.analyzerOptions = analyzerOptions

    def _fields(self) -> tuple[Any, ...]:
        return (self.column, _opt(self._where), _opt(self.analyzerOptions))

    def scan_aggregates(self) -> list[tuple[Any, Column]]:
        fn = type(self).function
        return [((type(self).__name__, self.column, self._where),
                 fn(self.value().cast("double")))]

    def from_scan(self, values: list[Any]) -> Metric:
        (value,) = values
        return self.empty_failure() if value is None else self.to_success(float(value))


class Minimum(_MinMax):
    metric_name = "Minimum"
    function = staticmethod(F.min)  # type: ignore[assignment]


class Maximum(_MinMax):
    metric_name = "Maximum"
    function = staticmethod(F.max)  # type: ignore[assignment]


class _Length(_MinMax):
    numeric_only = False

    def preconditions(self) -> list[Callable[[T.StructType], None]]:
        return [has_column(self.column), is_string(self.column)]

    def length_expression(self) -> Column:
        raw = col(self.column)
        behavior = (self.analyzerOptions or AnalyzerOptions()).nullBehavior
        if behavior == NullBehavior.EmptyString:
            length = F.length(F.coalesce(raw, F.lit(""))).cast("double")
        elif behavior == NullBehavior.Fail:
            extreme = DOUBLE_MAX if isinstance(self, MaxLength) else DOUBLE_MIN
            length = F.when(raw.isNull(), F.lit(extreme)).otherwise(F.length(raw).cast("double"))
        else:
            length = F.length(raw).cast("double")
        return sel(length, self._where)

    def scan_aggregates(self) -> list[tuple[Any, Column]]:
        fn = type(self).function
        return [((type(self).__name__, self.column, self._where, str(self.analyzerOptions)),
                 fn(self.length_expression()))]


class MaxLength(_Length):
    metric_name = "MaxLength"
    function = staticmethod(F.max)  # type: ignore[assignment]


class MinLength(_Length):
    metric_name = "MinLength"
    function = staticmethod(F.min)  # type: ignore[assignment]


class Range(_ColumnAnalyzer):
    """Maximum minus minimum."""

    metric_name = "Range"
    numeric_only = True

    def scan_aggregates(self) -> list[tuple[Any, Column]]:
        v = self.value().cast("double")
        return [(("Minimum", self.column, self._where), F.min(v)),
                (("Maximum", self.column, self._where), F.max(v))]

    def from_scan(self, values: list[Any]) -> Metric:
        low, high = values
        if low is None or high is None:
            return self.empty_failure()
        return self.to_success(float(high) - float(low))


class ExactQuantile(_ColumnAnalyzer):
    """Exact (interpolated) quantile, Spark's ``percentile``."""

    metric_name = "ExactQuantile"
    imperative = True
    numeric_only = True

    def __init__(self, column: str, quantile: float, where: str | None = None) -> None:
        super().__init__(column, where)
        self.quantile = float(quantile)

    def _fields(self) -> tuple[Any, ...]:
        return (self.column, self.quantile, _opt(self._where))

    def preconditions(self) -> list[Callable[[T.StructType], None]]:
        return super().preconditions() + [_param_check(
            0.0 <= self.quantile <= 1.0,
            "Quantile parameter must be in the closed interval [0, 1]. "
            f"Currently, the value is: {java_double(self.quantile)}!")]

    def scan_aggregates(self) -> list[tuple[Any, Column]]:
        expr = F.percentile(self.value().cast("double"), F.lit(self.quantile))
        return [(("percentile", self.column, self._where, self.quantile), expr)]

    def from_scan(self, values: list[Any]) -> Metric:
        (value,) = values
        return self.empty_failure() if value is None else self.to_success(float(value))


class InterquartileRange(_ColumnAnalyzer):
    """Exact Q3 - Q1."""

    metric_name = "InterquartileRange"
    imperative = True
    numeric_only = True

    def scan_aggregates(self) -> list[tuple[Any, Column]]:
        v = self.value().cast("double")
        return [(("percentile", self.column, self._where, 0.25), F.percentile(v, F.lit(0.25))),
                (("percentile", self.column, self._where, 0.75), F.percentile(v, F.lit(0.75)))]

    def from_scan(self, values: list[Any]) -> Metric:
        q1, q3 = values
        if q1 is None or q3 is None:
            return self.empty_failure()
        return self.to_success(float(q3) - float(q1))


def _quantile_checks(quantiles: Sequence[float], relative_error: float
                     ) -> list[Callable[..., None]]:
    checks = [_param_check(0.0 <= q <= 1.0,
                           "Quantile parameter must be in the closed interval [0, 1]. "
                           f"Currently, the value is: {java_double(q)}!") for q in quantiles]
    checks.append(_param_check(0.0 <= relative_error <= 1.0,
                               "Relative error parameter must be in the closed interval [0, 1]. "
                               f"Currently, the value is: {java_double(relative_error)}!"))
    return checks


def _accuracy(relative_error: float) -> int:
    return max(1, int(round(1.0 / relative_error))) if relative_error > 0 else 1_000_000


class ApproxQuantile(_ColumnAnalyzer):
    """Approximate quantile (Spark's ``percentile_approx`` with accuracy 1 / relativeError)."""

    imperative = True
    numeric_only = True

    def __init__(self, column: str, quantile: float, relativeError: float = 0.01,
                 where: str | None = None) -> None:
        super().__init__(column, where)
        self.quantile = float(quantile)
        self.relativeError = float(relativeError)

    def _fields(self) -> tuple[Any, ...]:
        return (self.column, self.quantile, self.relativeError, _opt(self._where))

    @property
    def metric_name(self) -> str:  # type: ignore[override]
        """Deequ names the metric after the quantile: ``ApproxQuantile-0.25``."""
        return f"ApproxQuantile-{java_double(self.quantile)}"

    def preconditions(self) -> list[Callable[[T.StructType], None]]:
        return super().preconditions() + _quantile_checks([self.quantile], self.relativeError)

    def scan_aggregates(self) -> list[tuple[Any, Column]]:
        expr = F.percentile_approx(self.value().cast("double"), self.quantile,
                                   _accuracy(self.relativeError))
        return [(("approx_quantile", self.column, self._where, self.quantile,
                  self.relativeError), expr)]

    def from_scan(self, values: list[Any]) -> Metric:
        (value,) = values
        return self.empty_failure() if value is None else self.to_success(float(value))


class ApproxQuantiles(_ColumnAnalyzer):
    """Several approximate quantiles at once (a KeyedDoubleMetric keyed by quantile)."""

    metric_name = "ApproxQuantiles"
    imperative = True
    numeric_only = True

    def __init__(self, column: str, quantiles: Sequence[float], relativeError: float = 0.01,
                 where: str | None = None) -> None:
        super().__init__(column, where)
        self.quantiles = [float(q) for q in quantiles]
        self.relativeError = float(relativeError)

    def _fields(self) -> tuple[Any, ...]:
        return (self.column, self.quantiles, self.relativeError)

    def preconditions(self) -> list[Callable[[T.StructType], None]]:
        return super().preconditions() + _quantile_checks(self.quantiles, self.relativeError)

    def scan_aggregates(self) -> list[tuple[Any, Column]]:
        v = self.value().cast("double")
        return [(("approx_quantile", self.column, self._where, q, self.relativeError),
                 F.percentile_approx(v, q, _accuracy(self.relativeError)))
                for q in self.quantiles]

    def from_scan(self, values: list[Any]) -> Metric:
        if any(v is None for v in values):
            return self.to_failure(EmptyStateException(
                f"Empty state for analyzer {self}, all input values were NULL."))
        return KeyedDoubleMetric(Entity.Column, self.metric_name, self.column,
                                 {java_double(q): float(v)
                                  for q, v in zip(self.quantiles, values, strict=True)})

    def to_failure(self, exc: Exception) -> Metric:
        return KeyedDoubleMetric(Entity.Column, self.metric_name, self.column, None, exc)


class Correlation(ScanAnalyzer):
    """Pearson correlation of two numeric columns."""

    metric_name = "Correlation"

    def __init__(self, firstColumn: str, secondColumn: str, where: str | None = None) -> None:
        self.firstColumn = firstColumn
        self.secondColumn = secondColumn
        self._where = where

    def _fields(self) -> tuple[Any, ...]:
        return (self.firstColumn, self.secondColumn, _opt(self._where))

    @property
    def instance(self) -> str:
        return f"{self.firstColumn},{self.secondColumn}"

    @property
    def entity(self) -> Entity:
        return Entity.Multicolumn

    def columns_referenced(self) -> tuple[str, ...]:
        return (self.firstColumn, self.secondColumn)

    def preconditions(self) -> list[Callable[[T.StructType], None]]:
        return [has_column(self.firstColumn), is_numeric(self.firstColumn),
                has_column(self.secondColumn), is_numeric(self.secondColumn)]

    _ansi_safe = False

    def resolved(self, schema: T.StructType, *, ansi: bool = True) -> Analyzer:
        """On an ANSI session (Spark 4's default) Spark's ``corr`` raises DIVIDE_BY_ZERO when a
        variance is 0 (a constant column), and an observed aggregate that raises never reports
        (``Observation.get`` would wait forever): there the correlation is planned as
        ``try_divide(covar_pop, stddev_pop * stddev_pop)`` over the complete pairs, NULL (so
        NaN, as Deequ) where a variance is 0. Non-ANSI sessions keep ``corr`` (Deequ's own
        formula, to the last digit)."""
        if not ansi:
            return self
        planned = copy.copy(self)
        planned._ansi_safe = True
        return planned

    def scan_aggregates(self) -> list[tuple[Any, Column]]:
        a = sel(col(self.firstColumn), self._where).cast("double")
        b = sel(col(self.secondColumn), self._where).cast("double")
        both = a.isNotNull() & b.isNotNull()
        pairs = F.count(F.when(both, F.lit(1)))
        key = (self.firstColumn, self.secondColumn, self._where)
        if self._ansi_safe:
            a, b = F.when(both, a), F.when(both, b)
            value = F.try_divide(F.covar_pop(a, b), F.stddev_pop(a) * F.stddev_pop(b))
            return [(("corr_ansi", *key), value), (("corr_n", *key), pairs)]
        return [(("corr", *key), F.corr(a, b)), (("corr_n", *key), pairs)]

    def from_scan(self, values: list[Any]) -> Metric:
        value, pairs = values
        if not pairs:
            return self.empty_failure()
        # Spark's corr is NULL where a variance is 0 (one pair, a constant column); Deequ
        # divides in Scala and reports NaN.
        return self.to_success(float("nan") if value is None else float(value))


class DataTypeInstances(str, Enum):
    """The data types Deequ's DataType analyzer tells apart."""

    Unknown = "Unknown"
    Fractional = "Fractional"
    Integral = "Integral"
    Boolean = "Boolean"
    String = "String"

    def __str__(self) -> str:
        return self.value


FRACTIONAL_PATTERN = r"^(-|\+)? ?\d+((\.\d+)|((\.\d+)?[eE](-|\+)?\d+))$"
INTEGRAL_PATTERN = r"^(-|\+)? ?\d+$"
BOOLEAN_PATTERN = r"^(true|false)$"


#: Column types whose every value, cast to a string, has one known DataTypeInstances class:
#: integers print as ``-?\d+`` (Integral), booleans as ``true``/``false`` (Boolean).
_STATIC_DATA_TYPES: tuple[tuple[type[T.DataType], DataTypeInstances], ...] = (
    (T.ByteType, DataTypeInstances.Integral), (T.ShortType, DataTypeInstances.Integral),
    (T.IntegerType, DataTypeInstances.Integral), (T.LongType, DataTypeInstances.Integral),
    (T.BooleanType, DataTypeInstances.Boolean),
)


def data_type_of(value: Column) -> Column:
    """The DataTypeInstances name of each (string) value."""
    return (F.when(value.isNull(), F.lit("Unknown"))
            .when(value.rlike(FRACTIONAL_PATTERN), F.lit("Fractional"))
            .when(value.rlike(INTEGRAL_PATTERN), F.lit("Integral"))
            .when(value.rlike(BOOLEAN_PATTERN), F.lit("Boolean"))
            .otherwise(F.lit("String")))


class DataType(_ColumnAnalyzer):
    """Distribution of inferred data types of the values (as strings).

    Values are classified by regular expressions on their string form. For integer and
    boolean columns that class is known from the column type (every non-NULL value is Integral,
    respectively Boolean), so :meth:`resolved` plans plain counts instead of the regexes: the
    same distribution at a fraction of the cost.
    """

    metric_name = "Histogram"

    def __init__(self, column: str, where: str | None = None) -> None:
        super().__init__(column, where)
        self._static: DataTypeInstances | None = None

    def preconditions(self) -> list[Callable[[T.StructType], None]]:
        return [has_column(self.column), is_not_nested(self.column)]

    def resolved(self, schema: T.StructType, *, ansi: bool = True) -> DataType:
        if self.column not in schema.fieldNames():
            return self  # the preconditions report it
        dtype = _field_type(schema, self.column)
        static = next((kind for t, kind in _STATIC_DATA_TYPES if isinstance(dtype, t)), None)
        if static is None:
            return self
        planned = DataType(self.column, self._where)
        planned._static = static
        return planned

    def _kind_alias(self) -> str:
        import hashlib

        digest = hashlib.sha1(repr(("datatype", self.column, self._where)).encode()).hexdigest()
        return f"__dq_type_{digest[:16]}"

    def scan_projections(self) -> list[tuple[str, Column]]:
        """The type classification (up to three regex matches) as one projected column, so
        that the five counts below read it instead of re-evaluating the regexes each."""
        if self._static is not None:
            return []
        return [(self._kind_alias(), data_type_of(self.value().cast("string")))]

    def scan_aggregates(self) -> list[tuple[Any, Column]]:
        if self._static is not None:
            # NULL (and rows outside ``where``) are Unknown, every other value is _static.
            value = self.value()
            return [(("datatype", self.column, self._where, "Unknown:static"),
                     F.sum(F.when(value.isNull(), 1).otherwise(0)).cast("long")),
                    (("datatype", self.column, self._where, "known:static"), F.count(value))]
        kind = F.col(self._kind_alias())
        return [(("datatype", self.column, self._where, t.value),
                 F.sum(F.when(kind == t.value, 1).otherwise(0)).cast("long"))
                for t in DataTypeInstances]

    def from_scan(self, values: list[Any]) -> Metric:
        if self._static is not None:
            unknown, known = values
            by_type = {DataTypeInstances.Unknown: unknown, self._static: known}
            values = [by_type.get(t, 0) for t in DataTypeInstances]
        counts = [int(v or 0) for v in values]
        total = sum(counts)
        dist = Distribution(
            {t.value: DistributionValue(c, (c / total) if total else float("nan"))
             for t, c in zip(DataTypeInstances, counts, strict=True)},
            len(DataTypeInstances),
        )
        return HistogramMetric(Entity.Column, "Histogram", self.column, dist)

    def to_failure(self, exc: Exception) -> Metric:
        return HistogramMetric(Entity.Column, "Histogram", self.column, None, exc)


# --------------------------------------------------------------------------- grouping analyzers


@dataclass(frozen=True)
class GroupSpec:
    """One grouping set: the columns (or a derived key) and the filter of a grouping analyzer."""

    columns: tuple[str, ...]
    where: str | None
    histogram: bool = False
    binning: Any = None  # a callable Column -> Column for Histogram(binningUdf=...)
    edges: tuple[float, ...] | None = None
    sum_column: str | None = None


class _FrequencyAnalyzer(Analyzer):
    """Analyzers computed from the value frequencies of one or more columns."""

    has_options = False

    def __init__(self, columns: str | Iterable[str], where: str | None = None,
                 analyzerOptions: AnalyzerOptions | None = None) -> None:
        self.columns = list(_as_list(columns))
        self._where = where
        self.analyzerOptions = analyzerOptions

    def _fields(self) -> tuple[Any, ...]:
        if self.has_options:
            return (self.columns, _opt(self._where), _opt(self.analyzerOptions))
        return (self.columns, _opt(self._where))

    @property
    def instance(self) -> str:
        return ",".join(self.columns)

    @property
    def entity(self) -> Entity:
        return Entity.Column if len(self.columns) == 1 else Entity.Multicolumn

    def columns_referenced(self) -> tuple[str, ...]:
        return tuple(self.columns)

    def preconditions(self) -> list[Callable[[T.StructType], None]]:
        out: list[Callable[[T.StructType], None]] = [at_least_one(self.columns)]
        out += [has_column(c) for c in self.columns]
        out += [is_not_nested(c) for c in self.columns]
        return out



class _GroupedFrequencyAnalyzer(_FrequencyAnalyzer, GroupingAnalyzer):
    """Frequency analyzers computed from the counts of (non all-null) groups."""

    # (numerator, denominator) group statistics of the analyzers that are one ratio of them
    ratio: ClassVar[tuple[str, str]] = ("", "")

    def group_spec(self) -> GroupSpec:
        return GroupSpec(tuple(self.columns), self._where)

    def from_group(self, stats: Mapping[str, Any]) -> Metric:
        numerator, denominator = self.ratio
        total = stats[denominator]
        return self.empty_failure() if not total else self.to_success(stats[numerator] / total)


class Uniqueness(_GroupedFrequencyAnalyzer):
    """Fraction of rows whose value (combination) occurs exactly once."""

    metric_name = "Uniqueness"
    group_stats = frozenset(("n", "unique"))
    ratio = ("unique", "n")
    has_options = True


class Distinctness(_GroupedFrequencyAnalyzer):
    """Distinct values (combinations) divided by the number of rows."""

    metric_name = "Distinctness"
    group_stats = frozenset(("n", "groups"))
    ratio = ("groups", "n")

    def __init__(self, columns: str | Iterable[str], where: str | None = None) -> None:
        super().__init__(columns, where)


class UniqueValueRatio(_GroupedFrequencyAnalyzer):
    """Values occurring exactly once divided by the number of distinct values."""

    metric_name = "UniqueValueRatio"
    group_stats = frozenset(("groups", "unique"))
    ratio = ("unique", "groups")
    has_options = True


class CountDistinct(_GroupedFrequencyAnalyzer):
    """Exact number of distinct values (combinations); 0 on no rows."""

    metric_name = "CountDistinct"
    group_stats = frozenset(("groups",))

    def __init__(self, columns: str | Iterable[str]) -> None:
        super().__init__(columns, None)

    def _fields(self) -> tuple[Any, ...]:
        return (self.columns,)

    def from_group(self, stats: Mapping[str, Any]) -> Metric:
        return self.to_success(float(stats["groups"] or 0))


class Entropy(_GroupedFrequencyAnalyzer):
    """Shannon entropy (natural log) of the value distribution."""

    metric_name = "Entropy"
    group_stats = frozenset(("n", "clnc"))

    def __init__(self, column: str, where: str | None = None) -> None:
        super().__init__([column], where)
        self.column = column

    def _fields(self) -> tuple[Any, ...]:
        return (self.column, _opt(self._where))

    def from_group(self, stats: Mapping[str, Any]) -> Metric:
        import math

        n = stats["n"]
        if not n:
            return self.empty_failure()
        return self.to_success(math.log(n) - stats["clnc"] / n)


class DuplicateRowCount(_GroupedFrequencyAnalyzer):
    """Rows whose value combination occurs more than once (all columns when none given)."""

    metric_name = "DuplicateRowCount"
    group_stats = frozenset(("dup",))
    has_options = True

    def __init__(self, columns: str | Iterable[str] = (), where: str | None = None,
                 analyzerOptions: AnalyzerOptions | None = None) -> None:
        super().__init__(columns, where, analyzerOptions)

    @property
    def instance(self) -> str:
        return ",".join(self.columns) if self.columns else "*"

    @property
    def entity(self) -> Entity:
        if not self.columns:
            return Entity.Dataset
        return super().entity

    def preconditions(self) -> list[Callable[[T.StructType], None]]:
        return super().preconditions()[1:] if not self.columns else super().preconditions()

    def resolved(self, schema: T.StructType, *, ansi: bool = True) -> DuplicateRowCount:
        if self.columns:
            return self
        return DuplicateRowCount(schema.fieldNames(), self._where, self.analyzerOptions)

    def from_group(self, stats: Mapping[str, Any]) -> Metric:
        return self.to_success(float(stats["dup"] or 0))


class Histogram(GroupingAnalyzer):
    """Value distribution of a column; NULL is counted as ``NullValue``.

    ``binningUdf`` is a function ``Column -> Column`` applied before counting (a Python lambda
    over column expressions, not a UDF:
    e.g. ``lambda c: F.when(c > 10, "big").otherwise("small")``).
    ``Histogram.Sum(col)`` / ``Histogram.Count`` give Deequ's aggregate functions.
    """

    metric_name = "Histogram"
    group_stats = frozenset(("n",))

    class Count:
        """Count rows per bin (the default)."""

        def __repr__(self) -> str:
            return "Count"

    @dataclass(frozen=True)
    class Sum:
        """Sum ``column`` per bin instead of counting rows."""

        column: str

        def __repr__(self) -> str:
            return f"Sum({self.column})"

    def __init__(self, column: str, binningUdf: Callable[[Column], Column] | None = None,
                 maxDetailBins: int | None = None, where: str | None = None,
                 computeFrequenciesAsRatio: bool = True,
                 aggregateFunction: Any = None) -> None:
        self.column = column
        self.binningUdf = binningUdf
        self.maxDetailBins = MAXIMUM_ALLOWED_DETAIL_BINS if maxDetailBins is None else int(
            maxDetailBins)
        self._where = where
        self.computeFrequenciesAsRatio = computeFrequenciesAsRatio
        self.aggregateFunction = aggregateFunction or Histogram.Count()

    def _fields(self) -> tuple[Any, ...]:
        udf = None if self.binningUdf is None else Some("<function1>")
        return (self.column, udf, self.maxDetailBins, _opt(self._where),
                self.computeFrequenciesAsRatio, repr(self.aggregateFunction))

    def _key(self) -> tuple[Any, ...]:
        return (self.column, id(self.binningUdf) if self.binningUdf else None,
                self.maxDetailBins, self._where, self.computeFrequenciesAsRatio,
                repr(self.aggregateFunction))

    def preconditions(self) -> list[Callable[[T.StructType], None]]:
        out = [has_column(self.column), is_not_nested(self.column),
               _param_check(self.maxDetailBins <= MAXIMUM_ALLOWED_DETAIL_BINS,
                            f"Cannot return histogram values for more than "
                            f"{MAXIMUM_ALLOWED_DETAIL_BINS} values")]
        if isinstance(self.aggregateFunction, Histogram.Sum):
            out += [has_column(self.aggregateFunction.column),
                    is_numeric(self.aggregateFunction.column)]
        return out

    def group_spec(self) -> GroupSpec:
        return GroupSpec((self.column,), self._where, histogram=True, binning=self.binningUdf,
                         sum_column=self.sum_column())

    def sum_column(self) -> str | None:
        agg = self.aggregateFunction
        return agg.column if isinstance(agg, Histogram.Sum) else None

    def from_group(self, stats: Mapping[str, Any]) -> Metric:
        rows: list[tuple[str, float]] = stats["rows"]
        # Deequ divides by the total of the whole data, not of the rows passing `where`.
        total = stats.get("all", stats["n"]) or 0
        if self.sum_column() is not None:
            total = sum(v for _, v in rows)
        top = sorted(rows, key=lambda kv: (-kv[1], kv[0]))[: self.maxDetailBins]
        values = {}
        for key, count in top:
            ratio = (count / total) if (self.computeFrequenciesAsRatio and total) else (
                float(count) if not self.computeFrequenciesAsRatio else float("nan"))
            values[key] = DistributionValue(int(count), ratio)
        return HistogramMetric(Entity.Column, "Histogram", self.column,
                               Distribution(values, len(rows)))

    def to_failure(self, exc: Exception) -> Metric:
        return HistogramMetric(Entity.Column, "Histogram", self.column, None, exc)


class HistogramBinned(GroupingAnalyzer):
    """Numeric histogram over ``customEdges`` or ``binCount`` equal-width bins from min to max.

    Bins are ``[lo, hi)``; the last bin includes its upper edge. NULLs are ``NullValue``.
    """

    metric_name = "Histogram"
    group_stats = frozenset(("n",))

    def __init__(self, column: str, binCount: int | None = None,
                 customEdges: Sequence[float] | None = None, where: str | None = None) -> None:
        self.column = column
        self.binCount = binCount
        self.customEdges = None if customEdges is None else [float(e) for e in customEdges]
        self._where = where

    def _fields(self) -> tuple[Any, ...]:
        return (self.column, _opt(self.binCount), _opt(self.customEdges), _opt(self._where))

    def preconditions(self) -> list[Callable[[T.StructType], None]]:
        edges = self.customEdges
        return [
            has_column(self.column), is_numeric(self.column),
            _param_check((self.binCount is None) != (edges is None),
                         "Exactly one of binCount and customEdges must be given!"),
            _param_check(self.binCount is None or self.binCount >= 1,
                         f"binCount must be at least 1, got {self.binCount}!"),
            _param_check(edges is None or (len(edges) >= 2 and edges == sorted(set(edges))),
                         "customEdges must hold at least two strictly increasing values!"),
        ]

    def needs_bounds(self) -> bool:
        return self.customEdges is None

    def group_spec(self, edges: Sequence[float] | None = None) -> GroupSpec:
        use = tuple(edges if edges is not None else (self.customEdges or ()))
        return GroupSpec((self.column,), self._where, histogram=True, edges=use)

    def bin_labels(self, edges: Sequence[float]) -> list[str]:
        labels = []
        for i in range(len(edges) - 1):
            close = "]" if i == len(edges) - 2 else ")"
            labels.append(f"[{java_double(edges[i])}, {java_double(edges[i + 1])}{close}")
        return labels

    def from_group(self, stats: Mapping[str, Any]) -> Metric:
        rows: list[tuple[str, float]] = stats["rows"]
        total = stats["n"] or 0
        counts = dict(rows)
        labels = self.bin_labels(stats["edges"]) if stats.get("edges") else []
        ordered = labels + [k for k in counts if k not in labels]
        values = {k: DistributionValue(int(counts.get(k, 0)),
                                       counts.get(k, 0) / total if total else float("nan"))
                  for k in ordered}
        return HistogramMetric(Entity.Column, "Histogram", self.column,
                               Distribution(values, len(values)))

    def to_failure(self, exc: Exception) -> Metric:
        return HistogramMetric(Entity.Column, "Histogram", self.column, None, exc)


def binned_key(column: Column, edges: Sequence[float], labels: Sequence[str]) -> Column:
    """The bin label of a numeric value for ``edges`` (NULL -> NullValue, outside -> NULL)."""
    value = column.cast("double")
    expr = F.when(value.isNull(), F.lit(NULL_FIELD_REPLACEMENT))
    last = len(edges) - 2
    for i in range(len(edges) - 1):
        upper_ok = value <= edges[i + 1] if i == last else value < edges[i + 1]
        expr = expr.when((value >= edges[i]) & upper_ok, F.lit(labels[i]))
    return expr.otherwise(F.lit("OutOfRange"))


class MutualInformation(_FrequencyAnalyzer, DirectAnalyzer):
    """Mutual information (natural log) of two columns, from joint and marginal frequencies."""

    metric_name = "MutualInformation"

    def __init__(self, columns: Sequence[str], where: str | None = None) -> None:
        super().__init__(columns, where)

    @property
    def entity(self) -> Entity:
        return Entity.Multicolumn

    def preconditions(self) -> list[Callable[[T.StructType], None]]:
        return [exactly_n_columns(self.columns, 2)] + super().preconditions()

    def compute(self, df: DataFrame) -> Metric:
        a, b = self.columns
        data = df.select(col(a).alias("a"), col(b).alias("b"),
                         (F.expr(self._where) if self._where else F.lit(True)).alias("w"))
        joint = (data.where(F.coalesce(F.col("w"), F.lit(False)))
                 .where(F.col("a").isNotNull() | F.col("b").isNotNull())
                 .groupBy("a", "b").agg(F.count(F.lit(1)).alias("c")))
        total = F.sum("c").over(_whole())
        ma = joint.groupBy("a").agg(F.sum("c").alias("ca"))
        mb = joint.groupBy("b").agg(F.sum("c").alias("cb"))
        parts = (joint.withColumn("n", total).join(ma, "a").join(mb, "b")
                 .select((F.col("c") / F.col("n")
                          * F.log((F.col("c") / F.col("n"))
                                  / ((F.col("ca") / F.col("n")) * (F.col("cb") / F.col("n")))))
                         .alias("part")))
        (row,) = parts.agg(F.sum("part").alias("mi")).collect()
        return self.empty_failure() if row["mi"] is None else self.to_success(float(row["mi"]))


def _whole() -> Any:
    from pyspark.sql import Window

    return Window.partitionBy()


# --------------------------------------------------------------------------- analyzer context


class AnalyzerContext:
    """The metrics of a run: ``metricMap`` analyzer -> metric (Deequ ``AnalyzerContext``)."""

    def __init__(self, metricMap: Mapping[Analyzer, Metric] | None = None) -> None:
        self.metricMap: dict[Analyzer, Metric] = dict(metricMap or {})

    def __add__(self, other: AnalyzerContext) -> AnalyzerContext:
        return AnalyzerContext({**self.metricMap, **other.metricMap})

    def allMetrics(self) -> list[Metric]:
        return list(self.metricMap.values())

    def metric(self, analyzer: Analyzer) -> Metric | None:
        return self.metricMap.get(analyzer)

    def success_metrics(self, forAnalyzers: Sequence[Analyzer] | None = None
                        ) -> list[dict[str, Any]]:
        """Flattened successful metrics as dicts: entity, instance, name, value."""
        out = []
        for analyzer, metric in self.metricMap.items():
            if forAnalyzers is not None and analyzer not in set(forAnalyzers):
                continue
            # As Deequ's AnalyzerContext: a filtered analyzer's rows say their filter.
            where = getattr(analyzer, "where", None)
            suffix = f" (where: {where})" if where else ""
            out += [{"entity": m.entity.value, "instance": m.instance, "name": m.name + suffix,
                     "value": float(m.value)} for m in iter_flat_success([metric])]
        return out

    @staticmethod
    def successMetricsAsDataFrame(spark: SparkSession, analyzerContext: AnalyzerContext,
                                  forAnalyzers: Sequence[Analyzer] | None = None,
                                  pandas: bool = False) -> Any:
        """Columns ``entity, instance, name, value`` (Deequ's names and order)."""
        rows = analyzerContext.success_metrics(forAnalyzers)
        df = spark.createDataFrame(
            [(r["entity"], r["instance"], r["name"], r["value"]) for r in rows],
            schema=METRICS_SCHEMA,
        )
        return df.toPandas() if pandas else df

    @staticmethod
    def successMetricsAsJson(spark: SparkSession | None, analyzerContext: AnalyzerContext,
                             forAnalyzers: Sequence[Analyzer] | None = None
                             ) -> list[dict[str, Any]]:
        """The same rows as a list of dicts (PyDeequ returns the parsed JSON)."""
        return analyzerContext.success_metrics(forAnalyzers)

    def __repr__(self) -> str:
        return f"AnalyzerContext({self.metricMap!r})"


METRICS_SCHEMA = T.StructType([
    T.StructField("entity", T.StringType(), False),
    T.StructField("instance", T.StringType(), False),
    T.StructField("name", T.StringType(), False),
    T.StructField("value", T.DoubleType(), True),
])


def __getattr__(name: str) -> Any:
    """``from quality.analyzers import AnalysisRunner`` (PyDeequ's import path) without an
    import cycle: the runner lives in :mod:`quality.analysis_runner`, which imports this module."""
    if name in ("AnalysisRunner", "AnalysisRunBuilder"):
        from quality import analysis_runner

        return getattr(analysis_runner, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [  # noqa: F822 - AnalysisRunner is resolved by __getattr__ (PyDeequ's import *)
    "AnalysisRunner", "Analyzer", "AnalyzerContext", "AnalyzerOptions",
    "ApproxCountDistinct", "ApproxQuantile", "ApproxQuantiles", "ColumnCount", "Completeness",
    "Compliance", "Correlation", "CountDistinct", "DataType", "DataTypeInstances",
    "DirectAnalyzer", "Distinctness", "DuplicateRowCount", "Entropy", "ExactQuantile",
    "FilteredRowOutcome", "GroupSpec", "GroupingAnalyzer", "Histogram", "HistogramBinned",
    "InterquartileRange", "Kurtosis", "MaxLength", "Maximum", "Mean", "MetricCalculationException",
    "MinLength", "Minimum", "MutualInformation", "NullBehavior", "PatternMatch", "Range",
    "ScanAnalyzer", "SchemaAnalyzer", "Size", "Skewness", "StandardDeviation", "Sum",
    "UniqueValueRatio", "Uniqueness", "UnsupportedAnalyzerError", "Variance", "ZerosCount",
    "scala",
]

