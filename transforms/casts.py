"""A cast that gives the same answer on Spark 3.5 and Spark 4, with ANSI mode on or off.

Spark 4 turns ``spark.sql.ansi.enabled`` on by default: ``Column.cast`` then raises on a value
that does not convert (``'forty'`` to int), where Spark 3.5's default returns null, and on
3.5 an integral overflow wraps around (``3000000000`` to int is ``-1294967296``). Glue's
ApplyMapping and ResolveChoice turn a value that does not convert into null, so the transforms
cast with :func:`cast_or_null`: Spark's ``try_cast`` (the ANSI conversion rules, null instead of
an error), whatever the session's ANSI setting and on both lines:

* ``'1.5'`` to int, an out-of-range number, NaN or infinity to an integral type: null
  (3.5's legacy cast gave 1, a wrapped value, 0 or the type's limit);
* a string that parses: the same value as a plain cast (``' 12 '`` to int is 12);
* ``char(n)`` / ``varchar(n)`` (Hive and JDBC catalog types) are strings, their value kept
  whole, as Spark 4's cast makes them (3.5's DataFrame cast refuses them) and as Glue, whose
  types have no length, reads them.

pyspark 4 (classic and Spark Connect) has ``Column.try_cast``; on pyspark 3.5 the same
expression (Spark's ``Cast`` in ``TRY`` mode, which SQL's ``try_cast`` builds) is made
through the JVM.
"""

from __future__ import annotations

from typing import Any, cast

from pyspark.sql import Column
from pyspark.sql.types import (
    ArrayType,
    CharType,
    DataType,
    MapType,
    StringType,
    StructField,
    StructType,
    VarcharType,
)


def cast_or_null(col: Column, data_type: DataType) -> Column:
    """``col`` converted to ``data_type``; null where the value does not convert.

    >>> df.select(cast_or_null(F.col("age"), IntegerType()))   # 'forty' -> null, '40' -> 40
    """
    data_type = _strings_for_char_varchar(data_type)
    if hasattr(Column, "try_cast"):  # pyspark >= 4.0
        # mypy checks against pyspark 3.5, whose Column has no try_cast (attribute access on a
        # Column there is a struct field), so the call is untyped on this branch.
        return cast(Any, col).try_cast(data_type)
    return _try_cast_35(col, data_type)


def _strings_for_char_varchar(data_type: DataType) -> DataType:
    """``data_type`` with every ``char(n)`` / ``varchar(n)`` in it (nested too) a string."""
    if isinstance(data_type, (CharType, VarcharType)):
        return StringType()
    if isinstance(data_type, ArrayType):
        return ArrayType(_strings_for_char_varchar(data_type.elementType),
                         data_type.containsNull)
    if isinstance(data_type, MapType):
        return MapType(_strings_for_char_varchar(data_type.keyType),
                       _strings_for_char_varchar(data_type.valueType),
                       data_type.valueContainsNull)
    if isinstance(data_type, StructType):
        return StructType([StructField(f.name, _strings_for_char_varchar(f.dataType),
                                       f.nullable, f.metadata) for f in data_type.fields])
    return data_type


def _try_cast_35(col: Column, data_type: DataType) -> Column:
    from pyspark import SparkContext

    sc = SparkContext._active_spark_context
    if sc is None or sc._jvm is None:
        raise RuntimeError("cast_or_null needs an active SparkContext on pyspark 3.5")
    jvm = sc._jvm
    expressions = jvm.org.apache.spark.sql.catalyst.expressions
    try_mode = getattr(getattr(expressions, "EvalMode$"), "MODULE$").TRY()
    jtype = jvm.org.apache.spark.sql.types.DataType.fromJson(data_type.json())
    cast = expressions.Cast(col._jc.expr(), jtype, jvm.scala.Option.empty(), try_mode)
    return Column(jvm.org.apache.spark.sql.Column(cast))
