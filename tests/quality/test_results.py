"""quality.results.failing_rows: the rows a failed row-level constraint counts against its
metric (what the gate quarantines), per kind of constraint, NULLs and ``where`` included."""

from __future__ import annotations

from typing import Any

from pyspark.sql import types as T

from quality import (
    AnalyzerOptions,
    Check,
    CheckLevel,
    ConstraintStatus,
    FilteredRowOutcome,
    NullBehavior,
    VerificationResult,
    VerificationSuite,
)
from quality.results import failing_rows

SCHEMA = T.StructType([T.StructField("id", T.IntegerType()), T.StructField("x", T.DoubleType()),
                       T.StructField("y", T.DoubleType()), T.StructField("t", T.StringType()),
                       T.StructField("keep", T.BooleanType())])
ROWS = [(1, 5.0, 1.0, "a@b.com", True),
        (2, None, 2.0, None, True),
        (3, -1.0, None, "nope", True),
        (4, None, 1.0, "zz", None),  # the where filter `keep` is NULL: outside every filter
        (5, -2.0, 3.0, "x", False),
        (6, 7.0, 9.0, "a@b.com", True)]
FILTERED_NULL = AnalyzerOptions(filteredRow=FilteredRowOutcome.NULL)

# Each check holds one constraint that fails on ROWS, and the ids that count against it.
CASES: dict[str, tuple[Check, set[int]]] = {
    # Compliance counts a NULL predicate as not compliant (sum(when(predicate, 1))).
    "satisfies": (Check(CheckLevel.Error, "satisfies").satisfies("x > 0", "x positive"),
                  {2, 3, 4, 5}),
    "satisfies where": (Check(CheckLevel.Error, "satisfies where").satisfies(
        "x > 0", "x positive").where("keep"), {2, 3}),
    "satisfies where, filtered NULL": (Check(CheckLevel.Error, "s3").satisfies(
        "x > 0", "x positive", analyzerOptions=FILTERED_NULL).where("keep"), {2, 3}),
    "isLessThan": (Check(CheckLevel.Error, "isLessThan").isLessThan("x", "y"), {1, 2, 3, 4}),
    # NULL is allowed (`t IS NULL OR t IN (...)`), NULL is non-negative (COALESCE to 0).
    "isContainedIn": (Check(CheckLevel.Error, "isContainedIn").isContainedIn(
        "t", ["a@b.com", "zz"]), {3, 5}),
    "isNonNegative": (Check(CheckLevel.Error, "isNonNegative").isNonNegative("x"), {3, 5}),
    "areComplete": (Check(CheckLevel.Error, "areComplete").areComplete(["x", "y"]), {2, 3, 4}),
    "isComplete where": (Check(CheckLevel.Error, "isComplete where").isComplete("t")
                         .where("keep"), {2}),
    # A NULL value does not match; row 4 (filter NULL) is judged by Deequ's row level, but the
    # metric does not count it.
    "hasPattern where": (Check(CheckLevel.Error, "hasPattern where").hasPattern("t", "@")
                         .where("keep"), {2, 3}),
    "hasPattern where, filtered NULL": (Check(CheckLevel.Error, "p2").hasPattern(
        "t", "@", analyzerOptions=FILTERED_NULL).where("keep"), {2, 3}),
    # Row 4's "zz" has no other row passing the filter: FALSE in Deequ's row level, not counted.
    "isUnique where": (Check(CheckLevel.Error, "isUnique where").isUnique("t").where("keep"),
                       {1, 6}),
    "isUnique": (Check(CheckLevel.Error, "isUnique").isUnique("y"), {1, 4}),
    # The minimum skips NULLs (NullBehavior.Ignore: row-level NULL, not counted) ...
    "hasMin": (Check(CheckLevel.Error, "hasMin").hasMin("x", lambda v: v >= 0), {3, 5}),
    # ... unless NullBehavior.Fail makes a NULL value fail.
    "hasMin null fails": (Check(CheckLevel.Error, "hasMin null fails").hasMin(
        "x", lambda v: v >= 0, analyzerOptions=AnalyzerOptions(NullBehavior.Fail)),
        {2, 3, 4, 5}),
    "hasMaxLength": (Check(CheckLevel.Error, "hasMaxLength").hasMaxLength(
        "t", lambda v: v <= 3), {1, 3, 6}),
    "hasMaxLength where": (Check(CheckLevel.Error, "hasMaxLength where").hasMaxLength(
        "t", lambda v: v <= 1, analyzerOptions=AnalyzerOptions(NullBehavior.EmptyString))
        .where("keep"), {1, 3, 6}),
}


def test_failing_rows_are_the_rows_each_failed_constraint_counts_against_it(spark: Any) -> None:
    df = spark.createDataFrame(ROWS, SCHEMA)
    suite = VerificationSuite(spark).onData(df)
    for check, _ in CASES.values():
        suite = suite.addCheck(check)
    result = suite.run()
    by_constraint: dict[str, set[int]] = {}
    for row in failing_rows(result, df).select("id", "failed_constraints").collect():
        for name in row["failed_constraints"]:
            by_constraint.setdefault(name, set()).add(row["id"])
    for case, (check, expected) in CASES.items():
        (constraint,) = check.constraints
        (cr,) = result.checkResults[check].constraintResults
        assert cr.status == ConstraintStatus.Failure, (case, cr.message)
        assert by_constraint.get(str(constraint), set()) == expected, case


def test_row_level_results_keep_deequs_null_while_failing_rows_count_it(spark: Any) -> None:
    """The row-level column stays Deequ 2.0.7's (a NULL predicate gives NULL); only the
    quarantine reads that NULL as failing."""
    df = spark.createDataFrame(ROWS, SCHEMA)
    check = Check(CheckLevel.Warning, "c").satisfies("x > 0", "x positive")
    result = VerificationSuite(spark).onData(df).addCheck(check).run()
    frame = VerificationResult.rowLevelResultsAsDataFrame(spark, result, df)
    assert {r["id"]: r["c"] for r in frame.select("id", "c").collect()} == {
        1: True, 2: None, 3: False, 4: None, 5: False, 6: True}
    assert sorted(r["id"] for r in failing_rows(result, df).collect()) == [2, 3, 4, 5]


def test_passing_and_dataset_level_constraints_give_no_failing_rows(spark: Any) -> None:
    df = spark.createDataFrame(ROWS, SCHEMA)
    check = (Check(CheckLevel.Error, "c").satisfies("id > 0", "positive id")
             .hasMean("x", lambda v: v > 100).hasSize(lambda n: n > 100))
    result = VerificationSuite(spark).onData(df).addCheck(check).run()
    assert [cr.status for cr in result.checkResults[check].constraintResults] == [
        ConstraintStatus.Success, ConstraintStatus.Failure, ConstraintStatus.Failure]
    rows = failing_rows(result, df)
    assert rows.count() == 0 and rows.columns == [*df.columns, "failed_constraints"]
