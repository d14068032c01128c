"""The crawl: list, classify, group, then register through a :class:`~lakeforge.catalog.Catalog`
with Glue's policies, and report what was registered and what was skipped.

Policies (Glue's names):

* ``schema_change_policy``: ``UPDATE_IN_DATABASE`` (Glue's default "update the table
  definition": the table gets the columns the files hold now - new columns added, changed types
  applied, columns gone from every file removed, each change reported) or ``LOG`` (keep the
  catalog's schema; differences are logged and reported). ``add_new_columns_only=True`` is
  Glue's ``CrawlerOutput.Tables.AddOrUpdateBehavior = MergeNewColumns``: new columns are added,
  existing ones are never removed or retyped (those differences are reported as not applied).
* ``delete_behavior`` for registered partitions or tables whose folders no longer hold data:
  ``LOG`` (report only), ``DELETE_FROM_DATABASE`` (drop them) or ``DEPRECATE_IN_DATABASE``
  (tables get the ``DEPRECATED_BY_CRAWLER`` property; partitions are reported).
* ``recrawl_policy``: ``CRAWL_EVERYTHING`` reads every folder; ``CRAWL_NEW_FOLDERS_ONLY`` still
  lists the include paths but reads only folders that are not registered partitions of an
  existing table. As in Glue's incremental crawls it forces both policies above to ``LOG``
  (an explicit other value is a :class:`ConfigError`, as Glue's API rejects it), makes no schema
  change, deletes nothing, and adds no new table once the include path has crawler tables: a new
  folder becomes a partition only when its columns already fit the table's (and it is similar),
  otherwise it is skipped with the reason.
* ``partitions_inherit_from_table``: Glue's crawler option "Update all new and existing
  partitions with metadata from the table" (``CrawlerOutput.Partitions.AddOrUpdateBehavior =
  InheritFromTable``): after a full crawl updates a table, its registered partitions whose
  columns or storage format differ from the table's are rewritten with the table's (locations
  kept), and the report counts them (``partitions_updated``). Without it, a table-level change
  leaves old partitions with their old columns (Athena then fails text tables with
  HIVE_PARTITION_SCHEMA_MISMATCH). New partitions always take the table's schema.
* ``table_grouping_policy``: ``None`` (schema similarity decides, see
  :mod:`lakeforge.crawler.grouping`) or ``CombineCompatibleSchemas`` (compatible folders share
  one table whatever their columns).
* ``table_threshold``: the most tables one crawl may detect; more fails the crawl with
  :class:`TableThresholdExceeded` before anything is written to the catalog (the database
  itself is created first).

A folder is registered only when every non-empty data object in it is readable and fits the
table: a corrupt, unreadable or unknown object keeps its whole folder out (a reader would fail
on it), and both the object and the folder appear in the report's ``skipped`` list.

Example::

    report = crawl(["/lake/raw/sales"], database="raw", catalog=get_catalog(env, spark))
    report.to_json()
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Literal, Protocol, runtime_checkable

import pyarrow.fs as pafs

from lakeforge.catalog.athena_ddl import (
    Projection,
    date_projection,
    enum_projection,
    integer_projection,
    projection_properties,
)
from lakeforge.catalog.base import Catalog, Column, Partition, TableSpec
from lakeforge.crawler.classify import (
    SAMPLE_BYTES,
    SAMPLE_RECORDS,
    FileSchema,
    HeaderMode,
    UnreadableObject,
    classify,
)
from lakeforge.crawler.grouping import (
    SIMILARITY_THRESHOLD,
    STATISTICS_KEYS,
    TABLE_GROUPING_POLICIES,
    Folder,
    Skipped,
    TableGroupingPolicy,
    TablePlan,
    describe_layout,
    finalize_columns,
    jaccard,
    make_table,
    merge_columns,
    plan_tables,
    sanitize_name,
    spark_read_notes,
    unique_name,
)
from lakeforge.crawler.hive_types import TypeConflict
from lakeforge.crawler.listing import (
    ListedObject,
    Root,
    glob_to_regex,
    list_objects,
    resolve_root,
)
from lakeforge.errors import ConfigError, LakeforgeError
from lakeforge.paths import normalize_uri, unescape_partition_value, validate_identifier

log = logging.getLogger(__name__)

RecrawlPolicy = Literal["CRAWL_EVERYTHING", "CRAWL_NEW_FOLDERS_ONLY"]
SchemaChangePolicy = Literal["UPDATE_IN_DATABASE", "LOG"]
DeleteBehavior = Literal["LOG", "DELETE_FROM_DATABASE", "DEPRECATE_IN_DATABASE"]
Progress = Callable[[str, int, "int | None"], None]

RECRAWL_POLICIES = ("CRAWL_EVERYTHING", "CRAWL_NEW_FOLDERS_ONLY")
SCHEMA_CHANGE_POLICIES = ("UPDATE_IN_DATABASE", "LOG")
DELETE_BEHAVIORS = ("LOG", "DELETE_FROM_DATABASE", "DEPRECATE_IN_DATABASE")
DEPRECATED_PROPERTY = "DEPRECATED_BY_CRAWLER"
CRAWLER_PROPERTY = "UPDATED_BY_CRAWLER"  # Glue's marker of crawler-managed tables
CRAWLER_NAME = "lakeforge"
_INT = re.compile(r"^-?\d+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@runtime_checkable
class PartitionSchemaInheritor(Protocol):
    """A catalog backend that can give registered partitions their table's schema (both of
    Lakeforge's backends: glue_api and spark_sql)."""

    def inherit_partition_schemas(self, database: str, table: str) -> int: ...


