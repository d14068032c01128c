"""Evaluate a DQDL ruleset on a DataFrame with Glue Data Quality's output shapes.

    result = evaluate_ruleset(spark, df, parse_ruleset(text), references={"ref": ref_df},
                              repository=repo, result_key=ResultKey(spark, tags={"t": "x"}))
    result.score                  # passed rules / rules
    result.as_json()              # {"score": ..., "rules": [{"Rule", "Outcome", ...}]}
    result.rule_outcomes(spark)   # Glue's ruleOutcomes DataFrame
    result.row_level(df)          # df + DataQualityRulesPass/Fail/Skip, DataQualityEvaluationResult

Plan: every rule Glue runs on Deequ is a native check; all checks and the ``Analyzers``
section are computed by ONE native run (:class:`~quality.verification.VerificationSuite`: a
scan aggregation unioned with a grouping-set count, at most 3 Spark jobs). Rules that read only
the schema cost no job; CustomSql and the multi-dataset rules (ReferentialIntegrity,
DatasetMatch, RowCountMatch, SchemaMatch, AggregateMatch) run their own small queries against
the frames named in ``references``.

Dynamic rules (``RowCount > avg(last(10)) * 0.9``) read the rule's metric history from the
metrics repository (filtered by the result key's tags) before the run; the run's metrics are
saved under ``result_key`` afterwards, so the next run sees them. ``last(k)`` is the k newest
values, newest first; ``avg``, ``min``, ``max``, ``sum``, ``std`` (population), ``abs`` and
``index(list, i)`` apply to it. Without history the rule's outcome is ``Error``.

Outcomes: ``Passed`` / ``Failed`` as Deequ's DQDL module reports them (a metric that cannot be
computed, e.g. a missing column, fails the rule with Deequ's message); ``Error`` when the rule
cannot be judged at all (unknown reference dataset, invalid SQL, no history for a dynamic
threshold). ``EvaluateDataQuality().process_rows`` gives Glue's ``process_rows`` shape for Glue
scripts; the awsglue-compatible runtime wraps DynamicFrames around it (see
:class:`EvaluateDataQuality`).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
import statistics
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.utils import AnalysisException

from quality import analyzers as A
from quality.anomaly_detection import BatchNormalStrategy
from quality.checks import Constraint, ConstraintStatus
from quality.dqdl.model import (
    AnalyzerSpec,
    AnyRule,
    Arithmetic,
    Condition,
    FunctionCall,
    Number,
    Rule,
    Ruleset,
)
from quality.dqdl.parser import parse_ruleset
from quality.dqdl.rules import (
    ApartRule,
    PlannedRule,
    is_nan,
    metric_value,
    number_assertion,
    plan_rule,
    row_level_column,
    sql_column,
)
from quality.results import row_level_computed, tag_failures
from quality.verification import VerificationSuite

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from quality.repository import MetricsRepository, ResultKey

log = logging.getLogger(__name__)

PASSED, FAILED, ERROR = "Passed", "Failed", "Error"
ROW_PASS = "DataQualityRulesPass"
ROW_FAIL = "DataQualityRulesFail"
ROW_SKIP = "DataQualityRulesSkip"
ROW_RESULT = "DataQualityEvaluationResult"
# Glue leaves these out of a composite rule's row-level result (rules-config of DQDL)
_NOT_ROW_LEVEL_IN_COMPOSITES = {"Completeness", "Uniqueness", "ReferentialIntegrity",
                                "DatasetMatch"}

RULE_OUTCOMES_SCHEMA = T.StructType([
    T.StructField("Rule", T.StringType(), False),
    T.StructField("Outcome", T.StringType(), False),
    T.StructField("FailureReason", T.StringType(), True),
    T.StructField("EvaluatedMetrics", T.MapType(T.StringType(), T.DoubleType()), True),
])


class DynamicRuleError(ValueError):
    """A dynamic threshold that cannot be computed (no history, a list where a number goes)."""


@dataclass
class RuleOutcome:
    """One top-level rule's outcome in Glue's shape."""

    rule: AnyRule
    outcome: str
    failure_reason: str | None = None
    evaluated_metrics: dict[str, float] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.rule.to_dqdl()

    def as_dict(self) -> dict[str, Any]:
        return {"Rule": self.text, "Outcome": self.outcome, "FailureReason": self.failure_reason,
                "EvaluatedMetrics": dict(self.evaluated_metrics)}


@dataclass
class DQDLResult:
    """Outcomes of a ruleset run: rules, analyzer metrics, score and row-level results."""

    rules: list[RuleOutcome]
    analyzer_metrics: dict[str, float]
    _row_columns: list[tuple[str, Any]] = field(default_factory=list, repr=False)
    _failure_columns: list[tuple[str, Any]] = field(default_factory=list, repr=False)

    @property
    def score(self) -> float:
        """Passed rules / rules (Glue's overall score); 1.0 for a ruleset without rules."""
        if not self.rules:
            return 1.0
        return sum(r.outcome == PASSED for r in self.rules) / len(self.rules)

    @property
    def passed(self) -> bool:
        return all(r.outcome == PASSED for r in self.rules)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"score": self.score, "rules": [r.as_dict() for r in self.rules]}
        if self.analyzer_metrics:
            out["analyzers"] = dict(self.analyzer_metrics)
        return out

    def rule_outcomes(self, spark: SparkSession) -> DataFrame:
        """Glue's ``ruleOutcomes`` frame: Rule, Outcome, FailureReason, EvaluatedMetrics."""
        rows = [(r.text, r.outcome, r.failure_reason, dict(r.evaluated_metrics))
                for r in self.rules]
        return spark.createDataFrame(rows, RULE_OUTCOMES_SCHEMA)

    def row_level(self, df: DataFrame) -> DataFrame:
        """``df`` plus Glue's four row-level columns (lazy: no Spark job here).

        A rule is in ``DataQualityRulesPass`` / ``...Fail`` of a row when Glue evaluates it per
        row (ColumnValues, ColumnLength, IsComplete, Completeness, IsUnique, Uniqueness,
        IsPrimaryKey, ColumnDataType, DataFreshness and composites of those); every other rule,
        and a row the rule does not judge (NULL), is in ``DataQualityRulesSkip``.
        """
        if len(set(df.columns) & {ROW_PASS, ROW_FAIL, ROW_SKIP, ROW_RESULT}):
            df = df.drop(ROW_PASS, ROW_FAIL, ROW_SKIP, ROW_RESULT)
        empty = F.array().cast("array<string>")
        passes: list[Column] = []
        fails: list[Column] = []
        skips: list[Column] = []
        for text, builder in self._row_columns:
            outcome = builder(df) if builder is not None else None
            if outcome is None:
                skips.append(F.lit(text))
                continue
            passes.append(F.when(outcome == F.lit(True), F.lit(text)))
            fails.append(F.when(outcome == F.lit(False), F.lit(text)))
            skips.append(F.when(outcome.isNull(), F.lit(text)))

        def collect(parts: list[Column]) -> Column:
            if not parts:
                return empty
            return F.filter(F.array(*parts), lambda x: x.isNotNull())

        out = (df.withColumn(ROW_PASS, collect(passes))
               .withColumn(ROW_FAIL, collect(fails))
               .withColumn(ROW_SKIP, collect(skips)))
        return out.withColumn(ROW_RESULT, F.when(F.size(ROW_FAIL) > 0, F.lit(FAILED))
                              .otherwise(F.lit(PASSED)))

    def failing_rows(self, df: DataFrame) -> DataFrame:
        """The rows of ``df`` that count against a failed rule, with ``failed_rules`` (their
        rule texts); lazy (no Spark job here). What the DQDL gate quarantines.

        A row fails a rule when it counts against the rule's metric
        (:meth:`~quality.checks.Constraint.row_failure` of the rule's failed constraints): a
        FALSE row-level result, and a NULL one of a Compliance rule (ColumnValues,
        DataFreshness, ColumnDataType, ColumnLength ``in``: the metric counts a NULL predicate
        as not compliant, e.g. a date that does not parse); never a row outside the rule's
        ``where`` (its filter FALSE or NULL), nor a lone NULL IsUnique's uniqueness skips
        (repeated NULLs share a value in Deequ's row-level count, so they fail like
        duplicates). Rules that passed, and rules without row-level results (RowCount, Mean,
        CustomSql, ...), fail no row. A failed composite fails the
        rows that fail one of its failed parts (``and``) or every part (``or``), when all its
        parts are row-level (as :meth:`row_level`).
        """
        parts = []
        for text, builder in self._failure_columns:
            failure = builder(df) if builder is not None else None
            if failure is not None:
                parts.append((text, failure))
        return tag_failures(df, "failed_rules", parts)


