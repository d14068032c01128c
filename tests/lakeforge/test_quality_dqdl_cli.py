"""``lakeforge quality run --dqdl``, ``export-dqdl``, ``import-dqdl``, ``deploy-dqdl`` and the
DQDL gate."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pyspark.sql import types as T

from lakeforge.cli import main
from lakeforge.dqdl import needed_references, run_dqdl_gate
from quality.dqdl import parse_ruleset

REPO = Path(__file__).resolve().parents[2]
SCHEMA = T.StructType([T.StructField("id", T.LongType()), T.StructField("status", T.StringType()),
                       T.StructField("price", T.DoubleType())])
ROWS = [(1, "new", 10.0), (2, "paid", None), (2, None, 5.0)]


def test_export_dqdl_prints_ruleset_and_skipped(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["quality", "export-dqdl", "--suite", "orders"]) == 0
    out = capsys.readouterr().out
    ruleset = parse_ruleset(out[:out.index("[skipped]")])
    assert ruleset.rules[0].to_dqdl() == "RowCount > 0"
    assert "[skipped] " in out and "hasApproxQuantile" in out


def test_import_dqdl_writes_a_suite(tmp_path: Path) -> None:
    rules = tmp_path / "orders.dqdl"
    rules.write_text('Rules = [ IsComplete "id", Mean "price" > 1, RowCountMatch "ref" = 1 ]')
    out = tmp_path / "suite.yaml"
    assert main(["quality", "import-dqdl", "--dqdl", str(rules), "--out", str(out)]) == 0
    suite = yaml.safe_load(out.read_text())
    assert suite["name"] == "orders"
    assert suite["checks"][0]["constraints"] == [
        {"isComplete": {"column": "id"}}, {"hasMean": {"column": "price", "assertion": "> 1.0"}}]


def test_bad_dqdl_and_missing_reference_fail_before_spark(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.dqdl"
    bad.write_text("Rules = [\n  RowCount >\n]")
    assert main(["quality", "run", "--dqdl", str(bad), "--path", str(tmp_path)]) == 2
    assert "bad.dqdl line 3, column 1: unexpected ']'" in capsys.readouterr().err
    refs = tmp_path / "refs.dqdl"
    refs.write_text('Rules = [ RowCountMatch "ref" = 1 ]')
    assert main(["quality", "run", "--dqdl", str(refs), "--path", str(tmp_path)]) == 2
    assert "--reference ref=TABLE" in capsys.readouterr().err
    assert main(["quality", "run", "--dqdl", str(refs), "--path", str(tmp_path),
                 "--reference", "ref"]) == 2
    assert "must be NAME=TABLE" in capsys.readouterr().err


def test_needed_references() -> None:
    ruleset = parse_ruleset('Rules = [ ReferentialIntegrity "id" "cust.id" > 0.9, '
                            'AggregateMatch "sum(a)" "sum(other.a)" > 0.9, SchemaMatch "s" = 1 ]')
    assert needed_references(ruleset) == {"cust", "other", "s"}


def test_deploy_dqdl_refuses_a_bad_table_name(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "orders.dqdl"
    rules.write_text('Rules = [ IsComplete "id" ]')
    assert main(["quality", "deploy-dqdl", "--dqdl", str(rules), "--table", "orders"]) == 2
    assert "must be database.table" in capsys.readouterr().err


def test_dqdl_gate_quarantines_failing_rows(spark: Any, lake: Any, tmp_path: Path) -> None:
    df = spark.createDataFrame(ROWS, SCHEMA)
    rules = tmp_path / "gate.dqdl"
    rules.write_text('Rules = [ IsComplete "price", RowCount > 0, ColumnValues "id" in [1, 2] ]')
    outcome = run_dqdl_gate(spark, df, str(rules), lake=lake, table="sales/orders",
                            run_id="r1", tags={"job": "t"})
    assert not outcome.passed
    assert outcome.failed_constraints == ['IsComplete "price"']
    assert outcome.rows_failed == 1 and outcome.quarantine
    record = spark.read.json(outcome.quarantine).collect()[0]
    assert record.reason == 'IsComplete "price"'
    assert json.loads(record.record)["id"] == 2
    assert outcome.to_dict()["score"] == pytest.approx(2 / 3)


def test_dqdl_gate_leaves_rows_failing_only_a_passed_rule(spark: Any, lake: Any,
                                                          tmp_path: Path) -> None:
    """A thresholded rule that passes keeps its failing rows out of quarantine and out of the
    reason, while another rule fails: only the failed rule's rows are quarantined."""
    df = spark.createDataFrame(ROWS, SCHEMA)
    rules = tmp_path / "gate.dqdl"
    rules.write_text('Rules = [ ColumnValues "id" = 1 with threshold > 0.3, IsComplete "price" ]')
    outcome = run_dqdl_gate(spark, df, str(rules), lake=lake, table="sales/orders",
                            run_id="r1", tags={"job": "t"})
    assert outcome.failed_constraints == ['IsComplete "price"']
    records = spark.read.json(outcome.quarantine).collect()
    assert [(json.loads(r.record)["price"], r.reason) for r in records] == [
        (None, 'IsComplete "price"')]
    assert outcome.rows_failed == 1


