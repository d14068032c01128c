"""Storage access outside Spark: input checks and small files, local or on S3.

* :func:`require_input_path` checks an input location before Spark reads it, so a missing path
  is a clear error; :func:`read_source` reads a catalog table or a path (the one helper for
  "a table or files");
* :func:`uri_exists`, :func:`read_text`, :func:`write_text`, :func:`list_subdirs`,
  :func:`list_files`, :func:`delete_dir` work on a local path or ``file://`` URI (pyarrow's local
  file system) and on ``s3://`` (also ``s3a://``, ``s3n://``) through boto3 with the env's
  endpoint and SSE (:mod:`lakeforge.aws`): markers, manifests, DDL files, summaries and version
  folders written beside the data.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow.fs as pafs

from lakeforge.errors import InputPathError, LakeforgeError
from lakeforge.paths import is_remote, normalize_uri

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)


class StorageError(LakeforgeError, OSError):
    """S3 refused or failed a request (AccessDenied, a lock, an endpoint that does not answer).

    An OSError, as the local file system's failures, and not a FileNotFoundError: a caller
    that takes "not there" for "nothing to do" must not ignore this. A missing bucket or key is
    an :class:`~lakeforge.errors.InputPathError` (a FileNotFoundError, as a missing local
    file)."""


def require_input_path(uri: str, what: str = "input path") -> str:
    """Return ``uri`` if it exists and holds at least one non-hidden file, else raise.

    Local paths are checked with the file system, ``s3://`` URIs with one listing through
    boto3 (a listing the credentials may not make is left to Spark, which fails with the URI);
    other schemes (hdfs://) are left to Spark.
    """
    if normalize_uri(uri).startswith("s3://"):
        return _require_s3_input(uri, what)
    if is_remote(uri):
        return uri
    path = Path(uri)
    if not path.exists():
        raise InputPathError(
            f"{what} {uri} does not exist; create it or point {what} at an existing folder"
        )
    if path.is_dir():
        has_data = any(p.is_file() and not is_hidden(p.relative_to(path).as_posix())
                       for p in path.rglob("*"))
        if not has_data:
            raise InputPathError(f"{what} {uri} is an empty folder; nothing to read")
    return uri


def _require_s3_input(uri: str, what: str) -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    s3, bucket, key = _s3(uri)
    try:
        if key and _s3_object_exists(s3, bucket, key):
            # One object is read as a file, as a local file is. A key that is also a folder
            # prefix ("k" and "k/..."): S3A (and pyarrow) take the object, so Spark reads that
            # object alone; say so rather than let the folder's files go unread unnoticed.
            page = s3.list_objects_v2(Bucket=bucket, Prefix=f"{key}/", MaxKeys=1)
            if page.get("KeyCount"):
                log.warning("%s %s names an object and a folder prefix %s/; Spark reads the "
                            "object alone: point at %s/* to read the folder's files",
                            what, uri, key, uri.rstrip("/"))
            return uri
        for page in _s3_objects(s3, bucket, key):
            if any(_visible(item["Key"][len(key):], "") for item in page.get("Contents", [])):
                return uri
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        if code == "NoSuchBucket":
            raise InputPathError(f"{what} {uri}: bucket {bucket} does not exist") from exc
        if code in ("AccessDenied", "403"):
            return uri  # may read, may not list: Spark names the path if it cannot read
        raise
    except BotoCoreError as exc:  # no credentials, endpoint down or silent
        from lakeforge.aws import resolve_endpoint

        raise InputPathError(f"{what} {uri} cannot be listed at S3 endpoint "
                             f"{resolve_endpoint() or 'AWS'}: {exc}") from exc
    if uri_exists(uri):
        raise InputPathError(f"{what} {uri} holds no data files (only hidden ones); nothing "
                             "to read")
    raise InputPathError(f"{what} {uri} does not exist; upload the files or point {what} at "
                         "an existing prefix")


def _s3_object_exists(s3: Any, bucket: str, key: str) -> bool:
    """True when ``key`` is an object (HEAD); False when there is none (a folder, nothing)."""
    from botocore.exceptions import ClientError

    try:
        s3.head_object(Bucket=bucket, Key=key)
        return True
    except ClientError as exc:
        if str(exc.response.get("Error", {}).get("Code", "")) in ("404", "NoSuchKey",
                                                                   "NotFound"):
            return False
        raise


# ------------------------------------------------------------- small files, local or S3
#
# Local paths go through pyarrow's local file system; s3:// (s3a://, s3n://) through boto3 with
# the process's S3 settings (lakeforge.aws: endpoint, region, SSE on every write).


def _local(uri: str) -> str | None:
    """The local path of ``uri``, or None when it is an S3 URI."""
    uri = normalize_uri(uri)
    if uri.startswith("s3://"):
        return None
    if "://" in uri:
        raise InputPathError(f"{uri}: only local paths and s3:// URIs are supported here")
    return uri


def _s3(uri: str) -> tuple[Any, str, str]:
    """boto3 S3 client, bucket and key of an s3:// URI (trailing '/' kept off the key)."""
    from lakeforge import aws

    bucket, key = aws.split_s3_uri(normalize_uri(uri))
    return aws.client("s3"), bucket, key.rstrip("/")


def _s3_objects(s3: Any, bucket: str, prefix: str, delimiter: str | None = None
                ) -> Iterator[dict[str, Any]]:
    """Pages of list_objects_v2 under ``prefix`` (a folder: '/' appended unless empty)."""
    kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": f"{prefix}/" if prefix else ""}
    if delimiter:
        kwargs["Delimiter"] = delimiter
    yield from s3.get_paginator("list_objects_v2").paginate(**kwargs)


@contextmanager
def s3_errors(action: str, uri: str) -> Iterator[None]:
    """botocore's errors as lakeforge errors of one line naming ``uri`` (and the bucket)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        bucket = normalize_uri(uri)[len("s3://"):].split("/", 1)[0]
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        if code == "NoSuchBucket":
            raise InputPathError(f"{action} {uri}: bucket {bucket} does not exist") from exc
        if code in ("NoSuchKey", "404", "NotFound"):
            raise InputPathError(f"{action} {uri}: no such object") from exc
        raise StorageError(f"{action} {uri}: {code or 'error'} "
                           f"({error.get('Message') or exc})") from exc
    except BotoCoreError as exc:  # no credentials, endpoint down or silent
        from lakeforge.aws import resolve_endpoint

        raise StorageError(f"{action} {uri}: S3 endpoint {resolve_endpoint() or 'AWS'} "
                           f"failed: {exc}") from exc


def uri_exists(uri: str) -> bool:
    """True when a file or folder (an S3 prefix with objects) exists at ``uri``."""
    path = _local(uri)
    if path is not None:
        return Path(path).exists()
    s3, bucket, key = _s3(uri)
    with s3_errors("uri_exists", uri):
        if key and _s3_object_exists(s3, bucket, key):
            return True
        resp = s3.list_objects_v2(Bucket=bucket, Prefix=f"{key}/" if key else "", MaxKeys=1)
    return bool(resp.get("KeyCount"))


def write_text(uri: str, text: str) -> None:
    """Write a small UTF-8 text file (JSON, SQL, HTML) to a local path or S3 (with the env's
    SSE). Either way a reader sees the old file or the new one, never a part: a local file is
    written under a hidden temporary name in its folder and renamed over the old one; an S3 PUT
    is atomic itself."""
    path = _local(uri)
    if path is not None:
        folder, name = os.path.split(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        temporary = os.path.join(folder, f".{name}.tmp-{os.getpid()}-{threading.get_ident()}")
        try:
            with open(temporary, "wb") as out:
                out.write(text.encode("utf-8"))
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        return
    from lakeforge.aws import sse_put_args

    s3, bucket, key = _s3(uri)
    with s3_errors("write_text", uri):
        s3.put_object(Bucket=bucket, Key=key, Body=text.encode("utf-8"), **sse_put_args())


def read_text(uri: str) -> str:
    """Read a small UTF-8 text file from a local path or S3."""
    path = _local(uri)
    if path is not None:
        return Path(path).read_text(encoding="utf-8")
    s3, bucket, key = _s3(uri)
    with s3_errors("read_text", uri):
        return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read()).decode("utf-8")


def list_subdirs(uri: str) -> list[str]:
    """Names of the immediate sub-folders of ``uri`` (empty when it does not exist)."""
    path = _local(uri)
    if path is not None:
        fs = pafs.LocalFileSystem()
        infos = fs.get_file_info(pafs.FileSelector(path, allow_not_found=True))
        return sorted(i.base_name for i in infos if i.type == pafs.FileType.Directory)
    s3, bucket, key = _s3(uri)
    names = set()
    with s3_errors("list_subdirs", uri):
        for page in _s3_objects(s3, bucket, key, delimiter="/"):
            for common in page.get("CommonPrefixes", []):
                names.add(common["Prefix"].rstrip("/").rsplit("/", 1)[-1])
    return sorted(names)


def is_hidden(relative: str) -> bool:
    """True when a path below a listing's root has a hidden component, as Spark's file index
    decides: a name starting with '.' or with '_' (a partition folder such as ``_c=1``
    excepted): ``_SUCCESS``, ``_temporary/``, ``.spark-staging-*/``, ``.crc`` files.

    Example::

        is_hidden("dt=1/_temporary/0/part-0.parquet")  # True
    """
    return any(p.startswith(".") or (p.startswith("_") and "=" not in p)
               for p in relative.split("/") if p)


def _visible(relative: str, suffix: str, hidden_folders: bool = False) -> bool:
    hidden = is_hidden(relative.rsplit("/", 1)[-1] if hidden_folders else relative)
    return bool(relative) and not hidden and relative.endswith(suffix)


def list_files(uri: str, suffix: str = "", *, hidden_folders: bool = False) -> list[str]:
    """Paths of the data files under ``uri`` (recursive), skipping every path with a hidden
    component below ``uri`` (:func:`is_hidden`: ``_SUCCESS``, files under ``_temporary/``).
    ``hidden_folders=True`` keeps the files inside hidden folders (only hidden file names are
    skipped): what a write in progress has written so far (``_temporary/``, ``__magic/``).

    Local files come back as paths, S3 objects as ``s3://bucket/key`` URIs."""
    path = _local(uri)
    if path is not None:
        root = path.rstrip("/") or "/"
        fs = pafs.LocalFileSystem()
        infos = fs.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True))
        return sorted(i.path for i in infos if i.type == pafs.FileType.File
                      and _visible(i.path[len(root):], suffix, hidden_folders))
    s3, bucket, key = _s3(uri)
    out = []
    with s3_errors("list_files", uri):
        for page in _s3_objects(s3, bucket, key):
            for item in page.get("Contents", []):
                relative = item["Key"][len(key):] if key else item["Key"]
                if not item["Key"].endswith("/") and _visible(relative, suffix,
                                                              hidden_folders):
                    out.append(f"s3://{bucket}/{item['Key']}")
    return sorted(out)


