"""``lakeforge match``: run as a separate process over a tiny CSV, writing Parquet + report."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pytest

from lakeforge.commands.match import compared_columns
from lakeforge.errors import ConfigError
from tests.jobsupport import job_env, run
from tests.transforms.test_dedup import COMPARED, PEOPLE

HEADER = ["person_id", "first_name", "last_name", "date_of_birth", "postcode", "email", "entity"]


def _write_people(path: Path) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        writer.writerows([["" if v is None else v for v in row] for row in PEOPLE])
    return path


def test_match_cli_reports_bad_arguments_without_spark(tmp_path: Path) -> None:
    env = job_env(tmp_path / "lake")
    cmd = [sys.executable, "-m", "lakeforge.cli", "match", str(tmp_path / "x.csv"),
           "--primary-key", "id", "--output", "out"]
    bad = run(cmd + ["--tradeoff", "2"], env)
    assert bad.returncode == 2 and bad.stderr.strip() == (
        "error: --tradeoff: MatchSettings.precision_recall_tradeoff must be a number between "
        "0.0 and 1.0, got 2.0")
    outside = run(cmd[:-1] + ["/definitely/not/in/lake"], env)
    assert outside.returncode == 2 and "outside the lake" in outside.stderr
    truth = run(cmd + ["--columns", "name,entity", "--truth-column", "entity"], env)
    assert truth.returncode == 2 and truth.stderr.strip() == (
        "error: --columns: 'entity' is the --truth-column; the ground truth cannot be compared")


def test_truth_column_is_left_out_of_the_default_compared_columns() -> None:
    available = ["id", "name", "entity", "dob"]
    assert compared_columns(available, "id", None, "entity") == ["name", "dob"]
    assert compared_columns(available, "id", None, None) is None
    assert compared_columns(available, "id", ["name"], "entity") == ["name"]
    with pytest.raises(ConfigError, match="'entity' is the --truth-column"):
        compared_columns(available, "id", ["name", "entity"], "entity")
    with pytest.raises(ConfigError, match=r"--truth-column 'truth' is not a column"):
        compared_columns(available, "id", None, "truth")
    with pytest.raises(ConfigError, match="no column is left to compare"):
        compared_columns(["id", "entity"], "id", None, "entity")


@pytest.mark.slow
def test_match_cli_writes_matched_table_report_and_model_never_comparing_the_truth(
        tmp_path: Path) -> None:
    """Slow: a separate Spark process trains and applies a Splink model. Without --columns
    every column but the key and the --truth-column is compared."""
    lake = tmp_path / "lake"
    source = _write_people(tmp_path / "people.csv")
    model = tmp_path / "model.json"
    env = job_env(lake)
    result = run(
        [sys.executable, "-m", "lakeforge.cli", "match", str(source), "--primary-key",
         "person_id", "--output", "people_matched",
         "--save-model", str(model), "--truth-column", "entity", "--max-em-iterations", "3"],
        env, timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "matched 32 records" in result.stdout
    import pyarrow.dataset as ds

    out = lake / "curated" / "people_matched"
    rows = ds.dataset(str(out), format="parquet").to_table().to_pylist()
    assert len(rows) == len(PEOPLE)
    ids = {r["person_id"]: r["match_id"] for r in rows}
    assert ids["a1"] == ids["a2"] == ids["a3"] == "a1"
    assert ids["f01"] == "f01"
    report = (tmp_path / "lake" / "curated" / "people_matched_report.html").read_text()
    assert "candidate pairs scored" in report and "pairwise_f1" in report
    saved = json.loads(model.read_text())
    assert saved["format"] == "lakeforge.match_model/1"
    assert sorted(c["source"] for c in saved["columns"]) == sorted(COMPARED)
    assert not [r for r in saved["blocking_rules"] if "entity" in r]
    again = run(
        [sys.executable, "-m", "lakeforge.cli", "match", str(source), "--primary-key",
         "person_id", "--output", "people_matched", "--model", str(model)],
        env, timeout=900,
    )
    assert again.returncode == 2 and "exists; pass --overwrite" in again.stderr
