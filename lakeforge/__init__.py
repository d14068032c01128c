"""Lakeforge: the runtime every job shares (config, session, paths, catalog, publish, bookmarks)."""

from __future__ import annotations

from lakeforge.errors import (
    ConfigError,
    InputPathError,
    LakeforgeError,
    MissingColumnsError,
    SchemaMismatchError,
)

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "InputPathError",
    "LakeforgeError",
    "MissingColumnsError",
    "SchemaMismatchError",
    "__version__",
]