# --------------------------------------------------------------------------- dynamic numbers


class _History:
    """Metric history per analyzer from a repository (newest first), read once per analyzer."""

    def __init__(self, repository: MetricsRepository | None,
                 tags: Mapping[str, str] | None) -> None:
        self._repository = repository
        self._tags = dict(tags or {})
        self._cache: dict[Any, list[float]] = {}

    def values(self, analyzer: A.Analyzer | None) -> list[float]:
        if analyzer is None:
            raise DynamicRuleError("last(k) needs a rule that reports one metric")
        if analyzer not in self._cache:
            found: list[float] = []
            if self._repository is not None:
                loader = self._repository.load().forAnalyzers([analyzer])
                if self._tags:
                    loader = loader.withTagValues(self._tags)
                for result in reversed(loader.get()):
                    metric = result.analyzerContext.metricMap.get(analyzer)
                    if metric is not None and metric.is_success:
                        value = metric.value
                        if isinstance(analyzer, A.Histogram):
                            value = value.numberOfBins
                        found.append(float(value))
            self._cache[analyzer] = found
        return self._cache[analyzer]


def _evaluate_number(expr: Any, analyzer: A.Analyzer | None, history: _History) -> Any:
    if isinstance(expr, Number):
        return expr.value
    if isinstance(expr, Arithmetic):
        left = _scalar(_evaluate_number(expr.left, analyzer, history))
        right = _scalar(_evaluate_number(expr.right, analyzer, history))
        if expr.operator == "+":
            return left + right
        if expr.operator == "-":
            return left - right
        if expr.operator == "*":
            return left * right
        if right == 0:
            raise DynamicRuleError("division by zero in the rule's threshold")
        return left / right
    if isinstance(expr, FunctionCall):
        name = expr.name
        args = [_evaluate_number(a, analyzer, history) for a in expr.arguments]
        if name == "last":
            k = int(_scalar(args[0])) if args else 1
            if k < 1:
                raise DynamicRuleError("last(k) needs k >= 1")
            return history.values(analyzer)[:k]
        if name == "index":
            if len(args) != 2 or not isinstance(args[0], list):
                raise DynamicRuleError("index takes a list and a position: index(last(3), 1)")
            items, position = args[0], int(_scalar(args[1]))
            if not 0 <= position < len(items):
                raise DynamicRuleError(f"index {position} is outside the history of "
                                       f"{len(items)} value(s)")
            return items[position]
        if name == "abs":
            return abs(_scalar(args[0]))
        aggregates: dict[str, Callable[[list[float]], float]] = {
            "avg": statistics.fmean, "min": min, "max": max, "sum": math.fsum,
            "std": statistics.pstdev}
        if name in aggregates:
            items = args[0] if len(args) == 1 and isinstance(args[0], list) else \
                [_scalar(a) for a in args]
            if not items:
                raise DynamicRuleError("Rule threshold results in empty list, and a single "
                                       "value is expected.")
            return float(aggregates[name](items))
        raise DynamicRuleError(f"unknown function {name}(); use last, avg, min, max, sum, std, "
                               f"abs or index")
    raise DynamicRuleError(f"{expr.to_dqdl()} is not a number")


