"""DQDL rules -> native checks (one shared plan) or rules evaluated apart.

Each rule that Glue Data Quality runs on Deequ becomes a :class:`~quality.checks.Check` whose
constraints are the ones Deequ's DQDL module builds (``com.amazon.deequ.dqdl``), so all of them
are computed by ONE native plan (:mod:`quality.native_engine`) together with the analyzers of
``Analyzers = [...]``. ``EvaluatedMetrics`` use Glue's names (``Column.price.Completeness``,
``Dataset.*.RowCount``, ``Multicolumn.a,b.ColumnCorrelation``). Rules that need something else
(the schema only, another dataset, a SQL statement) are :class:`ApartRule` and run after the
plan.

Semantics kept from Glue / Deequ: ``between`` is exclusive; ``ColumnValues`` comparisons fail on
NULL unless the condition names NULL; ``matches`` is a full match and NULL does not match;
``with threshold`` judges the fraction of compliant rows; dates compare on
``try_cast(column AS DATE)`` (Deequ's ``to_date``, NULL when it does not parse also under ANSI)
with ``now()`` truncated to the day; ``DataFreshness`` compares the age in hours rounded to two
decimals and passes when no rows are left to judge; ``DistinctValuesCount`` counts NULL as a
value (Deequ's histogram).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import Column, DataFrame

from quality.analyzers import Analyzer, AnalyzerOptions, NullBehavior
from quality.checks import Check, CheckLevel, Constraint
from quality.dqdl.model import (
    Condition,
    DateValue,
    Duration,
    Number,
    Rule,
    StringValue,
)

NumberResolver = Callable[[Any, Analyzer | None], float]
Assertion = Callable[[float], bool]


@dataclass
class MetricName:
    """A Glue metric name and the constraint of the check whose metric it reports."""

    name: str
    constraint_index: int


@dataclass
class PlannedRule:
    """A rule evaluated on the shared plan: its check and the metrics it reports."""

    rule: Rule
    check: Check
    metrics: list[MetricName]
    row_level: bool = True
    passes_when_empty: bool = False  # DataFreshness / ColumnDataType: no rows left -> Passed
    null_reason: str | None = None  # Deequ's message for a failed completeness in ColumnValues


@dataclass
class ApartRule:
    """A rule evaluated outside the plan (schema, another dataset, SQL)."""

    rule: Rule
    kind: str
    details: dict[str, Any] = field(default_factory=dict)


def sql_column(name: str) -> str:
    """A column reference for Spark SQL (backticks unless a plain name, as Deequ quotes)."""
    if name.startswith("`") and name.endswith("`"):
        return name
    if re.fullmatch(r"[A-Za-z0-9_]+", name):
        return name
    return "`" + name.replace("`", "``") + "`"


def sql_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _number_text(value: float) -> str:
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


def number_assertion(condition: Condition, values: Sequence[float]) -> Assertion:
    """The metric predicate of a number condition (``between`` is exclusive, as in DQDL)."""
    op = condition.operator
    if op == "=":
        return lambda x: x == values[0]
    if op == "!=":
        return lambda x: x != values[0]
    if op == ">":
        return lambda x: x > values[0]
    if op == ">=":
        return lambda x: x >= values[0]
    if op == "<":
        return lambda x: x < values[0]
    if op == "<=":
        return lambda x: x <= values[0]
    if op == "between":
        return lambda x: values[0] < x < values[1]
    if op == "not between":
        return lambda x: x <= values[0] or x >= values[1]
    if op == "in":
        return lambda x: any(x == v for v in values)
    if op == "not in":
        return lambda x: all(x != v for v in values)
    raise ValueError(f"operator {op!r} does not compare numbers")


def _numbers(condition: Condition) -> tuple[list[float], bool]:
    """(numbers, has NULL) of a literal number condition."""
    numbers = [o.value for o in condition.operands if isinstance(o, Number)]
    has_null = any(isinstance(o, StringValue) and o.keyword == "NULL" for o in condition.operands)
    return numbers, has_null


def _is_numeric(condition: Condition) -> bool:
    return all(isinstance(o, Number) or (isinstance(o, StringValue) and o.keyword == "NULL")
               for o in condition.operands) and any(isinstance(o, Number)
                                                    for o in condition.operands)


def _is_date(condition: Condition) -> bool:
    return any(isinstance(o, DateValue) for o in condition.operands)


def _date_text(value: DateValue, today: dt.date) -> str:
    if value.kind == "date":
        return value.text
    if value.kind == "now":
        moment = dt.datetime.combine(today, dt.time())
        if value.offset_sign:
            delta = dt.timedelta(**{value.offset_unit: value.offset_amount})
            moment = moment - delta if value.offset_sign == "-" else moment + delta
        return moment.date().isoformat()
    raise ValueError(f"time {value.text!r} compares against timestamps, not dates")


def _set_sql(column: str, expr: str, values: list[str], has_null: bool, negated: bool) -> str:
    listed = ", ".join(values)
    if values and not has_null:
        return (f"{column} IS NULL OR {expr} NOT IN ({listed})" if negated
                else f"{column} IS NOT NULL AND {expr} IN ({listed})")
    if values and has_null:
        return (f"{expr} NOT IN ({listed}) AND {column} IS NOT NULL" if negated
                else f"{expr} IN ({listed}) OR {column} IS NULL")
    if has_null:
        return f"{column} IS NOT NULL" if negated else f"{column} IS NULL"
    return "TRUE" if negated else "FALSE"


def _compare_sql(c: str, expr: str, values: list[str], has_null: bool, op: str,
                 null_outside: bool) -> str:
    """Deequ's per-row predicate of a number or date comparison of ``expr`` (column ``c``)."""
    if op in (">", ">=", "<", "<="):
        return f"{c} IS NOT NULL AND {expr} {op} {values[0]}"
    if op == "=":
        return f"{c} IS NULL" if has_null else f"{c} IS NOT NULL AND {expr} = {values[0]}"
    if op == "!=":
        return f"{c} IS NOT NULL" if has_null else f"{c} IS NULL OR {expr} != {values[0]}"
    if op == "between":
        return f"{c} IS NOT NULL AND {expr} > {values[0]} AND {expr} < {values[1]}"
    if op == "not between":
        outside = f"{expr} <= {values[0]} OR {expr} >= {values[1]}"
        return f"{c} IS NULL OR {outside}" if null_outside else f"{c} IS NOT NULL AND ({outside})"
    return _set_sql(c, expr, values, has_null, op == "not in")


