"""Reliability of the main job (issue 9), end to end in subprocesses on tiny data.

One reference lake gets a single clean run over every partition: in this process, on the
test session's Spark and in a background thread (it is about output equality, not about process
death, so it needs no JVM of its own; the thread overlaps it with the subprocess runs below). A
second lake goes through the life of a production job, run by run in subprocesses, and each test
below asserts on what one step did:

1. first run over the base partitions (publishes);
2. rerun: nothing new, every output byte-identical;
3. a partition whose column changed type: the run fails before writing anything (this run
   also has a secret in its env, which must not appear in its logs or summary);
4. new partitions (good and bad input) arrive; the run is SIGKILLed at
   ``after_quarantine_write`` and ``before_bookmark_commit`` (published, bookmark not
   advanced: the rerun must replay the same partitions without a duplicate); between kills
   the previous version stays readable. With ``LAKEFORGE_TESTS_FULL=1`` also at
   ``read`` (before anything is written, the point the others imply),
   ``during_write.contacts_enriched`` and ``before_switch.contacts_enriched``. Those two are
   left out of ``make test`` for time (a killed run here costs 1.5-2 minutes; the suite has to
   stay under an hour on a 2-core machine): tests/jobs/test_reliability_s3.py kills the same
   job at both points on S3, where the write is multipart uploads, and
   tests/lakeforge/test_publish.py kills the local-folder publish between its data write and
   its switch;
5. the final rerun completes while a second run is started next to it (which fails fast);
   its outputs equal the reference run's, with no lost or duplicated row.

The bad inputs are in both lakes, so the reference run also yields the table of what happened
to each kind of bad input (docs/reliability.md).
"""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from lakeforge.localquery import query_table
from lakeforge.paths import Lake
from lakeforge.sample_data import add_contact_days, write_bank_marketing
from tests.jobsupport import FULL_TESTS, REPO, failure_text, finish, job_env, rounded

pytestmark = pytest.mark.slow

DB = "lakeforge"
# The reference run registers its tables in the test session's metastore: its own database
# names keep it apart from every other module's tables.
REF_DB = "reliability_ref"
TABLES = ("customers_golden", "customer_matches", "contacts_enriched")
ORDER = {"customers_golden": "golden_customer_id", "customer_matches": "customer_id",
         "contacts_enriched": "contact_id"}
JOB_ARGS = ["--dedup.max_em_iterations", "2", "--run.max_bad_row_fraction", "0.1"]
KILL_POINTS = (("read",) if FULL_TESTS else ()) + ("after_quarantine_write",) + (
    ("during_write.contacts_enriched", "before_switch.contacts_enriched") if FULL_TESTS
    else ()) + ("before_bookmark_commit",)
ESCAPING_DT = "2024-05-06/../../escape"


# --------------------------------------------------------------------------- inputs


def _contact(cid: str, customer: str, day: str, **over: Any) -> dict[str, Any]:
    row = {"contact_id": cid, "customer_id": customer, "contact_date": day, "month": "may",
           "day_of_week": "mon", "duration": 120, "campaign": 2, "pdays": 999, "previous": 0,
           "poutcome": "nonexistent", "y": "no"}
    row.update(over)
    return row


def write_base(root: Path) -> None:
    """The sample lake (100 customers, 3 days) plus a customers file of bad CSV lines, an
    empty and a header-only customers file."""
    write_bank_marketing(root, customers=100, days=3)
    folder = root / "raw" / "customers"
    header = ("customer_id,first_name,last_name,date_of_birth,email,phone,postcode,job,"
              "marital,education,default,housing,loan,fax_number")
    good = "K900001,ada,lovelace,1985-12-10,ada@example.com,07123456789,AB1 2CD,admin.," \
           "single,university.degree,no,yes,no,"
    lines = [
        header,
        good,
        good.replace("K900001", "K900002") + ",surplus",                 # unexpected column
        "K900003,grace,hopper,1980-01-02",                                # missing fields
        good.replace("K900001", "K900004").replace("1985-12-10", "1985-13-45"),  # bad date
        good.replace("K900001", ""),                                      # missing key
    ]
    body = "\n".join(lines).encode() + b"\n"
    body += good.replace("K900001", "K900005").replace("ada", "ad\xe9").encode("latin-1") + b"\n"
    (folder / "customers-zz-bad.csv").write_bytes(body)
    (folder / "customers-zz-empty.csv").write_bytes(b"")
    (folder / "customers-zz-header-only.csv").write_text(header + "\n", encoding="utf-8")


