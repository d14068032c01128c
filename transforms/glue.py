"""AWS Glue's transforms on plain Spark DataFrames, with Glue's semantics and no Glue runtime.

Two shapes of the same transforms:

* snake_case functions, ``f(df, **kw) -> DataFrame`` (or a dict of DataFrames), chainable with
  ``df.transform(drop_null_fields)``;
* Glue-named wrapper classes called like Glue's, ``DropNullFields.apply(frame=df)``. They accept a
  DataFrame, or a Glue ``DynamicFrame`` when ``awsglue`` is importable (converted with ``toDF`` /
  ``DynamicFrame.fromDF``), and return the kind they received (a ``DynamicFrameCollection`` where
  Glue returns one).

Everything is a column expression: no Python UDFs and no Spark job, except
:func:`drop_null_fields` (one aggregation: it must look at the data to know which fields are
null everywhere), :func:`fill_missing_values` (fits a pyspark.ml Imputer unless given a fitted
model) and :func:`spigot` (its purpose is to write a sample). Transforms that can reject values
(:func:`apply_mapping`, :func:`resolve_choice`, :func:`unbox`) count them with
``DataFrame.observe`` into an :class:`ErrorLedger` (see ``transforms/_accounting.py``).

Paths follow Glue: ``a.b`` is field ``b`` of struct ``a``; back-ticks quote names that contain
dots (```this.old.name```); ``items[].price`` is ``price`` in every element of array ``items``.
"""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar, cast

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DataType,
    DecimalType,
    DoubleType,
    FloatType,
    IntegralType,
    NullType,
    NumericType,
    StringType,
    StructField,
    StructType,
    _parse_datatype_string,
)

from lakeforge.errors import LakeforgeError, MissingColumnsError
from transforms._accounting import (
    ErrorCountsNotReady,
    ErrorLedger,
    ErrorThresholdExceeded,
    StageErrors,
)
from transforms._paths import (
    ARRAY,
    FieldPathError,
    Path,
    column_at,
    field_type,
    format_path,
    has_path,
    leaf_paths,
    parse_path,
    sql_quote,
    update_path,
)

log = logging.getLogger(__name__)

__all__ = [
    "ApplyMapping", "DropFields", "DropNullFields", "ErrorCountsNotReady", "ErrorLedger",
    "ErrorThresholdExceeded", "FieldPathError", "FillMissingValues", "GlueTransform",
    "Join", "Relationalize", "RelationalizedTables", "RenameField", "ResolveChoice",
    "SelectFields", "SelectFromCollection", "Spigot", "SplitFields", "SplitRows", "StageErrors",
    "Unbox", "UnnestFrame", "apply_mapping", "drop_fields", "drop_null_fields",
    "fill_missing_values", "join", "relationalize", "rename_field", "resolve_choice",
    "select_fields", "spigot", "split_fields", "split_rows", "unbox", "unnest",
]


class GlueTransformError(LakeforgeError, ValueError):
    """A Glue transform was given arguments it cannot apply to this frame."""


class MappingError(GlueTransformError):
    """An ApplyMapping tuple is malformed or two mappings collide."""


class UnknownTypeError(GlueTransformError):
    """A type name (``long``, ``decimal(10,2)``, ...) is not one Spark can parse."""


class ChoiceSpecError(GlueTransformError):
    """A ResolveChoice spec or choice is malformed or cannot apply."""


class DuplicateColumnsError(GlueTransformError):
    """A transform would produce two columns (or fields) with the same name."""


class SchemaRequiredError(GlueTransformError):
    """Unbox needs the schema of the boxed values (inferring it would run a Spark job)."""


class CatalogTableNotFoundError(GlueTransformError):
    """ResolveChoice match_catalog names a table the catalog does not have."""


class FillMissingValuesError(GlueTransformError):
    """FillMissingValues cannot impute these columns (type, or nothing to learn from)."""


# --------------------------------------------------------------------------------------------
# shared helpers


def parse_type(type_name: str, where: str = "") -> DataType:
    """Parse a Glue/Hive/Spark type name: ``long``, ``decimal(10,2)``, ``struct<a:int>``."""
    if not isinstance(type_name, str) or not type_name.strip():
        raise UnknownTypeError(f"{where}: empty type name {type_name!r}")
    try:
        return _parse_datatype_string(type_name.strip())
    except Exception as exc:  # ParseException from the JVM parser
        raise UnknownTypeError(
            f"{where}: unknown type {type_name!r} (use Spark/Glue names such as string, int, "
            f"long, double, boolean, date, timestamp, decimal(10,2))"
        ) from exc


def _track(
    df: DataFrame,
    rejected: list[Column],
    *,
    transform: str,
    ledger: ErrorLedger | None,
    transformation_ctx: str,
    info: str,
    stage_threshold: int | None,
    total_threshold: int | None,
) -> DataFrame:
    if ledger is None:
        if stage_threshold is not None or total_threshold is not None:
            raise ValueError(
                f"{transform}: stage_threshold/total_threshold need ledger=ErrorLedger() to "
                "count rejected values; create one per job and call ledger.check() after "
                "the job's action"
            )
        return df
    total = F.lit(0)
    for r in rejected:
        total = total + r
    return ledger.track(
        df, transform=transform, rejected_values=total, stage=transformation_ctx, info=info,
        stage_threshold=stage_threshold, total_threshold=total_threshold,
    )


def _available_paths(schema: StructType) -> list[str]:
    return [format_path(p) for p, _ in leaf_paths(schema)]


def _validate_paths(schema: StructType, paths: Iterable[str], where: str) -> list[Path]:
    parsed = [parse_path(p) for p in paths]
    missing = [format_path(p) for p in parsed if not has_path(schema, p)]
    if missing:
        raise MissingColumnsError(missing, _available_paths(schema), where)
    return parsed


def _count_at(col: Column, dtype: DataType, rest: Path,
              pred: Callable[[Column, DataType], Column]) -> Column:
    """Per row: how many values at the path satisfy ``pred`` (arrays are summed over)."""
    if not rest:
        return F.when(pred(col, dtype), F.lit(1)).otherwise(F.lit(0))
    seg = rest[0]
    if seg == ARRAY:
        element = cast(ArrayType, dtype).elementType
        return F.coalesce(
            F.aggregate(col, F.lit(0),
                        lambda acc, e: acc + _count_at(e, element, rest[1:], pred)),
            F.lit(0),
        )
    return _count_at(col.getField(seg), cast(StructType, dtype)[seg].dataType, rest[1:], pred)


def _count_path(schema: StructType, path: Path,
                pred: Callable[[Column, DataType], Column]) -> Column:
    return _count_at(F.col(sql_quote(path[0])), schema[path[0]].dataType, path[1:], pred)


def _replace_top(df: DataFrame, name: str, new: Column | None) -> DataFrame:
    """Replace (or remove, when ``new`` is None) a top-level column, keeping column order."""
    cols = []
    for f in df.schema.fields:
        if f.name != name:
            cols.append(F.col(sql_quote(f.name)))
        elif new is not None:
            cols.append(new.alias(name))
    return df.select(*cols)


# --------------------------------------------------------------------------------------------
# ApplyMapping


