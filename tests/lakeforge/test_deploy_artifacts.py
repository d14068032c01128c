"""scripts/build_artifacts.sh, the --py-files zip, and the Glue/EMR entry script."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

from lakeforge.deploy import DeployError, MissingArtifactError
from lakeforge.deploy.artifacts import (
    MANIFEST,
    PACKAGES,
    S3Layout,
    build_pyfiles_zip,
    load_artifacts,
    zip_members,
)
from lakeforge.session import splink_jar_path

REPO = Path(__file__).resolve().parents[2]


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment for a subprocess that must not see the repository's conf or code."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("LAKEFORGE_CONF_DIR", "PYTHONPATH", "LAKEFORGE_LAKE_ROOT")}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run(
        ["bash", str(REPO / "scripts/build_artifacts.sh"), "--dist", str(out)],
        capture_output=True, text=True, timeout=300, env=_clean_env(PYTHON=sys.executable),
    )
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="module")
def entry() -> ModuleType:
    spec = importlib.util.spec_from_file_location("glue_entry", REPO / "scripts/glue_entry.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- build script


@pytest.mark.slow
def test_build_script_produces_wheel_zip_jar_and_manifest(dist):
    """Slow: builds a wheel with pip (several seconds)."""
    assert sorted(p.name for p in dist.iterdir()) == sorted([
        "lakeforge-0.1.0-py3-none-any.whl", "lakeforge_pyfiles.zip", "jars", "glue_entry.py",
        "bootstrap.sh", MANIFEST])
    members = zip_members(dist / "lakeforge_pyfiles.zip")
    for package in PACKAGES:
        assert f"{package}/__init__.py" in members
    assert {"jobs/csv_to_parquet.py", "lakeforge/config.py", "lakeforge/deploy/emr.py",
            "conf/envs/local.yaml", "conf/envs/emr.yaml", "conf/envs/glue.yaml",
            "conf/jobs/csv_to_parquet.yaml"} <= set(members)
    assert not [m for m in members if "__pycache__" in m or m.endswith(".pyc")]
    assert not [m for m in members if m.startswith(("tests/", "scripts/", ".venv/"))]
    wheel = zip_members(dist / "lakeforge-0.1.0-py3-none-any.whl")
    assert "lakeforge/deploy/glue.py" in wheel and "jobs/csv_to_parquet.py" in wheel
    jar = Path(splink_jar_path() or "")
    assert jar.name == "scala-udf-similarity-0.1.2_spark3.x.jar"
    assert (dist / "jars" / jar.name).read_bytes() == jar.read_bytes()
    manifest = json.loads((dist / MANIFEST).read_text())
    for name, digest in manifest["sha256"].items():
        assert hashlib.sha256((dist / name).read_bytes()).hexdigest() == digest
    assert (dist / "glue_entry.py").read_bytes() == (REPO / "scripts/glue_entry.py").read_bytes()


@pytest.mark.slow
def test_job_imports_from_the_zip_alone(dist, tmp_path):
    """Slow: uses the built dist. The zip is enough: the job module, lakeforge and the conf
    come from the zip, in a folder with no conf/ and no repository on the path."""
    zip_path = dist / "lakeforge_pyfiles.zip"
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import jobs.csv_to_parquet, lakeforge; "
        "print(jobs.csv_to_parquet.__file__); print(lakeforge.__file__)"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(zip_path)], capture_output=True,
                          text=True, cwd=tmp_path, env=_clean_env(), timeout=60)
    assert proc.returncode == 0, proc.stderr
    job_file, lakeforge_file = proc.stdout.split()
    assert job_file == f"{zip_path}/jobs/csv_to_parquet.py"
    assert lakeforge_file == f"{zip_path}/lakeforge/__init__.py"
    # The literal check from the issue.
    proc = subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(zip_path)!r}); "
                               "import jobs.csv_to_parquet"],
        capture_output=True, text=True, cwd=tmp_path, env=_clean_env(), timeout=60)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.slow
def test_conf_is_found_inside_the_zip(dist, tmp_path):
    """Slow: uses the built dist. Without $LAKEFORGE_CONF_DIR or ./conf, conf/ is extracted
    from the zip lakeforge was imported from, and envs load from it."""
    zip_path = dist / "lakeforge_pyfiles.zip"
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from lakeforge.deploy.artifacts import ensure_conf_dir; d = ensure_conf_dir();"
        "from lakeforge.config import conf_dir, load_env, available_envs;"
        "print(d == conf_dir(), available_envs(), load_env('emr').kind)"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(zip_path)], capture_output=True,
                          text=True, cwd=tmp_path, env=_clean_env(), timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ("True ['emr', 'glue', 'local', 'local_jars', 'local_s3', "
                                   "'standalone'] emr")


def test_ensure_conf_dir_leaves_an_explicit_conf_alone(tmp_path, monkeypatch):
    from lakeforge.deploy.artifacts import ensure_conf_dir

    environ = {"LAKEFORGE_CONF_DIR": str(tmp_path)}
    assert ensure_conf_dir(environ) is None
    assert environ == {"LAKEFORGE_CONF_DIR": str(tmp_path)}
    # Not imported from a zip (the repository checkout): nothing to extract.
    monkeypatch.chdir(tmp_path)
    environ = {}
    assert ensure_conf_dir(environ) is None
    assert environ == {}


def test_pyfiles_zip_is_deterministic_and_complete(tmp_path):
    first, second = tmp_path / "a.zip", tmp_path / "b.zip"
    names = build_pyfiles_zip(REPO, first)
    build_pyfiles_zip(REPO, second)
    assert first.read_bytes() == second.read_bytes()
    assert names == sorted(names)
    with zipfile.ZipFile(first) as zf:
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert zf.read("jobs/csv_to_parquet.py") == (REPO / "jobs/csv_to_parquet.py").read_bytes()


def test_pyfiles_zip_names_a_missing_package(tmp_path):
    (tmp_path / "lakeforge").mkdir()
    (tmp_path / "lakeforge" / "__init__.py").write_text("")
    with pytest.raises(MissingArtifactError, match="package 'transforms' not found"):
        build_pyfiles_zip(tmp_path, tmp_path / "out.zip")
    assert not (tmp_path / "out.zip").exists()


def test_cli_deploy_artifacts_assembles_dist_and_reports_on_stdout(tmp_path, capsys):
    from lakeforge.cli import main as cli

    wheel = tmp_path / "lakeforge-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"not really a wheel: build() only copies it")
    out = tmp_path / "dist"
    assert cli(["deploy", "artifacts", "--source", str(REPO), "--dist", str(out),
                "--wheel", str(wheel)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["manifest"] == str(out / MANIFEST)
    assert set(report["files"]) == {
        str(out / n) for n in ["lakeforge-0.1.0-py3-none-any.whl", "lakeforge_pyfiles.zip",
                               "glue_entry.py", "bootstrap.sh",
                               f"jars/{Path(splink_jar_path() or '').name}"]}
    assert report["files"][str(out / "bootstrap.sh")] == (REPO / "emr/bootstrap.sh").stat().st_size
    artifacts = load_artifacts(out)  # the manifest's digests hold
    assert artifacts.version == report["version"]
    assert "lakeforge/commands/deploy.py" in zip_members(artifacts.pyfiles)


def test_cli_deploy_artifacts_refuses_a_missing_wheel(tmp_path, capsys):
    from lakeforge.cli import main as cli

    assert cli(["deploy", "artifacts", "--source", str(REPO), "--dist", str(tmp_path / "d"),
                "--wheel", str(tmp_path / "absent.whl")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "absent.whl does not exist or is not a .whl file" in captured.err
    assert not (tmp_path / "d" / MANIFEST).exists()


@pytest.mark.slow
def test_load_artifacts_refuses_missing_or_changed_files(dist, tmp_path):
    """Slow: uses the built dist."""
    with pytest.raises(MissingArtifactError, match="bash scripts/build_artifacts.sh"):
        load_artifacts(tmp_path / "nothing")
    copy = tmp_path / "dist"
    shutil.copytree(dist, copy)
    loaded = load_artifacts(copy)
    assert loaded.version == "0.1.0" and loaded.jars[0].suffix == ".jar"
    with (copy / "lakeforge_pyfiles.zip").open("ab") as fh:
        fh.write(b"tampered")
    (copy / "bootstrap.sh").unlink()
    with pytest.raises(MissingArtifactError) as info:
        load_artifacts(copy)
    assert "lakeforge_pyfiles.zip changed after the build" in str(info.value)
    assert "bootstrap.sh is missing" in str(info.value)
    (copy / MANIFEST).write_text("{not json")
    with pytest.raises(DeployError, match="is not a valid manifest"):
        load_artifacts(copy)


def test_s3_layout_refuses_bad_locations():
    assert S3Layout.from_uri("s3://b/a/b/", "0.1.0").uri("x.zip") == "s3://b/a/b/0.1.0/x.zip"
    assert S3Layout.from_uri("s3://b", "0.1.0").key("x") == "0.1.0/x"
    for bad in ("/local/dist", "s3://b/../x", "gs://b/x"):
        with pytest.raises(DeployError):
            S3Layout.from_uri(bad, "0.1.0")


# --------------------------------------------------------------------------- entry script


def test_entry_resolves_its_options_and_passes_the_rest(entry):
    argv = ["glue_entry.py", "--JOB_NAME", "lakeforge-x", "--lakeforge_job", "csv_to_parquet",
            "--env=s3://b/conf/envs/glue.yaml", "--config", "s3://b/conf/jobs/x.yaml",
            "--job-bookmark-option", "job-bookmark-enable", "--TempDir", "s3://b/tmp",
            "--output.table", "sales_v2", "--JOB_RUN_ID", "jr_1"]
    job, forwarded = entry.job_argv(argv)
    assert job == "csv_to_parquet"
    assert forwarded == [
        "--JOB_NAME", "lakeforge-x", "--env", "s3://b/conf/envs/glue.yaml",
        "--config", "s3://b/conf/jobs/x.yaml", "--job-bookmark-option", "job-bookmark-enable",
        "--TempDir", "s3://b/tmp", "--output.table", "sales_v2", "--JOB_RUN_ID", "jr_1"]
    # Forwarded arguments are what the job contract parses: Glue's own kept aside.
    from lakeforge.job import parse_job_args

    parsed = parse_job_args(forwarded, job)
    assert parsed.job_name == "lakeforge-x"
    assert parsed.overrides == {"output.table": "sales_v2"}
    assert parsed.glue_args == {"job-bookmark-option": "job-bookmark-enable",
                                "TempDir": "s3://b/tmp", "JOB_RUN_ID": "jr_1"}


def test_entry_defaults_job_name_and_omits_absent_options(entry):
    job, forwarded = entry.job_argv(["glue_entry.py", "--lakeforge_job", "csv_to_parquet"])
    assert (job, forwarded) == ("csv_to_parquet", ["--JOB_NAME", "csv_to_parquet"])


def test_entry_fails_clearly_without_a_job_or_with_an_unknown_one(entry, capsys):
    assert importlib.util.find_spec("awsglue") is None  # the fallback parser is under test
    assert entry.main(["glue_entry.py", "--env", "local"]) == 2
    assert "missing argument(s) ['--lakeforge_job']" in capsys.readouterr().err
    assert entry.main(["glue_entry.py", "--lakeforge_job", "no_such_job"]) == 2
    err = capsys.readouterr().err
    assert "no job 'no_such_job'" in err and "csv_to_parquet" in err
    assert entry.main(["glue_entry.py", "--lakeforge_job", "os.path"]) == 2
    assert "is not a module name" in capsys.readouterr().err


@pytest.mark.slow
def test_spark_submit_runs_a_job_from_the_artifacts_alone(dist, tmp_path):
    """Slow: a real spark-submit (local mode) of the entry script with --py-files, from a
    folder holding no code and no conf: the EMR step's command, run locally."""
    lake = tmp_path / "lake"
    raw = lake / "raw" / "sales"
    raw.mkdir(parents=True)
    (raw / "part-1.csv").write_text(
        "order_id,customer_id,order_date,country,amount,quantity\n"
        "1,c1,2024-01-02,GB,10.5,1\n"
        "2,c2,2024-01-03,FR,,2\n"
        "3,,2024-01-04,GB,7.25,3\n",
        encoding="utf-8",
    )
    work = tmp_path / "work"
    work.mkdir()
    spark_submit = Path(sys.executable).with_name("spark-submit")
    proc = subprocess.run(
        [str(spark_submit), "--master", "local[1]", "--conf", "spark.ui.enabled=false",
         "--py-files", str(dist / "lakeforge_pyfiles.zip"),
         "--jars", str(next((dist / "jars").glob("*.jar"))),
         str(dist / "glue_entry.py"), "--JOB_NAME", "lf-test", "--lakeforge_job",
         "csv_to_parquet", "--env", "local",
         "--env.spark.master", "local[1]", "--log-level", "WARNING"],
        capture_output=True, text=True, cwd=work, timeout=400,
        env=_clean_env(LAKEFORGE_LAKE_ROOT=str(lake), PYSPARK_PYTHON=sys.executable,
                       PYSPARK_DRIVER_PYTHON=sys.executable, SPARK_LOCAL_IP="127.0.0.1"),
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    # PythonRunner merges the driver's stderr into spark-submit's stdout.
    ran = [x for x in proc.stdout.splitlines() if x.startswith("glue_entry: ")]
    assert ran == [f"glue_entry: running jobs.csv_to_parquet from "
                   f"{dist / 'lakeforge_pyfiles.zip'}/jobs/csv_to_parquet.py"]
    summary = json.loads(next(x for x in proc.stdout.splitlines() if x.startswith("{")))
    ledger = summary["rows"]["sales"]
    assert ledger["rows_in"] == 3 and ledger["published"] == 3 and ledger["balanced"]
    assert ledger["quarantined"] == 0
    (out,) = (lake / "curated" / "lakeforge" / "sales" / "_versions").iterdir()
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["country=FR", "country=GB"]
    import pyarrow.parquet as pq

    table = pq.read_table(out, partitioning="hive")
    assert table.num_rows == 3
    assert sorted(table.column("order_id").to_pylist()) == [1, 2, 3]
    assert table.column("customer_id").null_count == 1