def write_late(root: Path) -> None:
    """Two late days of good contacts, bad JSON lines in the first, an empty and a corrupt
    gzip object in the second, and a partition whose value holds '/' and '..'."""
    add_contact_days(root, first_day=date(2024, 5, 4), days=2, per_day=60)
    contacts = root / "raw" / "contacts"
    d4 = contacts / "dt=2024-05-04"
    first_good = (d4 / "part-00000.json").read_text(encoding="utf-8").splitlines()[0]
    rows = [
        '{"contact_id": "B1", "customer_id": ',                                    # truncated
        "[1, 2, 3]",                                                                # not object
        json.dumps(_contact("B3", "K100001", "2024-05-04", duration="abc")),       # wrong type
        json.dumps(_contact("B4", "K100002", "2024-05-04", campaign=1.5)),         # fraction
        json.dumps({k: v for k, v in _contact("B5", "K100003", "2024-05-04").items()
                    if k != "contact_id"}),                                          # no key
        json.dumps(_contact("B6", "K0000000", "2024-05-04")),                      # orphan
        first_good,                                                                  # replayed
        json.dumps(_contact("B8", "K100004", "2024-05-04", campaign_source="web")),  # new col
        "",                                                                          # blank
        json.dumps(_contact("B9", "K100005", "2024-05-04", duration=-5)),          # rule
    ]
    body = ("\n".join(rows) + "\n").encode()
    body += json.dumps(_contact("B10", "K100006", "2024-05-04")).replace(
        "nonexistent", "non\u00e9xistent").encode("latin-1", errors="replace") + b"\n"
    (d4 / "part-00001.json").write_bytes(body)
    d5 = contacts / "dt=2024-05-05"
    (d5 / "part-00001.json").write_bytes(b"")
    (d5 / "part-00002.json.gz").write_bytes(b"this is not gzip data")
    esc = contacts / "dt=2024-05-06%2F..%2F..%2Fescape"
    esc.mkdir(parents=True)
    (esc / "part-00000.json").write_text("".join(
        json.dumps(_contact(f"E{i}", f"K10001{i}", "2024-05-06")) + "\n" for i in range(3)),
        encoding="utf-8")


def write_incompatible(root: Path) -> Path:
    folder = root / "raw" / "contacts" / "dt=2024-05-09"
    folder.mkdir(parents=True)
    (folder / "part-00000.json").write_text("".join(
        json.dumps(_contact(f"D{i}", "K100001", "2024-05-09", duration=f"{i}m20s")) + "\n"
        for i in range(3)), encoding="utf-8")
    return folder


# --------------------------------------------------------------------------- running


def small_env(root: Path) -> Path:
    """conf/envs/local.yaml sized like the test session (tests/conftest.py): local[2], 2 shuffle
    partitions (tiny data, fewer tasks per stage), a 2g driver."""
    import yaml

    path = root.parent / f"{root.name}-env.yaml"
    if not path.exists():
        env = yaml.safe_load((REPO / "conf" / "envs" / "local.yaml").read_text(encoding="utf-8"))
        env.setdefault("spark", {}).update({"master": "local[2]", "driver_memory": "2g"})
        env["spark"].setdefault("conf", {}).update(
            {"spark.sql.shuffle.partitions": "2", "spark.default.parallelism": "2"})
        path.write_text(yaml.safe_dump(env), encoding="utf-8")
    return path


SECRET = "TOPSECRET-9f3a7c"


