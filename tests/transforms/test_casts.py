"""transforms.casts.cast_or_null: the same answers with ANSI mode on and off, on Spark 3.5 and 4
(the suite runs on both lines), and ApplyMapping built on it."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal

import pytest
from pyspark.sql import functions as F
from pyspark.sql.types import (
    CharType,
    DateType,
    DecimalType,
    DoubleType,
    IntegerType,
    LongType,
    ShortType,
    StringType,
    StructField,
    StructType,
    VarcharType,
)

from transforms.casts import cast_or_null
from transforms.glue import apply_mapping
from transforms.glue.error_ledger import ErrorLedger


@contextmanager
def ansi(spark, enabled: bool) -> Iterator[None]:
    """Run with spark.sql.ansi.enabled set, then put the session's value back."""
    before = spark.conf.get("spark.sql.ansi.enabled")
    spark.conf.set("spark.sql.ansi.enabled", str(enabled).lower())
    try:
        yield
    finally:
        spark.conf.set("spark.sql.ansi.enabled", before)


STRINGS = [" 12 ", "1.5", "3000000000", "abc", "", None, "-0", "2024-01-02", "2024-13-01"]


@pytest.mark.parametrize("ansi_on", [False, True])
def test_strings_cast_or_null_the_same_with_ansi_on_and_off(spark, ansi_on):
    df = spark.createDataFrame([(v,) for v in STRINGS],
                               StructType([StructField("v", StringType())]))
    with ansi(spark, ansi_on):
        rows = df.select(
            "v",
            cast_or_null(F.col("v"), IntegerType()).alias("i"),
            cast_or_null(F.col("v"), LongType()).alias("l"),
            cast_or_null(F.col("v"), DecimalType(5, 2)).alias("d"),
            cast_or_null(F.col("v"), DateType()).alias("dt"),
        ).collect()
    got = {r.v: (r.i, r.l, r.d, r.dt) for r in rows}
    assert got == {
        " 12 ": (12, 12, Decimal("12.00"), None),
        "1.5": (None, None, Decimal("1.50"), None),  # a fraction is not an integer
        "3000000000": (None, 3000000000, None, None),  # int overflow, decimal(5,2) overflow
        "abc": (None, None, None, None),
        "": (None, None, None, None),
        None: (None, None, None, None),
        "-0": (0, 0, Decimal("0.00"), None),
        "2024-01-02": (None, None, None, date(2024, 1, 2)),
        "2024-13-01": (None, None, None, None),
    }


@pytest.mark.parametrize("ansi_on", [False, True])
def test_numbers_out_of_range_become_null_instead_of_wrapping(spark, ansi_on):
    df = spark.createDataFrame(
        [(3000000000, 1.9), (70000, float("nan")), (5, 1e20), (None, None)],
        StructType([StructField("l", LongType()), StructField("d", DoubleType())]))
    with ansi(spark, ansi_on):
        rows = df.select(
            cast_or_null(F.col("l"), IntegerType()).alias("l_int"),
            cast_or_null(F.col("l"), ShortType()).alias("l_short"),
            cast_or_null(F.col("d"), IntegerType()).alias("d_int"),
            cast_or_null(F.col("d"), StringType()).alias("d_str"),
        ).collect()
    assert [(r.l_int, r.l_short, r.d_int) for r in rows] == [
        (None, None, 1), (70000, None, None), (5, 5, None), (None, None, None)]
    assert rows[0].d_str == "1.9" and rows[1].d_str == "NaN" and rows[3].d_str is None
    assert not any(isinstance(r.d_int, float) and math.isnan(r.d_int) for r in rows)


def test_empty_frame_casts_to_an_empty_typed_column(spark):
    df = spark.createDataFrame([], StructType([StructField("v", StringType())]))
    out = df.select(cast_or_null(F.col("v"), IntegerType()).alias("i"))
    assert out.schema["i"].dataType == IntegerType()
    assert out.collect() == []


@pytest.mark.parametrize("ansi_on", [False, True])
def test_apply_mapping_nulls_and_counts_overflow_and_bad_strings_under_either_ansi(spark,
                                                                                   ansi_on):
    schema = StructType([StructField("id", LongType()), StructField("age", StringType())])
    df = spark.createDataFrame([(1, "40"), (3000000000, "forty"), (None, None), (7, "1.5")],
                               schema)
    ledger = ErrorLedger()
    with ansi(spark, ansi_on):
        out = apply_mapping(df, mappings=[("id", "long", "id", "int"),
                                          ("age", "string", "age", "int")],
                            ledger=ledger, transformation_ctx="map")
        rows = [tuple(r) for r in out.collect()]
    assert rows == [(1, 40), (None, None), (None, None), (7, None)]
    assert out.schema["id"].dataType == IntegerType()
    [stage] = ledger.results()
    # rejected: the overflowing id and 'forty' (one row), '1.5'; a null input is no rejection
    assert (stage.records, stage.error_records, stage.error_values) == (4, 2, 3)


def test_char_and_varchar_targets_are_whole_strings_on_both_lines(spark):
    """varchar(n) / char(n) (Hive and JDBC catalog types) cast to a string with the value kept
    whole, as Spark 4 does; Spark 3.5's DataFrame cast refused them."""
    df = spark.createDataFrame([(12345, "abcdefgh")], "n int, s string")
    out = df.select(cast_or_null(F.col("n"), CharType(3)).alias("n"),
                    cast_or_null(F.col("s"), VarcharType(5)).alias("s"),
                    cast_or_null(F.struct("s"), StructType([StructField("s", VarcharType(2))]))
                    .alias("st"))
    assert out.schema.simpleString() == "struct<n:string,s:string,st:struct<s:string>>"
    assert [tuple(r) for r in out.collect()] == [("12345", "abcdefgh", ("abcdefgh",))]
    mapped = apply_mapping(df, [("s", "string", "s", "varchar(5)")])
    assert mapped.schema["s"].dataType == StringType()
    assert mapped.collect()[0].s == "abcdefgh"
