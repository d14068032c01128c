"""lakeforge.io's S3 branches, the S3 state store and the S3 preflight, on a moto server
(a real HTTP server on 127.0.0.1 from the session-scoped ``moto_endpoint`` fixture)."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from lakeforge import aws, io
from lakeforge.bookmarks import list_data_files
from lakeforge.config import AwsSettings
from lakeforge.errors import ConfigError, InputPathError
from lakeforge.state import store_for

pytestmark = pytest.mark.aws


@pytest.fixture
def s3(moto_endpoint: str) -> Iterator[Any]:
    """The env's S3 settings pointed at moto (no SSE) for one test; reset afterwards."""
    aws.configure(AwsSettings(endpoint_url=moto_endpoint, region="us-east-1"))
    try:
        yield aws.client("s3")
    finally:
        aws.configure(None)


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"io-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def _kms_key(endpoint: str) -> str:
    return str(aws.client("kms", endpoint_url=endpoint).create_key()["KeyMetadata"]["KeyId"])


def test_write_read_exists_on_moto(bucket: str) -> None:
    uri = f"s3://{bucket}/lake/metadata/runs/r1/run_summary.json"
    assert not io.uri_exists(uri)
    io.write_text(uri, '{"rows": 3, "name": "caf\u00e9"}')
    assert io.read_text(uri) == '{"rows": 3, "name": "caf\u00e9"}'
    assert io.uri_exists(uri)
    assert io.uri_exists(f"s3://{bucket}/lake/metadata")  # a prefix with objects is a folder
    assert io.uri_exists(f"s3a://{bucket}/lake/metadata/runs/")  # s3a:// and a trailing '/'
    assert not io.uri_exists(f"s3://{bucket}/lake/meta")  # a prefix of a name is not a folder
    io.write_text(f"s3://{bucket}/empty.txt", "")
    assert io.read_text(f"s3://{bucket}/empty.txt") == ""


def test_listings_on_moto(bucket: str) -> None:
    base = f"s3://{bucket}/t/_versions/v1"
    for key in ("dt=2024-01-01/part-0.parquet", "dt=2024-01-01/part-1.parquet",
                "dt=2024-01-02/part-0.parquet", "dt=2024-01-02/_SUCCESS",
                "dt=2024-01-02/.part-0.crc", "dt=2024-01-02/notes.txt"):
        io.write_text(f"{base}/{key}", "x")
    assert io.list_subdirs(base) == ["dt=2024-01-01", "dt=2024-01-02"]
    assert io.list_subdirs(f"s3://{bucket}/nothing/here") == []
    assert io.list_files(base, ".parquet") == [
        f"{base}/dt=2024-01-01/part-0.parquet", f"{base}/dt=2024-01-01/part-1.parquet",
        f"{base}/dt=2024-01-02/part-0.parquet"]
    assert io.list_files(f"{base}/dt=2024-01-02") == [
        f"{base}/dt=2024-01-02/notes.txt", f"{base}/dt=2024-01-02/part-0.parquet"]
    assert io.list_files(f"s3://{bucket}/missing") == []
    # a task attempt's and a dynamic overwrite's staging files are hidden by their folder
    for key in ("_temporary/0/dt=2024-01-03/part-9.parquet",
                ".spark-staging-1/dt=2024-01-04/part-8.parquet"):
        io.write_text(f"{base}/{key}", "x")
    assert len(io.list_files(base, ".parquet")) == 3
    # hidden components count below the URI only: under _versions/ the files are listed
    assert io.list_files(f"s3://{bucket}/t/_versions", ".parquet")[0] == (
        f"{base}/dt=2024-01-01/part-0.parquet")
    io.write_text(f"s3://{bucket}/raw/staged/_temporary/0/part-0.csv", "a\n1\n")
    with pytest.raises(InputPathError, match="no data files"):
        io.require_input_path(f"s3://{bucket}/raw/staged")