def secret_env(root: Path) -> Path:
    """The small env plus a secret in spark.conf and in a URI (must never be printed)."""
    import yaml

    env = yaml.safe_load(small_env(root).read_text(encoding="utf-8"))
    env["spark"]["conf"]["spark.hadoop.fs.s3a.secret.key"] = SECRET
    env["aws"] = {"endpoint_url": f"http://user:{SECRET}@127.0.0.1:1"}
    path = root.parent / f"{root.name}-secret-env.yaml"
    path.write_text(yaml.safe_dump(env), encoding="utf-8")
    return path


def start_job(root: Path, fault: str | None = None, extra: list[str] | None = None
              ) -> subprocess.Popen[str]:
    extra = extra or ["--env", str(small_env(root))]
    env = job_env(root)
    env.pop("LAKEFORGE_FAULT_POINT", None)
    if fault:
        env["LAKEFORGE_FAULT_POINT"] = fault
    return subprocess.Popen(
        [sys.executable, "-m", "jobs.customer_propensity", *JOB_ARGS, *extra],
        env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)


def run_job_once(root: Path, fault: str | None = None, extra: list[str] | None = None
                 ) -> tuple[int, str, str]:
    return finish(start_job(root, fault, extra))


def summary_of(stdout: str) -> dict[str, Any]:
    for line in reversed(stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)  # type: ignore[no-any-return]
    raise AssertionError(f"no run summary on stdout: {stdout[-2000:]}")


def tree_hashes(root: Path, zones: tuple[str, ...] = ("curated", "features", "quarantine")
                ) -> dict[str, str]:
    out = {}
    for zone in zones:
        for p in sorted((root / zone).rglob("*")):
            if p.is_file():
                out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def table_rows(root: Path, table: str, db: str = DB) -> list[tuple[Any, ...]]:
    lake = Lake.from_settings(str(root), allow_env_override=False)
    return query_table(lake, db, table, f"SELECT * FROM t ORDER BY {ORDER[table]}")


def feature_rows(root: Path) -> dict[str, list[tuple[Any, ...]]]:
    """The SageMaker Parquet splits the features step published: the channels manifest.json
    names, as a training job takes them."""
    import pyarrow.dataset as ds

    manifest = json.loads((root / "features" / "propensity" / "manifest.json").read_text())
    out = {}
    for split in ("train", "validation", "test"):
        table = ds.dataset(manifest["files"][f"{split}_parquet"], format="parquet").to_table()
        rows = [tuple(json.dumps(rounded(v), sort_keys=True) for v in r.values())
                for r in table.to_pylist()]
        out[split] = sorted(rows)
    return out


def quarantine_rows(root: Path, db: str = DB) -> list[tuple[Any, ...]]:
    """Every quarantined record of every run, in the one quarantine schema: (table, file,
    line, partition, reason, record); the quality gate's rows have no file or line."""
    rows: list[tuple[Any, ...]] = []
    for table in ("customers", "contacts", "indicators", "contacts_enriched"):
        for path in sorted((root / "quarantine" / db / table).rglob("*.json")):
            for line in path.read_text(encoding="utf-8").splitlines():
                rec = json.loads(line)
                src = str(rec.get("source_file") or "").replace(str(root), "<lake>")
                rows.append((table, src, rec.get("line"), rec.get("partition"),
                             rec.get("reason"), rec.get("record")))
    return sorted(rows, key=lambda r: json.dumps(r, default=str))


def _lock_holder_pid(lock_file: Path) -> int | None:
    try:
        return int(json.loads(lock_file.read_text(encoding="utf-8"))["doc"]["pid"])
    except (OSError, ValueError, KeyError):
        return None


# --------------------------------------------------------------------------- the two lakes


