"""Hive/Athena type strings: from Arrow types, parsed, and widened when schemas merge.

``NULL_TYPE`` (``void``) stands for a column that held only nulls in what was read. In text
formats it widens to any type and is declared ``string`` when nothing better is known. In
Parquet it is the file's own type (Arrow's null type, stored as INT32) which Spark can read as
nothing else, so it merges only with itself; a column that is ``void`` in every file is not
registered at all (readers return nothing useful for it) and the crawl report says so.

Two widening modes:

* ``binary`` (Parquet): only what every reader (Spark 3.5's vectorized reader included) can do
  without rewriting files: structs take the union of their fields (also inside arrays and
  maps). Spark 3.5 cannot read an INT32 column as
  ``bigint`` or a FLOAT as ``double``, so integer, float and decimal changes are conflicts.
* ``text`` (CSV, JSON): values are text, so two different scalar types widen to ``string``.
"""

from __future__ import annotations

import re
from typing import Literal

import pyarrow as pa

NULL_TYPE = "void"
WidenMode = Literal["binary", "text"]

_INTEGERS = ["tinyint", "smallint", "int", "bigint"]


class TypeConflict(ValueError):
    """Two types cannot be merged in the given mode."""


def from_arrow(t: pa.DataType) -> str:
    """The Hive type string for an Arrow type (as Athena reads the Parquet column)."""
    if pa.types.is_null(t):
        return NULL_TYPE
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_int8(t):
        return "tinyint"
    if pa.types.is_int16(t) or pa.types.is_uint8(t):
        return "smallint"
    if pa.types.is_int32(t) or pa.types.is_uint16(t):
        return "int"
    if pa.types.is_int64(t) or pa.types.is_uint32(t):
        return "bigint"
    if pa.types.is_uint64(t):
        return "decimal(20,0)"
    if pa.types.is_float16(t) or pa.types.is_float32(t):
        return "float"
    if pa.types.is_float64(t):
        return "double"
    if pa.types.is_decimal(t):
        return f"decimal({t.precision},{t.scale})"
    is_string_view = getattr(pa.types, "is_string_view", None)  # pyarrow >= 16
    if pa.types.is_string(t) or pa.types.is_large_string(t) or (
        is_string_view is not None and is_string_view(t)
    ):
        return "string"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return "binary"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_timestamp(t):
        # Parquet TIMESTAMP(NANOS) (pyarrow's default since format 2.6): Glue's crawler
        # registers it bigint, the type Spark 3.5 reads it as; see integer_time_type.
        return "bigint" if t.unit == "ns" else "timestamp"
    if pa.types.is_dictionary(t):
        return from_arrow(t.value_type)
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return f"array<{from_arrow(t.value_type)}>"
    if pa.types.is_map(t):
        return f"map<{from_arrow(t.key_type)},{from_arrow(t.item_type)}>"
    if pa.types.is_struct(t):
        fields = ",".join(f"{t.field(i).name}:{from_arrow(t.field(i).type)}"
                          for i in range(t.num_fields))
        return f"struct<{fields}>"
    if pa.types.is_time32(t):
        # Parquet TIME(MILLIS) is an INT32 of milliseconds since midnight. Spark 3.5 has no
        # TIME type and reads the column only as int (not string); see integer_time_type.
        return "int"
    if pa.types.is_time64(t):
        return "bigint"
    raise TypeConflict(f"Arrow type {t} has no Hive/Athena equivalent")


_TIME_UNITS = {"s": "SECONDS", "ms": "MILLIS", "us": "MICROS", "ns": "NANOS"}


def integer_time_type(t: pa.DataType) -> str | None:
    """The Parquet type (``TIMESTAMP(NANOS)``, ``TIME(MILLIS)``, ...) when ``t`` is, or
    holds, a time type registered as the integer it stores, else None. Read INT96 with
    ``coerce_int96_timestamp_unit`` first: Arrow reports INT96 as nanoseconds too."""
    if pa.types.is_timestamp(t):
        return "TIMESTAMP(NANOS)" if t.unit == "ns" else None
    if pa.types.is_time(t):
        return f"TIME({_TIME_UNITS[t.unit]})"
    if pa.types.is_dictionary(t):
        return integer_time_type(t.value_type)
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return integer_time_type(t.value_type)
    if pa.types.is_map(t):
        return integer_time_type(t.key_type) or integer_time_type(t.item_type)
    if pa.types.is_struct(t):
        return next((k for i in range(t.num_fields)
                     if (k := integer_time_type(t.field(i).type))), None)
    return None


