"""DQDL rule forms from Glue's rule pages that the generated differential
(tests/quality/test_dqdl_differential.py) does not draw: multi-column ReferentialIntegrity,
row-level CustomSql and ColumnDataType on NULLs. Each expected value is what Deequ 2.1.0's DQDL
module (``com.amazon.deequ.dqdl``) returned on the same rows; the last test runs that module on
them (jar set ``deequ-dqdl``, a second JVM) and compares rule by rule."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import types as T

from quality.dqdl import evaluate_ruleset, parse_ruleset
from tests.quality.conftest import run_deequ_dqdl

REPO = Path(__file__).resolve().parents[2]
SCHEMA = T.StructType([
    T.StructField("id", T.LongType()), T.StructField("status", T.StringType()),
    T.StructField("price", T.DoubleType()), T.StructField("qty", T.IntegerType()),
    T.StructField("day", T.StringType()), T.StructField("note", T.StringType()),
])
ROWS = [(1, "new", 3.0, 1, "2024-01-01", "a"), (2, None, 6.0, None, "2024-01-02", None),
        (2, "paid", None, 3, None, "abc"), (4, "paid", 12.0, 4, "2024-01-09", "abcd"),
        (None, "void", 15.0, 0, "2024-01-05", "")]
REFERENCE = [(1, "new", 3.0, 1, "2024-01-01", "a"), (2, "paid", 6.0, None, "2024-01-02", None),
             (7, "paid", None, 3, None, "abc"), (None, "void", 15.0, 0, "2024-01-05", "")]

NOT_JOINABLE = ("The output from CustomSQL must contain at least one column that matches the "
                "input dataset. Ensure that matching columns are returned from the SQL.")
# rule -> (Outcome, EvaluatedMetrics, FailureReason or None): Outcome and metrics as Deequ 2.1.0's
# module answered; the reasons are Deequ's too, except that ColumnDataType's ends with '!' (the
# planned rules' constraint message) where the module's ends with '.'.
AGREED: dict[str, tuple[str, dict[str, float], str | None]] = {
    # Glue: PRIMARY_COLS is "a comma-separated list of column names in the primary dataset"
    'ReferentialIntegrity "id,status" "ref.{id,status}" >= 0.3':
        ("Passed", {"Column.ref.ReferentialIntegrity": 0.4}, None),
    'ReferentialIntegrity "id, status" "ref.{id, status}" = 1.0':
        ("Failed", {"Column.ref.ReferentialIntegrity": 0.4},
         "Value: 0.4 does not meet the constraint requirement."),
    'ReferentialIntegrity "id,status" "ref.id" = 1.0':
        ("Failed", {}, "The number of columns to check from the primary data frame must equal "
                       "the number of columns to check from the reference data frame."),
    'ReferentialIntegrity "id" "ref.nope" = 1.0':
        ("Failed", {}, "Column nope does not exist in reference data frame."),
    # row-level CustomSql: a primary row passes when the statement returned its values
    # (ids 2 and 4 come back: the two rows with id 2 and the row with id 4 pass)
    'CustomSql "select id from primary where qty > 1" with threshold > 0.5':
        ("Passed", {"Dataset.*.CustomSQL.Compliance": 0.6}, None),
    'CustomSql "select id, status from primary where qty > 1"':
        ("Failed", {"Dataset.*.CustomSQL.Compliance": 0.4},
         "Value: 0.4 does not meet the constraint requirement."),
    'CustomSql "select note from primary where note is null" with threshold > 0.1':
        ("Passed", {"Dataset.*.CustomSQL.Compliance": 0.2}, None),
    'CustomSql "select count(*) from primary" with threshold > 0.1':
        ("Failed", {}, NOT_JOINABLE),
    'CustomSql "select id, qty * 2 as q2 from primary" with threshold > 0.1':
        ("Failed", {}, "The columns returned from the SQL statement should only belong to the "
                       "primary table. Columns not found: q2"),
    # DatasetMatch (Deequ's DataSynchronization): keys must be unique in both datasets, a NULL
    # key matches nothing, NULL match values equal NULL
    'DatasetMatch "ref" "id->id" "status" >= 0.3':
        ("Failed", {}, "The selected columns are not comparable due to duplicates present in "
                       "the dataset.Comparison keys must be unique, but in Dataframe 1, there "
                       "are 4 unique records and 5 rows, and in Dataframe 2, there are 4 unique "
                       "records and 4 rows, based on the combination of keys {id} in Dataframe "
                       "1 and {id} in Dataframe 2"),
    'DatasetMatch "ref" "id,status" "note" >= 0.1':
        ("Passed", {"Dataset.ref.DatasetMatch": 0.2}, None),
    'DatasetMatch "ref" "id,status" >= 0.1':  # every other column compared
        ("Passed", {"Dataset.ref.DatasetMatch": 0.2}, None),
    # ColumnDataType: a NULL value is of no type (fails =, passes !=)
    'ColumnDataType "day" = "DATE"':
        ("Failed", {"Column.day.ColumnDataType.Compliance": 0.8},
         "Value: 0.8 does not meet the constraint requirement!"),
    'ColumnDataType "day" = "DATE" with threshold > 0.5':
        ("Passed", {"Column.day.ColumnDataType.Compliance": 0.8}, None),
    'ColumnDataType "price" = "DOUBLE"':
        ("Failed", {"Column.price.ColumnDataType.Compliance": 0.8},
         "Value: 0.8 does not meet the constraint requirement!"),
    'ColumnDataType "note" = "INTEGER"':
        ("Failed", {"Column.note.ColumnDataType.Compliance": 0.0},
         "Value: 0.0 does not meet the constraint requirement!"),
    'ColumnDataType "day" != "DATE"':
        ("Failed", {"Column.day.ColumnDataType.Compliance": 0.2},
         "Value: 0.2 does not meet the constraint requirement!"),
    'ColumnDataType "status" != "DATE"':
        ("Passed", {"Column.status.ColumnDataType.Compliance": 1.0}, None),
}

# Differences docs/dqdl.md keeps: rule -> (Deequ 2.1.0's (Outcome, metrics), native (Outcome,
# metrics)); the jar test asserts both sides.
TABLED: dict[str, tuple[tuple[str, dict[str, float]], tuple[str, dict[str, float]]]] = {
    # a left join counts row 3 and 4 once per returned "paid" (4 of 5); each row once natively
    'CustomSql "select status from primary where qty > 1" with threshold >= 0.4':
        (("Passed", {"Dataset.*.CustomSQL.Compliance": 0.8}),
         ("Passed", {"Dataset.*.CustomSQL.Compliance": 0.4})),
    # row 2's where is NULL: Deequ counts its outcome over the 3 rows the where keeps
    'ColumnDataType "day" = "DATE" where "qty > 0"':
        (("Passed", {"Column.day.ColumnDataType.Compliance": 1.0}),
         ("Failed", {"Column.day.ColumnDataType.Compliance": 2 / 3})),
    # a statement answering NULL: Deequ reads it as 0.0 (and passes "= 0"); natively an Error
    'CustomSql "select max(price) from primary where qty > 100" = 0':
        (("Passed", {"Dataset.*.CustomSQL": 0.0}), ("Error", {})),
    'IsPrimaryKey "id" "status"':
        (("Passed", {"Multicolumn.id,status.Uniqueness": 1.0}),
         ("Failed", {"Multicolumn.id,status.Uniqueness": 1.0, "Column.id.Completeness": 0.8,
                     "Column.status.Completeness": 0.8})),
    'ColumnValues "qty" > 0 with threshold > 0.5':
        (("Failed", {"Column.qty.Minimum": 0.0}),
         ("Passed", {"Column.qty.ColumnValues.Compliance": 0.6})),
}


def _results(spark: Any, rows: list[tuple[Any, ...]], rules: list[str]) -> dict[str, Any]:
    df = spark.createDataFrame(rows, SCHEMA)
    ref = spark.createDataFrame(REFERENCE, SCHEMA)
    text = "Rules = [\n" + ",\n".join(rules) + "\n]"
    result = evaluate_ruleset(spark, df, text, references={"ref": ref})
    return {rule: outcome for rule, outcome in zip(rules, result.rules, strict=True)}


@pytest.mark.parametrize("rule_type", ["ReferentialIntegrity", "CustomSql", "DatasetMatch",
                                       "ColumnDataType"])
def test_rule_type_gives_deequs_outcomes_metrics_and_reasons(spark: Any, rule_type: str) -> None:
    rules = {r: expected for r, expected in AGREED.items() if r.split()[0] == rule_type}
    got = _results(spark, ROWS, list(rules))
    for rule, (outcome, metrics, reason) in rules.items():
        mine = got[rule]
        assert (mine.outcome, mine.evaluated_metrics) == (outcome, pytest.approx(metrics)), rule
        assert (mine.failure_reason or None) == reason, rule


def test_row_level_custom_sql_counts_each_primary_row_once(spark: Any) -> None:
    """A value the statement returns twice still passes its rows once: the ratio stays a
    fraction of the primary rows (Deequ 2.1.0's left join counts the row once per returned
    duplicate: 0.8 here, 1.75 and 7.075 on larger frames; a tabled difference)."""
    got = _results(spark, ROWS, [
        'CustomSql "select status from primary where qty > 1" with threshold >= 0.4'])
    (outcome,) = got.values()
    assert outcome.evaluated_metrics == {"Dataset.*.CustomSQL.Compliance": 0.4}


def test_row_level_custom_sql_on_an_empty_frame_fails_before_running_the_statement(
        spark: Any) -> None:
    got = _results(spark, [], ['CustomSql "select count(*) from primary" with threshold > 0.1',
                               'CustomSql "select id from primary"'])
    for outcome in got.values():
        assert outcome.outcome == "Failed"
        assert outcome.failure_reason == ("Custom SQL rule could not be evaluated due to data "
                                          "frame being empty")


def test_referential_integrity_failures_say_what_deequ_says(spark: Any) -> None:
    """Deequ's ReferentialIntegrity fails (not errs) a rule it cannot compute, naming why."""
    got = _results(spark, ROWS, ['ReferentialIntegrity "id,status" "ref.id" = 1.0',
                                 'ReferentialIntegrity "nope" "ref.id" = 1.0',
                                 'ReferentialIntegrity "id,x" "ref.{id,y}" = 1.0'])
    assert [(o.outcome, o.failure_reason) for o in got.values()] == [
        ("Failed", "The number of columns to check from the primary data frame must equal the "
                   "number of columns to check from the reference data frame."),
        ("Failed", "Column nope does not exist in primary data frame."),
        ("Failed", "Column x does not exist in primary data frame.")]
    (empty,) = _results(spark, [], ['ReferentialIntegrity "id" "ref.id" = 1.0']).values()
    assert (empty.outcome, empty.failure_reason) == ("Failed",
                                                     "Primary data frame contains no data.")


