"""Pairwise and cluster precision / recall / F1 of predicted match_ids against a truth column."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F  # noqa: N812

from lakeforge.errors import require_columns
from transforms.dedup.settings import MATCH_ID, DedupInputError

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class MatchEvaluation:
    """Pairwise and cluster precision / recall / F1 of predicted match_ids against truth."""

    pairwise_precision: float
    pairwise_recall: float
    pairwise_f1: float
    cluster_precision: float
    cluster_recall: float
    cluster_f1: float
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int
    true_clusters: int
    predicted_clusters: int
    correct_clusters: int

    def as_dict(self) -> dict[str, float | int]:
        return dict(self.__dict__)


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def evaluate_matches(
    predicted_df: DataFrame, truth_column: str, *, match_id_column: str = MATCH_ID
) -> MatchEvaluation:
    """Pairwise and cluster precision, recall and F1 of ``match_id`` against a truth column.

    A pair is predicted when both records share a match_id and true when both share a truth
    value; a null truth value is an entity of its own. A cluster counts as correct when a
    predicted group holds exactly the records of one true entity.
    """
    require_columns(predicted_df.columns, [truth_column, match_id_column], "evaluate_matches")
    df = predicted_df.select(
        F.col(f"`{match_id_column}`").cast("string").alias("m"),
        F.coalesce(
            F.col(f"`{truth_column}`").cast("string"),
            F.concat(F.lit("\u0000row"), F.monotonically_increasing_id().cast("string")),
        ).alias("t"),
    )

    def pairs(col: Column) -> Column:
        return F.coalesce(F.sum(col * (col - 1) / 2), F.lit(0))

    # One action: every figure is an aggregate over the (match id, truth) counts, cross-joined
    # into one row (five separate actions re-read the input five times).
    by_mt = df.groupBy("m", "t").agg(F.count(F.lit(1)).alias("k"))
    by_m = by_mt.groupBy("m").agg(F.sum("k").alias("n"), F.count(F.lit(1)).alias("nt"),
                                  F.first("t").alias("t"))
    by_t = by_mt.groupBy("t").agg(F.sum("k").alias("tn"))
    pred = by_m.agg(pairs(F.col("n")).alias("pred_p"), F.count(F.lit(1)).alias("pred_c"))
    true = by_t.agg(pairs(F.col("tn")).alias("true_p"), F.count(F.lit(1)).alias("true_c"))
    both = by_mt.agg(pairs(F.col("k")).alias("both_p"),
                     F.coalesce(F.sum(F.when(F.col("m").isNull(), F.col("k"))), F.lit(0))
                     .alias("nulls"))
    exact_df = (by_m.filter("nt = 1").join(by_t, "t").filter("n = tn")
                .agg(F.count(F.lit(1)).alias("exact")))
    row = pred.crossJoin(true).crossJoin(both).crossJoin(exact_df).first()
    assert row is not None
    if row["nulls"]:
        raise DedupInputError(
            f"evaluate_matches: {row['nulls']} row(s) have a null {match_id_column}")
    pp, tp, cp = int(row["pred_p"]), int(row["true_p"]), int(row["both_p"])
    pred_c, true_c, exact = int(row["pred_c"]), int(row["true_c"]), int(row["exact"])
    precision = cp / pp if pp else 1.0
    recall = cp / tp if tp else 1.0
    c_prec = exact / pred_c if pred_c else 1.0
    c_rec = exact / true_c if true_c else 1.0
    return MatchEvaluation(
        pairwise_precision=precision,
        pairwise_recall=recall,
        pairwise_f1=_f1(precision, recall),
        cluster_precision=c_prec,
        cluster_recall=c_rec,
        cluster_f1=_f1(c_prec, c_rec),
        true_pairs=tp,
        predicted_pairs=pp,
        correct_pairs=cp,
        true_clusters=true_c,
        predicted_clusters=pred_c,
        correct_clusters=exact,
    )
