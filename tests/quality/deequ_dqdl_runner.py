"""Run DQDL rulesets through Deequ's own DQDL module in a JVM of its own (the differential).

    python tests/quality/deequ_dqdl_runner.py JOB.json OUT.json

``JOB.json``: ``{"jars": [...], "cases": [{"id": ..., "data": parquet path, "ruleset": text,
"refs": {alias: parquet path} (optional: the additional data sources of ReferentialIntegrity,
DatasetMatch, ...)}]}``.
Each case runs ``com.amazon.deequ.dqdl.EvaluateDataQuality.process``; when the whole ruleset
raises, its rules run one by one so one unsupported rule does not hide the others. ``OUT.json``:
``{case id: [{"Rule", "Outcome", "FailureReason", "EvaluatedMetrics"} | {"Rule", "Exception"}]}``.
The Deequ jar here (2.1.0) is not the test session's (2.0.7), hence the separate process.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any


def _rules_of(ruleset: str) -> list[str]:
    """Top-level rules of a generated ruleset (one per line between the brackets)."""
    body = ruleset[ruleset.index("[") + 1:ruleset.rindex("]")]
    return [line.strip().rstrip(",") for line in body.splitlines() if line.strip()]


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    message = next((t for t in text if "Exception" in t or "Error" in t), text[0] if text else "")
    return re.sub(r"\s+", " ", message)[:300]


def main(job_path: str, out_path: str) -> int:
    from pyspark.sql import DataFrame, SparkSession

    with open(job_path, encoding="utf-8") as handle:
        job = json.load(handle)
    spark = (SparkSession.builder.master("local[2]").appName("deequ-dqdl-differential")
             .config("spark.jars", ",".join(job["jars"]))
             .config("spark.ui.enabled", "false")
             .config("spark.sql.shuffle.partitions", "2")
             .config("spark.sql.session.timeZone", "UTC")
             .getOrCreate())
    evaluate = spark._jvm.com.amazon.deequ.dqdl.EvaluateDataQuality  # type: ignore[union-attr]
    out: dict[str, list[dict[str, Any]]] = {}

    jvm = spark._jvm  # type: ignore[attr-defined]

    def sources(refs: dict[str, str]) -> Any:
        """The reference datasets as the Scala immutable Map ``process`` takes."""
        frames = jvm.java.util.HashMap()
        for alias, path in refs.items():
            frames.put(alias, spark.read.parquet(path)._jdf)
        return jvm.scala.collection.JavaConverters.mapAsScalaMapConverter(frames).asScala() \
            .toMap(jvm.scala.Predef.conforms())

    def run(df: DataFrame, text: str, refs: dict[str, str]) -> list[dict[str, Any]]:
        rows = DataFrame(evaluate.process(df._jdf, text, sources(refs)), spark).collect()
        return [{"Rule": r.Rule, "Outcome": r.Outcome, "FailureReason": r.FailureReason,
                 "EvaluatedMetrics": dict(r.EvaluatedMetrics or {})} for r in rows]

    for case in job["cases"]:
        df = spark.read.parquet(case["data"])
        df.createOrReplaceTempView("primary")  # CustomSql reads "primary", as in Glue
        try:
            out[case["id"]] = run(df, case["ruleset"], case.get("refs", {}))
        except Exception:  # noqa: BLE001 - isolate the rule that fails below
            results: list[dict[str, Any]] = []
            for rule in _rules_of(case["ruleset"]):
                try:
                    results.extend(run(df, f"Rules = [ {rule} ]", case.get("refs", {})))
                except Exception as exc:  # noqa: BLE001 - recorded as the rule's outcome
                    results.append({"Rule": rule, "Exception": _first_line(exc)})
            out[case["id"]] = results
    with open(out_path, "w", encoding="utf-8") as handle:
        json.dump(out, handle)
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
