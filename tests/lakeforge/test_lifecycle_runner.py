"""The lifecycle's phases on a tiny job defined here (CSV orders by dt): write / audit /
publish alone and together, the ledger counted with observe, the bad-row threshold (exit 1),
a failed audit that leaves the current version, the quarantine's one schema."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from lakeforge.lifecycle import Job, PipelineConfig, Steps, run_pipeline

pytestmark = pytest.mark.slow  # in-process job runs on the test session (20-60 s each)

HEADER = "order_id,customer,amount,currency\n"
SUITE = """
name: orders
checks:
  - description: blocking
    level: Error
    constraints:
      - isContainedIn: {column: currency, allowed_values: [EUR, USD]}
  - description: rows
    level: Warning
    constraints:
      - isNonNegative: {column: amount}
"""


@dataclass(frozen=True, kw_only=True)
class OrdersConfig(PipelineConfig):
    """No keys of its own."""


def build(steps: Steps) -> dict[str, Any]:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    orders = steps.sources["orders"]
    steps.reject("orders", orders.where(F.col("customer") == "ghost"), "unknown customer")
    first = Window.partitionBy("_partition", "order_id").orderBy("_file", "_line")
    orders = orders.where(F.col("customer") != "ghost").withColumn(
        "_n", F.row_number().over(first))
    return {"orders": steps.remove(orders, F.col("_n") > 1, "replayed order").drop("_n")}


JOB = Job("orders_job", OrdersConfig, build)


def _config(tmp_path: Path, database: str, **run: Any) -> str:
    suite = tmp_path / "orders_suite.yaml"
    suite.write_text(SUITE)
    data = {
        "database": database,
        "sources": {"orders": {"path": "orders", "format": "csv", "required": ["order_id"],
                               "mappings": [["order_id", "bigint", "order_id", "bigint"],
                                            ["customer", "string", "customer", "string"],
                                            ["amount", "double", "amount", "double"],
                                            ["currency", "string", "currency", "string"],
                                            ["dt", "string", "dt", "string"]]}},
        "outputs": {"orders": {"table": "orders", "partition_by": ["dt"], "ledger": "orders",
                               "quality_suite": str(suite)}},
        "run": {"max_bad_row_fraction": 0.5, **run},
    }
    path = tmp_path / "orders.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def _write(root: Path, dt: str, lines: list[str], name: str = "part-0.csv") -> None:
    folder = root / "raw" / "orders" / f"dt={dt}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(HEADER + "".join(f"{ln}\n" for ln in lines))


def _run(root: Path, config: str, *extra: str) -> int:
    return run_pipeline(JOB, ["--env", "local", "--config", config, *extra])


def _summary(capsys) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    out = capsys.readouterr().out
    return json.loads([ln for ln in out.splitlines() if ln.startswith("{")][-1])


def _rows(spark, table: str) -> list[tuple[Any, ...]]:  # type: ignore[no-untyped-def]
    return sorted(tuple(r) for r in spark.table(table).select("order_id", "dt").collect())


def _quarantine(root: Path) -> list[tuple[str, str]]:
    out = []
    for path in sorted((root / "quarantine").rglob("*.json")):
        for line in path.read_text().splitlines():
            rec = json.loads(line)
            assert set(rec) >= {"source_file", "line", "partition", "reason", "record",
                                "run_id", "quarantined_at"}
            out.append((path.parent.parent.name, rec["reason"]))
    return sorted(out)


@pytest.fixture
def job_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "lake"
    monkeypatch.setenv("LAKEFORGE_LAKE_ROOT", str(root))
    return root


def test_all_phases_publish_and_every_row_is_accounted_for(spark, job_root: Path,
                                                           tmp_path: Path, capsys) -> None:
    _write(job_root, "2024-01-01", ["1,ann,10.0,EUR", "2,bob,-5.0,EUR", "3,cid,abc,EUR",
                                     "1,ann,10.0,EUR", ""])
    _write(job_root, "2024-01-02", ["4,ghost,1.0,USD", "5,dan,2.0,USD", "6,eve,,USD"])
    config = _config(tmp_path, "lc_all")
    assert _run(job_root, config) == 0
    s = _summary(capsys)
    assert s["status"] == "published"
    ledger = s["rows"]["orders"]
    # 7 rows in: 1 bad (abc), 1 ghost, 1 negative amount (gate) quarantined; 1 replay removed
    assert ledger == {"table": "lc_all.orders", "rows_in": 7, "published": 3,
                      "quarantined": 3, "merged_duplicates": 0,
                      "removed_by_rule": {"replayed order": 1}, "balanced": True}
    assert _rows(spark, "lc_all.orders") == [(1, "2024-01-01"), (5, "2024-01-02"),
                                              (6, "2024-01-02")]
    assert s["published"]["orders"]["partitions"] == ["2024-01-01", "2024-01-02"]
    assert s["checks"]["orders"]["failed_constraints"] and s["checks"]["orders"]["passed"]
    assert _quarantine(job_root) == sorted([
        ("orders", "column amount: 'abc' is not a double"),
        ("orders", "unknown customer"),
        ("orders", next(iter(s["checks"]["orders"]["failed_constraints"])))])
    assert s["bookmark_committed"] is True
    # a rerun finds nothing new and changes nothing
    assert _run(job_root, config) == 0
    again = _summary(capsys)
    assert again["status"].startswith("nothing new") and again["new_files"] == {"orders": 0}


def test_phases_run_apart_hand_over_through_the_pending_run(spark, job_root: Path,
                                                            tmp_path: Path, capsys) -> None:
    _write(job_root, "2024-02-01", ["10,ann,1.0,EUR", "11,bob,2.0,EUR"])
    config = _config(tmp_path, "lc_phases")
    assert _run(job_root, config, "--phase", "publish") == 2
    assert "run --phase audit first" in capsys.readouterr().err
    assert _run(job_root, config, "--phase", "write") == 0
    assert _summary(capsys).get("published") is None
    assert not spark.catalog.tableExists("lc_phases.orders")  # staged, not switched in
    versions = job_root / "curated" / "lc_phases" / "orders" / "_versions"
    assert len(list(versions.iterdir())) == 1
    assert _run(job_root, config, "--phase", "write") == 0  # a new write replaces the pending
    capsys.readouterr()
    assert _run(job_root, config, "--phase", "audit") == 0
    assert _summary(capsys)["checks"]["orders"]["passed"] is True
    assert not spark.catalog.tableExists("lc_phases.orders")
    assert _run(job_root, config, "--phase", "publish") == 0
    assert _summary(capsys)["published"]["orders"]["rows"] == 2
    assert _rows(spark, "lc_phases.orders") == [(10, "2024-02-01"), (11, "2024-02-01")]
    assert _run(job_root, config, "--phase", "publish") == 2
    assert "no run is waiting for this phase" in capsys.readouterr().err
    # the next day's split run with no new file: each step succeeds doing nothing (a Step
    # Functions or Airflow run must not report a failed audit), and the hand-over is consumed
    for step in ("write", "audit", "publish"):
        assert _run(job_root, config, "--phase", step) == 0, step
        assert _summary(capsys)["status"].startswith("nothing new"), step
    assert _rows(spark, "lc_phases.orders") == [(10, "2024-02-01"), (11, "2024-02-01")]
    assert _run(job_root, config, "--phase", "audit") == 2
    assert "no run is waiting for this phase" in capsys.readouterr().err


def test_lock_and_hand_over_belong_to_the_job_module_whatever_its_job_name(
        spark, job_root: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    """Glue passes its job's name as --JOB_NAME (EMR and local runs the module's): the run
    holds the lock the preflight checks, the module's, so a run under another name is refused
    while it is held, and a write's hand-over is found by the next step under any name."""
    from lakeforge.locks import JobLock
    from lakeforge.paths import Lake
    from lakeforge.state import store_for

    _write(job_root, "2024-02-05", ["40,ann,1.0,EUR"])
    config = _config(tmp_path, "lc_names")
    assert _run(job_root, config, "--JOB_NAME", "glue-orders", "--phase", "write") == 0
    capsys.readouterr()
    store = store_for(Lake.from_settings(str(job_root)).zone("bookmarks"))
    assert store.get("pending/orders_job.lc_names") is not None
    with JobLock(store, "orders_job.lc_names", owner="another-host"):
        assert _run(job_root, config, "--JOB_NAME", "emr-orders", "--phase", "audit") == 2
        assert "orders_job.lc_names" in capsys.readouterr().err
    import lakeforge.lifecycle.runner as runner

    held: list[str] = []
    audit = runner.audit_phase

    def audit_seeing_the_locks(ctx, state):  # type: ignore[no-untyped-def]
        held.extend(store.keys("locks/"))
        audit(ctx, state)

    monkeypatch.setattr(runner, "audit_phase", audit_seeing_the_locks)
    assert _run(job_root, config, "--JOB_NAME", "emr-orders", "--phase", "audit") == 0
    assert held == ["locks/orders_job.lc_names"]  # the run itself holds the module's lock
    assert _run(job_root, config, "--phase", "publish") == 0
    assert _rows(spark, "lc_names.orders") == [(40, "2024-02-05")]
    capsys.readouterr()
    # the bookmark committed is the write's (Glue keeps bookmarks per job), whoever published
    assert _run(job_root, config, "--JOB_NAME", "glue-orders") == 0
    assert _summary(capsys)["status"].startswith("nothing new")


