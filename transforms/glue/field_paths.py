"""Glue field paths on Spark schemas: parse ``a.b.`c.d`.e`` and ``items[].price``, look fields
up, and rebuild nested columns with column expressions only (no UDFs, no actions).

A path is a tuple of segments. A segment is a field name, or ``"[]"`` for "every element of this
array" (Glue's notation in ResolveChoice specs, e.g. ``myList[].price``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import cast

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, DataType, StructField, StructType

from lakeforge.errors import LakeforgeError

ARRAY = "[]"
Path = tuple[str, ...]

# fn(column_at_path, its_type) -> replacement column, or None to remove the field.
LeafFn = Callable[[Column, DataType], "Column | None"]


class FieldPathError(LakeforgeError, ValueError):
    """A Glue field path is malformed or names a field the schema does not have."""


def parse_path(text: str) -> Path:
    """Split a Glue path on dots outside back-ticks; ``[]`` suffixes become their own segment.

    >>> parse_path("a.`b.c`.items[].price")
    ('a', 'b.c', 'items', '[]', 'price')
    """
    if not isinstance(text, str) or not text.strip():
        raise FieldPathError(f"empty field path {text!r}: give a column name such as 'a' or 'a.b'")
    segments: list[str] = []
    buf: list[str] = []
    quoted = False
    closed_quote = False
    i = 0
    while i < len(text):
        ch = text[i]
        if quoted:
            if ch == "`":
                if i + 1 < len(text) and text[i + 1] == "`":  # `` inside back-ticks is one `
                    buf.append("`")
                    i += 2
                    continue
                quoted = False
                closed_quote = True
            else:
                buf.append(ch)
        elif ch == "`":
            quoted = True
        elif ch == ".":
            _push(segments, buf, text, closed_quote)
            buf, closed_quote = [], False
        elif text.startswith("[]", i):
            _push(segments, buf, text, closed_quote)
            segments.append(ARRAY)
            buf, closed_quote = [], False
            i += 2
            if i < len(text) and text[i] == ".":
                i += 1
            continue
        else:
            buf.append(ch)
        i += 1
    if quoted:
        raise FieldPathError(f"unclosed back-tick in field path {text!r}")
    if buf or closed_quote:
        _push(segments, buf, text, closed_quote)
    if not segments or segments[0] == ARRAY:
        raise FieldPathError(f"field path {text!r} must start with a column name")
    return tuple(segments)


def _push(segments: list[str], buf: list[str], text: str, closed_quote: bool) -> None:
    name = "".join(buf)
    if not name and not closed_quote:
        if segments and segments[-1] == ARRAY:
            return  # "items[].price": the dot after [] was consumed already
        raise FieldPathError(f"empty segment in field path {text!r} (two dots in a row?)")
    segments.append(name)


def format_path(path: Sequence[str]) -> str:
    """The Glue spelling of a path: names with dots or back-ticks are back-ticked."""
    out = ""
    for seg in path:
        if seg == ARRAY:
            out += "[]"
            continue
        part = f"`{seg.replace('`', '``')}`" if ("." in seg or "`" in seg or "[]" in seg) else seg
        out = f"{out}.{part}" if out else part
    return out


def sql_quote(name: str) -> str:
    """Back-tick one field name for Spark's parsers (withField, dropFields, expr)."""
    return "`" + name.replace("`", "``") + "`"


def field_type(schema: StructType, path: Sequence[str], where: str = "") -> DataType:
    """The data type at ``path``; FieldPathError names the first segment that is missing."""
    current: DataType = schema
    for depth, seg in enumerate(path):
        if seg == ARRAY:
            if not isinstance(current, ArrayType):
                raise FieldPathError(
                    f"{_place(where)}'{format_path(path[:depth])}' is {current.simpleString()}, "
                    "not an array, so '[]' cannot follow it"
                )
            current = current.elementType
            continue
        if not isinstance(current, StructType):
            raise FieldPathError(
                f"{_place(where)}'{format_path(path[:depth])}' is {current.simpleString()}, not a "
                f"struct, so it has no field '{seg}'"
            )
        fields = {f.name: f for f in current.fields}
        if seg not in fields:
            parent = format_path(path[:depth]) or "the frame"
            raise FieldPathError(
                f"{_place(where)}no field '{format_path(path)}': {parent} has fields "
                f"{sorted(fields)}"
            )
        current = fields[seg].dataType
    return current


def has_path(schema: StructType, path: Sequence[str]) -> bool:
    try:
        field_type(schema, path)
    except FieldPathError:
        return False
    return True


def column_at(path: Sequence[str]) -> Column:
    """A column expression reading a struct path (no ``[]`` segments)."""
    if ARRAY in path:
        raise FieldPathError(f"'{format_path(path)}' goes through an array; read it per element")
    col = F.col(sql_quote(path[0]))
    for seg in path[1:]:
        col = col.getField(seg)
    return col


def update_path(
    schema: StructType, path: Sequence[str], fn: LeafFn, where: str = ""
) -> tuple[str, Column | None]:
    """Rebuild the top-level column holding ``path`` with ``fn`` applied at the path.

    Returns ``(top_level_name, new_column_or_None)``; None means the top-level column itself is
    removed (``fn`` removed the only remaining field of its enclosing structs). Structs are
    rebuilt with ``withField`` / ``dropFields`` (a null struct stays null) and arrays with
    ``transform`` (a null array stays null).
    """
    field_type(schema, path, where)  # validate first: clear error instead of an analysis error
    top = path[0]
    top_type = schema[top].dataType
    return top, _rebuild(F.col(sql_quote(top)), top_type, tuple(path[1:]), fn)


def _rebuild(col: Column, dtype: DataType, rest: Path, fn: LeafFn) -> Column | None:
    if not rest:
        return fn(col, dtype)
    seg = rest[0]
    if seg == ARRAY:
        assert isinstance(dtype, ArrayType)
        element_type = dtype.elementType
        probe = _rebuild(F.lit(None).cast(element_type), element_type, rest[1:], fn)
        if probe is None:
            return None  # every element loses its last field: the array goes too

        def element(e: Column) -> Column:
            return cast(Column, _rebuild(e, element_type, rest[1:], fn))  # not None: probed

        return F.transform(col, element)
    assert isinstance(dtype, StructType)
    child_type = dtype[seg].dataType
    new_child = _rebuild(col.getField(seg), child_type, rest[1:], fn)
    if new_child is None:
        if len(dtype.fields) == 1:
            return None
        return col.dropFields(sql_quote(seg))
    return col.withField(sql_quote(seg), new_child)


def leaf_paths(dtype: DataType, prefix: Path = ()) -> list[tuple[Path, DataType]]:
    """Every leaf (non-struct) field path, descending into structs and arrays of structs."""
    if isinstance(dtype, StructType):
        out: list[tuple[Path, DataType]] = []
        for f in dtype.fields:
            out.extend(leaf_paths(f.dataType, (*prefix, f.name)))
        return out
    if isinstance(dtype, ArrayType) and isinstance(_innermost(dtype), StructType):
        return leaf_paths(dtype.elementType, (*prefix, ARRAY))
    return [(prefix, dtype)]


def _innermost(dtype: ArrayType) -> DataType:
    inner: DataType = dtype
    while isinstance(inner, ArrayType):
        inner = inner.elementType
    return inner


def struct_fields(dtype: DataType) -> list[StructField]:
    return list(dtype.fields) if isinstance(dtype, StructType) else []


def _place(where: str) -> str:
    return f"{where}: " if where else ""
