"""Faults on S3 (issue 15 item 5): the main job with its whole lake on s3:// (moto over HTTPS
with SSE-KMS, ``lakeforge run customer_propensity --env <local_s3 + SSE-KMS>`` in subprocesses)
is SIGKILLed during the data write, before the catalog switch and before the bookmark commit,
then rerun. (The same item's preflight - an unreachable endpoint or a missing bucket fails in
one line before Spark starts - is tested in tests/lakeforge/test_session_s3a.py and
tests/lakeforge/test_io_s3.py.)

Four job runs on one S3 lake, each kill point with its own killed run, the last run the rerun:

1. base data (2 days); killed at ``before_bookmark_commit``: every table is switched to a new,
   complete version and the run summary is written, but the bookmark is not committed (no
   version existed before, so this one is the "previous version" of the next two kills);
2. a late day arrives; killed at ``during_write.*``: the first table's data is uploaded through
   S3A's magic committer (multipart uploads, ``__magic`` markers) but the job commit never runs;
3. killed at ``before_switch.*``: every table is staged as a complete version, none switched;
4. the rerun completes (it reprocesses everything: no bookmark was ever committed).

After each kill the catalog (the embedded Derby metastore of the runs, read over JDBC, and the
Athena DDL next to the data) points at complete versions only, and after kills 2 and 3 those
are run 1's, with run 1's rows. After the rerun every table's rows equal, as a multiset, those
of one clean run over the same raw data, and so do the feature splits (floats to 9 significant
digits, tests/jobsupport.py ``rounded``) (a local-folder lake, in this process on the test
session, in a background thread that overlaps the S3 runs), no contact id twice, and the killed
runs' versions are unreferenced and marked superseded.

The same lake is the suite's whole-run-on-S3 check: its raw zone is written by
``scripts/generate_sample_data.py --env <the S3 env>`` (the reference lake by the same generator
and seed on a folder), S3A sends SSE-KMS over HTTPS only, so moto serves HTTPS here (a private
CA: ``AWS_CA_BUNDLE`` for boto3 and pyarrow, a JVM trust store for the runs); after the rerun
every zone is S3 objects, every object (raw, curated, features, quarantine, state, metadata,
the killed runs' leftovers) carries SSE-KMS with the env's key, and the rerun's row ledgers
equal the clean folder run's.

What moto cannot do, and so is not exercised here: Glue crawlers, Glue jobs and EMR steps do
not run on moto; the crawl is Lakeforge's own crawler listing S3 through the S3 API, and Spark
reads and writes through S3A against moto's S3.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from lakeforge import aws, io
from lakeforge.bookmarks import JobBookmarks
from lakeforge.config import load_env
from lakeforge.dev_s3 import LocalS3Server, jvm_trust_options, local_s3_env_file
from lakeforge.localquery import current_locations
from lakeforge.paths import Lake
from lakeforge.publish import SUPERSEDED_MARKER, VERSIONS_DIR, version_of
from lakeforge.sample_data import add_contact_days, write_bank_marketing
from lakeforge.state import store_for
from tests.jobsupport import MOTO_CREDENTIALS, REPO, finish, job_env, rounded

DB = "s3fault"
REF_DB = "s3fault_ref"
TABLES = ("customers_golden", "customer_matches", "contacts_enriched")
JOB_ARGS = ["--dedup.max_em_iterations", "2"]
DATA = {"customers": 60, "days": 2, "seed": 23}
LATE_DAY, LATE_ROWS = date(2024, 5, 3), 40  # one late day of contacts
KILLS = ("before_bookmark_commit", "during_write.*", "before_switch.*")
SMALL_SPARK = {"master": "local[2]", "driver_memory": "2g",
               "conf": {"spark.sql.shuffle.partitions": "2", "spark.default.parallelism": "2"}}


# --------------------------------------------------------------------------- reading a lake


def _fs_path(uri: str) -> tuple[Any, str]:
    """pyarrow file system and path of a local or s3:// location."""
    import pyarrow.fs as pafs

    if uri.startswith(("s3://", "s3a://")):
        return aws.arrow_s3_filesystem(), uri.split("://", 1)[1]
    return pafs.LocalFileSystem(), uri.removeprefix("file:")


