"""Turn classified folders into tables and partitions, the way Glue's crawler does.

At each folder (from the include path down) the data folders below it are put into schema
clusters: folders are compatible when they share one layout (format and compression; for CSV
also delimiter, header and quoting) and one depth, and similar when their column-name sets
have a Jaccard similarity of at least 70% with the cluster's first schema. The folder becomes
one table when there are at most 5 clusters and the largest one holds more than 70% of the data
folders at every folder level below it (Glue's "partition threshold"); the largest cluster's
folders are the table's partitions and the folders of the other clusters are skipped and
reported, never merged into the table. Otherwise each sub-folder is considered on its own.
With the ``CombineCompatibleSchemas`` grouping policy similarity is ignored: compatible folders
form one cluster. ``table_level`` forces tables at a fixed depth instead (1 = the include path
itself); the majority cluster still decides which folders are partitions.

Hive-style ``key=value`` folders name the partition keys; other levels are ``partition_0``,
``partition_1``, ... . Column sets merge across partitions (union, widened types); a partition
whose columns cannot be merged into the table is skipped and reported, never mixed in.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from lakeforge.crawler.classify import FileSchema
from lakeforge.crawler.hive_types import NULL_TYPE, TypeConflict, finalize, widen
from lakeforge.crawler.listing import ListedObject, Root
from lakeforge.paths import unescape_partition_value

SIMILARITY_THRESHOLD = 0.7  # Jaccard similarity of column names inside one schema cluster
PARTITION_THRESHOLD = 0.7  # the majority cluster must hold MORE than this share of the folders
MAX_CLUSTERS = 5
TableGroupingPolicy = Literal["CombineCompatibleSchemas"]
TABLE_GROUPING_POLICIES = ("CombineCompatibleSchemas",)
_BAD = re.compile(r"[^a-z0-9_]")


@dataclass(frozen=True)
class Skipped:
    """An object or folder the crawl did not register, and why."""

    path: str
    reason: str


@dataclass
class Folder:
    """A folder that directly holds data files, with their merged schema."""

    rel: tuple[str, ...]
    uri: str
    files: list[ListedObject]
    schema: FileSchema
    integer_time_columns: list[tuple[str, str, str]] = field(default_factory=list)
    """(column, Parquet type, file URI) of each time column registered as its integer storage
    (Parquet TIMESTAMP(NANOS), TIME) in the folder's files."""
    records: int | None = None
    """Records in the folder's files (see ``FileSchema.record_count``); None when a file's
    count is unknown (a compressed text file longer than the sample)."""

    @property
    def names(self) -> frozenset[str]:
        return frozenset(n.lower() for n, _ in self.schema.columns)

    @property
    def signature(self) -> frozenset[tuple[str, str]]:
        return frozenset((n.lower(), t.lower()) for n, t in self.schema.columns)


