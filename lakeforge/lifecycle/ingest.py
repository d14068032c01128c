"""Ingestion of raw sources with line-level quarantine and the schema-drift check.

Each source folder is listed by Hive partition (``k=v`` folders, unescaped as Hive does); the
files are read line by line (CSV with each file's own header, JSON lines; gzip/bzip2 by
lower-case extension, any other compression suffix is a file issue) or row by row (Parquet), so
that every row keeps its source file, line and partition. Every row gets ``_problems``: why it is
bad (malformed line, invalid UTF-8, a value that does not convert to its mapping's types, a
required column that is null), empty when it is good. Files that cannot be read, are empty or
hold no data line become file-level quarantine records. Nothing here writes anything.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lakeforge.bookmarks import FileEntry, list_data_files
from lakeforge.errors import SchemaMismatchError
from lakeforge.lifecycle.quarantine import QUARANTINE_SCHEMA, record_json
from lakeforge.paths import HIVE_DEFAULT_PARTITION, listed_path, parse_partition_fragment

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

    from lakeforge.lifecycle.settings import SourceSpec

log = logging.getLogger(__name__)

LINEAGE = ("_file", "_line", "_partition")
# Hadoop picks a text file's codec by its case-sensitive suffix; these two it decompresses
# with no native library. Any other compression suffix would be read as plain text (garbage
# lines) or, for a codec whose native library is missing, fail the read.
TEXT_CODECS = (".gz", ".bz2")
_UNSUPPORTED_CODECS = (".zst", ".zstd", ".snappy", ".lz4", ".lzo", ".xz", ".zip", ".br", ".7z")
_PARSE_PROBLEMS = ("malformed", "not valid UTF-8")
# A column is drift in a partition when at least this many of its values are there and every
# one fails to convert; fewer are bad rows (quarantined with their reason), not a type change.
DRIFT_MIN_VALUES = 3


class SchemaDriftError(SchemaMismatchError):
    """A new partition changed a column's type incompatibly; nothing was written."""


@dataclass
class Ingested:
    """One source as read by a run: rows with ``_problems``, file-level issues, counts."""

    name: str
    keys: list[str]
    rows: DataFrame
    issues: DataFrame
    added_columns: list[str]
    partitions: list[str]
    new_files: int
    rows_in: int = 0
    bad_rows: int = 0
    file_issues: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    # file -> the mapped columns its CSV header lacks (their values are null, as Glue reads
    # files older than a column; a required one quarantines the file's rows)
    missing_columns: dict[str, list[str]] = field(default_factory=dict)


# --------------------------------------------------------------------------- listing


def list_partitions(root: str) -> tuple[list[str], dict[tuple[str | None, ...],
                                                         list[FileEntry]], list[FileEntry]]:
    """List the files under ``root`` by Hive partition. Returns the partition keys (those of
    most files), the files of each partition and the files that are not in a partition folder
    of those keys (quarantined as file issues)."""
    by_keys: dict[tuple[str, ...], dict[tuple[str | None, ...], list[FileEntry]]] = {}
    for f in list_data_files(root):
        rel = f.path.split("://", 1)[-1][len(root.split("://", 1)[-1]):].strip("/")
        folders = [p for p in rel.split("/")[:-1] if "=" in p]
        spec = parse_partition_fragment("/".join(folders)) if folders else {}
        by_keys.setdefault(tuple(spec), {}).setdefault(tuple(spec.values()), []).append(f)
    if not by_keys:
        return [], {}, []
    keys = max(by_keys, key=lambda k: (sum(len(v) for v in by_keys[k].values()), len(k)))
    misplaced = sorted(f for k, parts in by_keys.items() if k != keys
                       for fs in parts.values() for f in fs)
    return list(keys), by_keys[keys], misplaced


def partition_text(keys: Sequence[str], values: Sequence[str | None]) -> str:
    """``k=v`` text of a partition; a null value is written as Hive writes it."""
    return "/".join(f"{k}={HIVE_DEFAULT_PARTITION if x is None else x}"
                    for k, x in zip(keys, values, strict=True))