def _rows_at(location: str, table_uri: str) -> list[str]:
    """The rows of one current location (a partition folder or an unpartitioned version), each
    as a JSON object with the partition values taken from the folder names, floats rounded."""
    import pyarrow.dataset as ds

    fs, path = _fs_path(location)
    rel = location[len(table_uri):].strip("/").split("/")[2:]  # after _versions/<version>
    parts = {k: unquote(v) for k, _, v in (seg.partition("=") for seg in rel)}
    table = ds.dataset(path, filesystem=fs, format="parquet").to_table()
    return [json.dumps(rounded({**r, **parts}), sort_keys=True, default=str)
            for r in table.to_pylist()]


def published(lake: Lake, db: str, table: str) -> dict[str, Any]:
    """What a reader of the Athena DDL sees: the locations and their rows (a multiset)."""
    locations, _ = current_locations(lake, db, table)
    table_uri = lake.table_uri("curated", table, db)
    rows: Counter[str] = Counter()
    for loc in locations:
        rows.update(_rows_at(loc, table_uri))
    return {"locations": sorted(locations), "rows": rows}


def feature_rows(lake: Lake) -> dict[str, Counter[str]]:
    """The SageMaker splits the features step published (Parquet; the channels manifest.json
    names, as a training job takes them), per split as a row multiset."""
    import pyarrow.dataset as ds

    manifest = json.loads(io.read_text(lake.path("features", "propensity", "manifest.json")))
    out = {}
    for split in ("train", "validation", "test"):
        fs, path = _fs_path(manifest["files"][f"{split}_parquet"])
        table = ds.dataset(path, filesystem=fs, format="parquet").to_table()
        out[split] = Counter(json.dumps(rounded(r), sort_keys=True, default=str)
                             for r in table.to_pylist())
    return out


def derby_locations(spark: Any, metastore_dir: Path, db: str, table: str) -> list[str]:
    """The table's location and its partitions' locations in the runs' Derby metastore, read
    over JDBC in the test session's JVM (the runs are dead; the database is shut down after, so
    the next run can boot it)."""
    jvm = spark.sparkContext._jvm
    url = f"jdbc:derby:;databaseName={metastore_dir / 'metastore_db'}"
    conn = jvm.java.sql.DriverManager.getConnection(url)
    out = []
    try:
        for sql in ("SELECT s.LOCATION FROM TBLS t JOIN DBS d ON t.DB_ID = d.DB_ID "
                    "JOIN SDS s ON t.SD_ID = s.SD_ID WHERE d.NAME = ? AND t.TBL_NAME = ?",
                    "SELECT s.LOCATION FROM PARTITIONS p JOIN TBLS t ON p.TBL_ID = t.TBL_ID "
                    "JOIN DBS d ON t.DB_ID = d.DB_ID JOIN SDS s ON p.SD_ID = s.SD_ID "
                    "WHERE d.NAME = ? AND t.TBL_NAME = ?"):
            ps = conn.prepareStatement(sql)
            ps.setString(1, db)
            ps.setString(2, table)
            rs = ps.executeQuery()
            while rs.next():
                out.append(str(rs.getString(1)))
            ps.close()
    finally:
        conn.close()
        try:
            jvm.java.sql.DriverManager.getConnection(f"{url};shutdown=true")
        except Exception as exc:  # Derby reports a clean shutdown as SQLState 08006
            if "08006" not in str(exc):
                raise
    return out


def catalog_state(spark: Any, lake: Lake, metastore_dir: Path) -> dict[str, Any]:
    """Per table: the versions the Derby catalog and the Athena DDL reference, whether each is
    complete (its job commit wrote _SUCCESS), the rows readers see, every version folder."""
    state = {}
    for table in TABLES:
        table_uri = lake.table_uri("curated", table, DB)
        derby = derby_locations(spark, metastore_dir, DB, table)
        seen = published(lake, DB, table)
        referenced = {version_of(loc, table_uri) for loc in seen["locations"]}
        state[table] = {
            "derby_versions": {version_of(loc, table_uri) for loc in derby} - {None},
            "ddl_versions": referenced,
            "complete": {v: io.uri_exists(f"{table_uri}/{VERSIONS_DIR}/{v}/_SUCCESS")
                         for v in referenced if v},
            "rows": seen["rows"],
            "folders": io.list_subdirs(f"{table_uri}/{VERSIONS_DIR}"),
        }
        state[table]["unfinished"] = {  # version folders whose job commit never ran
            v for v in state[table]["folders"]
            if not io.uri_exists(f"{table_uri}/{VERSIONS_DIR}/{v}/_SUCCESS")}
    return state