def apply_mapping(
    df: DataFrame,
    mappings: Sequence[Sequence[str]],
    *,
    ledger: ErrorLedger | None = None,
    transformation_ctx: str = "",
    info: str = "",
    stage_threshold: int | None = None,
    total_threshold: int | None = None,
) -> DataFrame:
    """Glue ApplyMapping: keep, rename, retype and restructure fields declaratively.

    Each mapping is ``(source_path, source_type, target_path, target_type)``. Only mapped fields
    are returned, in mapping order; a dotted target path builds (or extends) a struct; a value
    that does not cast to ``target_type`` becomes null and is counted as rejected in ``ledger``.
    A source path the frame lacks raises MissingColumnsError (Glue would silently skip it).

    >>> apply_mapping(df, mappings=[("id", "string", "id", "long"),
    ...                             ("`addr.zip`", "string", "address.zip", "string")])
    """
    where = "apply_mapping"
    if not mappings:
        raise MappingError(f"{where}: give at least one (source, source_type, target, "
                           "target_type) mapping; an empty mapping would drop every column")
    schema = df.schema
    parsed: list[tuple[int, Path, Path, DataType]] = []
    missing: list[str] = []
    for i, mapping in enumerate(mappings):
        if isinstance(mapping, str) or len(mapping) != 4:
            raise MappingError(f"{where}: mapping #{i} {mapping!r} is not a 4-tuple "
                               "(source_path, source_type, target_path, target_type)")
        source, source_type, target, target_type = mapping
        source_path, target_path = parse_path(source), parse_path(target)
        for label, p in (("source", source_path), ("target", target_path)):
            if ARRAY in p:
                raise MappingError(f"{where}: mapping #{i} {label} path {format_path(p)!r} goes "
                                   "through an array; map the whole array field instead")
        parse_type(source_type, f"{where} mapping #{i} source_type")
        target_dt = parse_type(target_type, f"{where} mapping #{i} target_type")
        if not has_path(schema, source_path):
            missing.append(format_path(source_path))
            continue
        parsed.append((i, source_path, target_path, target_dt))
    if missing:
        raise MissingColumnsError(missing, _available_paths(schema), where)

    tree: dict[str, Any] = {}
    rejected: list[Column] = []
    for i, source_path, target_path, target_dt in parsed:
        actual = field_type(schema, source_path)
        value = column_at(source_path)
        if actual != target_dt:
            converted = value.cast(target_dt)
            rejected.append(F.when(value.isNotNull() & converted.isNull(), 1).otherwise(0))
            value = converted
        _insert_target(tree, target_path, value, i, where)

    out = df.select(*[_build_target(v).alias(k) for k, v in tree.items()])
    if not rejected:
        return _track(out, [], transform="ApplyMapping", ledger=ledger,
                      transformation_ctx=transformation_ctx, info=info,
                      stage_threshold=stage_threshold, total_threshold=total_threshold)
    # Count on the mapped frame: the rejected expressions read the source columns, so add them
    # as one temporary column, observe, then drop it (no extra pass over the data).
    tmp = "__lakeforge_rejected"
    total = F.lit(0)
    for r in rejected:
        total = total + r
    staged = df.select(*[_build_target(v).alias(k) for k, v in tree.items()], total.alias(tmp))
    observed = _track(staged, [F.col(tmp)], transform="ApplyMapping", ledger=ledger,
                      transformation_ctx=transformation_ctx, info=info,
                      stage_threshold=stage_threshold, total_threshold=total_threshold)
    return observed.drop(tmp)


def _insert_target(tree: dict[str, Any], path: Path, value: Column, index: int,
                   where: str) -> None:
    node = tree
    for depth, seg in enumerate(path[:-1]):
        child = node.setdefault(seg, {})
        if not isinstance(child, dict):
            raise MappingError(f"{where}: mapping #{index} target {format_path(path)!r} nests "
                               f"under {format_path(path[:depth + 1])!r}, which another mapping "
                               "already fills with a value")
        node = child
    leaf = path[-1]
    if leaf in node:
        raise MappingError(f"{where}: mapping #{index} target {format_path(path)!r} is already "
                           "the target of another mapping")
    node[leaf] = value


def _build_target(node: Column | dict[str, Any]) -> Column:
    if isinstance(node, dict):
        return F.struct(*[_build_target(v).alias(k) for k, v in node.items()])
    return node


# --------------------------------------------------------------------------------------------
# ResolveChoice

_ACTIONS = ("cast", "project", "make_cols", "make_struct", "match_catalog")


def resolve_choice(
    df: DataFrame,
    specs: Sequence[Sequence[str]] | None = None,
    choice: str = "",
    *,
    choice_types: Mapping[str, Sequence[str]] | None = None,
    database: str | None = None,
    table_name: str | None = None,
    catalog: Any = None,
    ledger: ErrorLedger | None = None,
    transformation_ctx: str = "",
    info: str = "",
    stage_threshold: int | None = None,
    total_threshold: int | None = None,
) -> DataFrame:
    """Glue ResolveChoice for columns whose values have mixed types.

    A DataFrame has no choice type: Spark reads a JSON field holding numbers and strings as a
    string column. ``specs`` is Glue's list of ``(path, action)``; ``choice`` is one action for
    every column named in ``choice_types`` (or, for ``match_catalog``, every column of the
    catalog table); give one of the two. Actions:

    * ``cast:<type>`` - convert every value; a value that does not convert becomes null and is
      counted as rejected.
    * ``project:<type>`` - keep only values of that type (for strings: values that are a valid
      literal of it, e.g. ``"12"`` for int), others become null and are counted.
    * ``make_cols`` - one column ``<col>_<type>`` per member type (Glue's naming), in place.
    * ``make_struct`` - a struct with one field per member type.
    * ``match_catalog`` - cast to the type of the same column in ``catalog`` (a
      ``lakeforge.catalog.base.Catalog``) table ``database.table_name``.

    Member types of ``make_cols`` / ``make_struct`` come from ``choice_types[path]``, e.g.
    ``{"price": ["int", "string"]}``; a value goes to the first non-string member it is a valid
    literal of, else to ``string``. Values no member accepts are counted as rejected.
    """
    where = "resolve_choice"
    if specs and choice:
        raise ChoiceSpecError(f"{where}: give specs or choice, not both (as in Glue: when "
                              "specs is set, choice must be empty)")
    if not specs and not choice:
        raise ChoiceSpecError(f"{where}: give specs=[(path, action), ...] or choice='<action>'")
    choice_types = dict(choice_types or {})
    catalog_types: dict[str, DataType] | None = None

    def catalog_schema() -> dict[str, DataType]:
        nonlocal catalog_types
        if catalog_types is None:
            catalog_types = _catalog_types(catalog, database, table_name, where)
        return catalog_types

    if specs:
        todo = []
        for i, spec in enumerate(specs):
            if isinstance(spec, str) or len(spec) != 2:
                raise ChoiceSpecError(f"{where}: spec #{i} {spec!r} is not a (path, action) pair")
            todo.append((spec[0], spec[1]))
    elif choice == "match_catalog":
        names = {f.name.lower(): f.name for f in df.schema.fields}
        todo = [(sql_quote(names[c]), choice) for c in catalog_schema() if c in names]
    else:
        if not choice_types:
            raise ChoiceSpecError(f"{where}: choice={choice!r} needs choice_types={{column: "
                                  "[member types]}} naming the columns with mixed types")
        todo = [(p, choice) for p in choice_types]

    rejected_cols: list[str] = []
    out = df
    for i, (path_text, action) in enumerate(todo):
        kind, type_name = _parse_action(action, f"{where} spec #{i}")
        path = parse_path(path_text)
        if not has_path(out.schema, path):
            raise MissingColumnsError([format_path(path)], _available_paths(out.schema), where)
        actual = field_type(out.schema, path)
        target: DataType | None = None
        if kind in ("cast", "project"):
            target = parse_type(cast(str, type_name), f"{where} spec #{i}")
        elif kind == "match_catalog":
            target = _catalog_type_at(catalog_schema(), path, database, table_name, where)
        members = None
        if kind in ("make_cols", "make_struct"):
            members = _members(choice_types, path, actual, where)
        rejected_name = f"__lakeforge_rejected_{i}"
        pred = _rejection_predicate(kind, target, members)
        if pred is not None:
            out = out.withColumn(rejected_name, _count_path(out.schema, path, pred))
            rejected_cols.append(rejected_name)
        out = _apply_choice(out, path, kind, target, members, where)

    if not rejected_cols:
        return _track(out, [], transform="ResolveChoice", ledger=ledger,
                      transformation_ctx=transformation_ctx, info=info,
                      stage_threshold=stage_threshold, total_threshold=total_threshold)
    observed = _track(out, [F.col(c) for c in rejected_cols], transform="ResolveChoice",
                      ledger=ledger, transformation_ctx=transformation_ctx, info=info,
                      stage_threshold=stage_threshold, total_threshold=total_threshold)
    return observed.drop(*rejected_cols)


