"""Storage access outside Spark: input checks and small files, local or on S3.

* :func:`require_input_path` checks an input location before Spark reads it, so a missing path
  is a clear error;
* :func:`uri_exists`, :func:`read_text`, :func:`write_text`, :func:`list_subdirs`,
  :func:`list_files`, :func:`delete_dir` work on a local path, ``file://`` or ``s3://`` (also
  ``s3a://``, ``s3n://``) URI through pyarrow's file systems: markers, manifests, DDL files and
  version folders written beside the data.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.fs as pafs

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


# ------------------------------------------------------------- small files, local or S3


def _fs(uri: str) -> tuple[pafs.FileSystem, str]:
    """pyarrow file system + path for a local path or an s3:// (s3a://, s3n://) URI."""
    if uri.startswith(("s3a://", "s3n://")):
        uri = "s3://" + uri.split("://", 1)[1]
    if uri.startswith("file://"):
        uri = uri[len("file://"):]
    if "://" not in uri:
        return pafs.LocalFileSystem(), uri
    fs, path = pafs.FileSystem.from_uri(uri)
    return fs, path


def uri_exists(uri: str) -> bool:
    """True when a file or folder (an S3 prefix with objects) exists at ``uri``."""
    fs, path = _fs(uri)
    info = fs.get_file_info(path)
    if info.type != pafs.FileType.NotFound:
        return True
    if isinstance(fs, pafs.LocalFileSystem):
        return False
    return bool(fs.get_file_info(pafs.FileSelector(path, allow_not_found=True)))


def write_text(uri: str, text: str) -> None:
    """Write a small UTF-8 text file (JSON, SQL) to a local path or S3."""
    fs, path = _fs(uri)
    parent = path.rsplit("/", 1)[0]
    if parent:
        fs.create_dir(parent, recursive=True)
    with fs.open_output_stream(path) as out:
        out.write(text.encode("utf-8"))


def read_text(uri: str) -> str:
    """Read a small UTF-8 text file from a local path or S3."""
    fs, path = _fs(uri)
    with fs.open_input_stream(path) as src:
        return bytes(src.read()).decode("utf-8")


def list_subdirs(uri: str) -> list[str]:
    """Names of the immediate sub-folders of ``uri`` (empty when it does not exist)."""
    fs, path = _fs(uri)
    infos = fs.get_file_info(pafs.FileSelector(path, allow_not_found=True))
    return sorted(i.base_name for i in infos if i.type == pafs.FileType.Directory)


def list_files(uri: str, suffix: str = "") -> list[str]:
    """Paths of the data files under ``uri`` (recursive), skipping hidden ``_``/``.`` files."""
    fs, path = _fs(uri)
    infos = fs.get_file_info(pafs.FileSelector(path, recursive=True, allow_not_found=True))
    return sorted(
        i.path for i in infos
        if i.type == pafs.FileType.File
        and not i.base_name.startswith(("_", "."))
        and i.base_name.endswith(suffix)
    )




def delete_dir(uri: str) -> None:
    """Delete a folder and everything under it (local or S3)."""
    fs, path = _fs(uri)
    fs.delete_dir(path)
