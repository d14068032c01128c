"""Exceptions a user can cause. Each message says what was wrong, where, and what to do."""

from __future__ import annotations

from collections.abc import Iterable


class LakeforgeError(Exception):
    """Base class: the CLI and job runner print these as one line and exit with code 2."""


class ConfigError(LakeforgeError, ValueError):
    """A config file, key, value or command-line override is wrong."""


class InputPathError(LakeforgeError, FileNotFoundError):
    """An input path does not exist, is empty, or cannot be read."""


class MissingColumnsError(LakeforgeError, ValueError):
    """A DataFrame lacks columns that a transform or check needs."""

    def __init__(self, missing: Iterable[str], available: Iterable[str], where: str = "") -> None:
        self.missing = sorted(missing)
        self.available = list(available)
        place = f" in {where}" if where else ""
        super().__init__(
            f"missing column(s) {self.missing}{place}; available columns: {self.available}"
        )


class SchemaMismatchError(LakeforgeError, ValueError):
    """Two schemas that must agree do not (type change, incompatible partition, ...)."""


def require_columns(columns: Iterable[str], required: Iterable[str], where: str = "") -> None:
    """Raise MissingColumnsError if any of ``required`` is not in ``columns`` (case-sensitive)."""
    have = list(columns)
    missing = [c for c in required if c not in have]
    if missing:
        raise MissingColumnsError(missing, have, where)