def _parse_action(action: str, where: str) -> tuple[str, str | None]:
    if not isinstance(action, str):
        raise ChoiceSpecError(f"{where}: action {action!r} is not a string")
    kind, _, type_name = action.partition(":")
    kind = kind.strip()
    if kind not in _ACTIONS:
        raise ChoiceSpecError(f"{where}: unknown action {action!r}; use one of cast:<type>, "
                              "project:<type>, make_cols, make_struct, match_catalog")
    if kind in ("cast", "project") and not type_name.strip():
        raise ChoiceSpecError(f"{where}: action {action!r} needs a type, e.g. {kind}:int")
    if kind not in ("cast", "project") and type_name:
        raise ChoiceSpecError(f"{where}: action {kind!r} takes no type (got {action!r})")
    return kind, type_name.strip() or None


def _members(choice_types: Mapping[str, Sequence[str]], path: Path, actual: DataType,
             where: str) -> list[tuple[str, DataType]]:
    declared = None
    for key, value in choice_types.items():
        if parse_path(key) == path:
            declared = value
    if declared is None:
        if isinstance(actual, StringType):
            raise ChoiceSpecError(
                f"{where}: {format_path(path)!r} is a string column; say which types its values "
                f"mix with choice_types={{{format_path(path)!r}: ['int', 'string']}}"
            )
        declared = [actual.simpleString()]
    if isinstance(declared, str) or not declared:
        raise ChoiceSpecError(f"{where}: choice_types for {format_path(path)!r} must be a "
                              f"non-empty list of type names, got {declared!r}")
    members = [(str(t), parse_type(str(t), f"{where} choice_types")) for t in declared]
    labels = [label for label, _ in members]
    if len(set(labels)) != len(labels):
        raise ChoiceSpecError(f"{where}: choice_types for {format_path(path)!r} repeats a type: "
                              f"{labels}")
    # Strings accept anything, so they are tried last.
    return ([m for m in members if not isinstance(m[1], StringType)]
            + [m for m in members if isinstance(m[1], StringType)])


def _accepts(value: Column, actual: DataType, member: DataType) -> Column:
    """True when ``value`` is a value of type ``member`` (see resolve_choice)."""
    if isinstance(member, StringType):
        return value.isNotNull()
    if isinstance(actual, StringType):
        text = F.trim(value)
        converted = value.cast(member).isNotNull()
        if isinstance(member, IntegralType):
            return text.rlike(r"^[+-]?[0-9]+$") & converted
        if isinstance(member, BooleanType):
            return F.lower(text).isin("true", "false")
        return converted
    if actual == member:
        return value.isNotNull()
    # Non-string source: a value belongs to ``member`` when converting there and back is exact.
    return F.coalesce(value.cast(member).cast(actual) == value, F.lit(False))


def _assignments(value: Column, actual: DataType,
                 members: list[tuple[str, DataType]]) -> list[tuple[str, DataType, Column]]:
    out = []
    taken: Column = F.lit(False)
    for label, member in members:
        accepts = _accepts(value, actual, member)
        out.append((label, member, accepts & ~taken))
        taken = taken | accepts
    return out


def _rejection_predicate(kind: str, target: DataType | None,
                         members: list[tuple[str, DataType]] | None,
                         ) -> Callable[[Column, DataType], Column] | None:
    if kind in ("cast", "match_catalog"):
        assert target is not None

        def cast_fails(c: Column, t: DataType) -> Column:
            if t == target:
                return F.lit(False)
            return c.isNotNull() & c.cast(target).isNull()

        return cast_fails
    if kind == "project":
        assert target is not None
        return lambda c, t: c.isNotNull() & ~_accepts(c, t, target)
    assert members is not None

    def none_accepts(c: Column, t: DataType) -> Column:
        any_member: Column = F.lit(False)
        for _, member in members:
            any_member = any_member | _accepts(c, t, member)
        return c.isNotNull() & ~any_member

    return none_accepts


def _apply_choice(df: DataFrame, path: Path, kind: str, target: DataType | None,
                  members: list[tuple[str, DataType]] | None, where: str) -> DataFrame:
    fn: Callable[[Column, DataType], Column | None]
    if kind in ("cast", "match_catalog"):
        assert target is not None

        def fn(c: Column, t: DataType) -> Column:
            return c if t == target else c.cast(target)
    elif kind == "project":
        assert target is not None

        def fn(c: Column, t: DataType) -> Column:
            return F.when(_accepts(c, t, target), c.cast(target))
    elif kind == "make_struct":
        assert members is not None

        def fn(c: Column, t: DataType) -> Column:
            fields = [F.when(ok, c.cast(m)).alias(label)
                      for label, m, ok in _assignments(c, t, members)]
            return F.when(c.isNotNull(), F.struct(*fields))
    else:  # make_cols: the field is replaced by one field per member, in place
        assert members is not None
        return _make_cols(df, path, members, where)
    top, new = update_path(df.schema, path, fn, where)
    return _replace_top(df, top, new)


def _make_cols(df: DataFrame, path: Path, members: list[tuple[str, DataType]],
               where: str) -> DataFrame:
    name = path[-1]
    parent = path[:-1]

    def columns_for(c: Column, t: DataType) -> list[tuple[str, Column]]:
        return [(f"{name}_{label}", F.when(ok, c.cast(m)))
                for label, m, ok in _assignments(c, t, members)]

    if not parent:
        existing = set(df.columns) - {name}
        cols: list[Column] = []
        for f in df.schema.fields:
            if f.name != name:
                cols.append(F.col(sql_quote(f.name)))
                continue
            for new_name, col in columns_for(F.col(sql_quote(name)), f.dataType):
                if new_name in existing:
                    raise DuplicateColumnsError(f"{where}: make_cols on {name!r} would create "
                                                f"{new_name!r}, which already exists")
                cols.append(col.alias(new_name))
        return df.select(*cols)

    def rebuild_parent(c: Column, t: DataType) -> Column:
        st = cast(StructType, t)
        existing = {f.name for f in st.fields} - {name}
        fields: list[Column] = []
        for f in st.fields:
            if f.name != name:
                fields.append(c.getField(f.name).alias(f.name))
                continue
            for new_name, col in columns_for(c.getField(name), f.dataType):
                if new_name in existing:
                    raise DuplicateColumnsError(
                        f"{where}: make_cols on {format_path(path)!r} would create "
                        f"{new_name!r}, which already exists there")
                fields.append(col.alias(new_name))
        return F.when(c.isNotNull(), F.struct(*fields))

    top, new = update_path(df.schema, parent, rebuild_parent, where)
    return _replace_top(df, top, new)


def _catalog_types(catalog: Any, database: str | None, table_name: str | None,
                   where: str) -> dict[str, DataType]:
    if catalog is None or not database or not table_name:
        raise ChoiceSpecError(f"{where}: match_catalog needs catalog=<lakeforge Catalog>, "
                              "database= and table_name=")
    spec = catalog.get_table(database, table_name)
    if spec is None:
        raise CatalogTableNotFoundError(f"{where}: match_catalog table {database}.{table_name} "
                                        "is not in the catalog")
    columns = [*spec.columns, *spec.partition_keys]
    return {c.name.lower(): parse_type(c.type, f"{where} catalog column {c.name}")
            for c in columns}


def _catalog_type_at(types: Mapping[str, DataType], path: Path, database: str | None,
                     table_name: str | None, where: str) -> DataType:
    top = path[0].lower()
    if top not in types:
        raise ChoiceSpecError(f"{where}: match_catalog: table {database}.{table_name} has no "
                              f"column {path[0]!r}; it has {sorted(types)}")
    return field_type(StructType([StructField(path[0], types[top])]), path, where)


