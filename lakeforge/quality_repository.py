"""PyDeequ's ``pydeequ.repository`` names on the lake's storage (quality/ itself writes no files).

PyDeequ code keeps working with only the import changed::

    from lakeforge.quality_repository import *      # was: from pydeequ.repository import *

    metrics_file = FileSystemMetricsRepository.helper_metrics_file(spark, "metrics.json")
    repository = FileSystemMetricsRepository(spark, metrics_file)   # local path or s3://
    key = ResultKey(spark, ResultKey.current_milli_time(), {"tag": "hello"})

The file is Deequ's JSON format (``AnalysisResultSerde``): Deequ's own
FileSystemMetricsRepository reads what this one writes and the other way round.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakeforge import io
from lakeforge.paths import is_remote, normalize_uri
from lakeforge.quality_gate import LakeMetricsStorage
from quality import repository as _repository
from quality.repository import InMemoryMetricsRepository, MetricsStorage, ResultKey

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


class VersionedLakeMetricsStorage(LakeMetricsStorage):
    """:class:`~lakeforge.quality_gate.LakeMetricsStorage` with compare-and-swap writes
    (:class:`quality.repository.VersionedMetricsStorage`), so concurrent saves lose nothing.

    Local: the version is the SHA-256 of the bytes read; a write compares and replaces (temporary
    file + rename) under an ``fcntl`` lock on ``.<name>.lock`` beside the file. S3: the version
    is the ETag; the PUT carries ``If-Match: <etag>`` (``If-None-Match: *`` for a new object).
    """

    def read_versioned(self, path: str) -> tuple[str | None, object]:
        if is_remote(path):
            from botocore.exceptions import ClientError

            from lakeforge import aws

            bucket, key = aws.split_s3_uri(normalize_uri(path))
            try:
                obj = aws.client("s3").get_object(Bucket=bucket, Key=key)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                    return None, None
                raise io.StorageError(f"read {path}: {exc}") from exc
            return bytes(obj["Body"].read()).decode("utf-8"), obj["ETag"]
        data = _read_bytes(_local(path))
        return (None if data is None else data.decode("utf-8")), _digest(data)

    def write_if_unchanged(self, path: str, text: str, version: object) -> bool:
        if is_remote(path):
            return _s3_put_if(path, text, version)
        local = Path(_local(path))
        local.parent.mkdir(parents=True, exist_ok=True)
        with open(local.parent / f".{local.name}.lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                if _digest(_read_bytes(str(local))) != version:
                    return False
                fd, temporary = tempfile.mkstemp(dir=local.parent, prefix=f".{local.name}.")
                with os.fdopen(fd, "w", encoding="utf-8") as out:
                    out.write(text)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(temporary, local)  # readers never see a half-written file
                return True
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def _local(path: str) -> str:
    return path[len("file://"):] if path.startswith("file://") else path


def _read_bytes(path: str) -> bytes | None:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        return None


def _digest(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


def _s3_put_if(path: str, text: str, version: object) -> bool:
    from botocore.exceptions import ClientError

    from lakeforge import aws

    bucket, key = aws.split_s3_uri(normalize_uri(path))
    condition: dict[str, Any] = {"IfNoneMatch": "*"} if version is None else {
        "IfMatch": str(version)}
    try:
        aws.client("s3").put_object(Bucket=bucket, Key=key, Body=text.encode("utf-8"),
                                    **condition, **aws.sse_put_args())
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("PreconditionFailed", "ConditionalRequestConflict", "412", "409",
                    "NoSuchKey"):  # If-Match on an object deleted since: changed too
            return False
        raise io.StorageError(f"write {path}: {code} ({exc})") from exc
    return True


class FileSystemMetricsRepository(_repository.FileSystemMetricsRepository):
    """:class:`quality.repository.FileSystemMetricsRepository` whose file lives on the lake's
    storage (:class:`VersionedLakeMetricsStorage`: a local path or s3://)
    unless ``storage`` says otherwise."""

    def __init__(self, spark_session: SparkSession | None = None, path: str | None = None,
                 *, storage: MetricsStorage | None = None) -> None:
        super().__init__(spark_session, path, storage=storage or VersionedLakeMetricsStorage())


__all__ = ["FileSystemMetricsRepository", "InMemoryMetricsRepository", "ResultKey"]
