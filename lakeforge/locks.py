"""A lock so that two runs of the same job on the same tables cannot publish at once.

The second run fails fast with a message naming the holder; a lock whose holder died expires
after ``ttl_seconds`` and is then taken over (with compare-and-swap, so two runs cannot both
take over a stale lock).

Example::

    with JobLock(store_for(lake.zone("bookmarks")), "lakeforge.customers", ttl_seconds=3600):
        publish(...)
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from types import TracebackType
from typing import Any

from lakeforge.errors import LakeforgeError
from lakeforge.state import ConcurrentUpdateError, StateStore

log = logging.getLogger(__name__)


class LockHeldError(LakeforgeError):
    """Another live run holds the lock."""


class JobLock:
    """A lease on ``name`` held in a :class:`~lakeforge.state.StateStore`."""

    def __init__(self, store: StateStore, name: str, *, ttl_seconds: float = 3600.0,
                 owner: str | None = None) -> None:
        self.store = store
        self.name = name
        self.ttl = ttl_seconds
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._version: str | None = None

    @property
    def key(self) -> str:
        return f"locks/{self.name}"

    def acquire(self) -> JobLock:
        """Take the lock or raise LockHeldError naming the holder and when it expires."""
        now = time.time()
        doc = {"owner": self.owner, "acquired_at": now, "expires_at": now + self.ttl}
        current = self.store.get(self.key)
        try:
            if current is None:
                self._version = self.store.put(self.key, doc, None)
            elif float(current.doc.get("expires_at", 0)) < now:
                log.warning("taking over stale lock %s from %s", self.name,
                            current.doc.get("owner"))
                self._version = self.store.put(self.key, doc, current.version)
            else:
                raise self._held(current.doc)
        except ConcurrentUpdateError:
            latest = self.store.get(self.key)
            raise self._held(latest.doc if latest else {}) from None
        return self

    def _held(self, doc: dict[str, Any]) -> LockHeldError:
        expires = doc.get("expires_at")
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires)) if expires else "?"
        return LockHeldError(
            f"lock {self.name} is held by {doc.get('owner', 'another run')} until {when}: another "
            "run of this job is publishing the same tables; wait for it, or if it died, rerun "
            "after the lock expires"
        )

    def release(self) -> None:
        if self._version is None:
            return
        try:
            self.store.delete(self.key, self._version)
        except ConcurrentUpdateError:
            log.warning("lock %s was taken over by another run before release", self.name)
        self._version = None

    def __enter__(self) -> JobLock:
        return self.acquire()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