# --------------------------------------------------------------------------------------------
# DropNullFields


def drop_null_fields(df: DataFrame, null_values: Sequence[Any] | None = None) -> DataFrame:
    """Glue DropNullFields: drop every field that is null in every record.

    Nested struct fields count on their own (``address.zip`` null everywhere is dropped while
    ``address.city`` stays; a struct left with no field goes too), and so do fields of structs
    inside arrays (``items[].note``). A field null in only some records stays. ``null_values``
    treats more values as null, as Glue Studio's option does (``["", "null", -1]``): strings
    match string fields, ints integral fields, floats (and ints) fractional fields; the values
    themselves are kept in fields that stay. An empty frame has only null fields, so every
    field is dropped (Glue's schema of an empty DynamicFrame is empty too).

    Runs exactly one aggregation (one Spark action; AQE may split it into two jobs) whatever the
    number of columns; NullType columns are dropped without looking at data.
    """
    for value in null_values or ():
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise GlueTransformError(f"drop_null_fields: null_values must be strings or numbers "
                                     f"(as in Glue Studio), got {value!r}")
    checks: list[tuple[Path, Column]] = []
    absent: list[Path] = []
    for path, dtype in leaf_paths(df.schema):
        if isinstance(dtype, NullType):
            absent.append(path)
            continue
        checks.append((path, _present_at(F.col(sql_quote(path[0])),
                                         df.schema[path[0]].dataType, path[1:], null_values)))
    if checks:
        row = df.agg(*[
            F.max(F.coalesce(present, F.lit(False)).cast("int")).alias(f"c{i}")
            for i, (_, present) in enumerate(checks)
        ]).first()
        assert row is not None
        absent.extend(path for i, (path, _) in enumerate(checks) if row[i] != 1)
    if absent:
        log.info("drop_null_fields: dropping %s", [format_path(p) for p in absent])
    return _remove_paths(df, absent)


def _present_at(col: Column, dtype: DataType, rest: Path, null_values: Sequence[Any] | None,
                ) -> Column:
    if not rest:
        return col.isNotNull() & ~_is_null_value(col, dtype, null_values)
    seg = rest[0]
    if seg == ARRAY:
        element = cast(ArrayType, dtype).elementType
        return F.coalesce(
            F.exists(col, lambda e: F.coalesce(_present_at(e, element, rest[1:], null_values),
                                               F.lit(False))),
            F.lit(False),
        )
    return _present_at(col.getField(seg), cast(StructType, dtype)[seg].dataType, rest[1:],
                       null_values)


def _is_null_value(col: Column, dtype: DataType, null_values: Sequence[Any] | None) -> Column:
    if not null_values:
        return F.lit(False)
    matches: list[Any]
    if isinstance(dtype, StringType):
        matches = [v for v in null_values if isinstance(v, str)]
    elif isinstance(dtype, IntegralType):
        matches = [v for v in null_values if isinstance(v, int) and not isinstance(v, bool)]
    elif isinstance(dtype, (FloatType, DoubleType, DecimalType)):
        matches = [v for v in null_values
                   if isinstance(v, (int, float)) and not isinstance(v, bool)]
    else:
        matches = []
    if not matches:
        return F.lit(False)
    return F.coalesce(col.isin(*matches), F.lit(False))


def _remove_paths(df: DataFrame, paths: Iterable[Path]) -> DataFrame:
    out = df
    for path in paths:
        if not has_path(out.schema, path):
            continue  # an enclosing field went already
        if len(path) == 1:
            out = _replace_top(out, path[0], None)
            continue
        top, new = update_path(out.schema, path, lambda c, t: None)
        out = _replace_top(out, top, new)
    return out


# --------------------------------------------------------------------------------------------
# DropFields, SelectFields, RenameField


def drop_fields(df: DataFrame, paths: Sequence[str]) -> DataFrame:
    """Glue DropFields: remove the fields at ``paths`` (dotted, back-ticked, ``a[].b``).

    A struct whose last field is dropped is dropped too. A path the frame lacks raises
    MissingColumnsError listing all of them.
    """
    if isinstance(paths, str):
        paths = [paths]
    parsed = _validate_paths(df.schema, paths, "drop_fields")
    return _remove_paths(df, parsed)


def select_fields(df: DataFrame, paths: Sequence[str]) -> DataFrame:
    """Glue SelectFields: keep only the fields at ``paths``, in the frame's order.

    Selecting ``address.city`` keeps struct ``address`` with only ``city`` (a null address stays
    null). A path the frame lacks raises MissingColumnsError.
    """
    if isinstance(paths, str):
        paths = [paths]
    if not paths:
        raise GlueTransformError("select_fields: give at least one path")
    parsed = _validate_paths(df.schema, paths, "select_fields")
    tree: dict[str, Any] = {}
    for path in parsed:
        node = tree
        for seg in path[:-1]:
            child = node.get(seg)
            if child is True:
                break
            node = node.setdefault(seg, {})
        else:
            node[path[-1]] = True
    cols = []
    for f in df.schema.fields:
        if f.name in tree:
            col = F.col(sql_quote(f.name))
            cols.append(_prune(col, f.dataType, tree[f.name]).alias(f.name))
    return df.select(*cols)


def _prune(col: Column, dtype: DataType, keep: Any) -> Column:
    if keep is True:
        return col
    if isinstance(dtype, ArrayType):
        element = dtype.elementType
        return F.transform(col, lambda e: _prune(e, element, keep[ARRAY]))
    st = cast(StructType, dtype)
    out = col
    for f in st.fields:
        if f.name in keep and keep[f.name] is not True:
            out = out.withField(sql_quote(f.name), _prune(col.getField(f.name), f.dataType,
                                                          keep[f.name]))
    dropped = [sql_quote(f.name) for f in st.fields if f.name not in keep]
    return out.dropFields(*dropped) if dropped else out


def rename_field(df: DataFrame, old_name: str, new_name: str) -> DataFrame:
    """Glue RenameField: rename (or move) the field at ``old_name`` to the full path ``new_name``.

    ``rename_field(df, "address.zip", "address.postcode")`` renames in place (order and null
    structs kept); ``rename_field(df, "`this.old.name`", "thisNewName")`` renames a top-level
    column whose name has dots; a ``new_name`` under another parent moves the field there. The
    target must not exist.
    """
    where = "rename_field"
    old = _validate_paths(df.schema, [old_name], where)[0]
    new = parse_path(new_name)
    if has_path(df.schema, new):
        raise DuplicateColumnsError(f"{where}: cannot rename {format_path(old)!r} to "
                                    f"{format_path(new)!r}: that field already exists")
    if old[:-1] == new[:-1]:
        if len(old) == 1:
            return df.withColumnRenamed(old[0], new[0])

        def renamed(c: Column, t: DataType) -> Column:
            st = cast(StructType, t)
            fields = [StructField(new[-1] if f.name == old[-1] else f.name, f.dataType,
                                  f.nullable, f.metadata) for f in st.fields]
            return c.cast(StructType(fields))  # struct casts are positional: a pure rename

        top, col = update_path(df.schema, old[:-1], renamed, where)
        return _replace_top(df, top, col)
    if ARRAY in old or ARRAY in new:
        raise FieldPathError(f"{where}: moving {format_path(old)!r} to {format_path(new)!r} "
                             "crosses an array; rename within the same parent instead")
    value = column_at(old)
    if len(new) == 1:
        moved = df.withColumn(new[0], value)
    else:
        parent = new[:-1]
        if not has_path(df.schema, parent) or not isinstance(field_type(df.schema, parent),
                                                             StructType):
            raise FieldPathError(f"{where}: new path {format_path(new)!r} needs struct "
                                 f"{format_path(parent)!r}, which the frame does not have")
        parent_type = cast(StructType, field_type(df.schema, parent))
        empty = F.struct(*[F.lit(None).cast(f.dataType).alias(f.name)
                           for f in parent_type.fields])

        def add(c: Column, t: DataType) -> Column:
            # A null parent with a non-null moved value becomes a struct, so no value is lost.
            base = F.when(c.isNull() & value.isNotNull(), empty).otherwise(c)
            return base.withField(sql_quote(new[-1]), value)

        top, col = update_path(df.schema, parent, add, where)
        moved = _replace_top(df, top, col)
    return _remove_paths(moved, [old])