def _scalar(value: Any) -> float:
    if isinstance(value, list):
        if not value:
            raise DynamicRuleError("Rule threshold results in empty list, and a single value is "
                                   "expected.")
        if len(value) > 1:
            raise DynamicRuleError("Rule threshold results in list, and a single value is "
                                   "expected. Use aggregation functions to produce a single "
                                   "value.")
        return float(value[0])
    return float(value)


# --------------------------------------------------------------------------- apart rules


def _dataset_param(text: str) -> tuple[str, list[str]]:
    """``"ref.col"`` / ``"ref.{a,b}"`` -> (dataset, columns)."""
    m = re.fullmatch(r"([^.]+)\.\{(.+)\}", text)
    if m:
        return m.group(1), [c.strip() for c in m.group(2).split(",")]
    if "." in text:
        name, column = text.split(".", 1)
        return name, [column]
    return "primary", [text]


def _primary_param(text: str) -> tuple[str, list[str]]:
    """ReferentialIntegrity's first parameter: Glue's comma-separated list of primary columns
    (``"city,state"``); ``"ds.col"`` / ``"ds.{a,b}"`` still name a dataset's columns."""
    if "," in text and not re.fullmatch(r"[^.]+\.\{.+\}", text):
        return "primary", [c.strip() for c in text.split(",")]
    return _dataset_param(text)


def _row_level_sql_problem(returned: Sequence[str], primary: Sequence[str]) -> str | None:
    """Why a row-level CustomSql statement cannot be joined back to the primary rows (Glue and
    Deequ's DQDL module: its columns must be columns of the primary dataset), or None."""
    if not set(returned) & set(primary):
        return ("The output from CustomSQL must contain at least one column that matches the "
                "input dataset. Ensure that matching columns are returned from the SQL.")
    missing = [c for c in returned if c not in primary]
    if missing:
        return ("The columns returned from the SQL statement should only belong to the primary "
                f"table. Columns not found: {', '.join(missing)}")
    return None


def _rows_returned(df: DataFrame, result: DataFrame) -> int:
    """Rows of ``df`` whose values of the statement's columns are among the rows it returned
    (NULL matches NULL): Glue joins the statement's result back to the primary dataset, so a
    primary row counts once however often the statement returns its values."""
    keys = result.select(*[F.col(sql_column(c)).alias(f"__sql{i}")
                           for i, c in enumerate(result.columns)]).distinct()
    condition = None
    for i, column in enumerate(result.columns):
        term = df[sql_column(column)].eqNullSafe(keys[f"__sql{i}"])
        condition = term if condition is None else condition & term
    return df.join(keys, condition, "left_semi").count()



def _not_found(pairs: Sequence[tuple[str, str]], first: DataFrame, second: DataFrame,
               what: str) -> str | None:
    """Deequ's DataSynchronization message for the (primary, reference) column pairs the
    first or the second dataset lacks (the first dataset's first), or None."""
    for names, frame, which in (([p for p, _ in pairs], first, "first"),
                                ([r for _, r in pairs], second, "second")):
        missing = [n for n in names if n not in frame.columns]
        if missing:
            return (f"The following {what} were not found in the {which} dataset: "
                    f"{', '.join(missing)}")
    return None


def _duplicate_keys(primary: DataFrame, reference: DataFrame,
                    keys: Sequence[tuple[str, str]]) -> str | None:
    """Deequ's message when the DatasetMatch keys do not identify the rows of both datasets
    (the keys' group count differs from the row count), else None."""
    left = [sql_column(p) for p, _ in keys]
    right = [sql_column(r) for _, r in keys]
    counts = [(primary.select(*left).distinct().count(), primary.count()),
              (reference.select(*right).distinct().count(), reference.count())]
    if all(unique == rows for unique, rows in counts):
        return None
    (u1, n1), (u2, n2) = counts
    return ("The selected columns are not comparable due to duplicates present in the "
            "dataset.Comparison keys must be unique, but "
            f"in Dataframe 1, there are {u1} unique records and {n1} rows, and "
            f"in Dataframe 2, there are {u2} unique records and {n2} rows, based on the "
            f"combination of keys {{{', '.join(p for p, _ in keys)}}} in Dataframe 1 and "
            f"{{{', '.join(r for _, r in keys)}}} in Dataframe 2")


