"""YAML suites, the quality gate (quarantine + stop), the HTML report and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import types as T

from lakeforge.errors import ConfigError
from lakeforge.quality_gate import QualityGateError, load_suite, metrics_repository, quality_gate
from quality.reference_suites import orders_suite
from quality.report import html_report
from quality.suite_spec import checks_from_mapping, parse_assertion
from quality.verification import VerificationSuite

REPO = Path(__file__).resolve().parents[2]
SCHEMA = T.StructType([T.StructField("id", T.IntegerType()), T.StructField("s", T.StringType()),
                       T.StructField("v", T.DoubleType())])
ROWS = [(1, "a", 1.0), (2, "b", -1.0), (3, None, 2.0), (3, "a", None)]


def test_orders_yaml_matches_the_python_suite() -> None:
    name, checks = load_suite("orders")
    assert name == "orders"
    assert [str(c) for c in checks[0].constraints] == [str(c) for c in
                                                        orders_suite().constraints]


def test_parse_assertion() -> None:
    assert parse_assertion(">= 0.5", "x")(0.5) and not parse_assertion(">= 0.5", "x")(0.4)
    assert parse_assertion("between 1 and 3", "x")(2) and not parse_assertion("between 1 and 3",
                                                                                "x")(4)
    assert parse_assertion(1, "x")(1.0)
    with pytest.raises(ConfigError, match="assertion 'lots' is not understood"):
        parse_assertion("lots", "suite.yaml: checks[0]")


def test_suite_errors_name_the_entry() -> None:
    with pytest.raises(ConfigError, match="checks\\[0\\].constraints\\[0\\]: unknown constraint "
                                          "'isGreat'"):
        checks_from_mapping({"checks": [{"constraints": [{"isGreat": {}}]}]}, "s.yaml")
    with pytest.raises(ConfigError, match="bad arguments for isComplete"):
        checks_from_mapping({"checks": [{"constraints": [{"isComplete": {"col": "a"}}]}]},
                            "s.yaml")
    with pytest.raises(ConfigError, match="level is 'Fatal'"):
        checks_from_mapping({"checks": [{"level": "Fatal", "constraints": [
            {"isComplete": {"column": "a"}}]}]}, "s.yaml")
    with pytest.raises(ConfigError, match="unknown quality suite 'nope'"):
        load_suite("nope")


def test_gate_quarantines_failing_rows_and_stops(spark: Any, lake: Any) -> None:
    df = spark.createDataFrame(ROWS, SCHEMA)
    checks = checks_from_mapping({"checks": [
        {"level": "Error", "description": "keys",
         "constraints": [{"isUnique": {"column": "id"}}, {"isNonNegative": {"column": "v"}}]},
        {"level": "Warning", "description": "soft",
         "constraints": [{"isComplete": {"column": "s"}}, {"hasSize": {"assertion": "> 0"}}]},
    ]}, "inline")
    with pytest.raises(QualityGateError, match="Error-level constraint"):
        quality_gate(spark, df, checks, lake=lake, table="t", run_id="r1")
    # the one quarantine schema (JSON lines): the row as `record`, the constraints as `reason`
    quarantined = spark.read.json(lake.path("quarantine", "t", "run_id=r1")).collect()
    assert {r["source_file"] for r in quarantined} == {None}
    records = [(json.loads(r["record"]), r["reason"]) for r in quarantined]
    got = {(rec["id"], rec.get("s")): sorted(reason.split("; ")) for rec, reason in records}
    assert set(got) == {(2, "b"), (3, None), (3, "a")}
    assert [n.split("(")[0] for n in got[(2, "b")]] == ["ComplianceConstraint"]
    assert [n.split("(")[0] for n in got[(3, None)]] == ["CompletenessConstraint",
                                                          "UniquenessConstraint"]
    assert [n.split("(")[0] for n in got[(3, "a")]] == ["UniquenessConstraint"]


def test_gate_passes_on_warning_only(spark: Any, lake: Any) -> None:
    df = spark.createDataFrame(ROWS, SCHEMA)
    checks = checks_from_mapping({"checks": [{"level": "Warning", "constraints": [
        {"isComplete": {"column": "s"}}]}]}, "inline")
    gate = quality_gate(spark, df, checks, lake=lake, table="t", run_id="r2", suite_name="s")
    assert gate.passed and gate.quarantine is not None and gate.rows_failed == 1
    assert spark.read.json(gate.quarantine).count() == 1
    # metrics went to the lake's repository under the suite's name
    repo = metrics_repository(spark, lake.path("metadata", "quality", "metrics.json"))
    assert [r.resultKey.tags for r in repo.load().get()] == [{"suite": "s"}]


def test_null_predicate_rows_are_quarantined(spark: Any, lake: Any, caplog: Any) -> None:
    """Compliance counts a NULL predicate as not compliant (2 of 3 rows comply, the check
    fails), so the row that made it fail goes to the quarantine with the constraint as the
    reason, though its row-level result is NULL (as Deequ's)."""
    df = spark.createDataFrame([(1, 5.0), (2, None), (3, 7.0)], "id int, amount double")
    checks = checks_from_mapping({"checks": [{"level": "Warning", "constraints": [
        {"satisfies": {"columnCondition": "amount > 0", "constraintName": "amount positive",
                       "assertion": "== 1.0"}}]}]}, "inline")
    with caplog.at_level("WARNING", logger="lakeforge.quality_gate"):
        gate = quality_gate(spark, df, checks, lake=lake, table="t", run_id="r4")
    assert gate.passed and gate.rows_failed == 1
    assert gate.failed_constraints == [
        "ComplianceConstraint(Compliance(amount positive,amount > 0,None,List(),None))"]
    (row,) = spark.read.json(gate.quarantine).collect()
    assert json.loads(row["record"]) == {"id": 2, "amount": None}  # NULL fields kept
    assert row["reason"] == gate.failed_constraints[0]
    assert [r.getMessage() for r in caplog.records] == [
        f"quality gate: 1 failed Warning-level constraint(s); 1 failing row(s) in "
        f"{gate.quarantine}"]


def test_warning_level_dataset_failure_logs_that_no_row_failed(spark: Any, lake: Any,
                                                                caplog: Any) -> None:
    df = spark.createDataFrame(ROWS, SCHEMA)
    checks = checks_from_mapping({"checks": [{"level": "Warning", "constraints": [
        {"hasSize": {"assertion": "> 10"}}]}]}, "inline")
    with caplog.at_level("WARNING", logger="lakeforge.quality_gate"):
        gate = quality_gate(spark, df, checks, lake=lake, table="t", run_id="r5")
    assert gate.passed and gate.quarantine is None and gate.rows_failed == 0
    assert [r.getMessage() for r in caplog.records] == [
        "quality gate: 1 failed Warning-level constraint(s); no row failed a row-level "
        "constraint (dataset-level failure)"]


def test_gate_on_an_empty_frame_fails_like_deequ_without_a_quarantine_folder(
        spark: Any, lake: Any) -> None:
    """Deequ computes no Completeness of empty data (an empty state), so the constraint fails:
    a dataset-level failure with no row to quarantine."""
    df = spark.createDataFrame([], SCHEMA)
    checks = checks_from_mapping({"checks": [{"level": "Error", "constraints": [
        {"isComplete": {"column": "s"}}]}]}, "inline")
    with pytest.raises(QualityGateError, match=r"CompletenessConstraint.*; no row failed a "
                       r"row-level constraint \(dataset-level failure\)$"):
        quality_gate(spark, df, checks, lake=lake, table="empty", run_id="r3")
    assert not Path(lake.path("quarantine", "empty", "run_id=r3")).exists()


def test_html_report_has_checks_metrics_and_trend(spark: Any) -> None:
    df = spark.createDataFrame(ROWS, SCHEMA)
    (check,) = checks_from_mapping({"checks": [{"constraints": [
        {"hasSize": {"assertion": "> 10"}}]}]}, "inline")
    result = VerificationSuite(spark).onData(df).addCheck(check).run()
    history = [{"entity": "Dataset", "instance": "*", "name": "Size", "value": v,
                "dataset_date": d} for d, v in ((1, 3.0), (2, 4.0))]
    page = html_report(result, "Quality <t>", history)
    assert "<title>Quality &lt;t&gt;</title>" in page
    assert "SizeConstraint(Size(None))" in page and "Value: 4 does not meet" in page
    assert "<polyline" in page


@pytest.mark.slow
def test_cli_runs_suite_on_a_path(spark: Any, tmp_path: Path) -> None:
    """Starts its own Spark in a subprocess (about a minute)."""
    data = tmp_path / "data"
    spark.createDataFrame(ROWS, SCHEMA).write.parquet(str(data))
    suite = tmp_path / "suite.yaml"
    suite.write_text("name: tiny\nchecks:\n  - description: tiny\n    constraints:\n"
                     "      - isComplete: {column: id}\n      - isUnique: {column: id}\n")
    out_json, out_html = tmp_path / "r.json", tmp_path / "r.html"
    proc = subprocess.run(
        [sys.executable, "-m", "lakeforge.cli", "quality", "run", "--suite", str(suite),
         "--path", str(data), "--json", str(out_json), "--html", str(out_html),
         "--repository", str(tmp_path / "repo.json"),
         "--tag", "run=1"],
        cwd=REPO, capture_output=True, text=True, timeout=600,
        env={**__import__("os").environ, "LAKEFORGE_LAKE_ROOT": str(tmp_path / "lake")})
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "[Failure] tiny (Error) UniquenessConstraint" in proc.stdout
    payload = json.loads(out_json.read_text())
    assert payload["status"] == "Error" and len(payload["checks"]) == 2
    assert "Checks" in out_html.read_text()
