"""Benchmark: the main job on an S3 lake served by moto over HTTPS with SSE-KMS, as
tests/jobs/test_reliability_s3.py runs it, with and without HTTP keep-alive on the local S3
server and with S3A's directory markers kept or deleted.

Each round runs every variant once, in turn (so that all see the same machine load). A variant
gets its own :class:`lakeforge.dev_s3.LocalS3Server` (HTTPS, a fresh KMS key and bucket), a raw
zone written by ``scripts/generate_sample_data.py --env <the S3 env>`` and one cold run of
``lakeforge run customer_propensity`` in a subprocess (the suite's JVM flags, local[2], 2 shuffle
partitions, 2 EM iterations). It reports the run's wall time, its summary's phase seconds and
the S3 requests the server answered, by kind. Run by hand::

    .venv/bin/python benchmarks/s3_main_job.py [--rounds 2] [--customers 60] [--days 2]
        [--variants keep-alive close markers-delete] [--json out.json]

Variants: ``keep-alive`` (the server's default), ``close`` (every response says
``Connection: close``, as werkzeug's development server, the one moto's ThreadedMotoServer
uses, does: each request is a new TLS handshake), ``markers-delete`` (keep-alive, and S3A set
back to Hadoop 3.3's ``fs.s3a.directory.marker.retention=delete``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from lakeforge import aws  # noqa: E402
from lakeforge.dev_s3 import (  # noqa: E402
    LocalS3Server,
    jvm_trust_options,
    local_s3_env_file,
)

VARIANTS = ("keep-alive", "close", "markers-delete")
JVM_OPTS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"  # the suite's (tests/jobsupport.py)


def one_run(variant: str, args: argparse.Namespace, python: str) -> dict[str, Any]:
    server = LocalS3Server(https=True, keep_alive=variant != "close").start()
    try:
        with tempfile.TemporaryDirectory(prefix="s3-main-job-") as tmp:
            env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                       AWS_SESSION_TOKEN="testing", AWS_DEFAULT_REGION="us-east-1",
                       AWS_CA_BUNDLE=str(server.ca_bundle),
                       LAKEFORGE_AWS_ENDPOINT_URL=server.endpoint,
                       PYSPARK_PYTHON=python, PYSPARK_DRIVER_PYTHON=python,
                       SPARK_SUBMIT_OPTS=JVM_OPTS,
                       JDK_JAVA_OPTIONS=jvm_trust_options(str(server.truststore)))
            env.pop("LAKEFORGE_LAKE_ROOT", None)
            os.environ.update({k: env[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                                    "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION",
                                                    "AWS_CA_BUNDLE")})
            aws.configure(None)
            key_id = aws.client("kms", endpoint_url=server.endpoint).create_key()[
                "KeyMetadata"]["KeyId"]
            bucket = f"bench-{uuid.uuid4().hex[:10]}"
            path = local_s3_env_file(
                Path(tmp) / "s3_bench.yaml", bucket=bucket, endpoint=server.endpoint,
                metastore_dir=Path(tmp) / "metastore", kms_key_id=key_id,
                spark={"master": "local[2]", "driver_memory": "2g",
                       "conf": {"spark.sql.shuffle.partitions": "2",
                                "spark.default.parallelism": "2"}})
            gen = subprocess.run(
                [python, str(REPO / "scripts" / "generate_sample_data.py"), "--env", str(path),
                 "--rows", str(args.customers), "--days", str(args.days), "--seed", "23"],
                env=env, cwd=tmp, capture_output=True, text=True, check=False)
            if gen.returncode != 0:
                raise SystemExit(f"generate_sample_data.py failed: {gen.stderr[-2000:]}")
            extra = (["--env.spark.conf.spark.hadoop.fs.s3a.directory.marker.retention",
                      "delete"] if variant == "markers-delete" else [])
            server.reset_counts()
            started = time.monotonic()
            proc = subprocess.run(
                [python, "-m", "lakeforge.cli", "run", "customer_propensity", "--env", str(path),
                 "--dedup.max_em_iterations", "2", *extra],
                env=env, cwd=REPO, capture_output=True, text=True, check=False)
            wall = time.monotonic() - started
            if proc.returncode != 0:
                raise SystemExit(f"{variant}: the run failed: {proc.stderr[-3000:]}")
            summary = json.loads([ln for ln in proc.stdout.splitlines()
                                  if ln.startswith("{")][-1])
            return {"variant": variant, "wall_s": round(wall, 1),
                    "job_s": summary["seconds"], "phase_s": summary["phase_seconds"],
                    "requests": server.total_requests(),
                    "by_kind": dict(server.requests.most_common())}
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--customers", type=int, default=60)
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    results = []
    for rnd in range(args.rounds):
        for variant in args.variants:
            result = {"round": rnd + 1, **one_run(variant, args, args.python)}
            results.append(result)
            print(json.dumps(result), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