def test_delete_dir_removes_only_that_prefix_on_moto(bucket: str, s3: Any) -> None:
    for key in ("v1/a.parquet", "v1/sub/b.parquet", "v10/c.parquet"):
        io.write_text(f"s3://{bucket}/t/{key}", "x")
    io.delete_dir(f"s3://{bucket}/t/v1")
    left = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert left == ["t/v10/c.parquet"]  # v10 shares the string prefix, not the folder
    io.delete_dir(f"s3://{bucket}/t/never")  # nothing there: no error
    with pytest.raises(InputPathError, match="whole bucket"):
        io.delete_dir(f"s3://{bucket}")


def _pending(s3: Any, bucket: str, key: str) -> str:
    """An incomplete multipart upload with one part (a write killed before its job commit)."""
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=1, Body=b"x" * 10)
    return str(upload)


def _uploads(s3: Any, bucket: str) -> list[str]:
    return sorted(u["Key"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []))


def test_abort_uploads_and_delete_dir_abort_only_that_prefix_on_moto(bucket: str,
                                                                     s3: Any) -> None:
    for key in ("t/v1/a.parquet", "t/v1/sub/b.parquet", "t/v10/c.parquet", "t/v2/d.parquet"):
        _pending(s3, bucket, key)
    assert io.abort_uploads(f"s3://{bucket}/t/v1") == 2
    assert _uploads(s3, bucket) == ["t/v10/c.parquet", "t/v2/d.parquet"]
    assert io.abort_uploads(f"s3://{bucket}/t/v1") == 0  # nothing left: no error
    io.write_text(f"s3://{bucket}/t/v2/_SUCCESS", "")
    io.delete_dir(f"s3://{bucket}/t/v2")  # its objects and its pending upload
    assert _uploads(s3, bucket) == ["t/v10/c.parquet"]
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="t/v2/")
    assert io.abort_uploads("/tmp/no-such-local-folder") == 0  # local folders have none
    with pytest.raises(InputPathError, match="whole bucket"):
        io.abort_uploads(f"s3://{bucket}")


def test_require_input_path_on_moto(bucket: str) -> None:
    io.write_text(f"s3://{bucket}/raw/contacts/dt=2024-01-01/part-0.json", "{}")
    io.write_text(f"s3://{bucket}/raw/hidden/_SUCCESS", "")
    assert io.require_input_path(f"s3://{bucket}/raw/contacts", "sources.contacts.path")
    with pytest.raises(InputPathError, match="sources.x.path s3://.*/raw/none does not exist"):
        io.require_input_path(f"s3://{bucket}/raw/none", "sources.x.path")
    with pytest.raises(InputPathError, match="no data files"):
        io.require_input_path(f"s3://{bucket}/raw/hidden", "sources.h.path")
    with pytest.raises(InputPathError, match="bucket no-such-bucket-x does not exist"):
        io.require_input_path("s3://no-such-bucket-x/raw", "sources.y.path")