def column_values_sql(column: str, condition: Condition, today: dt.date) -> str:
    """The per-row SQL predicate of a ``ColumnValues`` condition (Deequ's, NULL handling incl.)."""
    c = sql_column(column)
    op = condition.operator
    has_null = any(isinstance(o, StringValue) and o.keyword == "NULL" for o in condition.operands)
    if _is_date(condition):
        dates = [sql_string(_date_text(o, today)) for o in condition.operands
                 if isinstance(o, DateValue)]
        # Deequ lets NULL pass a date "not between", not a number "not between"
        # try_cast: to_date's cast, but NULL (not an ANSI error on Spark 4) when it does not
        # parse, which the Compliance metric counts as failing, as on Spark 3.5 / Deequ
        return _compare_sql(c, f"try_cast({c} AS DATE)", dates, has_null, op,
                            null_outside=True)
    if op in ("matches", "not matches"):
        pattern = sql_string(f"^(?:{condition.operands[0].value})$")  # type: ignore[union-attr]
        if op == "matches":
            return f"{c} IS NOT NULL AND {c} RLIKE {pattern}"
        return f"{c} IS NOT NULL AND NOT ({c} RLIKE {pattern})"
    if _is_numeric(condition) or all(isinstance(o, StringValue) and o.keyword == "NULL"
                                     for o in condition.operands):
        texts = [_number_text(n) for n in _numbers(condition)[0]]
        return _compare_sql(c, c, texts, has_null, op, null_outside=False)
    # strings, with the keywords NULL / EMPTY / WHITESPACES_ONLY
    operands = [o for o in condition.operands if isinstance(o, StringValue)]
    quoted = [sql_string(o.value or "") for o in operands if o.keyword is None]
    keywords = {o.keyword for o in operands if o.keyword}
    negated = op in ("!=", "not in")
    parts: list[str] = []
    if negated:
        if "NULL" in keywords:
            parts.append(f"{c} IS NOT NULL")
        if "EMPTY" in keywords:
            parts.append(f"{c} != ''")
        if "WHITESPACES_ONLY" in keywords:
            parts.append(f"(LENGTH(TRIM({c})) > 0 OR LENGTH({c}) = 0)")
        if quoted:
            parts.append(f"({c} IS NULL OR {c} NOT IN ({', '.join(quoted)}))")
        return " AND ".join(parts) if parts else "TRUE"
    if "NULL" in keywords:
        parts.append(f"{c} IS NULL")
    if "EMPTY" in keywords:
        parts.append(f"{c} = ''")
    if "WHITESPACES_ONLY" in keywords:
        parts.append(f"(LENGTH(TRIM({c})) = 0 AND LENGTH({c}) > 0)")
    if quoted:
        parts.append(f"({c} IS NOT NULL AND {c} IN ({', '.join(quoted)}))")
    return " OR ".join(parts) if parts else "FALSE"