def summaries(lake: Lake) -> list[dict[str, Any]]:
    return [json.loads(io.read_text(uri)) for uri in io.list_files(lake.zone("metadata") + "/runs")
            if uri.endswith("/run_summary.json")]


# --------------------------------------------------------------------------- the lakes


@pytest.fixture(scope="module")
def tls_s3() -> Iterator[LocalS3Server]:
    """A moto server of this module's own over HTTPS (S3A sends SSE-KMS requests over HTTPS
    only), trusted by boto3 and pyarrow (``AWS_CA_BUNDLE``) in this process and its children;
    the job runs' JVMs get its trust store (``_run``)."""
    from lakeforge.jars import JarSetMissingError, set_jars

    try:
        set_jars("s3a")
    except JarSetMissingError:
        pytest.skip("the s3a jar set is not fetched (make jars)")
    server = LocalS3Server(https=True).start()
    mp = pytest.MonkeyPatch()
    for key, value in {**MOTO_CREDENTIALS, "AWS_CA_BUNDLE": str(server.ca_bundle),
                       "LAKEFORGE_AWS_ENDPOINT_URL": server.endpoint}.items():
        mp.setenv(key, value)
    for key in ("AWS_PROFILE", "LAKEFORGE_LAKE_ROOT", "LAKEFORGE_FAULT_POINT"):
        mp.delenv(key, raising=False)
    aws.configure(None)
    try:
        yield server
    finally:
        aws.configure(None)
        mp.undo()
        server.stop()


def _reference_in_thread(spark: Any, root: Path) -> Any:
    """A clean run over every partition of the local lake ``root``, in a background thread on
    the test session's Spark; the returned function waits for it and returns its exit code."""
    from jobs import customer_propensity

    holder: dict[str, Any] = {}
    argv = [*JOB_ARGS, "--env", "local", "--env.lake.root", str(root), "--database", REF_DB,
            "--raw_database", f"{REF_DB}_raw"]

    def body() -> None:
        try:
            # getActiveSession is per JVM thread: make the session this thread's too, so that
            # the job reuses it (and does not stop it).
            spark._jvm.SparkSession.setActiveSession(spark._jsparkSession)
            holder["rc"] = customer_propensity.main(argv)
        except BaseException as exc:  # re-raised by the waiter
            holder["error"] = exc

    thread = threading.Thread(target=body, name="s3-fault-reference", daemon=True)
    thread.start()

    def wait() -> int:
        thread.join()
        if "error" in holder:
            raise holder["error"]
        return int(holder["rc"])

    return wait


def _s3_env_file(tmp: Path, bucket: str, endpoint: str, kms_key_id: str) -> Path:
    """conf/envs/local_s3.yaml on the test's bucket and endpoint with SSE-KMS, sized like the
    test session."""
    return local_s3_env_file(tmp / "local_s3_faults.yaml", bucket=bucket, endpoint=endpoint,
                             metastore_dir=tmp / "metastore", kms_key_id=kms_key_id,
                             spark=SMALL_SPARK)


def _generate(env_file: Path) -> int:
    """scripts/generate_sample_data.py's main on the S3 env (generated locally, uploaded with
    the env's endpoint and SSE), with :data:`DATA`'s size and seed."""
    spec = importlib.util.spec_from_file_location(
        "generate_sample_data", REPO / "scripts" / "generate_sample_data.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return int(module.main(["--env", str(env_file), "--rows", str(DATA["customers"]),
                            "--days", str(DATA["days"]), "--seed", str(DATA["seed"])]))


def _run(env_file: Path, lake_root: str, server: LocalS3Server,
         fault: str | None = None) -> tuple[int, str, str]:
    env = job_env(lake_root, JDK_JAVA_OPTIONS=" ".join(filter(None, [
        os.environ.get("JDK_JAVA_OPTIONS", ""), jvm_trust_options(str(server.truststore))])))
    env.pop("LAKEFORGE_FAULT_POINT", None)
    if fault:
        env["LAKEFORGE_FAULT_POINT"] = fault
    proc = subprocess.Popen(
        [sys.executable, "-m", "lakeforge.cli", "run", "customer_propensity", "--env",
         str(env_file), "--database", DB, "--raw_database", f"{DB}_raw", *JOB_ARGS],
        env=env, cwd=env_file.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True)
    return finish(proc)