def upload_folder(folder: str | Path, uri: str) -> int:
    """Copy every file under the local ``folder`` to ``uri`` (local or S3, with the env's SSE),
    keeping relative paths; returns the number of files. For tools that build files locally
    (sample data) and put them on the lake."""
    root = Path(folder)
    if not root.is_dir():
        raise InputPathError(f"upload_folder: {folder} is not a folder")
    files = sorted(p for p in root.rglob("*") if p.is_file())
    if _local(uri) is not None:
        for path in files:
            target = Path(_local(uri) or "") / path.relative_to(root)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
        return len(files)
    from lakeforge.aws import sse_put_args

    s3, bucket, key = _s3(uri)
    extra = sse_put_args()
    for path in files:
        name = path.relative_to(root).as_posix()
        s3.upload_file(str(path), bucket, f"{key}/{name}" if key else name,
                       ExtraArgs=extra or None)
    return len(files)


def abort_uploads(uri: str) -> int:
    """Abort the incomplete multipart uploads under an S3 folder (a write killed before its
    job commit, e.g. S3A's magic committer, leaves them: invisible to readers, billed until
    aborted). Returns how many; a local folder has none (0)."""
    if _local(uri) is not None:
        return 0
    s3, bucket, key = _s3(uri)
    if not key:
        raise InputPathError(f"abort_uploads {uri}: refusing to act on a whole bucket")
    return _abort_uploads(s3, bucket, key)