# --------------------------------------------------------------------------- reading


def read_lines(spark: SparkSession, files: Sequence[FileEntry], keys: Sequence[str] = (),
               values_of: Mapping[str, Sequence[str | None]] | None = None
               ) -> tuple[DataFrame, list[FileEntry]]:
    """One row per line of ``files``: ``_file`` (the listed path), ``_line`` (1-based),
    ``line``, ``_partition`` (``k=v`` text) and the partition columns ``keys`` (a file's
    values in ``values_of[path]``).

    One read for all files (whole files, so that every line keeps its number); files that
    cannot be read (corrupt compression, vanished, no access) are skipped by Spark and
    returned.
    """
    from pyspark.sql import functions as F

    paths = [f.path for f in files if f.size > 0]
    if not paths:
        return spark.createDataFrame([], _lineage_schema(keys)), []
    whole = (spark.read.option("ignoreCorruptFiles", "true")
             .option("ignoreMissingFiles", "true").text(paths, wholetext=True)
             .withColumn("_uri", F.input_file_name()))
    names, unreadable = _file_names(spark, whole, files, keys, values_of or {})
    out = (whole.join(F.broadcast(names), "_uri")
           .select("_file", "_partition", *keys,
                   F.posexplode(F.split("value", r"\r?\n")).alias("_pos", "line"))
           .select("_file", (F.col("_pos") + 1).cast("int").alias("_line"),
                   # a UTF-8 byte order mark is not part of the first line (header or record)
                   F.when(F.col("_pos") == 0, F.regexp_replace("line", "^\ufeff", ""))
                   .otherwise(F.col("line")).alias("line"),
                   "_partition", *keys))
    return out, unreadable


def _lineage_schema(keys: Sequence[str]) -> str:
    return "_file string, _line int, line string, _partition string" + "".join(
        f", `{k}` string" for k in keys)


def _file_names(spark: SparkSession, frame: DataFrame, files: Sequence[FileEntry],
                keys: Sequence[str], values_of: Mapping[str, Sequence[str | None]]
                ) -> tuple[DataFrame, list[FileEntry]]:
    """Spark's file URIs (``_uri``) -> listed path, partition text and values (one small
    frame to broadcast), and the files Spark could not read."""
    uris = [r[0] for r in frame.select("_uri").distinct().collect()]
    listed = {f.path for f in files}
    rows = []
    for uri in uris:
        path = listed_path(uri, listed)
        values = list(values_of.get(path, [None] * len(keys)))
        rows.append((uri, path, partition_text(keys, values) if keys else "",
                     *values))  # __HIVE_DEFAULT_PARTITION__ is None: a null key, as in Hive
    read_ok = {r[1] for r in rows}
    names = spark.createDataFrame(rows, "_uri string, _file string, _partition string" + "".join(
        f", `{k}` string" for k in keys))
    return names, [f for f in files if f.size > 0 and f.path not in read_ok]


def file_issues(spark: SparkSession, files: Sequence[FileEntry], unreadable: list[FileEntry],
                have_rows: set[str], partition_of: dict[str, str],
                reasons: Mapping[str, str] | None = None) -> tuple[DataFrame, int]:
    """File-level quarantine records (empty files, files with no data line, unreadable ones,
    and the files ``reasons`` names with their reason) and how many there are."""
    bad = {f.path for f in unreadable}
    records = []
    for f in files:
        if f.size == 0:
            reason = "empty file (0 bytes)"
        elif f.path in (reasons or {}):
            reason = (reasons or {})[f.path]
        elif f.path in bad:
            reason = ("unreadable object: Spark could not read it (corrupt compression, "
                      "vanished or no access); it was skipped")
        elif f.path not in have_rows:
            reason = "no data lines (only a header or blank lines)"
        else:
            continue
        records.append((f.path, None, partition_of.get(f.path, ""), reason, None))
    return spark.createDataFrame(records, QUARANTINE_SCHEMA), len(records)


