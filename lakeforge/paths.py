"""Lake zones and URIs: ``s3://bucket/prefix/<zone>/...`` on AWS, a local folder otherwise.

The zones are raw, curated, features, quarantine, bookmarks and metadata. Every path a job
writes is built here, so that nothing can be written outside the configured zones, and
partition values are escaped Hive-style (exactly as Spark and Hive do) so that no value can
escape its table's folder.

Example::

    lake = Lake.from_env(env)
    lake.table_uri("curated", "sales")             # /abs/.lake/curated/sales
    partition_path(lake.table_uri("curated", "sales"), {"country": "a/../b"})
    # /abs/.lake/curated/sales/country=a%2F..%2Fb
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from lakeforge.errors import ConfigError

ZONES = ("raw", "curated", "features", "quarantine", "bookmarks", "metadata")
LAKE_ROOT_ENV_VAR = "LAKEFORGE_LAKE_ROOT"
DEFAULT_LOCAL_ROOT = "./.lake"
HIVE_DEFAULT_PARTITION = "__HIVE_DEFAULT_PARTITION__"

# The characters Hive's FileUtils.escapePathName and Spark's ExternalCatalogUtils escape.
_ESCAPED = {chr(c) for c in range(0x01, 0x20)} | set('"#%\'*/:=?\\\x7f{[]^')
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def is_remote(uri: str) -> bool:
    """True for object-store / cluster file system URIs (s3://, s3a://, hdfs://, ...)."""
    return bool(re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", uri)) and not uri.startswith("file://")


def normalize_uri(uri: str) -> str:
    """One spelling per location, for comparing what Spark, a catalog and a listing return:
    ``file:///a/b/`` and ``file:/a/b`` -> ``/a/b``; ``s3a://`` and ``s3n://`` -> ``s3://``; no
    trailing ``/``. Percent-encoding is kept (see :func:`listed_path`)."""
    for prefix in ("file://", "file:"):
        if uri.startswith(prefix):
            uri = "/" + uri[len(prefix):].lstrip("/")
            break
    uri = re.sub(r"^s3[an]://", "s3://", uri)
    return uri.rstrip("/") or "/"


def listed_path(uri: str, listed: set[str]) -> str:
    """The listed path of a file Spark names by URI (``file:///a/b%252Fc`` -> ``/a/b%2Fc``):
    Spark percent-encodes the path, a listing does not. Unknown files come back unquoted."""
    from urllib.parse import unquote

    path = normalize_uri(uri) if uri.startswith("file:") else uri
    for candidate in (path, unquote(path)):
        if candidate in listed:
            return candidate
    return unquote(path)


def join_uri(base: str, *parts: str) -> str:
    """Join path parts onto a local path or URI with '/', refusing parts that could escape."""
    out = base.rstrip("/")
    for part in parts:
        for piece in str(part).strip("/").split("/"):
            if piece in ("", ".", ".."):
                raise ConfigError(
                    f"path part {part!r} is not allowed under {base}: no empty, '.' or '..' parts"
                )
            out = f"{out}/{piece}"
    return out


def escape_partition_value(value: Any) -> str:
    """Hive-style escape of one partition value (null and '' -> __HIVE_DEFAULT_PARTITION__)."""
    if value is None:
        return HIVE_DEFAULT_PARTITION
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, datetime):
        text = value.strftime("%Y-%m-%d %H:%M:%S")
    elif isinstance(value, date):
        text = value.isoformat()
    else:
        text = str(value)
    if text == "":
        return HIVE_DEFAULT_PARTITION
    return "".join(f"%{ord(c):02X}" if c in _ESCAPED else c for c in text)


def unescape_partition_value(text: str) -> str | None:
    """Inverse of :func:`escape_partition_value` (``__HIVE_DEFAULT_PARTITION__`` -> None)."""
    if text == HIVE_DEFAULT_PARTITION:
        return None
    if "%" not in text:  # the common case, called for every folder of a crawl
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "%" and re.fullmatch(r"[0-9A-Fa-f]{2}", text[i + 1 : i + 3]):
            out.append(chr(int(text[i + 1 : i + 3], 16)))
            i += 3
        else:
            out.append(c)
            i += 1
    return "".join(out)


def validate_identifier(name: str, what: str = "name") -> str:
    """Check a database/table/column name is a plain identifier (letters, digits, '_')."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(
            f"{what} {name!r} is not a valid identifier: use letters, digits and '_', "
            "starting with a letter or '_'"
        )
    return name


def partition_fragment(spec: Mapping[str, Any]) -> str:
    """``{"dt": "2024-01-01", "country": "GB"}`` -> ``dt=2024-01-01/country=GB``."""
    parts = []
    for key, value in spec.items():
        validate_identifier(key, "partition column")
        parts.append(f"{key}={escape_partition_value(value)}")
    return "/".join(parts)


def partition_path(table_uri: str, spec: Mapping[str, Any]) -> str:
    """The folder of one partition under ``table_uri``; the value can never leave that folder."""
    if not spec:
        return table_uri.rstrip("/")
    return f"{table_uri.rstrip('/')}/{partition_fragment(spec)}"


def parse_partition_fragment(fragment: str) -> dict[str, str | None]:
    """``dt=2024-01-01/country=GB`` -> ``{"dt": "2024-01-01", "country": "GB"}``."""
    out: dict[str, str | None] = {}
    for piece in fragment.strip("/").split("/"):
        if "=" not in piece:
            raise ValueError(f"{piece!r} in {fragment!r} is not a key=value partition folder")
        key, _, value = piece.partition("=")
        out[unescape_partition_value(key) or key] = unescape_partition_value(value)
    return out


def resolve_local_root(configured: str | None) -> str:
    """``$LAKEFORGE_LAKE_ROOT`` beats the configured root; local roots become absolute paths."""
    root = os.environ.get(LAKE_ROOT_ENV_VAR) or configured or DEFAULT_LOCAL_ROOT
    if is_remote(root):
        return root.rstrip("/")
    if root.startswith("file://"):
        root = root[len("file://") :]
    return str(Path(root).expanduser().resolve())


@dataclass(frozen=True)
class Lake:
    """The lake's root and the URI of each zone."""

    root: str
    zones: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, root: str, zones: Mapping[str, str] | None = None,
                      *, allow_env_override: bool = True) -> Lake:
        """Build from a root and optional per-zone relocations (absolute URIs or sub-folders)."""
        resolved = resolve_local_root(root) if allow_env_override else (
            root.rstrip("/") if is_remote(root) else str(Path(root).expanduser().resolve())
        )
        unknown = sorted(set(zones or {}) - set(ZONES))
        if unknown:
            raise ConfigError(f"lake.zones: unknown zone(s) {unknown}; zones are {list(ZONES)}")
        mapping: dict[str, str] = {}
        for zone in ZONES:
            custom = (zones or {}).get(zone)
            if custom and (is_remote(custom) or custom.startswith("/")):
                mapping[zone] = custom.rstrip("/")
            else:
                mapping[zone] = join_uri(resolved, custom or zone)
        return cls(root=resolved, zones=mapping)

    @classmethod
    def from_env(cls, env: Any) -> Lake:
        """Build from an :class:`~lakeforge.config.EnvConfig` (local root may come from env var)."""
        local = env.kind in ("local", "standalone")
        return cls.from_settings(env.lake.root, env.lake.zones, allow_env_override=local)

    @property
    def is_remote(self) -> bool:
        return is_remote(self.root)

    def zone(self, name: str) -> str:
        """URI of a zone; an unknown zone name is an error naming the valid ones."""
        if name not in self.zones:
            raise ConfigError(f"unknown lake zone {name!r}; zones are {list(ZONES)}")
        return self.zones[name]

    def path(self, zone: str, *parts: str) -> str:
        """A path inside a zone, e.g. ``lake.path("raw", "sales")``."""
        return join_uri(self.zone(zone), *parts) if parts else self.zone(zone)

    def table_uri(self, zone: str, table: str, database: str | None = None) -> str:
        """Folder of a table: ``<zone>/[<database>/]<table>``."""
        validate_identifier(table, "table name")
        if database:
            validate_identifier(database, "database name")
            return self.path(zone, database, table)
        return self.path(zone, table)

    def resolve(self, zone: str, path: str) -> str:
        """An input path: absolute URIs/paths are kept, relative ones are taken inside ``zone``."""
        if is_remote(path) or path.startswith(("/", "file://")):
            return path
        return self.path(zone, path)

    def contains(self, uri: str) -> bool:
        """True when ``uri`` lies inside one of the lake's zones (what publish may write to)."""
        target = _normalise(uri)
        return any(
            target == _normalise(z) or target.startswith(_normalise(z) + "/")
            for z in self.zones.values()
        )

    def require_inside(self, uri: str, what: str = "output") -> str:
        """Raise unless ``uri`` is inside a configured zone; returns it unchanged."""
        if not self.contains(uri):
            raise ConfigError(
                f"{what} {uri} is outside the lake's zones ({', '.join(self.zones.values())}); "
                "refusing to write there"
            )
        return uri


def _normalise(uri: str) -> str:
    uri = normalize_uri(uri)
    if is_remote(uri):
        scheme, _, rest = uri.partition("://")
        scheme = "s3" if scheme in ("s3a", "s3n") else scheme
        parts = [p for p in rest.split("/") if p not in ("", ".")]
        if ".." in parts:
            return f"{scheme}://<invalid>"
        return f"{scheme}://" + "/".join(parts)
    return os.path.normpath(os.path.abspath(uri))