def _mappings(text: str) -> list[tuple[str, str]]:
    """``"id->ref_id,b"`` -> [("id", "ref_id"), ("b", "b")]."""
    out = []
    for part in text.split(","):
        part = part.strip()
        if "->" in part:
            left, right = part.split("->", 1)
            out.append((left.strip(), right.strip()))
        elif part:
            out.append((part, part))
    return out


def _ratio_outcome(rule: Rule, ratio: float, metric: str, values: list[float]) -> RuleOutcome:
    assert rule.condition is not None
    metrics = {} if math.isnan(ratio) else {metric: ratio}
    if not math.isnan(ratio) and number_assertion(rule.condition, values)(ratio):
        return RuleOutcome(rule, PASSED, None, metrics)
    return RuleOutcome(rule, FAILED, f"Value: {ratio} does not meet the constraint requirement.",
                       metrics)


class _ApartEvaluator:
    """Rules evaluated outside the shared plan."""

    def __init__(self, spark: SparkSession, df: DataFrame, references: Mapping[str, DataFrame],
                 history: _History) -> None:
        self.spark = spark
        self.df = df
        self.references = dict(references)
        self.history = history

    def values(self, rule: Rule) -> list[float]:
        assert rule.condition is not None
        return [_scalar(_evaluate_number(o, None, self.history)) for o in rule.condition.operands]

    def reference(self, name: str) -> DataFrame:
        if name == "primary":
            return self.df
        if name not in self.references:
            known = ", ".join(sorted(self.references)) or "none"
            raise KeyError(f"reference dataset '{name}' is not given (known: {known}); pass it "
                           f"as --reference {name}=TABLE")
        return self.references[name]

    def evaluate(self, apart: ApartRule, metrics: Mapping[A.Analyzer, Any]) -> RuleOutcome:
        rule = apart.rule
        try:
            handler = getattr(self, "_" + rule.rule_type)
            return handler(rule, metrics)
        except KeyError as exc:
            return RuleOutcome(rule, ERROR, str(exc.args[0]))
        except DynamicRuleError as exc:
            return RuleOutcome(rule, ERROR, str(exc))
        except AnalysisException as exc:
            first = str(exc).strip().splitlines()[0]
            return RuleOutcome(rule, ERROR, f"the SQL of the rule is invalid: {first}")

    def _ColumnExists(self, rule: Rule, _: Any) -> RuleOutcome:
        exists = rule.parameters[0] in self.df.columns
        return RuleOutcome(rule, PASSED if exists else FAILED,
                           None if exists else f"Column {rule.parameters[0]} does not exist",
                           {f"Dataset.{rule.parameters[0]}.ColumnExists": 1.0 if exists else 0.0})

    def _ColumnNamesMatchPattern(self, rule: Rule, _: Any) -> RuleOutcome:
        try:
            pattern = re.compile(rule.parameters[0])
        except re.error as exc:
            return RuleOutcome(rule, ERROR, f"invalid pattern {rule.parameters[0]!r}: {exc}")
        columns = self.df.columns
        unmatched = [c for c in columns if not pattern.search(c)]
        ratio = (len(columns) - len(unmatched)) / len(columns) if columns else 1.0
        metrics = {"Dataset.*.ColumnNamesPatternMatchRatio": ratio}
        if unmatched:
            return RuleOutcome(rule, FAILED, "Columns that do not match the pattern: "
                               + ", ".join(unmatched), metrics)
        return RuleOutcome(rule, PASSED, None, metrics)

    def _CustomSql(self, rule: Rule, _: Any) -> RuleOutcome:
        view = f"primary_{uuid.uuid4().hex[:12]}"
        statement = re.sub(r"\bprimary\b", view, rule.parameters[0])
        self.df.createOrReplaceTempView(view)
        try:
            result = self.spark.sql(statement)
            if rule.condition is None:  # row-level form: the rows it returns pass
                total = self.df.count()
                if not total:
                    return RuleOutcome(rule, FAILED, "Custom SQL rule could not be evaluated "
                                       "due to data frame being empty")
                problem = _row_level_sql_problem(result.columns, self.df.columns)
                if problem is not None:
                    return RuleOutcome(rule, FAILED, problem)
                passing = _rows_returned(self.df, result)
                ratio = passing / total
                threshold = rule.threshold
                values = [_scalar(_evaluate_number(o, None, self.history))
                          for o in threshold.operands] if threshold else [1.0]
                check = Rule(rule.rule_type, rule.parameters,
                             threshold or Condition("=", (Number(1.0),)))
                outcome = _ratio_outcome(check, ratio, "Dataset.*.CustomSQL.Compliance", values)
                return RuleOutcome(rule, outcome.outcome, outcome.failure_reason,
                                   outcome.evaluated_metrics)
            rows = result.take(2)
        finally:
            self.spark.catalog.dropTempView(view)
        if len(rows) != 1 or len(rows[0]) != 1:
            return RuleOutcome(rule, ERROR, "CustomSql with a condition must return one row "
                               "with one numeric column")
        value = rows[0][0]
        if value is None or isinstance(value, (str, bool)):
            return RuleOutcome(rule, ERROR, f"CustomSql returned {value!r}, not a number")
        return _ratio_outcome(rule, float(value), "Dataset.*.CustomSQL", self.values(rule))

    def _RowCountMatch(self, rule: Rule, _: Any) -> RuleOutcome:
        reference = self.reference(rule.parameters[0])
        primary_count, reference_count = self.df.count(), reference.count()
        ratio = primary_count / reference_count if reference_count else math.nan
        return _ratio_outcome(rule, ratio, f"Dataset.{rule.parameters[0]}.RowCountMatch",
                              self.values(rule))

    def _SchemaMatch(self, rule: Rule, _: Any) -> RuleOutcome:
        """Deequ's ratio: primary columns whose name and type the reference has, over the
        primary's columns; different column counts give 0."""
        reference = self.reference(rule.parameters[0])
        metric = f"Dataset.{rule.parameters[0]}.SchemaMatch"
        wanted = {f.name: f.dataType.simpleString() for f in reference.schema.fields}
        have = {f.name: f.dataType.simpleString() for f in self.df.schema.fields}
        if not wanted or not have:
            return RuleOutcome(rule, FAILED, "One or both DataFrames have no columns",
                               {metric: 0.0})
        if len(wanted) != len(have):
            return RuleOutcome(rule, FAILED, "Column counts do not match", {metric: 0.0})
        ratio = sum(wanted.get(name) == kind for name, kind in have.items()) / len(have)
        return _ratio_outcome(rule, ratio, metric, self.values(rule))

    def _ReferentialIntegrity(self, rule: Rule, _: Any) -> RuleOutcome:
        primary_name, primary_columns = _primary_param(rule.parameters[0])
        reference_name, reference_columns = _dataset_param(rule.parameters[1])
        # Deequ's ReferentialIntegrity.subsetCheckRowLevel: these fail the rule, in this order
        if len(primary_columns) != len(reference_columns):
            return RuleOutcome(rule, FAILED, "The number of columns to check from the primary "
                               "data frame must equal the number of columns to check from the "
                               "reference data frame.")
        primary = self.reference(primary_name)
        reference = self.reference(reference_name)
        for frame, columns, label in ((primary, primary_columns, "primary"),
                                      (reference, reference_columns, "reference")):
            missing = [c for c in columns if c not in frame.columns]
            if len(missing) == 1:
                return RuleOutcome(rule, FAILED,
                                   f"Column {missing[0]} does not exist in {label} data frame.")
            if missing:
                return RuleOutcome(rule, FAILED, f"Columns {', '.join(missing)} do not exist in "
                                   f"{label} data frame.")
        if not primary.head(1):
            return RuleOutcome(rule, FAILED, "Primary data frame contains no data.")
        keys = reference.select(*[F.col(sql_column(r)).alias(f"__ref{i}")
                                  for i, r in enumerate(reference_columns)]).distinct()
        condition = None
        for i, column in enumerate(primary_columns):
            term = primary[sql_column(column)] == keys[f"__ref{i}"]
            condition = term if condition is None else condition & term
        total = primary.count()
        found = primary.join(keys, condition, "left_semi").count()
        ratio = found / total if total else math.nan
        return _ratio_outcome(rule, ratio, f"Column.{reference_name}.ReferentialIntegrity",
                              self.values(rule))

    def _DatasetMatch(self, rule: Rule, _: Any) -> RuleOutcome:
        """Deequ's DataSynchronization (Glue's DatasetMatch): the keys must be unique in both
        datasets; a primary row matches when a reference row has equal keys (a NULL key
        matches nothing) and the same match columns (NULL equals NULL); without match
        columns, every non-key primary column, each of which the reference must have."""
        name = rule.parameters[0]
        reference = self.reference(name)
        keys = _mappings(rule.parameters[1])
        lacking = _not_found(keys, self.df, reference, "key columns")
        if lacking is not None:
            return RuleOutcome(rule, FAILED, lacking)
        duplicates = _duplicate_keys(self.df, reference, keys)
        if duplicates is not None:
            return RuleOutcome(rule, FAILED, duplicates)
        if len(rule.parameters) > 2:
            matches = _mappings(rule.parameters[2])
            lacking = _not_found(matches, self.df, reference, "columns")
            if lacking is not None:
                return RuleOutcome(rule, FAILED, lacking)
        else:
            matches = [(c, c) for c in self.df.columns if c not in {k for k, _ in keys}]
            if any(c not in reference.columns for c, _ in matches):
                return RuleOutcome(rule, FAILED,
                                   "Non key columns in the given data frames do not match.")
        pairs = keys + matches
        ref = reference.select(*[F.col(sql_column(r)).alias(f"__ref{i}")
                                 for i, (_, r) in enumerate(pairs)]).distinct()
        condition = None
        for i, (primary_column, _) in enumerate(pairs):
            left = self.df[sql_column(primary_column)]
            term = (left == ref[f"__ref{i}"]) if i < len(keys) else left.eqNullSafe(
                ref[f"__ref{i}"])
            condition = term if condition is None else condition & term
        total = self.df.count()
        if not total:
            return RuleOutcome(rule, FAILED, "Cannot evaluate: primary DataFrame is empty")
        found = self.df.join(ref, condition, "left_semi").count()
        ratio = found / total
        return _ratio_outcome(rule, ratio, f"Dataset.{name}.DatasetMatch", self.values(rule))

    def _AggregateMatch(self, rule: Rule, _: Any) -> RuleOutcome:
        def aggregate(text: str) -> tuple[float | None, str]:
            m = re.fullmatch(r"\s*(\w+)\((.+)\)\s*", text)
            if not m or m.group(1).lower() not in ("sum", "avg", "count", "min", "max"):
                raise KeyError(f"AggregateMatch takes sum/avg/count/min/max(column), got {text!r}")
            name, column = _dataset_param(m.group(2).strip())
            frame = self.reference(name)
            value = frame.agg(F.expr(f"{m.group(1).lower()}({sql_column(column[0])})")).first()
            return (None if value is None or value[0] is None else float(value[0])), column[0]

        first, first_column = aggregate(rule.parameters[0])
        second, second_column = aggregate(rule.parameters[1])
        label = first_column if first_column == second_column else \
            f"{first_column},{second_column}"
        if first is None or second is None or second == 0:
            return RuleOutcome(rule, FAILED, "an aggregate is NULL or the second one is 0")
        return _ratio_outcome(rule, first / second, f"Column.{label}.AggregateMatch",
                              self.values(rule))

    def _DetectAnomalies(self, rule: Rule, metrics: Mapping[A.Analyzer, Any]) -> RuleOutcome:
        analyzer, glue_name = _anomaly_analyzer(rule)
        metric = metrics.get(analyzer)
        if metric is None or not metric.is_success:
            reason = str(metric.exception) if metric is not None else "metric not computed"
            return RuleOutcome(rule, FAILED, reason)
        value = float(metric.value.numberOfBins if isinstance(analyzer, A.Histogram)
                      else metric.value)
        history = list(reversed(self.history.values(analyzer)))  # oldest first
        metrics_out = {glue_name: value}
        if len(history) < 3:
            return RuleOutcome(rule, PASSED, f"not enough history to detect anomalies "
                               f"({len(history)} of 3 runs)", metrics_out)
        series = [*history, value]
        # mean and sample deviation of the history; the new value is judged against them
        anomalies = BatchNormalStrategy().detect(series, (len(series) - 1, len(series)))
        if anomalies:
            return RuleOutcome(rule, FAILED, anomalies[0][1].detail or "anomaly detected",
                               metrics_out)
        return RuleOutcome(rule, PASSED, None, metrics_out)