def compression_issue(path: str) -> str | None:
    """Why a text file's compression suffix cannot be read, or None when it can."""
    name = path.rsplit("/", 1)[-1]
    if "." not in name:
        return None
    suffix = "." + name.rsplit(".", 1)[-1]
    if suffix.lower() in TEXT_CODECS and suffix not in TEXT_CODECS:
        return (f"compression suffix {suffix} is not lower case: Hadoop picks the codec by the "
                f"case-sensitive suffix and would read the file as plain text; rename it to "
                f"{suffix.lower()}")
    if suffix.lower() in _UNSUPPORTED_CODECS:
        return (f"compressed as {suffix}, which lakeforge does not read (supported: "
                f"{' and '.join(TEXT_CODECS)} (lower case) or uncompressed); recompress it "
                "as .gz")
    return None


# --------------------------------------------------------------------------- parsing


def raw_name(source: str) -> str:
    return f"_r_{source}"


def _a(type_name: str) -> str:
    return f"an {type_name}" if type_name[:1] in "aeiou" else f"a {type_name}"


def typed_and_problems(df: DataFrame, mappings: Sequence[Sequence[str]],
                       required: Sequence[str]) -> DataFrame:
    """``df`` holds each mapping's source column as raw text (``_r_<source>``); add the source
    column converted to its source type (``try_cast``: null, never an error or a truncation)
    and ``_problems``: why the row is bad (values that do not convert to the source or the
    target type, required columns that are null), empty when it is good."""
    from pyspark.sql import functions as F

    typed, problems = [], []
    for source, stype, _target, ttype in mappings:
        raw = F.col(raw_name(source))
        as_source = F.expr(f"try_cast(`{raw_name(source)}` AS {stype})")
        converts = F.expr(f"try_cast(try_cast(`{raw_name(source)}` AS {stype}) AS {ttype})")
        typed.append(as_source.alias(source))
        shown = F.when(F.length(raw) > 60, F.concat(F.substring(raw, 1, 60), F.lit("..."))
                       ).otherwise(raw)
        problems.append(F.when(
            raw.isNotNull() & converts.isNull(),
            F.concat(F.lit(f"column {source}: '"), shown,
                     F.lit(f"' is not {_a(stype if stype == ttype else ttype)}"))))
        if source in required:
            problems.append(F.when(raw.isNull(), F.lit(f"required column {source} is null")))
    return df.select("*", *typed, F.array_compact(F.array(*problems)).alias("_problems"))


def _with_line_problems(df: DataFrame) -> DataFrame:
    """Line-level problems (malformed, invalid UTF-8) replace value-level ones: a line that
    does not parse has no meaningful values."""
    from pyspark.sql import functions as F

    line_level = F.array_compact(F.array(
        F.col("_malformed"),
        F.when(F.col("_bad_utf8"), F.lit("not valid UTF-8 (bytes that decode to U+FFFD)"))))
    return df.withColumn("_problems", F.when(F.size(line_level) > 0, line_level)
                         .otherwise(F.col("_problems"))).drop("_malformed", "_bad_utf8")


def _raw_or_partition(source: str, present: Sequence[str], partition_keys: Sequence[str],
                      value_of: Any) -> Column:
    from pyspark.sql import functions as F

    if source in present:
        return value_of(source).alias(raw_name(source))
    if source in partition_keys:
        return F.col(source).alias(raw_name(source))
    return F.lit(None).cast("string").alias(raw_name(source))


def header_lines(lines: DataFrame) -> dict[str, tuple[int, str, int]]:
    """Each CSV file's header, its first non-blank line: ``_file`` -> (line number, text,
    number of non-blank lines). A file with no non-blank line is not in it."""
    from pyspark.sql import functions as F

    found = (lines.where(F.trim("line") != "").groupBy("_file")
             .agg(F.min(F.struct("_line", "line")).alias("h"), F.count(F.lit(1)).alias("n"))
             .collect())
    return {r["_file"]: (r["h"]["_line"], r["h"]["line"], r["n"]) for r in found}


