"""lakeforge.site.collect on plain summaries and files (no Spark): runs without ledger,
quarantine or metrics, a failed run, the row flow's segments, the tables replayed from the
runs' publishes, quarantine samples with secrets redacted, metric series with anomalies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lakeforge.paths import Lake
from lakeforge.site import collect


def _ledger(table: str, rows_in: int, published: int, quarantined: int = 0, merged: int = 0,
            removed: dict[str, int] | None = None) -> dict[str, object]:
    return {"table": table, "rows_in": rows_in, "published": published,
            "quarantined": quarantined, "merged_duplicates": merged,
            "removed_by_rule": removed or {}, "balanced": True}


def _write_quarantine(folder: Path, records: list[dict[str, object]]) -> str:
    folder.mkdir(parents=True)
    (folder / "part-00000.json").write_text("".join(json.dumps(r) + "\n" for r in records))
    (folder / "_SUCCESS").write_text("")
    return str(folder)


def test_status_kind_names_each_outcome_and_an_absent_status() -> None:
    assert collect.status_kind("published") == "published"
    assert collect.status_kind("failed: 3 of 4 rows are bad") == "failed"
    assert collect.status_kind("nothing new: every raw file was already processed") == \
        "nothing-new"
    assert collect.status_kind(None) == collect.status_kind("") == "unknown"


def test_run_row_of_an_empty_summary_is_all_zero_and_unknown() -> None:
    row = collect.run_row({})
    assert row["kind"] == "unknown" and row["started"] is None
    assert (row["rows_in"], row["rows_out"], row["checks_passed"], row["checks_failed"]) == \
        (0, 0, 0, 0)
    assert row["versions"] == {} and row["tables"] == [] and row["matching"] is False


def test_run_row_of_a_failed_run_counts_what_it_read_and_publishes_nothing() -> None:
    summary = {"run_id": "20240501T120000Z_abcdef", "status": "failed: gate",
               "config": {"database": "db"},
               "ingest": {"a": {"rows_in": 7}, "b": {"rows_in": 3}},
               "checks": {"t": {"passed_constraints": 2, "failed_constraints": ["x", "y"]}}}
    row = collect.run_row(summary)
    assert row["kind"] == "failed" and row["started"] == "2024-05-01T12:00:00Z"
    assert (row["rows_in"], row["rows_out"], row["checks_passed"], row["checks_failed"]) == \
        (10, 0, 2, 2)
    assert row["tables"] == ["db.t"]


def test_row_flow_without_ledger_is_empty() -> None:
    assert collect.row_flow({}) == []
    assert collect.row_flow({"rows": None}) == []


def test_row_flow_segments_sum_to_rows_in_with_reasons_from_the_quarantine(tmp_path) -> None:
    q = _write_quarantine(tmp_path / "quarantine/db/orders/run_id=r1", [
        {"source_file": "a.csv", "line": 2, "reason": "bad amount", "record": "1,x"},
        {"source_file": "a.csv", "line": 3, "reason": "bad amount", "record": "2,y"},
        {"source_file": None, "line": None, "reason": "unknown customer", "record": "{}"},
        # a whole-file issue: not a row of the ledger
        {"source_file": "empty.csv", "line": None, "reason": "empty file", "record": None},
    ])
    summary = {"rows": {"orders": _ledger("db.orders", 10, 5, quarantined=3, merged=1,
                                          removed={"replayed": 1})}}
    flows = collect.row_flow(summary, collect.read_quarantine([q]))
    [flow] = flows
    assert flow["rows_in"] == sum(s["rows"] for s in flow["segments"]) == 10
    assert {s["label"]: s["rows"] for s in flow["segments"]} == {
        "published": 5, "duplicates merged": 1, "removed: replayed": 1,
        "quarantined: bad amount": 2, "quarantined: unknown customer": 1}


def test_row_flow_keeps_the_ledgers_count_when_the_quarantine_is_gone() -> None:
    summary = {"rows": {"orders": _ledger("db.orders", 4, 2, quarantined=2)}}
    [flow] = collect.row_flow(summary, collect.read_quarantine(["/nonexistent/q"]))
    assert {s["label"]: s["rows"] for s in flow["segments"]} == {
        "published": 2, "quarantined (reason not on file)": 2}


def test_read_quarantine_counts_by_reason_keeps_few_samples_and_redacts(tmp_path) -> None:
    recs = [{"source_file": "f.json", "line": i, "reason": "malformed",
             "record": f'{{"id": {i}, "password": "hunter{i}"}}'} for i in range(5)]
    recs.append({"source_file": "f.json", "line": 9, "reason": "dsn",
                 "record": "postgres://app:s3cret@db/x"})
    q = _write_quarantine(tmp_path / "quarantine/db/src/run_id=r", recs)
    [folder] = collect.read_quarantine([q, q], samples_per_reason=2)
    assert folder.name == "src" and folder.total == 6
    malformed, dsn = folder.reasons
    assert (malformed.reason, malformed.count, len(malformed.samples)) == ("malformed", 5, 2)
    text = json.dumps([s["record"] for r in folder.reasons for s in r.samples])
    assert "hunter" not in text and "s3cret" not in text and "***" in text
    assert dsn.samples[0]["record"] == "postgres://app:***@db/x"


def test_read_quarantine_of_no_folders_is_empty() -> None:
    assert collect.read_quarantine([]) == []
    assert collect.read_quarantine([None, ""]) == []  # type: ignore[list-item]


def _published(version: str, mode: str, parts: dict[str, int]) -> dict[str, object]:
    return {"rows": sum(parts.values()), "version": version, "mode": mode, "format": "parquet",
            "location": "/lake/curated/db/t", "columns": [{"name": "x", "type": "int"}],
            "partition_keys": [{"name": "dt", "type": "string"}],
            "partition_stats": [{"partition": f"dt={k}", "rows": v, "files": 1}
                                for k, v in parts.items()]}


def test_table_states_replay_partition_overwrites_then_a_full_overwrite() -> None:
    runs = [
        {"run_id": "20240101T000000Z_a", "status": "published", "config": {"database": "db"},
         "published": {"t": _published("v1", "overwrite_partitions", {"1": 5, "2": 7})}},
        {"run_id": "20240102T000000Z_b", "status": "published", "config": {"database": "db"},
         "published": {"t": _published("v2", "overwrite_partitions", {"2": 9})}},
    ]
    state = collect.table_states(runs)["db.t"]
    assert state.rows == 5 + 9 and state.current_versions == ["v1", "v2"]
    assert [v["version"] for v in state.versions] == ["v1", "v2"]
    assert [v["files"] for v in state.versions] == [2, 1]
    runs.append({"run_id": "20240103T000000Z_c", "status": "published",
                 "config": {"database": "db"},
                 "published": {"t": _published("v3", "overwrite", {"3": 4})}})
    state = collect.table_states(runs)["db.t"]
    assert state.rows == 4 and state.current_versions == ["v3"]
    assert list(state.partitions) == ["dt=3"] and state.last_run == "20240103T000000Z_c"


def test_a_table_only_checked_by_a_failed_run_has_no_versions_rows_or_schema() -> None:
    runs = [{"run_id": "20240101T000000Z_a", "status": "failed: gate",
             "config": {"database": "db"}, "checks": {"t": {"passed": False}}}]
    state = collect.table_states(runs)["db.t"]
    assert state.rows is None and state.versions == [] and state.current_versions == []
    assert state.last_status == "failed: gate"
    assert collect.table_row(state)["partitions"] is None


def test_metric_series_of_a_table_without_metrics_is_empty() -> None:
    assert collect.metric_series([], "db.t") == []
    other = [{"name": "Size", "instance": "*", "value": 3.0, "dataset_date": 1, "table": "u"}]
    assert collect.metric_series(other, "db.t") == []


def test_metric_series_flags_the_jump_as_an_anomaly() -> None:
    values = [100.0, 101.0, 99.0, 100.0, 102.0, 98.0, 100.0, 101.0, 99.0, 1000.0]
    metrics = [{"name": "Size", "instance": "*", "entity": "Dataset", "value": v,
                "dataset_date": 1_700_000_000_000 + i * 60_000, "table": "t",
                "run_id": f"r{i}"} for i, v in enumerate(values)]
    [series] = collect.metric_series(metrics, "db.t")
    assert series["metric"] == "Size" and series["anomalies"] == 1
    assert [p["anomaly"] for p in series["points"]] == [False] * 9 + [True]


def test_check_rows_lists_every_constraint_or_only_the_failures_a_gate_recorded() -> None:
    summary = {"config": {"database": "db"}, "checks": {
        "t": {"suite": "s", "constraints": [
            {"check": "c", "check_level": "Error", "constraint": "SizeConstraint",
             "constraint_status": "Success", "constraint_message": ""}]},
        "u": {"suite": "dq", "failed_constraints": ["RowCount > 5"]},
        "v": None}}
    rows = collect.check_rows(summary)
    assert [(r["table"], r["status"]) for r in rows] == [("db.t", "Success"),
                                                         ("db.u", "Failure")]


def test_match_view_is_none_for_a_run_that_matched_nothing() -> None:
    assert collect.match_view({}) is None
    assert collect.match_view({"matching": None}) is None


def test_load_summary_of_a_missing_run_is_none_and_bad_json_is_an_unreadable_run(
        tmp_path, caplog: pytest.LogCaptureFixture) -> None:
    lake = Lake.from_settings(str(tmp_path / "lake"), allow_env_override=False)
    assert collect.load_summary(lake, "nope") is None
    assert collect.list_run_ids(lake) == []
    bad = Path(collect.summary_uri(lake, "r1"))
    bad.parent.mkdir(parents=True)
    bad.write_text("{not json")
    summary = collect.load_summary(lake, "r1")
    assert summary is not None and summary["run_id"] == "r1"
    assert summary["status"].startswith(f"unreadable: {bad} is not valid JSON")
    assert collect.run_row(summary)["kind"] == "unreadable"
    assert f"run summary {bad} is not valid JSON" in caplog.text
    bad.write_text("[1, 2]")
    assert collect.load_summary(lake, "r1")["status"] == f"unreadable: {bad} holds a JSON list"


def test_read_quarantine_skips_and_counts_torn_lines_naming_the_file(tmp_path) -> None:
    q = _write_quarantine(tmp_path / "quarantine/db/contacts/run_id=r1", [
        {"reason": "bad", "record": "x", "line": 1, "source_file": "a.csv"}])
    torn = Path(q) / "part-00001.json"
    torn.write_text('{"reason": "bad", "record": "y"}\n[]\n\n{"reason": "bad", "rec')
    [folder] = collect.read_quarantine([q])
    by_reason = {r.reason: r for r in folder.reasons}
    assert by_reason["bad"].count == 2 and by_reason["bad"].rows_only == 2
    unreadable = by_reason[collect.UNREADABLE_REASON]
    assert (unreadable.count, unreadable.rows_only) == (2, 0)
    assert unreadable.samples == [{"source_file": str(torn), "line": 2, "partition": None,
                                   "record": f"2 unreadable lines in {torn}"}]


def test_an_unpartitioned_table_counts_its_last_versions_rows_and_files() -> None:
    pub = {"rows": 8, "version": "v9", "mode": "overwrite", "files": 3, "partition_keys": [],
           "partition_stats": [], "columns": [{"name": "id", "type": "bigint"}]}
    runs = [{"run_id": "20240101T000000Z_a", "status": "published",
             "config": {"database": "db"}, "published": {"u": pub}}]
    state = collect.table_states(runs)["db.u"]
    assert (state.rows, state.current_versions, state.versions[0]["files"]) == (8, ["v9"], 3)
    assert collect.table_row(state)["partitions"] is None


def test_a_delta_commit_without_partition_statistics_shows_its_last_commits_rows() -> None:
    pub = {"rows": 6, "version": "3", "format": "delta", "operation": "MERGE",
           "location": "/lake/curated/db/d", "columns": [{"name": "id", "type": "bigint"}],
           "partition_keys": [{"name": "dt", "type": "string"}], "partitions": ["2024-01-01"]}
    runs = [{"run_id": "20240101T000000Z_a", "status": "published",
             "config": {"database": "db"}, "published": {"d": pub}}]
    state = collect.table_states(runs)["db.d"]
    assert (state.rows, state.current_versions, state.format, state.mode) == (
        6, ["3"], "delta", "MERGE")
    row = collect.table_row(state)
    assert row["partitions"] is None and row["partition_keys"] == ["dt"]
