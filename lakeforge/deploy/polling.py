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

from lakeforge.aws import retryable_aws_error
from lakeforge.deploy import RemoteRunFailedError, RemoteRunTimeoutError

log = logging.getLogger(__name__)

# How many describe calls in a row may fail with a throttling or transient error (after
# botocore's own retries) before the wait gives up: the remote run goes on meanwhile, and an
# hours-long wait makes hundreds of calls.
MAX_DESCRIBE_FAILURES = 5


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
    Each state change is logged once. A ``describe`` that fails with a throttling or
    transient AWS error (:func:`lakeforge.aws.retryable_aws_error`) is logged and called
    again at the next poll, up to :data:`MAX_DESCRIBE_FAILURES` times in a row; any other
    error is raised.
    """
    deadline = clock() + timeout_seconds
    last = None
    failures = 0
    while True:
        try:
            status = describe()
        except Exception as exc:
            failures += 1
            if failures > MAX_DESCRIBE_FAILURES or not retryable_aws_error(exc):
                raise
            log.warning("%s: describing it failed (%s: %s); trying again in %.0fs (%d of %d)",
                        what, type(exc).__name__, exc, poll_seconds, failures,
                        MAX_DESCRIBE_FAILURES)
            if clock() >= deadline:
                raise RemoteRunTimeoutError(
                    f"{what} still {last or 'unknown'} after {timeout_seconds:.0f}s"
                    f"{timeout_hint}") from exc
            sleep(poll_seconds)
            continue
        failures = 0
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
