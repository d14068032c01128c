# ruff: noqa: F811 - job_root is a fixture imported from test_lifecycle_runner
"""The lifecycle publishing Delta and Iceberg outputs (``--output_format``) on the tiny orders
job of test_lifecycle_runner, on the local metastore: the first run commits, a run whose
quality gate fails commits nothing (exit 1), the rerun commits only its partition, as a clean
run would (an incremental run), rollback restores the first version, and ``lakeforge table
history`` lists every version. :func:`check_lifecycle_sequence` is the sequence;
tests/lakeforge/test_formats_glue_api.py runs it on the Glue API (moto).

The sequence's kill (a job process SIGKILLed at ``before_switch.<table>``, just before the
format's commit: it must leave the previous version, and the rerun commits as a clean run
would) runs under ``make test`` on the Glue API sequence only, for both formats on both Spark
lines; here it runs too with ``LAKEFORGE_TESTS_FULL=1``. A killed run costs a cold
job JVM (~1-2 minutes on 2 busy cores), and the Glue one covers more: the killed job reads
the existing table with the line's Delta / Iceberg (Delta by its path, as here; Iceberg
through Iceberg's GlueCatalog, which finds the table: here the killed job's Hadoop catalog
is under the job's lake while the test session's Iceberg tables are in the session's own
warehouse, so it sees no Iceberg table at all), and it also checks that the Glue entry does
not change. What the local kill adds is only the killed job's ``spark_sql`` backend, which
nothing checks here (the killed job's Derby metastore is its own)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lakeforge.formats import ICEBERG_CATALOG, formats_enabled
from tests.jobsupport import FULL_TESTS
from tests.lakeforge.test_lifecycle_runner import (  # noqa: F401 - job_root is a fixture
    _config,
    _run,
    _summary,
    _write,
    job_root,
)

pytestmark = [pytest.mark.slow, pytest.mark.jars]

# The local-metastore sequence's kill before the commit (see the module docstring).


def _table_rows(spark, fmt: str, root: Path, db: str) -> list[tuple]:  # type: ignore[no-untyped-def]
    if fmt == "delta":
        frame = spark.read.format("delta").load(str(root / "curated" / db / "orders"))
    else:
        frame = spark.table(f"{ICEBERG_CATALOG}.{db}.orders")
    return sorted(tuple(r) for r in frame.select("order_id", "dt").collect())


def _target(root: Path, db: str) -> Any:
    from lakeforge.formats import Target

    return Target(db, "orders", str(root / "curated" / db / "orders"))


def _versions(spark, fmt: str, root: Path, db: str) -> list[str]:  # type: ignore[no-untyped-def]
    """The table's versions oldest first (Delta versions / Iceberg snapshot ids)."""
    from lakeforge.formats import delta, iceberg

    target = _target(root, db)
    if fmt == "delta":
        return sorted((str(h["version"]) for h in delta.history(spark, target.location, 1000)),
                      key=int)
    return [str(s["snapshot_id"]) for s in iceberg.snapshots(spark, target)]


