"""Inference: score candidate pairs, cluster above the threshold, attach match_id."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F  # noqa: N812

from transforms.dedup.backend import ensure_similarity_functions, make_linker, rule_sql, spark_api
from transforms.dedup.inputs import (
    candidate_columns,
    check_label_keys,
    check_model_columns,
    check_output_columns_free,
    check_primary_key,
    labels_to_pairs,
    prepared_frame,
)
from transforms.dedup.model import MatchModel, resolve_model
from transforms.dedup.settings import (
    EDGE_FLOOR,
    MATCH_CONFIDENCE_SCORE,
    MATCH_ID,
    UID,
    DedupInputError,
    MatchSettings,
)
from transforms.dedup.training import check_comparisons_have_blocking_rules, fit_model

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class MatchRun:
    """What :func:`find_matches_detailed` computed: the matched rows and how it got there."""

    result: DataFrame
    model: MatchModel
    rows: int
    candidate_pairs: int
    blocking_rule_pairs: Mapping[str, int]
    edges_above_threshold: int
    clusters: int
    threshold_match_probability: float
    seconds: Mapping[str, float] = field(default_factory=dict)


def empty_result(df: DataFrame, primary_key: str, scores: bool) -> DataFrame:
    out = df.withColumn(MATCH_ID, F.col(f"`{primary_key}`"))
    if scores:
        out = out.withColumn(MATCH_CONFIDENCE_SCORE, F.lit(None).cast("double"))
    return out


def normalised_edges(predictions: DataFrame) -> DataFrame:
    return predictions.select(
        F.least(f"{UID}_l", f"{UID}_r").alias(f"{UID}_l"),
        F.greatest(f"{UID}_l", f"{UID}_r").alias(f"{UID}_r"),
        F.col("match_probability").cast("double").alias("match_probability"),
    )


def enforce_labels(edges: DataFrame, label_pairs: DataFrame) -> DataFrame:
    """Labeled matches become certain edges; labeled non-matches lose their edge."""
    joined = edges.join(label_pairs, [f"{UID}_l", f"{UID}_r"], "full_outer")
    return joined.select(
        f"{UID}_l", f"{UID}_r",
        F.when(F.col("is_match") == F.lit(True), F.lit(1.0))
        .when(F.col("is_match") == F.lit(False), F.lit(0.0))
        .otherwise(F.col("match_probability")).alias("match_probability"),
    ).filter(F.col("match_probability") > 0)


def connected_components(
    db_api: Any, nodes: DataFrame, edges: DataFrame, threshold: float
) -> DataFrame:
    from splink.clustering import cluster_pairwise_predictions_at_threshold

    clusters = cluster_pairwise_predictions_at_threshold(
        nodes.select(UID),
        edges.filter(F.col("match_probability") >= threshold),
        db_api,
        node_id_column_name=UID,
        threshold_match_probability=None,
    )
    return clusters.as_spark_dataframe().select(UID, "cluster_id")


def confidence_scores(assigned: DataFrame, edges: DataFrame) -> DataFrame:
    """Per record: the best probability linking it into its group, or for a record alone the
    probability that it matches none of its candidates (1 - best edge)."""
    both = edges.select(
        F.col(f"{UID}_l").alias("a"), F.col(f"{UID}_r").alias("b"), "match_probability"
    ).unionByName(edges.select(
        F.col(f"{UID}_r").alias("a"), F.col(f"{UID}_l").alias("b"), "match_probability"
    ))
    ga = assigned.select(F.col(UID).alias("a"), F.col(MATCH_ID).alias("ga"))
    gb = assigned.select(F.col(UID).alias("b"), F.col(MATCH_ID).alias("gb"))
    scored = both.join(ga, "a").join(gb, "b").groupBy("a").agg(
        F.max(F.when(F.col("ga") == F.col("gb"), F.col("match_probability"))).alias("inside"),
        F.max("match_probability").alias("best"),
    )
    sizes = assigned.groupBy(MATCH_ID).agg(F.count(F.lit(1)).alias("size"))
    return (
        assigned.join(sizes, MATCH_ID)
        .join(scored.withColumnRenamed("a", UID), UID, "left")
        .select(
            UID,
            MATCH_ID,
            F.when(F.col("size") > 1, F.coalesce("inside", F.lit(1.0)))
            .otherwise(1.0 - F.coalesce("best", F.lit(0.0)))
            .alias(MATCH_CONFIDENCE_SCORE),
        )
    )


def attach_matches(df: DataFrame, primary_key: str, mapping: DataFrame, scores: bool) -> DataFrame:
    cols = [F.col(UID).alias("__lf_key"), F.col(MATCH_ID)]
    if scores:
        cols.append(F.col(MATCH_CONFIDENCE_SCORE).cast("double"))
    right = mapping.select(*cols)
    return df.join(right, F.col(f"`{primary_key}`") == F.col("__lf_key"), "left").drop("__lf_key")


def find_matches_detailed(
    df: DataFrame,
    *,
    primary_key: str,
    settings: MatchSettings | None = None,
    labels: DataFrame | None = None,
    model: MatchModel | Mapping[str, Any] | None = None,
    comparisons: Sequence[Any] | None = None,
    blocking_rules: Sequence[Any] | None = None,
) -> MatchRun:
    """:func:`find_matches` plus the model, candidate-pair counts and timings (for reports)."""
    where = "find_matches"
    settings = settings or MatchSettings()
    columns = settings.columns
    enforce_provided_labels = settings.enforce_provided_labels
    compute_match_confidence_scores = settings.compute_match_confidence_scores
    timings: dict[str, float] = {}
    start = time.perf_counter()
    threshold = settings.threshold
    if model is None:  # an argument check: before any Spark work
        check_comparisons_have_blocking_rules(comparisons, blocking_rules, where)
    check_output_columns_free(df, where)
    check_primary_key(df, primary_key, where)
    if model is not None and (comparisons is not None or columns is not None):
        raise DedupInputError(f"{where}: pass either model= or columns/comparisons, not both")
    resolved = resolve_model(model) if model is not None else None
    if resolved is not None:
        check_model_columns(df, resolved, where)
    elif columns is not None:
        candidate_columns(df, primary_key, columns, where)
    rows = df.count()
    if rows == 0:
        empty_model = resolved or MatchModel({}, (), ())
        return MatchRun(empty_result(df, primary_key, compute_match_confidence_scores),
                        empty_model, 0, 0, {}, 0, 0, threshold, {"total": 0.0})
    if labels is not None:
        # keys cast to the input key's type: pairs order (and match edges) as the input's do
        labels = check_label_keys(labels, df, primary_key)
    rule_pairs: dict[str, int] = {}
    if resolved is None:
        if rows == 1:
            resolved = MatchModel({}, (), ())
        else:
            resolved, rule_pairs, _ = fit_model(df, primary_key, settings, comparisons,
                                           blocking_rules, labels, where, rows)
        timings["training"] = time.perf_counter() - start
    spark = df.sparkSession
    if rows == 1:
        mapping = df.select(
            F.col(f"`{primary_key}`").alias(UID), F.col(f"`{primary_key}`").alias(MATCH_ID),
            F.lit(1.0).alias(MATCH_CONFIDENCE_SCORE),
        )
        return MatchRun(attach_matches(df, primary_key, mapping, compute_match_confidence_scores),
                        resolved, 1, 0, {}, 0, 1, threshold, {"total": 0.0})
    ensure_similarity_functions(spark)
    splink_settings = dict(resolved.splink_settings)
    if blocking_rules is not None and model is not None:
        splink_settings["blocking_rules_to_generate_predictions"] = [
            rule_sql(r) for r in blocking_rules]
    frame = prepared_frame(df, primary_key, resolved.columns).persist()
    db_api = spark_api(spark)
    linker = make_linker(db_api, frame, splink_settings)
    try:
        t0 = time.perf_counter()
        blocked = linker.inference.compute_blocked_pairs_for_predict()
        candidate_pairs = blocked.as_spark_dataframe().count()
        if not rule_pairs:
            rule_pairs = {r: -1 for r in resolved.blocking_rules}
        log.info("%s: %d rows, %d candidate pairs (n(n-1)/2 = %d)", where, rows,
                 candidate_pairs, rows * (rows - 1) // 2)
        predictions = linker.inference.predict(
            threshold_match_probability=min(EDGE_FLOOR, threshold), warning_mode="never"
        )
        edges = normalised_edges(predictions.as_spark_dataframe())
        if labels is not None and enforce_provided_labels:
            edges = enforce_labels(edges, labels_to_pairs(labels, primary_key))
        edges = edges.persist()
        timings["scoring"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        clusters = connected_components(db_api, frame, edges, threshold)
        assigned = clusters.withColumn(
            MATCH_ID, F.min(UID).over(Window.partitionBy("cluster_id"))
        ).select(UID, MATCH_ID)
        if compute_match_confidence_scores:
            mapping = confidence_scores(assigned, edges)
        else:
            mapping = assigned
        mapping = mapping.localCheckpoint(eager=True)
        edges_above = edges.filter(F.col("match_probability") >= threshold).count()
        n_clusters = mapping.select(MATCH_ID).distinct().count()
        timings["clustering"] = time.perf_counter() - t0
        edges.unpersist()
    finally:
        linker.table_management.delete_tables_created_by_splink_from_db()
        frame.unpersist()
    timings["total"] = time.perf_counter() - start
    if labels is not None and enforce_provided_labels:
        _warn_broken_non_match_labels(mapping, labels_to_pairs(labels, primary_key))
    result = attach_matches(df, primary_key, mapping, compute_match_confidence_scores)
    return MatchRun(result, resolved, rows, candidate_pairs, rule_pairs, edges_above,
                    n_clusters, threshold, timings)


def _warn_broken_non_match_labels(mapping: DataFrame, label_pairs: DataFrame) -> None:
    ids = mapping.select(UID, MATCH_ID)
    broken = (
        label_pairs.filter(~F.col("is_match"))
        .join(ids.withColumnRenamed(UID, f"{UID}_l").withColumnRenamed(MATCH_ID, "ml"),
              f"{UID}_l")
        .join(ids.withColumnRenamed(UID, f"{UID}_r").withColumnRenamed(MATCH_ID, "mr"),
              f"{UID}_r")
        .filter(F.col("ml") == F.col("mr")).count()
    )
    if broken:
        log.warning(
            "%d pair(s) labeled as different entities still share a match_id through other "
            "records (their direct link was removed)", broken,
        )


def find_matches(
    df: DataFrame,
    *,
    primary_key: str,
    settings: MatchSettings | None = None,
    labels: DataFrame | None = None,
    model: MatchModel | Mapping[str, Any] | None = None,
    comparisons: Sequence[Any] | None = None,
    blocking_rules: Sequence[Any] | None = None,
) -> DataFrame:
    """Every row of ``df`` plus ``match_id`` and ``match_confidence_score``.

    ``match_id`` is the smallest primary key among the records of one entity (so it has the
    key's type). ``match_confidence_score`` is, for a record grouped with others, the highest
    match probability linking it to its group, and for a record alone, one minus the highest
    match probability to any candidate. Without ``model`` a model is trained on ``df`` first
    (use :func:`train_match_model` to keep and save it). ``labels`` is a DataFrame in
    FindMatches' labeling format (``labeling_set_id``, ``label`` and the primary key).

    Example::

        matched = find_matches(people, primary_key="id",
                               settings=MatchSettings(precision_recall_tradeoff=0.7))
    """
    return find_matches_detailed(df, primary_key=primary_key, settings=settings, labels=labels,
                                 model=model, comparisons=comparisons,
                                 blocking_rules=blocking_rules).result
