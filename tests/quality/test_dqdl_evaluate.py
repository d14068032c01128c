"""DQDL evaluation on the native engine: every rule type passes and fails, NULL and empty input,
Glue's output shapes, row-level outcomes, dynamic rules, and the Spark job count."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from pyspark.sql import types as T

from quality.analyzers import AnalyzerContext, Size
from quality.dqdl import EvaluateDataQuality, evaluate_ruleset, parse_ruleset
from quality.dqdl.evaluate import ROW_FAIL, ROW_PASS, ROW_RESULT, ROW_SKIP, DQDLResult
from quality.dqdl.model import RULE_TYPES
from quality.dqdl.reference import ORDERS_DQDL
from quality.metrics import DoubleMetric, Entity
from quality.reference_suites import orders_frame
from quality.repository import InMemoryMetricsRepository, ResultKey

SCHEMA = T.StructType([
    T.StructField("id", T.LongType()),
    T.StructField("status", T.StringType()),
    T.StructField("amount", T.DoubleType()),
    T.StructField("day", T.StringType()),
    T.StructField("email", T.StringType()),
])
ROWS = [
    (1, "new", 10.0, "2024-01-01", "a@x.com"),
    (2, "paid", 20.0, "2024-01-02", None),
    (3, None, None, None, "c@x.com"),
    (4, "paid", 30.0, "2024-01-03", "d@x.com"),
]
REFERENCE_SCHEMA = T.StructType([T.StructField("id", T.LongType()),
                                 T.StructField("amount", T.DoubleType())])

# (rule, outcome on ROWS): a passing and a failing rule for every rule type
CASES: list[tuple[str, str]] = [
    ("RowCount = 4", "Passed"),
    ("RowCount > 4", "Failed"),
    ("ColumnCount = 5", "Passed"),
    ("ColumnCount < 5", "Failed"),
    ('Completeness "status" >= 0.75', "Passed"),
    ('Completeness "status" > 0.75', "Failed"),
    ('IsComplete "id"', "Passed"),
    ('IsComplete "status"', "Failed"),
    ('IsUnique "id"', "Passed"),
    ('IsUnique "status"', "Failed"),
    ('Uniqueness "id" = 1.0', "Passed"),
    ('Uniqueness "status" > 0.5', "Failed"),
    ('IsPrimaryKey "id"', "Passed"),
    ('IsPrimaryKey "id" "status"', "Failed"),
    ('Mean "amount" = 20', "Passed"),
    ('Mean "amount" > 20', "Failed"),
    ('Sum "amount" = 60', "Passed"),
    ('Sum "amount" < 60', "Failed"),
    ('StandardDeviation "amount" between 8 and 9', "Passed"),
    ('StandardDeviation "amount" > 9', "Failed"),
    ('Entropy "status" between 0.6 and 0.7', "Passed"),
    ('Entropy "status" > 0.7', "Failed"),
    ('DistinctValuesCount "status" = 3', "Passed"),  # new, paid and NULL (Deequ's histogram)
    ('DistinctValuesCount "status" < 3', "Failed"),
    ('UniqueValueRatio "status" = 0.5', "Passed"),
    ('UniqueValueRatio "status" > 0.5', "Failed"),
    ('ColumnCorrelation "id" "amount" > 0.9', "Passed"),
    ('ColumnCorrelation "id" "amount" < 0.5', "Failed"),
    ('ColumnValues "id" between 0 and 5', "Passed"),
    ('ColumnValues "amount" between 5 and 35', "Failed"),  # NULL fails
    ('ColumnValues "status" in ["new", "paid"] with threshold >= 0.75', "Passed"),
    ('ColumnValues "status" in ["new", "paid"]', "Failed"),
    ('ColumnValues "status" in [NULL, "new", "paid"]', "Passed"),
    ('ColumnValues "status" not in ["new"] with threshold = 0.75', "Passed"),  # NULL passes
    ('ColumnValues "status" matches "[a-z]+" with threshold > 0.7', "Passed"),
    ('ColumnValues "email" matches "[a-z]+@x\\\\.com"', "Failed"),
    ('ColumnValues "day" <= "2024-01-03" with threshold = 0.75', "Passed"),
    ('ColumnValues "day" > "2024-01-01"', "Failed"),
    ('ColumnValues "amount" != 10 with threshold = 0.75', "Passed"),
    ('ColumnValues "amount" = NULL', "Failed"),
    ('ColumnLength "status" between -1 and 5', "Passed"),  # NULL: length 0 (Glue)
    ('ColumnLength "status" > 3', "Failed"),
    ('ColumnNamesMatchPattern "[a-z]+"', "Passed"),
    ('ColumnNamesMatchPattern "^s.*"', "Failed"),
    ('ColumnExists "email"', "Passed"),
    ('ColumnExists "nope"', "Failed"),
    ('ColumnDataType "day" = "DATE" with threshold = 0.75', "Passed"),  # NULL is no DATE
    ('ColumnDataType "status" = "INTEGER"', "Failed"),
    ('CustomSql "select count(*) from primary where amount > 15" = 2', "Passed"),
    ('CustomSql "select count(*) from primary where amount > 15" > 2', "Failed"),
    ('DataFreshness "day" > 24 hours with threshold >= 0.75', "Passed"),
    ('DataFreshness "day" <= 24 hours', "Failed"),
    ('ReferentialIntegrity "id" "ref.id" = 0.75', "Passed"),
    ('ReferentialIntegrity "id" "ref.id" = 1.0', "Failed"),
    ('DatasetMatch "ref" "id" "amount" = 0.5', "Passed"),
    ('DatasetMatch "ref" "id->id" "amount->amount" >= 0.9', "Failed"),
    ('RowCountMatch "ref" between 1.3 and 1.4', "Passed"),
    ('RowCountMatch "ref" = 1.0', "Failed"),
    ('SchemaMatch "same" = 1.0', "Passed"),
    ('SchemaMatch "ref" = 1.0', "Failed"),
    ('AggregateMatch "count(id)" "count(ref.id)" > 1.3', "Passed"),
    ('AggregateMatch "sum(amount)" "sum(ref.amount)" >= 1', "Failed"),
    ('DetectAnomalies "RowCount"', "Passed"),  # no history: nothing to compare with
    ('Completeness "status" = 1.0 where "amount > 15"', "Passed"),
    ('IsComplete "email" where "id > 1"', "Failed"),
    ('(IsComplete "id") or (IsComplete "status")', "Passed"),
    ('(IsComplete "id") and (IsComplete "status")', "Failed"),
]


@pytest.fixture(scope="module")
def frames(spark: Any) -> dict[str, Any]:
    df = spark.createDataFrame(ROWS, SCHEMA)
    ref = spark.createDataFrame([(1, 10.0), (2, 20.0), (3, 99.0)], REFERENCE_SCHEMA)
    return {"primary": df, "ref": ref, "same": df.select("*")}


@pytest.fixture(scope="module")
def result(spark: Any, frames: dict[str, Any]) -> DQDLResult:
    text = "Rules = [\n" + ",\n".join(rule for rule, _ in CASES) + "\n]"
    return evaluate_ruleset(spark, frames["primary"], text,
                            references={"ref": frames["ref"], "same": frames["same"]})


def test_every_rule_type_has_a_passing_and_a_failing_case() -> None:
    outcomes: dict[str, set[str]] = {}
    for rule, outcome in CASES:
        outcomes.setdefault(rule.split()[0].lstrip("("), set()).add(outcome)
    missing = [t for t in RULE_TYPES if outcomes.get(t) != {"Passed", "Failed"}
               and t != "DetectAnomalies"]
    assert missing == []


@pytest.mark.parametrize("index", range(len(CASES)), ids=[c[0] for c in CASES])
def test_rule_outcome(result: DQDLResult, index: int) -> None:
    rule, expected = CASES[index]
    outcome = result.rules[index]
    assert outcome.outcome == expected, (rule, outcome.failure_reason,
                                         outcome.evaluated_metrics)
    if expected == "Failed":
        assert outcome.failure_reason


def test_glue_metric_names_and_values(result: DQDLResult) -> None:
    metrics = {k: v for r in result.rules for k, v in r.evaluated_metrics.items()}
    assert metrics["Dataset.*.RowCount"] == 4.0
    assert metrics["Column.status.Completeness"] == 0.75
    assert metrics["Column.amount.Mean"] == 20.0
    assert metrics["Column.status.ColumnValues.Compliance"] == 0.75
    assert metrics["Column.ref.ReferentialIntegrity"] == 0.75
    assert metrics["Dataset.ref.RowCountMatch"] == pytest.approx(4 / 3)
    assert "Multicolumn.id,amount.ColumnCorrelation" in metrics
    assert metrics["Column.status.MinimumLength"] == 0.0  # the NULL status, as Glue


def test_score_and_json_shape(result: DQDLResult) -> None:
    passed = sum(1 for _, o in CASES if o == "Passed")
    assert result.score == pytest.approx(passed / len(CASES))
    payload = result.as_json()
    assert set(payload) == {"score", "rules"}
    assert set(payload["rules"][0]) == {"Rule", "Outcome", "FailureReason", "EvaluatedMetrics"}
    assert payload["rules"][0]["Rule"] == "RowCount = 4"


def test_rule_outcomes_frame_has_glue_columns(spark: Any, result: DQDLResult) -> None:
    frame = result.rule_outcomes(spark)
    assert frame.columns == ["Rule", "Outcome", "FailureReason", "EvaluatedMetrics"]
    rows = {r.Rule: r for r in frame.collect()}
    assert rows['IsComplete "status"'].Outcome == "Failed"
    assert rows['IsComplete "status"'].EvaluatedMetrics == {"Column.status.Completeness": 0.75}


def test_row_level_outcomes(spark: Any, frames: dict[str, Any]) -> None:
    text = ('Rules = [ IsComplete "status", ColumnValues "amount" > 15, RowCount > 0, '
            '(IsComplete "id") and (ColumnValues "amount" < 25) ]')
    res = evaluate_ruleset(spark, frames["primary"], text)
    rows = {r.id: r for r in res.row_level(frames["primary"]).collect()}
    composite = '(IsComplete "id") and (ColumnValues "amount" < 25)'
    assert rows[1][ROW_PASS] == ['IsComplete "status"', composite]
    assert rows[1][ROW_FAIL] == ['ColumnValues "amount" > 15']
    assert rows[1][ROW_SKIP] == ["RowCount > 0"]
    assert rows[3][ROW_FAIL] == ['IsComplete "status"', 'ColumnValues "amount" > 15', composite]
    assert rows[2][ROW_RESULT] == "Passed"
    assert rows[4][ROW_FAIL] == [composite]
    assert rows[4][ROW_RESULT] == "Failed"


def test_empty_frame(spark: Any) -> None:
    empty = spark.createDataFrame([], SCHEMA)
    text = """Rules = [ RowCount = 0, IsComplete "id", Mean "amount" > 0, ColumnValues "id" > 0,
        DataFreshness "day" <= 24 hours, ColumnExists "id", ColumnCount = 5,
        CustomSql "select count(*) from primary" = 0, Uniqueness "id" > 0 ]"""
    res = evaluate_ruleset(spark, empty, text)
    outcomes = [r.outcome for r in res.rules]
    assert outcomes == ["Passed", "Failed", "Failed", "Failed", "Passed", "Passed", "Passed",
                        "Passed", "Failed"]
    assert "Empty state" in (res.rules[2].failure_reason or "")
    assert res.row_level(empty).count() == 0


NULLS_SCHEMA = T.StructType([
    T.StructField("id", T.LongType()),
    T.StructField("x", T.IntegerType()),
    T.StructField("s", T.StringType()),
    T.StructField("ts", T.StringType()),
])
NULLS_ROWS = [
    (1, 5, "a", "2024-01-01"),
    (2, None, None, None),
    (3, -1, "bbb", "2024-01-02"),
    (4, 3, "a", "2024-01-03"),
    (5, 2, None, None),
    (6, None, "a", "2024-01-04"),
]


def test_failing_rows_are_the_rows_each_failed_rule_counts_against(spark: Any) -> None:
    """NULL values, NULL where filters, a passed threshold rule, a composite: the rows blamed
    are exactly those the rule's metric counts as failing."""
    df = spark.createDataFrame(NULLS_ROWS, NULLS_SCHEMA)
    rules = [
        'ColumnValues "x" > 0',                         # NULL x fails (Glue: NULL rows fail)
        'ColumnValues "x" > 0 with threshold > 0.4',     # 3/6 compliant: passes, blames none
        'IsComplete "s" where "x > 0"',                  # x NULL: outside the where
        'IsUnique "s" where "x > 1"',                    # row 6 (x NULL) is not counted
        'DataFreshness "ts" <= 1000000 hours',           # NULL ts fails (Glue's null behavior)
        'ColumnLength "s" >= 2',                         # NULL is length 0 (Glue)
        '(ColumnValues "x" > 0) or (ColumnValues "s" = "a")',
        "RowCount > 10",                                 # fails, no row-level results
    ]
    res = evaluate_ruleset(spark, df, "Rules = [ " + ", ".join(rules) + " ]")
    assert [r.outcome for r in res.rules] == ["Failed", "Passed", "Failed", "Failed", "Failed",
                                              "Failed", "Failed", "Failed"]
    blamed = {r.id: r.failed_rules for r in res.failing_rows(df).collect()}
    assert blamed == {
        1: [rules[3], rules[5]],
        2: [rules[0], rules[4], rules[5], rules[6]],
        3: [rules[0], rules[6]],
        4: [rules[3], rules[5]],
        5: [rules[2], rules[4], rules[5]],
        6: [rules[0], rules[5]],
    }
    # the metric and the blamed rows agree: Compliance 3/6, Completeness 2/3 under the where
    assert res.rules[0].evaluated_metrics == {"Column.x.ColumnValues.Compliance": 0.5}
    assert res.rules[2].evaluated_metrics == {"Column.s.Completeness": 2 / 3}
    assert res.rules[4].evaluated_metrics == {"Column.ts.DataFreshness.Compliance": 4 / 6}


