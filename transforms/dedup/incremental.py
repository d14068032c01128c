"""Incremental matching: new records join existing entities, existing match_ids never change."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F  # noqa: N812

from lakeforge.errors import require_columns
from transforms.dedup.backend import ensure_similarity_functions, make_linker, rule_sql, spark_api
from transforms.dedup.inference import (
    attach_matches,
    confidence_scores,
    connected_components,
    normalised_edges,
)
from transforms.dedup.inputs import check_model_columns, check_primary_key, prepared_frame
from transforms.dedup.model import MatchModel, resolve_model
from transforms.dedup.settings import (
    EDGE_FLOOR,
    MATCH_CONFIDENCE_SCORE,
    MATCH_ID,
    NEW_FLAG,
    UID,
    DedupInputError,
    MatchSettings,
)
from transforms.dedup.training import check_comparisons_have_blocking_rules, fit_model

log = logging.getLogger(__name__)



def _incremental_rule(sql: str) -> str:
    return f"({sql}) and (l.{NEW_FLAG} = 1 or r.{NEW_FLAG} = 1)"


def _check_columns_match_model(columns: Sequence[str], model: MatchModel, where: str) -> None:
    """``settings.columns`` next to ``model=`` must be the model's compared columns: any other
    list would be ignored (the model decides what is compared)."""
    compared = [c.source for c in model.columns]
    if set(columns) != set(compared):
        raise DedupInputError(
            f"{where}: pass either model= or columns/comparisons, not both (settings.columns "
            f"{sorted(columns)} differ from the columns the model compares {sorted(compared)})"
        )


def find_incremental_matches(
    existing_df: DataFrame,
    incremental_df: DataFrame,
    *,
    primary_key: str,
    settings: MatchSettings | None = None,
    model: MatchModel | Mapping[str, Any] | None = None,
    comparisons: Sequence[Any] | None = None,
    blocking_rules: Sequence[Any] | None = None,
) -> DataFrame:
    """Match new records against an already matched set; existing ``match_id``s never change.

    ``existing_df`` is a previous output (it has ``match_id``); its rows come back unchanged.
    Each group of new records that match each other joins the existing entity it links to most
    strongly, else it becomes a new entity whose ``match_id`` is its smallest new key. Existing
    entities are never merged or split, even if a new record resembles two of them. Only pairs
    involving a new record are scored. Without ``model``, one is trained on both frames
    (``comparisons`` need ``blocking_rules``, as in :func:`find_matches`); with ``model``,
    ``comparisons`` and ``settings.columns`` other than the model's compared columns are
    refused (the model decides what is compared) and ``blocking_rules`` replace the model's
    prediction rules. Columns only ``incremental_df`` has are kept: null on the
    existing rows, so no new data is dropped.
    """
    where = "find_incremental_matches"
    settings = settings or MatchSettings()
    threshold = settings.threshold
    if model is not None and comparisons is not None:
        raise DedupInputError(f"{where}: pass either model= or columns/comparisons, not both")
    resolved = resolve_model(model) if model is not None else None
    if resolved is not None and settings.columns is not None:
        _check_columns_match_model(settings.columns, resolved, where)
    if model is None:
        check_comparisons_have_blocking_rules(comparisons, blocking_rules, where)
    if blocking_rules is not None and (isinstance(blocking_rules, str) or not blocking_rules):
        raise DedupInputError(f"{where}: blocking_rules must be a non-empty list")
    require_columns(existing_df.columns, [MATCH_ID], f"{where} existing_df")
    if MATCH_ID in incremental_df.columns or MATCH_CONFIDENCE_SCORE in incremental_df.columns:
        raise DedupInputError(
            f"{where}: incremental_df already has {MATCH_ID}/{MATCH_CONFIDENCE_SCORE}; new "
            "records must be unmatched (drop those columns)"
        )
    base_cols = [c for c in existing_df.columns if c not in (MATCH_ID, MATCH_CONFIDENCE_SCORE)]
    missing = [c for c in base_cols if c not in incremental_df.columns]
    if missing:
        raise DedupInputError(
            f"{where}: incremental_df lacks column(s) {missing} that existing_df has"
        )
    new = incremental_df.select(*[F.col(f"`{c}`") for c in base_cols])
    old = existing_df.select(*[F.col(f"`{c}`") for c in base_cols])
    check_primary_key(existing_df, primary_key, f"{where} existing_df")
    check_primary_key(incremental_df, primary_key, f"{where} incremental_df")
    null_ids = existing_df.filter(F.col(MATCH_ID).isNull()).count()
    if null_ids:
        raise DedupInputError(f"{where}: existing_df has {null_ids} row(s) with a null match_id")
    both = old.unionByName(new)
    check_primary_key(both, primary_key, f"{where} (existing and new rows together)")
    scores = settings.compute_match_confidence_scores
    out_old = existing_df
    if scores and MATCH_CONFIDENCE_SCORE not in existing_df.columns:
        out_old = existing_df.withColumn(MATCH_CONFIDENCE_SCORE, F.lit(None).cast("double"))
    if not scores and MATCH_CONFIDENCE_SCORE in existing_df.columns:
        out_old = existing_df.drop(MATCH_CONFIDENCE_SCORE)
    new_types = {f.name: f.dataType for f in incremental_df.schema.fields}
    for extra in [c for c in incremental_df.columns if c not in existing_df.columns]:
        # a column only the new rows have: kept, null on the existing rows
        out_old = out_old.withColumn(extra, F.lit(None).cast(new_types[extra]))
    id_type = existing_df.schema[MATCH_ID].dataType
    n_new = new.count()
    if n_new == 0:
        return out_old
    if resolved is None:
        resolved = fit_model(both, primary_key, settings, comparisons, blocking_rules, None,
                             where)[0]
    check_model_columns(new, resolved, where)
    spark = existing_df.sparkSession
    ensure_similarity_functions(spark)
    splink_settings = dict(resolved.splink_settings)
    rules = ([rule_sql(r) for r in blocking_rules] if blocking_rules is not None
             else list(resolved.blocking_rules))
    splink_settings["blocking_rules_to_generate_predictions"] = [
        _incremental_rule(r) for r in rules
    ]
    splink_settings["additional_columns_to_retain"] = [NEW_FLAG]
    frame = (
        prepared_frame(old, primary_key, resolved.columns).withColumn(NEW_FLAG, F.lit(0))
        .unionByName(
            prepared_frame(new, primary_key, resolved.columns).withColumn(NEW_FLAG, F.lit(1))
        ).persist()
    )
    db_api = spark_api(spark)
    linker = make_linker(db_api, frame, splink_settings)
    try:
        predictions = linker.inference.predict(
            threshold_match_probability=min(EDGE_FLOOR, threshold), warning_mode="never"
        ).as_spark_dataframe()
        new_ids = new.select(F.col(f"`{primary_key}`").alias(UID))
        flagged = predictions.select(
            f"{UID}_l", f"{UID}_r", "match_probability",
            F.col(f"{NEW_FLAG}_l").alias("nl"), F.col(f"{NEW_FLAG}_r").alias("nr"),
        )
        new_new = normalised_edges(flagged.filter("nl = 1 and nr = 1")).persist()
        # new -> existing edges, oriented (new key, existing key)
        cross = flagged.filter("nl + nr = 1").select(
            F.when(F.col("nl") == 1, F.col(f"{UID}_l")).otherwise(F.col(f"{UID}_r")).alias("n"),
            F.when(F.col("nl") == 1, F.col(f"{UID}_r")).otherwise(F.col(f"{UID}_l")).alias("e"),
            F.col("match_probability").cast("double").alias("p"),
        )
        existing_ids = existing_df.select(F.col(f"`{primary_key}`").alias("e"),
                                          F.col(MATCH_ID).alias("em"))
        cross = cross.join(existing_ids, "e").persist()
        groups = connected_components(db_api, new_ids, new_new, threshold).withColumn(
            "own", F.min(UID).over(Window.partitionBy("cluster_id"))
        )
        best = (
            groups.join(cross.filter(F.col("p") >= threshold), F.col(UID) == F.col("n"))
            .groupBy("cluster_id", "em").agg(F.max("p").alias("p"))
            .withColumn("rank", F.row_number().over(
                Window.partitionBy("cluster_id").orderBy(F.desc("p"), F.asc("em"))))
            .filter("rank = 1").select("cluster_id", "em")
        )
        assigned = groups.join(best, "cluster_id", "left").select(
            UID,
            F.coalesce(F.col("em"), F.col("own").cast(id_type)).alias(MATCH_ID),
        )
        if scores:
            everyone = assigned.unionByName(
                existing_df.select(F.col(f"`{primary_key}`").alias(UID), F.col(MATCH_ID))
            )
            all_edges = new_new.unionByName(cross.select(
                F.least("n", "e").alias(f"{UID}_l"), F.greatest("n", "e").alias(f"{UID}_r"),
                F.col("p").alias("match_probability"),
            ))
            mapping = confidence_scores(everyone, all_edges).join(new_ids, UID, "left_semi")
        else:
            mapping = assigned
        mapping = mapping.localCheckpoint(eager=True)
        new_new.unpersist()
        cross.unpersist()
    finally:
        linker.table_management.delete_tables_created_by_splink_from_db()
        frame.unpersist()
    matched_new = attach_matches(incremental_df, primary_key, mapping, scores)
    return out_old.unionByName(matched_new.select(*out_old.columns))
