"""boto3 clients and S3 settings built from the env's ``aws`` section (region, endpoint, SSE).

One process talks to one S3 API: :func:`configure` (called by the job runner and the CLI after
the env is loaded) makes the env's ``aws`` settings the ones every client, every S3 write and
the S3A file system use. The endpoint is, in order: an explicit ``endpoint_url`` argument, the
configured ``aws.endpoint_url``, ``$LAKEFORGE_AWS_ENDPOINT_URL`` (a moto server, LocalStack,
MinIO); none means AWS itself. Credentials come from the standard AWS chain (environment
variables, profile, instance role) for boto3 and S3A alike.

Example::

    configure(env.aws)
    s3 = client("s3")
    s3.put_object(Bucket="b", Key="k", Body=b"x", **sse_put_args())
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from lakeforge.errors import ConfigError, InputPathError

if TYPE_CHECKING:
    from lakeforge.config import AwsSettings

ENDPOINT_ENV_VAR = "LAKEFORGE_AWS_ENDPOINT_URL"
DEFAULT_REGION = "us-east-1"
# Every client's time limits (botocore's defaults, 60 s per read and up to 5 legacy attempts,
# hang ~3 minutes on an endpoint that accepts connections and never answers): a dead endpoint
# fails in about read timeout x attempts (~40 s). The read timeout is per socket read, so large
# transfers are not limited by it. The variables override them (seconds), e.g. in tests.
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 20.0
MAX_ATTEMPTS = 2  # standard retry mode: the first attempt and one retry
CONNECT_TIMEOUT_ENV_VAR = "LAKEFORGE_AWS_CONNECT_TIMEOUT"
READ_TIMEOUT_ENV_VAR = "LAKEFORGE_AWS_READ_TIMEOUT"

_active: AwsSettings | None = None


def configure(settings: AwsSettings | None) -> None:
    """Make ``settings`` (an env's ``aws`` section) the process's S3 settings; None resets."""
    global _active
    if settings is not None and settings.sse == "SSE-KMS" and not settings.kms_key_id:
        raise ConfigError("aws.sse SSE-KMS needs aws.kms_key_id (the KMS key id or ARN)")
    _active = settings


def active_settings() -> AwsSettings:
    """The configured settings, or the defaults (no SSE, endpoint and region from the env)."""
    from lakeforge.config import AwsSettings

    return _active if _active is not None else AwsSettings()


def resolve_endpoint(explicit: str | None = None) -> str | None:
    """The S3 API endpoint: ``explicit``, else ``aws.endpoint_url``, else the env variable."""
    return (explicit or active_settings().endpoint_url
            or os.environ.get(ENDPOINT_ENV_VAR) or None)


def region_name(explicit: str | None = None) -> str:
    """``explicit``, else ``aws.region``, else ``$AWS_DEFAULT_REGION``, else us-east-1."""
    return (explicit or active_settings().region or os.environ.get("AWS_DEFAULT_REGION")
            or DEFAULT_REGION)


def timeouts() -> tuple[float, float]:
    """(connect, read) timeouts in seconds: ``$LAKEFORGE_AWS_CONNECT_TIMEOUT`` and
    ``$LAKEFORGE_AWS_READ_TIMEOUT``, else :data:`CONNECT_TIMEOUT_S`, :data:`READ_TIMEOUT_S`."""
    out = []
    for var, default in ((CONNECT_TIMEOUT_ENV_VAR, CONNECT_TIMEOUT_S),
                         (READ_TIMEOUT_ENV_VAR, READ_TIMEOUT_S)):
        text = os.environ.get(var, "").strip()
        try:
            out.append(float(text) if text else default)
        except ValueError:
            raise ConfigError(f"${var} {text!r} is not a number of seconds") from None
    return out[0], out[1]


def client_config(config: Any = None) -> Any:
    """botocore Config with Lakeforge's time limits and retries, ``config`` merged over it."""
    from botocore.config import Config

    connect, read = timeouts()
    base = Config(connect_timeout=connect, read_timeout=read,
                  retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS})
    return base.merge(config) if config is not None else base


def client(service: str, *, region: str | None = None, endpoint_url: str | None = None,
           config: Any = None) -> Any:
    """A boto3 client; the endpoint (a moto server in tests) as :func:`resolve_endpoint` says,
    with bounded timeouts and retries (:func:`client_config`; ``config`` merged over them)."""
    import boto3

    return boto3.client(service, region_name=region_name(region),
                        endpoint_url=resolve_endpoint(endpoint_url),
                        config=client_config(config))


