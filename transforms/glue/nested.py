"""Nested data: Relationalize, Unbox, Unnest."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    DataType,
    StringType,
    StructField,
    StructType,
    _parse_datatype_string,
)

from transforms.glue.common import (
    DuplicateColumnsError,
    GlueTransformError,
    SchemaRequiredError,
    _replace_top,
    _track,
    _validate_paths,
)
from transforms.glue.error_ledger import ErrorLedger
from transforms.glue.field_paths import (
    ARRAY,
    FieldPathError,
    column_at,
    field_type,
    sql_quote,
    update_path,
)

log = logging.getLogger(__name__)



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
    rejected. CSV options use Glue's names (``separator``, ``escaper``, ``quoteChar``; -1 turns
    quoting off).
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
        # Glue's quoteChar -1 turns quoting off; Spark spells that as an empty quote.
        out[names.get(key, key)] = "" if key == "quoteChar" and str(value) == "-1" else str(value)
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
