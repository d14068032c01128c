"""A lock so that two runs of the same job on the same tables cannot publish at once.

The lock is a lease in a :class:`~lakeforge.state.StateStore` (the lake's bookmarks zone, an S3
object with conditional writes, or a DynamoDB item): taking it and taking it over are
compare-and-swap writes, so two runs can never both hold it.

* The second run fails fast with :class:`LockHeldError`, naming the holder and the expiry.
* A lease expires ``ttl_seconds`` after its last renewal. :meth:`JobLock.start_heartbeat`
  renews it from a daemon thread every ``ttl/3``, so a long run keeps it while a dead run's
  lease runs out within one ``ttl``.
* A holder on the same host whose process is gone (killed, crashed) is stale at once: the
  holder records host, pid and the process start time, so a reused pid is not mistaken for it,
  and its PID namespace and boot id, so that shortcut is taken only when the pid can be looked
  up at all: containers that share a hostname (``docker --network host``, Kubernetes
  ``hostNetwork``) but not a PID namespace, or another boot, wait for the lease to expire.
* :meth:`JobLock.verify` (called just before a catalog switch and before the bookmark commit)
  raises :class:`LockLostError` when another run took the lease over meanwhile: a run that was
  paused for longer than the ttl never publishes over its successor.

Example::

    with JobLock(store_for(lake.zone("bookmarks")), "customer_propensity.lakeforge",
                 ttl_seconds=600) as lock:
        lock.start_heartbeat()
        ...
        lock.verify()
        publish(...)
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from pathlib import Path
from types import TracebackType
from typing import Any

from lakeforge.errors import LakeforgeError
from lakeforge.state import ConcurrentUpdateError, StateStore, Versioned

# A lock's default lease (``run.lock_ttl_seconds``): a holder that dies without releasing it
# blocks other hosts that long. Also what the orchestrators' write retry waits beyond.
DEFAULT_LEASE_SECONDS = 600.0

log = logging.getLogger(__name__)


class LockHeldError(LakeforgeError):
    """Another live run holds the lock."""


class LockLostError(LakeforgeError):
    """This run's lease expired and another run took the lock over."""