class TableThresholdExceeded(LakeforgeError):
    """The crawl detected more tables than ``table_threshold`` allows (Glue's TableThreshold);
    nothing was written to the catalog. ``report`` holds what the crawl found (no tables)."""

    def __init__(self, message: str, report: CrawlReport, locations: list[str]) -> None:
        super().__init__(message)
        self.report = report
        self.locations = locations


@dataclass
class TableReport:
    """One table the crawl registered or checked."""

    name: str
    location: str
    format: str
    columns: list[tuple[str, str]]
    partition_keys: list[str]
    partitions_added: int = 0
    partitions_already_present: int = 0
    compression: str | None = None
    created: bool = False
    schema_changes: list[str] = field(default_factory=list)
    partitions_missing: list[tuple[str | None, ...]] = field(default_factory=list)
    partitions_deleted: int = 0
    notes: list[str] = field(default_factory=list)
    partitions_updated: int = 0
    """Registered partitions given the table's schema (``partitions_inherit_from_table``)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "location": self.location,
            "format": self.format,
            "compression": self.compression,
            "columns": [{"name": n, "type": t} for n, t in self.columns],
            "partition_keys": list(self.partition_keys),
            "partitions_added": self.partitions_added,
            "partitions_already_present": self.partitions_already_present,
            "created": self.created,
            "schema_changes": list(self.schema_changes),
            "partitions_missing": [list(v) for v in self.partitions_missing],
            "partitions_deleted": self.partitions_deleted,
            "partitions_updated": self.partitions_updated,
            "notes": list(self.notes),
        }


@dataclass
class CrawlReport:
    """What a crawl found: tables, skipped objects/folders (with reasons) and counts."""

    database: str
    tables: list[TableReport] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    objects_listed: int = 0
    objects_ignored: int = 0
    objects_excluded: int = 0
    objects_read: int = 0
    tables_missing: list[str] = field(default_factory=list)
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds spent listing, reading objects, and in catalog calls (the rest)."""
    error: str | None = None
    """Why the crawl failed before writing (table threshold exceeded), else None."""

    def table(self, name: str) -> TableReport:
        for t in self.tables:
            if t.name == name:
                return t
        raise KeyError(f"no table {name!r} in the crawl report; tables: "
                       f"{[t.name for t in self.tables]}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "tables": [t.to_dict() for t in self.tables],
            "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped],
            "objects_listed": self.objects_listed,
            "objects_ignored": self.objects_ignored,
            "objects_excluded": self.objects_excluded,
            "objects_read": self.objects_read,
            "tables_missing": list(self.tables_missing),
            "seconds": round(self.seconds, 3),
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "error": self.error,
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)


def _check_choice(value: str, allowed: Sequence[str], what: str) -> None:
    if value not in allowed:
        raise ConfigError(f"{what} {value!r} is not valid; use one of {list(allowed)}")


def _resolve_policies(
    recrawl_policy: RecrawlPolicy, schema_change_policy: SchemaChangePolicy | None,
    delete_behavior: DeleteBehavior | None,
) -> tuple[SchemaChangePolicy, DeleteBehavior]:
    """The policies in force; Glue's API rejects anything but LOG for incremental crawls
    ("The SchemaChangePolicy for "Crawl new folders only" Amazon S3 target can have only LOG
    DeleteBehavior value and LOG UpdateBehavior value")."""
    if schema_change_policy is not None:
        _check_choice(schema_change_policy, SCHEMA_CHANGE_POLICIES, "schema_change_policy")
    if delete_behavior is not None:
        _check_choice(delete_behavior, DELETE_BEHAVIORS, "delete_behavior")
    if recrawl_policy == "CRAWL_NEW_FOLDERS_ONLY":
        if schema_change_policy not in (None, "LOG") or delete_behavior not in (None, "LOG"):
            raise ConfigError(
                "recrawl_policy CRAWL_NEW_FOLDERS_ONLY allows only LOG for schema_change_policy "
                f"and delete_behavior (got {schema_change_policy or 'unset'}, "
                f"{delete_behavior or 'unset'}; Glue's API rejects it too): leave them unset "
                "or LOG (CLI: --schema-change log --delete-behavior log), or crawl everything")
        return "LOG", "LOG"
    return schema_change_policy or "UPDATE_IN_DATABASE", delete_behavior or "LOG"


