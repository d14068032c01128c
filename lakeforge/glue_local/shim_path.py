"""Put Lakeforge's awsglue-compatible package on ``sys.path``, only where awsglue is absent."""

from __future__ import annotations

import importlib.util
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

SHIM_DIR = str(Path(__file__).resolve().parent / "shim")


def shim_is_active() -> bool:
    """True when ``import awsglue`` gives Lakeforge's runtime (not AWS's)."""
    module = sys.modules.get("awsglue")
    if module is not None:
        return str(getattr(module, "__file__", "") or "").startswith(SHIM_DIR)
    return SHIM_DIR in sys.path


def real_awsglue_importable() -> bool:
    """True when an awsglue other than Lakeforge's can be imported (a Glue job, Glue's image)."""
    if "awsglue" in sys.modules:
        return not shim_is_active()
    saved = list(sys.path)
    try:
        sys.path[:] = [p for p in sys.path if p != SHIM_DIR]
        return importlib.util.find_spec("awsglue") is not None
    finally:
        sys.path[:] = saved


def activate_shim() -> bool:
    """Make ``import awsglue`` find Lakeforge's runtime; returns False (and changes nothing)
    when the real awsglue is importable."""
    if real_awsglue_importable():
        log.info("the real awsglue is importable: Lakeforge's awsglue runtime stays off")
        return False
    if SHIM_DIR not in sys.path:
        sys.path.insert(0, SHIM_DIR)
    return True


def deactivate_shim() -> None:
    """Take the runtime off ``sys.path`` and forget its imported ``awsglue`` modules."""
    while SHIM_DIR in sys.path:
        sys.path.remove(SHIM_DIR)
    for name in [n for n in sys.modules if n == "awsglue" or n.startswith("awsglue.")]:
        if str(getattr(sys.modules[name], "__file__", "") or "").startswith(SHIM_DIR):
            del sys.modules[name]


@contextmanager
def shim_activated() -> Iterator[bool]:
    """Activate the runtime for a block, restoring ``sys.path`` and ``sys.modules`` after it
    (unless it was already active before the block)."""
    was_active = shim_is_active()
    activated = activate_shim()
    try:
        yield activated
    finally:
        if activated and not was_active:
            deactivate_shim()
