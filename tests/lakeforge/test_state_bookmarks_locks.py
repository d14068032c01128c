"""Compare-and-swap state stores (local, S3 on moto, DynamoDB on moto), Glue-semantics job
bookmarks and the publish lock."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from lakeforge.bookmarks import DISABLE, ENABLE, PAUSE, FileEntry, JobBookmarks, list_data_files
from lakeforge.errors import ConfigError
from lakeforge.locks import JobLock, LockHeldError
from lakeforge.state import (
    ConcurrentUpdateError,
    DynamoDBStateStore,
    LocalStateStore,
    S3StateStore,
    StateStore,
    store_for,
)


@pytest.fixture(params=["local", "s3", "dynamodb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> StateStore:
    return _store_on(request.param, request, tmp_path)


def _store_on(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> StateStore:
    if backend == "local":
        return LocalStateStore(tmp_path / "bookmarks")
    endpoint = request.getfixturevalue("moto_endpoint")
    from lakeforge.aws import client

    name = f"t{abs(hash(request.node.name)) % 10**8}"
    if backend == "s3":
        s3 = client("s3", region="us-east-1", endpoint_url=endpoint)
        s3.create_bucket(Bucket=name)
        return store_for(f"s3://{name}/lake/bookmarks", region="us-east-1",
                         endpoint_url=endpoint)
    ddb = client("dynamodb", region="us-east-1", endpoint_url=endpoint)
    DynamoDBStateStore.create_table(ddb, name)
    return store_for(f"dynamodb://{name}", region="us-east-1", endpoint_url=endpoint)


@pytest.mark.aws
def test_compare_and_swap(store: StateStore) -> None:
    assert store.get("jobs/a") is None
    v1 = store.put("jobs/a", {"n": 1}, None)
    with pytest.raises(ConcurrentUpdateError):
        store.put("jobs/a", {"n": 2}, None)  # must not exist
    v2 = store.put("jobs/a", {"n": 2}, v1)
    with pytest.raises(ConcurrentUpdateError):
        store.put("jobs/a", {"n": 3}, v1)  # stale version
    got = store.get("jobs/a")
    assert got is not None and got.doc == {"n": 2} and got.version == v2
    assert store.keys("jobs/") == ["jobs/a"]
    with pytest.raises(ConcurrentUpdateError):
        store.delete("jobs/a", v1)  # stale version: nothing deleted
    assert store.delete("jobs/a", v2) is True and store.get("jobs/a") is None
    assert store.delete("jobs/a", v2) is False
    store.put("jobs/a", {"n": 1}, None)
    assert store.delete("jobs/a") is True and store.get("jobs/a") is None
    assert store.delete("jobs/a") is False
    with pytest.raises(ConfigError):
        store.get("../escape") if isinstance(store, LocalStateStore) else store.put(
            "a/../b", {}, None)


def test_store_for_rejects_unknown_scheme() -> None:
    with pytest.raises(ConfigError, match="dynamodb://TABLE"):
        store_for("gs://bucket/x")
    assert isinstance(store_for("s3://b/p", endpoint_url="http://127.0.0.1:1"), S3StateStore)


def _files(*specs: tuple[str, int, int]) -> list[FileEntry]:
    return [FileEntry(p, s, m) for p, s, m in specs]


@pytest.mark.aws
def test_bookmark_processes_only_new_and_changed_files(store: StateStore) -> None:
    first = _files(("raw/c/dt=1/a.json", 10, 1), ("raw/c/dt=2/a.json", 20, 1))
    marks = JobBookmarks(store, "job1")
    assert marks.select("contacts", first) == first
    # Not committed (the run died before publish): the next run sees the same files.
    assert JobBookmarks(store, "job1").select("contacts", first) == first
    assert marks.commit("run-1") is True
    second = first + _files(("raw/c/dt=3/a.json", 5, 2))
    marks2 = JobBookmarks(store, "job1")
    assert marks2.select("contacts", second) == second[2:]
    # A file rewritten in place (new size or mtime) is processed again.
    changed = [FileEntry("raw/c/dt=1/a.json", 11, 3), *second[1:]]
    assert JobBookmarks(store, "job1").select("contacts", changed) == [changed[0], changed[2]]
    # Contexts are independent.
    assert JobBookmarks(store, "job1").select("customers", first) == first
    assert marks2.commit("run-2")
    assert [r["run_id"] for r in JobBookmarks(store, "job1").runs()] == ["run-1", "run-2"]


def test_bookmark_options_disable_pause_range_and_reset(tmp_path: Path) -> None:
    store = LocalStateStore(tmp_path)
    a, b, c = _files(("a", 1, 1), ("b", 1, 1), ("c", 1, 1))
    m = JobBookmarks(store, "j")
    m.select("s", [a])
    m.commit("r1")
    m = JobBookmarks(store, "j")
    m.select("s", [a, b])
    m.commit("r2")
    m = JobBookmarks(store, "j")
    m.select("s", [a, b, c])
    m.commit("r3")
    everything = [a, b, c]
    assert JobBookmarks(store, "j", option=DISABLE).select("s", everything) == everything
    assert JobBookmarks(store, "j", option=DISABLE).commit("x") is False
    d = FileEntry("d", 1, 1)
    paused = JobBookmarks(store, "j", option=PAUSE)
    assert paused.select("s", [*everything, d]) == [d]
    assert paused.commit("r4") is False
    assert JobBookmarks(store, "j").select("s", [*everything, d]) == [d]  # pause did not advance
    ranged = JobBookmarks(store, "j", option=PAUSE, from_run="r1", to_run="r2")
    assert ranged.select("s", everything) == [b]
    assert JobBookmarks(store, "j", option=PAUSE, from_run="r1").select("s", everything) == [b, c]
    with pytest.raises(ConfigError, match="not a committed run"):
        JobBookmarks(store, "j", option=PAUSE, from_run="nope").select("s", everything)
    with pytest.raises(ConfigError, match="job-bookmark-pause"):
        JobBookmarks(store, "j", option=ENABLE, from_run="r1")
    with pytest.raises(ConfigError, match="not one of"):
        JobBookmarks(store, "j", option="job-bookmark-sometimes")
    JobBookmarks(store, "j").reset()
    assert JobBookmarks(store, "j").select("s", everything) == everything


def test_concurrent_commits_do_not_lose_updates(tmp_path: Path) -> None:
    store = LocalStateStore(tmp_path)
    one, two = JobBookmarks(store, "j"), JobBookmarks(store, "j")
    one.select("s", _files(("a", 1, 1)))
    two.select("s", _files(("b", 1, 1)))
    one.commit("r1")
    with pytest.raises(ConcurrentUpdateError):
        two.commit("r2")


def test_list_data_files_skips_bookkeeping(tmp_path: Path) -> None:
    root = tmp_path / "contacts"
    for rel in ["dt=1/a.json", "dt=1/_SUCCESS", "dt=1/.a.json.crc", "_temporary/0/x.json",
                "dt=2/b.json", ".hidden/c.json"]:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("{}\n")
    found = list_data_files(str(root))
    assert [Path(f.path).relative_to(root).as_posix() for f in found] == ["dt=1/a.json",
                                                                          "dt=2/b.json"]
    assert all(f.size == 3 and f.mtime_ms > 0 for f in found)
    assert list_data_files(str(tmp_path / "missing")) == []
    (root / "top.json").write_text("{}\n")
    # not recursive: the files directly under the path only; a file's path: that file alone
    assert [Path(f.path).name for f in list_data_files(str(root), recursive=False)] == [
        "top.json"]
    assert [f.path for f in list_data_files(str(root / "dt=2" / "b.json"))] == [
        str(root / "dt=2" / "b.json")]


@pytest.mark.aws
def test_lock_fails_fast_and_stale_lock_expires(store: StateStore) -> None:
    first = JobLock(store, "lakeforge.customers", ttl_seconds=60, owner="run-A").acquire()
    with pytest.raises(LockHeldError, match="held by run-A"):
        JobLock(store, "lakeforge.customers", owner="run-B").acquire()
    first.release()
    with JobLock(store, "lakeforge.customers", owner="run-B"):
        pass
    JobLock(store, "lakeforge.customers", ttl_seconds=0.01, owner="dead-run").acquire()
    time.sleep(0.05)
    taken = JobLock(store, "lakeforge.customers", owner="run-C").acquire()
    assert store.get(taken.key).doc["owner"] == "run-C"  # type: ignore[union-attr]
    taken.release()
    assert store.get(taken.key) is None


@pytest.mark.aws
@pytest.mark.parametrize("backend", ["s3", "dynamodb"])
def test_release_after_a_successor_took_over_between_read_and_delete_keeps_its_lease(
        backend: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    """Forced interleaving, real calls on moto: the paused run's release reads its lease, then the
    successor's acquire runs just before the delete request (the store's delete call on the
    client is wrapped to run it first). The delete must be conditional on the server's side:
    the successor keeps the lease, so a third run cannot take the lock."""
    store = _store_on(backend, request, tmp_path)
    paused = JobLock(store, "lakeforge.race", ttl_seconds=0.2, owner="paused-run").acquire()
    time.sleep(0.3)  # the paused run's lease expires; it has not noticed yet
    successor = JobLock(store, "lakeforge.race", ttl_seconds=60, owner="successor")
    client = store.s3 if isinstance(store, S3StateStore) else store.ddb  # type: ignore[attr-defined]
    name = "delete_object" if isinstance(store, S3StateStore) else "delete_item"
    real_delete = getattr(client, name)

    def successor_first(**kwargs: object) -> object:
        successor.acquire()
        return real_delete(**kwargs)

    monkeypatch.setattr(client, name, successor_first)
    paused.release()  # logs "taken over by another run before release"; must not delete
    monkeypatch.setattr(client, name, real_delete)
    assert store.get(successor.key).doc["owner"] == "successor"  # type: ignore[union-attr]
    with pytest.raises(LockHeldError, match="held by successor"):
        JobLock(store, "lakeforge.race", owner="third-run").acquire()
    successor.verify()
    successor.release()
    assert store.get(successor.key) is None


@pytest.mark.parametrize(("recorded", "taken_early"), [
    ({}, True),  # this PID namespace and boot: the pid is looked up where it lived
    ({"pid_namespace": "pid:[4026500000]"}, False),  # another container sharing the hostname
    ({"boot_id": "00000000-0000-0000-0000-000000000000"}, False),  # another machine or boot
    ({"pid_namespace": None, "boot_id": None}, False),  # written by an older Lakeforge
], ids=["same-namespace-and-boot", "other-pid-namespace", "other-boot", "older-lease"])
def test_a_dead_holder_pid_is_taken_over_early_only_in_its_own_pid_namespace_and_boot(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, recorded: dict[str, Any],
        taken_early: bool) -> None:
    store = LocalStateStore(tmp_path)
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    holder = JobLock(store, "job.db", ttl_seconds=3600, owner="dead-run").acquire()
    current = store.get(holder.key)
    assert current is not None
    # The lease of that finished process: this host, an hour of lease left.
    doc = dict(current.doc, pid=finished.pid, pid_started=None)
    doc.update({k: v for k, v in recorded.items() if v is not None})
    for field in [k for k, v in recorded.items() if v is None]:
        del doc[field]
    store.put(holder.key, doc, current.version)
    taker = JobLock(store, "job.db", ttl_seconds=60, owner="rerun")
    with caplog.at_level(logging.WARNING, logger="lakeforge.locks"):
        if taken_early:
            taker.acquire()
            assert store.get(taker.key).doc["owner"] == "rerun"  # type: ignore[union-attr]
            assert "is gone" in caplog.text
            taker.release()
            return
        with pytest.raises(LockHeldError, match="held by dead-run"):
            taker.acquire()
    assert ("older Lakeforge" in caplog.text) is ("pid_namespace" not in doc)
    # Expired, it is taken over whatever it records.
    expired = store.get(holder.key)
    assert expired is not None
    store.put(holder.key, dict(expired.doc, expires_at=time.time() - 1), expired.version)
    taker.acquire()
    taker.release()


def _can_unshare_pid() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = ["unshare", "--pid", "--fork", "--mount-proc", "true"]
    return subprocess.run(probe, capture_output=True, check=False).returncode == 0


@pytest.mark.skipif(not _can_unshare_pid(), reason="needs unshare --pid (root or user namespaces)")
def test_a_live_holder_in_another_pid_namespace_on_this_host_keeps_its_lease(
        tmp_path: Path) -> None:
    """Real processes: the holder runs under ``unshare --pid --fork --mount-proc`` (same
    hostname, its own PID namespace, where it is pid 1: here pid 1 is another process), like a
    container with host networking. The taker must not see it as gone."""
    code = ("import sys\n"
            "from lakeforge.locks import JobLock\n"
            "from lakeforge.state import LocalStateStore\n"
            f"lock = JobLock(LocalStateStore({str(tmp_path)!r}), 'job.db', ttl_seconds=600,\n"
            "               owner='holder-in-container').acquire()\n"
            "lock.start_heartbeat()\n"
            "print('held', flush=True)\n"
            "sys.stdin.read()\n"
            "lock.verify()\n"
            "lock.release()\n"
            "print('verified', flush=True)\n")
    holder = subprocess.Popen(["unshare", "--pid", "--fork", "--mount-proc", sys.executable,
                               "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(LockHeldError, match="held by holder-in-container"):
            JobLock(LocalStateStore(tmp_path), "job.db", owner="taker").acquire()
        out, err = holder.communicate("", timeout=60)
    finally:
        if holder.poll() is None:
            holder.kill()
    assert holder.returncode == 0 and "verified" in out, err[-2000:]