def test_handoff_ties_audit_and_publish_to_the_write_of_their_own_orchestrator_run(
        spark, job_root: Path, tmp_path: Path, capsys, caplog) -> None:
    """Two overlapping orchestrator runs (a schedule and a manual start): B's write replaces
    A's pending run (with a warning naming it); A's audit then refuses B's staged data (exit
    2, one line) instead of auditing and publishing it under A's name; B's steps go on."""
    _write(job_root, "2024-02-07", ["50,ann,1.0,EUR"])
    config = _config(tmp_path, "lc_handoff")
    assert _run(job_root, config, "--phase", "write", "--handoff", "exec-A") == 0
    _write(job_root, "2024-02-08", ["51,bob,1.0,EUR"])
    with caplog.at_level("WARNING", logger="lakeforge.lifecycle.runner"):
        assert _run(job_root, config, "--phase", "write", "--handoff", "exec-B") == 0
    assert "replaces pending run" in caplog.text and "exec-A" in caplog.text
    capsys.readouterr()
    assert _run(job_root, config, "--phase", "audit", "--handoff", "exec-A") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "left by --handoff 'exec-B', not by this step's 'exec-A'" in err[0]
    assert _run(job_root, config, "--phase", "audit", "--handoff", "exec-B") == 0
    assert _run(job_root, config, "--phase", "publish", "--handoff", "exec-B") == 0
    assert _rows(spark, "lc_handoff.orders") == [(50, "2024-02-07"), (51, "2024-02-08")]
    assert _run(job_root, config, "--phase", "audit", "--handoff", "  ") == 2
    assert "--handoff is empty" in capsys.readouterr().err
    # a write that fails (too many rejected rows) leaves another run's pending run alone
    _write(job_root, "2024-02-09", ["52,cid,1.0,EUR"])
    assert _run(job_root, config, "--phase", "write", "--handoff", "exec-C") == 0
    _write(job_root, "2024-02-10", ["53,ghost,1.0,EUR", "54,ghost,1.0,EUR"])
    assert _run(job_root, config, "--phase", "write", "--handoff", "exec-D") == 1
    (job_root / "raw" / "orders" / "dt=2024-02-10" / "part-0.csv").unlink()
    capsys.readouterr()
    assert _run(job_root, config, "--phase", "audit", "--handoff", "exec-C") == 0
    assert _run(job_root, config, "--phase", "publish", "--handoff", "exec-C") == 0
    assert _rows(spark, "lc_handoff.orders")[-1] == (52, "2024-02-09")