def test_dqdl_gate_quarantines_null_predicate_rows_and_not_rows_outside_the_where(
        spark: Any, lake: Any, tmp_path: Path) -> None:
    """DataFreshness counts a NULL timestamp as failing: quarantined. IsUnique's row level
    fails a row whose where is NULL, but its metric does not count it: not quarantined."""
    df = spark.createDataFrame(
        [(1, "a", "2024-01-01"), (2, "a", None), (3, "a", "2024-01-02"), (None, "a", None)],
        "id long, status string, day string")
    rules = tmp_path / "gate.dqdl"
    rules.write_text('Rules = [ DataFreshness "day" <= 1000000 hours, '
                     'IsUnique "status" where "id > 1" ]')
    outcome = run_dqdl_gate(spark, df, str(rules), lake=lake, table="sales/orders",
                            run_id="r1", tags={"job": "t"})
    assert outcome.failed_constraints == ['DataFreshness "day" <= 1000000 hours',
                                          'IsUnique "status" where "id > 1"']
    reasons = sorted((json.loads(r.record)["id"] or 0, r.reason)
                     for r in spark.read.json(outcome.quarantine).collect())
    assert reasons == [(0, 'DataFreshness "day" <= 1000000 hours'),
                       (2, 'DataFreshness "day" <= 1000000 hours; '
                           'IsUnique "status" where "id > 1"'),
                       (3, 'IsUnique "status" where "id > 1"')]


@pytest.mark.slow
def test_cli_runs_dqdl_on_a_path(spark: Any, tmp_path: Path) -> None:
    """Starts its own Spark in a subprocess (about a minute)."""
    data, ref = tmp_path / "data", tmp_path / "ref"
    spark.createDataFrame(ROWS, SCHEMA).write.parquet(str(data))
    spark.createDataFrame([(1,), (2,)], "id long").write.parquet(str(ref))
    rules = tmp_path / "orders.dqdl"
    rules.write_text('Rules = [ RowCount = 3, IsComplete "price", '
                     'ReferentialIntegrity "id" "ref.id" = 1.0 ]')
    out = tmp_path / "r.json"
    proc = subprocess.run(
        [sys.executable, "-m", "lakeforge.cli", "quality", "run", "--dqdl", str(rules),
         "--path", str(data), "--reference", f"ref={ref}", "--json", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=600,
        env={**__import__("os").environ, "LAKEFORGE_LAKE_ROOT": str(tmp_path / "lake")})
    assert proc.returncode == 1, proc.stderr[-2000:]
    payload = json.loads(out.read_text())
    assert [r["Outcome"] for r in payload["rules"]] == ["Passed", "Failed", "Passed"]
    assert payload["score"] == pytest.approx(2 / 3)
    assert payload["rules"][1] == {
        "Rule": 'IsComplete "price"', "Outcome": "Failed",
        "FailureReason": "Value: 0.6666666666666666 does not meet the constraint requirement!",
        "EvaluatedMetrics": {"Column.price.Completeness": 0.6666666666666666}}
    assert "[Failed] IsComplete \"price\"" in proc.stdout
