"""Execution plan: the 25-constraint suite over 12 columns runs in at most 3 Spark jobs.

Jobs are counted with the status tracker (setJobGroup + getJobIdsForGroup). The session runs
with AQE on, which materialises each shuffle stage as its own job; the count is measured, not
assumed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from quality import CheckStatus, VerificationSuite
from quality.analyzers import (
    AnalysisRunner,
    ApproxQuantile,
    Completeness,
    CountDistinct,
    Entropy,
    Histogram,
    Mean,
    Size,
    Uniqueness,
)
from quality.suites import orders_frame, orders_suite


def count_jobs(spark: Any, action: Callable[[], Any]) -> tuple[int, Any]:
    sc = spark.sparkContext
    group = f"quality-test-{uuid.uuid4().hex}"
    sc.setJobGroup(group, "quality job count")
    try:
        value = action()
    finally:
        sc.setLocalProperty("spark.jobGroup.id", None)
    return len(sc.statusTracker().getJobIdsForGroup(group)), value


def test_25_constraint_suite_runs_in_at_most_3_jobs(spark: Any, tmp_path: Any) -> None:
    path = str(tmp_path / "orders")
    orders_frame(spark, 500).write.parquet(path)
    df = spark.read.parquet(path)
    check = orders_suite(spark)
    assert len(check.constraints) == 25
    columns = {c for a in check.requiredAnalyzers() for c in a.columns_referenced()}
    assert len(df.columns) == 12 and columns <= set(df.columns)

    jobs, result = count_jobs(spark, lambda: VerificationSuite(spark).onData(df)
                              .addCheck(check).run())

    assert jobs <= 3, f"{jobs} Spark jobs"
    failures = [(str(cr.constraint), cr.message) for r in result.checkResults.values()
                for cr in r.constraintResults if cr.message]
    assert failures == []
    assert result.status == CheckStatus.Success


def test_scan_only_run_is_one_job(spark: Any) -> None:
    df = orders_frame(spark, 200)
    analyzers = [Size(), Completeness("email"), Mean("amount"), ApproxQuantile("price", 0.5)]
    jobs, ctx = count_jobs(spark, lambda: AnalysisRunner(spark).onData(df)
                           .addAnalyzers(analyzers).run())
    assert jobs == 1
    assert ctx.metric(Size()).value == 200.0


def test_many_grouping_sets_share_one_shuffle(spark: Any) -> None:
    df = orders_frame(spark, 200)
    analyzers = [Uniqueness(["order_id"]), Uniqueness(["customer_id"]), Entropy("country"),
                 CountDistinct(["status", "country"]), Histogram("status"),
                 Uniqueness(["customer_id"], "quantity > 3"), Size()]
    jobs, ctx = count_jobs(spark, lambda: AnalysisRunner(spark).onData(df)
                           .addAnalyzers(analyzers).run())
    assert jobs <= 2
    assert ctx.metric(Uniqueness(["order_id"])).value == 1.0
    assert ctx.metric(CountDistinct(["status", "country"])).value == 40.0
    assert ctx.metric(Histogram("status")).value.numberOfBins == 5
    reference = df.where("quantity > 3").groupBy("customer_id").count()
    expected = reference.where("count = 1").count() / df.where("quantity > 3").count()
    assert ctx.metric(Uniqueness(["customer_id"], "quantity > 3")).value == expected
