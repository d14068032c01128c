"""Join, SplitFields, SplitRows and the sample Spigot writes."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from transforms.glue.common import DuplicateColumnsError, GlueTransformError, _validate_paths
from transforms.glue.field_paths import ARRAY, FieldPathError, Path, column_at, sql_quote
from transforms.glue.fields import drop_fields, select_fields

log = logging.getLogger(__name__)



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


def spigot_sample(df: DataFrame, top_k: int | None = None, prob: float | None = None, *,
                  seed: int | None = None) -> DataFrame:
    """The sample Glue's Spigot writes: ``prob`` picks each record with that probability, then
    ``top_k`` keeps the first k (neither: ``top_k=100``, as Glue Studio does). Lazy; writing it
    is the runtime's job (``lakeforge.spigot.spigot``)."""
    where = "spigot"
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int)
                              or top_k < 0):
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
    return sample
