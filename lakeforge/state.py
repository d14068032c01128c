"""Small JSON documents with compare-and-swap writes: the storage under bookmarks and locks.

Three backends with one interface:

* :class:`LocalStateStore`: a folder (the lake's bookmarks zone); a per-key ``fcntl`` lock makes
  the read-compare-write atomic between processes on one machine or a shared POSIX mount.
* :class:`S3StateStore`: one object per key; S3 conditional requests (``If-None-Match: *`` to
  create, ``If-Match: <etag>`` to replace and to delete) make it atomic without any other
  service.
* :class:`DynamoDBStateStore`: one item per key with a numeric ``version`` and a
  ``ConditionExpression``.

``put(key, doc, expected=v)`` succeeds only when the stored version is still ``v`` (``None``
means "must not exist") and raises :class:`ConcurrentUpdateError` otherwise.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lakeforge.errors import ConfigError, LakeforgeError
from lakeforge.io import s3_errors


class ConcurrentUpdateError(LakeforgeError):
    """Someone else changed the document since it was read."""


@dataclass(frozen=True)
class Versioned:
    doc: dict[str, Any]
    version: str


class StateStore(ABC):
    """Compare-and-swap storage of JSON documents by key."""

    @abstractmethod
    def get(self, key: str) -> Versioned | None: ...

    @abstractmethod
    def put(self, key: str, doc: dict[str, Any], expected: str | None) -> str:
        """Write ``doc`` if the current version is ``expected``; return the new version."""

    @abstractmethod
    def delete(self, key: str, expected: str | None = None) -> bool:
        """Delete (only if still at ``expected`` when given); True if something was deleted."""

    @abstractmethod
    def keys(self, prefix: str = "") -> list[str]: ...


def _check_key(key: str) -> str:
    parts = key.split("/")
    if not key or any(p in ("", ".", "..") for p in parts):
        raise ConfigError(f"state key {key!r} is not valid: no empty, '.' or '..' parts")
    return key


class LocalStateStore(StateStore):
    """Documents as ``<root>/<key>.json``; the version is a counter stored in the document."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / f"{_check_key(key)}.json"

    @contextmanager
    def _locked(self, key: str) -> Iterator[None]:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(f"{path}.lock", "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _read(self, key: str) -> Versioned | None:
        try:  # no is_file() first: a delete between the two would raise FileNotFoundError
            data = json.loads(self._path(key).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        return Versioned(data["doc"], str(data["version"]))

    def get(self, key: str) -> Versioned | None:
        return self._read(key)

    def put(self, key: str, doc: dict[str, Any], expected: str | None) -> str:
        with self._locked(key):
            current = self._read(key)
            found = current.version if current else None
            if found != expected:
                raise ConcurrentUpdateError(
                    f"{self._path(key)} changed underneath us (expected version {expected}, "
                    f"found {found})"
                )
            version = str(int(found or 0) + 1)
            path = self._path(key)
            # Write a temp file and rename: a reader never sees half a document.
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"version": version, "doc": doc}, fh, indent=1, sort_keys=True)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
            return version

    def delete(self, key: str, expected: str | None = None) -> bool:
        with self._locked(key):
            current = self._read(key)
            if current is None:
                return False
            if expected is not None and current.version != expected:
                raise ConcurrentUpdateError(f"{self._path(key)} changed before delete")
            self._path(key).unlink()
            return True

    def keys(self, prefix: str = "") -> list[str]:
        if not self.root.is_dir():
            return []
        out = []
        for p in self.root.rglob("*.json"):
            key = p.relative_to(self.root).as_posix()[: -len(".json")]
            if key.startswith(prefix):
                out.append(key)
        return sorted(out)