@pytest.mark.slow
@pytest.mark.jars
def test_glue_rule_forms_agree_with_deequs_dqdl_module(spark: Any, tmp_path: Path) -> None:
    """The rules above through Deequ 2.1.0's module in a second JVM (about a minute)."""
    data, ref = str(tmp_path / "primary"), str(tmp_path / "ref")
    spark.createDataFrame(ROWS, SCHEMA).coalesce(1).write.parquet(data)
    spark.createDataFrame(REFERENCE, SCHEMA).coalesce(1).write.parquet(ref)
    rules = list(AGREED) + list(TABLED)
    deequ = run_deequ_dqdl([{"id": "glue", "data": data, "refs": {"ref": ref},
                             "ruleset": "Rules = [\n" + ",\n".join(rules) + "\n]"}],
                           tmp_path, timeout=900)["glue"]
    assert [row.get("Exception") for row in deequ] == [None] * len(rules)
    native = {outcome.text: outcome for outcome in _results(spark, ROWS, rules).values()}
    assert len(deequ) == len(rules)
    for row in deequ:  # the module's order is its own: matched by the rule as this parser prints it
        rule = row["Rule"]
        key = parse_ruleset(f"Rules = [ {rule} ]").rules[0].to_dqdl()
        mine = native[key]
        if key in TABLED:
            deequ_side, native_side = TABLED[key]
            assert (row["Outcome"], row["EvaluatedMetrics"]) == (
                deequ_side[0], pytest.approx(deequ_side[1])), (rule, row)
            assert (mine.outcome, mine.evaluated_metrics) == (
                native_side[0], pytest.approx(native_side[1])), rule
            continue
        assert mine.outcome == row["Outcome"], (rule, row)
        assert set(mine.evaluated_metrics) == set(row["EvaluatedMetrics"]), (rule, row)
        for name, value in row["EvaluatedMetrics"].items():
            assert math.isclose(mine.evaluated_metrics[name], value), (rule, name, row)