def test_failing_rows_of_an_empty_frame_or_without_failed_rules_are_empty(spark: Any) -> None:
    empty = spark.createDataFrame([], NULLS_SCHEMA)
    res = evaluate_ruleset(spark, empty, 'Rules = [ RowCount > 0, ColumnValues "x" > 0 ]')
    assert [r.outcome for r in res.rules] == ["Failed", "Failed"]
    failing = res.failing_rows(empty)
    assert failing.columns == [*NULLS_SCHEMA.names, "failed_rules"]
    assert failing.count() == 0
    df = spark.createDataFrame(NULLS_ROWS, NULLS_SCHEMA)
    passed = evaluate_ruleset(spark, df, 'Rules = [ ColumnValues "x" > 0 with threshold > 0.4 ]')
    assert passed.passed and passed.failing_rows(df).count() == 0


def test_data_freshness_fails_null_rows_at_row_level(spark: Any) -> None:
    """Glue: DataFreshness rules fail rows with NULL values (they were in Skip)."""
    df = spark.createDataFrame(NULLS_ROWS, NULLS_SCHEMA)
    rule = 'DataFreshness "ts" <= 1000000 hours'
    rows = {r.id: r for r in evaluate_ruleset(spark, df, f"Rules = [ {rule} ]")
            .row_level(df).collect()}
    assert [i for i, r in sorted(rows.items()) if r[ROW_FAIL] == [rule]] == [2, 5]
    assert all(r[ROW_SKIP] == [] for r in rows.values())


