"""What a job declares in its config: its sources, its outputs and the run settings.

A job's config dataclass embeds these (``sources``, ``outputs``, ``run``); the lifecycle
reads them, the job's business steps never do. Every value is checked by
:func:`validate_lifecycle` in the preflight, before Spark starts, with a one-line error naming
the key and the file.

Example (``conf/jobs/<job>.yaml``)::

    database: lakeforge
    sources:
      events: {path: events, format: json, required: [event_id],
               mappings: [[event_id, string, event_id, string], [ts, string, ts, timestamp]]}
    outputs:
      sessions: {partition_by: [dt], mode: overwrite_partitions, ledger: events}
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from lakeforge.bookmarks import ENABLE, PAUSE
from lakeforge.bookmarks import OPTIONS as BOOKMARK_OPTIONS
from lakeforge.errors import ConfigError, LakeforgeError
from lakeforge.locks import DEFAULT_LEASE_SECONDS
from lakeforge.paths import is_remote, validate_identifier
from lakeforge.publish import PUBLISH_MODES

# Spark SQL types a mapping may name (besides decimal(p,s)).
MAPPING_TYPES = frozenset({
    "string", "int", "integer", "bigint", "long", "smallint", "tinyint", "double", "float",
    "boolean", "date", "timestamp"})


@dataclass(frozen=True)
class SourceSpec:
    """One raw source: a folder in the raw zone read line by line (CSV with a header, JSON
    lines) or row by row (Parquet); gzip / bzip2 files are read by their extension.

    ``mappings`` are Glue ApplyMapping tuples ``[source, type, target, type]``: values that do
    not convert go to quarantine with the column and the value. ``incremental`` sources are
    read only where the bookmark saw new files (a partition with a new file is reprocessed
    whole); the others (dimensions) are read whole every run and a new file reprocesses every
    partition of the incremental sources.
    """

    path: str
    format: Literal["csv", "json", "parquet"]
    mappings: list[list[str]]
    required: list[str] = field(default_factory=list)
    incremental: bool = True
    # CSV only: one character, not the quote '"'; ',' when a CSV source leaves it out. Unset
    # (None) on a JSON / Parquet source, so the preflight can refuse one given there.
    delimiter: str = field(default=cast(str, None))

    def __post_init__(self) -> None:
        from lakeforge.config import FieldValueError

        # The shape first, at load: a job's own validate (run before the lifecycle's checks)
        # reads a mapping's target as m[2]. from_mapping names the file and the source.
        for i, m in enumerate(self.mappings):
            if len(m) != 4:
                raise FieldValueError(f"mappings[{i}]", f"has {len(m)} entries, a mapping has "
                                      "4 (source, type, target, type)")
        if self.delimiter is None and self.format == "csv":
            object.__setattr__(self, "delimiter", ",")


@dataclass(frozen=True)
class OutputSpec:
    """One published table, keyed in the config by the name the job's steps give its frame.
    ``ledger`` names the source whose every row must be accounted
    for in it (published, quarantined, merged or removed by a named rule).

    ``overwrite_partitions`` replaces the partitions a run wrote; a run that reprocesses
    everything (a new dimension file, bookmarks disabled) overwrites the whole table.
    """

    table: str | None = None  # the table's name; default: the output's key
    partition_by: list[str] = field(default_factory=list)
    mode: Literal["overwrite", "overwrite_partitions", "append"] = "overwrite_partitions"
    # parquet: versioned folders + one catalog switch; delta / iceberg: the format's own commit
    # (lakeforge.formats); `lakeforge run JOB --output_format F` sets it for every output.
    format: Literal["parquet", "delta", "iceberg"] = "parquet"
    ledger: str | None = None
    quality_suite: str | None = None
    # delta / iceberg: an incremental run MERGEs its rows into the table on these columns
    # (matched rows updated, new ones inserted) instead of overwriting their partitions.
    merge_keys: list[str] = field(default_factory=list)
    # delta / iceberg: a run whose rows add columns evolves the table (older rows read null);
    # otherwise a schema change fails the run before the commit.
    allow_schema_evolution: bool = False
    # parquet, partitioned, mode overwrite: accept a changed type or a dropped column, which
    # readers fail on between the table update and the partition switch (docs/publish.md).
    allow_breaking_schema_change: bool = False
    # delta / iceberg: compact (OPTIMIZE / rewrite_data_files) a partition the commit touched
    # once it holds more data files than this; 0 never compacts.
    max_files_per_partition: int = 0


@dataclass(frozen=True)
class RunSettings:
    """How the lifecycle runs a job (bookmarks, thresholds, retention, the lock)."""

    # Rows (of the run's input) that may go to quarantine before the run fails (exit 1),
    # publishing nothing: checked after reading, after the quarantine write and after audit.
    max_bad_row_fraction: float = 0.05
    version_retention_hours: float = 24.0
    # Glue's --job-bookmark-option / --job-bookmark-from / --job-bookmark-to win over these.
    bookmark_option: str = ENABLE
    job_bookmark_from: str | None = None
    job_bookmark_to: str | None = None
    # The publish lock is a lease renewed every ttl/3; a dead run's lock expires after it
    # (at once when the dead run was on this host).
    lock_ttl_seconds: float = DEFAULT_LEASE_SECONDS
    # Register the raw sources in ``raw_database`` with the crawler (for Athena); the job
    # lists the raw files itself either way. Unset: crawl when raw_database is set; false
    # turns the crawl off; it is refused without raw_database (there is nothing to crawl into).
    crawl_raw: bool | None = None


@dataclass(frozen=True, kw_only=True)
class PipelineConfig:
    """The keys every lifecycle job's config has; a job's config dataclass extends it
    (``@dataclass(frozen=True, kw_only=True)``) with its own keys and may define
    ``validate(self, source)`` for them."""

    sources: dict[str, SourceSpec]
    outputs: dict[str, OutputSpec]
    database: str = "lakeforge"
    # When set, the raw sources are crawled into this database (for Athena).
    raw_database: str | None = None
    # The feature pipeline (transforms.features spec) over the published output
    # ``features_from``; none when unset.
    features: dict[str, Any] | None = None
    features_from: str | None = None
    run: RunSettings = field(default_factory=RunSettings)

    def validate(self, source: str) -> None:
        """Job-specific checks (the lifecycle's own run in the preflight)."""


def with_output_format(cfg: Any, fmt: str) -> Any:
    """``cfg`` with every output published as ``fmt`` (``--output_format``)."""
    import dataclasses

    outputs = {n: dataclasses.replace(o, format=fmt) for n, o in cfg.outputs.items()}
    return dataclasses.replace(cfg, outputs=outputs)


def table_of(name: str, out: OutputSpec) -> str:
    """The table an output is published as."""
    return out.table or name


_NUMERIC = frozenset({"int", "integer", "bigint", "long", "smallint", "tinyint", "double",
                      "float"})
_DECIMAL = re.compile(r"decimal\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)")


def _check_type(text: str, key: str) -> None:
    t = text.strip().lower()
    if t in MAPPING_TYPES:
        return
    if t.startswith("decimal"):
        m = _DECIMAL.fullmatch(t)
        if m is None:
            raise ConfigError(f"{key}: type {text!r} is not decimal(p,s) (two whole numbers, "
                              "e.g. decimal(12,2))")
        precision, scale = int(m[1]), int(m[2] or 0)
        if not (1 <= precision <= 38 and 0 <= scale <= precision):
            raise ConfigError(f"{key}: type {text!r}: Spark's decimal(p,s) has precision "
                              "1 <= p <= 38 and scale 0 <= s <= p")
        return
    raise ConfigError(f"{key}: type {text!r} is not supported; use one of "
                      f"{sorted(MAPPING_TYPES)} or decimal(p,s)")


def _type_kind(text: str) -> str:
    t = text.strip().lower()
    return "numeric" if t in _NUMERIC or t.startswith("decimal") else t


def can_cast(source_type: str, target_type: str) -> bool:
    """Whether Spark's ``try_cast`` (the cast ingestion and ApplyMapping use) converts
    ``source_type`` to ``target_type``, for the mapping types: text to and from anything,
    numeric types among themselves and with boolean and timestamp, date with timestamp; never a
    date with a number or a boolean, a boolean with a timestamp, nor binary with anything but
    text. Spark refuses the others when the plan is analysed, after the session started;
    tests/lakeforge/test_lifecycle_settings.py checks this table against Spark."""
    s, d = _type_kind(source_type), _type_kind(target_type)
    if s == d or "string" in (s, d):
        return True
    pair = {s, d}
    if "binary" in pair:
        return False
    if "date" in pair:
        return pair == {"date", "timestamp"}
    if "boolean" in pair:
        return pair == {"boolean", "numeric"}
    return True  # numeric <-> timestamp


def _check_mappings(mappings: list[list[str]], name: str, fail: Callable[[str, str], None],
                    source: str) -> None:
    """Each mapping's shape, types and cast, its source column readable by ingestion, no
    source column read twice and no target written twice."""
    sources: dict[str, int] = {}
    targets: dict[str, int] = {}
    for i, m in enumerate(mappings):
        key = f"sources.{name}.mappings[{i}]"
        if len(m) != 4:
            fail(key, f"has {len(m)} entries, a mapping has 4 (source, type, target, type)")
        column, stype, target, ttype = m
        if not column.strip():
            fail(key, "has an empty source column; name the column (CSV header, JSON key or "
                 "Parquet column) it reads")
        if "." in column or "`" in column:
            # Ingestion reads top-level CSV headers / JSON keys / Parquet columns by their whole
            # name: a dotted name is not a nested field (as Glue's ApplyMapping would read it).
            fail(key, f"source column {column!r} has a '.' or '`': ingestion reads top-level "
                 "columns and keys only, not nested fields; map a top-level column")
        _check_type(stype, f"{source}: '{key}'")
        _check_type(ttype, f"{source}: '{key}'")
        validate_identifier(target, f"{source}: {key} target")
        if not can_cast(stype, ttype):
            fail(key, f"casts {stype} to {ttype}, which Spark cannot convert; map it to a type "
                 f"{stype} converts to (e.g. string)")
        for seen, what, value in ((sources, "source column", column),
                                  (targets, "target column", target)):
            # Spark resolves column names without regard to case.
            first = seen.setdefault(value.casefold(), i)
            if first != i:
                fail(key, f"repeats the {what} {value!r} of sources.{name}.mappings[{first}]; "
                     f"each {what} appears in one mapping")


def _check_source_path(path: str, key: str, fail: Callable[[str, str], None]) -> None:
    """A raw source's folder as Lake.resolve takes it: an absolute path or URI as it is, a
    relative one inside the raw zone, with no empty, '.' or '..' part (nothing escapes it)."""
    if not path.strip():
        fail(key, "is empty; name the source's folder (relative to the raw zone, or an "
             "absolute path / s3:// URI)")
    if is_remote(path) or path.startswith(("/", "file://")):
        return
    if any(piece in ("", ".", "..") for piece in path.strip("/").split("/")):
        fail(key, f"is {path!r}: a path relative to the raw zone has no empty, '.' or '..' "
             "part; give an absolute path or URI for a folder outside the raw zone")


def quality_suite_location(suite: str) -> str:
    """The file the audit reads for ``suite``, resolved as lakeforge.lifecycle.gate.run_gate
    does: a DQDL ruleset (``x.dqdl``, or a conf/quality name with only a .dqdl file) or a YAML
    suite; a bare name is in conf/quality, a path (``.yaml`` / ``.yml`` or with a '/') is taken
    as it is (a relative one from the working folder)."""
    from lakeforge.config import conf_dir
    from lakeforge.dqdl import is_dqdl, ruleset_location

    if is_dqdl(suite):
        return ruleset_location(suite)
    if suite.endswith((".yaml", ".yml")) or "/" in suite:
        return suite
    return str(conf_dir() / "quality" / f"{suite}.yaml")


def _check_quality_suite(suite: str, key: str, fail: Callable[[str, str], None]) -> None:
    """A local suite must exist and parse (its checks or DQDL rules); an s3:// one is read
    when the audit starts (the preflight has no S3 client for it)."""
    from lakeforge.dqdl import is_dqdl, load_ruleset
    from lakeforge.quality_gate import load_suite

    if not suite.strip():
        fail(key, "is empty; name a suite in conf/quality or give a path")
    location = quality_suite_location(suite)
    if is_remote(location):
        return
    local = Path(location[len("file://"):] if location.startswith("file://") else location)
    if not local.is_file():
        fail(key, f"is {suite!r}: no file {local.resolve()} (a name is looked up in "
             "conf/quality as <name>.yaml or <name>.dqdl; a relative path from the working "
             "folder)")
    try:
        load_ruleset(str(local)) if is_dqdl(suite) else load_suite(str(local))
    except LakeforgeError as exc:
        fail(key, f"is {suite!r}, which does not parse: {exc}")


def validate_lifecycle(sources: Mapping[str, SourceSpec], outputs: Mapping[str, OutputSpec],
                       run: RunSettings, database: str, raw_database: str | None,
                       source: str) -> None:
    """Check what the dataclass types cannot: names, mapping shapes and types, references
    between outputs and sources, ranges. ``source`` names the config file in the error."""
    def fail(key: str, why: str) -> None:
        raise ConfigError(f"{source}: '{key}' {why}")

    for key, name in (("database", database), ("raw_database", raw_database)):
        if name is not None:
            try:
                validate_identifier(name, key)
            except ConfigError as exc:
                fail(key, str(exc))
    if not sources:
        fail("sources", "declares no source; a job reads at least one")
    for name, spec in sources.items():
        validate_identifier(name, f"{source}: sources.{name}")
        _check_source_path(spec.path, f"sources.{name}.path", fail)
        if not spec.mappings:
            fail(f"sources.{name}.mappings", "is empty; map at least one column")
        _check_mappings(spec.mappings, name, fail, source)
        if spec.format != "csv":
            if spec.delimiter is not None:
                fail(f"sources.{name}.delimiter", f"is set on a {spec.format} source; it is "
                     "for format csv only: remove it")
        elif len(spec.delimiter) != 1 or spec.delimiter in '"\r\n':
            fail(f"sources.{name}.delimiter", f"is {spec.delimiter!r}; use one character other "
                 "than the quote '\"' and a line break")
        unknown = sorted(set(spec.required) - {m[0] for m in spec.mappings})
        if unknown:
            fail(f"sources.{name}.required", f"names {unknown}, not source columns of the "
                 "mappings")
    if not outputs:
        fail("outputs", "declares no output table")
    for name, out in outputs.items():
        validate_identifier(name, f"{source}: outputs.{name}")
        validate_identifier(table_of(name, out), f"{source}: outputs.{name}.table")
        if out.mode not in PUBLISH_MODES:
            fail(f"outputs.{name}.mode", f"is {out.mode!r}; allowed: {list(PUBLISH_MODES)}")
        for k in out.partition_by:
            validate_identifier(k, f"{source}: outputs.{name}.partition_by")
        if out.format not in ("parquet", "delta", "iceberg"):
            fail(f"outputs.{name}.format", f"is {out.format!r}; use parquet, delta or iceberg")
        if out.allow_breaking_schema_change and out.format != "parquet":
            fail(f"outputs.{name}.allow_breaking_schema_change", "is for format parquet (delta "
                 "and iceberg change a schema in their own commit: allow_schema_evolution)")
        if out.format == "parquet" and (out.merge_keys or out.allow_schema_evolution
                                        or out.max_files_per_partition):
            fail(f"outputs.{name}", "sets merge_keys / allow_schema_evolution / "
                 "max_files_per_partition, which need format delta or iceberg")
        for k in out.merge_keys:
            validate_identifier(k, f"{source}: outputs.{name}.merge_keys")
        if out.max_files_per_partition < 0:
            fail(f"outputs.{name}.max_files_per_partition", "must be >= 0")
        if out.ledger is not None and out.ledger not in sources:
            fail(f"outputs.{name}.ledger", f"is {out.ledger!r}, not one of the sources "
                 f"{sorted(sources)}")
        if out.quality_suite is not None:
            _check_quality_suite(out.quality_suite, f"outputs.{name}.quality_suite", fail)
    if not 0 <= run.max_bad_row_fraction <= 1:
        fail("run.max_bad_row_fraction", f"is {run.max_bad_row_fraction}; use a fraction "
             "between 0 and 1")
    if run.bookmark_option not in BOOKMARK_OPTIONS:
        fail("run.bookmark_option", f"is {run.bookmark_option!r}; use one of "
             f"{list(BOOKMARK_OPTIONS)}")
    for key, run_name in (("run.job_bookmark_from", run.job_bookmark_from),
                          ("run.job_bookmark_to", run.job_bookmark_to)):
        if run_name is not None and run.bookmark_option != PAUSE:
            fail(key, f"needs run.bookmark_option {PAUSE} (it is {run.bookmark_option})")
    if run.crawl_raw is not None and raw_database is None:
        fail("run.crawl_raw", f"is {str(run.crawl_raw).lower()} but raw_database is not set: "
             "the raw sources are crawled into raw_database; set it or drop run.crawl_raw")
    if run.lock_ttl_seconds <= 0:
        fail("run.lock_ttl_seconds", f"is {run.lock_ttl_seconds}; it must be > 0")
    if run.version_retention_hours < 0:
        fail("run.version_retention_hours", "must be >= 0")