def _anomaly_analyzer(rule: Rule) -> tuple[A.Analyzer, str]:
    """The analyzer and Glue name of ``DetectAnomalies "RowCount"`` / ``"Mean" "col"``."""
    metric_rule = rule.parameters[0]
    columns = rule.parameters[1:]
    probe = Rule(metric_rule, tuple(columns), Condition(">", (Number(0),)))
    planned = plan_rule(probe, lambda expr, analyzer: 0.0, dt.date.today(), None)
    if not isinstance(planned, PlannedRule):
        raise KeyError(f"DetectAnomalies works on a metric rule (RowCount, Completeness, "
                       f"Mean, ...), not {metric_rule}")
    return planned.check.constraints[0].analyzer, planned.metrics[0].name


# --------------------------------------------------------------------------- analyzers section


def _analyzer_metrics(spec: AnalyzerSpec, df: DataFrame) -> list[tuple[str, A.Analyzer]]:
    """Glue metric names and analyzers of one ``Analyzers`` entry."""
    t, params = spec.analyzer_type, spec.parameters
    if t in ("ColumnValues", "AllStatistics", "ColumnLength"):
        column = params[0]
        field_type = next((f.dataType for f in df.schema.fields if f.name == column), None)
        numeric = isinstance(field_type, T.NumericType)
        out: list[tuple[str, A.Analyzer]] = []
        if t == "AllStatistics":
            out += [("Dataset.*.RowCount", A.Size()),
                    (f"Column.{column}.Completeness", A.Completeness(column)),
                    (f"Column.{column}.Uniqueness", A.Uniqueness([column]))]
        if numeric and t != "ColumnLength":
            out += [(f"Column.{column}.Minimum", A.Minimum(column)),
                    (f"Column.{column}.Maximum", A.Maximum(column))]
            if t == "AllStatistics":
                out += [(f"Column.{column}.Mean", A.Mean(column)),
                        (f"Column.{column}.Sum", A.Sum(column)),
                        (f"Column.{column}.StandardDeviation", A.StandardDeviation(column))]
        elif not numeric:
            out += [(f"Column.{column}.MinimumLength", A.MinLength(column)),
                    (f"Column.{column}.MaximumLength", A.MaxLength(column))]
        return out
    probe = Rule(t, params, Condition(">", (Number(0),)))
    planned = plan_rule(probe, lambda expr, analyzer: 0.0, dt.date.today(), df)
    assert isinstance(planned, PlannedRule)
    return [(m.name, planned.check.constraints[m.constraint_index].analyzer)
            for m in planned.metrics]