def _process_start(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (Linux), to tell a reused pid from the original."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22 (starttime); the command name (field 2) may hold spaces, so split after ')'.
    return stat.rsplit(")", 1)[-1].split()[19]


def _pid_namespace() -> str | None:
    """This process's PID namespace (``pid:[4026531836]``, Linux), None where unknown."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None


def _boot_id() -> str | None:
    """The kernel's id of this boot (Linux): two machines, or one machine rebooted, differ."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip() or None
    except OSError:
        return None


def _process_alive(pid: int, started: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if started is not None:
        now = _process_start(pid)
        if now is not None and now != started:
            return False
    return True


class JobLock:
    """A lease on ``name`` held in a :class:`~lakeforge.state.StateStore`."""

    def __init__(self, store: StateStore, name: str, *, ttl_seconds: float = DEFAULT_LEASE_SECONDS,
                 owner: str | None = None, run_name: str | None = None) -> None:
        if ttl_seconds <= 0:
            raise ValueError(f"lock {name}: ttl_seconds must be > 0, got {ttl_seconds}")
        self.store = store
        self.name = name
        self.ttl = ttl_seconds
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.pid_namespace = _pid_namespace()
        self.boot_id = _boot_id()
        self.owner = owner or f"{self.host}:{self.pid}:{uuid.uuid4().hex[:8]}"
        self.run_name = run_name  # recorded in the lease: a lifecycle run's --JOB_NAME
        self._version: str | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lost: str | None = None

    @property
    def key(self) -> str:
        return f"locks/{self.name}"

    @property
    def held(self) -> bool:
        return self._version is not None and self._lost is None

    def _doc(self, now: float) -> dict[str, Any]:
        return {"owner": self.owner, "host": self.host, "pid": self.pid,
                "pid_started": _process_start(self.pid), "pid_namespace": self.pid_namespace,
                "boot_id": self.boot_id, "acquired_at": now,
                "renewed_at": now, "expires_at": now + self.ttl, "ttl_seconds": self.ttl,
                **({"run_name": self.run_name} if self.run_name else {})}

    def stale_reason(self, current: Versioned, now: float | None = None) -> str | None:
        """Why the lease in ``current`` may be taken over, or None when its holder is live."""
        doc = current.doc
        now = time.time() if now is None else now
        if float(doc.get("expires_at", 0)) < now:
            return "its lease expired"
        if doc.get("host") != self.host or not isinstance(doc.get("pid"), int):
            return None
        # A pid means something only in the PID namespace and boot it was recorded in: a holder
        # in another container with the same hostname is alive although its pid is not (or is
        # another process) here. Without both ids on both sides, wait for the lease to expire.
        if "pid_namespace" not in doc or "boot_id" not in doc:
            if not _process_alive(int(doc["pid"]), doc.get("pid_started")):
                log.warning(
                    "lock %s: its holder's process %s looks gone on this host, but the lease "
                    "was written by an older Lakeforge that records no PID namespace or boot "
                    "id, so it may be alive in another container; not taking it over before "
                    "the lease expires", self.name, doc["pid"])
            return None
        if self.pid_namespace is None or self.boot_id is None or \
                doc["pid_namespace"] != self.pid_namespace or doc["boot_id"] != self.boot_id:
            return None
        if not _process_alive(int(doc["pid"]), doc.get("pid_started")):
            return f"its process {doc['pid']} on this host is gone"
        return None

    def peek(self) -> None:
        """Raise LockHeldError when a live run holds the lock (does not take it)."""
        current = self.store.get(self.key)
        if current is not None and self.stale_reason(current) is None:
            raise self._held(current.doc)

    def acquire(self) -> JobLock:
        """Take the lock or raise LockHeldError naming the holder and when it expires."""
        now = time.time()
        current = self.store.get(self.key)
        try:
            if current is None:
                self._version = self.store.put(self.key, self._doc(now), None)
            else:
                reason = self.stale_reason(current, now)
                if reason is None:
                    raise self._held(current.doc)
                log.warning("taking over lock %s from %s: %s", self.name,
                            current.doc.get("owner"), reason)
                self._version = self.store.put(self.key, self._doc(now), current.version)
        except ConcurrentUpdateError:
            latest = self.store.get(self.key)
            raise self._held(latest.doc if latest else {}) from None
        self._lost = None
        log.info("lock %s taken by %s (ttl %ss)", self.name, self.owner, self.ttl)
        return self

    def _held(self, doc: dict[str, Any]) -> LockHeldError:
        expires = doc.get("expires_at")
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires)) if expires else "?"
        return LockHeldError(
            f"lock {self.name} is held by {doc.get('owner', 'another run')} until {when} "
            f"(renewed while it runs): another run of this job is publishing the same tables; "
            "wait for it to finish. If it died on another host, rerun after the lock expires "
            f"or remove it with 'lakeforge bookmarks unlock'"
        )

    def renew(self) -> None:
        """Extend the lease by ``ttl``; marks the lock lost when someone else took it over."""
        with self._lock:
            if self._version is None or self._lost:
                return
            current = self.store.get(self.key)
            if current is None or current.version != self._version:
                owner = current.doc.get("owner") if current else None
                self._lost = f"taken over by {owner}" if owner else "removed"
                log.error("lock %s lost: %s", self.name, self._lost)
                return
            now = time.time()
            doc = dict(current.doc, renewed_at=now, expires_at=now + self.ttl)
            try:
                self._version = self.store.put(self.key, doc, self._version)
            except ConcurrentUpdateError:
                self._lost = "changed by another run during renewal"
                log.error("lock %s lost: %s", self.name, self._lost)

    def start_heartbeat(self, interval_seconds: float | None = None) -> None:
        """Renew the lease from a daemon thread every ``interval`` (default ttl/3)."""
        interval = interval_seconds or max(self.ttl / 3.0, 0.05)
        if self._thread is not None:
            return

        def beat() -> None:
            while not self._stop.wait(interval):
                try:
                    self.renew()
                except Exception:  # noqa: BLE001 - a failed renewal is retried next beat
                    log.warning("renewing lock %s failed", self.name, exc_info=True)

        self._thread = threading.Thread(target=beat, name=f"lock-{self.name}", daemon=True)
        self._thread.start()

    def verify(self) -> None:
        """Raise LockLostError unless this run still holds the lease (call before publishing)."""
        if self._version is None:
            raise LockLostError(f"lock {self.name}: not acquired by this run")
        self.renew()
        if self._lost:
            raise LockLostError(
                f"lock {self.name}: {self._lost}; this run stops before publishing so that two "
                "runs never publish the same tables"
            )

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        with self._lock:
            if self._version is None:
                return
            try:
                if not self._lost:
                    self.store.delete(self.key, self._version)
            except ConcurrentUpdateError:
                log.warning("lock %s was taken over by another run before release", self.name)
            self._version = None

    def __enter__(self) -> JobLock:
        return self.acquire()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def force_unlock(store: StateStore, name: str) -> dict[str, Any] | None:
    """Remove the lock ``name`` whoever holds it (operator action); returns the removed doc."""
    current = store.get(f"locks/{name}")
    if current is None:
        return None
    store.delete(f"locks/{name}", current.version)
    return current.doc
