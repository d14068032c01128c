"""ApplyMapping and ResolveChoice: declarative typing, with rejected values counted."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DataType,
    IntegerType,
    IntegralType,
    MapType,
    StringType,
    StructField,
    StructType,
)

from lakeforge.errors import MissingColumnsError
from transforms.casts import cast_or_null
from transforms.glue.common import (
    CatalogTableNotFoundError,
    ChoiceSpecError,
    DuplicateColumnsError,
    MappingError,
    _available_paths,
    _count_path,
    _replace_top,
    _track,
    parse_type,
)
from transforms.glue.error_ledger import ErrorLedger
from transforms.glue.field_paths import (
    ARRAY,
    Path,
    column_at,
    field_type,
    format_path,
    has_path,
    parse_path,
    sql_quote,
    update_path,
)

log = logging.getLogger(__name__)



def apply_mapping(
    df: DataFrame,
    mappings: Sequence[Sequence[str]],
    *,
    case_sensitive: bool = False,
    ledger: ErrorLedger | None = None,
    transformation_ctx: str = "",
    info: str = "",
    stage_threshold: int | None = None,
    total_threshold: int | None = None,
) -> DataFrame:
    """Glue ApplyMapping: keep, rename, retype and restructure fields declaratively.

    Each mapping is ``(source_path, source_type, target_path, target_type)``. Only mapped fields
    are returned, in mapping order; a dotted target path builds (or extends) a struct; a value
    that does not cast to ``target_type`` (Spark's try_cast rules, on Spark 3.5 and 4 alike: an
    overflow or a fraction into an integral type too; :mod:`transforms.casts`) becomes null and
    is counted as rejected in ``ledger``.
    A source path the frame lacks raises MissingColumnsError (Glue would silently skip it).
    With ``case_sensitive=False`` (Glue's default) a source path segment that is not a field
    name matches the one field whose name differs only in case (``ZID`` finds ``zid``; two
    fields equal but for case raise MappingError). A lone 4-tuple is one mapping, as in awsglue.
    A bare ``struct``, ``array`` or ``map`` type (Glue's generated mappings of nested fields)
    keeps the field with the type it has; a field of another kind raises MappingError.

    >>> apply_mapping(df, mappings=[("id", "string", "id", "long"),
    ...                             ("`addr.zip`", "string", "address.zip", "string")])
    """
    where = "apply_mapping"
    if isinstance(mappings, tuple) and mappings and isinstance(mappings[0], str):
        mappings = [mappings]
    if not mappings:
        raise MappingError(f"{where}: give at least one (source, source_type, target, "
                           "target_type) mapping; an empty mapping would drop every column")
    schema = df.schema
    parsed: list[tuple[int, Path, Path, DataType | None]] = []
    missing: list[str] = []
    for i, mapping in enumerate(mappings):
        if isinstance(mapping, str) or len(mapping) != 4:
            raise MappingError(f"{where}: mapping #{i} {mapping!r} is not a 4-tuple "
                               "(source_path, source_type, target_path, target_type)")
        if not all(isinstance(part, str) for part in mapping):
            raise MappingError(f"{where}: mapping #{i} {mapping!r}: its four items must be "
                               "strings")
        source, source_type, target, target_type = mapping
        source_path, target_path = parse_path(source), parse_path(target)
        for label, p in (("source", source_path), ("target", target_path)):
            if ARRAY in p:
                raise MappingError(f"{where}: mapping #{i} {label} path {format_path(p)!r} goes "
                                   "through an array; map the whole array field instead")
        if _complex_kind(source_type) is None:
            parse_type(source_type, f"{where} mapping #{i} source_type")
        target_dt: DataType | None = None
        if _complex_kind(target_type) is None:
            target_dt = parse_type(target_type, f"{where} mapping #{i} target_type")
        found = (source_path if case_sensitive
                 else _ignoring_case(schema, source_path, f"{where}: mapping #{i}"))
        if found is None or not has_path(schema, found):
            missing.append(format_path(source_path))
            continue
        parsed.append((i, found, target_path, target_dt))
    if missing:
        raise MissingColumnsError(missing, _available_paths(schema), where)

    tree: dict[str, Any] = {}
    rejected: list[Column] = []
    for i, source_path, target_path, target_dt in parsed:
        actual = field_type(schema, source_path)
        value = column_at(source_path)
        if target_dt is None:  # a bare struct / array / map: the field as it is
            kind = cast(str, _complex_kind(mappings[i][3]))
            if not isinstance(actual, _COMPLEX_KINDS[kind]):
                raise MappingError(
                    f"{where}: mapping #{i} {tuple(mappings[i])!r}: target type {kind!r} keeps a "
                    f"{kind} field as it is, but {format_path(source_path)!r} is "
                    f"{actual.simpleString()}; give its type ({actual.simpleString()}) or "
                    "the type to cast it to")
        elif actual != target_dt:
            converted = cast_or_null(value, target_dt)
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


# Glue's bare names of nested types (``("links", "array", "links", "array")``, as Glue's script
# generator writes mappings of nested fields): the field is kept with the type it has.
_COMPLEX_KINDS: dict[str, type[DataType]] = {
    "struct": StructType, "array": ArrayType, "map": MapType}


def _complex_kind(type_name: str) -> str | None:
    name = type_name.strip().lower() if isinstance(type_name, str) else ""
    return name if name in _COMPLEX_KINDS else None


def _ignoring_case(schema: StructType, path: Path, where: str) -> Path | None:
    """``path`` with each segment replaced by the field it names when case is ignored; None
    when a segment names no field. Fields equal but for case are refused even when one is
    named exactly: Spark's analyzer (case-insensitive by default) could not tell them apart."""
    current: DataType = schema
    out: list[str] = []
    for depth, seg in enumerate(path):
        if not isinstance(current, StructType):
            return None
        hits = [f for f in current.fields if f.name.lower() == seg.lower()]
        if not hits:
            return None
        if len(hits) > 1:
            raise MappingError(
                f"{where} source {format_path(path)!r}: {format_path(path[:depth + 1])!r} "
                f"matches fields {sorted(f.name for f in hits)} when case is ignored; name "
                "one exactly and pass case_sensitive=True")
        out.append(hits[0].name)
        current = hits[0].dataType
    return tuple(out)


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
    if isinstance(specs, tuple) and len(specs) == 2 and all(isinstance(x, str) for x in specs):
        specs = [cast(Sequence[str], specs)]  # one (path, action) pair, as awsglue accepts
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
            if members is None:
                log.info("%s: %r is a %s column, not a choice: %s leaves it unchanged", where,
                         format_path(path), actual.simpleString(), kind)
                continue
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


def glue_type_name(dtype: DataType) -> str:
    """Glue's name of a type, as in make_cols column names: ``long`` (Spark: bigint),
    ``int``, ``short``, ``byte``, ``double``, ``string``, ``decimal``, ``date`` ..."""
    return "int" if isinstance(dtype, IntegerType) else dtype.typeName()


def _members(choice_types: Mapping[str, Sequence[str]], path: Path, actual: DataType,
             where: str) -> list[tuple[str, DataType]] | None:
    """The member types of the choice at ``path``, labelled with Glue's type names; None
    for a column of one type that is no choice (Glue's make_cols / make_struct leave it)."""
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
        return None
    if isinstance(declared, str) or not declared:
        raise ChoiceSpecError(f"{where}: choice_types for {format_path(path)!r} must be a "
                              f"non-empty list of type names, got {declared!r}")
    members = [(glue_type_name(dt), dt) for dt in
               (parse_type(str(t), f"{where} choice_types") for t in declared)]
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
        converted = cast_or_null(value, member).isNotNull()
        if isinstance(member, IntegralType):
            return text.rlike(r"^[+-]?[0-9]+$") & converted
        if isinstance(member, BooleanType):
            return F.lower(text).isin("true", "false")
        return converted
    if actual == member:
        return value.isNotNull()
    # Non-string source: a value belongs to ``member`` when converting there and back is exact.
    return F.coalesce(cast_or_null(cast_or_null(value, member), actual) == value, F.lit(False))


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
            return c.isNotNull() & cast_or_null(c, target).isNull()

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
            return c if t == target else cast_or_null(c, target)
    elif kind == "project":
        assert target is not None

        def fn(c: Column, t: DataType) -> Column:
            return F.when(_accepts(c, t, target), cast_or_null(c, target))
    elif kind == "make_struct":
        assert members is not None

        def fn(c: Column, t: DataType) -> Column:
            fields = [F.when(ok, cast_or_null(c, m)).alias(label)
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
        return [(f"{name}_{label}", F.when(ok, cast_or_null(c, m)))
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
