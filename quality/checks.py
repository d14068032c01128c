"""Deequ's ``Check`` with the full constraint set, PyDeequ-compatible.

``Check(spark, CheckLevel.Error, "desc")`` (PyDeequ) and ``Check(CheckLevel.Error, "desc")``
(Deequ) both work. Methods carry Deequ's Scala names and parameters; assertions are Python
callables (``lambda x: x >= 0.9``); omitted assertions mean "equals 1" as in Deequ. ``where``
filters the constraint added last. Constraint strings and messages are Deequ's:
``CompletenessConstraint(Completeness(email,None,None))``,
``Value: 0.5 does not meet the constraint requirement! <hint>``.

Example::

    check = (Check(spark, CheckLevel.Error, "orders")
             .hasSize(lambda n: n > 0)
             .isComplete("order_id").isUnique("order_id")
             .isContainedIn("status", ["open", "shipped"])
             .isNonNegative("amount").where("status = 'shipped'"))
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from quality._format import java_double, metric_value_text
from quality.analyzers import (
    Analyzer,
    AnalyzerOptions,
    ApproxCountDistinct,
    ApproxQuantile,
    ColumnCount,
    Completeness,
    Compliance,
    Correlation,
    DataType,
    Distinctness,
    DuplicateRowCount,
    Entropy,
    ExactQuantile,
    FilteredRowOutcome,
    Histogram,
    HistogramBinned,
    InterquartileRange,
    Kurtosis,
    Maximum,
    MaxLength,
    Mean,
    Minimum,
    MinLength,
    MutualInformation,
    NullBehavior,
    PatternMatch,
    Range,
    Size,
    Skewness,
    StandardDeviation,
    Sum,
    Uniqueness,
    UniqueValueRatio,
    Variance,
    ZerosCount,
    col,
    quote,
)
from quality.metrics import Distribution, Metric

log = logging.getLogger(__name__)


class CheckLevel(str, Enum):
    """Severity of a check: a failed Error check makes the run's status Error."""

    Error = "Error"
    Warning = "Warning"

    def __str__(self) -> str:
        return self.value


class CheckStatus(str, Enum):
    Success = "Success"
    Warning = "Warning"
    Error = "Error"

    def __str__(self) -> str:
        return self.value


class ConstraintStatus(str, Enum):
    Success = "Success"
    Failure = "Failure"

    def __str__(self) -> str:
        return self.value


class ConstrainableDataTypes(str, Enum):
    """Data types ``hasDataType`` can assert on."""

    Null = "Null"
    Fractional = "Fractional"
    Integral = "Integral"
    Boolean = "Boolean"
    String = "String"
    Numeric = "Numeric"

    def __str__(self) -> str:
        return self.value


class Patterns:
    """Deequ's regular expressions for e-mail, URL, US social security and credit card numbers."""

    EMAIL = (
        r"""(?:[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*|"(?:[\x01-\x08"""
        r"""\x0b\x0c\x0e-\x1f\x21\x23-\x5b\x5d-\x7f]|\\[\x01-\x09\x0b\x0c\x0e-\x7f])*")@(?:(?:"""
        r"""[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]*[a-z0-9])?|\[(?:(?:25[0-5]|"""
        r"""2[0-4][0-9]|[01]?[0-9][0-9]?)\.){3}(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?|"""
        r"""[a-z0-9-]*[a-z0-9]:(?:[\x01-\x08\x0b\x0c\x0e-\x1f\x21-\x5a\x53-\x7f]|\\[\x01-\x09"""
        r"""\x0b\x0c\x0e-\x7f])+)\])"""
    )
    URL = r"""(https?|ftp)://[^\s/$.?#].[^\s]*"""
    SOCIAL_SECURITY_NUMBER_US = (
        r"""((?!219-09-9999|078-05-1120)(?!666|000|9\d{2})\d{3}-(?!00)\d{2}-(?!0{4})\d{4})|"""
        r"""((?!219 09 9999|078 05 1120)(?!666|000|9\d{2})\d{3} (?!00)\d{2} (?!0{4})\d{4})|"""
        r"""((?!219099999|078051120)(?!666|000|9\d{2})\d{3}(?!00)\d{2}(?!0{4})\d{4})"""
    )
    CREDITCARD = (
        r"""\b(?:3[47]\d{2}([\ \-]?)\d{6}\1\d|(?:(?:4\d|5[1-5]|65)\d{2}|6011)([\ \-]?)\d{4}"""
        r"""\2\d{4}\2)\d{4}\b"""
    )


def is_one(value: float) -> bool:
    """Deequ's ``Check.IsOne``."""
    return value == 1.0


IsOne = is_one
MISSING_ANALYSIS = "Missing Analysis, can't run the constraint!"
PROBLEMATIC_METRIC_PICKER = "Can't retrieve the value to assert on"
ASSERTION_EXCEPTION = "Can't execute the assertion"


@dataclass
class ConstraintResult:
    """Outcome of one constraint: status, message (None on success) and the metric."""

    constraint: Constraint
    status: ConstraintStatus
    message: str | None = None
    metric: Metric | None = None