def test_unparsable_dates_fail_their_rows_on_both_spark_lines(spark: Any) -> None:
    """A date string that does not parse counts as failing (NULL predicate) - on Spark 4.1 too,
    where ANSI casts raised CAST_INVALID_INPUT and failed every rule of the analysis pass."""
    df = spark.createDataFrame([(1, "2024-01-01"), (2, "not a date"), (3, None)],
                               "id long, ts string")
    rules = ['ColumnValues "ts" > "2023-01-01"', 'DataFreshness "ts" <= 1000000 hours',
             "RowCount = 3"]
    res = evaluate_ruleset(spark, df, "Rules = [ " + ", ".join(rules) + " ]")
    assert [(r.outcome, r.evaluated_metrics) for r in res.rules] == [
        ("Failed", {"Column.ts.ColumnValues.Compliance": 1 / 3}),
        ("Failed", {"Column.ts.DataFreshness.Compliance": 1 / 3}),
        ("Passed", {"Dataset.*.RowCount": 3.0})]
    blamed = {r.id: r.failed_rules for r in res.failing_rows(df).collect()}
    assert blamed == {2: rules[:2], 3: rules[:2]}


def test_column_length_counts_null_as_a_zero_length_string(spark: Any) -> None:
    """Glue's ColumnLength 'Null behavior': NULL is a length-0 string, so `> 4` fails a NULL
    row and `< 6` passes it; the metric and the blamed rows agree (also under a where)."""
    df = spark.createDataFrame([(1, "12345", "a"), (2, None, "a"), (3, "123456", "b"),
                                (4, None, "b")], "id long, zip string, grp string")
    rules = ['ColumnLength "zip" > 4', 'ColumnLength "zip" < 6',
             'ColumnLength "zip" >= 5 where "grp = \'a\'"', 'ColumnLength "zip" = 5']
    res = evaluate_ruleset(spark, df, "Rules = [ " + ", ".join(rules) + " ]")
    assert [(r.outcome, r.evaluated_metrics) for r in res.rules] == [
        ("Failed", {"Column.zip.MinimumLength": 0.0}),
        ("Failed", {"Column.zip.MaximumLength": 6.0}),
        ("Failed", {"Column.zip.MinimumLength": 0.0}),
        ("Failed", {"Column.zip.MinimumLength": 0.0, "Column.zip.MaximumLength": 6.0})]
    rows = {r.id: r for r in res.row_level(df).collect()}
    assert rows[2][ROW_FAIL] == [rules[0], rules[2], rules[3]]
    assert rows[2][ROW_PASS] == [rules[1]]
    assert rows[4][ROW_FAIL] == [rules[0], rules[3]]
    blamed = {r.id: r.failed_rules for r in res.failing_rows(df).collect()}
    assert blamed == {2: [rules[0], rules[2], rules[3]], 3: [rules[1], rules[3]],
                      4: [rules[0], rules[3]]}