def crawl(
    paths: Sequence[str] | str,
    *,
    database: str,
    catalog: Catalog,
    table_prefix: str = "",
    recrawl_policy: RecrawlPolicy = "CRAWL_EVERYTHING",
    schema_change_policy: SchemaChangePolicy | None = None,
    delete_behavior: DeleteBehavior | None = None,
    table_level: int | None = None,
    table_grouping_policy: TableGroupingPolicy | None = None,
    table_threshold: int | None = None,
    add_new_columns_only: bool = False,
    partitions_inherit_from_table: bool = False,
    exclude: Sequence[str] = (),
    csv_header: HeaderMode = "detect",
    partition_projection: bool = False,
    sample_bytes: int = SAMPLE_BYTES,
    sample_records: int = SAMPLE_RECORDS,
    max_workers: int = 16,
    endpoint_url: str | None = None,
    region: str | None = None,
    filesystem: pafs.FileSystem | None = None,
    progress: Progress | None = None,
) -> CrawlReport:
    """Crawl ``paths`` (local folders or ``s3://`` URIs) and register tables in ``database``.

    Tables are named after their folder (``table_prefix`` + name; a clash gets a short hash
    of the location appended, as in Glue). Returns the :class:`CrawlReport`.
    ``schema_change_policy`` defaults to ``UPDATE_IN_DATABASE`` and ``delete_behavior`` to
    ``LOG``; under ``CRAWL_NEW_FOLDERS_ONLY`` both are ``LOG`` and may not be set otherwise.

    Example::

        report = crawl("/lake/raw", database="raw", catalog=SparkSqlCatalog(spark),
                       recrawl_policy="CRAWL_NEW_FOLDERS_ONLY")
    """
    started = time.perf_counter()
    include = [paths] if isinstance(paths, str) else list(paths)
    if not include:
        raise ConfigError("crawl needs at least one include path")
    validate_identifier(database, "database name")
    if table_prefix and not re.fullmatch(r"[a-z0-9_]*", table_prefix):
        raise ConfigError(f"table prefix {table_prefix!r} may only hold lower-case letters, "
                          "digits and '_'")
    _check_choice(recrawl_policy, RECRAWL_POLICIES, "recrawl_policy")
    schema_change_policy, delete_behavior = _resolve_policies(
        recrawl_policy, schema_change_policy, delete_behavior)
    if csv_header not in ("detect", "present", "absent"):
        raise ConfigError(f"csv_header {csv_header!r} is not valid; use detect, present or absent")
    if table_grouping_policy is not None:
        _check_choice(table_grouping_policy, TABLE_GROUPING_POLICIES, "table_grouping_policy")
    if table_threshold is not None and (isinstance(table_threshold, bool)
                                        or not isinstance(table_threshold, int)
                                        or table_threshold < 1):
        raise ConfigError(f"table_threshold {table_threshold!r} is not valid; use a whole number "
                          "greater than 0 (Glue's TableThreshold), or leave it unset")
    if table_level is not None and table_level < 1:
        raise ConfigError(f"table_level must be 1 or more (1 = the include path), "
                          f"got {table_level}")
    for pattern in exclude:
        glob_to_regex(pattern)  # a malformed glob fails before anything is written
    if partitions_inherit_from_table and not isinstance(catalog, PartitionSchemaInheritor):
        raise ConfigError(f"partitions_inherit_from_table needs a catalog backend that can "
                          f"update partition schemas (glue_api, spark_sql); "
                          f"{type(catalog).__name__} cannot")
    roots = [resolve_root(p, endpoint_url=endpoint_url, region=region, filesystem=filesystem)
             for p in include]
    report = CrawlReport(database)
    catalog.create_database(database)
    names = catalog.list_tables(database)
    existing = _existing_tables(catalog, database, names, roots)
    taken = set(names)
    ctx = _Context(catalog, database, table_prefix, schema_change_policy, delete_behavior,
                   partition_projection, report, taken, table_grouping_policy,
                   add_new_columns_only, partitions_inherit_from_table)
    work: list[_RootWork] = []
    listing = reading = 0.0
    for root in roots:
        t0 = time.perf_counter()
        objects, ignored, excluded = list_objects(
            root, exclude=exclude,
            progress=(lambda n: progress("objects listed", n, None)) if progress else None,
        )
        listing += time.perf_counter() - t0
        report.objects_listed += len(objects) + ignored + excluded
        report.objects_ignored += ignored
        report.objects_excluded += excluded
        by_folder: dict[tuple[str, ...], list[ListedObject]] = defaultdict(list)
        for obj in objects:
            if obj.size == 0:
                report.skipped.append(Skipped(root.uri_of(obj.path), "empty file (0 bytes)"))
            else:
                by_folder[obj.rel_dir].append(obj)
        # Folders that hold data: an empty object (an EMR 'dt=1_$folder$' marker, a 0-byte
        # part file) is no data, so it keeps no registered table or partition alive.
        present_dirs = {o.rel_dir for o in objects if o.size > 0}
        root_existing = [s for s in existing
                         if _under(normalize_uri(s.location), normalize_uri(root.uri)) is not None]
        known: dict[str, _Existing] = {}
        foreign: list[_Existing] = []
        for spec in root_existing:
            rel = _under(normalize_uri(spec.location), normalize_uri(root.uri))
            assert rel is not None
            if spec.parameters.get(CRAWLER_PROPERTY) == CRAWLER_NAME:
                known[normalize_uri(spec.location)] = _Existing(spec, rel)
            else:
                foreign.append(_Existing(spec, rel))
        # Tables the crawler did not create (a publish, a person) are their owner's business:
        # their folders are neither regrouped nor registered, and nothing of theirs is deleted.
        for other in foreign:
            inside = [rel for rel in by_folder if rel[: len(other.rel)] == other.rel]
            for rel in inside:
                del by_folder[rel]
            if inside:
                report.skipped.append(Skipped(
                    root.uri_of("/".join([root.base, *other.rel])),
                    f"{len(inside)} folder(s) belong to table {other.spec.qualified_name}, "
                    f"which the crawler did not create ({CRAWLER_PROPERTY} is not "
                    f"{CRAWLER_NAME!r}); left to its owner"))
        to_read: dict[tuple[str, ...], list[ListedObject]] = {}
        incremental_targets: dict[tuple[str, ...], _Existing] = {}
        for rel, objs in by_folder.items():
            target = _owner(rel, known.values())
            if recrawl_policy == "CRAWL_NEW_FOLDERS_ONLY" and target is not None:
                if not target.spec.partition_keys:
                    continue  # an unpartitioned table's folder is registered by the table
                values = target.values_of(rel)
                if values is None:
                    report.skipped.append(Skipped(
                        root.uri_of("/".join([root.base, *rel])),
                        f"folder not registered: its path does not match the partition keys "
                        f"{[k.name for k in target.spec.partition_keys]} of table "
                        f"{target.spec.qualified_name}"))
                    continue
                if values in target.registered(catalog):
                    target.seen.add(values)
                    continue
                incremental_targets[rel] = target
            to_read[rel] = objs
        t0 = time.perf_counter()
        folders = _read_folders(root, to_read, report, csv_header=csv_header,
                                sample_bytes=sample_bytes, sample_records=sample_records,
                                max_workers=max_workers, progress=progress)
        reading += time.perf_counter() - t0
        # Registered tables anchor the grouping: their folders stay theirs, so a crawl never
        # folds an existing table into a new parent table when its siblings disappear.
        fresh: list[Folder] = []
        anchored: dict[tuple[str, ...], list[Folder]] = defaultdict(list)
        for f in folders:
            if f.rel in incremental_targets:
                continue
            owner = _owner(f.rel, known.values())
            if owner is not None:
                anchored[owner.rel].append(f)
            else:
                fresh.append(f)
        if recrawl_policy == "CRAWL_NEW_FOLDERS_ONLY" and known and fresh:
            # Glue: "no new tables will be added to the Data Catalog after the first crawl run".
            for f in fresh:
                report.skipped.append(Skipped(
                    f.uri, "folder not registered: it belongs to no table, and an incremental "
                    "crawl (CRAWL_NEW_FOLDERS_ONLY) adds no new tables after the first crawl, as "
                    "in Glue; run a full crawl (CRAWL_EVERYTHING) to add its table"))
            fresh = []
        reserved = [t.rel for t in known.values()] + [t.rel for t in foreign]
        plans, skipped = plan_tables(root, fresh, table_level=table_level, reserved=reserved,
                                     grouping_policy=table_grouping_policy)
        for rel in sorted(anchored):
            plan = make_table(root, rel, anchored[rel], skipped,
                              grouping_policy=table_grouping_policy)
            if plan is not None:
                plans.append(plan)
        report.skipped.extend(skipped)
        new_by_table: dict[str, list[Folder]] = defaultdict(list)
        for f in folders:
            if f.rel in incremental_targets:
                new_by_table[normalize_uri(incremental_targets[f.rel].spec.location)].append(f)
        work.append(_RootWork(root, plans, known, new_by_table, present_dirs))
    # Glue's TableThreshold: count every table this crawl detected before writing any of them.
    detected = [loc for w in work for loc in w.detected(recrawl_policy)]
    if table_threshold is not None and len(detected) > table_threshold:
        shown = ", ".join(detected[:5]) + (f" and {len(detected) - 5} more"
                                           if len(detected) > 5 else "")
        report.error = (f"crawl of {include} detected {len(detected)} tables, more than "
                        f"table_threshold {table_threshold}; nothing was written to the catalog. "
                        f"Tables: {shown}. Raise the threshold, exclude folders, set a table "
                        "level, or use the CombineCompatibleSchemas grouping policy")
        report.seconds = time.perf_counter() - started
        raise TableThresholdExceeded(report.error, report, detected)
    for w in work:
        handled: set[str] = set()
        for plan in w.plans:
            match = w.known.get(normalize_uri(plan.location))
            ctx.apply_plan(plan, match.spec if match else None, w.present_dirs)
            handled.add(normalize_uri(plan.location))
        if recrawl_policy == "CRAWL_NEW_FOLDERS_ONLY":
            for loc, target in w.known.items():
                if loc in handled:
                    continue
                ctx.apply_incremental(w.root, target, w.new_by_table.get(loc, []),
                                      w.present_dirs)
                handled.add(loc)
        for loc, target in w.known.items():
            if loc not in handled:
                ctx.check_gone(target, w.root, w.present_dirs)
    report.seconds = time.perf_counter() - started
    report.timings = {"list": listing, "read": reading,
                      "catalog_and_grouping": report.seconds - listing - reading}
    log.info("crawl of %s: %d tables, %d skipped, %.2fs", include, len(report.tables),
             len(report.skipped), report.seconds)
    return report


