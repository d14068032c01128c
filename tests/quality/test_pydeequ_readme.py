"""PyDeequ's README quickstart (awslabs/python-deequ, README.md, "Quickstart") run against
Lakeforge with only the imports changed:

    from pydeequ.analyzers import *    ->  from quality.analyzers import *
    from pydeequ.profiles import *     ->  from quality.profiles import *
    from pydeequ.suggestions import *  ->  from quality.suggestions import *
    from pydeequ.checks import *       ->  from quality.checks import *
    from pydeequ.verification import * ->  from quality.verification import *
    from pydeequ.repository import *   ->  from lakeforge.quality_repository import *

The README's session setup (spark.jars.packages) is the suite's session fixture, and its
"Wrapping up" ``spark.stop()`` is left out (the suite's one session must not be stopped).
Each section's code is the README's, statement for statement; the asserts after it check what
it printed or returned. The verification section is also run on real PyDeequ when the Deequ
jar is on the classpath, and both check-result tables must be identical."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from pyspark.sql import Row

from lakeforge.quality_repository import *  # noqa: F403

# The README's imports, each with only the module changed (pydeequ -> quality / lakeforge).
from quality.analyzers import *  # noqa: F403, I001
from quality.checks import *  # noqa: F403
from quality.profiles import *  # noqa: F403
from quality.suggestions import *  # noqa: F403
from quality.verification import *  # noqa: F403


@pytest.fixture
def df(spark: Any) -> Any:
    return spark.sparkContext.parallelize([
        Row(a="foo", b=1, c=5),
        Row(a="bar", b=2, c=6),
        Row(a="baz", b=3, c=None)]).toDF()


def test_readme_analyzers(spark: Any, df: Any, capsys: pytest.CaptureFixture[str]) -> None:
    analysisResult = AnalysisRunner(spark) \
                        .onData(df) \
                        .addAnalyzer(Size()) \
                        .addAnalyzer(Completeness("b")) \
                        .run()  # noqa: F405

    analysisResult_df = AnalyzerContext.successMetricsAsDataFrame(spark, analysisResult)  # noqa: F405
    analysisResult_df.show()

    assert sorted(tuple(r) for r in analysisResult_df.collect()) == [
        ("Column", "b", "Completeness", 1.0), ("Dataset", "*", "Size", 3.0)]
    assert "Completeness" in capsys.readouterr().out


def test_readme_profile(spark: Any, df: Any, capsys: pytest.CaptureFixture[str]) -> None:
    result = ColumnProfilerRunner(spark) \
        .onData(df) \
        .run()  # noqa: F405

    for col, profile in result.profiles.items():  # noqa: B007
        print(profile)

    out = capsys.readouterr().out
    assert sorted(result.profiles) == ["a", "b", "c"]
    assert result.profiles["c"].completeness == pytest.approx(2 / 3)
    assert result.profiles["b"].mean == 2.0
    # One printed profile per column (Lakeforge prints the profile dataclass; PyDeequ prints
    # "NumericProfiles for column: b: {json}").
    assert [line.split("(column=")[1].split(",")[0] for line in out.splitlines()] == [
        "'a'", "'b'", "'c'"]
    assert "completeness=0.6666666666666666" in out


def test_readme_constraint_suggestions(spark: Any, df: Any,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    suggestionResult = ConstraintSuggestionRunner(spark) \
                 .onData(df) \
                 .addConstraintRule(DEFAULT()) \
                 .run()  # noqa: F405

    # Constraint Suggestions in JSON format
    print(suggestionResult)

    out = capsys.readouterr().out
    assert isinstance(suggestionResult, dict)
    assert list(suggestionResult) == ["constraint_suggestions"]
    assert json.loads(json.dumps(suggestionResult)) == suggestionResult
    suggestions = suggestionResult["constraint_suggestions"]
    # What real Deequ 2.0.7 suggests for this frame with Rules.DEFAULT (its
    # ConstraintSuggestionRunner called on the JVM: PyDeequ 1.7's rule wrappers need a newer
    # Deequ, see docs/quality.md); 2.1.0 suggests the same.
    assert [(s["column_name"], s["code_for_constraint"], s["description"],
             s["current_value"]) for s in suggestions] == [
        ("a", '.isComplete("a")', "'a' is not null", "Completeness: 1.0"),
        ("b", '.isComplete("b")', "'b' is not null", "Completeness: 1.0"),
        ("b", '.isNonNegative("b")', "'b' has no negative values", "Minimum: 1.0"),
        ("c", '.hasCompleteness("c", _ >= 0.13, Some("It should be above 0.13!"))',
         "'c' has less than 87% missing values", "Completeness: 0.6666666666666666"),
        ("c", '.isNonNegative("c")', "'c' has no negative values", "Minimum: 5.0")]
    assert suggestions[0]["constraint_name"] == "CompletenessConstraint(Completeness(a,None,None))"
    assert all(set(s) == {"constraint_name", "column_name", "current_value", "description",
                          "suggesting_rule", "rule_description", "code_for_constraint"}
               for s in suggestions)
    assert "constraint_suggestions" in out and "'a' is not null" in out


def _readme_verification(spark: Any, df: Any, checks: Any, verification: Any) -> Any:
    """The README's verification section with the names from ``checks`` / ``verification``
    (PyDeequ's modules or Lakeforge's)."""
    Check, CheckLevel = checks.Check, checks.CheckLevel
    VerificationSuite = verification.VerificationSuite
    VerificationResult = verification.VerificationResult

    check = Check(spark, CheckLevel.Warning, "Review Check")

    checkResult = VerificationSuite(spark) \
        .onData(df) \
        .addCheck(
            check.hasSize(lambda x: x >= 3) \
            .hasMin("b", lambda x: x == 0) \
            .isComplete("c")  \
            .isUnique("a")  \
            .isContainedIn("a", ["foo", "bar", "baz"]) \
            .isNonNegative("b")) \
        .run()  # noqa: E502

    checkResult_df = VerificationResult.checkResultsAsDataFrame(spark, checkResult)
    checkResult_df.show()
    return checkResult, checkResult_df


def test_readme_constraint_verification_and_row_level_results(
        spark: Any, df: Any, capsys: pytest.CaptureFixture[str]) -> None:
    import quality.checks
    import quality.verification
    from quality.verification import VerificationResult

    checkResult, checkResult_df = _readme_verification(spark, df, quality.checks,
                                                       quality.verification)
    rows = [r.asDict() for r in checkResult_df.collect()]
    assert [(r["constraint_status"], r["constraint_message"]) for r in rows] == [
        ("Success", ""),
        ("Failure", "Value: 1.0 does not meet the constraint requirement!"),
        ("Failure", "Value: 0.6666666666666666 does not meet the constraint requirement!"),
        ("Success", ""), ("Success", ""), ("Success", "")]
    assert {r["check_status"] for r in rows} == {"Warning"}

    rowLevelResult_df = VerificationResult.rowLevelResultsAsDataFrame(spark, checkResult, df)
    rowLevelResult_df.show()

    # Deequ 2.x judges hasMin row by row too (the assertion on each row's b: 1, 2, 3 == 0 is
    # false), so no row passes the whole check; isComplete("c") alone would fail only baz.
    flags = {r["a"]: r["Review Check"] for r in rowLevelResult_df.collect()}
    assert flags == {"foo": False, "bar": False, "baz": False}
    only_c = Check(spark, CheckLevel.Warning, "c complete").isComplete("c")  # noqa: F405
    c_result = VerificationSuite(spark).onData(df).addCheck(only_c).run()  # noqa: F405
    c_rows = VerificationResult.rowLevelResultsAsDataFrame(spark, c_result, df).collect()
    assert {r["a"]: r["c complete"] for r in c_rows} == {"foo": True, "bar": True, "baz": False}
    assert "Review Check" in capsys.readouterr().out


@pytest.mark.jars
def test_readme_verification_table_is_real_pydeequs(deequ: Any, df: Any) -> None:
    """The same README section on real PyDeequ + Deequ 2.0.7 (jar set deequ) gives the same
    check-result table, constraint strings included."""
    spark = deequ
    import pydeequ.checks
    import pydeequ.verification

    import quality.checks
    import quality.verification
    from quality.deequ_engine import shutdown_callback_server

    try:
        _, real = _readme_verification(spark, df, pydeequ.checks, pydeequ.verification)
        real_rows = [tuple(r) for r in real.collect()]
    finally:
        shutdown_callback_server(spark)
    _, ours = _readme_verification(spark, df, quality.checks, quality.verification)
    assert [tuple(r) for r in ours.collect()] == real_rows


def test_readme_repository(spark: Any, df: Any) -> None:
    metrics_file = FileSystemMetricsRepository.helper_metrics_file(spark, 'metrics.json')  # noqa: F405
    repository = FileSystemMetricsRepository(spark, metrics_file)  # noqa: F405
    key_tags = {'tag': 'pydeequ hello world'}
    resultKey = ResultKey(spark, ResultKey.current_milli_time(), key_tags)  # noqa: F405

    analysisResult = AnalysisRunner(spark) \
        .onData(df) \
        .addAnalyzer(ApproxCountDistinct('b')) \
        .useRepository(repository) \
        .saveOrAppendResult(resultKey) \
        .run()  # noqa: F405

    result_metrep_df = repository.load() \
        .before(ResultKey.current_milli_time()) \
        .forAnalyzers([ApproxCountDistinct('b')]) \
        .getSuccessMetricsAsDataFrame()  # noqa: F405

    rows = [r.asDict() for r in result_metrep_df.collect()]
    assert [(r["entity"], r["instance"], r["name"], r["value"], r["tag"]) for r in rows] == [
        ("Column", "b", "ApproxCountDistinct", 3.0, "pydeequ hello world")]
    assert rows[0]["dataset_date"] == resultKey.dataSetDate
    assert os.path.isfile(metrics_file)
    assert analysisResult.metricMap  # the run's own result is returned as well

    # Wrapping up (the README's first line; spark.stop() is left to the suite).
    spark.sparkContext._gateway.shutdown_callback_server()
