"""Benchmark: the main job (customer_propensity) on the demo data, two code trees side by side.

For each tree (default: the baseline worktree at /work/baseline and this checkout) and each
round, a fresh lake gets the demo's raw zone (``write_bank_marketing``, 1,500 customers, 12
days, seed 42) and one process runs the job twice: the first run (everything new) and the
rerun (nothing new). The process builds the tree's own session first (so the JVM start is
timed apart), puts every Spark job the job starts in one job group and counts them with the
SparkContext status tracker; it also hashes the curated, features and quarantine zones after
each run (the rerun must leave them byte-identical). Trees alternate round by round, so that
both see the same machine load. Run by hand::

    .venv/bin/python benchmarks/main_job.py [--trees /work/baseline .] [--rounds 1]
        [--customers 1500] [--json out.json]

Spark settings variants on one tree, alternating within each round (docs/benchmarks.md,
"Where make test's time goes")::

    .venv/bin/python benchmarks/main_job.py --trees . --rounds 2 --customers 100 \
        --confs default spark.sql.codegen.wholeStage=false spark.sql.adaptive.enabled=false

Spark 3.5 vs 4.1 on one tree (issue 17)::

    .venv/bin/python benchmarks/main_job.py --trees . --rounds 2 \
        --pythons .venv/bin/python .venv-spark4/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# Runs inside the tree under test (its lakeforge, jobs and conf on PYTHONPATH).
CHILD = r"""
import hashlib, json, os, sys, time
from pathlib import Path

root = Path(os.environ["LAKEFORGE_LAKE_ROOT"])

def hashes():
    out = {}
    for zone in ("curated", "features", "quarantine"):
        for p in sorted((root / zone).rglob("*")):
            if p.is_file():
                out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out

t0 = time.monotonic()
from lakeforge.config import load_env
from lakeforge.paths import Lake
from lakeforge.session import build_session
env = load_env("local")
lake = Lake.from_env(env)
spark = build_session(env, "bench-main-job", lake=lake,
                      extra_conf={"spark.ui.retainedJobs": "100000",
                                  **json.loads(os.environ.get("BENCH_SPARK_CONF", "{}"))})
sc = spark.sparkContext
session_s = time.monotonic() - t0
from jobs import customer_propensity
out = {"session_seconds": round(session_s, 1), "runs": []}
for label in ("first", "rerun"):
    group = f"bench-{label}"
    sc.setJobGroup(group, "main job benchmark")
    t = time.monotonic()
    code = customer_propensity.main(["--env", "local", "--log-level", "ERROR"])
    seconds = time.monotonic() - t
    sc._jsc.sc().listenerBus().waitUntilEmpty(30000)
    jobs = len(sc.statusTracker().getJobIdsForGroup(group))
    out["runs"].append({"run": label, "code": code, "seconds": round(seconds, 1),
                        "spark_jobs": jobs, "files": hashes()})
sys.stderr.flush()
print("BENCH " + json.dumps(out))
spark.stop()
"""


def parse_conf(variant: str) -> dict[str, str]:
    """``default`` (nothing added) or ``key=value[,key=value]`` Spark settings."""
    if variant == "default":
        return {}
    pairs = [item.split("=", 1) for item in variant.split(",")]
    if any(len(p) != 2 for p in pairs):
        raise SystemExit(f"--confs {variant!r}: use default or key=value[,key=value]")
    return dict((k, v) for k, v in pairs)


def run_tree(tree: Path, customers: int, python: str,
             conf: dict[str, str] | None = None) -> dict[str, object]:
    sys.path.insert(0, str(REPO))
    from lakeforge.sample_data import write_bank_marketing

    lake = Path(tempfile.mkdtemp(prefix="lakeforge-bench-main-"))
    write_bank_marketing(lake, customers=customers)
    env = dict(os.environ, PYTHONPATH=str(tree), LAKEFORGE_LAKE_ROOT=str(lake),
               LAKEFORGE_CONF_DIR=str(tree / "conf"), PYSPARK_PYTHON=python,
               PYSPARK_DRIVER_PYTHON=python, BENCH_SPARK_CONF=json.dumps(conf or {}))
    env.pop("LAKEFORGE_FAULT_POINT", None)
    started = time.monotonic()
    proc = subprocess.run([python, "-c", CHILD], cwd=tree, env=env, capture_output=True,
                          text=True, check=False)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH ")), None)
    if line is None:
        raise SystemExit(f"{tree}: no result (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    result = json.loads(line[len("BENCH "):])
    first, rerun = result["runs"]
    result["rerun_byte_identical"] = first["files"] == rerun["files"] and bool(first["files"])
    for r in result["runs"]:
        r["files"] = len(r["files"])
    result["process_seconds"] = round(time.monotonic() - started, 1)
    result["tree"] = str(tree)
    result["load_avg"] = os.getloadavg()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trees", nargs="+", default=["/work/baseline", str(REPO)])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--customers", type=int, default=1500)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--pythons", nargs="+", default=None,
                        help="run every tree under each of these interpreters (e.g. the 3.5 and "
                             "4.1 venvs), alternating round by round; overrides --python")
    parser.add_argument("--confs", nargs="+", default=["default"],
                        help="Spark settings variants, alternating within a round: default "
                             "or key=value[,key=value] (e.g. spark.sql.shuffle.partitions=2)")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args(argv)
    confs = {variant: parse_conf(variant) for variant in args.confs}  # refused before any run
    results = []
    for r in range(args.rounds):
        for tree, python, variant in [(t, p, c) for t in args.trees
                                      for p in (args.pythons or [args.python])
                                      for c in args.confs]:
            res = run_tree(Path(tree).resolve(), args.customers, python, confs[variant])
            res["round"] = r + 1
            res["python"] = python
            res["conf"] = variant
            results.append(res)
            first, rerun = res["runs"]
            print(f"round {r + 1} {tree} ({python}, {variant}): first run {first['seconds']} s, "
                  f"{first['spark_jobs']} Spark jobs (exit {first['code']}); rerun "
                  f"{rerun['seconds']} s, {rerun['spark_jobs']} jobs; session "
                  f"{res['session_seconds']} s; rerun byte-identical: "
                  f"{res['rerun_byte_identical']}; load {res['load_avg'][0]:.1f}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