@dataclass
class TablePlan:
    """A table the crawl found: where it is, its schema, and its partitions."""

    root: Root
    rel: tuple[str, ...]
    base_name: str
    location: str
    schema: FileSchema
    columns: list[tuple[str, str]]
    partition_keys: list[str]
    partitions: list[tuple[tuple[str | None, ...], Folder]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    statistics: dict[str, str] = field(default_factory=dict)
    """The size properties Glue's crawler sets on a table (:func:`table_statistics`)."""


def finalize_columns(columns: Sequence[tuple[str, str]],
                     fmt: str) -> tuple[list[tuple[str, str]], list[str]]:
    """Declared types for merged columns, and notes on what was left out.

    Text formats declare an all-null column ``string``; a Parquet column of the null type in
    every file has no type any reader accepts, so it is not registered (and noted).
    """
    out, notes = [], []
    for name, t in columns:
        if fmt == "parquet" and t == NULL_TYPE:
            notes.append(f"column {name} not registered: Parquet's null type in every file "
                         "(no values, and no type Spark can read it as)")
            continue
        out.append((name, finalize(t)))
    return out, notes


def spark_read_notes(folders: Sequence[Folder]) -> list[str]:
    """One report note per column registered as the integer its Parquet time type stores,
    naming the first file that holds it and how many more do."""
    files: dict[tuple[str, str], list[str]] = {}
    for f in folders:
        for column, ptype, uri in f.integer_time_columns:
            files.setdefault((column, ptype), []).append(uri)
    notes = []
    for (column, ptype), uris in files.items():
        more = f" (and {len(uris) - 1} more file(s))" if len(uris) > 1 else ""
        notes.append(
            f"column {column}: Parquet {ptype} in {uris[0]}{more} is registered "
            + _integer_time_note(ptype))
    return notes


def _integer_time_note(ptype: str) -> str:
    if ptype == "TIMESTAMP(NANOS)":
        return ("bigint (nanoseconds since the epoch), as Glue's crawler registers it: Spark "
                "3.5 reads the table's column as that bigint but cannot read it as a timestamp "
                "(\"Parquet column cannot be converted ... Expected: timestamp, Found: "
                "INT64\"). For a timestamp column, rewrite the files with microseconds "
                "(pyarrow: coerce_timestamps='us') and recrawl")
    unit = ptype[len("TIME("):-1].lower()
    kind = "int" if unit in ("millis", "seconds") else "bigint"
    return (f"{kind} ({unit} since midnight): Hive, Athena's DDL and Spark 3.5 have no TIME "
            f"type, and Spark reads the column only as that {kind} (as string, the old "
            "registration, every read failed: \"Parquet column cannot be converted\"); "
            "Glue's crawler type for TIME is not documented. Write a string or a timestamp "
            "for a readable time of day")


STATISTICS_KEYS = ("objectCount", "sizeKey", "recordCount", "averageRecordSize")


def table_statistics(folders: Sequence[Folder]) -> dict[str, str]:
    """The table properties Glue's crawler sets from the crawled files ("Parameters set on Data
    Catalog tables by crawler"): ``objectCount`` (objects under the table's path), ``sizeKey``
    (their combined size in bytes), ``recordCount`` (records, estimated) and
    ``averageRecordSize`` (bytes per record). The last two only when every folder's record
    count is known."""
    files = [o for f in folders for o in f.files]
    size = sum(o.size for o in files)
    stats = {"objectCount": str(len(files)), "sizeKey": str(size)}
    counts = [f.records for f in folders]
    if counts and all(c is not None for c in counts):
        records = sum(c for c in counts if c is not None)
        stats["recordCount"] = str(records)
        stats["averageRecordSize"] = str(size // records if records else 0)
    return stats


def sanitize_name(raw: str) -> str:
    """A catalog-safe name: lower case, ``[a-z0-9_]``, not starting with a digit."""
    name = _BAD.sub("_", raw.lower()).strip("_") or "table"
    return f"t_{name}" if name[0].isdigit() else name


def unique_name(name: str, location: str, taken: set[str]) -> str:
    """Glue's rule for a clash: append a short hash of the location."""
    if name not in taken:
        return name
    return f"{name}_{hashlib.sha1(location.encode()).hexdigest()[:8]}"


def merge_columns(table: list[tuple[str, str]], other: Sequence[tuple[str, str]],
                  fmt: str) -> list[tuple[str, str]]:
    """Merge ``other`` into ``table``; raises TypeConflict naming the column.

    Parquet and JSON merge by name (Parquet with binary widening, JSON as text); CSV columns are
    positional, so one column list must be a prefix of the other.
    """
    if fmt == "csv":
        short, long_ = (table, list(other)) if len(table) <= len(other) else (list(other), table)
        for i, (name, _) in enumerate(short):
            if long_[i][0] != name:
                raise TypeConflict(f"CSV column {i} is {name!r} in one file and "
                                   f"{long_[i][0]!r} in another (CSV columns are read by "
                                   "position)")
        out = []
        for i, (name, t) in enumerate(long_):
            out.append((name, widen(short[i][1], t, "text") if i < len(short) else t))
        return out
    mode = "binary" if fmt == "parquet" else "text"
    out = list(table)
    index = {n.lower(): i for i, (n, _) in enumerate(out)}
    for name, t in other:
        found = index.get(name.lower())
        if found is None:
            index[name.lower()] = len(out)
            out.append((name, t))
            continue
        i = found
        try:
            out[i] = (out[i][0], widen(out[i][1], t, mode))  # type: ignore[arg-type]
        except TypeConflict as exc:
            raise TypeConflict(f"column {name!r} is {t} here but {out[i][1]} in the table "
                               f"({exc})") from exc
    return out


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    union = a | b
    return len(a & b) / len(union) if union else 1.0


@dataclass
class Cluster:
    """Folders that may share a table: one layout, one depth below the node, and column names
    similar to the first member's (or any names, under CombineCompatibleSchemas)."""

    layout: tuple[object, ...]
    depth: int
    names: frozenset[str]
    folders: list[Folder] = field(default_factory=list)


def cluster_folders(node: tuple[str, ...], folders: Sequence[Folder], *,
                    grouping_policy: TableGroupingPolicy | None = None,
                    limit: int | None = None) -> list[Cluster]:
    """Schema clusters of ``folders`` (all below ``node``), largest first.

    The most common schemas seed clusters first, so an odd folder never becomes the reference
    the others are compared with. Ties keep folder order, which makes the result stable. With
    ``limit``, clustering stops as soon as there are more than ``limit`` clusters (the caller
    only needs to know that), so a level holding many unrelated tables stays linear.
    """
    combine = grouping_policy == "CombineCompatibleSchemas"

    def key(f: Folder) -> tuple[tuple[object, ...], int, frozenset[str]]:
        return f.schema.layout, len(f.rel) - len(node), f.names

    by_key: dict[tuple[tuple[object, ...], int, frozenset[str]], list[Folder]] = {}
    for f in sorted(folders, key=lambda f: f.rel):
        by_key.setdefault(key(f), []).append(f)
    clusters: list[Cluster] = []
    for (layout, depth, names), members in sorted(by_key.items(), key=lambda kv: -len(kv[1])):
        for c in clusters:
            if c.layout == layout and c.depth == depth and (
                    combine or jaccard(names, c.names) >= SIMILARITY_THRESHOLD):
                c.folders.extend(members)
                break
        else:
            clusters.append(Cluster(layout, depth, names, list(members)))
            if limit is not None and len(clusters) > limit:
                break
    clusters.sort(key=lambda c: -len(c.folders))  # stable: ties keep seeding order
    return clusters


def table_verdict(node: tuple[str, ...], folders: Sequence[Folder],
                  clusters: Sequence[Cluster]) -> str | None:
    """Why ``node`` is not one table (None when it is): more than 5 clusters, or the largest
    cluster does not hold more than 70% of the folders at some folder level below ``node``."""
    if len(clusters) > MAX_CLUSTERS:
        return f"more than {MAX_CLUSTERS} schema clusters"
    main = clusters[0]
    if len(clusters) == 1:
        return None
    share = len(main.folders) / len(folders)
    if share <= PARTITION_THRESHOLD:
        return (f"the largest schema cluster holds {len(main.folders)} of {len(folders)} data "
                f"folders ({share:.0%}, more than {PARTITION_THRESHOLD:.0%} needed)")
    # An intermediate level counts folders, not leaves: raw/a/dt=1..30 and an unrelated
    # raw/b/dt=1 are two tables, not one table "raw" with partition_0 = a. A level whose
    # folders all name one partition key (year=2023, year=2024) holds partition values, so an
    # odd year=2023/month=01 is one odd folder, not half of the level.
    for level in range(1, main.depth):
        cut = len(node) + level
        above = {f.rel[:cut] for f in folders if len(f.rel) >= cut}
        if len({_hive_key(rel[-1]) for rel in above}) == 1 and _hive_key(next(iter(above))[-1]):
            continue
        held = {f.rel[:cut] for f in main.folders}
        if len(held) / len(above) <= PARTITION_THRESHOLD:
            return (f"the largest schema cluster spans {len(held)} of {len(above)} folders "
                    f"{level} level(s) below (more than {PARTITION_THRESHOLD:.0%} needed)")
    return None


def _hive_key(name: str) -> str | None:
    """The key of a ``key=value`` folder name, None for other names."""
    return name.partition("=")[0] if "=" in name else None


def _partition_keys(node: tuple[str, ...], folders: Sequence[Folder], depth: int) -> list[str]:
    keys: list[str] = []
    for level in range(depth):
        names = {f.rel[len(node) + level] for f in folders}
        hive_keys = {n.partition("=")[0] for n in names if "=" in n}
        key = f"partition_{level}"
        if len(hive_keys) == 1 and all("=" in n for n in names):
            candidate = sanitize_name(unescape_partition_value(hive_keys.pop()) or "")
            if candidate not in keys:
                key = candidate
        keys.append(key)
    return keys


def _values(node: tuple[str, ...], folder: Folder, keys: list[str],
            hive: list[bool]) -> tuple[str | None, ...]:
    out: list[str | None] = []
    for level, _key in enumerate(keys):
        name = folder.rel[len(node) + level]
        out.append(unescape_partition_value(name.partition("=")[2]) if hive[level] else name)
    return tuple(out)


def make_table(root: Root, node: tuple[str, ...], folders: Sequence[Folder],
               skipped: list[Skipped], *, grouping_policy: TableGroupingPolicy | None = None,
               clusters: Sequence[Cluster] | None = None) -> TablePlan | None:
    """Build one table from the largest schema cluster of ``folders`` under ``node``; the
    folders of the other clusters, and those whose columns cannot merge, are skipped."""
    if clusters is None:
        clusters = cluster_folders(node, folders, grouping_policy=grouping_policy)
    if not clusters:
        return None
    main = clusters[0]
    location = root.uri_of("/".join([root.base, *node]))
    total = sum(len(c.folders) for c in clusters)
    for c in clusters[1:]:
        for f in c.folders:
            skipped.append(Skipped(f.uri, _odd_reason(f, c, main, total, location)))
    counts = Counter(f.signature for f in main.folders)
    ordered = sorted(main.folders, key=lambda f: -counts[f.signature])
    fmt = ordered[0].schema.format
    columns = list(ordered[0].schema.columns)
    kept: list[Folder] = []
    for f in ordered:
        try:
            columns = merge_columns(columns, f.schema.columns, fmt)
        except TypeConflict as exc:
            skipped.append(Skipped(f.uri, f"incompatible schema, folder not registered: {exc}; "
                                          f"table {location}"))
            continue
        kept.append(f)
    columns, notes = finalize_columns(columns, fmt)
    depth = main.depth
    keys = _partition_keys(node, kept, depth)
    clash = sorted({k for k in keys} & {n.lower() for n, _ in columns})
    if clash:
        for f in kept:
            skipped.append(Skipped(f.uri, f"table {location} not registered: {clash} are both "
                                          "partition folder keys and columns inside the files"))
        return None
    hive = [k != f"partition_{i}" for i, k in enumerate(keys)]
    base = sanitize_name(node[-1] if node else root.name)
    notes += spark_read_notes(kept)
    plan = TablePlan(root, node, base, location, ordered[0].schema, columns, keys, notes=notes,
                     statistics=table_statistics(kept))
    kept.sort(key=lambda f: f.rel)
    plan.partitions = [(_values(node, f, keys, hive), f) for f in kept] if keys else []
    if not keys and len(kept) != 1:
        raise AssertionError("an unpartitioned table has exactly one folder")
    return plan


def _odd_reason(f: Folder, c: Cluster, main: Cluster, total: int, location: str) -> str:
    """Why a folder outside the table's majority cluster is not registered."""
    where = (f"table {location} (its partitions: {len(main.folders)} of {total} data folders "
             "at this level)")
    if f.schema.layout != main.layout:
        return (f"folder not registered: its files are {describe_layout(f.schema.layout)} "
                f"but {where} "
                f"is {describe_layout(main.layout)}")
    if c.depth != main.depth:
        return (f"folder not registered: it is {c.depth} folder level(s) below {where}, whose "
                f"partitions are {main.depth}")
    shown = sorted(f.names)
    more = f" and {len(shown) - 8} more" if len(shown) > 8 else ""
    return (f"folder not registered: its schema is not similar to {where}: it shares "
            f"{jaccard(f.names, main.names):.0%} of the column names (at least "
            f"{SIMILARITY_THRESHOLD:.0%} needed); its columns {shown[:8]}{more}. Crawl it as its "
            "own include path, exclude it, or use the CombineCompatibleSchemas grouping policy")


def describe_layout(layout: tuple[object, ...]) -> str:
    """A layout (``FileSchema.layout``) in words, for reports."""
    fmt = layout[0]
    if fmt == "parquet":
        return "parquet"
    comp = layout[1] or "uncompressed"
    if fmt == "json":
        return f"json ({comp})"
    delim, header, quoted = layout[2], layout[3], layout[4]
    return (f"csv ({comp}, delimiter {delim!r}, {'with' if header else 'without'} header"
            f"{', quoted' if quoted else ''})")


def plan_tables(root: Root, folders: Sequence[Folder], *, table_level: int | None = None,
                reserved: Sequence[tuple[str, ...]] = (),
                grouping_policy: TableGroupingPolicy | None = None
                ) -> tuple[list[TablePlan], list[Skipped]]:
    """Group ``folders`` (all under ``root``) into tables.

    ``reserved`` are folders of tables that already exist: no new table may contain them
    (its readers would read the other table's files too). ``grouping_policy``
    ``CombineCompatibleSchemas`` ignores schema similarity (Glue's option of that name).
    """
    if grouping_policy is not None and grouping_policy not in TABLE_GROUPING_POLICIES:
        raise ValueError(f"table grouping policy {grouping_policy!r} is not valid; use one of "
                         f"{list(TABLE_GROUPING_POLICIES)} or none")
    skipped: list[Skipped] = []
    tables: list[TablePlan] = []
    if not folders:
        return tables, skipped
    if table_level is not None:
        if table_level < 1:
            raise ValueError(f"table_level must be 1 or more (1 = the include path), "
                             f"got {table_level}")
        depth = table_level - 1
        groups: dict[tuple[str, ...], list[Folder]] = defaultdict(list)
        for f in folders:
            if len(f.rel) < depth:
                skipped.append(Skipped(f.uri, f"folder not registered: it is above table level "
                                              f"{table_level} (tables are {depth} folder(s) "
                                              f"below {root.uri})"))
            else:
                groups[f.rel[:depth]].append(f)
        for node in sorted(groups):
            if _contains_reserved(node, reserved):
                for f in groups[node]:
                    skipped.append(Skipped(f.uri, f"folder not registered: a table at "
                                                  f"{root.uri_of('/'.join([root.base, *node]))} "
                                                  "would contain an existing table's folder"))
                continue
            plan = make_table(root, node, groups[node], skipped, grouping_policy=grouping_policy)
            if plan is not None:
                tables.append(plan)
        return tables, skipped
    _group(root, (), list(folders), tables, skipped, reserved, grouping_policy)
    return tables, skipped


def _contains_reserved(node: tuple[str, ...], reserved: Sequence[tuple[str, ...]]) -> bool:
    return any(r[: len(node)] == node for r in reserved)


def _group(root: Root, node: tuple[str, ...], folders: list[Folder], tables: list[TablePlan],
           skipped: list[Skipped], reserved: Sequence[tuple[str, ...]],
           grouping_policy: TableGroupingPolicy | None) -> None:
    if not _contains_reserved(node, reserved):
        clusters = cluster_folders(node, folders, grouping_policy=grouping_policy,
                                   limit=MAX_CLUSTERS)
        if table_verdict(node, folders, clusters) is None:
            plan = make_table(root, node, folders, skipped, clusters=clusters)
            if plan is not None:
                tables.append(plan)
            return
    children: dict[str, list[Folder]] = defaultdict(list)
    for f in folders:
        if f.rel == node:
            for obj in f.files:
                skipped.append(Skipped(root.uri_of(obj.path),
                                       "file sits beside sub-folders that do not form one table "
                                       "with it (a table here would also read them); move it "
                                       "into its own folder"))
        else:
            children[f.rel[len(node)]].append(f)
    for child in sorted(children):
        _group(root, (*node, child), children[child], tables, skipped, reserved, grouping_policy)
