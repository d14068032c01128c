"""Glue's choice types on DataFrames: finding them when a file is read, resolving them.

A DynamicFrame types each record on its own, so a field holding ``100`` in one record and
``"$100"`` in another is a *choice* between int and string. Spark merges such a field to string
while reading; here the reader looks at each value again (JSON: its token type; CSV: whether
the text is a number) and, where a column holds more than one type, represents it as Glue's
``DynamicFrame.toDF()`` does: a struct with one field per member type, named after the type
(``struct<int:int,string:string>``), the value in the field of its own type, null in the others.

Resolution, as Glue's ``ResolveChoice`` documents its actions:

* ``make_cols``: one column ``<col>_<type>`` per member, in place of the column;
* ``make_struct``: the struct itself, no longer a choice;
* ``cast:<type>``: every member converted to the type (a value that does not convert: null);
* ``project:<type>``: all the data projected to one of the member types (values of the other
  members converted to it); a type that is not a member is refused;
* ``match_catalog``: ``cast`` to the type of the same column in a catalog table.

Only top-level columns are checked when reading (nested fields keep Spark's merged type), and
JSON only for JSON Lines input (one record per line).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F  # noqa: N812
from pyspark.sql import types as T  # noqa: N812

from lakeforge.errors import ConfigError
from transforms.casts import cast_or_null

INT_MIN, INT_MAX = -(2 ** 31), 2 ** 31 - 1
# Member order in the struct: Glue lists the types it met; a fixed order keeps frames stable.
MEMBER_ORDER = ("boolean", "int", "long", "double", "string")
MEMBER_TYPES: dict[str, T.DataType] = {
    "boolean": T.BooleanType(), "int": T.IntegerType(), "long": T.LongType(),
    "double": T.DoubleType(), "string": T.StringType(),
}
_INTEGER_TEXT = r"^\s*[-+]?[0-9]+\s*$"
_DECIMAL_TEXT = r"^\s*[-+]?([0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)([eE][-+]?[0-9]+)?\s*$"

Choices = Mapping[str, Sequence[str]]


class ChoiceResolutionError(ConfigError):
    """A ResolveChoice spec cannot apply to a column (unknown action, type not a member)."""


def choice_type(members: Sequence[str]) -> T.StructType:
    """The struct ``toDF()`` shows for a choice: ``struct<int:int,string:string>``."""
    return T.StructType([T.StructField(m, MEMBER_TYPES[m]) for m in members])


def _ordered(found: set[str]) -> tuple[str, ...]:
    return tuple(m for m in MEMBER_ORDER if m in found)


def _probe(value: Column, name: str, dtype: T.DataType) -> Column:
    """The field ``name`` of a JSON line parsed with only that field, typed ``dtype``: null
    where the token is not of that JSON kind (Spark's JSON parser does not convert strings to
    numbers or booleans, nor numbers to booleans)."""
    return F.from_json(value, T.StructType([T.StructField(name, dtype)])).getField(name)


def json_choices(raw: DataFrame, schema: T.StructType, value_col: str = "value"
                 ) -> dict[str, tuple[str, ...]]:
    """Top-level string columns of ``schema`` whose JSON tokens in ``raw`` (one JSON record
    per line in ``value_col``) have more than one type, with their member types. One Spark
    job; none when ``schema`` has no string column."""
    candidates = [f.name for f in schema.fields if isinstance(f.dataType, T.StringType)]
    if not candidates:
        return {}
    value = F.col(value_col)
    aggs = []
    for i, name in enumerate(candidates):
        as_long = _probe(value, name, T.LongType())
        as_double = _probe(value, name, T.DoubleType())
        as_bool = _probe(value, name, T.BooleanType())
        as_text = _probe(value, name, T.StringType())
        is_string = (as_text.isNotNull() & as_long.isNull() & as_double.isNull()
                     & as_bool.isNull())
        aggs += [F.max(as_long.isNotNull()).alias(f"l{i}"),
                 F.min(as_long).alias(f"lo{i}"), F.max(as_long).alias(f"hi{i}"),
                 F.max(as_double.isNotNull() & as_long.isNull()).alias(f"d{i}"),
                 F.max(as_bool.isNotNull()).alias(f"b{i}"),
                 F.max(is_string).alias(f"s{i}")]
    row = raw.agg(*aggs).collect()[0]
    out: dict[str, tuple[str, ...]] = {}
    for i, name in enumerate(candidates):
        found = set()
        if row[f"l{i}"]:
            fits = row[f"lo{i}"] >= INT_MIN and row[f"hi{i}"] <= INT_MAX
            found.add("int" if fits else "long")
        if row[f"d{i}"]:
            found.add("double")
        if row[f"b{i}"]:
            found.add("boolean")
        if row[f"s{i}"]:
            found.add("string")
        if len(found) > 1:
            out[name] = _ordered(found)
    return out


def json_choice_column(value: Column, name: str, members: Sequence[str]) -> Column:
    """The choice struct of field ``name`` from JSON lines in ``value``."""
    as_long = _probe(value, name, T.LongType())
    as_double = _probe(value, name, T.DoubleType())
    as_bool = _probe(value, name, T.BooleanType())
    as_text = _probe(value, name, T.StringType())
    parts = {
        "boolean": as_bool,
        "int": cast_or_null(as_long, T.IntegerType()),
        "long": as_long,
        "double": F.when(as_long.isNull(), as_double),
        "string": F.when(as_long.isNull() & as_double.isNull() & as_bool.isNull(), as_text),
    }
    return F.struct(*[parts[m].cast(MEMBER_TYPES[m]).alias(m) for m in members])


def text_types(df: DataFrame, columns: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """The types the text values of CSV ``columns`` hold, as Glue types each value:
    ``long`` (integers), ``double`` (other numbers), ``string``; more than one is a choice.
    Empty values count as no value; a column with none is ``string``. One Spark job."""
    if not columns:
        return {}
    aggs = []
    for i, name in enumerate(columns):
        c = F.col(f"`{name}`")
        is_int = c.rlike(_INTEGER_TEXT) & cast_or_null(c, T.LongType()).isNotNull()
        is_num = c.rlike(_DECIMAL_TEXT)
        is_text = c.isNotNull() & (F.trim(c) != "") & ~is_num
        aggs += [F.max(is_int).alias(f"l{i}"), F.max(is_num & ~is_int).alias(f"d{i}"),
                 F.max(is_text).alias(f"s{i}")]
    row = df.agg(*aggs).collect()[0]
    out: dict[str, tuple[str, ...]] = {}
    for i, name in enumerate(columns):
        found = {m for m, key in (("long", "l"), ("double", "d"), ("string", "s"))
                 if row[f"{key}{i}"]}
        out[name] = _ordered(found) or ("string",)
    return out


def text_choice_column(name: str, members: Sequence[str]) -> Column:
    """The choice struct of CSV text column ``name``."""
    c = F.col(f"`{name}`")
    is_int = c.rlike(_INTEGER_TEXT) & cast_or_null(c, T.LongType()).isNotNull()
    is_num = c.rlike(_DECIMAL_TEXT)
    parts = {
        "long": F.when(is_int, cast_or_null(F.trim(c), T.LongType())),
        "double": F.when(is_num & ~is_int, cast_or_null(F.trim(c), T.DoubleType())),
        "string": F.when(~is_num, c),
    }
    return F.struct(*[parts[m].cast(MEMBER_TYPES[m]).alias(m) for m in members])


def _coalesced(column: Column, members: Sequence[str], target: T.DataType) -> Column:
    return F.coalesce(*[cast_or_null(column.getField(m), target) for m in members])


def resolve(df: DataFrame, choices: Choices, specs: Sequence[tuple[str, str]],
            catalog_types: Mapping[str, T.DataType] | None = None) -> DataFrame:
    """Apply Glue ResolveChoice ``specs`` (``(column, action)``) to choice columns of ``df``
    (``choices``: column -> member types)."""
    for name, action in specs:
        members = list(choices[name])
        column = F.col(f"`{name}`")
        if action == "make_struct":
            continue
        if action == "make_cols":
            cols = []
            for field in df.schema.fields:
                if field.name == name:
                    cols += [column.getField(m).alias(f"{name}_{m}") for m in members]
                else:
                    cols.append(F.col(f"`{field.name}`"))
            df = df.select(*cols)
            continue
        kind, _, type_text = action.partition(":")
        if kind == "match_catalog":
            found = {k.lower(): v for k, v in (catalog_types or {}).items()}.get(name.lower())
            if found is None:
                raise ChoiceResolutionError(
                    f"ResolveChoice match_catalog: the catalog table has no column {name!r}")
            target = found
        elif kind in ("cast", "project") and type_text:
            target = _parse(type_text, action)
            if kind == "project" and target.simpleString() not in {
                    MEMBER_TYPES[m].simpleString() for m in members}:
                raise ChoiceResolutionError(
                    f"ResolveChoice {action!r} on {name!r}: project takes one of the choice's "
                    f"types {members}; use cast:{type_text} to convert to another type")
        else:
            raise ChoiceResolutionError(
                f"ResolveChoice: action {action!r} for {name!r} is not one of cast:<type>, "
                "project:<type>, make_cols, make_struct, match_catalog")
        df = df.withColumn(name, _coalesced(column, members, target))
    return df


_GLUE_TYPE_NAMES = {"integer": "int", "short": "smallint", "byte": "tinyint"}


def _parse(text: str, action: str) -> T.DataType:
    from pyspark.sql.types import _parse_datatype_string

    try:
        return _parse_datatype_string(_GLUE_TYPE_NAMES.get(text.lower(), text))
    except Exception as exc:
        raise ChoiceResolutionError(
            f"ResolveChoice {action!r}: {text!r} is not a type") from exc