def header_names(header: str, delimiter: str = ",") -> list[str]:
    """The column names of a CSV header line (RFC 4180 quoting)."""
    return next(csv.reader([header], delimiter=delimiter))


def parse_csv(spark: SparkSession, lines: DataFrame, mappings: Sequence[Sequence[str]],
              required: Sequence[str], partition_keys: Sequence[str] = (),
              delimiter: str = ",", headers: Mapping[str, tuple[int, str, int]] | None = None
              ) -> tuple[DataFrame, list[str]]:
    """Parse CSV lines by each file's own header (its first non-blank line; the lines after it
    are data, numbered as in the file; ``headers`` as :func:`header_lines` gives, computed when
    not passed). Returns rows with ``_r_<source>`` raw values, typed source columns and
    ``_problems``, and the columns headers add beyond the mappings (schema drift: reported,
    merged when a mapping names them)."""
    from pyspark.sql import functions as F

    if headers is None:
        headers = header_lines(lines)
    by_header: dict[str, list[str]] = {}
    for path, (_n, text, _count) in headers.items():
        by_header.setdefault(text, []).append(path)
    sources = [m[0] for m in mappings]
    frames, added = [], set()
    header_at = spark.createDataFrame([(p, h[0]) for p, h in headers.items()],
                                      "_file string, _header_line int")
    data = lines.join(F.broadcast(header_at), "_file").where(
        (F.col("_line") > F.col("_header_line")) & (F.trim("line") != "")).drop("_header_line")
    for header, files in sorted(by_header.items()):
        names = header_names(header, delimiter)
        added |= set(names) - set(sources)
        schema = ", ".join(f"`c{i}` string" for i in range(len(names))) + ", _corrupt string"
        parsed = data.where(F.col("_file").isin(files)).withColumn(
            # RFC 4180 like the header (Python's csv): a doubled quote is one quote, a
            # backslash an ordinary character (Spark's default escape is the backslash).
            "_p", F.from_csv("line", schema, {"mode": "PERMISSIVE", "sep": delimiter,
                                               "quote": '"', "escape": '"',
                                               "columnNameOfCorruptRecord": "_corrupt"}))
        # Fields outside quoted sections, to say how many there were.
        fields = F.size(F.split(F.regexp_replace("line", r'"([^"]|"")*"', ""),
                                re.escape(delimiter), -1))
        # The file is split into lines before parsing, so a quoted field holding a line break
        # leaves an odd number of quotes on each of its lines: every fragment is quarantined.
        quotes = F.length("line") - F.length(F.regexp_replace("line", '"', ""))
        malformed = F.when(
            quotes % 2 == 1,
            F.lit('malformed CSV line: unbalanced quote (") - a quoted field may not span '
                  'lines, or a quote is missing')
        ).when(
            F.col("_p._corrupt").isNotNull(),
            F.concat(F.lit("malformed CSV line: "), fields.cast("string"),
                     F.lit(f" fields where the header has {len(names)}"),
                     F.when(fields > len(names), F.lit(" (unexpected column)"))
                     .otherwise(F.lit(" (missing fields or broken quoting)"))))
        cols = [_raw_or_partition(s, names, partition_keys,
                                  lambda s, names=names: F.col(f"_p.c{names.index(s)}"))
                for s in sources]
        frames.append(parsed.select(*LINEAGE, "line", *cols,
                                    malformed.alias("_malformed"),
                                    F.col("line").contains("\ufffd").alias("_bad_utf8")))
    if not frames:
        empty = ", ".join(["_file string, _line int, _partition string, line string"]
                          + [f"`{raw_name(s)}` string" for s in sources]
                          + ["_malformed string, _bad_utf8 boolean"])
        frames = [spark.createDataFrame([], empty)]
    out = frames[0]
    for f in frames[1:]:
        out = out.unionByName(f)
    out = typed_and_problems(out, mappings, required)
    return _with_line_problems(out), sorted(added)


