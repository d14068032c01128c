"""Errors and helpers shared by the Glue transform families (type names, paths, counting)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import cast

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    DataType,
    StructType,
    _parse_datatype_string,
)

from lakeforge.errors import LakeforgeError, MissingColumnsError
from transforms.glue.error_ledger import ErrorLedger
from transforms.glue.field_paths import (
    ARRAY,
    Path,
    format_path,
    has_path,
    leaf_paths,
    parse_path,
    sql_quote,
)

log = logging.getLogger(__name__)



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
