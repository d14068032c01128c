"""A pass and a fail case for every constraint, plus Deequ's strings, nulls and empty frames.

All passing constraints live in one Check and all failing ones in another, verified by one
VerificationSuite run (module fixture); each parametrized test then asserts one constraint.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from pyspark.sql import types as T

from quality import (
    AnalyzerOptions,
    Check,
    CheckLevel,
    CheckStatus,
    ConstrainableDataTypes,
    ConstraintStatus,
    FilteredRowOutcome,
    NullBehavior,
    VerificationResult,
    VerificationSuite,
)

SCHEMA = T.StructType([
    T.StructField("id", T.IntegerType()),
    T.StructField("name", T.StringType()),
    T.StructField("email", T.StringType()),
    T.StructField("amount", T.DoubleType()),
    T.StructField("qty", T.IntegerType()),
    T.StructField("status", T.StringType()),
    T.StructField("price", T.DoubleType()),
    T.StructField("cost", T.DoubleType()),
    T.StructField("ssn", T.StringType()),
    T.StructField("url", T.StringType()),
    T.StructField("cc", T.StringType()),
    T.StructField("code", T.StringType()),
    T.StructField("extra", T.StringType()),
    T.StructField("delta", T.DoubleType()),
])

ROWS = [
    (1, "alice", "alice@example.com", 10.0, 1, "open", 5.0, 3.0, "123-45-6789",
     "https://a.example.com", "4111 1111 1111 1111", "1", None, 1.0),
    (2, "bob", "bob@example.com", 20.0, 0, "shipped", 6.0, 4.0, "234-56-7890",
     "http://b.example.com/x", "4111-1111-1111-1111", "2", None, -1.0),
    (3, "carol", None, 30.0, 2, "open", 7.0, 5.0, "345-67-8901",
     "https://c.example.com", "5500 0000 0000 0004", "3", "x", 0.0),
    (4, "dave", "dave@x.org", None, 0, "closed", 8.0, 6.0, "456-78-9012",
     "ftp://d.example.com/f", "4111111111111111", "4.5", None, 2.0),
    (5, None, "eve@x.org", 50.0, 3, None, 9.0, 7.0, "567-89-0123",
     "https://e.example.com", "4111 1111 1111 1111", None, None, None),
    (6, "frank", "frank@x.org", 60.0, 4, "open", 10.0, 8.0, "678-90-1234",
     "https://f.example.com", "5500-0000-0000-0004", "7", None, 3.0),
]

AMOUNTS = np.array([10.0, 20.0, 30.0, 50.0, 60.0])


def _central(k: int) -> float:
    return float(np.mean((AMOUNTS - AMOUNTS.mean()) ** k))


SKEW = _central(3) / _central(2) ** 1.5
KURT = _central(4) / _central(2) ** 2 - 3.0
ENTROPY_STATUS = -(0.6 * math.log(0.6) + 2 * 0.2 * math.log(0.2))


def close(expected: float) -> Callable[[float], bool]:
    return lambda x: abs(x - expected) < 1e-9


Builder = Callable[[Check], Check]

# name -> (passing constraint, failing constraint)
CASES: dict[str, tuple[Builder, Builder]] = {
    "hasSize": (lambda c: c.hasSize(lambda n: n == 6), lambda c: c.hasSize(lambda n: n == 5)),
    "hasColumnCount": (lambda c: c.hasColumnCount(lambda n: n == 14),
                       lambda c: c.hasColumnCount(lambda n: n == 3)),
    "isComplete": (lambda c: c.isComplete("id"), lambda c: c.isComplete("name")),
    "hasCompleteness": (lambda c: c.hasCompleteness("name", lambda x: x >= 0.8),
                        lambda c: c.hasCompleteness("name", lambda x: x >= 0.9)),
    "areComplete": (lambda c: c.areComplete(["id", "qty"]),
                    lambda c: c.areComplete(["id", "name"])),
    "haveCompleteness": (lambda c: c.haveCompleteness(["id", "name"], lambda x: x >= 0.8),
                         lambda c: c.haveCompleteness(["id", "name"], lambda x: x >= 0.9)),
    "areAnyComplete": (lambda c: c.areAnyComplete(["name", "email"]),
                       lambda c: c.areAnyComplete(["extra", "status"])),
    "haveAnyCompleteness": (
        lambda c: c.haveAnyCompleteness(["extra", "status"], lambda x: x >= 0.8),
        lambda c: c.haveAnyCompleteness(["extra", "status"], lambda x: x >= 0.9)),
    "isUnique": (lambda c: c.isUnique("id"), lambda c: c.isUnique("status")),
    "areUnique": (lambda c: c.areUnique(["id", "status"]), lambda c: c.areUnique(["qty"])),
    "isPrimaryKey": (lambda c: c.isPrimaryKey("status", "qty"), lambda c: c.isPrimaryKey("qty")),
    "hasUniqueness": (lambda c: c.hasUniqueness(["status"], close(0.4)),
                      lambda c: c.hasUniqueness(["status"], lambda x: x > 0.5)),
    "hasDistinctness": (lambda c: c.hasDistinctness(["status"], close(0.6)),
                        lambda c: c.hasDistinctness(["status"], lambda x: x > 0.9)),
    "hasUniqueValueRatio": (lambda c: c.hasUniqueValueRatio(["status"], close(2 / 3)),
                            lambda c: c.hasUniqueValueRatio(["status"], lambda x: x == 1.0)),
    "hasDuplicateRowCount": (lambda c: c.hasDuplicateRowCount(["status"], lambda n: n == 3),
                             lambda c: c.hasDuplicateRowCount(["status"], lambda n: n == 0)),
    "hasNumberOfDistinctValues": (
        lambda c: c.hasNumberOfDistinctValues("status", lambda n: n == 4),
        lambda c: c.hasNumberOfDistinctValues("status", lambda n: n < 3)),
    "hasHistogramValues": (
        lambda c: c.hasHistogramValues("status", lambda d: d.absolutes["open"] == 3),
        lambda c: c.hasHistogramValues("status", lambda d: d.ratios["open"] > 0.9)),
    "hasHistogramBinnedValues": (
        lambda c: c.hasHistogramBinnedValues(
            "price", lambda d: d.absolutes["[5.0, 7.5)"] == 3, customEdges=[5, 7.5, 10]),
        lambda c: c.hasHistogramBinnedValues(
            "price", lambda d: d.absolutes["[5.0, 7.5)"] == 4, customEdges=[5, 7.5, 10])),
    "hasHistogramBinnedBins": (
        lambda c: c.hasHistogramBinnedBins("price", lambda n: n == 3, binCount=3),
        lambda c: c.hasHistogramBinnedBins("price", lambda n: n == 5, binCount=3)),
    "hasEntropy": (lambda c: c.hasEntropy("status", lambda x: abs(x - ENTROPY_STATUS) < 1e-9),
                   lambda c: c.hasEntropy("status", lambda x: x > 2)),
    "hasMutualInformation": (lambda c: c.hasMutualInformation("status", "qty", lambda x: x > 0),
                             lambda c: c.hasMutualInformation("status", "qty", lambda x: x < 0)),
    "hasApproxQuantile": (lambda c: c.hasApproxQuantile("amount", 0.5, lambda x: x == 30.0),
                          lambda c: c.hasApproxQuantile("amount", 0.5, lambda x: x > 40)),
    "hasExactQuantile": (lambda c: c.hasExactQuantile("amount", 0.5, lambda x: x == 30.0),
                         lambda c: c.hasExactQuantile("amount", 0.5, lambda x: x != 30.0)),
    "hasApproxCountDistinct": (lambda c: c.hasApproxCountDistinct("id", lambda x: x == 6),
                               lambda c: c.hasApproxCountDistinct("id", lambda x: x < 6)),
    "hasCorrelation": (lambda c: c.hasCorrelation("price", "cost", lambda x: x > 0.99),
                       lambda c: c.hasCorrelation("price", "cost", lambda x: x < 0)),
    "hasMinLength": (lambda c: c.hasMinLength("name", lambda x: x == 3),
                     lambda c: c.hasMinLength("name", lambda x: x >= 4)),
    "hasMaxLength": (lambda c: c.hasMaxLength("name", lambda x: x <= 5),
                     lambda c: c.hasMaxLength("name", lambda x: x < 5)),
    "hasMin": (lambda c: c.hasMin("amount", lambda x: x == 10),
               lambda c: c.hasMin("amount", lambda x: x > 10)),
    "hasMax": (lambda c: c.hasMax("amount", lambda x: x == 60),
               lambda c: c.hasMax("amount", lambda x: x < 60)),
    "hasMean": (lambda c: c.hasMean("amount", close(34.0)),
                lambda c: c.hasMean("amount", lambda x: x > 40)),
    "hasSum": (lambda c: c.hasSum("amount", close(170.0)),
               lambda c: c.hasSum("amount", lambda x: x < 100)),
    "hasStandardDeviation": (lambda c: c.hasStandardDeviation("amount", close(math.sqrt(344))),
                             lambda c: c.hasStandardDeviation("amount", lambda x: x > 30)),
    "hasVariance": (lambda c: c.hasVariance("amount", close(344.0)),
                    lambda c: c.hasVariance("amount", lambda x: x < 100)),
    "hasSkewness": (lambda c: c.hasSkewness("amount", close(SKEW)),
                    lambda c: c.hasSkewness("amount", lambda x: x > 1)),
    "hasKurtosis": (lambda c: c.hasKurtosis("amount", close(KURT)),
                    lambda c: c.hasKurtosis("amount", lambda x: x > 0)),
    "hasRange": (lambda c: c.hasRange("amount", lambda x: x == 50),
                 lambda c: c.hasRange("amount", lambda x: x < 50)),
    "hasInterquartileRange": (lambda c: c.hasInterquartileRange("amount", lambda x: x == 30),
                              lambda c: c.hasInterquartileRange("amount", lambda x: x > 30)),
    "hasZerosCount": (lambda c: c.hasZerosCount("qty", lambda n: n == 2),
                      lambda c: c.hasZerosCount("qty", lambda n: n == 0)),
    "satisfies": (lambda c: c.satisfies("price > cost", "price above cost"),
                  lambda c: c.satisfies("price > 100", "expensive")),
    "hasPattern": (lambda c: c.hasPattern("name", r"^[a-z]+$", lambda x: x >= 0.8),
                   lambda c: c.hasPattern("name", r"^[a-z]+$")),
    "containsEmail": (lambda c: c.containsEmail("email", close(5 / 6)),
                      lambda c: c.containsEmail("name")),
    "containsURL": (lambda c: c.containsURL("url"), lambda c: c.containsURL("email")),
    "containsCreditCardNumber": (lambda c: c.containsCreditCardNumber("cc"),
                                 lambda c: c.containsCreditCardNumber("ssn")),
    "containsSocialSecurityNumber": (lambda c: c.containsSocialSecurityNumber("ssn"),
                                     lambda c: c.containsSocialSecurityNumber("url")),
    "hasDataType": (
        lambda c: c.hasDataType("code", ConstrainableDataTypes.Integral, close(0.8)),
        lambda c: c.hasDataType("code", ConstrainableDataTypes.Integral)),
    "hasDataType.Null": (
        lambda c: c.hasDataType("code", ConstrainableDataTypes.Null, close(1 / 6)),
        lambda c: c.hasDataType("code", ConstrainableDataTypes.Null, lambda x: x == 0)),
    "isNonNegative": (lambda c: c.isNonNegative("amount"), lambda c: c.isNonNegative("delta")),
    "isPositive": (lambda c: c.isPositive("price"), lambda c: c.isPositive("delta")),
    "isLessThan": (lambda c: c.isLessThan("cost", "price"),
                   lambda c: c.isLessThan("price", "cost")),
    "isLessThanOrEqualTo": (lambda c: c.isLessThanOrEqualTo("cost", "price"),
                            lambda c: c.isLessThanOrEqualTo("price", "cost")),
    "isGreaterThan": (lambda c: c.isGreaterThan("price", "cost"),
                      lambda c: c.isGreaterThan("cost", "price")),
    "isGreaterThanOrEqualTo": (lambda c: c.isGreaterThanOrEqualTo("price", "cost"),
                               lambda c: c.isGreaterThanOrEqualTo("cost", "price")),
    "isContainedIn.values": (
        lambda c: c.isContainedIn("status", ["open", "shipped", "closed"]),
        lambda c: c.isContainedIn("status", ["open"])),
    "isContainedIn.bounds": (
        lambda c: c.isContainedIn("amount", lowerBound=0, upperBound=100),
        lambda c: c.isContainedIn("amount", lowerBound=0, upperBound=40,
                                  includeUpperBound=False)),
    "where": (lambda c: c.isComplete("email").where("id <> 3"),
              lambda c: c.isComplete("email").where("id <> 4")),
}


@pytest.fixture(scope="module")
def data(spark: Any) -> Any:
    return spark.createDataFrame(ROWS, SCHEMA)


@pytest.fixture(scope="module")
def outcome(spark: Any, data: Any) -> dict[str, dict[str, Any]]:
    passing = Check(spark, CheckLevel.Error, "passing")
    failing = Check(spark, CheckLevel.Warning, "failing")
    names = list(CASES)
    for name in names:
        good, bad = CASES[name]
        good(passing)
        bad(failing)
    result = VerificationSuite(spark).onData(data).addCheck(passing).addCheck(failing).run()
    out: dict[str, dict[str, Any]] = {"result": {"result": result}}
    for check in (passing, failing):
        crs = result.checkResults[check].constraintResults
        assert len(crs) == len(names)
        for name, cr in zip(names, crs, strict=True):
            out.setdefault(name, {})[check.description] = cr
    return out


@pytest.mark.parametrize("name", list(CASES))
def test_constraint_passes(outcome: dict[str, dict[str, Any]], name: str) -> None:
    cr = outcome[name]["passing"]
    assert cr.status == ConstraintStatus.Success, (str(cr.constraint), cr.message)
    assert cr.message is None


@pytest.mark.parametrize("name", list(CASES))
def test_constraint_fails(outcome: dict[str, dict[str, Any]], name: str) -> None:
    cr = outcome[name]["failing"]
    assert cr.status == ConstraintStatus.Failure, str(cr.constraint)
    assert cr.message.startswith("Value: ") and "does not meet the constraint requirement!" in (
        cr.message)


def test_check_and_run_status(outcome: dict[str, dict[str, Any]]) -> None:
    result = outcome["result"]["result"]
    statuses = {c.description: r.status for c, r in result.checkResults.items()}
    assert statuses == {"passing": CheckStatus.Success, "failing": CheckStatus.Warning}
    assert result.status == CheckStatus.Warning


def test_deequ_constraint_strings_and_messages(spark: Any, data: Any) -> None:
    check = (Check(spark, CheckLevel.Error, "strings")
             .hasSize(lambda n: n == 5, hint="five rows expected")
             .isComplete("name")
             .isUnique("id")
             .isNonNegative("delta")
             .isContainedIn("status", ["open", "closed"])
             .isContainedIn("amount", lowerBound=0, upperBound=40)
             .hasUniqueValueRatio(["status"], lambda x: x == 1.0)
             .containsEmail("email")
             .hasMean("amount", lambda x: x > 100).where("qty > 0")
             .areComplete(["id", "name"]))
    result = VerificationSuite(spark).onData(data).addCheck(check).run()
    rows = VerificationResult.checkResultsAsJson(spark, result)
    assert [r["constraint"] for r in rows] == [
        "SizeConstraint(Size(None))",
        "CompletenessConstraint(Completeness(name,None,None))",
        "UniquenessConstraint(Uniqueness(List(id),None,None))",
        "ComplianceConstraint(Compliance(delta is non-negative,COALESCE(CAST(delta AS "
        "DECIMAL(20,10)), 0.0) >= 0,None,List(delta),None))",
        "ComplianceConstraint(Compliance(status contained in open,closed,`status` IS NULL OR "
        "`status` IN ('open','closed'),None,List(status),None))",
        "ComplianceConstraint(Compliance(amount between 0.0 and 40.0,`amount` IS NULL OR "
        "(`amount` >= 0.0 AND `amount` <= 40.0),None,List(amount),None))",
        "UniqueValueRatioConstraint(UniqueValueRatio(List(status),None,None)",
        "containsEmail(email)",
        "MeanConstraint(Mean(amount,Some(qty > 0)))",
        "ComplianceConstraint(Compliance(Combined Completeness,((id IS NOT NULL) AND "
        "(name IS NOT NULL)),None,List(id, name),None))",
    ]
    messages = [r["constraint_message"] for r in rows]
    assert messages[0] == "Value: 6 does not meet the constraint requirement! five rows expected"
    assert messages[1] == "Value: 0.8333333333333334 does not meet the constraint requirement!"
    assert messages[2] == ""
    assert messages[3] == "Value: 0.8333333333333334 does not meet the constraint requirement!"
    assert messages[8] == "Value: 37.5 does not meet the constraint requirement!"
    assert {r["check_level"] for r in rows} == {"Error"}
    assert {r["check_status"] for r in rows} == {"Error"}
    frame = VerificationResult.checkResultsAsDataFrame(spark, result)
    assert frame.columns == ["check", "check_level", "check_status", "constraint",
                             "constraint_status", "constraint_message"]
    assert frame.count() == len(rows)


def test_success_metrics_frame_has_deequ_columns(spark: Any, data: Any) -> None:
    check = Check(spark, CheckLevel.Error, "m").hasSize(lambda n: n > 0).isComplete("name")
    result = VerificationSuite(spark).onData(data).addCheck(check).run()
    frame = VerificationResult.successMetricsAsDataFrame(spark, result)
    assert frame.columns == ["entity", "instance", "name", "value"]
    got = {(r.entity, r.instance, r.name): r.value for r in frame.collect()}
    assert got == {("Dataset", "*", "Size"): 6.0, ("Column", "name", "Completeness"): 5 / 6}
    assert VerificationResult.successMetricsAsJson(spark, result)[0] == {
        "entity": "Dataset", "instance": "*", "name": "Size", "value": 6.0}


def test_empty_frame(spark: Any) -> None:
    empty = spark.createDataFrame([], SCHEMA)
    check = (Check(spark, CheckLevel.Error, "empty")
             .hasSize(lambda n: n == 0)
             .isComplete("name")
             .hasMean("amount", lambda x: x > 0)
             .isUnique("id")
             .hasNumberOfDistinctValues("status", lambda n: n == 0)
             .hasApproxCountDistinct("id", lambda x: x == 0))
    result = VerificationSuite(spark).onData(empty).addCheck(check).run()
    crs = result.checkResults[check].constraintResults
    assert [c.status.value for c in crs] == ["Success", "Failure", "Failure", "Failure",
                                            "Success", "Success"]
    assert crs[1].message == ("Empty state for analyzer Completeness(name,None,None), "
                              "all input values were NULL.")
    assert crs[2].message == ("Empty state for analyzer Mean(amount,None), "
                              "all input values were NULL.")
    assert crs[3].message.startswith("Empty state for analyzer Uniqueness(List(id),None,None)")


def test_where_filtering_out_every_row(spark: Any, data: Any) -> None:
    check = (Check(spark, CheckLevel.Error, "nothing selected")
             .isComplete("name").where("id > 100")
             .hasSize(lambda n: n == 0).where("id > 100")
             .hasMean("amount", lambda x: x > 0).where("id > 100")
             .isUnique("id").where("id > 100"))
    result = VerificationSuite(spark).onData(data).addCheck(check).run()
    crs = result.checkResults[check].constraintResults
    # Completeness over zero selected rows is 0/0 = NaN (Deequ), Size is 0, Mean has no values.
    assert crs[0].message == "Value: NaN does not meet the constraint requirement!"
    assert crs[1].status == ConstraintStatus.Success
    assert crs[2].message == ("Empty state for analyzer Mean(amount,Some(id > 100)), "
                              "all input values were NULL.")
    assert crs[3].message.startswith("Empty state for analyzer Uniqueness")


def test_all_null_column_for_grouping_analyzers(spark: Any) -> None:
    schema = T.StructType([T.StructField("k", T.StringType()), T.StructField("v", T.IntegerType())])
    df = spark.createDataFrame([(None, 1), (None, 2), (None, 2)], schema)
    check = (Check(spark, CheckLevel.Error, "nulls")
             .isUnique("k")
             .hasDistinctness(["k", "v"], lambda x: x == 2 / 3)
             .hasNumberOfDistinctValues("k", lambda n: n == 1)
             .hasHistogramValues("k", lambda d: d.absolutes == {"NullValue": 3}))
    result = VerificationSuite(spark).onData(df).addCheck(check).run()
    crs = result.checkResults[check].constraintResults
    # Rows whose grouping columns are all NULL are ignored; a histogram counts them as NullValue.
    assert crs[0].message.startswith("Empty state for analyzer Uniqueness(List(k),None,None)")
    assert [c.status.value for c in crs[1:]] == ["Success", "Success", "Success"]


def test_missing_column_and_bad_sql_fail_only_their_constraint(spark: Any, data: Any) -> None:
    check = (Check(spark, CheckLevel.Error, "bad")
             .isComplete("nope")
             .satisfies("nope > 1", "bad predicate")
             .hasMean("name", lambda x: x > 0)
             .isComplete("id"))
    result = VerificationSuite(spark).onData(data).addCheck(check).run()
    crs = result.checkResults[check].constraintResults
    assert crs[0].message == "Input data does not include column nope!"
    assert crs[1].message.startswith("Invalid SQL expression 'nope > 1'")
    assert crs[2].message.startswith("Expected type of column name to be one of")
    assert "but found StringType instead!" in crs[2].message
    assert crs[3].status == ConstraintStatus.Success


def test_assertion_exception_is_reported(spark: Any, data: Any) -> None:
    def broken(_: float) -> bool:
        raise ZeroDivisionError("boom")

    check = Check(spark, CheckLevel.Error, "x").hasMean("amount", broken)
    result = VerificationSuite(spark).onData(data).addCheck(check).run()
    (cr,) = result.checkResults[check].constraintResults
    assert cr.message == "Can't execute the assertion: boom!"


def test_row_level_results(spark: Any, data: Any) -> None:
    check = (Check(spark, CheckLevel.Error, "rows")
             .isComplete("name")
             .hasMax("amount", lambda x: x <= 50)
             .isContainedIn("status", ["open", "shipped", "closed"]))
    uniq = Check(spark, CheckLevel.Warning, "uniq").isUnique("qty")
    opts = AnalyzerOptions(NullBehavior.Fail, FilteredRowOutcome.NULL)
    filtered = Check(spark, CheckLevel.Warning, "filtered").hasMaxLength(
        "name", lambda x: 3 < x <= 4, analyzerOptions=opts).where("id > 1")
    result = (VerificationSuite(spark).onData(data).addCheck(check).addCheck(uniq)
              .addCheck(filtered).run())
    rows = (VerificationResult.rowLevelResultsAsDataFrame(spark, result, data)
            .orderBy("id").collect())
    assert rows[0].asDict().keys() >= {"rows", "uniq", "filtered"}
    # Row 4 has a NULL amount (Ignore -> NULL outcome: NULL AND true = NULL); row 5 NULL name.
    assert [r["rows"] for r in rows] == [True, True, True, None, False, False]
    assert [r["uniq"] for r in rows] == [True, False, True, False, True, True]
    # Row 1 is filtered (NULL outcome); 'bob' fails 3 < 3; NULL name fails (NullBehavior.Fail).
    assert [r["filtered"] for r in rows] == [None, False, False, True, False, False]


def test_check_constructor_and_where_errors(spark: Any) -> None:
    assert Check(CheckLevel.Warning, "deequ style").level == CheckLevel.Warning
    with pytest.raises(ValueError, match="where\\(\\) must follow"):
        Check(spark, CheckLevel.Error, "x").where("a > 1")
    with pytest.raises(ValueError, match="allowed values or both"):
        Check(spark, CheckLevel.Error, "x").isContainedIn("a")
    with pytest.raises(TypeError):
        Check(spark)