@pytest.fixture(scope="module")
def life(spark: Any, tls_s3: LocalS3Server, tmp_path_factory: pytest.TempPathFactory
         ) -> dict[str, Any]:
    """The S3 lake run by run (kills, then the rerun) and the clean reference run."""
    tmp = tmp_path_factory.mktemp("s3_faults")
    ref_root = tmp / "reference_lake"
    write_bank_marketing(ref_root, customers=DATA["customers"], days=DATA["days"],
                         seed=DATA["seed"])
    bucket = f"lf-faults-{uuid.uuid4().hex[:10]}"
    key_id = aws.client("kms").create_key()["KeyMetadata"]["KeyId"]
    env_file = _s3_env_file(tmp, bucket, tls_s3.endpoint, key_id)
    lake = Lake.from_settings(f"s3://{bucket}/lake", allow_env_override=False)
    try:
        gen_rc = _generate(env_file)  # the same raw zone as the reference lake's, on S3
    finally:
        aws.configure(None)  # the script configured this process's boto3 with the env
    # the reference lake gets every day at once
    late = add_contact_days(ref_root, first_day=LATE_DAY, days=1, per_day=LATE_ROWS)
    reference = _reference_in_thread(spark, ref_root)

    seen: dict[str, Any] = {"lake": lake, "bucket": bucket, "key_id": key_id, "gen_rc": gen_rc,
                            "kills": []}
    metastore = tmp / "metastore"
    for point in KILLS:
        if point == KILLS[1]:
            aws.configure(load_env(str(env_file)).aws)  # the env's SSE-KMS on the upload
            try:
                for folder in late:  # the late day lands after the first run
                    io.upload_folder(folder,
                                     f"{lake.zone('raw')}/contacts/{Path(folder).name}")
            finally:
                aws.configure(None)
        rc, _out, err = _run(env_file, lake.root, tls_s3, point)
        seen["kills"].append({"point": point, "rc": rc, "err": err[-3000:],
                              # the fault line (stderr is also the run's log)
                              "fault": [ln for ln in err.splitlines()
                                        if ln.startswith("lakeforge fault point")],
                              "catalog": catalog_state(spark, lake, metastore),
                              "summaries": summaries(lake), "uploads": _uploads(bucket)})
    rc, _out, err = _run(env_file, lake.root, tls_s3)
    seen["rerun"] = {"rc": rc, "err": err[-3000:], "catalog": catalog_state(spark, lake, metastore),
                     "summaries": summaries(lake), "features": feature_rows(lake)}
    seen["ref_rc"] = reference()
    ref_lake = Lake.from_settings(str(ref_root), allow_env_override=False)
    seen["reference"] = {t: published(ref_lake, REF_DB, t)["rows"] for t in TABLES}
    seen["reference_features"] = feature_rows(ref_lake)
    seen["reference_summaries"] = summaries(ref_lake)
    seen["rerun"]["uploads"] = _uploads(bucket)
    s3 = aws.client("s3")
    seen["keys"] = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket) for o in page.get("Contents", [])]
    return seen


def _uploads(bucket: str) -> list[str]:
    """Keys of the bucket's incomplete multipart uploads (a killed magic-committer write)."""
    resp = aws.client("s3").list_multipart_uploads(Bucket=bucket)
    return sorted(u["Key"] for u in resp.get("Uploads", []))


# --------------------------------------------------------------------------- the fault tests


def _rerun_summary(life: dict[str, Any]) -> dict[str, Any]:
    killed = {s["run_id"] for s in life["kills"][0]["summaries"]}
    rerun = [s for s in life["rerun"]["summaries"] if s["run_id"] not in killed]
    assert len(rerun) == 1, [s["run_id"] for s in life["rerun"]["summaries"]]
    return rerun[0]


@pytest.mark.slow
@pytest.mark.aws
@pytest.mark.jars
def test_each_kill_on_s3_dies_by_sigkill_at_its_point(life: dict[str, Any]) -> None:
    """slow: four runs of the main job (Splink training included) in subprocesses on moto."""
    assert [k["point"] for k in life["kills"]] == list(KILLS)
    for kill in life["kills"]:
        assert kill["rc"] == -signal.SIGKILL, (kill["point"], kill["err"])
    assert life["kills"][0]["fault"] == ["lakeforge fault point before_bookmark_commit: SIGKILL"]
    assert life["kills"][1]["fault"] in (
        [f"lakeforge fault point during_write.{t}: SIGKILL"] for t in TABLES)
    assert life["kills"][2]["fault"] in (
        [f"lakeforge fault point before_switch.{t}: SIGKILL"] for t in TABLES)


