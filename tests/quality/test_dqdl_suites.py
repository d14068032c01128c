"""YAML suite <-> DQDL: conversions keep verdicts (checked by running both sides)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from pyspark.sql import types as T

from lakeforge.config import conf_dir
from lakeforge.errors import ConfigError
from quality import VerificationSuite
from quality.checks import ConstraintStatus
from quality.dqdl import evaluate_ruleset, parse_ruleset
from quality.dqdl.suites import dqdl_to_suite, suite_to_dqdl
from quality.suite_spec import checks_from_mapping

SCHEMA = T.StructType([T.StructField("id", T.LongType()), T.StructField("status", T.StringType()),
                       T.StructField("amount", T.DoubleType())])
ROWS = [(1, "new", 10.0), (2, "paid", -5.0), (3, None, None), (3, "paid", 30.0)]

SUITE_CONSTRAINTS = [
    {"hasSize": {"assertion": "between 4 and 10"}},
    {"hasSize": {"assertion": "> 4"}},
    {"isComplete": {"column": "id"}},
    {"isComplete": {"column": "status"}},
    {"isUnique": {"column": "id"}},
    {"hasCompleteness": {"column": "status", "assertion": ">= 0.75"}},
    {"isContainedIn": {"column": "status", "allowed_values": ["new", "paid"]}},
    {"isContainedIn": {"column": "status", "allowed_values": ["new"]}},
    {"hasMean": {"column": "amount", "assertion": "between 10 and 12", "where": "id > 0"}},
    {"hasMax": {"column": "amount", "assertion": "<= 30"}},
    {"hasMin": {"column": "amount", "assertion": ">= 0"}},
    {"isNonNegative": {"column": "amount"}},
    {"isPositive": {"column": "id"}},
    {"hasPattern": {"column": "status", "pattern": "^[a-z]+$"}},
    {"hasMaxLength": {"column": "status", "assertion": "<= 3"}},
    {"hasUniqueness": {"columns": ["id"], "assertion": "> 0.4"}},
    {"hasApproxQuantile": {"column": "amount", "quantile": 0.5, "assertion": "> 0"}},
]


@pytest.fixture(scope="module")
def df(spark: Any) -> Any:
    return spark.createDataFrame(ROWS, SCHEMA)


def test_suite_export_keeps_verdicts(spark: Any, df: Any) -> None:
    suite = {"name": "t", "checks": [{"description": "t", "level": "Error",
                                      "constraints": SUITE_CONSTRAINTS}]}
    conversion = suite_to_dqdl(suite, "t.yaml")
    assert [s[0].split()[-1] for s in conversion.skipped] == ["hasApproxQuantile"]
    ruleset = parse_ruleset(conversion.result.to_dqdl())  # the text parses back
    outcomes = [r.outcome for r in evaluate_ruleset(spark, df, ruleset).rules]

    check = checks_from_mapping(suite, "t.yaml")[0]
    result = VerificationSuite(spark).onData(df).addCheck(check).run()
    statuses = ["Passed" if cr.status == ConstraintStatus.Success else "Failed"
                for cr in result.checkResults[check].constraintResults]
    assert outcomes == statuses[:-1]
    assert "Failed" in outcomes and "Passed" in outcomes


def test_reference_suite_exports(spark: Any) -> None:
    data = yaml.safe_load((conf_dir() / "quality" / "orders.yaml").read_text())
    conversion = suite_to_dqdl(data, "orders.yaml")
    ruleset = parse_ruleset(conversion.result.to_dqdl())
    assert len(ruleset.rules) + len(conversion.skipped) == 25
    assert all(reason for _, reason in conversion.skipped)


def test_bad_suite_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="t.yaml: checks"):
        suite_to_dqdl({"checks": [{"constraints": ["isComplete"]}]}, "t.yaml")


def test_dqdl_import_keeps_verdicts(spark: Any, df: Any) -> None:
    text = """Rules = [ RowCount between 3 and 5, IsComplete "status", Completeness "status" > 0.7,
        IsPrimaryKey "id", Mean "amount" > 10 where "id > 1",
        ColumnValues "status" in ["new", "paid"] with threshold >= 0.75,
        ColumnValues "amount" between 0 and 40, ColumnLength "status" <= 4,
        (IsComplete "id") and (IsUnique "id"),
        (IsComplete "id") or (RowCount > 0), CustomSql "select count(*) from primary" > 0 ]"""
    ruleset = parse_ruleset(text)
    conversion = dqdl_to_suite(ruleset, "imported")
    assert [s[0] for s in conversion.skipped] == ['(IsComplete "id") or (RowCount > 0)',
                                                  'CustomSql "select count(*) from primary" > 0']
    outcomes = [r.outcome for r in evaluate_ruleset(spark, df, ruleset).rules][:-2]
    suite_text = yaml.safe_dump(conversion.result)
    check = checks_from_mapping(yaml.safe_load(suite_text), "imported.yaml")[0]
    result = VerificationSuite(spark).onData(df).addCheck(check).run()
    statuses = [cr.status == ConstraintStatus.Success
                for cr in result.checkResults[check].constraintResults]
    # constraints per rule: RowCount between -> 2, IsPrimaryKey -> 2, composite -> 2
    sizes = [2, 1, 1, 2, 1, 1, 1, 1, 2]
    grouped, i = [], 0
    for n in sizes:
        grouped.append("Passed" if all(statuses[i:i + n]) else "Failed")
        i += n
    assert i == len(statuses)
    assert grouped == outcomes
    assert "Failed" in outcomes and "Passed" in outcomes


def test_length_conversions_keep_verdicts_on_null(spark: Any) -> None:
    """DQDL's ColumnLength takes NULL as length 0 (Glue); a suite's hasMinLength leaves NULL
    out: each side converts to a form with its own verdict on a NULL row."""
    df = spark.createDataFrame([(1, "abc", 1.0), (2, None, 2.0)], SCHEMA)

    def suite_verdicts(suite: dict[str, Any]) -> list[bool]:
        check = checks_from_mapping(suite, "t.yaml")[0]
        result = VerificationSuite(spark).onData(df).addCheck(check).run()
        return [cr.status == ConstraintStatus.Success
                for cr in result.checkResults[check].constraintResults]

    rules = 'Rules = [ ColumnLength "status" >= 3, ColumnLength "status" < 4 where "id > 0" ]'
    imported = dqdl_to_suite(parse_ruleset(rules), "imported").result
    assert [r.outcome for r in evaluate_ruleset(spark, df, rules).rules] == ["Failed", "Passed"]
    assert suite_verdicts(yaml.safe_load(yaml.safe_dump(imported))) == [False, True]

    suite = {"name": "t", "checks": [{"description": "t", "level": "Error", "constraints": [
        {"hasMinLength": {"column": "status", "assertion": ">= 3"}},
        {"hasMaxLength": {"column": "status", "assertion": "< 3", "where": "id > 0"}}]}]}
    assert suite_verdicts(suite) == [True, False]
    exported = suite_to_dqdl(suite, "t.yaml").result.to_dqdl()
    assert [r.outcome for r in evaluate_ruleset(spark, df, exported).rules] == ["Passed",
                                                                               "Failed"]
