"""Turn classified folders into tables and partitions, the way Glue's crawler does.

A folder whose data folders below it (all at the same depth) share one layout (format and
compression; for CSV also delimiter, header and quoting), have at most 5 distinct schemas, and
whose every schema shares at least 70% of its column names with the most common schema (Glue's
partition threshold, measured as Jaccard similarity of the column-name sets) becomes one table;
the folders below it are its partitions. Otherwise each sub-folder is considered on its own.
``table_level`` forces tables at a fixed depth instead (1 = the include path itself).

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

from lakeforge.crawler.classify import FileSchema
from lakeforge.crawler.hive_types import NULL_TYPE, TypeConflict, finalize, widen
from lakeforge.crawler.listing import ListedObject, Root
from lakeforge.paths import unescape_partition_value

SIMILARITY_THRESHOLD = 0.7
MAX_SCHEMAS = 5
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

    @property
    def names(self) -> frozenset[str]:
        return frozenset(n.lower() for n, _ in self.schema.columns)

    @property
    def signature(self) -> frozenset[tuple[str, str]]:
        return frozenset((n.lower(), t) for n, t in self.schema.columns)


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


def _dominant(folders: Sequence[Folder]) -> frozenset[tuple[str, str]]:
    counts = Counter(f.signature for f in folders)
    best = max(counts.values())
    return next(f.signature for f in folders if counts[f.signature] == best)


def is_one_table(node: tuple[str, ...], folders: Sequence[Folder]) -> bool:
    """Glue's test: same depth, one layout, <= 5 schemas, each >= 70% similar to the most
    common one."""
    if len({len(f.rel) - len(node) for f in folders}) != 1:
        return False
    if len({f.schema.layout for f in folders}) != 1:
        return False
    signatures = {f.signature for f in folders}
    if len(signatures) > MAX_SCHEMAS:
        return False
    dominant = frozenset(n for n, _ in _dominant(folders))
    return all(jaccard(frozenset(n for n, _ in s), dominant) >= SIMILARITY_THRESHOLD
               for s in signatures)


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
               skipped: list[Skipped]) -> TablePlan | None:
    """Build one table from ``folders`` under ``node``; folders that do not fit are skipped."""
    layouts = Counter(f.schema.layout for f in folders)
    depths = Counter(len(f.rel) - len(node) for f in folders)
    layout = layouts.most_common(1)[0][0]
    depth = depths.most_common(1)[0][0]
    location = root.uri_of("/".join([root.base, *node]))
    fitting = []
    for f in folders:
        if f.schema.layout != layout:
            skipped.append(Skipped(f.uri, f"folder not registered: its files are "
                                          f"{_describe(f.schema.layout)} but table at {location} "
                                          f"is {_describe(layout)}"))
        elif len(f.rel) - len(node) != depth:
            skipped.append(Skipped(f.uri, f"folder not registered: it is {len(f.rel) - len(node)}"
                                          f" folder level(s) below the table at {location}, "
                                          f"the table's partitions are {depth}"))
        else:
            fitting.append(f)
    if not fitting:
        return None
    dominant = _dominant(fitting)
    ordered = ([f for f in fitting if f.signature == dominant]
               + [f for f in fitting if f.signature != dominant])
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
    keys = _partition_keys(node, kept, depth)
    clash = sorted({k for k in keys} & {n.lower() for n, _ in columns})
    if clash:
        for f in kept:
            skipped.append(Skipped(f.uri, f"table {location} not registered: {clash} are both "
                                          "partition folder keys and columns inside the files"))
        return None
    hive = [k != f"partition_{i}" for i, k in enumerate(keys)]
    base = sanitize_name(node[-1] if node else root.name)
    plan = TablePlan(root, node, base, location, ordered[0].schema, columns, keys, notes=notes)
    kept.sort(key=lambda f: f.rel)
    plan.partitions = [(_values(node, f, keys, hive), f) for f in kept] if keys else []
    if not keys and len(kept) != 1:
        raise AssertionError("an unpartitioned table has exactly one folder")
    return plan


def _describe(layout: tuple[object, ...]) -> str:
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
                reserved: Sequence[tuple[str, ...]] = ()
                ) -> tuple[list[TablePlan], list[Skipped]]:
    """Group ``folders`` (all under ``root``) into tables.

    ``reserved`` are folders of tables that already exist: no new table may contain them
    (its readers would read the other table's files too).
    """
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
            plan = make_table(root, node, groups[node], skipped)
            if plan is not None:
                tables.append(plan)
        return tables, skipped
    _group(root, (), list(folders), tables, skipped, reserved)
    return tables, skipped


def _contains_reserved(node: tuple[str, ...], reserved: Sequence[tuple[str, ...]]) -> bool:
    return any(r[: len(node)] == node for r in reserved)


def _group(root: Root, node: tuple[str, ...], folders: list[Folder], tables: list[TablePlan],
           skipped: list[Skipped], reserved: Sequence[tuple[str, ...]]) -> None:
    if not _contains_reserved(node, reserved) and is_one_table(node, folders):
        plan = make_table(root, node, folders, skipped)
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
        _group(root, (*node, child), children[child], tables, skipped, reserved)
