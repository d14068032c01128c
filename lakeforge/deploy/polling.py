"""Polling a remote run (an EMR step, a Glue job run) until it ends.

Example::

    status = poll_until_done(
        lambda: emr.describe_step(ClusterId=cid, StepId=sid)["Step"]["Status"],
        what=f"EMR step {sid} on cluster {cid}", state_key="State", done="COMPLETED",
        failed=("FAILED", "CANCELLED", "INTERRUPTED"), reason=lambda s: s.get("Message", ""))
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping
from typing import Any

from lakeforge.deploy import RemoteRunFailedError, RemoteRunTimeoutError

log = logging.getLogger(__name__)


def poll_until_done(
    describe: Callable[[], Mapping[str, Any]],
    *,
    what: str,
    state_key: str,
    done: str,
    failed: Collection[str],
    reason: Callable[[Mapping[str, Any]], str],
    timeout_hint: str = "",
    poll_seconds: float = 30.0,
    timeout_seconds: float = 6 * 3600,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Call ``describe`` every ``poll_seconds`` until ``status[state_key]`` is ``done``.

    Returns the last status. A state in ``failed`` raises RemoteRunFailedError naming ``what``,
    the state and ``reason(status)``; no end within ``timeout_seconds`` raises
    RemoteRunTimeoutError (the remote run keeps going; ``timeout_hint`` says where to look).
    Each state change is logged once.
    """
    deadline = clock() + timeout_seconds
    last = None
    while True:
        status = describe()
        state = status[state_key]
        if state != last:
            log.info("%s: %s", what, state)
            last = state
        if state == done:
            return dict(status)
        if state in failed:
            raise RemoteRunFailedError(f"{what} ended {state}: {reason(status)}")
        if clock() >= deadline:
            raise RemoteRunTimeoutError(
                f"{what} still {state} after {timeout_seconds:.0f}s{timeout_hint}"
            )
        sleep(poll_seconds)