_GLUE_TYPES = {
    "BOOLEAN": "boolean", "DATE": "date", "TIMESTAMP": "timestamp", "INTEGER": "int",
    "INT": "int", "LONG": "bigint", "BIGINT": "bigint", "SHORT": "smallint",
    "SMALLINT": "smallint", "BYTE": "tinyint", "TINYINT": "tinyint", "DOUBLE": "double",
    "FLOAT": "float", "DECIMAL": "decimal(38,18)", "STRING": "string",
}


def data_type_sql(column: str, type_names: Sequence[str], df: DataFrame,
                  negated: bool = False) -> str:
    """Per row: the value can be read as one of the types (Glue ColumnDataType); ``negated``
    (``!=`` / ``not in``): it can be read as none of them. A NULL value cannot be read as any
    type, so it fails ``=`` / ``in`` and passes ``!=`` / ``not in``, as Deequ's DQDL module
    (``cast(c AS type).isNotNull``)."""
    c = sql_column(column)
    unknown = [t for t in type_names if t.upper() not in _GLUE_TYPES]
    if unknown:
        raise ValueError(f"ColumnDataType: unknown type {unknown[0]!r}; choose one of "
                         f"{', '.join(sorted(_GLUE_TYPES))}")
    fields = {f.name: f.dataType.simpleString() for f in df.schema.fields}
    actual = fields.get(column)
    wanted = [_GLUE_TYPES[t.upper()] for t in type_names]
    if actual is not None and actual != "string":
        same = any(actual == w or (w.startswith("decimal") and actual.startswith("decimal"))
                   for w in wanted)
        readable = f"{c} IS NOT NULL" if same else "FALSE"
    elif "string" in wanted:
        readable = f"{c} IS NOT NULL"
    else:
        readable = " OR ".join(f"try_cast({c} AS {w}) IS NOT NULL" for w in wanted)
    if negated:
        return f"NOT ({readable})"
    return f"{c} IS NOT NULL AND ({readable})"


def freshness_sql(column: str, condition: Condition) -> str:
    """Per row: ``column`` is not NULL and its age in hours (2 decimals, as Deequ) meets the
    condition. Glue fails a NULL row ("Null behavior" of DataFreshness); without the guard the
    predicate was NULL, which the Compliance metric counts as failing but the row level left
    in Skip."""
    return f"{sql_column(column)} IS NOT NULL AND ({_freshness_condition(column, condition)})"


def _freshness_condition(column: str, condition: Condition) -> str:
    c = sql_column(column)
    # try_cast, not to_timestamp: a value that does not parse is NULL on Spark 4 (ANSI) too
    age = (f"round((unix_timestamp(current_timestamp()) - "
           f"unix_timestamp(try_cast({c} AS TIMESTAMP)))"
           f" / 3600, 2)")
    hours = [o.hours for o in condition.operands if isinstance(o, Duration)]
    op = condition.operator
    texts = [repr(round(h, 4)) for h in hours]
    if op in (">", ">=", "<", "<="):
        return f"{age} {op} {texts[0]}"
    if op == "=":
        return f"{age} = {texts[0]}"
    if op == "!=":
        return f"{age} != {texts[0]}"
    if op == "between":
        return f"{age} > {texts[0]} AND {age} < {texts[1]}"
    if op == "not between":
        return f"{age} <= {texts[0]} OR {age} >= {texts[1]}"
    listed = ", ".join(texts)
    return f"{age} IN ({listed})" if op == "in" else f"NOT ({age} IN ({listed}))"