def test_dataset_match_without_match_columns_needs_every_primary_column(spark: Any) -> None:
    """Without match columns every non-key primary column is compared, so a reference that
    lacks one fails the rule with Deequ's DataSynchronization message (it was left out)."""
    df = spark.createDataFrame([(1, "a", "x"), (2, "b", "y")], "id long, k string, note string")
    narrow = spark.createDataFrame([(1, "a"), (2, "b")], "id long, k string")
    result = evaluate_ruleset(spark, df, 'Rules = [ DatasetMatch "ref" "id" >= 0.5 ]',
                              references={"ref": narrow})
    (outcome,) = result.rules
    assert (outcome.outcome, outcome.failure_reason) == (
        "Failed", "Non key columns in the given data frames do not match.")


def test_dataset_match_names_key_and_match_columns_a_dataset_lacks(spark: Any) -> None:
    """DataSynchronization's messages for a key or match column missing from the first
    (primary) or the second (reference) dataset, the first dataset checked first."""
    rules = ['DatasetMatch "ref" "nope->id" >= 0.1', 'DatasetMatch "ref" "id->nope" >= 0.1',
             'DatasetMatch "ref" "id" "gone->status" >= 0.1',
             'DatasetMatch "ref" "id" "status->gone" >= 0.1',
             'DatasetMatch "ref" "nope->nada" >= 0.1']
    df = spark.createDataFrame([(1, "a"), (2, "b")], "id long, status string")
    result = evaluate_ruleset(spark, df, "Rules = [\n" + ",\n".join(rules) + "\n]",
                              references={"ref": df})
    got = {rule: (o.outcome, o.failure_reason)
           for rule, o in zip(rules, result.rules, strict=True)}
    first = "The following {} were not found in the first dataset: {}"
    second = "The following {} were not found in the second dataset: {}"
    assert got == {
        rules[0]: ("Failed", first.format("key columns", "nope")),
        rules[1]: ("Failed", second.format("key columns", "nope")),
        rules[2]: ("Failed", first.format("columns", "gone")),
        rules[3]: ("Failed", second.format("columns", "gone")),
        rules[4]: ("Failed", first.format("key columns", "nope"))}