@dataclass
class CheckResult:
    """Outcome of one check: its status and the results of its constraints."""

    check: Check
    status: CheckStatus
    constraintResults: list[ConstraintResult] = field(default_factory=list)


RowLevel = Callable[[DataFrame], Column]


@dataclass(frozen=True)
class Origin:
    """A constraint's creating call: ``Check.<method>(**arguments)`` then ``.where(where)``."""

    method: str
    arguments: dict[str, Any]
    where: str | None = None


class Constraint:
    """A named assertion on the metric of one analyzer (Deequ's AnalysisBasedConstraint).

    ``row_level`` (optional) builds a boolean column telling, per row, whether the row meets the
    constraint; ``row_level_name`` is Deequ's name for that column. ``null_row_fails`` says
    whether a row the constraint judges NULL counts against its metric (Compliance: its
    ``sum(predicate)`` counts a NULL predicate as not compliant) or is not judged (a NULL
    value of ``hasMin`` with ``NullBehavior.Ignore``: the minimum skips it).
    """

    def __init__(self, analyzer: Analyzer, assertion: Callable[[Any], bool], name: str,
                 hint: str | None = None, value_picker: Callable[[Any], Any] | None = None,
                 row_level: RowLevel | None = None, row_level_name: str | None = None,
                 *, null_row_fails: bool = False) -> None:
        self.analyzer = analyzer
        self.assertion = assertion
        self.name = name
        self.hint = hint
        self.value_picker = value_picker
        self.row_level = row_level
        self.row_level_name = row_level_name
        self.null_row_fails = null_row_fails
        # The public Check call that created the constraint (method name, bound arguments,
        # where filter): what the great_expectations and deequ engines translate.
        self.origin: Origin | None = None

    def __str__(self) -> str:
        return self.name

    __repr__ = __str__

    def row_failure(self, data: DataFrame) -> Column | None:
        """TRUE for the rows that count against this constraint's metric (what the gate
        quarantines when the constraint failed); None without row-level results.

        Rows outside the analyzer's ``where`` (NULL included: Deequ's ``conditionalCount``
        counts neither) never fail, whatever ``FilteredRowOutcome`` shows for them; inside,
        a FALSE row-level outcome fails, and a NULL one fails when ``null_row_fails``."""
        if self.row_level is None:
            return None
        where = self.analyzer.where
        in_scope = F.coalesce(F.expr(where), F.lit(False)) if where else F.lit(True)
        judged = F.coalesce(self.row_level(data), F.lit(not self.null_row_fails))
        return in_scope & ~judged

    def evaluate(self, metrics: dict[Analyzer, Metric]) -> ConstraintResult:
        metric = metrics.get(self.analyzer)
        if metric is None:
            return ConstraintResult(self, ConstraintStatus.Failure, MISSING_ANALYSIS)
        if not metric.is_success:
            return ConstraintResult(self, ConstraintStatus.Failure, str(metric.exception), metric)
        try:
            value = self.value_picker(metric.value) if self.value_picker else metric.value
        except Exception as exc:  # noqa: BLE001 - reported in the constraint message
            return ConstraintResult(self, ConstraintStatus.Failure,
                                    f"{PROBLEMATIC_METRIC_PICKER}: {exc}!", metric)
        try:
            ok = self.assertion(value)
        except Exception as exc:  # noqa: BLE001 - reported in the constraint message
            return ConstraintResult(self, ConstraintStatus.Failure,
                                    f"{ASSERTION_EXCEPTION}: {exc}!", metric)
        if bool(ok):
            return ConstraintResult(self, ConstraintStatus.Success, None, metric)
        message = f"Value: {metric_value_text(value)} does not meet the constraint requirement!"
        if self.hint:
            message += f" {self.hint}"
        return ConstraintResult(self, ConstraintStatus.Failure, message, metric)


# --------------------------------------------------------------------------- row-level helpers


def _filtered(where: str | None, options: AnalyzerOptions | None, outcome: Column) -> Column:
    """Rows outside ``where`` get FilteredRowOutcome (TRUE unless the options say NULL)."""
    if not where:
        return outcome
    filtered = (options.filteredRow if options else FilteredRowOutcome.TRUE)
    filtered_value = F.lit(True) if filtered == FilteredRowOutcome.TRUE else F.lit(None).cast(
        "boolean")
    return F.when(F.coalesce(F.expr(where), F.lit(False)), outcome).otherwise(filtered_value)


def _assert_rows(value: Column, assertion: Callable[[Any], bool]) -> Column:
    """Apply a Python assertion per row: as a column expression when the assertion is one
    (``lambda x: x >= 3`` works on Columns), otherwise through a vectorised pandas UDF."""
    try:
        symbolic = assertion(value)
    except Exception:  # noqa: BLE001 - e.g. `a < x < b` needs a Python bool: fall back
        symbolic = None
    if isinstance(symbolic, Column):
        return symbolic.cast("boolean")

    import pandas as pd

    def apply_assertion(values: pd.Series) -> pd.Series:
        return values.map(lambda v: None if pd.isna(v) else bool(assertion(float(v)))).astype(
            "object")

    # Real classes, not strings: postponed annotations (PEP 563) defeat pandas_udf's inference.
    apply_assertion.__annotations__ = {"values": pd.Series, "return": pd.Series}
    # pyspark's stubs only know the functionType forms; pandas_udf(f, returnType) infers the
    # (scalar) type from f's type hints, as its documentation recommends.
    return F.pandas_udf(  # type: ignore[call-overload]
        apply_assertion, "boolean")(value.cast("double"))