# --------------------------------------------------------------------------- helpers


def _under(path: str, root: str) -> tuple[str, ...] | None:
    """Folders of ``path`` below ``root`` (``()`` for root itself), None when outside."""
    if path == root:
        return ()
    if path.startswith(root + "/"):
        return tuple(path[len(root) + 1:].split("/"))
    return None


def _existing_tables(catalog: Catalog, database: str, names: Sequence[str],
                     roots: Sequence[Root]) -> list[TableSpec]:
    out = []
    for name in names:
        spec = catalog.get_table(database, name)
        if spec is None:
            continue
        loc = normalize_uri(spec.location)
        if any(_under(loc, normalize_uri(r.uri)) is not None for r in roots):
            out.append(spec)
    return out


@dataclass
class _RootWork:
    """What one include path's crawl will write, kept until the table threshold is checked."""

    root: Root
    plans: list[TablePlan]
    known: dict[str, _Existing]
    new_by_table: dict[str, list[Folder]]
    present_dirs: set[tuple[str, ...]]

    def detected(self, recrawl_policy: RecrawlPolicy) -> list[str]:
        """Locations of the tables this include path's crawl creates or updates."""
        out = [p.location for p in self.plans]
        planned = {normalize_uri(p.location) for p in self.plans}
        if recrawl_policy == "CRAWL_NEW_FOLDERS_ONLY":
            out += [t.spec.location for loc, t in self.known.items() if loc not in planned
                    and any(d[: len(t.rel)] == t.rel for d in self.present_dirs)]
        return out