def _length_check(check: Check, column: str, condition: Condition, values: list[float],
                  where: str | None) -> Check:
    def add(method: Callable[..., Check], assertion: Assertion) -> None:
        # Glue's ColumnLength "Null behavior": NULL is a length-0 string (`> 4` fails it,
        # `< 6` passes it), as the in / not in / not between compliance below
        method(column, assertion, analyzerOptions=AnalyzerOptions(NullBehavior.EmptyString))
        if where is not None:
            check.where(where)

    op = condition.operator
    c = sql_column(column)
    if op in (">", ">="):
        add(check.hasMinLength, number_assertion(condition, values))
    elif op in ("<", "<="):
        add(check.hasMaxLength, number_assertion(condition, values))
    elif op == "between":
        add(check.hasMinLength, lambda x: x > values[0])
        add(check.hasMaxLength, lambda x: x < values[1])
    elif op in ("=", "!="):
        add(check.hasMinLength, number_assertion(condition, values))
        add(check.hasMaxLength, number_assertion(condition, values))
    else:
        listed = ",".join(_number_text(v) for v in values)
        has_zero = 0.0 in values
        if op == "in":
            sql = (f"{c} is NULL or length({c}) in ({listed})" if has_zero
                   else f"{c} is not NULL and length({c}) in ({listed})")
        elif op == "not in":
            sql = (f"{c} is not NULL or length({c}) not in ({listed})" if has_zero
                   else f"{c} is NULL or length({c}) not in ({listed})")
        else:  # not between
            inner = f"(length({c}) <= {_number_text(values[0])}) or " \
                    f"(length({c}) >= {_number_text(values[1])})"
            sql = f"{c} is not NULL or ({inner})" if has_zero else f"{c} is NULL or ({inner})"
        check.satisfies(sql, f"ColumnLength {column}", lambda x: x == 1.0, columns=[c])
        if where is not None:
            check.where(where)
    return check


_SIMPLE = {  # rule type -> (Check method, Glue metric name)
    "Mean": ("hasMean", "Mean"),
    "Sum": ("hasSum", "Sum"),
    "StandardDeviation": ("hasStandardDeviation", "StandardDeviation"),
    "Entropy": ("hasEntropy", "Entropy"),
    "Completeness": ("hasCompleteness", "Completeness"),
}

APART_KINDS = {
    "ColumnExists": "schema", "ColumnNamesMatchPattern": "schema", "CustomSql": "sql",
    "ReferentialIntegrity": "dataset", "DatasetMatch": "dataset", "RowCountMatch": "dataset",
    "SchemaMatch": "dataset", "AggregateMatch": "dataset", "DetectAnomalies": "anomaly",
}


def primary_analyzer(rule: Rule) -> Analyzer | None:
    """The analyzer whose history a dynamic condition of ``rule`` reads (``last(k)``)."""
    probe = plan_rule(rule, lambda expr, analyzer: 0.0, dt.date.today(), None)
    if isinstance(probe, PlannedRule) and probe.check.constraints:
        return probe.check.constraints[0].analyzer
    return None