@pytest.mark.slow
@pytest.mark.aws
@pytest.mark.jars
def test_catalog_references_only_complete_versions_after_every_kill_on_s3(
        life: dict[str, Any]) -> None:
    """slow: reads the catalog states the life fixture recorded after each killed run."""
    for kill in life["kills"]:
        for table, state in kill["catalog"].items():
            where = (kill["point"], table)
            assert state["ddl_versions"] == state["derby_versions"] != set(), where
            assert all(state["complete"].values()), where
            assert sum(state["rows"].values()) > 0, where


@pytest.mark.slow
@pytest.mark.aws
@pytest.mark.jars
def test_previous_version_stays_readable_through_the_write_and_switch_kills_on_s3(
        life: dict[str, Any]) -> None:
    """slow: compares the catalog after the kills during the write and before the switch with
    the one the run killed before its bookmark commit had published."""
    first, during_write, before_switch = life["kills"]
    published_by_first = {s["run_id"]: s for s in first["summaries"]}
    assert len(published_by_first) == 1
    summary = next(iter(published_by_first.values()))
    assert summary["status"] == "published"  # the summary comes before the bookmark commit
    for table, state in first["catalog"].items():
        assert state["ddl_versions"] == {summary["published"][table]["version"]}, table
        assert sum(state["rows"].values()) == summary["published"][table]["rows"], table
    for kill in (during_write, before_switch):
        for table in TABLES:
            now, before = kill["catalog"][table], first["catalog"][table]
            assert now["ddl_versions"] == before["ddl_versions"], (kill["point"], table)
            assert now["rows"] == before["rows"], (kill["point"], table)
        # neither killed run wrote a summary
        assert len(kill["summaries"]) == 1, kill["point"]


@pytest.mark.slow
@pytest.mark.aws
@pytest.mark.jars
def test_killed_writes_left_unreferenced_versions_on_s3(life: dict[str, Any]) -> None:
    """slow: version folders the killed runs left behind, from the life fixture's listings."""
    first, during_write, before_switch = (k["catalog"] for k in life["kills"])
    half = []
    for table in TABLES:
        new = set(during_write[table]["folders"]) - set(first[table]["folders"])
        assert not new & during_write[table]["ddl_versions"], table
        assert not new & during_write[table]["derby_versions"], table
        half += sorted(new & during_write[table]["unfinished"])
        assert not first[table]["unfinished"], table
    # the write was under way: its version prefix holds the magic committer's objects only,
    # and its data files are multipart uploads nothing completed (invisible to readers)
    assert len(half) == 1, half
    assert life["kills"][0]["uploads"] == []
    uploads = life["kills"][1]["uploads"]
    assert uploads and all(f"/{VERSIONS_DIR}/{half[0]}/" in key for key in uploads), uploads
    # the rerun marks that version superseded and aborts its uploads (docs/publish.md)
    assert life["rerun"]["uploads"] == []
    staged = {t: set(before_switch[t]["folders"]) - set(during_write[t]["folders"])
              for t in TABLES}
    for table in TABLES:
        assert len(staged[table]) == 1, table  # every table staged, none switched
        assert not staged[table] & before_switch[table]["ddl_versions"], table


@pytest.mark.slow
@pytest.mark.aws
@pytest.mark.jars
def test_rerun_after_the_kills_on_s3_equals_a_clean_run(life: dict[str, Any]) -> None:
    """slow: the rerun's published rows against the clean reference run's."""
    assert life["rerun"]["rc"] == 0, life["rerun"]["err"]
    assert life["ref_rc"] == 0
    final = life["rerun"]["catalog"]
    for table in TABLES:
        got, want = final[table]["rows"], life["reference"][table]
        assert sum(got.values()) > 0, table
        assert got == want, table  # equal multisets: no row lost, none duplicated
    assert life["rerun"]["features"] == life["reference_features"]
    assert sum(life["rerun"]["features"]["train"].values()) > 0
    contacts = [json.loads(r)["contact_id"] for r in final["contacts_enriched"]["rows"].elements()]
    assert len(contacts) == len(set(contacts))
    assert len([c for c in contacts if c.startswith("L2024")]) == LATE_ROWS  # late day


