"""Job bookmarks with AWS Glue's semantics: what each job has already processed.

Per job and ``transformation_ctx`` the bookmark records the files (path, size, modified time)
that were processed, and by which run. A run asks :meth:`JobBookmarks.select` for the files of
a source it has not processed yet, stages them, and the bookmark advances only when
:meth:`JobBookmarks.commit` is called, after the publish has committed: a run that dies
before that leaves the bookmark where it was, so a rerun processes the same files again.

Options, as Glue's ``--job-bookmark-option``:

* ``job-bookmark-enable``: process new (or changed) files, advance on commit.
* ``job-bookmark-disable``: process everything, never advance.
* ``job-bookmark-pause``: process what is new since the last commit (or the files committed by
  the runs after ``from_run`` up to and including ``to_run``), but do not advance.

A file is new when the bookmark does not hold its URI (normalised: ``s3a://`` and ``s3n://``
are ``s3://``), changed when its size or modification time differs from what it holds. Known
limitation, shared with Glue (whose S3 bookmarks compare the objects' last-modified time): S3's
LastModified has whole-second precision, so an object rewritten with the same size within the
second of the recorded write is not seen as changed. Write new data under new keys (as Spark
and Lakeforge's publish do) rather than overwriting a key in place.

``reset`` forgets everything (Glue's ResetJobBookmark). The state lives in a
:class:`~lakeforge.state.StateStore`: a folder in the lake's bookmarks zone by default, an S3
prefix with conditional writes, or a DynamoDB table.

Example::

    marks = JobBookmarks(store_for(lake.zone("bookmarks")), "customer_propensity")
    new = marks.select("contacts", list_data_files(lake.path("raw", "contacts")))
    ...  # read new files, publish
    marks.commit(run_id)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from lakeforge.errors import ConfigError, InputPathError
from lakeforge.paths import normalize_uri
from lakeforge.state import StateStore, Versioned

log = logging.getLogger(__name__)

ENABLE = "job-bookmark-enable"
DISABLE = "job-bookmark-disable"
PAUSE = "job-bookmark-pause"
OPTIONS = (ENABLE, DISABLE, PAUSE)


@dataclass(frozen=True, order=True)
class FileEntry:
    """One input object as listed: its URI, size in bytes and modification time (ms)."""

    path: str
    size: int
    mtime_ms: int


@dataclass
class _Staged:
    files: dict[str, list[FileEntry]] = field(default_factory=dict)


class JobBookmarks:
    """The bookmark of one job; select -> process -> publish -> commit."""

    def __init__(
        self,
        store: StateStore,
        job_name: str,
        *,
        option: str = ENABLE,
        from_run: str | None = None,
        to_run: str | None = None,
    ) -> None:
        if option not in OPTIONS:
            raise ConfigError(f"bookmark option {option!r} is not one of {list(OPTIONS)}")
        if (from_run or to_run) and option != PAUSE:
            raise ConfigError(
                "job-bookmark-from / job-bookmark-to need --job-bookmark-option job-bookmark-pause"
            )
        self.store = store
        self.job_name = job_name
        self.option = option
        self.from_run = from_run
        self.to_run = to_run
        self._staged = _Staged()
        self._loaded = store.get(self.key)

    @property
    def key(self) -> str:
        return f"jobs/{self.job_name}"

    def _doc(self) -> dict[str, Any]:
        return self._loaded.doc if self._loaded else {"job": self.job_name, "contexts": {},
                                                       "runs": []}

    def processed(self, ctx: str) -> dict[str, FileEntry]:
        """Files the bookmark holds as processed for ``ctx``, by normalised URI
        (:func:`~lakeforge.paths.normalize_uri`: a file recorded as ``s3a://b/k`` is
        ``s3://b/k``, so a source renamed from one spelling to the other is not new)."""
        files = self._doc()["contexts"].get(ctx, {}).get("files", {})
        return {normalize_uri(p): FileEntry(normalize_uri(p), v["size"], v["mtime_ms"])
                for p, v in files.items()}

    def document(self) -> dict[str, Any] | None:
        """The stored bookmark document (None when the job has none)."""
        return self._loaded.doc if self._loaded else None

    def runs(self) -> list[dict[str, Any]]:
        """Committed runs, oldest first: ``{"run_id", "committed_at", "contexts": {...}}``."""
        return list(self._doc()["runs"])

    def select(self, ctx: str, files: Iterable[FileEntry]) -> list[FileEntry]:
        """The files of source ``ctx`` this run should process; they are staged for commit."""
        listed = sorted(files)
        if self.option == DISABLE:
            chosen = listed
        elif self.option == PAUSE and (self.from_run or self.to_run):
            chosen = self._files_in_run_range(ctx, listed)
        else:
            done = self.processed(ctx)
            chosen = [f for f in listed if (seen := done.get(normalize_uri(f.path))) is None
                      or (seen.size, seen.mtime_ms) != (f.size, f.mtime_ms)]
        self._staged.files[ctx] = chosen
        log.info("bookmark %s/%s (%s): %d of %d files to process", self.job_name, ctx,
                 self.option, len(chosen), len(listed))
        return chosen

    def stage(self, ctx: str, files: Iterable[FileEntry]) -> None:
        """Add files to what the next :meth:`commit` records for ``ctx`` (e.g. the other files
        of a partition that is reprocessed whole because one of its files is new)."""
        staged = {normalize_uri(f.path): f for f in self._staged.files.get(ctx, [])}
        staged.update({normalize_uri(f.path): f for f in files})
        self._staged.files[ctx] = sorted(staged.values())

    def staged_files(self) -> dict[str, list[FileEntry]]:
        """What the next :meth:`commit` records, per ``transformation_ctx``."""
        return {ctx: list(files) for ctx, files in self._staged.files.items()}

    def restore_staged(self, staged: dict[str, list[FileEntry]]) -> None:
        """Stage what another process selected (a run's publish phase run apart from its
        write phase commits what the write phase read)."""
        for ctx, files in staged.items():
            self.stage(ctx, files)

    def _files_in_run_range(self, ctx: str, listed: Sequence[FileEntry]) -> list[FileEntry]:
        ids = [r["run_id"] for r in self.runs()]
        for name, rid in (("job-bookmark-from", self.from_run), ("job-bookmark-to", self.to_run)):
            if rid is not None and rid not in ids:
                raise ConfigError(f"{name} {rid!r} is not a committed run of {self.job_name}; "
                                  f"committed runs: {ids}")
        start = ids.index(self.from_run) + 1 if self.from_run else 0
        end = ids.index(self.to_run) + 1 if self.to_run else len(ids)
        wanted = set(ids[start:end])
        files = self._doc()["contexts"].get(ctx, {}).get("files", {})
        paths = {normalize_uri(p) for p, v in files.items() if v.get("run_id") in wanted}
        return [f for f in listed if normalize_uri(f.path) in paths]

    def commit(self, run_id: str) -> bool:
        """Advance the bookmark with the staged files (enable only); True if it advanced."""
        if self.option != ENABLE:
            log.info("bookmark %s not advanced (option %s)", self.job_name, self.option)
            return False
        doc = self._doc()
        doc = {"job": self.job_name, "contexts": {k: {"files": dict(v.get("files", {}))}
                                                  for k, v in doc["contexts"].items()},
               "runs": list(doc["runs"])}
        counts = {}
        for ctx, files in self._staged.files.items():
            entry = doc["contexts"].setdefault(ctx, {"files": {}})
            spelled = {normalize_uri(p): p for p in entry["files"]}
            for f in files:
                path = normalize_uri(f.path)
                if spelled.get(path, path) != path:  # recorded with another spelling
                    del entry["files"][spelled[path]]
                entry["files"][path] = {"size": f.size, "mtime_ms": f.mtime_ms,
                                        "run_id": run_id}
            counts[ctx] = len(files)
        doc["runs"].append({"run_id": run_id, "committed_at": time.time(), "contexts": counts})
        version = self.store.put(self.key, doc, self._loaded.version if self._loaded else None)
        self._loaded = Versioned(doc, version)
        self._staged = _Staged()
        return True

    def rewind(self, to_run: str) -> int:
        """Forget the runs committed after ``to_run`` and the files they recorded; returns the
        number of file entries forgotten (those files count as new again)."""
        ids = [r["run_id"] for r in self.runs()]
        if to_run not in ids:
            raise ConfigError(f"run {to_run!r} is not a committed run of {self.job_name}; "
                              f"committed runs: {ids}")
        later = set(ids[ids.index(to_run) + 1:])
        doc = self._doc()
        dropped = 0
        contexts = {}
        for ctx, entry in doc["contexts"].items():
            kept = {p: v for p, v in entry.get("files", {}).items()
                    if v.get("run_id") not in later}
            dropped += len(entry.get("files", {})) - len(kept)
            contexts[ctx] = {"files": kept}
        new = {"job": self.job_name, "contexts": contexts,
               "runs": [r for r in doc["runs"] if r["run_id"] not in later]}
        version = self.store.put(self.key, new, self._loaded.version if self._loaded else None)
        self._loaded = Versioned(new, version)
        return dropped

    def reset(self) -> None:
        """Forget everything this job processed (the next run processes all files)."""
        self.store.delete(self.key)
        self._loaded = None
        self._staged = _Staged()


def list_data_files(uri: str, *, filesystem: Any = None, recursive: bool = True
                    ) -> list[FileEntry]:
    """List data files under ``uri`` (every level below, or only the files directly under it
    when not ``recursive``) with size and mtime, skipping hidden and bookkeeping objects
    (``_SUCCESS``, ``.crc``, ``_temporary/``, ``.``-prefixed names). A ``uri`` naming one
    file lists that file alone. Local files come back as absolute paths, S3 objects as
    ``s3://bucket/key`` whichever of s3://, s3a://, s3n:// ``uri`` says."""
    import os

    import pyarrow.fs as pafs

    from lakeforge.io import is_hidden

    if filesystem is not None:
        root = uri.split("://", 1)[-1].rstrip("/")
    elif normalize_uri(uri).startswith("s3://"):
        from lakeforge.aws import arrow_s3_filesystem

        filesystem = arrow_s3_filesystem()  # the env's endpoint (moto, MinIO) and region
        root = normalize_uri(uri)[len("s3://"):]
    else:
        # a plain path, never parsed as a URI: '#', '?', '%' and ' ' are legal in folder names
        # (escape_partition_value writes %2F) and a URI parser would cut or refuse them
        local = normalize_uri(uri)
        if "://" in local:
            raise ConfigError(f"cannot list {uri}: only local paths and s3:// URIs are "
                              "supported")
        filesystem = pafs.LocalFileSystem()
        root = os.path.abspath(local)
    bucket = root.split("/", 1)[0] if isinstance(filesystem, pafs.S3FileSystem) else None
    try:
        top = filesystem.get_file_info(root)
        infos = [top] if top.type == pafs.FileType.File else filesystem.get_file_info(
            pafs.FileSelector(root, recursive=recursive, allow_not_found=True))
        # a missing prefix lists nothing; a missing bucket is a wrong URI, not "no new files"
        missing_bucket = (bucket is not None and top.type == pafs.FileType.NotFound
                          and filesystem.get_file_info(bucket).type == pafs.FileType.NotFound)
    except (OSError, ValueError) as exc:  # ValueError: pyarrow's ArrowInvalid
        raise ConfigError(f"cannot list {uri}: {exc}") from exc
    if missing_bucket:
        raise InputPathError(f"cannot list {uri}: bucket {bucket} does not exist")
    # the one spelling bookmarks keep: s3a:// and s3n:// listings come back as s3://
    scheme = "s3://" if normalize_uri(uri).startswith("s3://") else (
        uri.split("://", 1)[0] + "://" if "://" in uri and not uri.startswith("file://") else "")
    out = []
    for info in infos:
        if info.type != pafs.FileType.File:
            continue
        rel = info.path[len(root):].lstrip("/")
        if is_hidden(rel) or rel.endswith(".crc"):
            continue
        mtime = int(info.mtime.timestamp() * 1000) if info.mtime else 0
        out.append(FileEntry(f"{scheme}{info.path}", int(info.size or 0), mtime))
    return sorted(out)