# --------------------------------------------------------------------------------------------
# Join, SplitFields, SplitRows


def join(df1: DataFrame, df2: DataFrame, keys1: Sequence[str] | str,
         keys2: Sequence[str] | str) -> DataFrame:
    """Glue Join: inner equality join on ``keys1[i] == keys2[i]``; both key columns are kept.

    Null keys match nothing (SQL equality). Column names present in both frames raise
    DuplicateColumnsError: rename or drop them first (Glue's own example renames ``id`` first).
    """
    where = "join"
    keys1 = [keys1] if isinstance(keys1, str) else list(keys1)
    keys2 = [keys2] if isinstance(keys2, str) else list(keys2)
    if not keys1 or len(keys1) != len(keys2):
        raise GlueTransformError(f"{where}: keys1 {keys1} and keys2 {keys2} must be non-empty "
                                 "and of the same length")
    p1 = _validate_paths(df1.schema, keys1, f"{where} frame1")
    p2 = _validate_paths(df2.schema, keys2, f"{where} frame2")
    shared = sorted(set(df1.columns) & set(df2.columns))
    if shared:
        raise DuplicateColumnsError(f"{where}: both frames have column(s) {shared}; rename or "
                                    "drop them in one frame first (rename_field/drop_fields)")
    condition: Column | None = None
    for a, b in zip(p1, p2, strict=True):
        term = _frame_col(df1, a) == _frame_col(df2, b)
        condition = term if condition is None else condition & term
    return df1.join(df2, on=condition, how="inner")


def _frame_col(df: DataFrame, path: Path) -> Column:
    col = df[sql_quote(path[0])]
    for seg in path[1:]:
        col = col.getField(seg)
    return col


def split_fields(df: DataFrame, paths: Sequence[str], name1: str = "frame1",
                 name2: str = "frame2") -> dict[str, DataFrame]:
    """Glue SplitFields: ``{name1: the selected fields, name2: all the other fields}``."""
    if name1 == name2:
        raise GlueTransformError(f"split_fields: name1 and name2 must differ (both {name1!r})")
    return {name1: select_fields(df, paths), name2: drop_fields(df, paths)}


_COMPARATORS: dict[str, Callable[[Column, Any], Column]] = {
    "<": lambda c, v: c < v, ">": lambda c, v: c > v, "<=": lambda c, v: c <= v,
    ">=": lambda c, v: c >= v, "=": lambda c, v: c == v, "==": lambda c, v: c == v,
    "!=": lambda c, v: c != v,
}


def split_rows(df: DataFrame, comparison_dict: Mapping[str, Mapping[str, Any]],
               name1: str = "frame1", name2: str = "frame2") -> dict[str, DataFrame]:
    """Glue SplitRows: rows meeting every comparison go to ``name1``, all others to ``name2``.

    ``{"age": {">": 10, "<": 20}}`` splits rows with 10 < age < 20 off. A row whose compared
    value is null does not meet the comparison, so it goes to ``name2``: no row is lost.
    ``{"x": {"=": None}}`` / ``{"!=": None}`` test for null / not null.
    """
    where = "split_rows"
    if not comparison_dict:
        raise GlueTransformError(f"{where}: comparison_dict is empty; e.g. {{'age': {{'>': 10}}}}")
    if name1 == name2:
        raise GlueTransformError(f"{where}: name1 and name2 must differ (both {name1!r})")
    parsed = _validate_paths(df.schema, list(comparison_dict), where)
    condition: Column = F.lit(True)
    for path, (key, comparisons) in zip(parsed, comparison_dict.items(), strict=True):
        if ARRAY in path:
            raise FieldPathError(f"{where}: {key!r} goes through an array")
        if not isinstance(comparisons, Mapping) or not comparisons:
            raise GlueTransformError(f"{where}: comparisons for {key!r} must be a non-empty "
                                     f"dict such as {{'>': 10}}, got {comparisons!r}")
        col = column_at(path)
        for op, value in comparisons.items():
            if op not in _COMPARATORS:
                raise GlueTransformError(f"{where}: unknown comparator {op!r} for {key!r}; use "
                                         f"one of {sorted(_COMPARATORS)}")
            if value is None:
                if op in ("=", "=="):
                    term = col.isNull()
                elif op == "!=":
                    term = col.isNotNull()
                else:
                    raise GlueTransformError(f"{where}: {key!r} {op} None is meaningless; "
                                             "only = and != compare with None")
            else:
                term = _COMPARATORS[op](col, value)
            condition = condition & F.coalesce(term, F.lit(False))
    return {name1: df.filter(condition), name2: df.filter(~condition)}


# --------------------------------------------------------------------------------------------
# Relationalize


class RelationalizedTables(dict[str, DataFrame]):
    """Relationalize's result: table name -> DataFrame, root first; ``unpersist()`` frees the
    keyed copy of the input that keeps the generated keys stable across the tables' actions."""

    def __init__(self, tables: Mapping[str, DataFrame], keyed: DataFrame | None) -> None:
        super().__init__(tables)
        self._keyed = keyed

    def unpersist(self) -> None:
        if self._keyed is not None:
            self._keyed.unpersist()


_RID = "__lakeforge_rid"


def relationalize(
    df: DataFrame,
    root_table_name: str = "roottable",
    staging_path: str | None = None,
    options: Mapping[str, Any] | None = None,
    *,
    persist: bool = True,
) -> RelationalizedTables:
    """Glue Relationalize: flatten structs and pivot every array into its own table.

    Returns ``{root_table_name: root, f"{root_table_name}_{array_path}": child, ...}`` with
    Glue's naming: struct fields become top-level columns named by their dotted path
    (``address.city``); an array column in a parent table becomes a bigint key (null when the
    array is null) that joins to the child table's ``id``; the child has ``id``, ``index`` (the
    element's 0-based position) and the element's columns under ``<array_path>.val`` (e.g.
    ``contact_details.val.type``). Arrays nested in elements pivot again into
    ``<root>_<array_path>.val.<field>`` tables. Empty arrays give a key and no child rows.

    Keys come from ``monotonically_increasing_id`` over the input; with ``persist`` (default)
    the keyed input is persisted (lazily: no Spark job here) so every table reads the same keys
    even if the input is not deterministic; call ``unpersist()`` on the result when done.
    ``staging_path`` and ``options`` are accepted for Glue compatibility and not needed.
    """
    where = "relationalize"
    if not root_table_name:
        raise GlueTransformError(f"{where}: root_table_name must be a non-empty string")
    if staging_path:
        log.debug("%s: staging_path %s not needed: tables are computed from a keyed frame",
                  where, staging_path)
    if _RID in df.columns:
        raise DuplicateColumnsError(f"{where}: the frame already has reserved column {_RID!r}")
    keyed = df.withColumn(_RID, F.monotonically_increasing_id())
    if persist:
        keyed = keyed.persist(StorageLevel.MEMORY_AND_DISK)
    leaves: list[tuple[str, Column, DataType]] = []
    for f in df.schema.fields:
        leaves.extend(_flatten(f.name, F.col(sql_quote(f.name)), f.dataType))
    tables: dict[str, DataFrame] = {}
    _pivot_level(keyed, _RID, [], leaves, root_table_name, root_table_name, tables, where)
    return RelationalizedTables(tables, keyed if persist else None)