def parse_json(lines: DataFrame, mappings: Sequence[Sequence[str]], required: Sequence[str],
               partition_keys: Sequence[str] = ()) -> tuple[DataFrame, list[str]]:
    """Parse JSON lines (one object per line) to raw text per key; partition columns come
    from the folder. Returns rows (as :func:`parse_csv`) and the keys beyond the mappings."""
    from pyspark.sql import functions as F

    sources = [m[0] for m in mappings]
    data = lines.where(F.trim("line") != "").withColumn(
        "_m", F.from_json("line", "map<string,string>"))
    cols = [_raw_or_partition(s, [s for s in sources if s not in partition_keys],
                              partition_keys, lambda s: F.col("_m")[s]) for s in sources]
    malformed = F.when(F.col("_m").isNull(),
                       F.lit("malformed JSON line (not one complete JSON object)"))
    out = data.select(*LINEAGE, "line", *cols,
                      malformed.alias("_malformed"),
                      F.col("line").contains("\ufffd").alias("_bad_utf8"),
                      F.map_keys("_m").alias("_keys"))
    known = sorted(set(sources) | set(partition_keys))
    added = [r[0] for r in out.select(F.explode(F.array_except(
        "_keys", F.array(*[F.lit(k) for k in known])))).distinct().collect()]
    out = typed_and_problems(out.drop("_keys"), mappings, required)
    return _with_line_problems(out), sorted(added)


def read_parquet_rows(spark: SparkSession, files: Sequence[FileEntry],
                      mappings: Sequence[Sequence[str]], required: Sequence[str],
                      keys: Sequence[str] = (),
                      values_of: Mapping[str, Sequence[str | None]] | None = None
                      ) -> tuple[DataFrame, list[FileEntry], list[str]]:
    """Parquet files as rows like :func:`parse_json`'s (``_line`` is null, ``line`` the row as
    JSON), in one read. Returns the rows, the unreadable files and the added columns."""
    from pyspark.sql import functions as F

    paths = [f.path for f in files if f.size > 0]
    sources = [m[0] for m in mappings]
    if not paths:
        empty = ", ".join(["_file string, _line int, _partition string, line string"]
                          + [f"`{raw_name(s)}` string" for s in sources]
                          + ["_malformed string, _bad_utf8 boolean"])
        out = typed_and_problems(spark.createDataFrame([], empty), mappings, required)
        return _with_line_problems(out), [], []
    try:
        frame = (spark.read.option("ignoreCorruptFiles", "true")
                 .option("ignoreMissingFiles", "true").option("mergeSchema", "true")
                 .parquet(*paths).withColumn("_uri", F.input_file_name()))
    except Exception as exc:  # py4j's error: what the footer check could not see
        if "CANNOT_MERGE" not in str(exc) and "Failed merging schema" not in str(exc):
            raise
        first = next((x.strip() for x in str(exc).splitlines() if "merg" in x.lower()), "")
        raise SchemaDriftError(
            f"schema drift: Spark cannot merge the schemas of the {len(paths)} Parquet files "
            f"read ({first}); a column's type differs between files: fix the producer or "
            "rewrite those files with one type, then reprocess") from None
    present = [c for c in frame.columns if c != "_uri"]
    names, unreadable = _file_names(spark, frame, files, keys, values_of or {})
    names = names.select("_uri", "_file", "_partition",
                         *[F.col(k).alias(f"_k_{k}") for k in keys])
    with_file = frame.join(F.broadcast(names), "_uri").select(
        "*", *[F.col(f"_k_{k}").alias(k) for k in keys if k not in present])
    cols = [_raw_or_partition(s, present, keys, lambda s: F.col(f"`{s}`").cast("string"))
            for s in sources]
    out = with_file.select(
        "_file", F.lit(None).cast("int").alias("_line"), "_partition",
        record_json(present).alias("line"), *cols,
        F.lit(None).cast("string").alias("_malformed"), F.lit(False).alias("_bad_utf8"))
    added = sorted(set(present) - set(sources) - set(keys))
    return _with_line_problems(typed_and_problems(out, mappings, required)), unreadable, added


