"""Fault-injection points: make a run die (SIGKILL) at a named point, to test recovery.

A job calls :func:`fault_point` at the places where a crash matters (after reading, after the
quarantine write, just before a catalog switch, before the bookmark commit, ...). When the
environment variable ``LAKEFORGE_FAULT_POINT`` names that point (a comma-separated list may
name several), the process kills the Spark driver JVM it launched and itself with SIGKILL: no
``finally`` block, no ``atexit`` handler and no JVM shutdown hook of the driver runs, exactly as
when a container or node dies.

:func:`arm_on_new_file` kills the process from a watcher thread while Spark is writing, as soon
as the first data file of a write appears under a folder: a crash in the middle of a write.

Unset (the normal case) both are no-ops costing one dictionary lookup.

Example::

    fault_point("before_switch.contacts_enriched")   # LAKEFORGE_FAULT_POINT=before_switch.*

Names may end with ``*`` to match a prefix.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

FAULT_POINT_ENV_VAR = "LAKEFORGE_FAULT_POINT"


def armed_points() -> list[str]:
    """The fault points named in ``$LAKEFORGE_FAULT_POINT`` (empty when unset)."""
    raw = os.environ.get(FAULT_POINT_ENV_VAR, "")
    return [p.strip() for p in raw.split(",") if p.strip()]


def is_armed(name: str) -> bool:
    """True when ``name`` (or a ``prefix*`` pattern matching it) is in the environment."""
    for point in armed_points():
        if point == name or (point.endswith("*") and name.startswith(point[:-1])):
            return True
    return False


def _die(name: str) -> None:
    # stderr directly: logging handlers may buffer, and nothing runs after SIGKILL.
    sys.stderr.write(f"lakeforge fault point {name}: SIGKILL\n")
    sys.stderr.flush()
    jvm = _driver_jvm_pid()
    if jvm is not None:
        # The driver JVM goes first: left alone it would see its Python parent's end, run its
        # shutdown hooks and could finish work in flight (a job commit) in the meantime.
        with contextlib.suppress(OSError):
            os.kill(jvm, signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)


def _driver_jvm_pid() -> int | None:
    """The pid of the Spark driver JVM this process launched (PySpark's gateway), if any."""
    context = sys.modules.get("pyspark.context")
    gateway = getattr(getattr(context, "SparkContext", None), "_gateway", None)
    pid = getattr(getattr(gateway, "proc", None), "pid", None)
    return pid if isinstance(pid, int) else None


def fault_point(name: str) -> None:
    """SIGKILL this process when the fault point ``name`` is armed; otherwise do nothing."""
    if is_armed(name):
        _die(name)


def arm_on_new_file(name: str, folder: str, *, poll_seconds: float = 0.02,
                    timeout_seconds: float = 3600.0) -> Callable[[], None]:
    """When ``name`` is armed, SIGKILL the process once a new data file appears under ``folder``.

    Files present when this is called are ignored; hidden bookkeeping files (``_SUCCESS``,
    ``.crc``) do not count, but files inside Spark's ``_temporary`` attempt folders do, so the
    kill lands while tasks are still writing. Returns a function that disarms the watcher (call
    it once the write is over).

    An ``s3://`` folder is listed through the S3 API (at most every 0.1 s): with S3A's magic
    committer the first new objects are a task's ``__magic`` marker and ``.pending`` file,
    written once its data is uploaded as a multipart upload that only the job commit completes.
    """
    if not is_armed(name):
        return lambda: None
    if "://" in folder:
        poll_seconds = max(poll_seconds, 0.1)  # one LIST request per poll
    before = _data_files(folder)
    stop = threading.Event()

    def watch() -> None:
        deadline = time.monotonic() + timeout_seconds
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                if _data_files(folder) - before:
                    _die(name)
            except Exception as exc:  # a failed listing must not end the watch
                log.warning("fault point %s: cannot list %s: %s", name, folder, exc)
            stop.wait(poll_seconds)

    threading.Thread(target=watch, name=f"fault-{name}", daemon=True).start()
    log.warning("fault point %s armed: SIGKILL on the first new file under %s", name, folder)
    return stop.set


def _data_files(folder: str) -> set[str]:
    if "://" in folder:
        from lakeforge.io import list_files

        # S3 objects, hidden '_' / '.' names skipped, but not the files inside the hidden
        # folders a write in progress uses (S3A's __magic/, _temporary/)
        return set(list_files(folder, hidden_folders=True))
    root = Path(folder)
    if not root.exists():
        return set()
    return {
        str(p) for p in root.rglob("*")
        if p.is_file() and not p.name.startswith((".", "_")) and not p.name.endswith(".crc")
    }
