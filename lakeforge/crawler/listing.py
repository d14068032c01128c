"""List the objects under an include path with pyarrow.fs (local folders and S3, moto too).

Objects that are not data are ignored exactly as Spark and Hive ignore them: a path component
starting with ``.`` or ``_`` (unless it is a ``key=value`` partition folder such as
``_x=1``), ``_SUCCESS``, ``*.crc``, ``_temporary/``, ``_delta_log/``, plus the user's exclude
globs, matched against each object's path relative to the include path with Glue's glob rules
(Java's ``FileSystem.getPathMatcher("glob:...")``): ``*`` within one path component, ``**``
across ``/``, ``?`` one character of a component, ``[a-z]``/``[!a-c]`` one character of a set,
``{csv,avro}`` alternatives (not nested), ``\\`` escapes the next character.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pyarrow.fs as pafs

from lakeforge.errors import ConfigError, InputPathError


@dataclass(frozen=True)
class Root:
    """One include path: its file system, the path inside it, and the URI prefix for catalogs."""

    uri: str  # as given, normalised (absolute local path or s3://bucket/prefix)
    fs: pafs.FileSystem
    base: str  # path inside ``fs`` (bucket/prefix for S3)
    scheme: str  # "s3" or "" (local)

    def uri_of(self, fs_path: str) -> str:
        """The catalog location of a path inside ``fs``."""
        return f"{self.scheme}://{fs_path}" if self.scheme else fs_path

    @property
    def name(self) -> str:
        """The folder name of the include path (the bucket for a bucket root)."""
        return self.base.rstrip("/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class ListedObject:
    path: str  # path inside the file system
    rel_dir: tuple[str, ...]  # folders between the include path and the object
    name: str
    size: int
    info: pafs.FileInfo


def resolve_root(path: str, *, endpoint_url: str | None = None, region: str | None = None,
                 filesystem: pafs.FileSystem | None = None) -> Root:
    """Open the file system of an include path (``s3://`` or local, ``file://`` allowed).

    For S3 the endpoint comes from ``endpoint_url`` or ``$LAKEFORGE_AWS_ENDPOINT_URL``
    (moto, LocalStack); credentials from the usual AWS environment.
    """
    if path.startswith(("s3://", "s3a://", "s3n://")):
        parsed = urlparse(path)
        base = (parsed.netloc + parsed.path).rstrip("/")
        if filesystem is None:
            endpoint = endpoint_url or os.environ.get("LAKEFORGE_AWS_ENDPOINT_URL")
            kwargs: dict[str, object] = {
                "region": region or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
            }
            if endpoint:
                ep = urlparse(endpoint)
                kwargs["endpoint_override"] = ep.netloc or ep.path
                kwargs["scheme"] = ep.scheme or "https"
            filesystem = pafs.S3FileSystem(**kwargs)  # type: ignore[arg-type]
        return Root(f"s3://{base}", filesystem, base, "s3")
    if "://" in path and not path.startswith("file://"):
        raise InputPathError(f"include path {path}: only local folders and s3:// are supported")
    local = path[len("file://"):] if path.startswith("file://") else path
    absolute = str(Path(local).expanduser().resolve())
    return Root(absolute, filesystem or pafs.LocalFileSystem(), absolute, "")


_REGEX_META = set(".^$+{}()|[]\\*?")


def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """A Glue exclude glob as a compiled regex for ``fullmatch`` on a relative object path.

    Mirrors Java's glob syntax (``sun.nio.fs.Globs``), which Glue's exclude patterns document;
    a malformed pattern raises :class:`ConfigError` naming it. Example::

        glob_to_regex("*.{json,txt}").fullmatch("a.json")   # matches
        glob_to_regex("*.json").fullmatch("dt=1/a.json")     # None: * stays in one folder
    """
    def bad(why: str) -> ConfigError:
        return ConfigError(f"exclude pattern {pattern!r}: {why} (Glue glob syntax: * ** ? "
                           "[a-z] [!a-c] {a,b} and \\ to escape)")

    out: list[str] = []
    in_group = False
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        i += 1
        if c == "\\":
            if i == n:
                raise bad("nothing to escape after the final \\")
            out.append(re.escape(pattern[i]))
            i += 1
        elif c == "*":
            if i < n and pattern[i] == "*":
                out.append(".*")
                i += 1
            else:
                out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            close = pattern.find("]", i)
            if close < 0:
                raise bad("'[' without its ']'")
            body = pattern[i:close]
            negate = body[:1] == "!"
            body = body[1:] if negate else body
            if "/" in body:
                raise bad("a bracket expression may not hold '/'")
            if not body:
                raise bad("empty bracket expression []")
            chars = "".join("\\" + ch if ch in "\\^[]" else ch for ch in body)
            out.append(f"(?![/])[{'^' if negate else ''}{chars}]")
            i = close + 1
        elif c == "{":
            if in_group:
                raise bad("groups {...} cannot be nested")
            in_group = True
            out.append("(?:")
        elif c == "}" and in_group:
            in_group = False
            out.append(")")
        elif c == "," and in_group:
            out.append("|")
        else:
            out.append(re.escape(c) if c in _REGEX_META else c)
    if in_group:
        raise bad("'{' without its '}'")
    try:
        return re.compile("".join(out), re.DOTALL)
    except re.error as exc:  # e.g. a reversed range [z-a]
        raise bad(f"not a valid bracket expression ({exc.msg})") from exc


def is_hidden_component(name: str) -> bool:
    """Spark's rule (InMemoryFileIndex.shouldFilterOutPathName) for names readers skip."""
    return ((name.startswith("_") and "=" not in name) or name.startswith(".")
            or name.endswith("._COPYING_"))


def is_non_data(rel_parts: Sequence[str]) -> bool:
    name = rel_parts[-1]
    return any(is_hidden_component(p) for p in rel_parts) or name.endswith(".crc")


def list_objects(
    root: Root,
    *,
    exclude: Sequence[str] = (),
    progress: Callable[[int], None] | None = None,
) -> tuple[list[ListedObject], int, int]:
    """All data-candidate objects under ``root``; returns (objects, ignored, excluded).

    ``ignored`` counts non-data objects (markers, checksums, hidden files), ``excluded`` those
    matched by an exclude glob (:func:`glob_to_regex`). A missing include path raises
    :class:`InputPathError`, a malformed glob :class:`ConfigError`.
    """
    excludes = [glob_to_regex(g) for g in exclude]
    info = root.fs.get_file_info(root.base)
    if info.type == pafs.FileType.NotFound:
        raise InputPathError(f"include path {root.uri} does not exist")
    if info.type == pafs.FileType.File:
        raise InputPathError(f"include path {root.uri} is a file; point the crawler at a folder")
    selector = pafs.FileSelector(root.base, recursive=True, allow_not_found=False)
    try:
        infos = root.fs.get_file_info(selector)
    except OSError as exc:
        raise InputPathError(f"cannot list {root.uri}: {exc}") from exc
    prefix = root.base.rstrip("/") + "/"
    objects: list[ListedObject] = []
    ignored = excluded = 0
    for n, fi in enumerate(infos, 1):
        if progress is not None and n % 5000 == 0:
            progress(n)
        if fi.type != pafs.FileType.File:
            continue
        rel = fi.path[len(prefix):] if fi.path.startswith(prefix) else fi.path
        parts = rel.split("/")
        if is_non_data(parts):
            ignored += 1
            continue
        if any(g.fullmatch(rel) for g in excludes):
            excluded += 1
            continue
        objects.append(ListedObject(fi.path, tuple(parts[:-1]), parts[-1], fi.size or 0, fi))
    if progress is not None:
        progress(len(infos))
    return objects, ignored, excluded