@dataclass
class _Existing:
    spec: TableSpec
    rel: tuple[str, ...]
    seen: set[tuple[str | None, ...]] = field(default_factory=set)
    _registered: set[tuple[str | None, ...]] | None = None
    _values: dict[tuple[str, ...], tuple[str | None, ...] | None] = field(default_factory=dict)

    def registered(self, catalog: Catalog) -> set[tuple[str | None, ...]]:
        if self._registered is None:
            self._registered = set(catalog.list_partition_values(self.spec.database,
                                                                 self.spec.name))
        return self._registered

    def values_of(self, rel: tuple[str, ...]) -> tuple[str | None, ...] | None:
        """Partition values of a folder under this table, None if the path does not fit."""
        if rel not in self._values:
            self._values[rel] = self._parse_values(rel)
        return self._values[rel]

    def _parse_values(self, rel: tuple[str, ...]) -> tuple[str | None, ...] | None:
        below = rel[len(self.rel):]
        keys = [k.name for k in self.spec.partition_keys]
        if len(below) != len(keys):
            return None
        values: list[str | None] = []
        for i, (name, key) in enumerate(zip(below, keys, strict=True)):
            if key == f"partition_{i}":
                values.append(name)
            elif "=" in name and sanitize_name(
                unescape_partition_value(name.partition("=")[0]) or ""
            ) == key.lower():
                values.append(unescape_partition_value(name.partition("=")[2]))
            else:
                return None
        return tuple(values)


def _owner(rel: tuple[str, ...], tables: Any) -> _Existing | None:
    best = None
    for t in tables:
        if rel[: len(t.rel)] == t.rel and (best is None or len(t.rel) > len(best.rel)):
            best = t
    return best


def _read_folders(root: Root, to_read: dict[tuple[str, ...], list[ListedObject]],
                  report: CrawlReport, *, csv_header: HeaderMode, sample_bytes: int,
                  sample_records: int, max_workers: int,
                  progress: Progress | None) -> list[Folder]:
    """Classify every object of the folders to read (in parallel) and merge per folder."""
    jobs = [obj for rel in sorted(to_read) for obj in to_read[rel]]

    def one(obj: ListedObject) -> FileSchema | str:
        try:
            return classify(root.fs, obj, csv_header=csv_header, sample_bytes=sample_bytes,
                            sample_records=sample_records)
        except UnreadableObject as exc:
            return str(exc)

    results: list[FileSchema | str] = []
    workers = max(1, min(max_workers, len(jobs)))
    if workers == 1:
        results = [one(o) for o in jobs]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for n, r in enumerate(pool.map(one, jobs, chunksize=64), 1):
                results.append(r)
                if progress is not None and n % 500 == 0:
                    progress("objects read", n, len(jobs))
    if progress is not None:
        progress("objects read", len(jobs), len(jobs))
    report.objects_read += len(jobs)
    by_obj = dict(zip((o.path for o in jobs), results, strict=True))
    folders: list[Folder] = []
    for n, rel in enumerate(sorted(to_read), 1):
        if progress is not None and (n % 500 == 0 or n == len(to_read)):
            progress("folders classified", n, len(to_read))
        objs = to_read[rel]
        uri = root.uri_of("/".join([root.base, *rel]))
        bad = [(o, by_obj[o.path]) for o in objs if isinstance(by_obj[o.path], str)]
        for o, reason in bad:
            report.skipped.append(Skipped(root.uri_of(o.path), str(reason)))
        if bad:
            report.skipped.append(Skipped(uri, f"folder not registered: {len(bad)} unreadable "
                                               "object(s) inside (see their entries); readers "
                                               "of the folder would fail on them"))
            continue
        schemas = _header_only_files([s for o in objs
                                      if isinstance(s := by_obj[o.path], FileSchema)])
        merged = _merge_folder(schemas)
        if isinstance(merged, str):
            report.skipped.append(Skipped(uri, f"folder not registered: {merged}"))
            continue
        integer_times = [(col, ptype, root.uri_of(o.path)) for o in objs
                         for col, ptype in by_obj[o.path].integer_time_columns]  # type: ignore[union-attr]
        counts = [sch.record_count for sch in schemas]
        records = None if None in counts else sum(counts)  # type: ignore[arg-type]
        folders.append(Folder(rel, uri, objs, merged, integer_times, records))
    return folders