def _null_outcome(options: AnalyzerOptions | None, assertion: Callable[[Any], bool],
                  length: bool) -> Column:
    behavior = options.nullBehavior if options else NullBehavior.Ignore
    if behavior == NullBehavior.Fail:
        return F.lit(False)
    if behavior == NullBehavior.EmptyString and length:
        try:
            return F.lit(bool(assertion(0.0)))
        except Exception:  # noqa: BLE001
            return F.lit(False)
    return F.lit(None).cast("boolean")


def _value_rows(column: str, where: str | None, options: AnalyzerOptions | None,
                assertion: Callable[[Any], bool], length: bool) -> RowLevel:
    def build(_: DataFrame) -> Column:
        raw = col(column)
        value = F.length(raw).cast("double") if length else raw.cast("double")
        outcome = F.when(raw.isNull(), _null_outcome(options, assertion, length)).otherwise(
            _assert_rows(value, assertion))
        return _filtered(where, options, outcome)
    return build


def _filter_value(options: AnalyzerOptions | None) -> Column:
    if options is not None and options.filteredRow == FilteredRowOutcome.NULL:
        return F.lit(None).cast("boolean")
    return F.lit(True)


def _filtered_unless_null(where: str | None, options: AnalyzerOptions | None,
                          outcome: Column, *, pattern: bool = False) -> Column:
    """Deequ's ``when(not(where), filtered).otherwise(outcome)`` (uniqueness, patterns): a row
    whose ``where`` is NULL is judged, not filtered. For patterns with FilteredRowOutcome.NULL
    Deequ keeps only the rows passing ``where``."""
    if not where:
        return outcome
    if pattern and options is not None and options.filteredRow == FilteredRowOutcome.NULL:
        return F.when(F.expr(where), outcome)
    return F.when(~F.expr(where), _filter_value(options)).otherwise(outcome)


def _filtered_in_scope(where: str | None, options: AnalyzerOptions | None,
                       outcome: Column) -> Column:
    """Deequ's ``when(not(where), filtered).when(where, outcome)`` (completeness): a row whose
    ``where`` is NULL gets NULL."""
    if not where:
        return outcome
    return F.when(~F.expr(where), _filter_value(options)).when(F.expr(where), outcome)


def _compliance_rows(predicate: str, where: str | None, options: AnalyzerOptions | None
                     ) -> RowLevel:
    # A predicate that is NULL for a row gives NULL, as Deequ's (no COALESCE to FALSE).
    def build(_: DataFrame) -> Column:
        return _filtered(where, options, F.expr(predicate).cast("boolean"))
    return build


def _grouped_rows(columns: Sequence[str], where: str | None, options: AnalyzerOptions | None,
                  single: bool) -> RowLevel:
    """Uniqueness-style: a row passes when its value combination occurs once (``single``) or
    more than once (duplicates, ``single=False`` gives the *non*-duplicate rows as True)."""
    def build(_: DataFrame) -> Column:
        # Deequ: the rows of the same value combination (NULL is a value here) passing
        # `where`, counted over a window; a row passes when that count is 1.
        keys = [col(c) for c in columns]
        counted = F.when(F.expr(where), F.lit(1)) if where else F.lit(1)
        count = F.count(counted).over(Window.partitionBy(*keys))
        outcome = F.when(count == 1, F.lit(True)).otherwise(F.lit(False))
        return _filtered_unless_null(where, options, outcome)
    return build


def _each_not_null(columns: Sequence[str]) -> str:
    parts = [f"({c} IS NOT NULL)" for c in columns]
    expr = parts[0]
    for p in parts[1:]:
        expr = f"({expr} AND {p})"
    return expr


def _any_not_null(columns: Sequence[str]) -> str:
    parts = [f"({c} IS NOT NULL)" for c in columns]
    expr = parts[0]
    for p in parts[1:]:
        expr = f"({expr} OR {p})"
    return expr


def _as_long(value: Any) -> int:
    return int(value)


def _data_type_picker(data_type: ConstrainableDataTypes) -> Callable[[Distribution], float]:
    def ratio(dist: Distribution, key: str, ignore_unknown: bool) -> float:
        values = dist.values
        if not ignore_unknown:
            return values[key].ratio if key in values else 0.0
        absolute = values[key].absolute if key in values else 0
        if absolute == 0:
            return 0.0
        total = sum(v.absolute for v in values.values())
        unknown = values["Unknown"].absolute if "Unknown" in values else 0
        return absolute / (total - unknown)

    def pick(dist: Distribution) -> float:
        if data_type == ConstrainableDataTypes.Null:
            return ratio(dist, "Unknown", False)
        if data_type == ConstrainableDataTypes.Numeric:
            return ratio(dist, "Fractional", True) + ratio(dist, "Integral", True)
        return ratio(dist, data_type.value, True)
    return pick