def _flatten(name: str, col: Column, dtype: DataType) -> list[tuple[str, Column, DataType]]:
    if isinstance(dtype, StructType):
        out: list[tuple[str, Column, DataType]] = []
        for f in dtype.fields:
            out.extend(_flatten(f"{name}.{f.name}", col.getField(f.name), f.dataType))
        return out
    return [(name, col, dtype)]


def _pivot_level(frame: DataFrame, rid: str, leading: list[Column],
                 leaves: list[tuple[str, Column, DataType]], table: str, root: str,
                 tables: dict[str, DataFrame], where: str) -> None:
    names = [n for n, _, _ in leaves]
    reserved = {"id", "index"} if leading else set()
    clashes = sorted({n for n in names if names.count(n) > 1} | (set(names) & reserved))
    if clashes:
        raise DuplicateColumnsError(f"{where}: table {table!r} would have duplicate column(s) "
                                    f"{clashes} after flattening structs")
    cols: list[Column] = list(leading)
    children: list[tuple[str, Column, ArrayType]] = []
    for name, col, dtype in leaves:
        if isinstance(dtype, ArrayType):
            cols.append(F.when(col.isNotNull(), F.col(rid)).alias(name))
            children.append((name, col, dtype))
        else:
            cols.append(col.alias(name))
    tables[table] = frame.select(*cols)
    for name, col, dtype in children:
        exploded = frame.select(F.col(rid).alias("__lakeforge_pid"),
                                F.posexplode(col).alias("__lakeforge_pos", "__lakeforge_val"))
        child_leaves = _flatten(f"{name}.val", F.col("__lakeforge_val"), dtype.elementType)
        child_rid = rid
        if any(isinstance(t, ArrayType) for _, _, t in child_leaves):
            child_rid = f"{rid}_{len(tables)}"
            exploded = exploded.withColumn(child_rid, F.monotonically_increasing_id())
        _pivot_level(
            exploded, child_rid,
            [F.col("__lakeforge_pid").alias("id"), F.col("__lakeforge_pos").alias("index")],
            child_leaves, f"{root}_{name}", root, tables, where,
        )


# --------------------------------------------------------------------------------------------
# Unbox, Unnest


def unbox(
    df: DataFrame,
    path: str,
    format: str = "json",  # noqa: A002 - Glue's keyword
    *,
    with_schema: StructType | str | None = None,
    ledger: ErrorLedger | None = None,
    transformation_ctx: str = "",
    info: str = "",
    stage_threshold: int | None = None,
    total_threshold: int | None = None,
    **options: Any,
) -> DataFrame:
    """Glue Unbox: parse the string field at ``path`` (JSON or CSV) into a struct, in place.

    ``with_schema`` is Glue's ``withSchema``: a ``StructType``, its ``.json()`` string, or a DDL
    string (``"a INT, b STRING"``). Glue infers it when absent; that needs a Spark job over the
    data, so here it is required. A value that does not parse becomes null and is counted as
    rejected. CSV options use Glue's names (``separator``, ``escaper``, ``quoteChar``).
    """
    where = "unbox"
    schema = _unbox_schema(with_schema, where)
    parsed_path = _validate_paths(df.schema, [path], where)[0]
    if ARRAY in parsed_path:
        raise FieldPathError(f"{where}: {path!r} goes through an array")
    if not isinstance(field_type(df.schema, parsed_path), StringType):
        raise GlueTransformError(f"{where}: {path!r} is "
                                 f"{field_type(df.schema, parsed_path).simpleString()}, not a "
                                 "string")
    corrupt = "__lakeforge_corrupt"
    if corrupt in schema.fieldNames():
        raise DuplicateColumnsError(f"{where}: schema uses reserved field {corrupt!r}")
    with_corrupt = StructType([*schema.fields, StructField(corrupt, StringType())])
    fmt = format.lower()
    if fmt == "json":
        opts = {"columnNameOfCorruptRecord": corrupt, **{k: str(v) for k, v in options.items()}}

        def parse(c: Column) -> Column:
            return F.from_json(c, with_corrupt, opts)
    elif fmt == "csv":
        opts = _csv_options(options, where)
        opts["columnNameOfCorruptRecord"] = corrupt
        ddl = ", ".join(f"{sql_quote(f.name)} {f.dataType.simpleString()}"
                        for f in with_corrupt.fields)

        def parse(c: Column) -> Column:
            return F.from_csv(c, ddl, opts)
    else:
        raise GlueTransformError(f"{where}: format {format!r} is not supported; use json or csv")

    raw = column_at(parsed_path)
    parsed = parse(raw)
    bad = parsed.getField(corrupt).isNotNull()
    value = F.when(raw.isNotNull() & ~bad, parsed.dropFields(sql_quote(corrupt)))
    tmp = "__lakeforge_rejected"
    staged = df.withColumn(tmp, F.when(raw.isNotNull() & F.coalesce(bad, F.lit(False)), 1)
                           .otherwise(0))
    top, new = update_path(staged.schema, parsed_path, lambda c, t: value, where)
    staged = _replace_top(staged, top, new)
    observed = _track(staged, [F.col(tmp)], transform="Unbox", ledger=ledger,
                      transformation_ctx=transformation_ctx, info=info,
                      stage_threshold=stage_threshold, total_threshold=total_threshold)
    return observed.drop(tmp)


def _unbox_schema(with_schema: StructType | str | None, where: str) -> StructType:
    if with_schema is None:
        raise SchemaRequiredError(
            f"{where}: pass with_schema= (Glue's withSchema): a StructType, its .json() string "
            "or a DDL string like 'a INT, b STRING'. Glue infers it from the data, which would "
            "cost a Spark job here; get it once with spark.read.json(sample).schema"
        )
    if isinstance(with_schema, StructType):
        return with_schema
    text = with_schema.strip()
    dtype: DataType
    try:
        if text.startswith("{"):
            dtype = StructType.fromJson(json.loads(text))
        else:
            dtype = _parse_datatype_string(text)
    except Exception as exc:
        raise SchemaRequiredError(f"{where}: cannot read with_schema {with_schema!r}: {exc}"
                                  ) from exc
    if not isinstance(dtype, StructType):
        raise SchemaRequiredError(f"{where}: with_schema must describe a struct, got "
                                  f"{dtype.simpleString()}")
    return dtype


def _csv_options(options: Mapping[str, Any], where: str) -> dict[str, str]:
    names = {"separator": "sep", "escaper": "escape", "quoteChar": "quote"}
    out: dict[str, str] = {}
    for key, value in options.items():
        if key in ("skipFirst", "withHeader"):
            if value:
                raise GlueTransformError(f"{where}: {key}=True has no meaning for one boxed value "
                                         "per record")
            continue
        out[names.get(key, key)] = str(value)
    return out


def unnest(df: DataFrame) -> DataFrame:
    """Glue Unnest (UnnestFrame): struct fields become top-level columns named by their dotted
    path (``address.city``), at any depth; arrays are left as they are."""
    cols: list[Column] = []
    names: list[str] = []
    for f in df.schema.fields:
        for name, col, _ in _flatten(f.name, F.col(sql_quote(f.name)), f.dataType):
            cols.append(col.alias(name))
            names.append(name)
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise DuplicateColumnsError(f"unnest: flattening gives duplicate column(s) {dupes}")
    return df.select(*cols)


# --------------------------------------------------------------------------------------------
# FillMissingValues, Spigot


