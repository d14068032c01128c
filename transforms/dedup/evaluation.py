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
    nulls = df.filter(F.col("m").isNull()).count()
    if nulls:
        raise DedupInputError(f"evaluate_matches: {nulls} row(s) have a null {match_id_column}")

    def pairs(col: Column) -> Column:
        return F.coalesce(F.sum(col * (col - 1) / 2), F.lit(0))

    by_m = df.groupBy("m").agg(F.count(F.lit(1)).alias("n"), F.countDistinct("t").alias("nt"),
                               F.first("t").alias("t"))
    by_t = df.groupBy("t").agg(F.count(F.lit(1)).alias("tn"))
    by_mt = df.groupBy("m", "t").count()
    pred = by_m.agg(pairs(F.col("n")).alias("p"), F.count(F.lit(1)).alias("c")).first()
    true = by_t.agg(pairs(F.col("tn")).alias("p"), F.count(F.lit(1)).alias("c")).first()
    both = by_mt.agg(pairs(F.col("count")).alias("p")).first()
    exact = by_m.filter("nt = 1").join(by_t, "t").filter("n = tn").count()
    assert pred is not None and true is not None and both is not None
    pp, tp, cp = int(pred["p"]), int(true["p"]), int(both["p"])
    precision = cp / pp if pp else 1.0
    recall = cp / tp if tp else 1.0
    c_prec = exact / pred["c"] if pred["c"] else 1.0
    c_rec = exact / true["c"] if true["c"] else 1.0
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
        true_clusters=int(true["c"]),
        predicted_clusters=int(pred["c"]),
        correct_clusters=exact,
    )