def _header_only_files(schemas: list[FileSchema]) -> list[FileSchema]:
    """A one-row CSV file whose row is the header of CSV files beside it (same delimiter,
    compression, quoting) is a header-only file of theirs, with no records: on its own it
    classifies as header-less, and the mix kept the whole folder out."""
    headed = {(s.compression, s.csv_delimiter, s.csv_quoted, tuple(n for n, _ in s.columns)): s
              for s in schemas if s.format == "csv" and s.csv_header}
    if not headed:
        return schemas
    out = []
    for s in schemas:
        match = headed.get((s.compression, s.csv_delimiter, s.csv_quoted, s.header_only or ()))
        out.append(replace(match, record_count=0)
                   if s.header_only and not s.csv_header and match is not None else s)
    return out


def _merge_folder(schemas: Sequence[FileSchema]) -> FileSchema | str:
    first = schemas[0]
    layouts = {s.layout for s in schemas}
    if len(layouts) > 1:
        return f"its files mix formats or options: {sorted(str(x) for x in layouts)}"
    columns = list(first.columns)
    for s in schemas[1:]:
        if tuple(s.columns) == tuple(first.columns):
            continue
        try:
            columns = merge_columns(columns, s.columns, first.format)
        except TypeConflict as exc:
            return f"files inside it disagree: {exc}"
    return replace(first, columns=tuple(columns))