@pytest.fixture(scope="module")
def reference(spark: Any, tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[dict[str, Any]]:
    """One clean run over every partition (base + late), started in a background thread of
    this process on the test session's Spark; ``result()`` waits for it."""
    from jobs import customer_propensity

    root = tmp_path_factory.mktemp("reference")
    write_base(root)
    write_late(root)
    holder: dict[str, Any] = {"root": root}
    mp = pytest.MonkeyPatch()
    mp.setenv("LAKEFORGE_LAKE_ROOT", str(root))  # the subprocesses get theirs from job_env
    mp.delenv("LAKEFORGE_FAULT_POINT", raising=False)
    argv = [*JOB_ARGS, "--env", str(small_env(root)), "--database", REF_DB,
            "--raw_database", f"{REF_DB}_raw"]

    def body() -> None:
        # SparkSession.getActiveSession is per JVM thread: make the session's the active one
        # in this thread too, so that the job reuses it (and does not stop it).
        try:
            spark._jvm.SparkSession.setActiveSession(spark._jsparkSession)
            holder["rc"] = customer_propensity.main(argv)
        except BaseException as exc:  # re-raised by result() in the test that needs it
            holder["error"] = exc

    thread = threading.Thread(target=body, name="reliability-reference", daemon=True)
    thread.start()

    def result() -> dict[str, Any]:
        thread.join()
        if "error" in holder:
            raise holder["error"]
        assert holder["rc"] == 0
        if "summary" not in holder:
            runs = sorted((root / "metadata" / "runs").glob("*/run_summary.json"))
            assert len(runs) == 1, runs
            holder["summary"] = json.loads(runs[0].read_text(encoding="utf-8"))
            assert holder["summary"]["status"] == "published", holder["summary"]["status"]
        return holder

    holder["result"] = result
    try:
        yield holder
    finally:
        thread.join()
        mp.undo()


@pytest.fixture(scope="module")
def life(tmp_path_factory: pytest.TempPathFactory, reference: dict[str, Any]
         ) -> dict[str, Any]:
    """The production lake, run by run; every observation is recorded for the tests."""
    root = tmp_path_factory.mktemp("life")
    seen: dict[str, Any] = {"root": root}
    write_base(root)
    started = time.monotonic()

    rc, out, err = run_job_once(root)
    assert rc == 0, failure_text(err)
    seen["first"] = summary_of(out)
    seen["after_first"] = {t: table_rows(root, t) for t in TABLES}
    hashes = tree_hashes(root)

    rc, out, err = run_job_once(root)
    seen["rerun"] = (rc, summary_of(out), hashes, tree_hashes(root))

    bad = write_incompatible(root)
    rc, out, err = run_job_once(root, extra=["--env", str(secret_env(root))])
    seen["incompatible"] = (rc, err, hashes, tree_hashes(root))
    seen["incompatible_output"] = (out, err, sorted((root / "metadata" / "runs").rglob(
        "run_summary.json")))
    for f in bad.iterdir():
        f.unlink()
    bad.rmdir()

    write_late(root)
    seen["kills"] = []
    for point in KILL_POINTS:
        rc, out, err = run_job_once(root, fault=point)
        readable = {t: table_rows(root, t) for t in TABLES}
        seen["kills"].append((point, rc, err, readable))

    final = start_job(root)
    # The killed runs left their lock behind; wait until the final run has taken it over.
    lock_file = root / "bookmarks" / "locks" / f"customer_propensity.{DB}.json"
    while final.poll() is None and _lock_holder_pid(lock_file) != final.pid:
        time.sleep(0.2)
    second = run_job_once(root)
    rc, out, err = finish(final)
    assert rc == 0, failure_text(err)
    seen["second"] = second
    seen["final"] = summary_of(out)
    seen["seconds"] = round(time.monotonic() - started, 1)
    return seen


# --------------------------------------------------------------------------- the tests


def test_rerun_of_finished_job_publishes_nothing_and_outputs_are_byte_identical(
        life: dict[str, Any]) -> None:
    """slow: two job runs in subprocesses."""
    rc, summary, before, after = life["rerun"]
    assert rc == 0
    assert summary["status"].startswith("nothing new")
    assert summary["new_files"] == {"contacts": 0, "customers": 0, "indicators": 0}
    assert len(before) > 20 and before == after


def test_incompatible_type_change_fails_before_anything_is_written(
        life: dict[str, Any]) -> None:
    """slow: a job run in a subprocess."""
    rc, err, before, after = life["incompatible"]
    assert rc == 2
    assert "schema drift" in err and "column duration is bigint in the table but string" in err
    assert "partition dt=2024-05-09" in err and "0m20s" in err
    assert before == after  # curated, features and quarantine untouched


def test_sigkill_at_each_point_keeps_the_previous_version_readable(
        life: dict[str, Any]) -> None:
    """slow: two (five with LAKEFORGE_TESTS_FULL=1) killed job runs in
    subprocesses."""
    assert [k[0] for k in life["kills"]] == list(KILL_POINTS)
    for point, rc, err, readable in life["kills"]:
        assert rc == -signal.SIGKILL, (point, err[-3000:])
        assert f"fault point {point}: SIGKILL" in err
        if point == "before_bookmark_commit":
            # published, bookmark not advanced: the rerun reprocesses the same partitions
            continue
        assert readable["contacts_enriched"] == life["after_first"]["contacts_enriched"], point


def test_after_kills_the_rerun_equals_a_clean_full_run(life: dict[str, Any],
                                                        reference: dict[str, Any]) -> None:
    """slow: compares the killed-and-rerun lake with the reference run."""
    ref = reference["result"]()
    final = life["final"]
    assert final["status"] == "published" and final["mode"] == "incremental"
    assert final["reprocessed_partitions"] == [
        "dt=2024-05-04", "dt=2024-05-05", f"dt={ESCAPING_DT}"]
    for table in TABLES:
        got, want = table_rows(life["root"], table), table_rows(ref["root"], table, REF_DB)
        assert got == want, table
    ids = [r[0] for r in table_rows(life["root"], "contacts_enriched")]
    assert len(ids) == len(set(ids))  # no duplicated contact
    assert feature_rows(life["root"]) == feature_rows(ref["root"])
    assert quarantine_rows(life["root"]) == quarantine_rows(ref["root"], REF_DB)
    assert final["rows"]["contacts"]["balanced"] and final["rows"]["customers"]["balanced"]


def test_second_concurrent_run_fails_fast(life: dict[str, Any]) -> None:
    """slow: part of the final run of the life-cycle fixture."""
    rc, out, err = life["second"]
    assert rc == 2
    assert "lock customer_propensity.lakeforge is held by" in err
    assert "Traceback" not in err


def test_partition_value_cannot_escape_its_table_folder(reference: dict[str, Any]) -> None:
    """slow: reads the reference run's output."""
    root = reference["result"]()["root"]
    table_dir = root / "curated" / REF_DB / "contacts_enriched"
    folders = [p for p in table_dir.rglob("dt=*") if p.is_dir()]
    assert any("%2F..%2F..%2Fescape" in p.name for p in folders)
    assert all(p.resolve().is_relative_to(table_dir.resolve()) for p in folders)
    assert not (root / "curated" / "escape").exists() and not (root / "escape").exists()
    rows = query_table(Lake.from_settings(str(root), allow_env_override=False), REF_DB,
                       "contacts_enriched", "SELECT contact_id FROM t WHERE contact_id "
                       "LIKE 'E%' ORDER BY 1")
    assert rows == [("E0",), ("E1",), ("E2",)]


def test_secrets_are_redacted_in_logs_and_in_the_run_summary(life: dict[str, Any]) -> None:
    """slow: the schema-drift run of the life-cycle fixture ran with a secret in its env."""
    out, err, summaries = life["incompatible_output"]
    failed = [json.loads(p.read_text(encoding="utf-8")) for p in summaries]
    failed = [s for s in failed if s["status"].startswith("failed: schema drift")]
    assert len(failed) == 1
    conf = failed[0]["env_config"]["spark"]["conf"]
    assert conf["spark.hadoop.fs.s3a.secret.key"] == "***"
    assert failed[0]["env_config"]["aws"]["endpoint_url"] == "http://user:***@127.0.0.1:1"
    assert "spark.hadoop.fs.s3a.secret.key" in err  # the env config was logged, masked
    for text in (out, err, *(p.read_text(encoding="utf-8") for p in summaries)):
        assert SECRET not in text