# --------------------------------------------------------------------------- the run


def evaluate_ruleset(spark: SparkSession, df: DataFrame, ruleset: Ruleset | str, *,
                     references: Mapping[str, DataFrame] | None = None,
                     repository: MetricsRepository | None = None,
                     result_key: ResultKey | None = None,
                     today: dt.date | None = None) -> DQDLResult:
    """Run a ruleset (parsed or DQDL text) on ``df``; see the module docstring."""
    if isinstance(ruleset, str):
        ruleset = parse_ruleset(ruleset)
    today = today or dt.date.today()
    history = _History(repository, result_key.tags if result_key is not None else None)

    planned: dict[int, PlannedRule | ApartRule] = {}
    errors: dict[int, RuleOutcome] = {}
    leaves = [leaf for top in ruleset.rules for leaf in top.leaves()]

    def resolve(expr: Any, analyzer: A.Analyzer | None) -> float:
        return _scalar(_evaluate_number(expr, analyzer, history))

    extra: list[A.Analyzer] = []
    for leaf in leaves:
        try:
            plan = plan_rule(leaf, resolve, today, df)
        except DynamicRuleError as exc:
            errors[id(leaf)] = RuleOutcome(leaf, ERROR, str(exc))
            continue
        except ValueError as exc:
            errors[id(leaf)] = RuleOutcome(leaf, ERROR, str(exc))
            continue
        planned[id(leaf)] = plan
        if isinstance(plan, ApartRule) and leaf.rule_type == "DetectAnomalies":
            try:
                analyzer = _anomaly_analyzer(leaf)[0]
                history.values(analyzer)  # read before this run's metrics are saved
                extra.append(analyzer)
            except KeyError as exc:
                errors[id(leaf)] = RuleOutcome(leaf, ERROR, str(exc.args[0]))
    analyzer_names: list[tuple[str, A.Analyzer]] = []
    for spec in ruleset.analyzers:
        analyzer_names += _analyzer_metrics(spec, df)

    checks = [p.check for p in planned.values() if isinstance(p, PlannedRule)]
    required = list(dict.fromkeys([*extra, *(a for _, a in analyzer_names)]))
    suite = VerificationSuite(spark).onData(df).addChecks(checks).addRequiredAnalyzers(required)
    if repository is not None and result_key is not None:
        suite = suite.useRepository(repository).saveOrAppendResult(result_key)
    verification = suite.run()
    metrics = verification.metrics
    apart = _ApartEvaluator(spark, df, references or {}, history)

    leaf_outcomes: dict[int, RuleOutcome] = dict(errors)
    leaf_rows: dict[int, Any] = {}
    leaf_failed: dict[int, list[Constraint]] = {}
    for leaf in leaves:
        if id(leaf) in leaf_outcomes:
            continue
        plan = planned[id(leaf)]
        if isinstance(plan, ApartRule):
            leaf_outcomes[id(leaf)] = apart.evaluate(plan, metrics)
            continue
        check_result = verification.checkResults[plan.check]
        leaf_outcomes[id(leaf)] = _planned_outcome(plan, check_result, metrics)
        if plan.row_level:
            leaf_rows[id(leaf)] = plan
            if leaf_outcomes[id(leaf)].outcome == FAILED:
                # a metric that could not be computed (a missing column) blames no row
                leaf_failed[id(leaf)] = [
                    r.constraint for r in check_result.constraintResults
                    if r.status == ConstraintStatus.Failure
                    and row_level_computed(r.constraint, r)]
    outcomes = [_combine(top, leaf_outcomes) for top in ruleset.rules]
    rows = [(top.to_dqdl(), _row_builder(top, leaf_rows)) for top in ruleset.rules]
    failures = [(top.to_dqdl(), _failure_builder(top, leaf_rows, leaf_failed))
                for top, outcome in zip(ruleset.rules, outcomes, strict=True)
                if outcome.outcome == FAILED]
    analyzer_metrics: dict[str, float] = {}
    for name, analyzer in analyzer_names:
        metric = metrics.get(analyzer)
        if metric is not None and metric.is_success:
            value = metric.value.numberOfBins if isinstance(analyzer, A.Histogram) \
                else metric.value
            if not math.isnan(float(value)):
                analyzer_metrics[name] = float(value)
    result = DQDLResult(outcomes, analyzer_metrics, rows, failures)
    log.info("DQDL ruleset: %d rules, score %.3f", len(outcomes), result.score)
    return result