def check_lifecycle_sequence(spark, job_root: Path, tmp_path: Path, fmt: str,  # type: ignore[no-untyped-def]
                             capsys, *, db: str, kill: bool, env_args: tuple[str, ...] = (),
                             catalog: Any = None,
                             catalog_entry: Callable[[], object] = lambda: None) -> object:
    """First run, failed gate, kill before the commit (a job process; only when ``kill``),
    rerun (incremental), rollback, for ``fmt`` on the catalog that ``env_args`` (``--env.*``
    overrides) select. ``catalog_entry`` returns what the catalog holds for the table: it must
    not change while nothing is committed; the entry after the first run is returned.
    ``catalog`` (the run's catalog backend) is the one rollback updates (default: the local
    metastore). Without ``kill`` the rerun is the next run after the failed gate."""
    import signal
    import sys

    from lakeforge.catalog.spark_sql import SparkSqlCatalog
    from lakeforge.formats import delta, iceberg
    from tests.jobsupport import job_env, run

    if fmt not in formats_enabled(spark):
        pytest.skip(f"the test session has no {fmt} jar set: run `make jars`")
    config = _config(tmp_path, db)
    _write(job_root, "2024-05-01", ["1,ann,1.0,EUR", "2,bob,2.0,EUR", "3,cid,-1.0,EUR"])
    assert _run(job_root, config, *env_args, "--output_format", fmt) == 0
    s = _summary(capsys)
    assert s["published"]["orders"]["format"] == fmt
    assert s["published"]["orders"]["rows"] == 2  # the negative amount went to quarantine
    assert s["rows"]["orders"]["balanced"] is True
    first = [(1, "2024-05-01"), (2, "2024-05-01")]
    assert _table_rows(spark, fmt, job_root, db) == first
    assert not list((job_root / "curated" / db / "orders" / "_versions").iterdir())
    versions = _versions(spark, fmt, job_root, db)
    entry = catalog_entry()

    # a failed Error-level check: exit 1, no commit
    _write(job_root, "2024-05-02", ["4,dan,1.0,XXX"])
    assert _run(job_root, config, *env_args, "--output_format", fmt) == 1
    assert "quality gate failed" in capsys.readouterr().err
    assert _versions(spark, fmt, job_root, db) == versions
    assert _table_rows(spark, fmt, job_root, db) == first
    assert catalog_entry() == entry

    # the same partition, fixed; with ``kill`` a run is killed just before the commit
    _write(job_root, "2024-05-02", ["4,dan,1.0,EUR", "5,eve,1.0,USD"])
    if kill:
        code = ("import sys; from lakeforge.lifecycle import run_pipeline; "
                "from tests.lakeforge.test_lifecycle_runner import JOB; "
                "sys.exit(run_pipeline(JOB, sys.argv[1:]))")
        env = job_env(job_root, LAKEFORGE_FAULT_POINT="before_switch.orders")
        killed = run([sys.executable, "-c", code, "--env", "local_jars", "--config", config,
                      "--output_format", fmt, "--env.spark.master", "local[2]",
                      "--env.spark.jar_sets", "[delta, iceberg]", *env_args], env,
                     timeout=600)
        assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
        assert "fault point before_switch.orders: SIGKILL" in killed.stderr
        assert _versions(spark, fmt, job_root, db) == versions
        assert _table_rows(spark, fmt, job_root, db) == first
        assert catalog_entry() == entry

    # the rerun takes the same file (the bookmark did not advance) and writes only 2024-05-02;
    # after a kill it also deletes the killed run's staged version
    assert _run(job_root, config, *env_args, "--output_format", fmt) == 0
    s = _summary(capsys)
    assert s["new_files"] == {"orders": 1}
    assert s["published"]["orders"]["operation"] == "OVERWRITE PARTITIONS"
    assert s["published"]["orders"]["rows"] == 2
    assert _table_rows(spark, fmt, job_root, db) == [*first, (4, "2024-05-02"),
                                                     (5, "2024-05-02")]
    assert len(_versions(spark, fmt, job_root, db)) == len(versions) + 1
    assert not list((job_root / "curated" / db / "orders" / "_versions").iterdir())

    # rollback to the first run's version (`lakeforge table rollback`'s library call)
    catalog = catalog or SparkSqlCatalog(spark)
    if fmt == "delta":
        delta.rollback(spark, catalog, _target(job_root, db), int(versions[-1]))
    else:
        iceberg.rollback(spark, catalog, _target(job_root, db), int(versions[-1]))
    assert _table_rows(spark, fmt, job_root, db) == first
    return entry


