"""CLI subcommands: each module defines ``register(subparsers)``."""

from __future__ import annotations

import argparse
import os


def add_env_option(p: argparse.ArgumentParser, fallback: str = "local") -> None:
    """``--env``: an environment in conf/envs; by default ``$LAKEFORGE_ENV``, else ``fallback``
    (the same default the jobs use, so one exported variable points every command at one env)."""
    p.add_argument("--env", default=os.environ.get("LAKEFORGE_ENV") or fallback,
                   help=f"environment in conf/envs (default: $LAKEFORGE_ENV, else {fallback})")
