"""Field transforms: DropNullFields, DropFields, SelectFields, RenameField, FillMissingValues."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any, cast

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
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
)

from lakeforge.errors import MissingColumnsError
from transforms.glue.common import (
    DuplicateColumnsError,
    FillMissingValuesError,
    GlueTransformError,
    _replace_top,
    _validate_paths,
)
from transforms.glue.field_paths import (
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