def test_is_unique_blames_repeated_nulls_as_deequs_row_level_does(spark: Any) -> None:
    """Uniqueness leaves NULL out of its metric, but the row-level count groups NULLs together
    (Deequ's count over a window partitioned by the columns): one NULL passes, two NULLs fail
    their rows and a failed IsUnique quarantines them with its duplicated values."""
    df = spark.createDataFrame([(1, "a"), (2, "a"), (3, None), (4, None), (5, "b")],
                               "id long, k string")
    rule = 'IsUnique "k"'
    res = evaluate_ruleset(spark, df, f"Rules = [ {rule} ]")
    assert [(r.outcome, r.evaluated_metrics) for r in res.rules] == [
        ("Failed", {"Column.k.Uniqueness": 1 / 3})]
    rows = {r.id: r for r in res.row_level(df).collect()}
    assert sorted(i for i, r in rows.items() if r[ROW_FAIL] == [rule]) == [1, 2, 3, 4]
    assert rows[5][ROW_PASS] == [rule]
    assert sorted(r.id for r in res.failing_rows(df).collect()) == [1, 2, 3, 4]
    single = spark.createDataFrame([(1, "a"), (2, None), (3, "b")], "id long, k string")
    once = evaluate_ruleset(spark, single, f"Rules = [ {rule} ]")
    assert [(r.outcome, r.evaluated_metrics) for r in once.rules] == [
        ("Passed", {"Column.k.Uniqueness": 1.0})]
    assert all(r[ROW_PASS] == [rule] for r in once.row_level(single).collect())
    assert once.failing_rows(single).count() == 0


