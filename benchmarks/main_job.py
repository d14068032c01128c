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

Driver JVM flags (SPARK_SUBMIT_OPTS), two children at once as under `make test`'s two
workers; each run also reports its JVM's CPU seconds per thread class (docs/benchmarks.md,
"The JVM's compiler threads")::

    .venv/bin/python benchmarks/main_job.py --trees . --customers 120 --parallel 2 \
        --jvm-opts default "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"

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
from typing import Any

REPO = Path(__file__).resolve().parent.parent

# Runs inside the tree under test (its lakeforge, jobs and conf on PYTHONPATH).
CHILD = r"""
import hashlib, json, os, sys, time
from pathlib import Path
from typing import Any

root = Path(os.environ["LAKEFORGE_LAKE_ROOT"])

def hashes():
    out = {}
    for zone in ("curated", "features", "quarantine"):
        for p in sorted((root / zone).rglob("*")):
            if p.is_file():
                out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out

def jvm_cpu():
    # CPU seconds of this process's JVM child (the driver), per thread class (Linux /proc;
    # digits in thread names folded: "C2 CompilerThread0" -> "C# CompilerThread#").
    import re
    out = {}
    tick = os.sysconf("SC_CLK_TCK")
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            stat = open(f"/proc/{pid}/stat").read()
            if int(stat.rsplit(")", 1)[1].split()[1]) != os.getpid():
                continue
            tasks = os.listdir(f"/proc/{pid}/task")
        except (OSError, ValueError):
            continue
        for tid in tasks:
            try:
                t = open(f"/proc/{pid}/task/{tid}/stat").read()
            except OSError:
                continue
            name = re.sub(r"\d+", "#", t[t.index("(") + 1:t.rindex(")")])
            fields = t.rsplit(")", 1)[1].split()
            out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
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
    cpu0 = jvm_cpu()
    t = time.monotonic()
    code = customer_propensity.main(["--env", "local", "--log-level", "ERROR"])
    seconds = time.monotonic() - t
    sc._jsc.sc().listenerBus().waitUntilEmpty(30000)
    jobs = len(sc.statusTracker().getJobIdsForGroup(group))
    cpu = {k: round(v - cpu0.get(k, 0.0), 1) for k, v in jvm_cpu().items()}
    top = dict(sorted(((k, v) for k, v in cpu.items() if v >= 1.0), key=lambda kv: -kv[1]))
    out["runs"].append({"run": label, "code": code, "seconds": round(seconds, 1),
                        "spark_jobs": jobs, "files": hashes(),
                        "jvm_cpu_seconds": round(sum(cpu.values()), 1), "jvm_cpu_threads": top})
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


def start_tree(tree: Path, customers: int, python: str, conf: dict[str, str] | None = None,
               jvm_opts: str = "") -> tuple[subprocess.Popen[str], float]:
    """One child process running the job twice on a fresh lake; ``jvm_opts`` is its
    SPARK_SUBMIT_OPTS (the driver JVM's flags), empty for the JVM's defaults."""
    sys.path.insert(0, str(REPO))
    from lakeforge.sample_data import write_bank_marketing

    lake = Path(tempfile.mkdtemp(prefix="lakeforge-bench-main-"))
    write_bank_marketing(lake, customers=customers)
    env = dict(os.environ, PYTHONPATH=str(tree), LAKEFORGE_LAKE_ROOT=str(lake),
               LAKEFORGE_CONF_DIR=str(tree / "conf"), PYSPARK_PYTHON=python,
               PYSPARK_DRIVER_PYTHON=python, BENCH_SPARK_CONF=json.dumps(conf or {}),
               SPARK_SUBMIT_OPTS=jvm_opts)
    env.pop("LAKEFORGE_FAULT_POINT", None)
    proc = subprocess.Popen([python, "-c", CHILD], cwd=tree, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    return proc, time.monotonic()


def finish_tree(tree: Path, proc: subprocess.Popen[str], started: float) -> dict[str, Any]:
    stdout, stderr = proc.communicate()
    line = next((ln for ln in stdout.splitlines() if ln.startswith("BENCH ")), None)
    if line is None:
        raise SystemExit(f"{tree}: no result (exit {proc.returncode}):\n{stderr[-3000:]}")
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
    parser.add_argument("--jvm-opts", nargs="+", default=["default"],
                        help="driver JVM flag variants (SPARK_SUBMIT_OPTS), alternating within "
                             "a round: default (the JVM's own) or a quoted flag list, e.g. "
                             "'-XX:TieredStopAtLevel=1 -XX:+UseSerialGC'")
    parser.add_argument("--parallel", type=int, default=1,
                        help="start this many identical children at once per variant (the "
                             "two pytest workers of `make test` run two JVMs side by side)")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args(argv)
    confs = {variant: parse_conf(variant) for variant in args.confs}  # refused before any run
    results = []
    for r in range(args.rounds):
        for tree, python, variant, opts in [(t, p, c, o) for t in args.trees
                                            for p in (args.pythons or [args.python])
                                            for c in args.confs for o in args.jvm_opts]:
            jvm_opts = "" if opts == "default" else opts
            started = [start_tree(Path(tree).resolve(), args.customers, python,
                                  confs[variant], jvm_opts) for _ in range(args.parallel)]
            for i, (proc, t0) in enumerate(started):
                res = finish_tree(Path(tree).resolve(), proc, t0)
                res.update(round=r + 1, python=python, conf=variant, jvm_opts=opts,
                           parallel=args.parallel, child=i + 1)
                results.append(res)
                first, rerun = res["runs"]
                print(f"round {r + 1} {tree} ({python}, {variant}, jvm {opts}, child {i + 1}/"
                      f"{args.parallel}): first run {first['seconds']} s, "
                      f"JVM CPU {first['jvm_cpu_seconds']} s (C1/C2 compilers "
                      f"{first['jvm_cpu_threads'].get('C# CompilerThre', 0.0)} s), "
                      f"{first['spark_jobs']} Spark jobs (exit {first['code']}); rerun "
                      f"{rerun['seconds']} s, {rerun['spark_jobs']} jobs; session "
                      f"{res['session_seconds']} s; rerun byte-identical: "
                      f"{res['rerun_byte_identical']}; load {res['load_avg'][0]:.1f}",
                      flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