def parquet_footers(files: Sequence[FileEntry]) -> dict[str, tuple[int, Any]]:
    """Each Parquet file's row count and Arrow schema from its footer (no data read), through
    pyarrow's file system (S3 on the env's endpoint, as the listing reads it). A file whose
    footer cannot be read is left out: Spark's read reports it unreadable."""
    import pyarrow as pa
    import pyarrow.fs as pafs
    import pyarrow.parquet as pq

    out: dict[str, tuple[int, Any]] = {}
    s3 = None
    for f in files:
        if f.size == 0:
            continue
        try:
            if f.path.startswith(("s3://", "s3a://", "s3n://")):
                if s3 is None:
                    from lakeforge.aws import arrow_s3_filesystem

                    s3 = arrow_s3_filesystem()
                fs, inner = s3, f.path.split("://", 1)[1]
            elif "://" not in f.path or f.path.startswith("file://"):
                fs, inner = pafs.LocalFileSystem(), f.path.removeprefix("file://")
            else:
                fs, inner = pafs.FileSystem.from_uri(f.path)
            with fs.open_input_file(inner) as handle:
                footer = pq.ParquetFile(handle)
                out[f.path] = (footer.metadata.num_rows, footer.schema_arrow)
        except (OSError, pa.ArrowException) as exc:
            log.debug("no Parquet footer for %s: %s", f.path, exc)
    return out


def _footer_type(arrow_type: Any) -> str:
    """An Arrow type as Spark tells it apart (large_string reads as string, any timestamp
    unit as the same timestamp)."""
    import pyarrow as pa

    if pa.types.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    if pa.types.is_timestamp(arrow_type):
        return "timestamp" if arrow_type.tz else "timestamp without time zone"
    return str(arrow_type).replace("large_", "")


def check_parquet_types(table: str, footers: Mapping[str, tuple[int, Any]],
                        partition_of: Mapping[str, str]) -> None:
    """Fail (before Spark reads) when two Parquet files of a source give a column different
    types: Spark cannot merge their schemas. The message names each such column, both types
    and a file (with its partition) of each."""
    first: dict[str, tuple[str, str]] = {}  # column -> (type, file) where first seen
    problems: dict[str, str] = {}

    def where(path: str) -> str:
        part = partition_of.get(path, "")
        return f"{'partition ' + part if part else 'the source root'} ({path})"

    for path in sorted(footers):
        for column in footers[path][1]:
            found = _footer_type(column.type)
            seen = first.setdefault(column.name, (found, path))
            if seen[0] != found and column.name not in problems:
                problems[column.name] = (f"column {column.name} is {seen[0]} in {where(seen[1])} "
                                         f"but {found} in {where(path)}")
    if problems:
        raise SchemaDriftError(
            f"schema drift in {table}: " + "; ".join(problems.values()) + ". Parquet files of "
            "one source must agree on a column's type (Spark cannot merge them), so the run "
            "stopped before reading or writing anything; fix the producer or rewrite those "
            "files with one type, then reprocess (lakeforge bookmarks reset)")


# --------------------------------------------------------------------------- drift + counts