def plan_rule(rule: Rule, resolve: NumberResolver, today: dt.date,
              df: DataFrame | None) -> PlannedRule | ApartRule:
    """Translate one rule; ``resolve`` turns a (possibly dynamic) number operand into a value."""
    kind = APART_KINDS.get(rule.rule_type)
    if kind is not None:
        return ApartRule(rule, kind)
    check = Check(CheckLevel.Error, rule.to_dqdl())
    where = rule.where
    params = rule.parameters
    condition = rule.condition

    def values(analyzer_hint: Analyzer | None = None) -> list[float]:
        assert condition is not None
        return [resolve(o, analyzer_hint) for o in condition.operands]

    def with_where() -> None:
        if where is not None:
            check.where(where)

    def assert_first() -> None:
        # the check is built first: a dynamic condition reads the history of its analyzer
        assert condition is not None
        constraint = check.constraints[0]
        constraint.assertion = number_assertion(condition, values(constraint.analyzer))

    t = rule.rule_type
    if t in _SIMPLE:
        method, name = _SIMPLE[t]
        getattr(check, method)(params[0], lambda x: True)
        with_where()
        assert_first()
        return PlannedRule(rule, check, [MetricName(f"Column.{params[0]}.{name}", 0)],
                           row_level=t == "Completeness")
    if t == "RowCount":
        check.hasSize(lambda x: True)
        with_where()
        assert_first()
        return PlannedRule(rule, check, [MetricName("Dataset.*.RowCount", 0)], row_level=False)
    if t == "ColumnCount":
        check.hasColumnCount(lambda x: True)
        assert_first()
        return PlannedRule(rule, check, [MetricName("Dataset.*.ColumnCount", 0)], row_level=False)
    if t in ("Uniqueness", "UniqueValueRatio", "DistinctValuesCount"):
        method = {"Uniqueness": "hasUniqueness", "UniqueValueRatio": "hasUniqueValueRatio",
                  "DistinctValuesCount": "hasNumberOfDistinctValues"}[t]
        arg: Any = params[0] if t == "DistinctValuesCount" else [params[0]]
        getattr(check, method)(arg, lambda x: True)
        with_where()
        assert_first()
        return PlannedRule(rule, check, [MetricName(f"Column.{params[0]}.{t}", 0)],
                           row_level=t == "Uniqueness")
    if t == "ColumnCorrelation":
        check.hasCorrelation(params[0], params[1], lambda x: True)
        with_where()
        assert_first()
        return PlannedRule(rule, check,
                           [MetricName(f"Multicolumn.{params[0]},{params[1]}.ColumnCorrelation",
                                       0)], row_level=False)
    if t == "IsComplete":
        check.isComplete(params[0])
        with_where()
        return PlannedRule(rule, check, [MetricName(f"Column.{params[0]}.Completeness", 0)])
    if t == "IsUnique":
        check.isUnique(params[0])
        with_where()
        return PlannedRule(rule, check, [MetricName(f"Column.{params[0]}.Uniqueness", 0)])
    if t == "IsPrimaryKey":
        check.isPrimaryKey(params[0], *params[1:])
        with_where()
        names = [MetricName(f"Column.{params[0]}.Uniqueness" if len(params) == 1 else
                            f"Multicolumn.{','.join(params)}.Uniqueness", 0)]
        for i, column in enumerate(params, start=1):
            check.isComplete(column)
            with_where()
            names.append(MetricName(f"Column.{column}.Completeness", i))
        return PlannedRule(rule, check, names)
    if t == "ColumnLength":
        assert condition is not None
        _length_check(check, params[0], condition, values(), where)
        names = []
        for i, constraint in enumerate(check.constraints):
            label = type(constraint.analyzer).__name__
            glue = {"MinLength": "MinimumLength", "MaxLength": "MaximumLength"}.get(
                label, "LengthCompliance")
            names.append(MetricName(f"Column.{params[0]}.{glue}", i))
        return PlannedRule(rule, check, names)
    if t == "ColumnValues":
        assert condition is not None
        sql = column_values_sql(params[0], condition, today)
        threshold = rule.threshold
        assertion = (number_assertion(threshold, [resolve(o, None) for o in threshold.operands])
                     if threshold is not None else (lambda x: x == 1.0))
        check.satisfies(sql, f"ColumnValues {params[0]}", assertion,
                        columns=[sql_column(params[0])])
        with_where()
        name = "PatternMatch" if condition.operator.endswith("matches") else \
            "ColumnValues.Compliance"
        return PlannedRule(rule, check, [MetricName(f"Column.{params[0]}.{name}", 0)])
    if t == "DataFreshness":
        assert condition is not None
        sql = freshness_sql(params[0], condition)
        threshold = rule.threshold
        assertion = (number_assertion(threshold, [resolve(o, None) for o in threshold.operands])
                     if threshold is not None else (lambda x: x == 1.0))
        check.satisfies(sql, f"DataFreshness {params[0]}", assertion,
                        columns=[sql_column(params[0])])
        with_where()
        return PlannedRule(rule, check,
                           [MetricName(f"Column.{params[0]}.DataFreshness.Compliance", 0)],
                           passes_when_empty=True)
    if t == "ColumnDataType":
        assert condition is not None
        types = [o.value or "" for o in condition.operands if isinstance(o, StringValue)]
        if df is None:
            sql = "TRUE"
        else:
            sql = data_type_sql(params[0], types, df,
                                negated=condition.operator in ("!=", "not in"))
        threshold = rule.threshold
        assertion = (number_assertion(threshold, [resolve(o, None) for o in threshold.operands])
                     if threshold is not None else (lambda x: x == 1.0))
        check.satisfies(sql, f"ColumnDataType {params[0]}", assertion,
                        columns=[sql_column(params[0])])
        with_where()
        return PlannedRule(rule, check,
                           [MetricName(f"Column.{params[0]}.ColumnDataType.Compliance", 0)],
                           passes_when_empty=True)
    raise ValueError(f"rule type {t} has no translation")  # catalog and translation disagree


def row_level_column(planned: PlannedRule, df: DataFrame) -> Column | None:
    """TRUE / FALSE per row (NULL: not judged) for a rule Glue evaluates per row."""
    if not planned.row_level:
        return None
    columns = [c.row_level(df) for c in planned.check.constraints if c.row_level is not None]
    if not columns:
        return None
    combined = columns[0]
    for column in columns[1:]:
        combined = combined & column
    return combined


def metric_value(constraint: Constraint, metric: Any) -> float | None:
    """The number a constraint asserted on (after its picker), or None when it failed."""
    if metric is None or not metric.is_success:
        return None
    value = constraint.value_picker(metric.value) if constraint.value_picker else metric.value
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def is_nan(value: float | None) -> bool:
    return value is not None and math.isnan(value)


__all__ = [
    "APART_KINDS", "ApartRule", "MetricName", "PlannedRule", "column_values_sql",
    "data_type_sql", "freshness_sql", "metric_value", "number_assertion", "plan_rule",
    "primary_analyzer", "row_level_column", "sql_column", "sql_string",
]
