# ruff: noqa: F811 - job_root is a fixture imported from test_lifecycle_runner
"""The lifecycle publishing Delta and Iceberg outputs (``--output_format``) on the tiny orders
job of test_lifecycle_runner: the first run commits, a run whose quality gate fails commits
nothing (the table's versions are unchanged, exit 1), an incremental run overwrites only its
partition; a schema change the config does not allow fails before the commit."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakeforge.formats import ICEBERG_CATALOG, formats_enabled
from tests.lakeforge.test_lifecycle_runner import (  # noqa: F401 - job_root is a fixture
    _config,
    _run,
    _summary,
    _write,
    job_root,
)

pytestmark = [pytest.mark.slow, pytest.mark.jars]


def _table_rows(spark, fmt: str, root: Path, db: str) -> list[tuple]:  # type: ignore[no-untyped-def]
    if fmt == "delta":
        frame = spark.read.format("delta").load(str(root / "curated" / db / "orders"))
    else:
        frame = spark.table(f"{ICEBERG_CATALOG}.{db}.orders")
    return sorted(tuple(r) for r in frame.select("order_id", "dt").collect())


def _versions(spark, fmt: str, root: Path, db: str) -> int:  # type: ignore[no-untyped-def]
    from lakeforge.formats import Target, delta, iceberg

    target = Target(db, "orders", str(root / "curated" / db / "orders"))
    if fmt == "delta":
        return len(delta.history(spark, target.location))
    return len(iceberg.snapshots(spark, target))


@pytest.mark.parametrize("fmt", ["delta", "iceberg"])
def test_publish_commits_and_a_failed_gate_commits_nothing(spark, job_root: Path,
                                                           tmp_path: Path, fmt: str,
                                                           capsys) -> None:
    """Slow: three in-process lifecycle runs per format on the test session (~20 s each)."""
    if fmt not in formats_enabled(spark):
        pytest.skip(f"the test session has no {fmt} jar set: run `make jars`")
    db = f"lcf_{fmt}"
    config = _config(tmp_path, db)
    _write(job_root, "2024-05-01", ["1,ann,1.0,EUR", "2,bob,2.0,EUR", "3,cid,-1.0,EUR"])
    assert _run(job_root, config, "--output_format", fmt) == 0
    s = _summary(capsys)
    assert s["published"]["orders"]["format"] == fmt
    assert s["published"]["orders"]["rows"] == 2  # the negative amount went to quarantine
    assert s["rows"]["orders"]["balanced"] is True
    assert _table_rows(spark, fmt, job_root, db) == [(1, "2024-05-01"), (2, "2024-05-01")]
    assert not list((job_root / "curated" / db / "orders" / "_versions").iterdir())
    versions = _versions(spark, fmt, job_root, db)

    _write(job_root, "2024-05-02", ["4,dan,1.0,XXX"])
    assert _run(job_root, config, "--output_format", fmt) == 1
    assert "quality gate failed" in capsys.readouterr().err
    assert _versions(spark, fmt, job_root, db) == versions
    assert _table_rows(spark, fmt, job_root, db) == [(1, "2024-05-01"), (2, "2024-05-01")]

    # the same partition again, fixed: only 2024-05-02 is written, 2024-05-01 stays
    _write(job_root, "2024-05-02", ["4,dan,1.0,EUR", "5,eve,1.0,USD"])
    assert _run(job_root, config, "--output_format", fmt) == 0
    s = _summary(capsys)
    assert s["published"]["orders"]["operation"] == "OVERWRITE PARTITIONS"
    assert _table_rows(spark, fmt, job_root, db) == [(1, "2024-05-01"), (2, "2024-05-01"),
                                                     (4, "2024-05-02"), (5, "2024-05-02")]
    assert _versions(spark, fmt, job_root, db) == versions + 1


@pytest.mark.parametrize("fmt", ["delta", "iceberg"])
def test_kill_before_the_commit_leaves_the_previous_version_and_the_rerun_commits(
        spark, job_root: Path, tmp_path: Path, fmt: str, capsys) -> None:
    """Slow: one job process SIGKILLed at the fault point before the format's commit
    (lakeforge.faults, a second JVM for ~1 min), then the in-process rerun."""
    import signal
    import sys

    from tests.jobsupport import job_env, run

    if fmt not in formats_enabled(spark):
        pytest.skip(f"the test session has no {fmt} jar set: run `make jars`")
    db = f"lck_{fmt}"
    config = _config(tmp_path, db)
    _write(job_root, "2024-06-01", ["1,ann,1.0,EUR"])
    assert _run(job_root, config, "--output_format", fmt) == 0
    capsys.readouterr()
    versions = _versions(spark, fmt, job_root, db)
    _write(job_root, "2024-06-02", ["2,bob,1.0,EUR", "3,cid,2.0,USD"])
    code = ("import sys; from lakeforge.lifecycle import run_pipeline; "
            "from tests.lakeforge.test_lifecycle_runner import JOB; "
            "sys.exit(run_pipeline(JOB, sys.argv[1:]))")
    env = job_env(job_root, LAKEFORGE_FAULT_POINT="before_switch.orders")
    killed = run([sys.executable, "-c", code, "--env", "local_jars", "--config", config,
                  "--output_format", fmt, "--env.spark.master", "local[2]",
                  "--env.spark.jar_sets", "[delta, iceberg]"], env, timeout=600)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert "fault point before_switch.orders: SIGKILL" in killed.stderr
    # the previous version is what readers get; nothing was committed
    assert _versions(spark, fmt, job_root, db) == versions
    assert _table_rows(spark, fmt, job_root, db) == [(1, "2024-06-01")]
    # the rerun takes the same files (the bookmark did not advance) and equals a clean run
    assert _run(job_root, config, "--output_format", fmt) == 0
    s = _summary(capsys)
    assert s["new_files"] == {"orders": 1} and s["published"]["orders"]["rows"] == 2
    assert _table_rows(spark, fmt, job_root, db) == [(1, "2024-06-01"), (2, "2024-06-02"),
                                                     (3, "2024-06-02")]
    assert _versions(spark, fmt, job_root, db) == versions + 1
    assert not list((job_root / "curated" / db / "orders" / "_versions").iterdir())