def test_a_publish_failing_part_way_stays_pending_and_phase_publish_resumes_it(
        spark, job_root: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    """The publish phase fails after switching the table, at the bookmark commit (a
    Lakeforge error, not a crash): the run stays pending, so ``--phase publish`` (run by hand
    or by clearing the Airflow task; neither orchestrator reruns a failed publish itself)
    resumes it: it skips the switched table, commits the bookmark, and the next write finds
    nothing new."""
    from lakeforge.bookmarks import JobBookmarks
    from lakeforge.state import ConcurrentUpdateError

    _write(job_root, "2024-02-03", ["30,ann,1.0,EUR"])
    config = _config(tmp_path, "lc_resume")
    assert _run(job_root, config, "--phase", "write") == 0
    assert _run(job_root, config, "--phase", "audit") == 0
    capsys.readouterr()
    commit = JobBookmarks.commit

    def refused(self, run_id):  # type: ignore[no-untyped-def]
        raise ConcurrentUpdateError("bookmark document changed meanwhile")

    monkeypatch.setattr(JobBookmarks, "commit", refused)
    assert _run(job_root, config, "--phase", "publish") == 2
    assert "bookmark document changed meanwhile" in capsys.readouterr().err
    assert _rows(spark, "lc_resume.orders") == [(30, "2024-02-03")]  # switched before
    monkeypatch.setattr(JobBookmarks, "commit", commit)
    assert _run(job_root, config, "--phase", "publish") == 0
    resumed = _summary(capsys)
    assert resumed["status"] == "published" and resumed["bookmark_committed"]
    assert _rows(spark, "lc_resume.orders") == [(30, "2024-02-03")]  # not switched twice
    assert _run(job_root, config) == 0
    assert _summary(capsys)["status"].startswith("nothing new")


def test_failed_audit_exits_1_and_the_current_version_stays(spark, job_root: Path,
                                                            tmp_path: Path, capsys) -> None:
    _write(job_root, "2024-03-01", ["20,ann,1.0,EUR"])
    config = _config(tmp_path, "lc_audit")
    assert _run(job_root, config) == 0
    capsys.readouterr()
    _write(job_root, "2024-03-02", ["21,bob,1.0,XXX", "22,cid,1.0,XXX"])
    assert _run(job_root, config) == 1
    captured = capsys.readouterr()
    assert "quality gate failed for lc_audit.orders" in captured.err
    assert "current one stays" in captured.err
    assert _rows(spark, "lc_audit.orders") == [(20, "2024-03-01")]
    failed = json.loads([ln for ln in captured.out.splitlines() if ln.startswith("{")][-1])
    assert failed["status"].startswith("failed: quality gate failed")
    summary = Path(failed["summary_files"]["json"])
    assert json.loads(summary.read_text())["status"].startswith("failed")
    # the bookmark did not advance: the same files are new again
    _write(job_root, "2024-03-02", ["21,bob,1.0,EUR", "22,cid,1.0,EUR"])
    assert _run(job_root, config) == 0
    assert _summary(capsys)["new_files"] == {"orders": 1}
    assert _rows(spark, "lc_audit.orders") == [(20, "2024-03-01"), (21, "2024-03-02"),
                                               (22, "2024-03-02")]


def test_too_many_bad_rows_exit_1_and_publish_nothing(spark, job_root: Path,
                                                      tmp_path: Path, capsys) -> None:
    _write(job_root, "2024-04-01", ["30,ann,x,EUR", "31,bob,y,EUR", "32,cid,1.0,EUR"])
    config = _config(tmp_path, "lc_threshold", max_bad_row_fraction=0.1)
    assert _run(job_root, config) == 1
    captured = capsys.readouterr()
    err = [ln for ln in captured.err.splitlines() if ln.startswith("error: ")]
    assert len(err) == 1 and "2 of 3 input rows are bad (after reading)" in err[0]
    assert "more than max_bad_row_fraction 0.1" in err[0]
    assert not spark.catalog.tableExists("lc_threshold.orders")
    assert not (job_root / "quarantine").exists()  # it failed before writing anything
    runs = list((job_root / "metadata" / "runs").glob("*/run_summary.json"))
    assert len(runs) == 1 and json.loads(runs[0].read_text())["status"].startswith("failed")


def test_an_unchanged_dimensions_old_bad_rows_do_not_fail_a_later_audit(
        spark, job_root: Path, tmp_path: Path, capsys) -> None:
    """The audit's threshold judges the rows the write judged: a dimension (incremental:
    false) with no new file is re-read, but its bad rows were judged by the run that took it
    as new. Run apart, write and audit hand the judged set over through the pending run.
    (The audit used to sum every source: 1 bad of 10 dimension rows + 2 clean new orders,
    1/12 > 0.05, exit 1 although the write passed.)"""
    config = _config(tmp_path, "lc_dim")
    data = yaml.safe_load(Path(config).read_text())
    data["sources"]["customers"] = {
        "path": "customers", "format": "csv", "incremental": False,
        "mappings": [["customer", "string", "customer", "string"],
                     ["since", "date", "since", "date"]]}
    data["run"]["max_bad_row_fraction"] = 0.05
    Path(config).write_text(yaml.safe_dump(data))
    (job_root / "raw" / "customers").mkdir(parents=True)
    (job_root / "raw" / "customers" / "part-0.csv").write_text(
        "customer,since\n" + "".join(f"c{i},2024-01-0{i}\n" for i in range(1, 10))
        + "bad,not-a-date\n")
    _write(job_root, "2024-05-01", [f"{i},ann,1.0,EUR" for i in range(40, 50)])
    # the first run takes the dimension as new: its 1 bad row of 10 is judged (1/20)
    assert _run(job_root, config, "--run.max_bad_row_fraction", "0.1") == 0
    first = _summary(capsys)
    assert first["ingest"]["customers"] == {**first["ingest"]["customers"], "rows_in": 10,
                                            "bad_rows": 1, "judged": True}
    _write(job_root, "2024-05-02", ["50,bob,2.0,EUR", "51,cid,3.0,EUR"])
    assert _run(job_root, config, "--phase", "write") == 0
    written = _summary(capsys)
    assert written["mode"] == "incremental"
    assert written["ingest"]["customers"]["judged"] is False
    assert written["ingest"]["orders"]["judged"] is True
    assert _run(job_root, config, "--phase", "audit") == 0, capsys.readouterr().err
    assert _run(job_root, config, "--phase", "publish") == 0
    assert _summary(capsys)["status"] == "published"
    assert (50, "2024-05-02") in _rows(spark, "lc_dim.orders")


FEATURES = {"name": "visits", "label": "label", "entity_key": ["id"],
            "split": {"train": 0.6, "validation": 0.2, "test": 0.2, "seed": 3, "method": "hash"},
            "steps": [{"kind": "scale", "method": "standard", "columns": ["x"],
                       "output": "scaled"}],
            "features": ["scaled"]}


def _write_features(spark, tmp_path: Path, labels: list[float | None]):  # type: ignore[no-untyped-def]
    """write_features on a published table `lc_feat.visits` (one row per label), called
    directly with the context a run hands it."""
    from types import SimpleNamespace

    from lakeforge.job import JobContext
    from lakeforge.lifecycle.runner import write_features
    from lakeforge.paths import Lake

    spark.sql("CREATE DATABASE IF NOT EXISTS lc_feat")
    rows = [(i, float(i % 7), lab) for i, lab in enumerate(labels)]
    spark.createDataFrame(rows, "id long, x double, label double") \
        .write.mode("overwrite").saveAsTable("lc_feat.visits")
    cfg = SimpleNamespace(features=FEATURES, features_from="visits", database="lc_feat",
                          outputs={"visits": SimpleNamespace(table="visits", format="parquet")})
    lake = Lake.from_settings(str(tmp_path / "lake"), allow_env_override=False)
    ctx = JobContext(name="feat_job", config=cfg, env=None, lake=lake, spark=spark,  # type: ignore[arg-type]
                     args=None)  # type: ignore[arg-type]
    return write_features(Job("feat_job", OrdersConfig, build), ctx), lake


def test_write_features_with_a_null_label_fails_before_writing_any_channel(
        spark, tmp_path: Path) -> None:
    """The labels are checked once over every split before the first channel is written: a
    null label anywhere leaves no SageMaker file (it used to fail on the first channel holding
    it, after the channels before it were written). NaN counts as null, as SageMaker reads it."""
    from transforms.features import FeatureInputError

    labels: list[float | None] = [float(i % 2) for i in range(40)]
    labels[38] = None  # id 38 is in the test split (hash split, seed 3): written last
    with pytest.raises(FeatureInputError, match="'label' has null values"):
        _write_features(spark, tmp_path, labels)
    assert not (tmp_path / "lake" / "features").exists() or not any(
        p.is_file() for p in (tmp_path / "lake" / "features").rglob("*"))
    labels[38] = float("nan")
    with pytest.raises(FeatureInputError, match="'label' has null values"):
        _write_features(spark, tmp_path, labels)


def test_write_features_writes_every_channel_and_counts_the_splits(spark, tmp_path: Path) -> None:
    """With every label set: six channels (3 splits x CSV and Parquet) and the split counts."""
    result, lake = _write_features(spark, tmp_path, [float(i % 2) for i in range(40)])
    assert sorted(result["files"]) == sorted(f"{p}_{f}" for p in ("train", "validation", "test")
                                             for f in ("csv", "parquet"))
    assert sum(result["splits"].values()) == 40 and set(result["splits"]) <= {
        "train", "validation", "test"}
    # the channels the manifest names (features/visits/_versions/<version>/csv/<split>)
    manifest = json.loads(Path(result["manifest"]).read_text())
    assert manifest["files"] == result["files"]
    csv_rows = [line for split in ("train", "validation", "test")
                for p in sorted(Path(result["files"][f"{split}_csv"]).glob("part-*"))
                for line in p.read_text().splitlines()]
    assert len(csv_rows) == 40 and all(line.split(",")[0] in ("0.0", "1.0") for line in csv_rows)