def sse_put_args(settings: AwsSettings | None = None) -> dict[str, str]:
    """boto3 ``put_object`` / ``create_multipart_upload`` arguments for the configured SSE."""
    aws = settings or active_settings()
    if aws.sse == "SSE-S3":
        return {"ServerSideEncryption": "AES256"}
    if aws.sse == "SSE-KMS":
        if not aws.kms_key_id:
            raise ConfigError("aws.sse SSE-KMS needs aws.kms_key_id (the KMS key id or ARN)")
        return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": aws.kms_key_id}
    return {}


# Spark SQL conf that routes file-source writes through Hadoop's PathOutputCommitter factory
# (the s3a jar set's spark-hadoop-cloud), so s3:// writes use the magic committer; local files
# keep the classic FileOutputCommitter. Dynamic partition overwrite is not supported by it.
MAGIC_COMMITTER_SQL_CONF: dict[str, str] = {
    "spark.sql.sources.commitProtocolClass":
        "org.apache.spark.internal.io.cloud.PathOutputCommitProtocol",
    "spark.sql.parquet.output.committer.class":
        "org.apache.spark.internal.io.cloud.BindingParquetOutputCommitter",
}


def s3a_conf(settings: AwsSettings | None = None) -> dict[str, str]:
    """Hadoop conf (without the ``spark.hadoop.`` prefix) that maps ``s3://``, ``s3a://`` and
    ``s3n://`` to S3A with the endpoint, path-style access, region and SSE of ``settings`` (EMR
    maps s3n:// to its S3 file system too; Hadoop 3's own s3n:// is a stub that refuses).

    Local and standalone sessions only: on EMR and Glue ``s3://`` stays EMRFS / Glue's own.
    """
    aws = settings or active_settings()
    conf = {
        "fs.s3.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "fs.s3a.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "fs.s3n.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "fs.AbstractFileSystem.s3.impl": "org.apache.hadoop.fs.s3a.S3A",
        "fs.AbstractFileSystem.s3n.impl": "org.apache.hadoop.fs.s3a.S3A",
        "fs.s3a.endpoint.region": region_name(aws.region),
    }
    # S3A's magic committer: tasks upload straight to the destination as pending multipart
    # uploads, the job commit completes them; no data file is renamed (copied) on S3. It takes
    # effect where Spark uses PathOutputCommitProtocol (see MAGIC_COMMITTER_SQL_CONF).
    for scheme in ("s3", "s3a", "s3n"):
        conf[f"mapreduce.outputcommitter.factory.scheme.{scheme}"] = (
            "org.apache.hadoop.fs.s3a.commit.S3ACommitterFactory")
    conf["fs.s3a.committer.name"] = "magic"
    conf["fs.s3a.committer.magic.enabled"] = "true"
    # Keep directory markers above files (Hadoop 3.4's default, the Spark 4 lines' S3A): 3.3's
    # "delete" sends a bulk delete of the parent markers after every file written (a main-job
    # run on S3: ~240 of its ~2,550 requests). Readers older than Hadoop 3.2.2 / 3.3.1 may take
    # a kept marker for an empty directory; spark.conf can set it back to "delete".
    conf["fs.s3a.directory.marker.retention"] = "keep"
    endpoint = aws.endpoint_url or os.environ.get(ENDPOINT_ENV_VAR) or None
    if endpoint:
        conf["fs.s3a.endpoint"] = endpoint
        # moto, MinIO and LocalStack serve buckets as paths, not as host names.
        conf["fs.s3a.path.style.access"] = "true"
        conf["fs.s3a.connection.ssl.enabled"] = str(endpoint.startswith("https://")).lower()
    if aws.sse != "none":
        conf["fs.s3a.server-side-encryption-algorithm"] = aws.sse
        if aws.sse == "SSE-KMS":
            if not aws.kms_key_id:
                raise ConfigError("aws.sse SSE-KMS needs aws.kms_key_id (the KMS key id or ARN)")
            conf["fs.s3a.server-side-encryption.key"] = aws.kms_key_id
    return conf


def s3a_credentials_conf() -> dict[str, str]:
    """The credentials boto3 resolves now (environment, profile, role), as S3A settings.

    For a JVM started before they were set (a reused session: tests, notebooks): S3A's own
    provider chain reads the JVM's environment, fixed when it started."""
    import boto3

    found = boto3.Session().get_credentials()
    if found is None:
        return {}
    creds = found.get_frozen_credentials()
    conf = {"fs.s3a.access.key": creds.access_key, "fs.s3a.secret.key": creds.secret_key}
    if creds.token:
        conf["fs.s3a.session.token"] = creds.token
        conf["fs.s3a.aws.credentials.provider"] = (
            "org.apache.hadoop.fs.s3a.TemporaryAWSCredentialsProvider")
    else:
        conf["fs.s3a.aws.credentials.provider"] = (
            "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider")
    return conf


