"""Reliability building blocks without a job run: fault points, the lock lease, bookmark
options and CLI, Glue bookmark arguments, SSE pass-through, zones, config secrets."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml

from lakeforge import aws
from lakeforge.bookmarks import ENABLE, PAUSE, FileEntry, JobBookmarks
from lakeforge.config import AwsSettings, EnvConfig, load_config
from lakeforge.errors import ConfigError
from lakeforge.faults import is_armed
from lakeforge.job import parse_job_args
from lakeforge.ledger import LedgerImbalanceError, RunLedger
from lakeforge.locks import JobLock, LockHeldError, LockLostError
from lakeforge.paths import Lake
from lakeforge.redact import is_secret_key
from lakeforge.session import session_conf
from lakeforge.state import LocalStateStore
from tests.jobsupport import REPO

# --------------------------------------------------------------------------- fault points


def test_fault_point_names_and_prefix_patterns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAKEFORGE_FAULT_POINT", raising=False)
    assert not is_armed("read")
    monkeypatch.setenv("LAKEFORGE_FAULT_POINT", " read , before_switch.* ")
    assert is_armed("read") and is_armed("before_switch.contacts_enriched")
    assert not is_armed("reading") and not is_armed("after_quarantine_write")
    monkeypatch.setenv("LAKEFORGE_FAULT_POINT", "")
    assert not is_armed("read")


def _python(code: str, fault: str | None, **extra: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, **extra)
    env.pop("LAKEFORGE_FAULT_POINT", None)
    if fault:
        env["LAKEFORGE_FAULT_POINT"] = fault
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=60, check=False)


def test_fault_point_sigkills_the_process_and_nothing_after_runs(tmp_path: Path) -> None:
    marker = tmp_path / "after"
    code = ("import atexit, pathlib\n"
            f"atexit.register(lambda: pathlib.Path({str(marker)!r}).write_text('atexit'))\n"
            "from lakeforge.faults import fault_point\n"
            "fault_point('other')\n"
            "try:\n    fault_point('here')\n"
            f"finally:\n    pathlib.Path({str(marker)!r}).write_text('finally')\n")
    killed = _python(code, "here")
    assert killed.returncode == -9 and "fault point here: SIGKILL" in killed.stderr
    assert not marker.exists()  # neither finally nor atexit ran
    unarmed = _python(code, None)
    assert unarmed.returncode == 0 and marker.read_text() == "atexit"


def test_arm_on_new_file_kills_while_files_are_being_written(tmp_path: Path) -> None:
    folder = tmp_path / "table" / "_versions"
    folder.mkdir(parents=True)
    (folder / "old.parquet").write_text("present before: ignored")
    code = ("import time, pathlib\n"
            "from lakeforge.faults import arm_on_new_file\n"
            f"disarm = arm_on_new_file('during_write.t', {str(folder)!r})\n"
            f"d = pathlib.Path({str(folder)!r}) / 'v1' / '_temporary' / '0'\n"
            "d.mkdir(parents=True, exist_ok=True); (d / '_SUCCESS').write_text('')\n"
            "time.sleep(0.5)\n"
            "(d / 'part-00000.parquet').write_text('x')\n"
            "time.sleep(5)\n"
            "print('survived')\n")
    killed = _python(code, "during_write.t")
    assert killed.returncode == -9 and "survived" not in killed.stdout
    assert _python(code, "during_write.other").returncode == 0


def test_fault_point_also_kills_the_spark_driver_jvm() -> None:
    """The driver JVM (PySpark's gateway process; here a stand-in child process) dies with the
    Python process, instead of living on to run its shutdown hooks or finish a job commit."""
    code = ("import subprocess, sys, types\n"
            "from pyspark.context import SparkContext\n"
            "jvm = subprocess.Popen(['sleep', '60'])\n"
            "SparkContext._gateway = types.SimpleNamespace(proc=jvm)\n"
            "print(jvm.pid, flush=True)\n"
            "from lakeforge.faults import fault_point\n"
            "fault_point('here')\n")
    killed = _python(code, "here")
    assert killed.returncode == -9, killed.stderr[-2000:]
    jvm = int(killed.stdout.split()[0])
    stat = Path(f"/proc/{jvm}/stat")
    for _ in range(50):  # dead: gone, or a zombie until init reaps it
        if not stat.exists() or stat.read_text().split(") ", 1)[1].startswith("Z"):
            break
        time.sleep(0.1)
    else:
        os.kill(jvm, 9)
        raise AssertionError(f"the stand-in JVM {jvm} outlived the fault point")


@pytest.mark.aws
def test_during_write_fault_point_watches_an_s3_prefix_on_moto(moto_endpoint: str) -> None:
    """lakeforge.faults.arm_on_new_file on s3:// (it was a no-op there): objects present when
    armed and hidden names (_SUCCESS) are ignored; the first new data object kills."""
    bucket = f"lf-watch-{uuid.uuid4().hex[:10]}"
    s3 = aws.client("s3", endpoint_url=moto_endpoint)
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="t/_versions/old/part-0.parquet", Body=b"before")
    folder = f"s3://{bucket}/t/_versions"
    code = ("import time, boto3\n"
            "from lakeforge.faults import arm_on_new_file\n"
            f"disarm = arm_on_new_file('during_write.t', {folder!r})\n"
            f"s3 = boto3.client('s3', endpoint_url={moto_endpoint!r})\n"
            f"s3.put_object(Bucket={bucket!r}, Key='t/_versions/v1/_SUCCESS', Body=b'')\n"
            "time.sleep(1)\n"
            "print('hidden ignored', flush=True)\n"
            f"s3.put_object(Bucket={bucket!r}, Key='t/_versions/v1/__magic/job/"
            "part-1.parquet.pending', Body=b'{}')\n"
            "time.sleep(3)\n"
            "print('survived', flush=True)\n")

    def run(fault: str) -> subprocess.CompletedProcess[str]:
        return _python(code, fault, LAKEFORGE_AWS_ENDPOINT_URL=moto_endpoint)

    killed = run("during_write.t")
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert "hidden ignored" in killed.stdout and "survived" not in killed.stdout
    assert "fault point during_write.t: SIGKILL" in killed.stderr
    assert run("during_write.other").returncode == 0


# --------------------------------------------------------------------------- lock lease


def test_lock_of_a_dead_process_on_this_host_is_taken_over_at_once(tmp_path: Path) -> None:
    store = LocalStateStore(tmp_path)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock = JobLock(store, "job.db", ttl_seconds=3600)
    lock.acquire()
    doc = store.get(lock.key).doc  # type: ignore[union-attr]
    # Pretend the holder was that finished process (same host, long ttl left).
    store.put(lock.key, dict(doc, pid=dead.pid, pid_started=None, owner="dead-run"),
              store.get(lock.key).version)  # type: ignore[union-attr]
    taken = JobLock(store, "job.db", ttl_seconds=60, owner="rerun").acquire()
    assert store.get(taken.key).doc["owner"] == "rerun"  # type: ignore[union-attr]
    with pytest.raises(LockLostError, match="taken over by rerun"):
        lock.verify()  # the dead run (were it alive) could not publish any more
    taken.release()


def test_second_run_fails_fast_and_peek_does_not_take(tmp_path: Path) -> None:
    store = LocalStateStore(tmp_path)
    first = JobLock(store, "job.db", ttl_seconds=60, owner="run-A").acquire()
    started = time.monotonic()
    with pytest.raises(LockHeldError, match="held by run-A"):
        JobLock(store, "job.db").peek()
    with pytest.raises(LockHeldError, match="held by run-A"):
        JobLock(store, "job.db").acquire()
    assert time.monotonic() - started < 5  # fails at once, it does not wait
    first.verify()
    first.release()
    JobLock(store, "job.db").peek()  # free now: no error
    assert store.get("locks/job.db") is None


def test_heartbeat_keeps_a_short_lease_alive(tmp_path: Path) -> None:
    store = LocalStateStore(tmp_path)
    lock = JobLock(store, "job.db", ttl_seconds=0.6, owner="long-run").acquire()
    lock.start_heartbeat(0.1)
    first_expiry = store.get(lock.key).doc["expires_at"]  # type: ignore[union-attr]
    time.sleep(1.0)  # longer than the ttl: without renewal the lease would have expired
    doc = store.get(lock.key).doc  # type: ignore[union-attr]
    assert doc["expires_at"] > first_expiry and doc["owner"] == "long-run"
    with pytest.raises(LockHeldError):
        JobLock(store, "job.db", owner="other", ttl_seconds=5).acquire()
    lock.verify()
    lock.release()
    assert store.get(lock.key) is None
    with pytest.raises(ValueError, match="ttl_seconds"):
        JobLock(store, "x", ttl_seconds=0)


# --------------------------------------------------------------------------- bookmarks


def _files(*names: str, size: int = 10) -> list[FileEntry]:
    return [FileEntry(f"/raw/contacts/{n}", size, 1000) for n in names]


def test_stage_and_rewind(tmp_path: Path) -> None:
    store = LocalStateStore(tmp_path)
    marks = JobBookmarks(store, "job")
    assert marks.document() is None
    marks.select("contacts", _files("dt=1/a.json"))
    marks.stage("contacts", _files("dt=1/a.json", "dt=1/b.json"))  # whole partition recorded
    marks.commit("run1")
    marks = JobBookmarks(store, "job")
    assert sorted(marks.processed("contacts")) == ["/raw/contacts/dt=1/a.json",
                                                   "/raw/contacts/dt=1/b.json"]
    assert [f.path for f in marks.select("contacts", _files("dt=1/a.json", "dt=2/c.json"))] \
        == ["/raw/contacts/dt=2/c.json"]
    marks.commit("run2")
    marks = JobBookmarks(store, "job")
    assert marks.rewind("run1") == 1
    assert [r["run_id"] for r in JobBookmarks(store, "job").runs()] == ["run1"]
    assert [f.path for f in JobBookmarks(store, "job").select(
        "contacts", _files("dt=1/a.json", "dt=2/c.json"))] == ["/raw/contacts/dt=2/c.json"]
    with pytest.raises(ConfigError, match="not a committed run"):
        JobBookmarks(store, "job").rewind("nope")


def test_bookmarks_cli_show_reset_and_unlock(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from lakeforge.cli import main

    store = LocalStateStore(tmp_path / "bm")
    marks = JobBookmarks(store, "customer_propensity")
    marks.select("contacts", _files("dt=1/a.json", "dt=2/b.json"))
    marks.commit("run1")
    JobLock(store, "customer_propensity.lakeforge", owner="stuck-run").acquire()
    args = ["--store", str(tmp_path / "bm")]
    assert main(["bookmarks", "show", "customer_propensity", *args]) == 0
    out = capsys.readouterr().out
    assert "contacts: 2 files processed" in out and "run1" in out and "stuck-run" in out
    assert main(["bookmarks", "show", "customer_propensity", "--json", *args]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["bookmark"]["runs"][0]["run_id"] == "run1"
    assert main(["bookmarks", "unlock", "customer_propensity", *args]) == 0
    assert "stuck-run" in capsys.readouterr().out and store.keys("locks/") == []
    assert main(["bookmarks", "reset", "customer_propensity", *args]) == 0
    assert JobBookmarks(store, "customer_propensity").document() is None
    assert main(["bookmarks", "show", "customer_propensity", *args]) == 0
    assert "no bookmark" in capsys.readouterr().out
    assert main(["bookmarks", "reset", "customer_propensity", "--to-run", "x", *args]) == 2
    # a Glue run holds its job module's lock under its Glue job's name (the lease records it):
    # the bookmark's name (the Glue job's) finds it too
    JobLock(store, "customer_propensity.lakeforge", owner="glue-run",
            run_name="lakeforge-customer-propensity").acquire()
    JobLock(store, "other_job.lakeforge", owner="other-run").acquire()
    assert main(["bookmarks", "show", "lakeforge-customer-propensity", *args]) == 0
    assert "glue-run" in capsys.readouterr().out
    assert main(["bookmarks", "unlock", "lakeforge-customer-propensity", *args]) == 0
    assert "glue-run" in capsys.readouterr().out
    assert store.keys("locks/") == ["locks/other_job.lakeforge"]


def test_glue_bookmark_arguments_reach_the_job_config() -> None:
    from jobs.customer_propensity import CustomerPropensityConfig
    from lakeforge.lifecycle import validate_job_config

    glue_bookmark = ["--job-bookmark-option", "job-bookmark-pause", "--job-bookmark-from", "r1",
                     "--job-bookmark-to", "r2"]
    args = parse_job_args(["--JOB_NAME", "customer_propensity", *glue_bookmark],
                          "customer_propensity")
    # All three are Glue's own arguments: kept aside (the job lets them win over its config),
    # never config overrides - so a job without bookmark settings accepts them too.
    assert args.glue_args == {"job-bookmark-option": PAUSE, "job-bookmark-from": "r1",
                              "job-bookmark-to": "r2"}
    assert args.overrides == {}
    from jobs.csv_to_parquet import CsvToParquetConfig

    plain = parse_job_args(["--JOB_NAME", "csv_to_parquet", *glue_bookmark], "csv_to_parquet")
    assert load_config(CsvToParquetConfig, plain.config, plain.overrides).outputs
    # The job's own config keys still reach the config.
    args = parse_job_args(["--run.job_bookmark_from", "r1", "--run.job_bookmark_to", "r2"],
                          "customer_propensity")
    cfg = load_config(CustomerPropensityConfig, args.config, args.overrides)
    assert (cfg.run.job_bookmark_from, cfg.run.job_bookmark_to) == ("r1", "r2")
    with pytest.raises(ConfigError, match="job-bookmark-pause"):
        JobBookmarks(LocalStateStore("/nonexistent"), "j", option=ENABLE, from_run="r1")
    bad = parse_job_args(["--run.bookmark_option", "job-bookmark-sometimes"],
                         "customer_propensity")
    cfg = load_config(CustomerPropensityConfig, bad.config, bad.overrides)
    with pytest.raises(ConfigError, match="run.bookmark_option"):
        validate_job_config(cfg, bad.config_source)


def test_ledger_that_does_not_balance_fails() -> None:
    ledger = RunLedger("lakeforge.contacts_enriched", rows_in=10, published=8, quarantined=1)
    ledger.remove("no indicators for the contact's month", 0)
    with pytest.raises(LedgerImbalanceError, match="difference 1"):
        ledger.check()
    ledger.remove("duplicate contact_id in a partition (first line kept)", 1)
    ledger.check()


# --------------------------------------------------------------------------- security


def _env(kind: str, sse: str, kms: str | None = None) -> EnvConfig:
    from lakeforge.config import LakeSettings, SparkSettings

    return EnvConfig(name=kind, kind=kind,  # type: ignore[arg-type]
                     spark=SparkSettings(metastore="glue", splink_jar=False),
                     lake=LakeSettings(root="s3://bucket/lake"),
                     aws=AwsSettings(region="eu-west-1", sse=sse,  # type: ignore[arg-type]
                                     kms_key_id=kms), source=f"{kind}.yaml")


def test_sse_settings_pass_through_to_emrfs() -> None:
    lake = Lake.from_settings("s3://bucket/lake", allow_env_override=False)
    kms = session_conf(_env("emr", "SSE-KMS", "arn:aws:kms:eu-west-1:1:key/abc"), lake)
    assert kms["spark.hadoop.fs.s3.enableServerSideEncryption"] == "true"
    assert kms["spark.hadoop.fs.s3.serverSideEncryption.kms.keyId"] == \
        "arn:aws:kms:eu-west-1:1:key/abc"
    s3 = session_conf(_env("glue", "SSE-S3"), lake)
    assert s3["spark.hadoop.fs.s3.enableServerSideEncryption"] == "true"
    assert "spark.hadoop.fs.s3.serverSideEncryption.kms.keyId" not in s3
    none = session_conf(_env("emr", "none"), lake)
    assert not any("ServerSideEncryption" in k for k in none)
    with pytest.raises(ConfigError, match="SSE-KMS needs aws.kms_key_id"):
        session_conf(_env("emr", "SSE-KMS"), lake)


def test_writes_outside_the_zones_are_refused(tmp_path: Path) -> None:
    lake = Lake.from_settings(str(tmp_path / "lake"), allow_env_override=False)
    assert lake.require_inside(lake.path("curated", "db", "t")) == lake.path("curated", "db", "t")
    for outside in (str(tmp_path / "elsewhere"), f"{lake.zone('curated')}/../../x",
                    "s3://other-bucket/x", "/etc/passwd"):
        with pytest.raises(ConfigError, match="outside the lake's zones"):
            lake.require_inside(outside, "publish")
    for bad in ("../x", "a/../../b", ".."):
        with pytest.raises(ConfigError):
            lake.path("quarantine", bad)
    with pytest.raises(ConfigError):
        lake.table_uri("curated", "t", "../../etc")
    with pytest.raises(ConfigError, match="unknown lake zone"):
        lake.path("tmp", "x")


def test_publish_refuses_a_table_outside_the_zones(spark: object, tmp_path: Path) -> None:
    from lakeforge.catalog.spark_sql import SparkSqlCatalog
    from lakeforge.publish import publish_partitioned

    df = spark.createDataFrame([("a", 1), (None, 2)], "k string, v int")  # type: ignore
    lake = Lake.from_settings(str(tmp_path / "lake"), allow_env_override=False)
    catalog = SparkSqlCatalog(spark)
    for kwargs in ({"database": "../../etc", "table": "t"}, {"database": "db", "table": "../t"},
                   {"database": "db", "table": "t", "zone": "tmp"}):
        with pytest.raises(ConfigError):
            publish_partitioned(df, partition_by=[], catalog=catalog, lake=lake,
                                **kwargs)  # type: ignore[arg-type]
    assert not (tmp_path / "etc").exists() and not (tmp_path / "lake").exists() or not any(
        (tmp_path / "lake").rglob("*.parquet"))


_AWS_KEY = re.compile(r"(?:AKIA|ASIA)[A-Z0-9]{16}")


def _walk(node: object, key: str = ""):  # type: ignore[no-untyped-def]
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _walk(v, f"{key}.{k}" if key else str(k))
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v, key)
    else:
        yield key, node


def test_no_secret_in_config_files() -> None:
    """Secrets come from the environment or a secrets manager, never from conf/."""
    files = sorted((REPO / "conf").rglob("*.yaml"))
    assert len(files) >= 5
    offending = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        if _AWS_KEY.search(text):
            offending.append(f"{path}: AWS access key id")
        for key, value in _walk(yaml.safe_load(text) or {}):
            leaf = key.rsplit(".", 1)[-1]
            if is_secret_key(leaf) and value not in (None, "") and not str(value).startswith(
                    ("${", "env:", "secretsmanager:", "ssm:")):
                offending.append(f"{path}: {key}")
    assert offending == []


# --------------------------------------------------------------------------- session


def test_spark_jars_packages_is_optional_on_clusters_and_passed_to_ivy_locally(
        caplog: pytest.LogCaptureFixture) -> None:
    lake = Lake.from_settings("s3://bucket/lake", allow_env_override=False)
    packages = {"spark.jars.packages": "com.amazon.deequ:deequ:2.0.7-spark-3.5"}
    with caplog.at_level(logging.WARNING, logger="lakeforge.session"):
        conf = session_conf(_env("emr", "none"), lake, extra_conf=packages)
    assert conf["spark.jars.packages"] == packages["spark.jars.packages"]
    assert "only when given to spark-submit" in caplog.text
    # Spark's Ivy resolves it from Maven Central at startup (lakeforge.session's docstring).
    # A local session on an s3:// lake needs the s3a jar set (tests/lakeforge/
    # test_session_s3a.py): the local case uses a folder lake.
    folder = Lake.from_settings("/tmp/lakeforge-units-lake", allow_env_override=False)
    with caplog.at_level(logging.INFO, logger="lakeforge.session"):
        local = session_conf(_env("local", "none"), folder, extra_conf=packages)
    assert local["spark.jars.packages"] == packages["spark.jars.packages"]
    assert "resolved by Spark's Ivy at startup" in caplog.text