def fill_missing_values(
    df: DataFrame,
    missing_values_column: str | Sequence[str],
    output_column: str | Sequence[str] | None = None,
    *,
    strategy: str = "mean",
    model: Any = None,
) -> DataFrame:
    """Glue FillMissingValues on pyspark.ml's Imputer: add ``<col>_filled`` holding the column's
    value, or an estimate where it is missing (null or NaN).

    ``strategy`` is Imputer's: mean, median or mode. Imputing learns from the data, so without
    ``model`` this fits an Imputer (Spark jobs, like Glue's, which trains a model); pass a model
    from :func:`fit_missing_values` to fit on one frame (a train split) and apply to others.
    Only numeric columns can be imputed; cast strings with apply_mapping first.
    """
    from pyspark.ml.feature import ImputerModel

    where = "fill_missing_values"
    columns = ([missing_values_column] if isinstance(missing_values_column, str)
               else list(missing_values_column))
    if output_column is None or output_column == "":
        outputs = [f"{c}_filled" for c in columns]
    else:
        outputs = [output_column] if isinstance(output_column, str) else list(output_column)
    if len(outputs) != len(columns):
        raise FillMissingValuesError(f"{where}: {len(columns)} column(s) but {len(outputs)} "
                                     "output column(s)")
    clash = sorted(set(outputs) & set(df.columns))
    if clash:
        raise DuplicateColumnsError(f"{where}: output column(s) {clash} already exist")
    if model is None:
        model = fit_missing_values(df, columns, strategy=strategy)
    elif not isinstance(model, ImputerModel):
        raise FillMissingValuesError(f"{where}: model must be a fitted pyspark.ml ImputerModel, "
                                     f"got {type(model).__name__}")
    else:
        _check_numeric(df, columns, where)
    # A copy: the caller's model keeps its own column settings.
    return model.copy().setInputCols(columns).setOutputCols(outputs).transform(df)


def fit_missing_values(df: DataFrame, columns: Sequence[str] | str, *,
                       strategy: str = "mean") -> Any:
    """Fit the pyspark.ml Imputer behind :func:`fill_missing_values` (runs Spark jobs)."""
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import IllegalArgumentException
    from pyspark.ml.feature import Imputer

    where = "fill_missing_values"
    columns = [columns] if isinstance(columns, str) else list(columns)
    if strategy not in ("mean", "median", "mode"):
        raise FillMissingValuesError(f"{where}: strategy {strategy!r} is not mean, median or "
                                     "mode")
    _check_numeric(df, columns, where)
    imputer = Imputer(strategy=strategy, inputCols=columns,
                      outputCols=[f"{c}_filled" for c in columns])
    try:
        return imputer.fit(df)
    except (Py4JJavaError, IllegalArgumentException) as exc:
        if "surrogate cannot be computed" in str(exc):
            raise FillMissingValuesError(
                f"{where}: nothing to learn from in {columns}: every value of at least one "
                "column is null or NaN (or the frame is empty)"
            ) from exc
        raise


