"""The reference DQDL ruleset: 25 rules over the 12 columns of ``orders_frame``.

Used by the job-count test (at most 3 Spark jobs), the differential and docs/dqdl.md. Every
rule here runs on the shared plan (no CustomSql, no reference datasets).
"""

from __future__ import annotations

ORDERS_DQDL = """Rules = [
    RowCount > 0,
    ColumnCount = 12,
    IsComplete "order_id",
    IsUnique "order_id",
    IsPrimaryKey "order_id",
    Completeness "email" >= 0.95,
    ColumnValues "email" matches "user[0-9]+@example\\\\.com" with threshold >= 0.95,
    ColumnValues "status" in ["new", "paid", "shipped", "delivered", "returned"],
    DistinctValuesCount "status" <= 10,
    ColumnValues "amount" >= 0 with threshold >= 0.95,
    Mean "amount" between 200 and 300,
    StandardDeviation "amount" > 0,
    ColumnValues "quantity" between -1 and 10,
    Sum "quantity" > 0,
    ColumnValues "price" > 0,
    ColumnCorrelation "price" "cost" > 0.9,
    Uniqueness "customer_id" < 0.5,
    UniqueValueRatio "customer_id" >= 0,
    Entropy "country" > 1.0,
    ColumnValues "country" in ["DE", "FR", "GB", "IT", "ES", "NL", "PL", "SE"],
    ColumnLength "note" <= 200,
    ColumnValues "created" matches "[0-9]{4}-[0-9]{2}-[0-9]{2}",
    ColumnDataType "created" = "DATE",
    Completeness "discount" >= 0.5,
    (ColumnValues "cost" > 0) and (Mean "cost" < 100 where "price > 0")
]
"""
