"""Secret redaction for anything a job logs or writes about itself (config dumps, summaries).

Values under keys that name a secret (password, pass, secret, token, api_key, access_key,
credential, auth, ...) are replaced by ``***``, the whole subtree when such a key holds a mapping
or a list; so are values that look like credentials wherever they appear: AWS access key ids,
the password of ``user:password@`` in URIs, ``Authorization``-style bearer tokens and
``password=...`` / ``"password": "..."`` / ``password='...'`` pairs (a quoted value is masked
whole). Key names stay visible, so a reader still sees *that* a secret was configured. A bare
``key`` is a name (a match key, a dedup key), not a secret; ``access.key``, ``api_key``,
``secret_key``, ``private_key`` are secrets.

Example::

    redact({"db": {"user": "app", "password": "hunter2"}})
    # {'db': {'user': 'app', 'password': '***'}}
    redact_text("jdbc:postgresql://app:hunter2@db/x")   # 'jdbc:postgresql://app:***@db/x'
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

MASK = "***"

# A key is secret when one of its words (split on _ - . and camelCase) is one of these...
_SECRET_WORDS = {
    "password", "passwd", "pwd", "pass", "secret", "token", "apikey", "credential",
    "credentials", "auth", "authorization", "private", "passphrase", "signature",
    "cookie", "sas", "dsn",
}
# ...or ends with one of these (all-caps joined names: DBPASSWORD, GITHUBTOKEN, APIKEY)...
_SECRET_ENDINGS = ("password", "passwd", "passphrase", "secret", "token", "credential",
                   "credentials", "apikey", "accesskey", "secretkey", "privatekey")
# ...or is "key" right after one of these (access.key, api_key, private-key); "key" alone names
# a column (the match key, a dedup key) and is not a secret.
_KEY_QUALIFIERS = {"access", "secret", "private", "api", "signing", "encryption", "master",
                   "account", "shared", "hmac", "ssh", "client", "storage"}
# ...except keys naming where a secret lives or which key is used, not the secret itself.
_NOT_SECRET = {
    "kms_key_id", "key_id", "partition_keys", "partition_key", "primary_key", "sort_key",
    "keys", "key_column", "entity_key", "hash_key", "key_prefix", "session_timezone",
    "spark.sql.session.timezone",
}
_WORD_SPLIT = re.compile(r"[_\-.\s:/]+|(?<=[a-z0-9])(?=[A-Z])")
# The password runs to the LAST '@' of the URI, so a password holding '@' or '/' is masked
# whole (over-masking a query that holds an '@' is the lesser harm); host:port/path is no
# password.
_URI_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^:/@\s]+):"
                           r"(?!\d+/)(?P<pw>[^\s\"'<>]+)@")
_AWS_ACCESS_KEY = re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}")
# key=value, key: value, "key": "value", 'key': 'value', key='value' (kwargs, reprs): a quoted
# value is masked up to its closing quote (or the end of the line), spaces included.
_KEY_VALUE = re.compile(
    r"(?i)(?P<k>[\w.\-]*(?:password|passwd|passphrase|secret|token|api[_-]?key|"
    r"access[_-]?key|private[_-]?key|credential)[\w.\-]*)(?P<kq>[\"']?)(?P<sep>\s*[=:]\s*)"
    r"(?:(?P<q>[\"'])(?:\\.|(?!(?P=q))[^\\\n])*(?P<qe>(?P=q)?)|(?P<v>[^\s,;\"'}&]+))"
)


def is_secret_key(key: str) -> bool:
    """True when a config key names a secret (``db.password``, ``apiToken``, ``DBPASSWORD``,
    ``fs.s3a.access.key``); ``key``, ``primary_key``, ``kms_key_id`` are not."""
    lowered = key.lower()
    if lowered in _NOT_SECRET or lowered.rsplit(".", 1)[-1] in _NOT_SECRET:
        return False
    words = [w.lower() for w in _WORD_SPLIT.split(key) if w]
    for i, word in enumerate(words):
        if word in _SECRET_WORDS or word.endswith(_SECRET_ENDINGS):
            return True
        if word == "key" and i > 0 and words[i - 1] in _KEY_QUALIFIERS:
            return True
    return False


# "NoCredentialsError: Unable to locate credentials" is an exception's name and message, not a
# key and its value.
_EXCEPTION_NAME = re.compile(r"(?i)(?:error|exception|warning)$")


def _mask_key_value(m: re.Match[str]) -> str:
    if not m["kq"] and _EXCEPTION_NAME.search(m["k"]):
        return m.group(0)
    if m["q"]:
        return f"{m['k']}{m['kq']}{m['sep']}{m['q']}{MASK}{m['qe']}"
    return f"{m['k']}{m['kq']}{m['sep']}{MASK}"


def redact_text(text: str) -> str:
    """Mask credentials inside free text: URI passwords, AWS key ids, bearer tokens, k=v.

    Example::

        redact_text("Connection(password='hunter 2', user='app')")
        # "Connection(password='***', user='app')"
    """
    out = _URI_USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    out = _AWS_ACCESS_KEY.sub(MASK, out)
    out = _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", out)
    return _KEY_VALUE.sub(_mask_key_value, out)


def _mask_all(value: Any) -> Any:
    """``value`` with every scalar masked (None kept), mappings and lists keeping their shape."""
    if isinstance(value, Mapping):
        return {k: _mask_all(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_mask_all(v) for v in value]
    return None if value is None else MASK


def redact(value: Any, *, key: str = "") -> Any:
    """A copy of ``value`` (dicts, lists, scalars) with every secret masked; input untouched.

    Everything under a secret-named key is masked, nested mappings and lists included; a child
    is also judged with its parent's name (``{"access": {"key": ...}}`` is ``access.key``)."""
    if key and is_secret_key(key):
        return _mask_all(value)
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            name = str(k)
            if key and not is_secret_key(name) and is_secret_key(f"{key}.{name}"):
                out[k] = _mask_all(v)
            else:
                out[k] = redact(v, key=name)
        return out
    if isinstance(value, (list, tuple)):
        return [redact(v, key=key) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def redact_record(record: logging.LogRecord) -> None:
    """Mask credentials in a log record in place: its message, its traceback, its stack.

    A traceback that held a secret becomes the record's redacted ``exc_text`` and its
    ``exc_info`` is dropped, so no formatter can render the exception again; a record whose
    traceback holds none is left as it is. A message whose arguments do not format is left
    for logging to report."""
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - logging reports a bad format when it emits
        return
    cleaned = redact_text(message)
    if cleaned != message:
        record.msg, record.args = cleaned, None
    if record.exc_info and record.exc_info[0] is not None:
        text = record.exc_text or logging.Formatter().formatException(record.exc_info)
        cleaned = redact_text(text)
        if cleaned != text:
            record.exc_text, record.exc_info = cleaned, None
    elif record.exc_text:
        record.exc_text = redact_text(record.exc_text)
    if record.stack_info:
        record.stack_info = redact_text(record.stack_info)


class RedactingFilter(logging.Filter):
    """A logging filter masking credentials in every record: message and traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


def _redacting_factory(inner: Callable[..., logging.LogRecord]
                       ) -> Callable[..., logging.LogRecord]:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = inner(*args, **kwargs)
        redact_record(record)
        return record

    factory.lakeforge_redacting = True  # type: ignore[attr-defined]
    return factory


def install_log_redaction(logger: logging.Logger | None = None) -> RedactingFilter:
    """Redact every log record of the process from now on, whichever handler writes it.

    Two layers: a log record factory (:func:`logging.setLogRecordFactory`, wrapping the one in
    place) masks each record as any logger makes it, so handlers added later are covered too;
    and a :class:`RedactingFilter` on every handler ``logger`` (default: the root) has now,
    for records made without the factory (:func:`logging.makeLogRecord`, a factory set later
    by someone else). Calling it again adds neither twice."""
    current = logging.getLogRecordFactory()
    if not getattr(current, "lakeforge_redacting", False):
        logging.setLogRecordFactory(_redacting_factory(current))
    target = logger or logging.getLogger()
    flt = RedactingFilter()
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(flt)
    return flt