@pytest.mark.slow
@pytest.mark.aws
@pytest.mark.jars
def test_rerun_on_s3_switches_every_table_and_supersedes_the_killed_versions(
        life: dict[str, Any]) -> None:
    """slow: the rerun's summary, catalog, bookmark and version folders."""
    lake: Lake = life["lake"]
    summary = _rerun_summary(life)
    assert summary["status"] == "published"
    for table, state in life["rerun"]["catalog"].items():
        version = summary["published"][table]["version"]
        assert state["ddl_versions"] == state["derby_versions"] == {version}, table
        assert state["complete"] == {version: True}, table
        table_uri = lake.table_uri("curated", table, DB)
        for old in set(state["folders"]) - {version}:
            marker = f"{table_uri}/{VERSIONS_DIR}/{old}/{SUPERSEDED_MARKER}"
            assert io.uri_exists(marker), (table, old)
    marks = JobBookmarks(store_for(lake.path("bookmarks")), "customer_propensity")
    assert [r["run_id"] for r in marks.runs()] == [summary["run_id"]]


# --------------------------------------------------------------------------- the whole run on S3


@pytest.mark.slow
@pytest.mark.aws
@pytest.mark.jars
def test_rerun_on_s3_is_a_whole_run_with_the_clean_runs_ledgers(life: dict[str, Any]) -> None:
    """slow: the S3 rerun's summary (every phase, on the generator's raw zone) against the clean
    folder run's."""
    assert life["gen_rc"] == 0 and life["rerun"]["rc"] == 0, life["rerun"]["err"]
    summary = _rerun_summary(life)
    assert summary["status"] == "published"
    assert summary["lake_root"] == f"s3://{life['bucket']}/lake"
    assert summary["rows"]["customers"]["balanced"] and summary["rows"]["contacts"]["balanced"]
    assert summary["rows"]["customers"]["quarantined"] > 0  # the generator's malformed lines
    assert {"customers", "contacts", "indicators"} <= set(summary["crawl"]["tables"])
    assert len(life["reference_summaries"]) == 1
    reference = life["reference_summaries"][0]["rows"]
    assert sorted(summary["rows"]) == sorted(reference) != []
    for source, ledger in summary["rows"].items():  # the same ledgers, but for the database
        assert ledger["table"] == ledger["table"].replace(REF_DB, DB)
        assert ledger == {**reference[source], "table": reference[source]["table"].replace(
            REF_DB, DB)}, source
    manifest = json.loads(io.read_text(summary["features"]["manifest"]))
    assert manifest["label"]["name"] == "label"


@pytest.mark.slow
@pytest.mark.aws
@pytest.mark.jars
def test_every_zone_is_s3_objects_and_no_lock_is_left(life: dict[str, Any]) -> None:
    """slow: the bucket's keys after the rerun (the life fixture's listing)."""
    keys = life["keys"]
    for prefix in ("lake/raw/contacts/dt=", f"lake/curated/{DB}/contacts_enriched/_versions/",
                   "lake/metadata/ground_truth/",
                   f"lake/curated/{DB}/customers_golden/_athena_ddl.sql", "lake/quarantine/",
                   "lake/features/propensity/", "lake/bookmarks/", "lake/metadata/runs/",
                   "lake/metadata/quality/metrics.json"):
        assert any(k.startswith(prefix) for k in keys), prefix
    summary = _rerun_summary(life)
    for table in TABLES:  # the rerun's versions: committed files only
        version = summary["published"][table]["version"]
        files = [k for k in keys
                 if k.startswith(f"lake/curated/{DB}/{table}/{VERSIONS_DIR}/{version}/")]
        assert files and not [k for k in files if "/_temporary/" in k or "__magic" in k], table
    assert not [k for k in keys if k.startswith("lake/bookmarks/locks/")]  # lock released


@pytest.mark.slow
@pytest.mark.aws
@pytest.mark.jars
def test_every_object_carries_sse_kms_on_s3(life: dict[str, Any]) -> None:
    """slow: a HEAD of every object the generator, the four runs and the test's upload left."""
    s3, bucket = aws.client("s3"), life["bucket"]
    assert len(life["keys"]) > 20
    unencrypted = []
    for key in life["keys"]:
        head = s3.head_object(Bucket=bucket, Key=key)
        if (head.get("ServerSideEncryption") != "aws:kms"
                or not str(head.get("SSEKMSKeyId", "")).endswith(life["key_id"])):
            unencrypted.append(key)
    assert unencrypted == []
