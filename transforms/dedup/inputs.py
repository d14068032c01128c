"""Input checks (primary key, columns, labels) and the frame Splink compares."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F  # noqa: N812
from pyspark.sql import types as T  # noqa: N812

from lakeforge.errors import require_columns
from transforms.dedup.model import MatchColumn, MatchModel
from transforms.dedup.profile import prepare_column
from transforms.dedup.settings import (
    LABEL,
    LABELING_SET_ID,
    MATCH_CONFIDENCE_SCORE,
    MATCH_ID,
    NEW_FLAG,
    UID,
    DedupInputError,
    DuplicatePrimaryKeyError,
    LabelsFormatError,
    NullPrimaryKeyError,
)

log = logging.getLogger(__name__)



def check_primary_key(df: DataFrame, primary_key: str, where: str) -> None:
    if not isinstance(primary_key, str) or not primary_key:
        raise DedupInputError(f"{where}: primary_key must be a column name, got {primary_key!r}")
    require_columns(df.columns, [primary_key], where)
    field_type = df.schema[primary_key].dataType
    if not isinstance(field_type, (T.StringType, T.IntegralType)):
        raise DedupInputError(
            f"{where}: primary key {primary_key!r} has type {field_type.simpleString()}; "
            "use a string or integer key"
        )
    nulls = df.filter(F.col(f"`{primary_key}`").isNull()).count()
    if nulls:
        raise NullPrimaryKeyError(
            f"{where}: primary key {primary_key!r} is null in {nulls} row(s); every row needs "
            "a key (fill or drop them before matching)"
        )
    dups = (
        df.groupBy(f"`{primary_key}`").count().filter("count > 1")
        .orderBy(F.desc("count")).limit(5).collect()
    )
    if dups:
        shown = ", ".join(f"{r[0]!r} x{r[1]}" for r in dups)
        raise DuplicatePrimaryKeyError(
            f"{where}: primary key {primary_key!r} is not unique: {shown}"
            f"{' ...' if len(dups) == 5 else ''}; the key must identify one row"
        )


def check_output_columns_free(df: DataFrame, where: str) -> None:
    taken = [c for c in (MATCH_ID, MATCH_CONFIDENCE_SCORE) if c in df.columns]
    if taken:
        raise DedupInputError(
            f"{where}: input already has column(s) {taken}, which find_matches writes; "
            "drop or rename them first (use find_incremental_matches for matched data)"
        )


def _internal_name(source: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9_]+", "_", source.lower()).strip("_") or "col"
    if base[0].isdigit():
        base = f"c_{base}"
    if base in (UID, NEW_FLAG) or base.startswith(("match_", "gamma_", "tf_", "bf_")):
        base = f"{base}_v"
    name, i = base, 2
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    taken.add(name)
    return name


def candidate_columns(df: DataFrame, primary_key: str, columns: Sequence[str] | None,
                       where: str) -> list[str]:
    if columns is None:
        skip = {primary_key, MATCH_ID, MATCH_CONFIDENCE_SCORE}
        return [c for c in df.columns if c not in skip]
    if isinstance(columns, str):
        raise DedupInputError(f"{where}: columns must be a list of names, got a string {columns!r}")
    require_columns(df.columns, columns, where)
    if primary_key in columns:
        raise DedupInputError(f"{where}: the primary key {primary_key!r} cannot be compared")
    if not columns:
        raise DedupInputError(f"{where}: columns is empty; name at least one column to compare")
    return list(dict.fromkeys(columns))


def prepared_frame(df: DataFrame, primary_key: str, columns: Sequence[MatchColumn]) -> DataFrame:
    types = {f.name: f.dataType for f in df.schema.fields}
    selected: list[Column] = [F.col(f"`{primary_key}`").alias(UID)]
    for c in columns:
        src = F.col(f"`{c.source}`")
        value = src if c.kind == "raw" else prepare_column(src, c.kind, types[c.source])  # type: ignore[arg-type]
        selected.append(value.alias(c.name))
    return df.select(*selected)


def labels_to_pairs(labels: DataFrame, primary_key: str,
                    key_type: T.DataType | None = None) -> DataFrame:
    """FindMatches labels -> pairs ``(unique_id_l, unique_id_r, is_match)`` with l < r.

    Within one ``labeling_set_id``, records with the same ``label`` are the same entity and
    records with different labels are different entities. ``key_type`` (the input's primary
    key type) casts the labels' key first, so l < r orders pairs as the input's keys do (labels
    read from CSV have string keys; ``'10' < '9'`` but ``9 < 10``); a value the cast turns into
    null raises :class:`LabelsFormatError`.
    """
    where = "labels"
    require_columns(labels.columns, [LABELING_SET_ID, LABEL, primary_key], where)
    if key_type is not None:
        labels = typed_label_keys(labels, primary_key, key_type)
    bad = labels.filter(
        F.col(LABELING_SET_ID).isNull() | F.col(LABEL).isNull()
        | F.col(f"`{primary_key}`").isNull()
    ).count()
    if bad:
        raise LabelsFormatError(
            f"{where}: {bad} row(s) have a null {LABELING_SET_ID}, {LABEL} or {primary_key}"
        )
    rows = labels.select(
        F.col(LABELING_SET_ID).cast("string").alias("s"),
        F.col(LABEL).cast("string").alias("lab"),
        F.col(f"`{primary_key}`").alias("k"),
    ).distinct()
    a, b = rows.alias("a"), rows.alias("b")
    pairs = a.join(b, (F.col("a.s") == F.col("b.s")) & (F.col("a.k") < F.col("b.k"))).select(
        F.col("a.k").alias(f"{UID}_l"),
        F.col("b.k").alias(f"{UID}_r"),
        (F.col("a.lab") == F.col("b.lab")).alias("is_match"),
    )
    conflicts = pairs.groupBy(f"{UID}_l", f"{UID}_r").agg(
        F.countDistinct("is_match").alias("n")
    ).filter("n > 1").limit(3).collect()
    if conflicts:
        shown = ", ".join(f"({r[0]!r}, {r[1]!r})" for r in conflicts)
        raise LabelsFormatError(
            f"{where}: pairs labeled both match and non-match in different labeling sets: {shown}"
        )
    return pairs.groupBy(f"{UID}_l", f"{UID}_r").agg(F.first("is_match").alias("is_match"))


def typed_label_keys(labels: DataFrame, primary_key: str, key_type: T.DataType) -> DataFrame:
    """``labels`` with the key column cast to ``key_type``; a value that is not one raises."""
    require_columns(labels.columns, [primary_key], "labels")
    if labels.schema[primary_key].dataType == key_type:
        return labels
    name = key_type.simpleString()
    raw = F.col(f"`{primary_key}`")
    typed = F.expr(f"try_cast(`{primary_key}` AS {name})")
    bad = (
        labels.filter(raw.isNotNull() & typed.isNull())
        .select(raw.cast("string").alias("v")).distinct().limit(5).collect()
    )
    if bad:
        raise LabelsFormatError(
            f"labels: {primary_key} value(s) {[r[0] for r in bad]} are not {name} values "
            f"like the input's primary key {primary_key!r}"
        )
    return labels.withColumn(primary_key, typed)


def check_label_keys(labels: DataFrame, df: DataFrame, primary_key: str) -> DataFrame:
    """Labels whose key has the input key's type and names records of ``df`` (else raises);
    returns ``labels`` with the key cast to that type."""
    labels = typed_label_keys(labels, primary_key, df.schema[primary_key].dataType)
    unknown = (
        labels.select(F.col(f"`{primary_key}`").alias("k")).distinct()
        .join(df.select(F.col(f"`{primary_key}`").alias("k")), "k", "left_anti")
        .limit(5).collect()
    )
    if unknown:
        raise LabelsFormatError(
            f"labels: {primary_key} value(s) {[r[0] for r in unknown]} are not in the input; "
            "labels must refer to records of the frame being matched"
        )
    return labels


def check_model_columns(df: DataFrame, model: MatchModel, where: str) -> None:
    require_columns(
        df.columns, [c.source for c in model.columns], f"{where} (columns the model compares)"
    )
