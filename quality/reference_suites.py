"""Built-in check suites shared by the job-count test, the benchmark and the docs.

``orders_suite`` is the reference suite of the acceptance criteria: 25 constraints over the 12
columns of :func:`orders_frame`, covering scan metrics (size, completeness, patterns, statistics,
quantiles, correlation, HyperLogLog, lengths, comparisons) and grouping metrics (uniqueness,
distinctness, unique value ratio, entropy, number of distinct values).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from quality.checks import Check, CheckLevel, ConstrainableDataTypes

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

ORDER_STATUSES = ["new", "paid", "shipped", "delivered", "returned"]
ORDER_COUNTRIES = ["DE", "FR", "GB", "IT", "ES", "NL", "PL", "SE"]


def orders_frame(spark: SparkSession, rows: int, seed: int = 7) -> DataFrame:
    """Synthetic orders with 12 columns and a few NULLs (deterministic for a seed)."""
    base = spark.range(rows).withColumnRenamed("id", "order_id")
    r = F.rand(seed)
    statuses = F.array(*[F.lit(s) for s in ORDER_STATUSES])
    countries = F.array(*[F.lit(c) for c in ORDER_COUNTRIES])
    price = F.round(F.rand(seed + 1) * 200 + 1, 2)
    return base.select(
        "order_id",
        (F.col("order_id") % F.lit(max(rows // 4, 1))).cast("int").alias("customer_id"),
        F.when(r < 0.02, F.lit(None)).otherwise(
            F.concat(F.lit("user"), (F.col("order_id") % 100000).cast("string"),
                     F.lit("@example.com"))).alias("email"),
        F.element_at(statuses, (F.col("order_id") % 5 + 1).cast("int")).alias("status"),
        F.when(r > 0.99, F.lit(None)).otherwise(F.round(F.rand(seed + 2) * 500, 2)).alias(
            "amount"),
        (F.col("order_id") % 10).cast("int").alias("quantity"),
        F.when(F.rand(seed + 3) < 0.3, F.lit(None)).otherwise(F.round(F.rand(seed + 4) * 0.3, 2)
                                                             ).alias("discount"),
        price.alias("price"),
        F.round(price * 0.6, 2).alias("cost"),
        F.element_at(countries, (F.col("order_id") % 8 + 1).cast("int")).alias("country"),
        F.date_format(F.date_add(F.lit("2024-01-01").cast("date"),
                                 (F.col("order_id") % 365).cast("int")),
                      "yyyy-MM-dd").alias("created"),
        F.when(r < 0.5, F.lit(None)).otherwise(F.concat(F.lit("note "), F.col("order_id").cast(
            "string"))).alias("note"),
    )


def orders_suite(spark: SparkSession | None = None) -> Check:
    """The 25-constraint suite over the 12 columns of :func:`orders_frame`."""
    check = Check(CheckLevel.Error, "orders") if spark is None else Check(
        spark, CheckLevel.Error, "orders")
    return (check
            .hasSize(lambda n: n > 0)
            .isComplete("order_id")
            .isUnique("order_id")
            .hasCompleteness("email", lambda x: x >= 0.95)
            .containsEmail("email", lambda x: x >= 0.95)
            .isContainedIn("status", ORDER_STATUSES)
            .hasNumberOfDistinctValues("status", lambda n: n <= 10)
            .isNonNegative("amount")
            .hasMean("amount", lambda x: 200 <= x <= 300)
            .hasStandardDeviation("amount", lambda x: x > 0)
            .hasMax("amount", lambda x: x <= 500)
            .hasMin("quantity", lambda x: x >= 0)
            .isContainedIn("quantity", lowerBound=0, upperBound=9)
            .hasApproxQuantile("price", 0.5, lambda x: 50 <= x <= 150)
            .isLessThanOrEqualTo("cost", "price")
            .hasCorrelation("price", "cost", lambda x: x > 0.9)
            .hasDistinctness(["customer_id"], lambda x: x > 0.1)
            .hasUniqueValueRatio(["customer_id"], lambda x: x >= 0.0)
            .hasEntropy("country", lambda x: x > 1.0)
            .hasApproxCountDistinct("customer_id", lambda x: x > 0)
            .hasMaxLength("note", lambda x: x <= 200)
            .hasPattern("created", r"^\d{4}-\d{2}-\d{2}$")
            .hasCompleteness("discount", lambda x: x >= 0.5)
            .hasDataType("quantity", ConstrainableDataTypes.Integral)
            .isPositive("price"))
