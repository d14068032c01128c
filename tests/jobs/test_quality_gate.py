"""jobs/quality_gate.py: the orchestrators' quality step (exit 0 pass, 1 Error-level fail)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jobs import quality_gate

SUITE = """
name: t
checks:
  - description: blocking
    level: Error
    constraints:
      - isComplete: {column: id}
      - hasSize: {assertion: "> 0"}
  - description: rows
    level: Warning
    constraints:
      - isNonNegative: {column: amount}
"""


def _write(spark, path: Path, rows) -> str:  # type: ignore[no-untyped-def]
    spark.createDataFrame(rows, "id int, amount double").write.parquet(str(path))
    return str(path)


def test_passes_and_quarantines_warning_rows(spark, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("LAKEFORGE_LAKE_ROOT", str(tmp_path / "lake"))
    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE)
    data = _write(spark, tmp_path / "d1", [(1, 2.0), (2, -1.0), (3, None)])
    code = quality_gate.main(["--env", "local", "--suite", str(suite), "--path", data])
    assert code == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["passed"] is True and len(out["failed_constraints"]) == 1
    assert out["rows_failed"] == 1
    bad = spark.read.json(out["quarantine"]).collect()  # the one quarantine schema
    assert [json.loads(r.record)["id"] for r in bad] == [2]
    assert bad[0].reason == out["failed_constraints"][0]
    assert (tmp_path / "lake" / "metadata" / "quality" / "metrics.json").is_file()


def test_error_level_failure_exits_1(spark, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("LAKEFORGE_LAKE_ROOT", str(tmp_path / "lake"))
    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE)
    data = _write(spark, tmp_path / "d2", [(None, 1.0), (2, 1.0)])
    assert quality_gate.main(["--env", "local", "--suite", str(suite), "--path", data]) == 1
    assert "quality gate failed" in capsys.readouterr().err


@pytest.mark.parametrize("args", [[], ["--table", "a.b", "--path", "/x"], ["--table", "nodot"]])
def test_bad_arguments_are_one_line_errors(args, capsys) -> None:
    assert quality_gate.main(["--env", "local", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: quality_gate")