def _planned_outcome(plan: PlannedRule, check_result: Any,
                     metrics: Mapping[A.Analyzer, Any]) -> RuleOutcome:
    evaluated: dict[str, float] = {}
    for name in plan.metrics:
        constraint = plan.check.constraints[name.constraint_index]
        value = metric_value(constraint, metrics.get(constraint.analyzer))
        if value is not None and not is_nan(value):
            evaluated[name.name] = value
    failed = [r for r in check_result.constraintResults
              if r.status == ConstraintStatus.Failure]
    if not failed:
        return RuleOutcome(plan.rule, PASSED, None, evaluated)
    if (plan.passes_when_empty or plan.rule.where is not None) and all(
            _judged_no_rows(r) for r in failed):
        # as Deequ's DQDL module: no row left to judge (empty data or a where that keeps
        # none) passes the rule
        return RuleOutcome(plan.rule, PASSED, "No rows matched the filter", evaluated)
    reasons = list(dict.fromkeys(r.message or "" for r in failed))
    return RuleOutcome(plan.rule, FAILED, "\n".join(reasons), evaluated)


def _judged_no_rows(result: Any) -> bool:
    """The constraint failed only because no row was left to judge (NaN or empty state)."""
    metric = result.metric
    if metric is not None and not metric.is_success:
        return "Empty state" in str(metric.exception)
    return is_nan(metric_value(result.constraint, metric))


def _combine(rule: AnyRule, leaf_outcomes: Mapping[int, RuleOutcome]) -> RuleOutcome:
    if isinstance(rule, Rule):
        outcome = leaf_outcomes[id(rule)]
        return outcome
    parts = [_combine(r, leaf_outcomes) for r in rule.rules]
    passed = [p.outcome == PASSED for p in parts]
    ok = all(passed) if rule.operator == "and" else any(passed)
    metrics: dict[str, float] = {}
    for p in parts:
        metrics.update(p.evaluated_metrics)
    if ok:
        return RuleOutcome(rule, PASSED, None, metrics)
    reasons = [p.failure_reason for p in parts if p.outcome != PASSED and p.failure_reason]
    return RuleOutcome(rule, FAILED, "\n".join(reasons) or None, metrics)


