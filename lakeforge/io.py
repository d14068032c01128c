"""Storage access outside Spark: input checks and small files, local or on S3.

* :func:`require_input_path` checks an input location before Spark reads it, so a missing path
  is a clear error; :func:`read_source` reads a catalog table or a path (the one helper for
  "a table or files");
* :func:`uri_exists`, :func:`read_text`, :func:`write_text`, :func:`list_subdirs`,
  :func:`list_files`, :func:`delete_dir` work on a local path, ``file://`` or ``s3://`` (also
  ``s3a://``, ``s3n://``) URI through pyarrow's file systems: markers, manifests, DDL files and
  version folders written beside the data.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow.fs as pafs

from lakeforge.errors import InputPathError
from lakeforge.paths import is_remote, normalize_uri

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


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
    uri = normalize_uri(uri)
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


# ------------------------------------------------------------- reading a table or a path


def source_format(path: str, given: str | None = None) -> str:
    """The format to read ``path`` with: ``given``, else by suffix (``.csv``, ``.json`` /
    ``.jsonl`` / ``.ndjson``; compressed suffixes ignored), else parquet."""
    if given:
        return given
    name = path.rstrip("/").rsplit("/", 1)[-1].lower()
    for packed in (".gz", ".bz2", ".zst", ".snappy"):
        name = name.removesuffix(packed)
    suffix = name.rsplit(".", 1)[-1] if "." in name else ""
    return {"csv": "csv", "json": "json", "jsonl": "json", "ndjson": "json"}.get(suffix,
                                                                                 "parquet")


def read_source(spark: SparkSession, *, table: str | None = None, path: str | None = None,
                file_format: str | None = None, infer_schema: bool = False) -> DataFrame:
    """A catalog table (``database.table``) or the files at ``path`` (checked first with
    :func:`require_input_path`); CSV is read with its header, as strings unless
    ``infer_schema``. Exactly one of ``table`` and ``path``.

    Example::

        df = read_source(spark, table="lakeforge.contacts_enriched")
        df = read_source(spark, path="s3://bucket/raw/orders/", file_format="csv")
    """
    if (table is None) == (path is None):
        raise InputPathError("read_source: give exactly one of a table (database.table) or a "
                             "path")
    if table is not None:
        return spark.table(table)
    assert path is not None
    require_input_path(path, "input path")
    kind = source_format(path, file_format)
    reader = spark.read.format(kind)
    if kind == "csv":
        reader = reader.option("header", "true").option("inferSchema",
                                                        "true" if infer_schema else "false")
    return reader.load(path)