class S3StateStore(StateStore):
    """Documents as S3 objects ``s3://bucket/prefix/<key>.json``; the version is the ETag."""

    def __init__(self, uri: str, client: Any) -> None:
        from lakeforge.aws import split_s3_uri

        self.bucket, prefix = split_s3_uri(uri.rstrip("/") + "/")
        self.prefix = prefix.rstrip("/")
        self.s3 = client

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{_check_key(key)}.json" if self.prefix else f"{key}.json"

    def _uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def get(self, key: str) -> Versioned | None:
        from botocore.exceptions import ClientError

        with s3_errors("state get", self._uri(key)):
            try:
                obj = self.s3.get_object(Bucket=self.bucket, Key=self._key(key))
            except ClientError as exc:
                if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
                    return None
                raise
            return Versioned(json.loads(obj["Body"].read()), obj["ETag"].strip('"'))

    def put(self, key: str, doc: dict[str, Any], expected: str | None) -> str:
        from botocore.exceptions import ClientError

        from lakeforge.aws import sse_put_args

        kwargs: dict[str, Any] = {"IfNoneMatch": "*"} if expected is None else {
            "IfMatch": f'"{expected}"'}
        kwargs.update(sse_put_args())  # the env's aws.sse, like every object Lakeforge writes
        with s3_errors("state put", self._uri(key)):
            try:
                resp = self.s3.put_object(
                    Bucket=self.bucket, Key=self._key(key), ContentType="application/json",
                    Body=json.dumps(doc, sort_keys=True).encode("utf-8"), **kwargs,
                )
            except ClientError as exc:
                code = exc.response["Error"]["Code"]
                if code in ("PreconditionFailed", "ConditionalRequestConflict", "412",
                            "NoSuchKey"):
                    raise ConcurrentUpdateError(
                        f"{self._uri(key)} changed underneath us ({code})") from exc
                raise
        return str(resp["ETag"]).strip('"')

    def delete(self, key: str, expected: str | None = None) -> bool:
        """With ``expected``: one ``DeleteObject`` with ``If-Match: <etag>``, so S3 compares and
        deletes in one step. A get, a compare here and an unconditional delete would remove a
        lease that a successor wrote between the two requests. S3 has honoured If-Match on
        DeleteObject in general purpose buckets since September 2025 (moto does too); an
        S3-compatible server that ignores the header silently reopens that window."""
        from botocore.exceptions import ClientError

        if expected is None:
            if self.get(key) is None:
                return False
            with s3_errors("state delete", self._uri(key)):
                self.s3.delete_object(Bucket=self.bucket, Key=self._key(key))
            return True
        with s3_errors("state delete", self._uri(key)):
            try:
                self.s3.delete_object(Bucket=self.bucket, Key=self._key(key),
                                      IfMatch=f'"{expected}"')
            except ClientError as exc:
                code = exc.response["Error"]["Code"]
                if code in ("NoSuchKey", "404"):  # If-Match on a missing key: 404
                    return False
                if code in ("PreconditionFailed", "ConditionalRequestConflict", "412", "409"):
                    raise ConcurrentUpdateError(
                        f"{self._uri(key)} changed before delete ({code})") from exc
                raise
        return True

    def keys(self, prefix: str = "") -> list[str]:
        base = f"{self.prefix}/" if self.prefix else ""
        out = []
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=base + prefix):
            for item in page.get("Contents", []):
                if item["Key"].endswith(".json"):
                    out.append(item["Key"][len(base) : -len(".json")])
        return sorted(out)


class DynamoDBStateStore(StateStore):
    """Documents as items ``{pk: key, version: n, doc: json}`` in a DynamoDB table."""

    def __init__(self, table: str, client: Any) -> None:
        self.table = table
        self.ddb = client

    def get(self, key: str) -> Versioned | None:
        resp = self.ddb.get_item(TableName=self.table, Key={"pk": {"S": _check_key(key)}},
                                 ConsistentRead=True)
        item = resp.get("Item")
        if not item:
            return None
        return Versioned(json.loads(item["doc"]["S"]), item["version"]["N"])

    def put(self, key: str, doc: dict[str, Any], expected: str | None) -> str:
        from botocore.exceptions import ClientError

        version = str(int(expected or 0) + 1)
        item = {"pk": {"S": _check_key(key)}, "version": {"N": version},
                "doc": {"S": json.dumps(doc, sort_keys=True)}}
        if expected is None:
            cond: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
        else:
            cond = {"ConditionExpression": "version = :v",
                    "ExpressionAttributeValues": {":v": {"N": expected}}}
        try:
            self.ddb.put_item(TableName=self.table, Item=item, **cond)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise ConcurrentUpdateError(
                    f"dynamodb table {self.table} item {key} changed underneath us"
                ) from exc
            raise
        return version

    def delete(self, key: str, expected: str | None = None) -> bool:
        from botocore.exceptions import ClientError

        kwargs: dict[str, Any] = {"ReturnValues": "ALL_OLD"}
        if expected is not None:
            # Gone already: False, as the other stores say (not "changed before delete").
            kwargs.update(ConditionExpression="attribute_not_exists(pk) OR version = :v",
                          ExpressionAttributeValues={":v": {"N": expected}})
        try:
            resp = self.ddb.delete_item(TableName=self.table, Key={"pk": {"S": key}}, **kwargs)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise ConcurrentUpdateError(f"{self.table}/{key} changed before delete") from exc
            raise
        return bool(resp.get("Attributes"))

    def keys(self, prefix: str = "") -> list[str]:
        out = []
        paginator = self.ddb.get_paginator("scan")
        for page in paginator.paginate(TableName=self.table, ProjectionExpression="pk"):
            out += [i["pk"]["S"] for i in page["Items"] if i["pk"]["S"].startswith(prefix)]
        return sorted(out)

    @staticmethod
    def create_table(client: Any, table: str) -> None:
        """Create the table (pk string hash key, on-demand billing) if it does not exist."""
        existing = client.list_tables().get("TableNames", [])
        if table in existing:
            return
        client.create_table(
            TableName=table, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        )


def store_for(uri: str, *, region: str | None = None, endpoint_url: str | None = None
              ) -> StateStore:
    """``/local/folder`` | ``s3://bucket/prefix`` | ``dynamodb://table`` -> a store."""
    from lakeforge.aws import client

    if uri.startswith("dynamodb://"):
        return DynamoDBStateStore(uri[len("dynamodb://"):],
                                  client("dynamodb", region=region, endpoint_url=endpoint_url))
    if uri.startswith(("s3://", "s3a://")):
        return S3StateStore(uri, client("s3", region=region, endpoint_url=endpoint_url))
    if "://" in uri and not uri.startswith("file://"):
        raise ConfigError(f"state store {uri!r}: use a local folder, s3://... or dynamodb://TABLE")
    return LocalStateStore(uri[len("file://"):] if uri.startswith("file://") else uri)
