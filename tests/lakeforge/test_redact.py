"""Secret redaction of config dumps, summaries and log records."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator

import pytest

from lakeforge.redact import (
    MASK,
    RedactingFilter,
    install_log_redaction,
    is_secret_key,
    redact,
    redact_text,
)


@pytest.mark.parametrize("key", [
    "password", "db.password", "DB_PASSWORD", "apiToken", "api_key", "aws_secret_access_key",
    "spark.hadoop.fs.s3a.secret.key", "client-secret", "Authorization", "credentials",
    "pass", "db_pass", "DBPASSWORD", "DB_PASSWD", "GITHUBTOKEN", "secret_key", "private_key",
    "access_key", "aws_access_key_id", "AWSSECRETACCESSKEY",
])
def test_secret_keys(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize("key", [
    "kms_key_id", "partition_keys", "primary_key", "entity_key", "keys", "region", "database",
    "spark.sql.session.timeZone", "name", "key", "matching.key", "key_column", "sort_keys",
    "passed_constraints", "max_tokens",
])
def test_not_secret_keys(key: str) -> None:
    assert not is_secret_key(key)


def test_redact_nested_config_copy() -> None:
    cfg = {"aws": {"region": "eu-west-1", "kms_key_id": "arn:aws:kms:k",
                   "secret_access_key": "wJalrXUtnFEMI"},
           "spark": {"conf": {"spark.hadoop.fs.s3a.access.key": "AKIAABCDEFGHIJKLMNOP",
                              "spark.executor.memory": "2g"}},
           "jdbc": ["postgres://app:hunter2@db:5432/x"], "password": None, "token": ""}
    out = redact(cfg)
    assert out["aws"] == {"region": "eu-west-1", "kms_key_id": "arn:aws:kms:k",
                          "secret_access_key": MASK}
    assert out["spark"]["conf"] == {"spark.hadoop.fs.s3a.access.key": MASK,
                                    "spark.executor.memory": "2g"}
    assert out["jdbc"] == [f"postgres://app:{MASK}@db:5432/x"]
    assert out["password"] is None and out["token"] == MASK  # empty string is masked too
    assert cfg["aws"]["secret_access_key"] == "wJalrXUtnFEMI"  # the input is untouched


def test_redact_text_patterns() -> None:
    assert redact_text("token=abc123 user=x") == f"token={MASK} user=x"
    assert redact_text('{"password": "p@ss"}') == f'{{"password": "{MASK}"}}'
    assert redact_text("key AKIAABCDEFGHIJKLMNOP used") == f"key {MASK} used"
    assert redact_text("Authorization: Bearer eyJhbGciOi.xyz") == f"Authorization: Bearer {MASK}"
    assert redact_text("s3://bucket/path/password_reset.csv") == \
        "s3://bucket/path/password_reset.csv"
    assert redact_text("") == ""


@pytest.fixture
def restore_record_factory() -> Iterator[None]:
    factory = logging.getLogRecordFactory()
    yield
    logging.setLogRecordFactory(factory)


def test_logging_filter_masks_messages(caplog: pytest.LogCaptureFixture,
                                       restore_record_factory: None) -> None:
    logger = logging.getLogger("test_redact.logger")
    logger.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO, logger="test_redact.logger"):
        logger.info("connecting with %s", "postgres://app:hunter2@db/x")
        logger.info("plain %d", 3)
    assert "hunter2" not in caplog.text and f"app:{MASK}@db" in caplog.text
    assert "plain 3" in caplog.text
    root = logging.getLogger("test_redact.root")
    root.addHandler(logging.NullHandler())
    install_log_redaction(root)
    install_log_redaction(root)
    assert sum(isinstance(f, RedactingFilter) for h in root.handlers for f in h.filters) == 1


@pytest.mark.parametrize(("text", "expected"), [
    ("{'password': 'hunter2'}", f"{{'password': '{MASK}'}}"),  # a Python dict repr
    ("Connection(password='hunter2', user='app')", f"Connection(password='{MASK}', user='app')"),
    ('password="hunter2"', f'password="{MASK}"'),
    ('{"password": "hunter 2 extra", "user": "app"}', f'{{"password": "{MASK}", "user": "app"}}'),
    ("{'token': 'it\\'s mine'}", f"{{'token': '{MASK}'}}"),  # an escaped quote inside
    ('password: "unterminated value', f'password: "{MASK}'),
    ("postgresql://app:p@ss@db/x", f"postgresql://app:{MASK}@db/x"),
    ("postgresql://app:pa/ss@db/x", f"postgresql://app:{MASK}@db/x"),
    ('{"url": "postgresql://app:p@ss@db/x", "mail": "a@b.c"}',
     f'{{"url": "postgresql://app:{MASK}@db/x", "mail": "a@b.c"}}'),
])
def test_redact_text_masks_quoted_values_and_uri_passwords_whole(text: str, expected: str
                                                                 ) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize("text", [
    "key_column='id'", "Matching(key='customer_id', cluster='entity_id')",
    "http://host:8080/path/@me", "postgresql://db:5432/x", "passed: 3 of 4",
    "NoCredentialsError: Unable to locate credentials", "InvalidTokenException: expired",
])
def test_redact_text_leaves_what_is_no_secret(text: str) -> None:
    assert redact_text(text) == text


def test_a_secret_named_key_holding_a_mapping_or_list_is_masked_whole() -> None:
    cfg = {"credentials": {"user": "u", "pass": "hunter2", "extra": {"n": 1, "none": None}},
           "auth": {"value": "s3cr3t"}, "tokens": None, "api_token": ["a", {"b": "c"}],
           "DBPASSWORD": "x", "DB_PASSWD": "y", "access": {"key": "k", "region": "r"}}
    assert redact(cfg) == {
        "credentials": {"user": MASK, "pass": MASK, "extra": {"n": MASK, "none": None}},
        "auth": {"value": MASK}, "tokens": None, "api_token": [MASK, {"b": MASK}],
        "DBPASSWORD": MASK, "DB_PASSWD": MASK, "access": {"key": MASK, "region": "r"}}


def test_a_match_or_dedup_key_is_a_column_name_not_a_secret() -> None:
    summary = {"matching": {"key": "customer_id", "cluster": "entity_id"},
               "config": {"dedup": {"key": "id"}, "sort_keys": ["a"]}}
    assert redact(summary) == summary


def _failing_connect() -> None:
    raise RuntimeError("connect failed: postgresql://app:hunter2@db/x")


def test_a_traceback_is_redacted_in_a_handler_added_after_install(
        restore_record_factory: None) -> None:
    logger = logging.getLogger("test_redact.late")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    stream = io.StringIO()
    install_log_redaction(logger)
    install_log_redaction(logger)  # once is enough; again adds nothing
    handler = logging.StreamHandler(stream)  # added after the install
    logger.addHandler(handler)
    try:
        try:
            _failing_connect()
        except RuntimeError:
            logger.exception("job failed with token=%s", "abc123")
        logger.info("plain %d", 3, stack_info=True)
    finally:
        logger.removeHandler(handler)
        logger.propagate, logger.level = True, logging.NOTSET
    text = stream.getvalue()
    assert "hunter2" not in text and "abc123" not in text
    assert f"job failed with token={MASK}" in text
    assert f"RuntimeError: connect failed: postgresql://app:{MASK}@db/x" in text
    assert "Traceback (most recent call last)" in text and "plain 3" in text


def test_the_handler_filter_redacts_a_traceback_another_handler_formatted_first() -> None:
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, None)
    try:
        _failing_connect()
    except RuntimeError:
        record.exc_info = sys.exc_info()
    first = io.StringIO()
    logging.StreamHandler(first).handle(record)  # caches the raw traceback in exc_text
    assert "hunter2" in first.getvalue()
    second = io.StringIO()
    handler = logging.StreamHandler(second)
    handler.addFilter(RedactingFilter())
    handler.handle(record)
    assert "hunter2" not in second.getvalue() and f"app:{MASK}@db" in second.getvalue()
    assert record.exc_info is None  # nothing can render the exception again


def test_a_traceback_without_a_secret_keeps_its_exception() -> None:
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed %s", ("a",), None)
    try:
        raise ValueError("no secret here")
    except ValueError:
        record.exc_info = sys.exc_info()
    assert RedactingFilter().filter(record)
    assert record.exc_info is not None and record.exc_text is None
    assert record.getMessage() == "failed a"