def _row_builder(rule: AnyRule, leaf_rows: Mapping[int, PlannedRule], in_composite: bool = False
                 ) -> Any:
    """A function df -> boolean Column for the rule's row-level result, or None."""
    if isinstance(rule, Rule):
        plan = leaf_rows.get(id(rule))
        if plan is None or (in_composite and rule.rule_type in _NOT_ROW_LEVEL_IN_COMPOSITES):
            return None
        return lambda df: row_level_column(plan, df)
    builders = [_row_builder(r, leaf_rows, True) for r in rule.rules]
    if any(b is None for b in builders):
        return None

    def build(df: DataFrame) -> Column | None:
        columns = [b(df) for b in builders]
        if any(c is None for c in columns):
            return None
        combined = columns[0]
        for column in columns[1:]:
            combined = combined & column if rule.operator == "and" else combined | column
        return combined
    return build


def _failure_builder(rule: AnyRule, leaf_rows: Mapping[int, PlannedRule],
                     leaf_failed: Mapping[int, Sequence[Constraint]], in_composite: bool = False
                     ) -> Callable[[DataFrame], Column] | None:
    """A function df -> Column, TRUE for the rows counting against the rule (never NULL), or
    None when the rule has no row-level results (see :meth:`DQDLResult.failing_rows`)."""
    if isinstance(rule, Rule):
        plan = leaf_rows.get(id(rule))
        if plan is None or (in_composite and rule.rule_type in _NOT_ROW_LEVEL_IN_COMPOSITES):
            return None
        constraints = list(leaf_failed.get(id(rule), ()))

        def leaf(df: DataFrame) -> Column:
            columns = [c for c in (constraint.row_failure(df) for constraint in constraints)
                       if c is not None]
            combined = F.lit(False)
            for column in columns:
                combined = combined | column
            return combined
        return leaf
    builders = [_failure_builder(r, leaf_rows, leaf_failed, True) for r in rule.rules]
    if any(b is None for b in builders):
        return None
    present = [b for b in builders if b is not None]

    def build(df: DataFrame) -> Column:
        # `or` failed: every part failed, a row fails when it fails each; `and`: any part
        columns = [b(df) for b in present]
        combined = columns[0]
        for column in columns[1:]:
            combined = combined | column if rule.operator == "and" else combined & column
        return combined
    return build


# --------------------------------------------------------------------------- Glue scripts


class EvaluateDataQuality:
    """Glue's ``awsgluedq.transforms.EvaluateDataQuality`` on DataFrames.

    ``EvaluateDataQuality().process_rows(frame, ruleset=..., publishing_options=...,
    additional_options=...)`` returns ``{"originalData", "ruleOutcomes", "rowLevelOutcomes"}``
    (Glue returns a DynamicFrameCollection with those keys). Adapter point for the
    awsglue-compatible runtime: convert a DynamicFrame with ``toDF()`` before calling and wrap
    the returned DataFrames with ``DynamicFrame.fromDF`` into a collection after; nothing here
    depends on awsglue. ``additional_options["additionalDataSources"]`` maps aliases to frames
    for the multi-dataset rules (Glue's key); ``publishing_options`` is accepted as Glue's
    (``dataQualityEvaluationContext``, ``enableDataQualityCloudWatchMetrics``,
    ``enableDataQualityResultsPublishing``) and only the context is used, as a repository tag.
    """

    def __init__(self, repository: MetricsRepository | None = None) -> None:
        self.repository = repository
        self.last_result: DQDLResult | None = None

    def process_rows(self, frame: DataFrame, ruleset: str,
                     publishing_options: Mapping[str, Any] | None = None,
                     additional_options: Mapping[str, Any] | None = None
                     ) -> dict[str, DataFrame]:
        spark = frame.sparkSession
        options = dict(additional_options or {})
        references = dict(options.get("additionalDataSources") or {})
        key = None
        context = (publishing_options or {}).get("dataQualityEvaluationContext")
        if self.repository is not None:
            from quality.repository import ResultKey

            key = ResultKey(spark, ResultKey.current_milli_time(),
                            {"context": str(context)} if context else {})
        result = evaluate_ruleset(spark, frame, ruleset, references=references,
                                  repository=self.repository, result_key=key)
        self.last_result = result
        return {"originalData": frame,
                "ruleOutcomes": result.rule_outcomes(spark),
                "rowLevelOutcomes": result.row_level(frame)}

    @staticmethod
    def apply(frame: DataFrame, ruleset: str,
              publishing_options: Mapping[str, Any] | None = None,
              additional_options: Mapping[str, Any] | None = None) -> DataFrame:
        """Glue's ``EvaluateDataQuality.apply``: the rule outcomes frame."""
        out = EvaluateDataQuality().process_rows(frame, ruleset, publishing_options,
                                                 additional_options)
        return out["ruleOutcomes"]


def failed_rules(result: DQDLResult) -> Sequence[RuleOutcome]:
    return [r for r in result.rules if r.outcome != PASSED]


__all__ = [
    "ERROR", "FAILED", "PASSED", "ROW_FAIL", "ROW_PASS", "ROW_RESULT", "ROW_SKIP",
    "DQDLResult", "DynamicRuleError", "EvaluateDataQuality", "RuleOutcome", "evaluate_ruleset",
    "failed_rules",
]