def check_drift_and_count(spark: SparkSession, df: DataFrame, mappings: Sequence[Sequence[str]],
                          table: str, fmt: str, files_by_part: dict[str, list[str]],
                          delimiter: str = ",") -> tuple[int, int]:
    """Fail (before anything is written) when, in some partition, every value of a column
    fails to convert to its type and there are at least :data:`DRIFT_MIN_VALUES` of them: the
    producer changed the column's type, these are not a few bad rows (fewer are quarantined
    row by row). The message names the column, both types and the partition.

    The same aggregation pass counts the rows and the bad rows (the ledger's ``rows_in`` and
    the first threshold check), so counting costs no Spark job of its own.
    """
    from pyspark.sql import functions as F

    parse_ok = ~F.exists("_problems", lambda p: p.startswith(_PARSE_PROBLEMS[0])
                         | p.startswith(_PARSE_PROBLEMS[1]))
    aggs = [F.count(F.lit(1)).alias("n__rows"),
            F.count(F.when(F.size("_problems") > 0, 1)).alias("n__bad")]
    for source, stype, _target, ttype in mappings:
        # Only lines that parse: a malformed line says nothing about the types.
        raw = F.when(parse_ok, F.col(raw_name(source)))
        ok = F.expr(f"try_cast(try_cast(`{raw_name(source)}` AS {stype}) AS {ttype})")
        aggs += [F.count(raw).alias(f"n__{source}"),
                 F.count(F.when(raw.isNotNull() & ok.isNull(), 1)).alias(f"bad__{source}"),
                 F.first(F.when(raw.isNotNull() & ok.isNull(), raw), ignorenulls=True)
                 .alias(f"ex__{source}")]
    problems, rows, bad_rows = [], 0, 0
    for row in df.groupBy("_partition").agg(*aggs).collect():
        part = row["_partition"]
        rows += row["n__rows"]
        bad_rows += row["n__bad"]
        for source, stype, _target, _ttype in mappings:
            bad, total = row[f"bad__{source}"], row[f"n__{source}"]
            if total >= DRIFT_MIN_VALUES and bad == total:
                found = inferred_type(spark, fmt, files_by_part.get(part, []), source,
                                      delimiter)
                where = f"partition {part}" if part else "the new files"
                problems.append(
                    f"column {source} is {stype} in the table but "
                    f"{found} in {where} (e.g. {row[f'ex__{source}']!r}): every one of its "
                    f"{total} values fails to convert")
    if problems:
        raise SchemaDriftError(
            f"schema drift in {table}: " + "; ".join(problems) + ". This is a type change, "
            "not a few bad rows, so the run stopped before writing anything; fix the "
            "producer, or change the mapping's type and reprocess (lakeforge bookmarks reset)")
    return rows, bad_rows


def inferred_type(spark: SparkSession, fmt: str, files: list[str], column: str,
                  delimiter: str = ",") -> str:
    """The type Spark infers for ``column`` from ``files`` (what the new data holds; CSV split
    by the source's ``delimiter``)."""
    if not files:
        return "string"
    reader = spark.read.option("samplingRatio", 1.0)
    if fmt == "json":
        df = reader.json(files)
    elif fmt == "parquet":
        df = reader.parquet(*files)
    else:
        df = (reader.option("header", True).option("inferSchema", True)
              .option("sep", delimiter).option("escape", '"').csv(files))
    for f in df.schema.fields:
        if f.name == column:
            return f.dataType.simpleString()
    return "absent"


# --------------------------------------------------------------------------- one source