def _abort_uploads(s3: Any, bucket: str, key: str) -> int:
    aborted = 0
    pages = s3.get_paginator("list_multipart_uploads").paginate(Bucket=bucket, Prefix=f"{key}/")
    for page in pages:
        for upload in page.get("Uploads", []):
            s3.abort_multipart_upload(Bucket=bucket, Key=upload["Key"],
                                      UploadId=upload["UploadId"])
            aborted += 1
    return aborted


def delete_dir(uri: str) -> None:
    """Delete a folder and everything under it (local or S3; a missing one is a no-op on S3),
    on S3 its incomplete multipart uploads included (:func:`abort_uploads`)."""
    path = _local(uri)
    if path is not None:
        pafs.LocalFileSystem().delete_dir(path)
        return
    s3, bucket, key = _s3(uri)
    if not key:
        raise InputPathError(f"delete_dir {uri}: refusing to empty a whole bucket")
    failed: list[dict[str, Any]] = []
    with s3_errors("delete_dir", uri):
        _abort_uploads(s3, bucket, key)
        for page in _s3_objects(s3, bucket, key):
            batch = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if batch:
                # Quiet: the answer lists only the keys S3 did not delete (AccessDenied, lock)
                resp = s3.delete_objects(Bucket=bucket,
                                         Delete={"Objects": batch, "Quiet": True})
                failed.extend(resp.get("Errors", []))
    if failed:
        shown = ", ".join(f"{e.get('Key')} ({e.get('Code')})" for e in failed[:3])
        more = f" and {len(failed) - 3} more" if len(failed) > 3 else ""
        raise StorageError(f"delete_dir {uri}: {len(failed)} object(s) not deleted: "
                             f"{shown}{more}")


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