def test_all_null_column(spark: Any) -> None:
    nulls = spark.createDataFrame([(1, None, None, None, None), (2, None, None, None, None)],
                                  SCHEMA)
    text = """Rules = [ Completeness "status" = 0, IsComplete "amount", Mean "amount" > 0,
        ColumnValues "status" in ["a"], ColumnValues "status" = NULL, ColumnLength "status" > 0,
        DistinctValuesCount "status" = 1 ]"""
    outcomes = [r.outcome for r in evaluate_ruleset(spark, nulls, text).rules]
    assert outcomes == ["Passed", "Failed", "Failed", "Failed", "Passed", "Failed", "Passed"]


def test_missing_column_fails_only_its_rule(spark: Any, frames: dict[str, Any]) -> None:
    res = evaluate_ruleset(spark, frames["primary"],
                           'Rules = [ IsComplete "nope", RowCount = 4 ]')
    assert [r.outcome for r in res.rules] == ["Failed", "Passed"]
    assert "nope" in (res.rules[0].failure_reason or "")


def test_unknown_reference_and_bad_sql_are_errors(spark: Any, frames: dict[str, Any]) -> None:
    res = evaluate_ruleset(spark, frames["primary"], 'Rules = [ RowCountMatch "other" = 1, '
                           'CustomSql "select nope from primary" > 0 ]')
    assert [r.outcome for r in res.rules] == ["Error", "Error"]
    assert "--reference other=TABLE" in (res.rules[0].failure_reason or "")


def _history(spark: Any, values: list[float]) -> InMemoryMetricsRepository:
    repo = InMemoryMetricsRepository(spark)
    for i, value in enumerate(values):
        metric = DoubleMetric(Entity.Dataset, "Size", "*", value)
        repo.save(ResultKey(spark, 1000 + i, {"t": "x"}), AnalyzerContext({Size(): metric}))
    return repo