def _check_numeric(df: DataFrame, columns: Sequence[str], where: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise MissingColumnsError(missing, df.columns, where)
    bad = [f"{c} ({df.schema[c].dataType.simpleString()})" for c in columns
           if not isinstance(df.schema[c].dataType, NumericType)]
    if bad:
        raise FillMissingValuesError(f"{where}: Imputer needs numeric columns; not numeric: "
                                     f"{bad}. Cast them with apply_mapping first")


def spigot(df: DataFrame, path: str, top_k: int | None = None, prob: float | None = None, *,
           seed: int | None = None, mode: str = "errorifexists") -> DataFrame:
    """Glue Spigot: write a sample of ``df`` as JSON to ``path`` and return ``df`` unchanged.

    ``top_k`` writes the first k records, ``prob`` picks each record with that probability (both:
    sample, then the first k of the sample); neither means ``top_k=100`` as Glue Studio does.
    Writing is the point of this transform, so it runs one Spark job. ``mode`` is the Spark save
    mode; the default refuses to overwrite an existing sample.
    """
    where = "spigot"
    if top_k is not None and (not isinstance(top_k, int) or top_k < 0):
        raise GlueTransformError(f"{where}: top_k must be an int >= 0, got {top_k!r}")
    if prob is not None and not (0.0 <= float(prob) <= 1.0):
        raise GlueTransformError(f"{where}: prob must be within [0, 1], got {prob!r}")
    if top_k is None and prob is None:
        top_k = 100
    sample = df
    if prob is not None:
        sample = sample.sample(withReplacement=False, fraction=float(prob), seed=seed)
    if top_k is not None:
        sample = sample.limit(top_k)
    sample.write.mode(mode).json(path)
    log.info("spigot: wrote a sample of the frame to %s", path)
    return df


# --------------------------------------------------------------------------------------------
# Glue-named wrappers


def _dynamic_frame_types() -> tuple[type, type] | None:
    try:
        from awsglue.dynamicframe import DynamicFrame, DynamicFrameCollection
    except ImportError:
        return None
    return DynamicFrame, DynamicFrameCollection


def _as_dataframe(frame: Any, arg: str = "frame") -> tuple[DataFrame, Callable[[Any, str], Any]]:
    """The DataFrame in ``frame`` and a function turning results back into ``frame``'s kind."""
    if isinstance(frame, DataFrame):
        return frame, lambda result, name: result
    glue = _dynamic_frame_types()
    if glue is not None and isinstance(frame, glue[0]):
        dynamic_frame: Any = glue[0]
        collection: Any = glue[1]
        dyf: Any = frame
        glue_ctx = dyf.glue_ctx

        def back(result: Any, name: str) -> Any:
            if isinstance(result, DataFrame):
                return dynamic_frame.fromDF(result, glue_ctx, name)
            return collection({k: dynamic_frame.fromDF(v, glue_ctx, k)
                               for k, v in result.items()}, glue_ctx)

        return dyf.toDF(), back
    raise TypeError(f"{arg} must be a pyspark DataFrame"
                    + (" or an awsglue DynamicFrame" if glue is not None else "")
                    + f", got {type(frame).__name__}")


class GlueTransform(ABC):
    """Base of the Glue-named wrappers: ``X.apply(frame=..., ...)`` as in awsglue.transforms."""

    returns_collection: ClassVar[bool] = False

    @classmethod
    def name(cls) -> str:
        return cls.__name__

    @classmethod
    def describe(cls) -> dict[str, Any]:
        import inspect

        doc = (cls.__doc__ or "").strip().splitlines()
        params = [p for p in inspect.signature(cls.apply).parameters if p not in ("cls",)]
        return {"name": cls.name(), "description": doc[0] if doc else "", "args": params,
                "returns": "collection" if cls.returns_collection else "frame"}

    @classmethod
    @abstractmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        """Run the transform on ``frame`` (every wrapper defines it)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.apply(*args, **kwargs)


def _ctx_name(transformation_ctx: str, default: str) -> str:
    return transformation_ctx or default


class ApplyMapping(GlueTransform):
    """Apply a declarative mapping (see :func:`apply_mapping`)."""

    @classmethod
    def apply(cls, frame: Any, mappings: Sequence[Sequence[str]], transformation_ctx: str = "",
              info: str = "", stageThreshold: int | None = None,
              totalThreshold: int | None = None, ledger: ErrorLedger | None = None) -> Any:
        df, back = _as_dataframe(frame)
        out = apply_mapping(df, mappings, ledger=ledger, transformation_ctx=transformation_ctx,
                            info=info, stage_threshold=stageThreshold,
                            total_threshold=totalThreshold)
        return back(out, _ctx_name(transformation_ctx, "apply_mapping"))


class ResolveChoice(GlueTransform):
    """Resolve mixed-type columns (see :func:`resolve_choice`)."""

    @classmethod
    def apply(cls, frame: Any, specs: Sequence[Sequence[str]] | None = None, choice: str = "",
              database: str | None = None, table_name: str | None = None,
              transformation_ctx: str = "", info: str = "", stageThreshold: int | None = None,
              totalThreshold: int | None = None, catalog: Any = None,
              choice_types: Mapping[str, Sequence[str]] | None = None,
              ledger: ErrorLedger | None = None) -> Any:
        df, back = _as_dataframe(frame)
        out = resolve_choice(df, specs, choice, choice_types=choice_types, database=database,
                             table_name=table_name, catalog=catalog, ledger=ledger,
                             transformation_ctx=transformation_ctx, info=info,
                             stage_threshold=stageThreshold, total_threshold=totalThreshold)
        return back(out, _ctx_name(transformation_ctx, "resolve_choice"))


class DropNullFields(GlueTransform):
    """Drop fields that are null in every record (see :func:`drop_null_fields`)."""

    @classmethod
    def apply(cls, frame: Any, transformation_ctx: str = "", info: str = "",
              stageThreshold: int | None = None, totalThreshold: int | None = None,
              null_values: Sequence[Any] | None = None) -> Any:
        df, back = _as_dataframe(frame)
        return back(drop_null_fields(df, null_values=null_values),
                    _ctx_name(transformation_ctx, "drop_null_fields"))


class DropFields(GlueTransform):
    """Drop fields by path (see :func:`drop_fields`)."""

    @classmethod
    def apply(cls, frame: Any, paths: Sequence[str], transformation_ctx: str = "",
              info: str = "", stageThreshold: int | None = None,
              totalThreshold: int | None = None) -> Any:
        df, back = _as_dataframe(frame)
        return back(drop_fields(df, paths), _ctx_name(transformation_ctx, "drop_fields"))


class SelectFields(GlueTransform):
    """Keep only the given fields (see :func:`select_fields`)."""

    @classmethod
    def apply(cls, frame: Any, paths: Sequence[str], transformation_ctx: str = "",
              info: str = "", stageThreshold: int | None = None,
              totalThreshold: int | None = None) -> Any:
        df, back = _as_dataframe(frame)
        return back(select_fields(df, paths), _ctx_name(transformation_ctx, "select_fields"))


class RenameField(GlueTransform):
    """Rename or move one field (see :func:`rename_field`)."""

    @classmethod
    def apply(cls, frame: Any, old_name: str, new_name: str, transformation_ctx: str = "",
              info: str = "", stageThreshold: int | None = None,
              totalThreshold: int | None = None) -> Any:
        df, back = _as_dataframe(frame)
        return back(rename_field(df, old_name, new_name),
                    _ctx_name(transformation_ctx, "rename_field"))


class Join(GlueTransform):
    """Equality join of two frames (see :func:`join`)."""

    @classmethod
    def apply(cls, frame1: Any, frame2: Any, keys1: Sequence[str] | str,
              keys2: Sequence[str] | str, transformation_ctx: str = "") -> Any:
        df1, back = _as_dataframe(frame1, "frame1")
        df2, _ = _as_dataframe(frame2, "frame2")
        return back(join(df1, df2, keys1, keys2), _ctx_name(transformation_ctx, "join"))


class SplitFields(GlueTransform):
    """Split fields off into a second frame (see :func:`split_fields`)."""

    returns_collection = True

    @classmethod
    def apply(cls, frame: Any, paths: Sequence[str], name1: str | None = None,
              name2: str | None = None, transformation_ctx: str = "", info: str = "",
              stageThreshold: int | None = None, totalThreshold: int | None = None) -> Any:
        df, back = _as_dataframe(frame)
        base = transformation_ctx or "frame"
        return back(split_fields(df, paths, name1 or f"{base}1", name2 or f"{base}2"),
                    base)


class SplitRows(GlueTransform):
    """Split rows off into a second frame (see :func:`split_rows`)."""

    returns_collection = True

    @classmethod
    def apply(cls, frame: Any, comparison_dict: Mapping[str, Mapping[str, Any]],
              name1: str = "frame1", name2: str = "frame2", transformation_ctx: str = "",
              info: str | None = None, stageThreshold: int | None = None,
              totalThreshold: int | None = None) -> Any:
        df, back = _as_dataframe(frame)
        return back(split_rows(df, comparison_dict, name1, name2),
                    _ctx_name(transformation_ctx, "split_rows"))


class Relationalize(GlueTransform):
    """Flatten and pivot arrays into tables (see :func:`relationalize`)."""

    returns_collection = True

    @classmethod
    def apply(cls, frame: Any, staging_path: str | None = None, name: str = "roottable",
              options: Mapping[str, Any] | None = None, transformation_ctx: str = "",
              info: str = "", stageThreshold: int | None = None,
              totalThreshold: int | None = None, persist: bool = True) -> Any:
        df, back = _as_dataframe(frame)
        return back(relationalize(df, name, staging_path, options, persist=persist), name)


class Unbox(GlueTransform):
    """Parse a JSON/CSV string field into a struct (see :func:`unbox`)."""

    @classmethod
    def apply(cls, frame: Any, path: str, format: str = "json",  # noqa: A002
              transformation_ctx: str = "", info: str = "", stageThreshold: int | None = None,
              totalThreshold: int | None = None, ledger: ErrorLedger | None = None,
              withSchema: StructType | str | None = None, **options: Any) -> Any:
        df, back = _as_dataframe(frame)
        out = unbox(df, path, format, with_schema=withSchema, ledger=ledger,
                    transformation_ctx=transformation_ctx, info=info,
                    stage_threshold=stageThreshold, total_threshold=totalThreshold, **options)
        return back(out, _ctx_name(transformation_ctx, "unbox"))


class UnnestFrame(GlueTransform):
    """Flatten nested structs to top-level columns (see :func:`unnest`)."""

    @classmethod
    def apply(cls, frame: Any, transformation_ctx: str = "", info: str = "",
              stageThreshold: int | None = None, totalThreshold: int | None = None) -> Any:
        df, back = _as_dataframe(frame)
        return back(unnest(df), _ctx_name(transformation_ctx, "unnest"))


class FillMissingValues(GlueTransform):
    """Impute missing values into ``<col>_filled`` (see :func:`fill_missing_values`)."""

    @classmethod
    def apply(cls, frame: Any, missing_values_column: str | Sequence[str],
              output_column: str | Sequence[str] = "", transformation_ctx: str = "",
              info: str = "", stageThreshold: int | None = None,
              totalThreshold: int | None = None, strategy: str = "mean",
              model: Any = None) -> Any:
        df, back = _as_dataframe(frame)
        out = fill_missing_values(df, missing_values_column, output_column or None,
                                  strategy=strategy, model=model)
        return back(out, _ctx_name(transformation_ctx, "fill_missing_values"))


class Spigot(GlueTransform):
    """Write a sample of the frame (see :func:`spigot`)."""

    @classmethod
    def apply(cls, frame: Any, path: str, options: Mapping[str, Any] | None = None,
              transformation_ctx: str = "") -> Any:
        options = dict(options or {})
        unknown = sorted(set(options) - {"topk", "prob", "seed", "mode"})
        if unknown:
            raise GlueTransformError(f"Spigot: unknown option(s) {unknown}; use topk and prob")
        df, _ = _as_dataframe(frame)
        spigot(df, path, top_k=options.get("topk"), prob=options.get("prob"),
               seed=options.get("seed"), mode=options.get("mode", "errorifexists"))
        return frame


class SelectFromCollection(GlueTransform):
    """Pick one frame out of a collection (SplitFields, SplitRows, Relationalize output)."""

    @classmethod
    def apply(cls, dfc: Any, key: str, transformation_ctx: str = "") -> Any:
        if isinstance(dfc, Mapping):
            if key not in dfc:
                raise GlueTransformError(f"SelectFromCollection: no frame {key!r}; the "
                                         f"collection has {sorted(dfc)}")
            return dfc[key]
        glue = _dynamic_frame_types()
        if glue is not None and isinstance(dfc, glue[1]):
            collection: Any = dfc
            return collection.select(key)
        raise TypeError(f"SelectFromCollection: dfc must be a dict of frames or a "
                        f"DynamicFrameCollection, got {type(dfc).__name__}")


GLUE_TRANSFORMS: tuple[type[GlueTransform], ...] = (
    ApplyMapping, ResolveChoice, DropNullFields, DropFields, SelectFields, RenameField, Join,
    SplitFields, SplitRows, Relationalize, Unbox, UnnestFrame, FillMissingValues, Spigot,
    SelectFromCollection,
)
