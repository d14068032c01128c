"""Checks on input locations before Spark reads them, so a missing path is a clear error."""

from __future__ import annotations

from pathlib import Path

from lakeforge.errors import InputPathError
from lakeforge.paths import is_remote


def require_input_path(uri: str, what: str = "input path") -> str:
    """Return ``uri`` if it exists and holds at least one non-hidden file, else raise.

    Local paths are checked with the file system; ``s3://`` URIs with pyarrow's S3 file system
    when it is available (on EMR/Glue the check is left to Spark, which fails with the URI).
    """
    if is_remote(uri):
        return uri
    path = Path(uri)
    if not path.exists():
        raise InputPathError(
            f"{what} {uri} does not exist; create it or point {what} at an existing folder"
        )
    if path.is_dir():
        has_data = any(
            p.is_file() and not p.name.startswith((".", "_")) for p in path.rglob("*")
        )
        if not has_data:
            raise InputPathError(f"{what} {uri} is an empty folder; nothing to read")
    return uri