def test_dynamic_rules_read_the_history(spark: Any, frames: dict[str, Any]) -> None:
    repo = _history(spark, [2.0, 3.0, 5.0])
    text = ("Rules = [ RowCount > avg(last(3)), RowCount > max(last(3)), "
            "RowCount >= index(last(3), 0) - 1, RowCount between min(last(2)) and 5 ]")
    res = evaluate_ruleset(spark, frames["primary"], text, repository=repo,
                           result_key=ResultKey(spark, 2000, {"t": "x"}))
    assert [r.outcome for r in res.rules] == ["Passed", "Failed", "Passed", "Passed"]
    # the run's own metrics were saved: the next run sees 4 as the newest value
    again = evaluate_ruleset(spark, frames["primary"], "Rules = [ RowCount = last(1) ]",
                             repository=repo, result_key=ResultKey(spark, 3000, {"t": "x"}))
    assert again.rules[0].outcome == "Passed"


def test_dynamic_rule_without_history_is_an_error(spark: Any, frames: dict[str, Any]) -> None:
    res = evaluate_ruleset(spark, frames["primary"], "Rules = [ RowCount > avg(last(3)) ]",
                           repository=InMemoryMetricsRepository(spark),
                           result_key=ResultKey(spark, 1, {}))
    assert res.rules[0].outcome == "Error"
    assert "empty list" in (res.rules[0].failure_reason or "")


def test_detect_anomalies_against_history(spark: Any, frames: dict[str, Any]) -> None:
    steady = _history(spark, [4.0, 4.0, 4.0, 4.0])
    res = evaluate_ruleset(spark, frames["primary"], 'Rules = [ DetectAnomalies "RowCount" ]',
                           repository=steady, result_key=ResultKey(spark, 5000, {"t": "x"}))
    assert res.rules[0].outcome == "Passed"
    jumpy = _history(spark, [100.0, 101.0, 99.0, 100.0])
    res = evaluate_ruleset(spark, frames["primary"], 'Rules = [ DetectAnomalies "RowCount" ]',
                           repository=jumpy, result_key=ResultKey(spark, 5000, {"t": "x"}))
    assert res.rules[0].outcome == "Failed"


def test_analyzers_section_reports_metrics(spark: Any, frames: dict[str, Any]) -> None:
    res = evaluate_ruleset(spark, frames["primary"],
                           'Rules = [ RowCount > 0 ] Analyzers = [ Completeness "email", '
                           'AllStatistics "amount", ColumnLength "status" ]')
    assert res.analyzer_metrics["Column.email.Completeness"] == 0.75
    assert res.analyzer_metrics["Column.amount.Maximum"] == 30.0
    assert res.analyzer_metrics["Column.status.MaximumLength"] == 4.0
    assert res.as_json()["analyzers"]["Dataset.*.RowCount"] == 4.0


def test_evaluate_data_quality_process_rows(spark: Any, frames: dict[str, Any]) -> None:
    out = EvaluateDataQuality().process_rows(
        frames["primary"], ruleset='Rules = [ RowCountMatch "ref" > 1, IsComplete "email" ]',
        publishing_options={"dataQualityEvaluationContext": "orders"},
        additional_options={"additionalDataSources": {"ref": frames["ref"]}})
    assert set(out) == {"originalData", "ruleOutcomes", "rowLevelOutcomes"}
    outcomes = [r.Outcome for r in out["ruleOutcomes"].collect()]
    assert outcomes == ["Passed", "Failed"]
    assert out["rowLevelOutcomes"].columns[-4:] == [ROW_PASS, ROW_FAIL, ROW_SKIP, ROW_RESULT]


def count_jobs(spark: Any, action: Callable[[], Any]) -> tuple[int, Any]:
    sc = spark.sparkContext
    group = f"dqdl-test-{uuid.uuid4().hex}"
    sc.setJobGroup(group, "dqdl job count")
    try:
        value = action()
    finally:
        sc.setLocalProperty("spark.jobGroup.id", None)
    return len(sc.statusTracker().getJobIdsForGroup(group)), value


def test_25_rule_ruleset_over_12_columns_runs_in_at_most_3_jobs(spark: Any, tmp_path: Any
                                                                ) -> None:
    path = str(tmp_path / "orders")
    orders_frame(spark, 500).write.parquet(path)
    df = spark.read.parquet(path)
    ruleset = parse_ruleset(ORDERS_DQDL)
    assert len(ruleset.rules) == 25 and len(df.columns) == 12

    jobs, res = count_jobs(spark, lambda: evaluate_ruleset(spark, df, ruleset))

    assert jobs <= 3, f"{jobs} Spark jobs"
    failed = [(r.text, r.failure_reason) for r in res.rules if r.outcome != "Passed"]
    assert failed == []