# --------------------------------------------------------------------------- Check


class Check:
    """A group of constraints with a level and a description (Deequ ``Check``)."""

    def __init__(self, *args: Any, constraints: list[Constraint] | None = None) -> None:
        if args and isinstance(args[0], (CheckLevel, str)) and str(args[0]) in ("Error",
                                                                                 "Warning"):
            self._spark = None
            rest = args
        elif len(args) >= 3 or (len(args) == 2 and not isinstance(args[0], (CheckLevel, str))):
            self._spark = args[0]
            rest = args[1:]
        else:
            raise TypeError("use Check(spark, CheckLevel.Error, 'description') or "
                            "Check(CheckLevel.Error, 'description')")
        if len(rest) < 2:
            raise TypeError("Check needs a level and a description")
        self.level = CheckLevel(str(rest[0]))
        self.description = str(rest[1])
        if len(rest) > 2 and rest[2] is not None:
            constraints = list(rest[2])
        self.constraints: list[Constraint] = list(constraints or [])
        self._last_factory: Callable[[str | None], Constraint] | None = None

    def __repr__(self) -> str:
        return f"Check({self.level},{self.description},{self.constraints})"

    # ---- plumbing
    def _add(self, factory: Callable[[str | None], Constraint]) -> Check:
        self.constraints.append(factory(None))
        self._last_factory = factory
        return self

    def addConstraint(self, constraint: Constraint) -> Check:
        self.constraints.append(constraint)
        self._last_factory = None
        return self

    def where(self, filter: str) -> Check:  # noqa: A002 - Deequ's name
        """Apply a SQL filter to the constraint added last."""
        if self._last_factory is None:
            raise ValueError("where() must follow a constraint that supports filtering "
                             "(e.g. .isComplete('a').where('b > 0'))")
        origin = self.constraints[-1].origin
        self.constraints[-1] = self._last_factory(filter)
        if origin is not None:
            self.constraints[-1].origin = Origin(origin.method, origin.arguments, filter)
        self._last_factory = None
        return self

    def requiredAnalyzers(self) -> list[Analyzer]:
        return list(dict.fromkeys(c.analyzer for c in self.constraints))

    def getRowLevelConstraintColumnNames(self) -> list[str]:
        return [c.row_level_name for c in self.constraints if c.row_level_name]

    def evaluate(self, context: Any) -> CheckResult:
        metrics = context.metricMap if hasattr(context, "metricMap") else context
        results = [c.evaluate(metrics) for c in self.constraints]
        failed = any(r.status == ConstraintStatus.Failure for r in results)
        if failed:
            status = CheckStatus.Error if self.level == CheckLevel.Error else CheckStatus.Warning
        else:
            status = CheckStatus.Success
        return CheckResult(self, status, results)

    # ---- generic builders
    def _metric(self, analyzer_for: Callable[[str | None], Analyzer], label: str,
                assertion: Callable[[Any], bool], hint: str | None,
                picker: Callable[[Any], Any] | None = None,
                row: Callable[[str | None], RowLevel | None] | None = None,
                row_name: str | None = None) -> Check:
        def factory(where: str | None) -> Constraint:
            analyzer = analyzer_for(where)
            return Constraint(analyzer, assertion, f"{label}({analyzer})", hint, picker,
                              row(where) if row else None, row_name)
        return self._add(factory)

    # ---- size and columns
    def hasSize(self, assertion: Callable[[int], bool], hint: str | None = None) -> Check:
        return self._metric(lambda w: Size(w), "SizeConstraint", assertion, hint, _as_long)

    def hasColumnCount(self, assertion: Callable[[int], bool], hint: str | None = None) -> Check:
        return self._metric(lambda w: ColumnCount(), "ColumnCountConstraint", assertion, hint,
                            _as_long)

    # ---- completeness
    def isComplete(self, column: str, hint: str | None = None,
                   analyzerOptions: AnalyzerOptions | None = None) -> Check:
        return self.hasCompleteness(column, is_one, hint, analyzerOptions)

    def hasCompleteness(self, column: str, assertion: Callable[[float], bool],
                        hint: str | None = None,
                        analyzerOptions: AnalyzerOptions | None = None) -> Check:
        def row(where: str | None) -> RowLevel:
            return lambda _df: _filtered_in_scope(where, analyzerOptions, col(column).isNotNull())
        return self._metric(lambda w: Completeness(column, w, analyzerOptions),
                            "CompletenessConstraint", assertion, hint, row=row,
                            row_name=f"Completeness-{column}")

    def areComplete(self, columns: Sequence[str], hint: str | None = None) -> Check:
        return self.satisfies(_each_not_null(columns), "Combined Completeness", is_one, hint,
                              columns=list(columns))

    def haveCompleteness(self, columns: Sequence[str], assertion: Callable[[float], bool],
                         hint: str | None = None) -> Check:
        return self.satisfies(_each_not_null(columns), "Combined Completeness", assertion, hint,
                              columns=list(columns))

    def areAnyComplete(self, columns: Sequence[str], hint: str | None = None) -> Check:
        return self.satisfies(_any_not_null(columns), "Any Completeness", is_one, hint,
                              columns=list(columns))

    def haveAnyCompleteness(self, columns: Sequence[str], assertion: Callable[[float], bool],
                            hint: str | None = None) -> Check:
        return self.satisfies(_any_not_null(columns), "Any Completeness", assertion, hint,
                              columns=list(columns))

    # ---- uniqueness family
    def _uniqueness(self, columns: Sequence[str], assertion: Callable[[float], bool],
                    hint: str | None, options: AnalyzerOptions | None) -> Check:
        cols = list(columns)

        def factory(where: str | None) -> Constraint:
            analyzer = Uniqueness(cols, where, options)
            return Constraint(analyzer, assertion, f"UniquenessConstraint({analyzer})", hint,
                              row_level=_grouped_rows(cols, where, options, True),
                              row_level_name=cols[0])
        return self._add(factory)

    def isUnique(self, column: str, hint: str | None = None,
                 analyzerOptions: AnalyzerOptions | None = None) -> Check:
        return self._uniqueness([column], is_one, hint, analyzerOptions)

    def areUnique(self, columns: Sequence[str], hint: str | None = None,
                  analyzerOptions: AnalyzerOptions | None = None) -> Check:
        """Every combination of ``columns`` occurs once (uniqueness over the column set)."""
        return self._uniqueness(list(columns), is_one, hint, analyzerOptions)

    def isPrimaryKey(self, column: str, *columns: str, hint: str | None = None,
                     analyzerOptions: AnalyzerOptions | None = None) -> Check:
        return self._uniqueness([column, *columns], is_one, hint, analyzerOptions)

    def hasUniqueness(self, columns: str | Sequence[str], assertion: Callable[[float], bool],
                      hint: str | None = None,
                      analyzerOptions: AnalyzerOptions | None = None) -> Check:
        cols = [columns] if isinstance(columns, str) else list(columns)
        return self._uniqueness(cols, assertion, hint, analyzerOptions)

    def hasDistinctness(self, columns: Sequence[str], assertion: Callable[[float], bool],
                        hint: str | None = None) -> Check:
        cols = [columns] if isinstance(columns, str) else list(columns)
        return self._metric(lambda w: Distinctness(cols, w), "DistinctnessConstraint",
                            assertion, hint)

    def hasUniqueValueRatio(self, columns: Sequence[str], assertion: Callable[[float], bool],
                            hint: str | None = None,
                            analyzerOptions: AnalyzerOptions | None = None) -> Check:
        cols = [columns] if isinstance(columns, str) else list(columns)

        def factory(where: str | None) -> Constraint:
            analyzer = UniqueValueRatio(cols, where, analyzerOptions)
            # Deequ's string lacks the closing parenthesis; kept so logs match Deequ's.
            return Constraint(analyzer, assertion, f"UniqueValueRatioConstraint({analyzer}",
                              hint, row_level=_grouped_rows(cols, where, analyzerOptions, True),
                              row_level_name=cols[0])
        return self._add(factory)

    def hasDuplicateRowCount(self, columns: Sequence[str] | None,
                             assertion: Callable[[int], bool], hint: str | None = None) -> Check:
        """Rows whose value combination (of ``columns``, all columns when empty) repeats."""
        cols = [columns] if isinstance(columns, str) else list(columns or [])
        return self._metric(lambda w: DuplicateRowCount(cols, w), "DuplicateRowCountConstraint",
                            assertion, hint, _as_long)

    # ---- distributions
    def hasNumberOfDistinctValues(self, column: str, assertion: Callable[[int], bool],
                                  binningUdf: Callable[[Column], Column] | None = None,
                                  maxBins: int | None = None, hint: str | None = None) -> Check:
        # Deequ counts bins without ratios here (computeFrequenciesAsRatio = false).
        return self._metric(lambda w: Histogram(column, binningUdf, maxBins, w, False),
                            "HistogramBinConstraint", assertion, hint,
                            lambda d: int(d.numberOfBins))

    def hasHistogramValues(self, column: str, assertion: Callable[[Distribution], bool],
                           binningUdf: Callable[[Column], Column] | None = None,
                           maxBins: int | None = None, hint: str | None = None) -> Check:
        return self._metric(lambda w: Histogram(column, binningUdf, maxBins, w),
                            "HistogramConstraint", assertion, hint)

    def hasHistogramBinnedValues(self, column: str, assertion: Callable[[Distribution], bool],
                                 binCount: int | None = None,
                                 customEdges: Sequence[float] | None = None,
                                 hint: str | None = None) -> Check:
        return self._metric(lambda w: HistogramBinned(column, binCount, customEdges, w),
                            "HistogramBinnedConstraint", assertion, hint)

    def hasHistogramBinnedBins(self, column: str, assertion: Callable[[int], bool],
                               binCount: int | None = None,
                               customEdges: Sequence[float] | None = None,
                               hint: str | None = None) -> Check:
        return self._metric(lambda w: HistogramBinned(column, binCount, customEdges, w),
                            "HistogramBinnedBinConstraint", assertion, hint,
                            lambda d: int(d.numberOfBins))

    def hasEntropy(self, column: str, assertion: Callable[[float], bool],
                   hint: str | None = None) -> Check:
        return self._metric(lambda w: Entropy(column, w), "EntropyConstraint", assertion, hint)

    def hasMutualInformation(self, columnA: str, columnB: str,
                             assertion: Callable[[float], bool], hint: str | None = None) -> Check:
        return self._metric(lambda w: MutualInformation([columnA, columnB], w),
                            "MutualInformationConstraint", assertion, hint)

    def hasApproxQuantile(self, column: str, quantile: float, assertion: Callable[[float], bool],
                          hint: str | None = None) -> Check:
        return self._metric(lambda w: ApproxQuantile(column, quantile, where=w),
                            "ApproxQuantileConstraint", assertion, hint)

    def hasExactQuantile(self, column: str, quantile: float, assertion: Callable[[float], bool],
                         hint: str | None = None) -> Check:
        return self._metric(lambda w: ExactQuantile(column, quantile, w),
                            "ExactQuantileConstraint", assertion, hint)

    def hasApproxCountDistinct(self, column: str, assertion: Callable[[float], bool],
                               hint: str | None = None) -> Check:
        return self._metric(lambda w: ApproxCountDistinct(column, w),
                            "ApproxCountDistinctConstraint", assertion, hint)

    def hasCorrelation(self, columnA: str, columnB: str, assertion: Callable[[float], bool],
                       hint: str | None = None) -> Check:
        return self._metric(lambda w: Correlation(columnA, columnB, w), "CorrelationConstraint",
                            assertion, hint)

    # ---- statistics
    def _value_metric(self, cls: type, label: str, row_name: str, column: str,
                      assertion: Callable[[float], bool], hint: str | None,
                      options: AnalyzerOptions | None, length: bool) -> Check:
        def factory(where: str | None) -> Constraint:
            analyzer = cls(column, where, options)
            return Constraint(analyzer, assertion, f"{label}({analyzer})", hint,
                              row_level=_value_rows(column, where, options, assertion, length),
                              row_level_name=f"{row_name}-{column}")
        return self._add(factory)

    def hasMinLength(self, column: str, assertion: Callable[[float], bool],
                     hint: str | None = None,
                     analyzerOptions: AnalyzerOptions | None = None) -> Check:
        return self._value_metric(MinLength, "MinLengthConstraint", "ColumnLength", column,
                                  assertion, hint, analyzerOptions, True)

    def hasMaxLength(self, column: str, assertion: Callable[[float], bool],
                     hint: str | None = None,
                     analyzerOptions: AnalyzerOptions | None = None) -> Check:
        return self._value_metric(MaxLength, "MaxLengthConstraint", "ColumnLength", column,
                                  assertion, hint, analyzerOptions, True)

    def hasMin(self, column: str, assertion: Callable[[float], bool], hint: str | None = None,
               analyzerOptions: AnalyzerOptions | None = None) -> Check:
        # "ColumnMax" for the minimum too: that is Deequ's row-level column name.
        return self._value_metric(Minimum, "MinimumConstraint", "ColumnMax", column,
                                  assertion, hint, analyzerOptions, False)

    def hasMax(self, column: str, assertion: Callable[[float], bool], hint: str | None = None,
               analyzerOptions: AnalyzerOptions | None = None) -> Check:
        return self._value_metric(Maximum, "MaximumConstraint", "ColumnMax", column,
                                  assertion, hint, analyzerOptions, False)

    def hasMean(self, column: str, assertion: Callable[[float], bool],
                hint: str | None = None) -> Check:
        return self._metric(lambda w: Mean(column, w), "MeanConstraint", assertion, hint)

    def hasSum(self, column: str, assertion: Callable[[float], bool],
               hint: str | None = None) -> Check:
        return self._metric(lambda w: Sum(column, w), "SumConstraint", assertion, hint)

    def hasStandardDeviation(self, column: str, assertion: Callable[[float], bool],
                             hint: str | None = None) -> Check:
        return self._metric(lambda w: StandardDeviation(column, w), "StandardDeviationConstraint",
                            assertion, hint)

    def hasVariance(self, column: str, assertion: Callable[[float], bool],
                    hint: str | None = None) -> Check:
        return self._metric(lambda w: Variance(column, w), "VarianceConstraint", assertion, hint)

    def hasSkewness(self, column: str, assertion: Callable[[float], bool],
                    hint: str | None = None) -> Check:
        return self._metric(lambda w: Skewness(column, w), "SkewnessConstraint", assertion, hint)

    def hasKurtosis(self, column: str, assertion: Callable[[float], bool],
                    hint: str | None = None) -> Check:
        return self._metric(lambda w: Kurtosis(column, w), "KurtosisConstraint", assertion, hint)

    def hasRange(self, column: str, assertion: Callable[[float], bool],
                 hint: str | None = None) -> Check:
        return self._metric(lambda w: Range(column, w), "RangeConstraint", assertion, hint)

    def hasInterquartileRange(self, column: str, assertion: Callable[[float], bool],
                              hint: str | None = None) -> Check:
        return self._metric(lambda w: InterquartileRange(column, w),
                            "InterquartileRangeConstraint", assertion, hint)

    def hasZerosCount(self, column: str, assertion: Callable[[int], bool],
                      hint: str | None = None) -> Check:
        return self._metric(lambda w: ZerosCount(column, w), "ZerosCountConstraint", assertion,
                            hint, _as_long)

    # ---- predicates
    def satisfies(self, columnCondition: str, constraintName: str,
                  assertion: Callable[[float], bool] | None = None, hint: str | None = None,
                  columns: Sequence[str] | None = None,
                  analyzerOptions: AnalyzerOptions | None = None) -> Check:
        assertion = assertion or is_one
        cols = list(columns or [])

        def factory(where: str | None) -> Constraint:
            analyzer = Compliance(constraintName, columnCondition, where, cols, analyzerOptions)
            return Constraint(analyzer, assertion, f"ComplianceConstraint({analyzer})", hint,
                              row_level=_compliance_rows(columnCondition, where, analyzerOptions),
                              row_level_name=f"ColumnsCompliance-{columnCondition}",
                              null_row_fails=True)
        return self._add(factory)

    def hasPattern(self, column: str, pattern: str | re.Pattern[str],
                   assertion: Callable[[float], bool] | None = None, name: str | None = None,
                   hint: str | None = None,
                   analyzerOptions: AnalyzerOptions | None = None) -> Check:
        assertion = assertion or is_one
        text = pattern.pattern if isinstance(pattern, re.Pattern) else str(pattern)

        def factory(where: str | None) -> Constraint:
            analyzer = PatternMatch(column, text, where, analyzerOptions)

            def row(_df: DataFrame) -> Column:
                return _filtered_unless_null(
                    where, analyzerOptions,
                    F.coalesce(analyzer.match_expression() == 1, F.lit(False)), pattern=True)
            return Constraint(analyzer, assertion, name or f"PatternMatchConstraint({column}, "
                              f"{text})", hint, row_level=row,
                              row_level_name=f"ColumnPattern-{column}")
        return self._add(factory)

    def containsCreditCardNumber(self, column: str,
                                 assertion: Callable[[float], bool] | None = None,
                                 hint: str | None = None) -> Check:
        return self.hasPattern(column, Patterns.CREDITCARD, assertion,
                               f"containsCreditCardNumber({column})", hint)

    def containsEmail(self, column: str, assertion: Callable[[float], bool] | None = None,
                      hint: str | None = None) -> Check:
        return self.hasPattern(column, Patterns.EMAIL, assertion, f"containsEmail({column})", hint)

    def containsURL(self, column: str, assertion: Callable[[float], bool] | None = None,
                    hint: str | None = None) -> Check:
        return self.hasPattern(column, Patterns.URL, assertion, f"containsURL({column})", hint)

    def containsSocialSecurityNumber(self, column: str,
                                     assertion: Callable[[float], bool] | None = None,
                                     hint: str | None = None) -> Check:
        return self.hasPattern(column, Patterns.SOCIAL_SECURITY_NUMBER_US, assertion,
                               f"containsSocialSecurityNumber({column})", hint)

    def hasDataType(self, column: str, datatype: ConstrainableDataTypes,
                    assertion: Callable[[float], bool] | None = None,
                    hint: str | None = None) -> Check:
        assertion = assertion or is_one
        kind = ConstrainableDataTypes(str(datatype.value if isinstance(datatype, Enum)
                                          else datatype))

        def factory(where: str | None) -> Constraint:
            analyzer = DataType(column, where)
            hint_text = "None" if hint is None else f"Some({hint})"
            # Deequ does not name this constraint: its string is the case class itself.
            name = (f"AnalysisBasedConstraint({analyzer},<function1>,Some(<function1>),"
                    f"{hint_text})")
            return Constraint(analyzer, assertion, name, hint, _data_type_picker(kind))
        return self._add(factory)

    def isNonNegative(self, column: str, assertion: Callable[[float], bool] | None = None,
                      hint: str | None = None) -> Check:
        # COALESCE so that NULL is not counted as non-compliant; DECIMAL handles 1E-3 strings.
        return self.satisfies(f"COALESCE(CAST({column} AS DECIMAL(20,10)), 0.0) >= 0",
                              f"{column} is non-negative", assertion, hint, columns=[column])

    def isPositive(self, column: str, assertion: Callable[[float], bool] | None = None,
                   hint: str | None = None) -> Check:
        return self.satisfies(f"COALESCE(CAST({column} AS DECIMAL(20,10)), 1.0) > 0",
                              f"{column} is positive", assertion, hint, columns=[column])

    def isLessThan(self, columnA: str, columnB: str,
                   assertion: Callable[[float], bool] | None = None,
                   hint: str | None = None) -> Check:
        return self.satisfies(f"{columnA} < {columnB}", f"{columnA} is less than {columnB}",
                              assertion, hint, columns=[columnA, columnB])

    def isLessThanOrEqualTo(self, columnA: str, columnB: str,
                            assertion: Callable[[float], bool] | None = None,
                            hint: str | None = None) -> Check:
        return self.satisfies(f"{columnA} <= {columnB}",
                              f"{columnA} is less than or equal to {columnB}", assertion, hint,
                              columns=[columnA, columnB])

    def isGreaterThan(self, columnA: str, columnB: str,
                      assertion: Callable[[float], bool] | None = None,
                      hint: str | None = None) -> Check:
        return self.satisfies(f"{columnA} > {columnB}", f"{columnA} is greater than {columnB}",
                              assertion, hint, columns=[columnA, columnB])

    def isGreaterThanOrEqualTo(self, columnA: str, columnB: str,
                               assertion: Callable[[float], bool] | None = None,
                               hint: str | None = None) -> Check:
        return self.satisfies(f"{columnA} >= {columnB}",
                              f"{columnA} is greater than or equal to {columnB}", assertion, hint,
                              columns=[columnA, columnB])

    def isContainedIn(self, column: str, allowed_values: Iterable[Any] | None = None,
                      assertion: Callable[[float], bool] | None = None,
                      hint: str | None = None, *, lowerBound: float | None = None,
                      upperBound: float | None = None, includeLowerBound: bool = True,
                      includeUpperBound: bool = True, allowedValues: Iterable[Any] | None = None,
                      analyzerOptions: AnalyzerOptions | None = None) -> Check:
        """Values in a set (``allowed_values``) or in a numeric interval (the bounds)."""
        values = allowed_values if allowed_values is not None else allowedValues
        if values is not None and (lowerBound is not None or upperBound is not None):
            raise ValueError(f"isContainedIn({column!r}): give allowed values or bounds, not both")
        if values is not None:
            if isinstance(values, str):
                raise ValueError(f"isContainedIn({column!r}): allowed values must be a list, "
                                 f"got the string {values!r}")
            items = [str(v) for v in values]
            # Deequ escapes a quote with a backslash (`'it\'s'`), which Spark SQL reads back.
            listed = ",".join("'" + v.replace("'", "\\'") + "'" for v in items)
            predicate = f"{quote(column)} IS NULL OR {quote(column)} IN ({listed})"
            return self.satisfies(predicate, f"{column} contained in {','.join(items)}",
                                  assertion, hint, columns=[column],
                                  analyzerOptions=analyzerOptions)
        if lowerBound is None or upperBound is None:
            raise ValueError(f"isContainedIn({column!r}) needs allowed values or both "
                             "lowerBound and upperBound")
        left = ">=" if includeLowerBound else ">"
        right = "<=" if includeUpperBound else "<"
        low, high = java_double(float(lowerBound)), java_double(float(upperBound))
        predicate = (f"{quote(column)} IS NULL OR ({quote(column)} {left} {low} AND "
                     f"{quote(column)} {right} {high})")
        return self.satisfies(predicate, f"{column} between {low} and {high}", assertion, hint,
                              columns=[column], analyzerOptions=analyzerOptions)

    # snake_case aliases for the most used methods
    has_size = hasSize
    is_complete = isComplete
    has_completeness = hasCompleteness
    is_unique = isUnique
    is_primary_key = isPrimaryKey
    is_contained_in = isContainedIn
    is_non_negative = isNonNegative
    has_pattern = hasPattern