def test_endpoint_comes_from_the_environment_variable(moto_endpoint: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    aws.configure(None)
    monkeypatch.setenv(aws.ENDPOINT_ENV_VAR, moto_endpoint)
    name = f"io-{uuid.uuid4().hex[:12]}"
    aws.client("s3").create_bucket(Bucket=name)
    io.write_text(f"s3://{name}/a.json", "1")
    assert io.read_text(f"s3://{name}/a.json") == "1"
    # the configured aws.endpoint_url wins over the variable
    aws.configure(AwsSettings(endpoint_url="http://127.0.0.1:9"))
    try:
        assert aws.resolve_endpoint() == "http://127.0.0.1:9"
        assert aws.resolve_endpoint("http://explicit:1") == "http://explicit:1"
    finally:
        aws.configure(None)


def test_bookmark_listing_uses_the_endpoint_on_moto(bucket: str) -> None:
    io.write_text(f"s3://{bucket}/raw/c/dt=1/part-0.json", "{}\n")
    io.write_text(f"s3://{bucket}/raw/c/dt=1/_SUCCESS", "")
    io.write_text(f"s3://{bucket}/raw/c/_temporary/x.json", "{}\n")
    files = list_data_files(f"s3://{bucket}/raw/c")
    assert [(f.path, f.size) for f in files] == [(f"s3://{bucket}/raw/c/dt=1/part-0.json", 3)]
    assert list_data_files(f"s3://{bucket}/raw/none") == []
    # s3a:// and s3n:// list the same files, spelled s3:// (the spelling bookmarks keep)
    assert list_data_files(f"s3a://{bucket}/raw/c") == files
    assert list_data_files(f"s3n://{bucket}/raw/c/dt=1/part-0.json") == files


@pytest.mark.parametrize("sse", ["SSE-KMS", "SSE-S3"])
def test_every_write_carries_the_configured_sse_on_moto(sse: str, moto_endpoint: str,
                                                        bucket: str, s3: Any) -> None:
    key_id = _kms_key(moto_endpoint) if sse == "SSE-KMS" else None
    aws.configure(AwsSettings(endpoint_url=moto_endpoint, sse=sse,  # type: ignore[arg-type]
                              kms_key_id=key_id))
    io.write_text(f"s3://{bucket}/lake/metadata/a.json", "{}")
    store = store_for(f"s3://{bucket}/lake/bookmarks")
    version = store.put("locks/job.db", {"owner": "me"}, None)
    store.put("locks/job.db", {"owner": "me", "renewed": 1}, version)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["lake/bookmarks/locks/job.db.json", "lake/metadata/a.json"]
    for key in keys:
        head = s3.head_object(Bucket=bucket, Key=key)
        if sse == "SSE-KMS":
            assert head["ServerSideEncryption"] == "aws:kms"
            assert head["SSEKMSKeyId"].endswith(str(key_id))
        else:
            assert head["ServerSideEncryption"] == "AES256"
            assert "SSEKMSKeyId" not in head


def test_sse_kms_without_a_key_is_refused() -> None:
    with pytest.raises(ConfigError, match="aws.kms_key_id"):
        aws.configure(AwsSettings(sse="SSE-KMS"))
    assert aws.sse_put_args(AwsSettings()) == {}


def test_preflight_bucket_check_on_moto(s3: Any) -> None:
    name = f"pre-{uuid.uuid4().hex[:12]}"
    with pytest.raises(InputPathError) as missing:
        aws.check_bucket(f"s3://{name}/lake")
    assert f"bucket {name} of s3://{name}/lake does not exist" in str(missing.value)
    assert "\n" not in str(missing.value)
    aws.check_bucket(f"s3://{name}/lake", create=True)
    assert s3.head_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 200
    aws.check_bucket(f"s3a://{name}/lake")  # exists now


def test_preflight_unreachable_endpoint_is_one_line() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    aws.configure(AwsSettings(endpoint_url=f"http://127.0.0.1:{port}"))
    try:
        with pytest.raises(InputPathError) as err:
            aws.check_bucket("s3://lakeforge-local/lake")
    finally:
        aws.configure(None)
    message = str(err.value)
    assert f"S3 endpoint http://127.0.0.1:{port} does not answer" in message
    assert "lakeforge dev s3" in message and "\n" not in message


def test_delete_dir_raises_naming_the_keys_s3_refused_stubbed(
        s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Per-key Errors of DeleteObjects (a bucket policy's AccessDenied, an object lock): moto
    answers a delete of the latest version with a delete marker, never a per-key error, so
    this one answer is stubbed."""
    from botocore.stub import Stubber

    prefix = "curated/t/_versions/v1/"
    keys = [f"{prefix}part-{i}.parquet" for i in range(6)]
    stubber = Stubber(s3)
    stubber.add_response("list_multipart_uploads", {"Uploads": []},
                         {"Bucket": "lake", "Prefix": prefix})
    stubber.add_response("list_objects_v2", {"Contents": [{"Key": k} for k in keys],
                                             "KeyCount": 6, "IsTruncated": False},
                         {"Bucket": "lake", "Prefix": prefix})
    stubber.add_response("delete_objects", {
        "Deleted": [{"Key": keys[0]}],
        "Errors": [{"Key": k, "Code": "AccessDenied", "Message": "Access Denied"}
                   for k in keys[1:]]})
    monkeypatch.setattr(aws, "client", lambda *args, **kwargs: s3)
    with stubber, pytest.raises(io.StorageError) as err:
        io.delete_dir("s3://lake/curated/t/_versions/v1")
    message = str(err.value)
    assert message.startswith("delete_dir s3://lake/curated/t/_versions/v1: 5 object(s) not "
                              f"deleted: {keys[1]} (AccessDenied)")
    assert f"{keys[3]} (AccessDenied) and 2 more" in message and "\n" not in message
    assert not isinstance(err.value, FileNotFoundError)


def test_s3_errors_name_the_uri_and_the_bucket_on_moto(bucket: str) -> None:
    missing = f"no-such-bucket-{uuid.uuid4().hex[:8]}"
    for call in (io.uri_exists, io.read_text, io.list_files, io.list_subdirs,
                 lambda uri: io.write_text(uri, "x"), list_data_files):
        with pytest.raises(InputPathError) as err:
            call(f"s3://{missing}/raw/x.json")
        assert f"s3://{missing}/raw/x.json: bucket {missing} does not exist" in str(err.value)
    # a missing key is an InputPathError, which is a FileNotFoundError like a local file's
    with pytest.raises(FileNotFoundError, match=f"read_text s3://{bucket}/absent.json: no such "
                                                "object"):
        io.read_text(f"s3://{bucket}/absent.json")
    assert list_data_files(f"s3://{bucket}/raw/none") == []  # a missing prefix: nothing new


def test_one_s3_object_is_an_input_like_a_local_file_on_moto(
        bucket: str, caplog: pytest.LogCaptureFixture) -> None:
    one = f"s3://{bucket}/raw/orders/a.csv"
    io.write_text(one, "a,b\n1,2\n")
    assert io.require_input_path(one, "sources.o.path") == one
    assert [(f.path, f.size) for f in list_data_files(one)] == [(one, 8)]
    # a key that is an object and a folder prefix: the object is what Spark (S3A) reads, so
    # the check passes, the listing holds the object alone, and a warning names the folder
    both = f"s3://{bucket}/raw/both"
    io.write_text(both, "a\n1\n")
    io.write_text(f"{both}/part-0.csv", "a\n2\n")
    with caplog.at_level("WARNING", logger="lakeforge.io"):
        assert io.require_input_path(both, "sources.b.path") == both
    assert f"sources.b.path {both} names an object and a folder prefix" in caplog.text
    assert [f.path for f in list_data_files(both)] == [both]


@pytest.fixture
def silent_endpoint(moto_endpoint: str) -> Iterator[str]:
    """An S3 endpoint that accepts TCP connections and never answers (the kernel completes the
    handshakes into the listen backlog; nothing reads). moto_endpoint lends dummy credentials."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.mark.timeout(180)
def test_a_silent_endpoint_fails_in_one_line_naming_it(silent_endpoint: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Every client has bounded timeouts and retries (aws.client_config): a read timeout of
    1 s here instead of the default 20 s."""
    monkeypatch.setenv(aws.READ_TIMEOUT_ENV_VAR, "1")
    aws.configure(AwsSettings(endpoint_url=silent_endpoint))
    try:
        with pytest.raises(InputPathError) as err:
            io.require_input_path("s3://lake/raw/orders", "sources.o.path")
        message = str(err.value)
        assert message.startswith("sources.o.path s3://lake/raw/orders cannot be listed at S3 "
                                  f"endpoint {silent_endpoint}: Read timeout")
        assert "\n" not in message
        with pytest.raises(io.StorageError, match=f"read_text s3://lake/a.json: S3 endpoint "
                                                  f"{silent_endpoint} failed: Read timeout"):
            io.read_text("s3://lake/a.json")
        with pytest.raises(io.StorageError, match=f"^state get s3://lake/bookmarks/jobs/j.json: "
                                                  f"S3 endpoint {silent_endpoint} failed: Read "
                                                  "timeout"):
            store_for("s3://lake/bookmarks").get("jobs/j")  # the S3 state store's client
        with pytest.raises(ConfigError, match="cannot list s3://lake/raw"):
            list_data_files("s3://lake/raw")  # pyarrow's S3 file system
    finally:
        aws.configure(None)
    config = aws.client_config()
    assert config.retries == {"mode": "standard", "max_attempts": aws.MAX_ATTEMPTS}
    assert (config.connect_timeout, config.read_timeout) == (aws.CONNECT_TIMEOUT_S, 1.0)