# --------------------------------------------------------------------------- parsing


def split_top_level(text: str, sep: str = ",") -> list[str]:
    """Split on ``sep`` outside ``<...>`` and ``(...)``."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "<(":
            depth += 1
        elif ch in ">)":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def _kind(t: str) -> str:
    m = re.match(r"^([a-z]+)", t)
    return m.group(1) if m else t


def _inner(t: str) -> str:
    return t[t.index("<") + 1: t.rindex(">")]


def struct_fields(t: str) -> list[tuple[str, str]]:
    inner = _inner(t)
    if not inner.strip():
        return []
    out = []
    for field in split_top_level(inner):
        name, _, ftype = field.partition(":")
        out.append((name, ftype))
    return out


def _decimal(t: str) -> tuple[int, int]:
    m = re.match(r"decimal\((\d+),\s*(\d+)\)", t)
    if not m:
        return 10, 0
    return int(m.group(1)), int(m.group(2))


# --------------------------------------------------------------------------- widening


def widen(a: str, b: str, mode: WidenMode) -> str:
    """The narrowest type both ``a`` and ``b`` can be read as; raises :class:`TypeConflict`.

    Struct field names match regardless of case (Spark, Hive, Athena and the OpenX JSON SerDe
    resolve them so) and keep their first spelling, as top-level columns do: the result does
    not depend on how many records or files were merged."""
    a, b = a.strip(), b.strip()
    if a == b:
        return a
    ka, kb = _kind(a.lower()), _kind(b.lower())
    if ka == kb == "struct":
        fields = {name.lower(): (name, ftype) for name, ftype in struct_fields(a)}
        for name, ftype in struct_fields(b):
            first = fields.get(name.lower())
            fields[name.lower()] = ((first[0], widen(first[1], ftype, mode)) if first
                                    else (name, ftype))
        return "struct<" + ",".join(f"{n}:{t}" for n, t in fields.values()) + ">"
    if ka == kb == "array":
        return f"array<{widen(_inner(a), _inner(b), mode)}>"
    if ka == kb == "map":
        ak, av = split_top_level(_inner(a))
        bk, bv = split_top_level(_inner(b))
        return f"map<{widen(ak, bk, mode)},{widen(av, bv, mode)}>"
    spelled = {a.lower(): a, b.lower(): b}
    a, b = a.lower(), b.lower()
    if a == b:
        return a
    if NULL_TYPE in (a, b):
        other = b if a == NULL_TYPE else a
        if mode == "binary":
            raise TypeConflict(f"a column of Parquet's null type (stored as INT32) cannot be "
                               f"read as {other} by Spark")
        return spelled[other]  # a struct inside keeps its fields' spelling
    complex_kinds = {"struct", "array", "map"}
    if ka in complex_kinds or kb in complex_kinds:
        if mode == "text" and ka not in complex_kinds and kb not in complex_kinds:
            return "string"
        raise TypeConflict(f"{a} and {b} cannot be merged")
    if mode == "binary":
        raise TypeConflict(f"{a} and {b} cannot be merged without rewriting the files (Spark "
                           "reads a Parquet column only as its own type)")
    if ka in _INTEGERS and kb in _INTEGERS:
        return _INTEGERS[max(_INTEGERS.index(ka), _INTEGERS.index(kb))]
    if {ka, kb} == {"float", "double"}:
        return "double"
    if ka == kb == "decimal":
        (pa_, sa), (pb, sb) = _decimal(a), _decimal(b)
        scale = max(sa, sb)
        digits = max(pa_ - sa, pb - sb)
        return f"decimal({min(38, digits + scale)},{scale})"
    numeric = set(_INTEGERS) | {"float", "double"}
    if ka in numeric and kb in numeric:
        return "double"
    if {ka, kb} == {"date", "timestamp"}:
        return "timestamp"
    return "string"


def finalize(t: str) -> str:
    """Replace ``void`` (all-null so far) with ``string``, also inside complex types."""
    return re.sub(r"\bvoid\b", "string", t)