_PLUMBING = {"where", "addConstraint", "requiredAnalyzers", "getRowLevelConstraintColumnNames",
             "evaluate"}


def _recorded(method: Callable[..., Check]) -> Callable[..., Check]:
    """Wrap a constraint method so that the constraint it adds remembers the call."""
    import functools
    import inspect

    signature = inspect.signature(method)

    @functools.wraps(method)
    def wrapper(self: Check, *args: Any, **kwargs: Any) -> Check:
        before = len(self.constraints)
        out = method(self, *args, **kwargs)
        if len(self.constraints) == before + 1:
            bound = signature.bind(self, *args, **kwargs)
            arguments = {k: v for k, v in bound.arguments.items() if k != "self"}
            self.constraints[-1].origin = Origin(method.__name__, arguments)
        return out

    return wrapper


for _name, _value in list(vars(Check).items()):
    if (callable(_value) and not _name.startswith("_") and _name not in _PLUMBING
            and _name == getattr(_value, "__name__", None)):
        setattr(Check, _name, _recorded(_value))
for _name, _value in list(vars(Check).items()):  # snake_case aliases share the wrapped method
    if callable(_value) and not _name.startswith("_") and _name != getattr(_value, "__name__",
                                                                           _name):
        setattr(Check, _name, getattr(Check, _value.__name__))

__all__ = [
    "Origin", "Check", "CheckLevel", "CheckResult", "CheckStatus", "ConstrainableDataTypes",
    "Constraint",
    "ConstraintResult", "ConstraintStatus", "IsOne", "Patterns", "is_one",
]