@pytest.mark.parametrize("fmt", ["delta", "iceberg"])
def test_failed_gate_leaves_the_table_the_rerun_commits_and_history_lists_the_versions(
        spark, job_root: Path, tmp_path: Path, fmt: str, capsys) -> None:
    """Slow: three in-process lifecycle runs on the test session (~20 s each): the first run,
    the failed gate, the rerun; rollback; ``lakeforge table history``. With
    LAKEFORGE_TESTS_FULL=1 also a job process SIGKILLed at the fault point before the
    format's commit (lakeforge.faults; a second JVM, ~1 min) before the rerun; under
    ``make test`` that kill runs on the Glue API sequence only
    (test_lifecycle_on_glue_api_first_run_failed_gate_kill_rerun_rollback_on_moto)."""
    db = f"lcf_{fmt}"
    check_lifecycle_sequence(spark, job_root, tmp_path, fmt, capsys, db=db, kill=FULL_TESTS)

    # `lakeforge table history` (in this process: the CLI reuses the test session): every
    # version, newest first; a table that is not there is one line, not a traceback
    import json

    from lakeforge.cli import main

    capsys.readouterr()
    # Delta's format is found from job_root's table folder; this session's Iceberg warehouse
    # is the session's own lake, not job_root, so Iceberg is named (as the docs say to)
    named = ["--format", fmt] if fmt == "iceberg" else []
    assert main(["table", "history", f"{db}.orders", "--env", "local_jars", *named]) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    key = "version" if fmt == "delta" else "snapshot_id"
    assert [str(e[key]) for e in printed] == _versions(spark, fmt, job_root, db)[::-1]
    assert main(["table", "history", f"{db}.missing", "--format", fmt,
                 "--env", "local_jars"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(
        f"error: lakeforge table history {db}.missing ({fmt} at "
        f"{job_root / 'curated' / db / 'missing'}): "), err


def _two_outputs_config(tmp_path: Path, db: str) -> str:
    """The orders job's config with a second output (``orders_b``, the same rows) and both
    outputs in mode ``append``."""
    import yaml

    path = Path(_config(tmp_path, db))
    data = yaml.safe_load(path.read_text())
    data["outputs"]["orders"]["mode"] = "append"
    data["outputs"]["orders_b"] = {"table": "orders_b", "partition_by": ["dt"],
                                   "mode": "append"}
    path.write_text(yaml.safe_dump(data))
    return str(path)


def _build_two(steps):  # type: ignore[no-untyped-def]
    from tests.lakeforge.test_lifecycle_runner import build

    orders = build(steps)["orders"]
    return {"orders": orders, "orders_b": orders}


def _crash_at(monkeypatch: pytest.MonkeyPatch, point: str | None) -> None:
    """Make the fault point ``point`` raise in this process (None: none raises)."""
    from lakeforge.lifecycle import runner

    def fault_point(name: str) -> None:
        if name == point:
            raise RuntimeError(f"injected failure at {name}")

    monkeypatch.setattr(runner, "fault_point", fault_point)


def _append_rows(spark, fmt: str, root: Path, db: str, table: str) -> list[tuple]:  # type: ignore[no-untyped-def]
    from lakeforge.formats import Target, delta, iceberg, read_table

    location = str(root / "curated" / db / table)
    if fmt == "parquet":
        if not spark.catalog.tableExists(f"{db}.{table}"):
            return []
        spark.catalog.refreshTable(f"{db}.{table}")
    elif not (delta.is_delta_table(spark, location) if fmt == "delta"
              else iceberg.table_exists(spark, Target(db, table, location))):
        return []
    frame = read_table(spark, fmt, db, table, location)
    return sorted(tuple(r) for r in frame.select("order_id", "dt").collect())


@pytest.mark.parametrize("fmt", ["parquet", "delta", "iceberg"])
def test_publish_retry_and_rerun_before_the_bookmark_commit_append_each_window_once(
        spark, job_root: Path, tmp_path: Path, fmt: str, capsys,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Two ``append`` outputs, failures raised in process at the lifecycle's fault points.
    The publish phase fails between the two outputs: its retry (``--phase publish``) commits
    only the second, from the staged rows kept until the bookmark commit. A run then fails
    just before the bookmark commit: the rerun reads the same bookmark window and adds its
    rows once (the format's commit is skipped; Parquet replaces that window's append)."""
    from lakeforge.lifecycle import Job, run_pipeline
    from tests.lakeforge.test_lifecycle_runner import OrdersConfig

    if fmt not in formats_enabled(spark):
        pytest.skip(f"the test session has no {fmt} jar set: run `make jars`")
    job = Job("orders_two_job", OrdersConfig, _build_two)
    db = f"lcw_{fmt}"
    config = _two_outputs_config(tmp_path, db)

    def run(*extra: str) -> int:
        return run_pipeline(job, ["--env", "local", "--config", config,
                                  "--output_format", fmt, *extra])

    def tables() -> tuple[list[tuple], list[tuple]]:
        return (_append_rows(spark, fmt, job_root, db, "orders"),
                _append_rows(spark, fmt, job_root, db, "orders_b"))

    _write(job_root, "2024-06-01", ["1,ann,1.0,EUR", "2,bob,2.0,EUR"])
    first = [(1, "2024-06-01"), (2, "2024-06-01")]
    assert run("--phase", "write") == 0 and run("--phase", "audit") == 0
    _crash_at(monkeypatch, "before_switch.orders_b")
    with pytest.raises(RuntimeError, match="injected failure at before_switch.orders_b"):
        run("--phase", "publish")
    assert tables() == (first, [])
    _crash_at(monkeypatch, None)
    assert run("--phase", "publish") == 0
    assert tables() == (first, first)
    if fmt != "parquet":
        assert len(_versions(spark, fmt, job_root, db)) == 1  # orders: committed once
        assert not list((job_root / "curated" / db / "orders" / "_versions").iterdir())
    capsys.readouterr()

    _write(job_root, "2024-06-02", ["3,cid,1.0,EUR"])
    _crash_at(monkeypatch, "before_bookmark_commit")
    with pytest.raises(RuntimeError, match="injected failure at before_bookmark_commit"):
        run()
    grown = [*first, (3, "2024-06-02")]
    assert tables() == (grown, grown)
    _crash_at(monkeypatch, None)
    assert run() == 0
    s = _summary(capsys)
    assert s["new_files"] == {"orders": 1} and s["bookmark_committed"] is True
    assert tables() == (grown, grown)
    if fmt != "parquet":
        assert s["published"]["orders"]["operation"] == "APPEND (already committed)"
        assert len(_versions(spark, fmt, job_root, db)) == 2




def _unpartitioned_append(tmp_path: Path, db: str) -> tuple[Callable[[], int], Path]:
    """The orders job with its output an unpartitioned Parquet ``append``: a run of it (the
    lifecycle in this process, on the local env) and its quality suite's file."""
    import yaml

    from lakeforge.lifecycle import run_pipeline
    from tests.lakeforge.test_lifecycle_runner import JOB

    path = Path(_config(tmp_path, db))
    data = yaml.safe_load(path.read_text())
    data["outputs"]["orders"].update({"mode": "append", "partition_by": []})
    path.write_text(yaml.safe_dump(data))

    def run() -> int:
        return run_pipeline(JOB, ["--env", "local", "--config", str(path)])

    return run, Path(data["outputs"]["orders"]["quality_suite"])


def test_parquet_append_with_gate_failures_adds_each_passing_row_once_and_a_late_file_is_refused(
        spark, job_root: Path, tmp_path: Path, capsys) -> None:
    """An unpartitioned Parquet ``append`` whose Warning-level gate removes a row: the audit
    re-stages the passing rows, which already hold the table's current rows, so those are not
    added a second time (they were). A late file in a published raw partition would reprocess
    it whole (its published rows appended again): that run is refused (exit 2) before
    anything is written."""
    db = "lcw_gate_append"
    run, _suite = _unpartitioned_append(tmp_path, db)

    def rows() -> list[int]:
        spark.catalog.refreshTable(f"{db}.orders")
        return sorted(r.order_id for r in spark.table(f"{db}.orders").collect())

    _write(job_root, "2024-06-01", ["1,ann,1.0,EUR", "2,bob,-2.0,EUR"])
    assert run() == 0
    assert _summary(capsys)["checks"]["orders"]["rows_failed"] == 1
    _write(job_root, "2024-06-02", ["3,cid,3.0,EUR", "4,dan,-4.0,USD"])
    assert run() == 0
    second = _summary(capsys)
    assert second["checks"]["orders"]["rows_failed"] == 1
    assert second["rows"]["orders"]["balanced"] is True
    assert rows() == [1, 3]

    _write(job_root, "2024-06-02", ["5,eve,5.0,EUR"], name="part-1.csv")
    assert run() == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(
        "error: outputs ['orders'] use mode append, but this run re-reads 1 file(s) an earlier "
        "run already published (e.g. ") and "dt=2024-06-02/part-0.csv" in err[0]
    assert rows() == [1, 3]


def test_parquet_append_gate_judges_the_runs_own_rows_and_never_removes_published_ones(
        spark, job_root: Path, tmp_path: Path, capsys) -> None:
    """An unpartitioned Parquet ``append`` rewrites the table's current rows into its new
    version beside its own. A rule tightened between runs (customers allowed) that a published
    row now fails must not take that row out of the table nor into this run's quarantine: the
    gate judges what the run appends, as it does for Delta and Iceberg (which stage the new rows
    alone). Only the run's failing row is quarantined, and the ledger counts the run's rows."""
    db = "lcw_gate_append_own"
    run, suite = _unpartitioned_append(tmp_path, db)
    _write(job_root, "2024-06-01", ["1,ann,1.0,EUR"])
    assert run() == 0
    assert _summary(capsys)["checks"]["orders"]["rows_failed"] == 0

    suite.write_text(suite.read_text() + "      - isContainedIn: {column: customer, "
                     "allowed_values: [cid]}\n")
    _write(job_root, "2024-06-02", ["3,cid,3.0,EUR", "4,eve,4.0,USD"])
    assert run() == 0
    second = _summary(capsys)
    assert second["checks"]["orders"]["rows_failed"] == 1
    assert second["rows"]["orders"]["published"] == 1
    assert second["rows"]["orders"]["quarantined"] == 1
    assert second["rows"]["orders"]["balanced"] is True
    spark.catalog.refreshTable(f"{db}.orders")
    assert sorted(r.order_id for r in spark.table(f"{db}.orders").collect()) == [1, 3]
    records = [json.loads(line) for f in sorted((job_root / "quarantine").rglob("*.json"))
               for line in f.read_text().splitlines()]
    assert [json.loads(r["record"])["order_id"] for r in records] == [4]
    assert "customer" in records[0]["reason"]