def arrow_s3_filesystem() -> Any:
    """pyarrow's S3 file system on the configured endpoint and region (for listings); a
    private CA in ``$AWS_CA_BUNDLE`` (boto3's variable: a local HTTPS server) is trusted too."""
    from urllib.parse import urlparse

    import pyarrow.fs as pafs

    connect, read = timeouts()
    kwargs: dict[str, Any] = {
        "region": region_name(), "connect_timeout": connect, "request_timeout": read,
        "retry_strategy": pafs.AwsStandardS3RetryStrategy(max_attempts=MAX_ATTEMPTS)}
    if os.environ.get("AWS_CA_BUNDLE"):
        kwargs["tls_ca_file_path"] = os.environ["AWS_CA_BUNDLE"]
    endpoint = resolve_endpoint()
    if endpoint:
        parsed = urlparse(endpoint)
        kwargs["endpoint_override"] = parsed.netloc or parsed.path
        kwargs["scheme"] = parsed.scheme or "https"
    return pafs.S3FileSystem(**kwargs)


def retryable_aws_error(exc: BaseException, *, throttling_only: bool = False) -> bool:
    """Whether ``exc`` is an AWS error worth calling again, by botocore's standard retry mode's
    own checkers: throttling (Throttling..., TooManyRequests, SlowDown, HTTP 429, ...) and,
    unless ``throttling_only``, transient ones (RequestTimeout, HTTP 5xx, connection and read
    errors). For callers that retry beyond botocore's attempts (kept low so that a dead
    endpoint fails fast): long polls, catalog calls of big crawls."""
    try:
        from botocore.awsrequest import AWSResponse
        from botocore.exceptions import BotoCoreError, ClientError
        from botocore.retries.standard import (
            RetryContext,
            ThrottledRetryableChecker,
            TransientRetryableChecker,
        )
    except ImportError:  # no botocore: not an AWS call
        return False
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        context = RetryContext(
            attempt_number=1, parsed_response=exc.response,
            http_response=AWSResponse("", status, {}, None) if status else None)
    elif isinstance(exc, BotoCoreError):
        context = RetryContext(attempt_number=1, caught_exception=exc)
    else:
        return False
    if ThrottledRetryableChecker().is_retryable(context):
        return True
    return not throttling_only and bool(TransientRetryableChecker().is_retryable(context))


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key/part`` -> ``("bucket", "key/part")`` (s3a:// and s3n:// too)."""
    scheme, sep, rest = uri.partition("://")
    if not sep or scheme not in ("s3", "s3a", "s3n") or not rest:
        raise ValueError(f"{uri!r} is not an s3:// URI")
    bucket, _, key = rest.partition("/")
    return bucket, key


def check_bucket(uri: str, *, create: bool = False) -> None:
    """Preflight of an ``s3://`` location: the endpoint answers and the bucket exists (created
    when ``create``). Fails with one line naming the bucket and the endpoint, in seconds."""
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, _ = split_s3_uri(uri)
    where = resolve_endpoint() or "AWS"
    s3 = client("s3", config=Config(connect_timeout=3, read_timeout=10,
                                    retries={"max_attempts": 1}))
    try:
        s3.head_bucket(Bucket=bucket)
        return
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code not in ("404", "NoSuchBucket"):
            raise InputPathError(f"bucket {bucket} of {uri} is not usable at {where}: "
                                 f"{code or exc}") from exc
    except BotoCoreError as exc:
        raise InputPathError(f"S3 endpoint {where} does not answer ({exc}); start it "
                             "(`lakeforge dev s3`) or fix aws.endpoint_url / "
                             f"${ENDPOINT_ENV_VAR}") from exc
    if not create:
        raise InputPathError(f"bucket {bucket} of {uri} does not exist at {where}; create it "
                             "or set aws.create_bucket: true")
    region = region_name()
    kwargs: dict[str, Any] = {"Bucket": bucket}
    if region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    s3.create_bucket(**kwargs)


def read_s3_text(uri: str, **client_kwargs: Any) -> str:
    """Read a whole S3 object as UTF-8 text; a missing object is an InputPathError."""
    bucket, key = split_s3_uri(uri)
    s3 = client("s3", **client_kwargs)
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except Exception as exc:  # botocore's ClientError and connection errors
        raise InputPathError(f"cannot read {uri}: {exc}") from exc
    return str(body.decode("utf-8"))
