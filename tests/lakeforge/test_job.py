"""The job contract: Glue-style arguments, clear one-line errors, and the same job running as
``python -m``, ``lakeforge run`` and ``spark-submit``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jobs import csv_to_parquet
from lakeforge.errors import ConfigError
from lakeforge.job import GLUE_RESERVED, parse_job_args
from lakeforge.sample_data import write_sales_csv
from tests.jobsupport import BIN, REPO, job_env, read_parquet_rows, run


def test_glue_style_arguments() -> None:
    args = parse_job_args(
        ["--JOB_NAME", "nightly", "--env", "emr", "--config", "c.yaml", "--TempDir", "s3://t/",
         "--job-bookmark-option", "job-bookmark-enable", "--enable-glue-datacatalog",
         "--output.table", "sales_v2", "--max_bad_row_fraction=0.2", "--env.lake.root", "/x"],
        "csv_to_parquet",
    )
    assert args.job_name == "nightly" and args.env == "emr" and args.config == "c.yaml"
    assert args.overrides == {"output.table": "sales_v2", "max_bad_row_fraction": 0.2}
    assert args.env_overrides == {"lake.root": "/x"}
    assert args.glue_args == {"TempDir": "s3://t/", "job-bookmark-option": "job-bookmark-enable",
                              "enable-glue-datacatalog": "true"}
    assert "TempDir" in GLUE_RESERVED


def test_defaults_and_bad_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAKEFORGE_ENV", raising=False)
    args = parse_job_args([], "csv_to_parquet")
    assert args.env == "local" and args.job_name == "csv_to_parquet"
    assert args.config is not None and args.config.endswith("conf/jobs/csv_to_parquet.yaml")
    with pytest.raises(ConfigError, match="needs a value"):
        parse_job_args(["--env"], "x")
    with pytest.raises(ConfigError, match="unexpected argument 'local'"):
        parse_job_args(["local"], "x")


@pytest.mark.parametrize(("argv", "expected"), [
    (["--job-bookmark-option", "job-bookmark-sometimes"],
     "--job-bookmark-option 'job-bookmark-sometimes': use one of job-bookmark-enable, "
     "job-bookmark-disable, job-bookmark-pause"),
    (["--job-bookmark-option"], "--job-bookmark-option 'true'"),
    (["--job-bookmark-option", "job-bookmark-enable", "--job-bookmark-to", "r1"],
     "--job-bookmark-to needs --job-bookmark-option job-bookmark-pause, not job-bookmark-enable"),
    (["--job-bookmark-option", "job-bookmark-pause", "--job-bookmark-from", " "],
     "--job-bookmark-from is empty"),
])
def test_bad_bookmark_arguments_fail_in_parsing(argv: list[str], expected: str) -> None:
    """Glue's bookmark arguments are checked with the others, not when the bookmarks are
    opened (after Spark started and the lock was taken)."""
    with pytest.raises(ConfigError) as err:
        parse_job_args(argv, "x")
    assert expected in str(err.value)


@pytest.mark.parametrize(("argv", "expected"), [
    (["--job-bookmark-from", "r1"],
     "--job-bookmark-from needs --job-bookmark-option job-bookmark-pause ("),
    (["--job-bookmark-option", "job-bookmark-sometimes"], "'job-bookmark-sometimes'"),
    (["--run.bookmark_option", "job-bookmark-pause", "--run.job_bookmark_to", "r1",
      "--job-bookmark-option", "job-bookmark-enable"],
     "sets 'run.job_bookmark_to', which needs job-bookmark-pause"),
])
def test_bad_bookmark_arguments_fail_before_spark(argv: list[str], expected: str, capsys,
                                                   monkeypatch) -> None:
    """A run range with the config's (or the command line's) option other than pause."""
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("Spark was started: the error should have come before")

    monkeypatch.setattr("lakeforge.session.build_session", refuse)
    assert csv_to_parquet.main(["--env", "local", *argv]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert expected in line, line


def _version(table: Path) -> Path:
    """The one version folder a single publish wrote (publish_partitioned's layout)."""
    (version,) = (table / "_versions").iterdir()
    return version


def _one_error_line(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    return lines[0]


def test_wrong_config_key_is_one_line_naming_key_and_file(tmp_path: Path, capsys) -> None:
    cfg = tmp_path / "bad.yaml"
    text = (REPO / "conf/jobs/csv_to_parquet.yaml").read_text()
    text = text.replace("partition_by", "partiton_by")
    cfg.write_text(text)
    assert csv_to_parquet.main(["--env", "local", "--config", str(cfg)]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "outputs.sales.partiton_by" in line and str(cfg) in line and "partition_by" in line


def test_missing_input_path_is_one_line(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("LAKEFORGE_LAKE_ROOT", str(tmp_path))
    assert csv_to_parquet.main(["--env", "local", "--sources.sales.path", "nowhere"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert f"{tmp_path}/raw/nowhere does not exist" in line and "sources.sales.path" in line


def test_unknown_env_is_one_line(capsys) -> None:
    assert csv_to_parquet.main(["--env", "prodd"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "unknown env 'prodd'" in line and "standalone" in line


def test_the_error_line_masks_credentials(capsys) -> None:
    """The ``error:`` line goes to stderr (and logs, summaries): a password in what the user
    passed is masked there as in the logs."""
    assert csv_to_parquet.main(["--env", "postgresql://app:hunter2@db/x"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert line.startswith("error: env file postgresql://app:***@db/x does not exist; pass "
                           "--env NAME (one of ['emr', ")
    assert "hunter2" not in line


def test_bad_override_type_is_one_line(capsys) -> None:
    assert csv_to_parquet.main(["--run.max_bad_row_fraction", "lots"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "'run.max_bad_row_fraction' must be a number" in line


def test_job_in_process_quarantines_bad_rows(spark, tmp_path: Path, monkeypatch) -> None:
    """In-process run reuses the test session (and must not stop it)."""
    monkeypatch.setenv("LAKEFORGE_LAKE_ROOT", str(tmp_path))
    counts = write_sales_csv(tmp_path / "raw" / "sales", rows=300, files=2, bad_rows=6)
    # an older file without the quantity column: its rows publish with quantity null, and the
    # summary names the file and the column
    older = tmp_path / "raw" / "sales" / "older.csv"
    older.write_text("order_id,customer_id,order_date,country,amount\n"
                     "9001,c1,2024-01-01,GB,1.5\n9002,c2,2024-01-02,FR,2.5\n")
    code = csv_to_parquet.main(["--env", "local", "--database", "contract_db"])
    assert code == 0
    rows = read_parquet_rows(_version(tmp_path / "curated" / "contract_db" / "sales"))
    assert len(rows) == counts["good"] + 2 == 296
    assert [r["quantity"] for r in rows if r["order_id"] in (9001, 9002)] == [None, None]
    [summary] = [json.loads(p.read_text())
                 for p in (tmp_path / "metadata" / "runs").glob("*/run_summary.json")]
    assert summary["schema_drift"]["missing_columns"] == {"sales": {str(older): ["quantity"]}}
    assert {r["country"] for r in rows} <= {"GB", "FR", "DE", "ES", "IT", "NL"}
    quarantined = spark.read.json(str(tmp_path / "quarantine" / "contract_db" / "sales"))
    records = quarantined.collect()
    reasons = [r["reason"] for r in records]
    assert len(reasons) == 6
    assert any("is not a double" in r for r in reasons)
    assert any("is not a date" in r for r in reasons)
    assert any("malformed CSV line" in r for r in reasons)
    assert all(r["source_file"].endswith(".csv") and r["line"] > 1 for r in records)
    # registered in the session's metastore, readable with partition pruning
    table = spark.table("contract_db.sales").where("country = 'GB'")
    assert table.count() == sum(1 for r in rows if r["country"] == "GB")
    assert not spark.sparkContext._jsc.sc().isStopped()


def test_too_many_bad_rows_publishes_nothing(spark, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("LAKEFORGE_LAKE_ROOT", str(tmp_path))
    write_sales_csv(tmp_path / "raw" / "sales", rows=40, files=1, bad_rows=10)
    code = csv_to_parquet.main(["--env", "local", "--database", "contract_db2"])
    assert code == 1
    assert "more than max_bad_row_fraction" in capsys.readouterr().err
    assert not (tmp_path / "curated" / "contract_db2" / "sales").exists()
    # the threshold is checked after reading, before anything is written
    assert not (tmp_path / "quarantine").exists()


@pytest.fixture(scope="module")
def raw_lake(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    root = tmp_path_factory.mktemp("proc_lake")
    counts = write_sales_csv(root / "raw" / "sales", rows=500, files=2, bad_rows=3)
    return root, counts


def _check_output(root: Path, table_db: str, counts: dict[str, int], stdout: str) -> None:
    # spark-submit sends the Python driver's stderr (logs) to stdout too: take the JSON line.
    summary = json.loads([ln for ln in stdout.splitlines() if ln.startswith("{")][-1])
    ledger = summary["rows"]["sales"]
    assert ledger["rows_in"] == counts["total"] and ledger["balanced"]
    assert ledger["published"] == summary["published"]["sales"]["rows"] == counts["good"]
    assert ledger["quarantined"] == counts["bad"]
    rows = read_parquet_rows(_version(root / "curated" / table_db / "sales"))
    assert len(rows) == counts["good"]
    assert (root / "metadata" / "derby.log").exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    "launcher",
    ["python -m", "lakeforge run", "spark-submit local[2]"],
)
def test_same_job_runs_from_every_launcher(raw_lake, launcher: str) -> None:
    """Slow: each launcher starts its own JVM (about 15 s each)."""
    import sys

    root, counts = raw_lake
    db = "db_" + launcher.split()[0].replace("-", "_")
    common = ["--env", "local", "--database", db]
    if launcher == "python -m":
        cmd = [sys.executable, "-m", "jobs.csv_to_parquet", "--JOB_NAME", "pym", *common]
    elif launcher == "lakeforge run":
        cmd = [str(BIN / "lakeforge"), "run", "csv_to_parquet", *common]
    else:
        cmd = [str(BIN / "spark-submit"), "--master", "local[2]",
               "--conf", "spark.ui.enabled=false", str(REPO / "jobs/csv_to_parquet.py"), *common]
    proc = run(cmd, job_env(root))
    assert proc.returncode == 0, proc.stderr[-3000:]
    _check_output(root, db, counts, proc.stdout)


def test_cli_help_lists_subcommands() -> None:
    from lakeforge.cli import build_parser

    text = build_parser().format_help()
    assert "run" in text and "jobs" in text
