"""Bad command-line input found by trying every command as a new user would mistype it: each is
one ``error:`` line and exit code 2, before Spark starts, never a traceback or a silent default.
In process through lakeforge.cli.main; AWS only via moto."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from lakeforge.cli import main
from lakeforge.errors import ConfigError
from lakeforge.job import parse_job_args


def _one_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err.strip()


@pytest.mark.parametrize("argv", [["--log-level", "bogus", "jobs"],
                                  ["--log-level", "verbose", "run", "csv_to_parquet"]])
def test_an_unknown_log_level_is_refused_not_taken_as_info(
        argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """configure_logging took any unknown level silently as INFO."""
    assert main(argv) == 2
    assert _one_error(capsys) == (f"error: --log-level {argv[1]!r}: use one of DEBUG, INFO, "
                                  "WARNING, ERROR, CRITICAL")


def test_a_job_log_level_is_checked_and_upper_cased() -> None:
    assert parse_job_args(["--log-level", "warn"], "x").log_level == "WARNING"
    assert parse_job_args(["--log-level", "debug"], "x").log_level == "DEBUG"
    with pytest.raises(ConfigError, match=r"^--log-level 'nope': use one of DEBUG"):
        parse_job_args(["--log-level=nope"], "x")


@pytest.mark.parametrize("flag, expected", [
    ("--config", "error: --config is empty: give the job config's path (or leave --config out "
                 "for conf/jobs/csv_to_parquet.yaml)"),
    ("--env", "error: env name '' is not valid; use e.g. --env local"),
])
def test_an_empty_config_or_env_is_refused_not_dropped(
        flag: str, expected: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`lakeforge run JOB --config ""` ran the default config (and `--env ""` the default env):
    run.py dropped an empty value, and the job took an empty --config as no config file."""
    monkeypatch.setenv("LAKEFORGE_LAKE_ROOT", str(tmp_path))
    assert main(["run", "csv_to_parquet", flag, ""]) == 2
    assert _one_error(capsys) == expected


