"""boto3 clients built from the env's AWS settings (region, endpoint for moto/LocalStack)."""

from __future__ import annotations

import os
from typing import Any

from lakeforge.errors import InputPathError


def client(service: str, *, region: str | None = None, endpoint_url: str | None = None) -> Any:
    """A boto3 client; ``endpoint_url`` (or ``$LAKEFORGE_AWS_ENDPOINT_URL``) points at moto."""
    import boto3

    endpoint = endpoint_url or os.environ.get("LAKEFORGE_AWS_ENDPOINT_URL")
    return boto3.client(
        service,
        region_name=region or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        endpoint_url=endpoint,
    )


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key/part`` -> ``("bucket", "key/part")`` (s3a:// and s3n:// too)."""
    scheme, sep, rest = uri.partition("://")
    if not sep or scheme not in ("s3", "s3a", "s3n") or not rest:
        raise ValueError(f"{uri!r} is not an s3:// URI")
    bucket, _, key = rest.partition("/")
    return bucket, key


def read_s3_text(uri: str, **client_kwargs: Any) -> str:
    """Read a whole S3 object as UTF-8 text; a missing object is an InputPathError."""
    bucket, key = split_s3_uri(uri)
    s3 = client("s3", **client_kwargs)
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except Exception as exc:  # botocore's ClientError and connection errors
        raise InputPathError(f"cannot read {uri}: {exc}") from exc
    return str(body.decode("utf-8"))