def ingest_source(spark: SparkSession, name: str, spec: SourceSpec, root: str,
                  files_of: dict[tuple[str | None, ...], list[FileEntry]], keys: list[str],
                  chosen: Sequence[tuple[str | None, ...]], misplaced: Sequence[FileEntry],
                  table: str) -> Ingested:
    """Read the ``chosen`` partitions of a listed source, classify every row, check drift and
    count (one aggregation pass). ``misplaced`` files (outside a partition folder) become file
    issues."""
    from pyspark.sql import functions as F

    mappings = [list(m) for m in spec.mappings]
    files = [f for v in chosen for f in files_of[v]]
    values_of = {f.path: v for v in chosen for f in files_of[v]}
    partition_of = {p: partition_text(keys, v) for p, v in values_of.items()}
    reasons: dict[str, str] = {}  # file-level issues found here, by file
    missing_cols: dict[str, list[str]] = {}
    if spec.format != "parquet":
        reasons.update({f.path: why for f in files if f.size > 0
                        for why in [compression_issue(f.path)] if why})
    files_by_part: dict[str, list[str]] = {}
    for f in files:
        if f.size > 0 and f.path not in reasons:
            files_by_part.setdefault(partition_of[f.path], []).append(f.path)
    if spec.format == "parquet":
        footers = parquet_footers(files)
        # A valid file with no rows yields no row to name it: without this it looked corrupt.
        reasons.update({p: "no data rows (a valid Parquet file with 0 rows)"
                        for p, (n, _schema) in footers.items() if n == 0})
        check_parquet_types(table, {p: f for p, f in footers.items() if p not in reasons},
                            partition_of)
        for path, (_n, schema) in sorted(footers.items()):
            lacking = [m[0] for m in mappings if m[0] not in schema.names and m[0] not in keys]
            if lacking and path not in reasons:
                missing_cols[path] = lacking
        rows, unreadable, added_cols = read_parquet_rows(
            spark, [f for f in files if f.path not in reasons], mappings, spec.required, keys,
            values_of)
        have_rows = {r[0] for r in rows.select("_file").distinct().collect()}
    else:
        lines, unreadable = read_lines(spark, [f for f in files if f.path not in reasons],
                                       keys, values_of)
        lines = lines.cache()
        if spec.format == "csv":
            headers = header_lines(lines)
            # A header with an odd number of quotes has no column names to read its lines by
            # (Python's csv would take the rest of the line for one name, and every data line
            # would be quarantined as a field-count mismatch): the file is one file issue.
            for path, (n, text, _count) in list(headers.items()):
                if text.count('"') % 2 == 1:
                    reasons[path] = (f'header line {n} has an unbalanced quote ("): its column '
                                     "names cannot be read; fix the header, then reprocess")
                    del headers[path]
            # A file that holds nothing but blank lines has no header to read its lines by.
            unread = {f.path for f in unreadable}
            reasons.update({f.path: "no header line (the file holds only blank lines)"
                            for f in files if f.size > 0 and f.path not in headers
                            and f.path not in unread and f.path not in reasons})
            have_rows = {p for p, (_n, _text, count) in headers.items() if count > 1}
            rows, added_cols = parse_csv(spark, lines, mappings, spec.required, keys,
                                         spec.delimiter, headers)
            for path, (_n, text, _count) in sorted(headers.items()):
                names = header_names(text, spec.delimiter)
                lacking = [m[0] for m in mappings if m[0] not in names and m[0] not in keys]
                if lacking:
                    missing_cols[path] = lacking
        else:
            rows, added_cols = parse_json(lines, mappings, spec.required, keys)
            have_rows = {r[0] for r in lines.where(F.trim("line") != "")
                         .select("_file").distinct().collect()}
    issues, n_issues = file_issues(spark, files, unreadable, have_rows, partition_of, reasons)
    if misplaced:
        where = "/".join(keys) if keys else "a"
        issues = issues.unionByName(spark.createDataFrame(
            [(f.path, None, "", f"not inside a {where} partition folder", None)
             for f in misplaced], QUARANTINE_SCHEMA))
    rows = rows.cache()
    n_rows, n_bad = check_drift_and_count(
        spark, rows, [m for m in mappings if m[0] not in keys], table, spec.format,
        files_by_part, spec.delimiter)
    if missing_cols:
        log.warning("%s: %d file(s) lack mapped columns, read as null: %s", name,
                    len(missing_cols), "; ".join(f"{p}: {', '.join(c)}"
                                                 for p, c in list(missing_cols.items())[:5]))
    return Ingested(name=name, keys=keys, rows=rows, issues=issues,
                    added_columns=added_cols, missing_columns=missing_cols,
                    partitions=[partition_text(keys, v) for v in chosen],
                    new_files=0, rows_in=n_rows, bad_rows=n_bad,
                    file_issues=n_issues + len(misplaced))