@pytest.mark.parametrize("store, expected", [
    ("dynamodb://", "error: --store 'dynamodb://': a DynamoDB table name has 3-255 letters, "
                    "digits, '_', '-' or '.'; use dynamodb://TABLE"),
    ("s3://", "error: --store 's3://' names no bucket; use s3://bucket/prefix"),
])
def test_bookmarks_store_without_a_table_or_bucket_is_one_line(
        store: str, expected: str, capsys: pytest.CaptureFixture[str],
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both were tracebacks from boto3 (ParamValidationError, ValueError)."""
    monkeypatch.setenv("LAKEFORGE_LAKE_ROOT", str(tmp_path))
    assert main(["bookmarks", "show", "some_job", "--env", "local", "--store", store]) == 2
    assert _one_error(capsys) == expected


def test_bookmarks_on_a_missing_dynamodb_table_is_one_line(
        moto_endpoint: str, capsys: pytest.CaptureFixture[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A store boto3 refuses (no such table here; no credentials, no endpoint alike) was a
    botocore traceback with exit code 1."""
    monkeypatch.setenv("LAKEFORGE_LAKE_ROOT", str(tmp_path))
    monkeypatch.setenv("LAKEFORGE_AWS_ENDPOINT_URL", moto_endpoint)
    table = f"no_such_{uuid.uuid4().hex[:8]}"
    assert main(["bookmarks", "show", "some_job", "--env", "local",
                 "--store", f"dynamodb://{table}"]) == 2
    line = _one_error(capsys)
    assert line.startswith(f"error: bookmarks show some_job: state store dynamodb://{table}: ")
    assert "ResourceNotFoundException" in line


@pytest.mark.parametrize("table", ["orders", "a.b.c", ".orders", "db."])
def test_quality_run_table_not_database_dot_table_fails_before_spark(
        table: str, capsys: pytest.CaptureFixture[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """--table orders started Spark and ended in an AnalysisException traceback (exit 1);
    the form is checked before the session now (no session is started in this test)."""
    monkeypatch.setenv("LAKEFORGE_LAKE_ROOT", str(tmp_path))
    assert main(["quality", "run", "--suite", "orders", "--table", table]) == 2
    assert _one_error(capsys) == f"error: --table {table!r} must be database.table"


def test_quality_run_on_a_table_the_catalog_lacks_is_one_line(tmp_path: Path) -> None:
    """A database.table the catalog does not have ended in pyspark's AnalysisException
    traceback (exit 1); now one line naming --table (Spark must start to ask its catalog: a
    subprocess, so the suite's own session is not the one stopped)."""
    from tests.jobsupport import BIN, job_env, run

    proc = run([str(BIN / "python"), "-m", "lakeforge.cli", "quality", "run", "--suite",
                "orders", "--table", "lakeforge.no_such_table", "--env", "local"],
               job_env(tmp_path / "lake"))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: --table lakeforge.no_such_table: no such table in the catalog of env local")
    assert "Traceback" not in proc.stderr


def _no_spark(*args: object, **kwargs: object) -> None:
    raise AssertionError("the command started Spark before refusing its input")


@pytest.mark.parametrize("extra, expected", [
    ([], "error: INPUT {missing} does not exist; create it or point INPUT at an existing folder"),
    (["--labels", "{missing}"], "error: --labels {missing} does not exist; create it or point "
                                "--labels at an existing folder"),
])
def test_match_on_a_missing_input_or_labels_path_fails_before_spark(
        extra: list[str], expected: str, capsys: pytest.CaptureFixture[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing path was found by read_source once the session was up (20 s of JVM start
    for a typo); now it is checked before (build_session here fails the test if called)."""
    monkeypatch.setenv("LAKEFORGE_LAKE_ROOT", str(tmp_path / "lake"))
    monkeypatch.setattr("lakeforge.session.build_session", _no_spark)
    data = tmp_path / "people.csv"
    data.write_text("id,name\n1,a\n", encoding="utf-8")
    missing = str(tmp_path / "nowhere")
    source = missing if not extra else str(data)
    argv = ["match", source, "--primary-key", "id", "--output", "out"]
    assert main(argv + [a.format(missing=missing) for a in extra]) == 2
    assert _one_error(capsys) == expected.format(missing=missing)


def test_match_on_a_table_the_catalog_lacks_is_one_line(tmp_path: Path) -> None:
    """database.table that the catalog lacks (and no such path) was pyspark's
    AnalysisException traceback with exit code 1 (a subprocess: Spark must start)."""
    from tests.jobsupport import BIN, job_env, run

    proc = run([str(BIN / "python"), "-m", "lakeforge.cli", "match", "lakeforge.no_such_table",
                "--primary-key", "id", "--output", "out", "--env", "local"],
               job_env(tmp_path / "lake"))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: INPUT lakeforge.no_such_table: no such table in the catalog, and no such path")
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("argv, expected", [
    (["run"], "error: lakeforge run: the following arguments are required: job "
              "(see lakeforge run -h)"),
    (["run", "csv_to_parquet", "--phase", "bad"],
     "error: lakeforge run: argument --phase: invalid choice: 'bad' (choose from 'write', "
     "'audit', 'publish') (see lakeforge run -h)"),
    (["table", "rollback", "a.b", "--to-version", "x"],
     "error: lakeforge table rollback: argument --to-version/--to_version: invalid int value: "
     "'x' (see lakeforge table rollback -h)"),
    (["quality", "run", "--suite", "orders"],
     "error: lakeforge quality run: one of the arguments --table --path is required "
     "(see lakeforge quality run -h)"),
])
def test_a_usage_error_is_one_line_naming_the_command(
        argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    """argparse printed its usage block before the error: four to ten lines per mistake."""
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    assert capsys.readouterr().err == expected + "\n"


@pytest.mark.parametrize("name", ["", " ", "../x", "a//b", "a/."])
def test_a_job_name_that_cannot_key_the_bookmarks_is_refused_in_parsing(name: str) -> None:
    """--JOB_NAME '' ran until the write phase opened the bookmarks, with Spark up, and failed
    as "state key 'jobs/' is not valid" without naming --JOB_NAME."""
    with pytest.raises(ConfigError, match=r"^--JOB_NAME .*: give the run's name"):
        parse_job_args(["--JOB_NAME", name], "csv_to_parquet")
    assert parse_job_args(["--JOB_NAME", "team/sales"], "x").job_name == "team/sales"


def _published_table(root: Path) -> None:
    """db.t as publish leaves it (a version's Parquet file and its Athena DDL), by pyarrow."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from lakeforge.catalog.athena_ddl import DDL_FILE, athena_ddl
    from lakeforge.catalog.base import Column, TableSpec
    from lakeforge.paths import Lake

    table = Path(Lake.from_settings(str(root), allow_env_override=False)
                 .table_uri("curated", "t", "db"))
    version = table / "_versions" / "v1"
    version.mkdir(parents=True)
    pq.write_table(pa.table({"id": [1, 2]}), version / "part-00000.parquet")
    spec = TableSpec("db", "t", [Column("id", "bigint")], str(version))
    (table / DDL_FILE).write_text(athena_ddl(spec, [], with_partitions=False))


@pytest.mark.parametrize("sql, expected", [
    ("SELEC 1", 'error: SQL on db.t (view t): Parser Error: syntax error at or near "SELEC"'),
    ("SELECT nocol FROM t", 'error: SQL on db.t (view t): Binder Error: Referenced column '
                            '"nocol" not found in FROM clause! Candidate bindings: "id"'),
])
def test_query_with_sql_duckdb_refuses_is_one_line(
        sql: str, expected: str, capsys: pytest.CaptureFixture[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A typo in the SQL was DuckDB's ParserException / BinderException traceback (exit 1)."""
    monkeypatch.setenv("LAKEFORGE_LAKE_ROOT", str(tmp_path))
    _published_table(tmp_path)
    assert main(["query", "db.t", "SELECT count(*) FROM t", "--env", "local"]) == 0
    assert capsys.readouterr().out == "2\n"
    assert main(["query", "db.t", sql, "--env", "local"]) == 2
    assert _one_error(capsys) == expected


def test_a_conf_dir_that_is_not_a_folder_is_named_in_the_error(
        capsys: pytest.CaptureFixture[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With $LAKEFORGE_CONF_DIR mistyped the job said only "<defaults>: missing required key
    'sources'" (the config file was never read, silently) and the env "no file ..."."""
    from lakeforge.config import load_env

    conf = tmp_path / "conff"
    monkeypatch.setenv("LAKEFORGE_CONF_DIR", str(conf))
    monkeypatch.setenv("LAKEFORGE_LAKE_ROOT", str(tmp_path / "lake"))
    assert main(["run", "csv_to_parquet"]) == 2
    assert _one_error(capsys) == (
        "error: <defaults>: missing required key 'sources'; no job config was read: "
        f"{conf}/jobs/csv_to_parquet.yaml does not exist ($LAKEFORGE_CONF_DIR is {conf}, which "
        "is not a folder); pass --config FILE")
    with pytest.raises(ConfigError, match=r"^unknown env 'local': no file .*local\.yaml "
                                          r"\(\$LAKEFORGE_CONF_DIR is .*conff, which is not a "
                                          r"folder\); choose one of \[\]"):
        load_env("local")
