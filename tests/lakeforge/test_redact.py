"""Secret redaction of config dumps, summaries and log records."""

from __future__ import annotations

import logging

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


def test_logging_filter_masks_messages(caplog: pytest.LogCaptureFixture) -> None:
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

