"""Classify one object and infer its schema, as Glue's built-in classifiers do.

* Parquet (``PAR1`` magic): the schema comes from the footer only; no row is read.
* Text (optionally gzip or bz2, recognised by their magic bytes, which must agree with the
  name's suffix ``.gz``/``.gzip``/``.bz2`` that readers go by): a sample of the first
  1,000 records or 1 MB (whichever comes first, Glue's sample) is read.
  JSON lines when every sampled line is a JSON object (keys that differ only in case are one
  column, as the OpenX JSON SerDe reads them); otherwise CSV when one delimiter
  (``,`` ``\\t`` ``|`` ``;`` ``\\x01``) splits every sampled line into the same number (>= 2) of
  fields. The header is detected as Glue does: the first row is a header when all its values
  are distinct non-empty strings, each but the last shorter than 150 characters, and some
  later row has a non-string value in a column; the last value may be empty when the last
  column is empty throughout (a trailing delimiter). Otherwise columns are ``col0, col1, ...``.

A JSON array (``[{...}, {...}]``, one line or pretty-printed) is not JSON lines (Athena's JSON
SerDes read each line as one record), so it is unreadable rather than taken for CSV. Anything else
raises :class:`UnreadableObject` with the reason the report shows.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

import pyarrow.fs as pafs
import pyarrow.parquet as pq

from lakeforge.crawler.hive_types import (
    NULL_TYPE,
    TypeConflict,
    from_arrow,
    integer_time_type,
    widen,
)
from lakeforge.crawler.listing import ListedObject

SAMPLE_BYTES = 1024 * 1024
SAMPLE_RECORDS = 1000
DELIMITERS = (",", "\t", "|", ";", "\x01")
HeaderMode = Literal["detect", "present", "absent"]

_INT = re.compile(r"^[+-]?\d+$")
_FLOAT = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Only java.sql.Timestamp's text form: LazySimpleSerDe (Athena, Hive, Spark's Hive reader) reads
# ISO-8601 forms ('2024-01-01T10:00:00', '...Z', '...+01:00') of a timestamp column as NULL, so
# those stay string (Athena's advice: string + from_iso8601_timestamp()).
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,9})?$")


class UnreadableObject(Exception):
    """The object is not a readable data file; ``str(exc)`` is the reason for the report."""


@dataclass(frozen=True)
class FileSchema:
    """What one data file is: format, compression, columns (name, Hive type), CSV options."""

    format: Literal["parquet", "csv", "json"]
    compression: str | None
    columns: tuple[tuple[str, str], ...]
    csv_delimiter: str = ","
    csv_header: bool = False
    csv_quoted: bool = False
    integer_time_columns: tuple[tuple[str, str], ...] = ()
    """(column, Parquet type) of Parquet columns holding TIMESTAMP(NANOS) or TIME, registered
    as the integer they store (the type Spark 3.5 reads them as); the crawl report says so."""
    header_only: tuple[str, ...] | None = None
    """For a CSV file of one row that could be a header (header detection cannot tell without
    data rows): the column names it would give. Beside files with that header it is a
    header-only file of their layout (what Spark writes for an empty partition)."""
    record_count: int | None = None
    """Records in the file: exact for Parquet (its footer) and for a text file sampled whole,
    estimated from the sample for a longer uncompressed text file, None for a longer
    compressed one."""

    @property
    def layout(self) -> tuple[object, ...]:
        """What must be equal for files to share a table (Glue: format and compression;
        for CSV also the SerDe options). Parquet's codec is internal to each file, so it
        never splits a table."""
        if self.format == "parquet":
            return ("parquet",)
        if self.format == "json":
            return ("json", self.compression)
        return ("csv", self.compression, self.csv_delimiter, self.csv_header, self.csv_quoted)


def classify(fs: pafs.FileSystem, obj: ListedObject, *, csv_header: HeaderMode = "detect",
             sample_bytes: int = SAMPLE_BYTES,
             sample_records: int = SAMPLE_RECORDS) -> FileSchema:
    """Classify one non-empty object; raises :class:`UnreadableObject` with a reason."""
    try:
        with fs.open_input_file(obj.path) as f:
            head = f.read(4)
            if head == b"PAR1" or obj.name.endswith(".parquet"):
                return _parquet(f, head)
        return _text(fs, obj, csv_header, sample_bytes, sample_records)
    except UnreadableObject:
        raise
    except OSError as exc:
        raise UnreadableObject(f"cannot read: {exc}") from exc


def _parquet(f: object, head: bytes) -> FileSchema:
    if head != b"PAR1":
        raise UnreadableObject("named .parquet but not a Parquet file (no PAR1 magic bytes)")
    try:
        # Arrow reports INT96 (Spark's and Hive's legacy timestamps) as nanoseconds; read it as
        # microseconds so that only a real TIMESTAMP(NANOS) column has the 'ns' unit.
        pf = pq.ParquetFile(f, coerce_int96_timestamp_unit="us")
        md, arrow_schema = pf.metadata, pf.schema_arrow
    except Exception as exc:  # ArrowInvalid, OSError from a truncated or corrupt footer
        raise UnreadableObject(f"corrupt Parquet footer: {exc}") from exc
    try:
        columns = tuple((fld.name, from_arrow(fld.type)) for fld in arrow_schema)
    except TypeConflict as exc:
        raise UnreadableObject(f"Parquet schema not supported: {exc}") from exc
    nanos = tuple((fld.name, kind) for fld in arrow_schema
                  if (kind := integer_time_type(fld.type)) is not None)
    codec = None
    if md.num_row_groups and md.num_columns:
        codec = str(md.row_group(0).column(0).compression).lower()
        codec = None if codec in ("uncompressed", "none") else codec
    return FileSchema("parquet", codec, columns, integer_time_columns=nanos,
                      record_count=md.num_rows)


# Readers pick a text file's codec from its name (Hadoop's CompressionCodecFactory, used by
# Spark, Hive, EMR and Athena), never from its bytes: content and name must agree.
_SUFFIX_CODECS = {".gz": "gzip", ".gzip": "gzip", ".bz2": "bz2"}


def _codec_of_name(name: str) -> str | None:
    lower = name.lower()
    return next((c for sfx, c in _SUFFIX_CODECS.items() if lower.endswith(sfx)), None)


def _open_text(fs: pafs.FileSystem, obj: ListedObject) -> tuple[io.BufferedIOBase, str | None]:
    raw = fs.open_input_stream(obj.path, compression=None)
    magic = raw.read(4)
    raw.close()
    if magic == b"\x28\xb5\x2f\xfd":
        raise UnreadableObject("zstd-compressed text is not readable by Athena's text SerDes")
    if obj.name.endswith(".snappy") or magic == b"\xff\x06\x00\x00":
        raise UnreadableObject("snappy-compressed text files cannot be sampled (use Parquet, "
                               "gzip or bz2); Hadoop's snappy framing has no Python reader here")
    content = ("gzip" if magic[:2] == b"\x1f\x8b" else "bz2" if magic[:3] == b"BZh" else None)
    named = _codec_of_name(obj.name)
    if content != named:
        suffix = {"gzip": ".gz", "bz2": ".bz2"}
        if content is not None:
            raise UnreadableObject(
                f"{content} content but the name has no {suffix[content]} suffix: readers pick "
                "the codec from the file name (Hadoop CompressionCodecFactory), so they would "
                f"read compressed bytes as text; rename it to *{suffix[content]}")
        raise UnreadableObject(
            f"named *{obj.name[obj.name.rfind('.'):]} but the content is not {named}: readers "
            "pick the codec from the file name (Hadoop CompressionCodecFactory) and would fail "
            "to decompress it; compress it or drop the suffix")
    raw = fs.open_input_stream(obj.path, compression=None)
    if content == "gzip":
        return gzip.GzipFile(fileobj=raw), "gzip"  # type: ignore[arg-type]
    if content == "bz2":
        return bz2.BZ2File(raw), "bz2"  # type: ignore[arg-type]
    return raw, None  # type: ignore[return-value]


def _sample_lines(stream: io.BufferedIOBase, size: int | None, sample_bytes: int,
                  sample_records: int) -> tuple[list[str], int | None]:
    """The sampled non-blank lines and the records in the file: exact when the sample is the
    whole file, estimated from the bytes per sampled line for a longer uncompressed file, and
    None for a longer compressed one (``size`` None: its size says little about its
    records)."""
    try:
        data = stream.read(sample_bytes + 1)
    except (OSError, EOFError, ValueError) as exc:
        raise UnreadableObject(f"corrupt compressed stream: {exc}") from exc
    finally:
        stream.close()
    truncated = len(data) > sample_bytes
    if truncated:
        data = data[:sample_bytes]
        cut = data.rfind(b"\n")
        data = data[:cut] if cut > 0 else data
    if b"\x00" in data:
        raise UnreadableObject("binary content: not Parquet, CSV or JSON lines")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableObject(f"not UTF-8 text (byte {exc.start}): not Parquet, CSV or JSON "
                               "lines") from exc
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not truncated:
        return lines[:sample_records], len(lines)
    if size is None:
        return lines[:sample_records], None
    # Glue: "Estimate count of records in table, based on file sizes and headers".
    return lines[:sample_records], max(len(lines), round(len(lines) * size / max(1, len(data))))


def _text(fs: pafs.FileSystem, obj: ListedObject, header_mode: HeaderMode, sample_bytes: int,
          sample_records: int) -> FileSchema:
    stream, compression = _open_text(fs, obj)
    lines, records = _sample_lines(stream, None if compression else obj.size, sample_bytes,
                                   sample_records)
    if not lines:
        raise UnreadableObject("no records (only blank lines)" if compression is None
                               else f"no records after {compression} decompression")
    if lines[0].lstrip().startswith("{"):
        return replace(_json(lines, compression), record_count=records)
    if _is_json_array(lines[0]):
        # A one-line array '[{"a":1},{"a":2}]' splits on ',' like CSV and was registered as a
        # CSV table of string columns holding JSON fragments.
        raise UnreadableObject(
            "JSON array, not JSON lines: Athena's and Hive's JSON SerDes read each line as one "
            "record, not the array's objects; write one JSON object per line (in Glue, a custom "
            "JSON classifier with JsonPath $[*] makes the elements records)")
    schema = _csv(lines, compression, header_mode)
    if records is not None and schema.csv_header:
        records = max(0, records - 1)
    return replace(schema, record_count=records)


def _is_json_array(line: str) -> bool:
    """The first line opens a JSON array: a bare ``[`` (pretty-printed) or a whole array."""
    text = line.strip()
    if text == "[":
        return True
    if not text.startswith("["):
        return False
    try:
        return isinstance(json.loads(text), list)
    except json.JSONDecodeError:
        return False


# --------------------------------------------------------------------------- JSON


def json_type(value: object) -> str:
    if value is None:
        return NULL_TYPE
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "bigint" if -(2**63) <= value < 2**63 else "double"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        elem = NULL_TYPE
        for v in value:
            elem = widen(elem, json_type(v), "text")
        return f"array<{elem}>"
    if isinstance(value, dict):
        clash = _case_clash(value)
        if clash:
            raise TypeConflict(f"an object holds {clash}")
        return "struct<" + ",".join(f"{k}:{json_type(v)}" for k, v in value.items()) + ">"
    return "string"


def _case_clash(keys: Iterable[str]) -> str | None:
    """The first two keys that differ only in case, said as an unreadable row's reason."""
    seen: dict[str, str] = {}
    for key in keys:
        if key.lower() in seen:
            return (f"keys {seen[key.lower()]!r} and {key!r}, which differ only in case: the "
                    "OpenX JSON SerDe lower-cases keys (case.insensitive) and fails such a row "
                    "with a duplicate key")
        seen[key.lower()] = key
    return None


def _json(lines: list[str], compression: str | None) -> FileSchema:
    # Keyed by the lower-cased key: the OpenX JsonSerDe (case.insensitive, its default) and
    # Athena/Hive column names are case-insensitive, so 'userId' and 'userid' are one column
    # (first spelling kept, types widened), as merge_columns merges files.
    types: dict[str, tuple[str, str]] = {}
    bad: list[str] = []
    for n, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            bad.append(f"line {n} is not valid JSON ({exc.msg})")
            continue
        if not isinstance(record, dict):
            bad.append(f"line {n} is a JSON {type(record).__name__}, not an object")
            continue
        clash = _case_clash(record)
        if clash:
            raise UnreadableObject(f"line {n} holds {clash}")
        for key, value in record.items():
            folded = key.lower()
            try:
                t = json_type(value)
            except TypeConflict as exc:
                raise UnreadableObject(f"line {n}, field {key!r}: {exc}") from exc
            first, before = types.get(folded, (key, None))
            try:
                types[folded] = (first, widen(before, t, "text") if before is not None else t)
            except TypeConflict as exc:
                what = (f"field {key!r} changes" if first == key else
                        f"keys {first!r} and {key!r} (one column: they differ only in case) change")
                raise UnreadableObject(f"{what} shape between records: {exc}") from exc
    if bad and not _tolerable(len(bad), len(lines)):
        raise UnreadableObject(f"{bad[0]}; {len(bad)} of {len(lines)} sampled lines are "
                               "malformed (JSON files must hold one object per line)")
    if not types:
        raise UnreadableObject("JSON records have no fields")
    return FileSchema("json", compression, tuple(types.values()))


# --------------------------------------------------------------------------- CSV


def text_value_type(value: str) -> str:
    """The type Glue's CSV classifier gives one value (empty or blank -> unknown).

    Values are not trimmed, as Glue's CSV classifier does not trim by default
    (``DisableValueTrimming``): LazySimpleSerDe reads ``' 2'`` in a bigint column and
    ``' true'`` in a boolean one as NULL, so a value with leading or trailing spaces is a
    string."""
    v = value
    if v.strip() == "":
        return NULL_TYPE
    if v != v.strip():
        return "string"
    if v.lower() in ("true", "false"):
        return "boolean"
    if _INT.match(v):
        return "bigint" if -(2**63) <= int(v) < 2**63 else "double"
    if _FLOAT.match(v):
        return "double"
    if _TIMESTAMP.match(v):
        return "timestamp"
    if _DATE.match(v):
        return "date"
    return "string"


# A sample may hold a few malformed records (readers quarantine them): Glue classifies by the
# records that parse, so a stray bad line does not make a whole file unreadable.
MALFORMED_TOLERANCE = 0.1


def _tolerable(bad: int, total: int) -> bool:
    return total > 0 and bad <= MALFORMED_TOLERANCE * total and bad < total


def _split(lines: list[str], delimiter: str) -> list[list[str]] | None:
    """Rows of the lines that split into the modal field count (None: no consistent split)."""
    rows: list[list[str] | None] = []
    for line in lines:
        try:
            rows.append(next(csv.reader([line], delimiter=delimiter, quotechar='"',
                                        strict=True)))
        except (csv.Error, StopIteration):
            rows.append(None)
    counts = Counter(len(r) for r in rows if r is not None)
    if not counts:
        return None
    width, good = counts.most_common(1)[0]
    first = rows[0]
    if width < 2 or first is None or len(first) != width:
        return None
    if not _tolerable(len(rows) - good, len(rows)) and good != len(rows):
        return None
    return [r for r in rows if r is not None and len(r) == width]


def _column_name(raw: str, index: int, seen: set[str]) -> str:
    """A CSV header as Glue's crawler records it: lower case, spaces and other characters
    kept (``Provider Id`` -> ``provider id``; DDL back-quotes such names); an empty header is
    ``col<index>``, a repeated one gets ``_2``, ``_3``."""
    name = raw.strip().lower() or f"col{index}"
    base, n = name, 1
    while name in seen:
        n += 1
        name = f"{base}_{n}"
    seen.add(name)
    return name


HEADER_MAX_CHARS = 150  # Glue: header values "fewer than 150 characters" (but the last)


def _detect_header(first: list[str], rest: list[list[str]], col_types: list[str]) -> bool:
    """Glue's built-in CSV classifier's header test: every value of the first row is a string
    of fewer than 150 characters (the last column excepted), and some later row holds a
    non-string value. "To allow for a trailing delimiter, the last column can be empty
    throughout the file": then the header's empty last value does not disqualify it. The
    header's names must also be distinct (a table cannot have two columns of one name)."""
    return (bool(rest) and _header_shaped(first, rest)
            and any(t not in ("string", NULL_TYPE) for t in col_types))


def _header_shaped(first: list[str], rest: list[list[str]]) -> bool:
    """The first row's values could be a header (all but the type contrast with later rows)."""
    names = [v.strip() for v in first]
    trailing = names[-1] == "" and all(row[-1].strip() == "" for row in rest)
    if trailing:
        names = names[:-1]
    return (
        bool(names)
        and all(text_value_type(v) == "string" for v in names)
        and all(len(v) < HEADER_MAX_CHARS for v in names[: len(first) - 1])
        and len(set(names)) == len(names)
    )


def _csv(lines: list[str], compression: str | None, header_mode: HeaderMode) -> FileSchema:
    best: tuple[str, list[list[str]]] | None = None
    for d in DELIMITERS:
        rows = _split(lines, d)
        if rows is not None and (best is None or len(rows[0]) > len(best[1][0])):
            best = (d, rows)
    if best is None:
        raise UnreadableObject(
            "unrecognised format: not Parquet, not JSON lines, and no delimiter "
            f"({', '.join(repr(d) for d in DELIMITERS)}) splits every sampled line into the "
            "same number (at least 2) of fields"
        )
    delimiter, rows = best
    quoted = any(re.search(rf'(^|{re.escape(delimiter)})"', ln) for ln in lines)
    first, rest = rows[0], rows[1:]
    width = len(first)
    col_types = [NULL_TYPE] * width
    for row in rest:
        for i, value in enumerate(row):
            col_types[i] = widen(col_types[i], text_value_type(value), "text")
    if header_mode == "present":
        header = True
    elif header_mode == "absent":
        header = False
    else:
        header = _detect_header(first, rest, col_types)
    if not header:
        for i, value in enumerate(first):
            col_types[i] = widen(col_types[i], text_value_type(value), "text")
    seen: set[str] = set()
    names = ([_column_name(v, i, seen) for i, v in enumerate(first)] if header
             else [f"col{i}" for i in range(width)])
    if quoted:
        # OpenCSVSerde hands every value over as a string, whatever the declared type.
        col_types = ["string"] * width
    header_only = None
    if header_mode == "detect" and not rest and _header_shaped(first, rest):
        seen = set()
        header_only = tuple(_column_name(v, i, seen) for i, v in enumerate(first))
    return FileSchema("csv", compression, tuple(zip(names, col_types, strict=True)),
                      csv_delimiter=delimiter, csv_header=header, csv_quoted=quoted,
                      header_only=header_only)
