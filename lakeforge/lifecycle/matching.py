"""What a run keeps of its matching step, for the run summary and the lake site's match page.

:func:`match_facts` turns a ``transforms.dedup.MatchRun`` into plain data: the trained model
(Splink settings with m and u, from which Splink draws its match-weight chart), the counts,
the distribution of match confidence scores, the entity sizes and, when a ground-truth file
exists, pairwise and cluster precision / recall / F1 at the run's threshold
(``transforms.dedup.evaluate_matches``). A few small aggregations over the matched rows, which
the job caches anyway.
"""

from __future__ import annotations

import logging
from typing import Any

from lakeforge import io

log = logging.getLogger(__name__)

SCORE_BINS = 20


def match_facts(run: Any, *, source: str, table: str, key: str, cluster: str,
                truth_uri: str | None = None) -> dict[str, Any]:
    """The summary's ``matching`` entry for ``run`` (a ``MatchRun``).

    ``truth_uri`` is a CSV with a header ``<key>,entity_id`` (the sample data writes one);
    when it exists, ``evaluation`` holds precision and recall against it, else it is None.
    """
    return {
        **result_facts(run.result, source=source, table=table, key=key, cluster=cluster,
                       truth_uri=truth_uri),
        "rows": run.rows, "clusters": run.clusters, "candidate_pairs": run.candidate_pairs,
        "edges_above_threshold": run.edges_above_threshold,
        "threshold": run.threshold_match_probability,
        "blocking_rule_pairs": dict(run.blocking_rule_pairs),
        "seconds": {k: round(v, 2) for k, v in run.seconds.items()},
        "model": run.model.to_dict(),
    }


def result_facts(result: Any, *, source: str, table: str, key: str, cluster: str,
                 truth_uri: str | None = None) -> dict[str, Any]:
    """What any matched frame (``match_id``, ``match_confidence_score``) shows: the score
    histogram, the entity sizes and, with ``truth_uri``, the evaluation."""
    from pyspark.sql import functions as F

    from transforms.dedup import MATCH_CONFIDENCE_SCORE, MATCH_ID, evaluate_matches

    score = F.col(MATCH_CONFIDENCE_SCORE)
    hist = []
    if MATCH_CONFIDENCE_SCORE in result.columns:
        bucket = F.least(F.floor(score * SCORE_BINS), F.lit(SCORE_BINS - 1)).cast("int")
        hist = [{"bin_start": r["b"] / SCORE_BINS, "bin_end": (r["b"] + 1) / SCORE_BINS,
                 "records": r["n"]}
                for r in result.where(score.isNotNull()).groupBy(bucket.alias("b"))
                .agg(F.count(F.lit(1)).alias("n")).orderBy("b").collect()]
    sizes = [{"size": r["size"], "entities": r["n"]}
             for r in result.groupBy(MATCH_ID).agg(F.count(F.lit(1)).alias("size"))
             .groupBy("size").agg(F.count(F.lit(1)).alias("n")).orderBy("size").collect()]
    evaluation = None
    if truth_uri and io.uri_exists(truth_uri):
        spark = result.sparkSession
        truth = (spark.read.option("header", "true").csv(truth_uri)
                 .select(F.col(key).alias("_truth_key"), F.col("entity_id").alias("_truth")))
        joined = result.join(truth, result[key] == truth["_truth_key"], "left")
        evaluation = evaluate_matches(joined, "_truth").as_dict()
        log.info("matching of %s against %s: %s", source, truth_uri, evaluation)
    return {
        "source": source, "table": table, "key": key, "cluster": cluster,
        "score_histogram": hist, "cluster_sizes": sizes, "evaluation": evaluation,
        "truth": truth_uri if evaluation is not None else None,
    }