@dataclass
class _Context:
    catalog: Catalog
    database: str
    prefix: str
    schema_policy: SchemaChangePolicy
    delete_behavior: DeleteBehavior
    projection: bool
    report: CrawlReport
    taken: set[str]
    grouping_policy: TableGroupingPolicy | None = None
    add_new_columns_only: bool = False
    inherit_from_table: bool = False

    def _spec(self, plan: TablePlan, name: str, columns: list[tuple[str, str]],
              parameters: dict[str, str]) -> TableSpec:
        s = plan.schema
        return TableSpec(
            database=self.database,
            name=name,
            columns=[Column(n, t) for n, t in columns],
            location=plan.location,
            partition_keys=[Column(k, "string") for k in plan.partition_keys],
            format=s.format,
            compression=s.compression if s.format != "parquet" else None,
            csv_delimiter=s.csv_delimiter,
            csv_header=s.csv_header,
            csv_quoted=s.csv_quoted,
            parameters=parameters,
        )

    def apply_plan(self, plan: TablePlan, existing: TableSpec | None,
                   present_dirs: set[tuple[str, ...]]) -> None:
        if existing is None:
            name = unique_name(self.prefix + plan.base_name, plan.location, self.taken)
            self.taken.add(name)
        else:
            name = existing.name
        params = {CRAWLER_PROPERTY: CRAWLER_NAME,
                  "lastCrawled": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                  **plan.statistics}
        tr = TableReport(name, plan.location, plan.schema.format, plan.columns,
                         plan.partition_keys, compression=plan.schema.compression,
                         created=existing is None, notes=list(plan.notes))
        for note in plan.notes:
            log.warning("table %s.%s: %s", self.database, name, note)
        columns = plan.columns
        if existing is not None:
            # A statistic this crawl could not measure is dropped rather than left stale.
            params = {**{k: v for k, v in existing.parameters.items()
                         if k != DEPRECATED_PROPERTY and k not in STATISTICS_KEYS}, **params}
            columns, changes, ok = self._reconcile(existing, plan, tr)
            if not ok:
                return
            tr.schema_changes = changes
            tr.columns = columns
        if self.projection and plan.partition_keys:
            params.update(self._projection(plan))
        spec = self._spec(plan, name, columns, params)
        self.catalog.create_or_update_table(spec)
        self._register_partitions(spec, plan, tr, existing is not None, present_dirs)
        if self.inherit_from_table and existing is not None and plan.partition_keys:
            assert isinstance(self.catalog, PartitionSchemaInheritor)  # checked by crawl()
            tr.partitions_updated = self.catalog.inherit_partition_schemas(spec.database, name)
        self.report.tables.append(tr)

    def _reconcile(self, existing: TableSpec, plan: TablePlan,
                   tr: TableReport) -> tuple[list[tuple[str, str]], list[str], bool]:
        """Columns to register for an existing table, the changes, and whether to go on."""
        old = [(c.name, c.type) for c in existing.columns]
        keys_old = [k.name.lower() for k in existing.partition_keys]
        if keys_old != [k.lower() for k in plan.partition_keys] and self.schema_policy == "LOG":
            self.report.skipped.append(Skipped(
                plan.location, f"table {existing.qualified_name} not updated: its partition keys "
                f"are {keys_old} but the folders now give {plan.partition_keys} "
                "(schema_change_policy LOG)"))
            return old, [], False
        old_layout, new_layout = _spec_layout(existing), plan.schema.layout
        if old_layout != new_layout and self.schema_policy == "LOG":
            # LOG leaves the table as it is; partitions take the table's format, so the
            # folders' new files would be misread through it: add none either.
            self.report.skipped.append(Skipped(
                plan.location, f"table {existing.qualified_name} not updated: its files are now "
                f"{describe_layout(new_layout)} but the table is {describe_layout(old_layout)} "
                "(schema_change_policy LOG); no partitions added"))
            return old, [], False
        fmt = plan.schema.format
        kept: list[str] = []
        if self.add_new_columns_only:
            merged, kept = _merge_new_columns(old, plan.columns, fmt)
            if merged is None:
                self.report.skipped.append(Skipped(
                    plan.location, f"table {existing.qualified_name} not updated: " + kept[0]
                    + " (add_new_columns_only: existing columns are never changed)"))
                return old, [], False
        else:
            merged = _update_columns(old, plan.columns, fmt)
        changes = _describe_changes(old, merged)
        if old_layout != new_layout:
            changes.insert(0, f"format: {describe_layout(old_layout)} -> "
                              f"{describe_layout(new_layout)}")
        kept = [f"not applied (add new columns only): {c}" for c in kept]
        if not changes:
            return old, kept, True
        if self.schema_policy == "LOG":
            log.warning("table %s: schema differs from the files (not applied, policy LOG): %s",
                        existing.qualified_name, changes)
            return old, [f"not applied (LOG): {c}" for c in changes] + kept, True
        log.info("table %s: schema updated: %s", existing.qualified_name, changes)
        return merged, changes + kept, True

    def _register_partitions(self, spec: TableSpec, plan: TablePlan, tr: TableReport,
                             existed: bool, present_dirs: set[tuple[str, ...]]) -> None:
        if not plan.partition_keys:
            return
        registered = (set(self.catalog.list_partition_values(spec.database, spec.name))
                      if existed else set())
        new = [Partition(values, folder.uri) for values, folder in plan.partitions
               if values not in registered]
        tr.partitions_already_present = len(plan.partitions) - len(new)
        if new:
            self.catalog.add_new_partitions(spec, new)
        tr.partitions_added = len(new)
        if existed:
            listed = {_values_for(plan.rel, d, spec) for d in present_dirs
                      if d[: len(plan.rel)] == plan.rel}
            self._handle_missing(spec, tr, [v for v in registered if v not in listed])

    def _handle_missing(self, spec: TableSpec, tr: TableReport,
                        missing: list[tuple[str | None, ...]]) -> None:
        if not missing:
            return
        tr.partitions_missing = sorted(missing, key=lambda v: [x or "" for x in v])
        if self.delete_behavior == "DELETE_FROM_DATABASE":
            tr.partitions_deleted = self.catalog.drop_partitions(spec.database, spec.name,
                                                                 missing)
        else:
            log.warning("table %s: %d registered partition(s) have no data any more "
                        "(delete_behavior %s)", spec.qualified_name, len(missing),
                        self.delete_behavior)

    def apply_incremental(self, root: Root, target: _Existing, new_folders: list[Folder],
                          present_dirs: set[tuple[str, ...]]) -> None:
        spec = target.spec
        if not any(d[: len(target.rel)] == target.rel for d in present_dirs):
            self.check_gone(target, root, present_dirs)
            return
        tr = TableReport(spec.name, spec.location, spec.format,
                         [(c.name, c.type) for c in spec.columns],
                         [k.name for k in spec.partition_keys], compression=spec.compression)
        columns = [(c.name, c.type) for c in spec.columns]
        kept: list[Folder] = []
        for f in new_folders:
            if f.schema.format != spec.format or (
                f.schema.format == "csv" and (f.schema.csv_delimiter, f.schema.csv_header,
                                              f.schema.csv_quoted)
                != (spec.csv_delimiter, spec.csv_header, spec.csv_quoted)
            ) or (f.schema.format != "parquet" and f.schema.compression != spec.compression):
                self.report.skipped.append(Skipped(
                    f.uri, f"folder not registered: its files ({f.schema.format}, "
                    f"{f.schema.compression or 'uncompressed'}) do not match table "
                    f"{spec.qualified_name} ({spec.format}, {spec.compression or 'uncompressed'})"))
                continue
            table_names = frozenset(n.lower() for n, _ in columns)
            similarity = jaccard(f.names, table_names)
            if (self.grouping_policy != "CombineCompatibleSchemas"
                    and similarity < SIMILARITY_THRESHOLD):
                self.report.skipped.append(Skipped(
                    f.uri, f"folder not registered: its schema is not similar to table "
                    f"{spec.qualified_name}'s: it shares {similarity:.0%} of the column names "
                    f"(at least {SIMILARITY_THRESHOLD:.0%} needed); its columns "
                    f"{sorted(f.names)[:8]}. Crawl it as its own include path, exclude it, or "
                    "use the CombineCompatibleSchemas grouping policy"))
                continue
            try:
                merged = merge_columns(columns, f.schema.columns, spec.format)
            except TypeConflict as exc:
                self.report.skipped.append(Skipped(
                    f.uri, f"incompatible schema, folder not registered: {exc}; "
                    f"table {spec.qualified_name}"))
                continue
            changes = _describe_changes(columns, finalize_columns(merged, spec.format)[0])
            if changes:
                # Glue: incremental crawls make no schema change and do not add objects whose
                # schema is not compatible with the table's.
                self.report.skipped.append(Skipped(
                    f.uri, f"folder not registered: its schema is not compatible with table "
                    f"{spec.qualified_name} ({'; '.join(changes)}), and an incremental crawl "
                    "(CRAWL_NEW_FOLDERS_ONLY) makes no schema change, as in Glue; run a full "
                    "crawl (CRAWL_EVERYTHING) to update the table"))
                continue
            kept.append(f)
        tr.notes = spark_read_notes(kept)
        new = []
        for f in kept:
            values = target.values_of(f.rel)
            assert values is not None
            new.append(Partition(values, f.uri))
        if new:
            self.catalog.add_new_partitions(spec, new)
        tr.partitions_added = len(new)
        tr.partitions_already_present = len(target.seen)
        registered = target.registered(self.catalog)
        listed = {target.values_of(d) for d in present_dirs if d[: len(target.rel)] == target.rel}
        self._handle_missing(spec, tr, [v for v in registered if v not in listed])
        self.report.tables.append(tr)

    def check_gone(self, target: _Existing, root: Root, present_dirs: set[tuple[str, ...]]) -> None:
        """A registered table under the include path whose folder holds no data any more."""
        if any(d[: len(target.rel)] == target.rel for d in present_dirs):
            return
        spec = target.spec
        self.report.tables_missing.append(spec.name)
        if self.delete_behavior == "DELETE_FROM_DATABASE":
            self.catalog.drop_table(spec.database, spec.name)
            log.warning("table %s dropped: no data under %s", spec.qualified_name, spec.location)
        elif self.delete_behavior == "DEPRECATE_IN_DATABASE":
            stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
            self.catalog.set_table_parameters(spec.database, spec.name,
                                              {DEPRECATED_PROPERTY: stamp})
            log.warning("table %s deprecated: no data under %s", spec.qualified_name,
                        spec.location)
        else:
            log.warning("table %s has no data under %s (delete_behavior LOG)",
                        spec.qualified_name, spec.location)

    def _projection(self, plan: TablePlan) -> dict[str, str]:
        """Athena partition projection from the discovered values of each key."""
        projections: dict[str, Projection] = {}
        for i, key in enumerate(plan.partition_keys):
            values = sorted({value for v, _ in plan.partitions
                             if (value := v[i]) is not None})
            if values and all(_INT.match(v) for v in values):
                ints = [int(v) for v in values]
                widths = {len(v) for v in values}
                digits = widths.pop() if len(widths) == 1 and values[0].startswith("0") else None
                projections[key] = integer_projection(min(ints), max(ints), digits)
            elif values and all(_DATE.match(v) for v in values):
                projections[key] = date_projection(values[0])
            else:
                projections[key] = enum_projection(values)
        hive = [k != f"partition_{i}" for i, k in enumerate(plan.partition_keys)]
        template = plan.location.rstrip("/") + "/" + "/".join(
            f"{k}=${{{k}}}" if h else f"${{{k}}}" for k, h in zip(plan.partition_keys, hive,
                                                                  strict=True))
        probe = TableSpec(self.database, "probe", [], plan.location,
                          [Column(k, "string") for k in plan.partition_keys])
        return projection_properties(probe, projections, template)


def _values_for(table_rel: tuple[str, ...], rel: tuple[str, ...],
                spec: TableSpec) -> tuple[str | None, ...] | None:
    return _Existing(spec, table_rel).values_of(rel)


def _spec_layout(spec: TableSpec) -> tuple[object, ...]:
    """A registered table's layout, as ``FileSchema.layout`` gives a folder's."""
    quoted = spec.csv_quoted or spec.parameters.get("areColumnsQuoted") == "true"
    return FileSchema(spec.format, spec.compression if spec.format != "parquet" else None, (),
                      csv_delimiter=spec.csv_delimiter, csv_header=spec.csv_header,
                      csv_quoted=quoted).layout


def _update_columns(old: list[tuple[str, str]], new: list[tuple[str, str]],
                    fmt: str) -> list[tuple[str, str]]:
    """Glue's "update the table definition": exactly the columns the files hold now (``new``,
    already the union over every current folder), the surviving ones in the table's order with
    the files' types, then the new ones. CSV columns are positional, so the files' order wins."""
    if fmt == "csv":
        return list(new)
    by_name = {n.lower(): (n, t) for n, t in new}
    out = [(n, by_name[n.lower()][1]) for n, _ in old if n.lower() in by_name]
    have = {n.lower() for n, _ in out}
    return out + [(n, t) for n, t in new if n.lower() not in have]


def _merge_new_columns(
    old: list[tuple[str, str]], new: list[tuple[str, str]], fmt: str
) -> tuple[list[tuple[str, str]] | None, list[str]]:
    """Glue's MergeNewColumns: the table's columns unchanged (types too) plus the new ones;
    also the differences left out. For CSV (positional) the new columns must extend the table's
    (None and the reason otherwise)."""
    if fmt == "csv":
        for i, ((a, _), (b, _)) in enumerate(zip(old, new, strict=False)):
            if a.lower() != b.lower():
                return None, [f"CSV column {i} is {a!r} in the table but {b!r} in the files "
                              "(CSV columns are read by position)"]
        out = list(old) + list(new[len(old):])
    else:
        have = {n.lower() for n, _ in old}
        out = list(old) + [(n, t) for n, t in new if n.lower() not in have]
    left_out = [c for c in _describe_changes(out, _update_columns(old, new, fmt))
                if not c.startswith("added column")]
    return out, left_out


def _describe_changes(old: list[tuple[str, str]], new: list[tuple[str, str]]) -> list[str]:
    before = {n.lower(): t for n, t in old}
    out = []
    for n, t in new:
        if n.lower() not in before:
            out.append(f"added column {n} {t}")
        elif before[n.lower()].lower() != t.lower():  # struct field names: any case
            out.append(f"column {n}: {before[n.lower()]} -> {t}")
    after = {n.lower() for n, _ in new}
    out.extend(f"column {n} no longer in the files" for n, _ in old if n.lower() not in after)
    return out
