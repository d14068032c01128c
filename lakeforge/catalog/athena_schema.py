"""Athena-safe schemas: what Athena (Hive's type system over Parquet) can read.

:func:`to_athena_schema` lower-cases column and field names, turns timestamp_ntz into timestamp,
Spark 4's collated strings into string and ml vectors into array<double>, and raises
:class:`AthenaSchemaError` listing every column Athena could not read, before anything is
written. The publish (Parquet) and the table formats (Delta, Iceberg) register their columns
with :func:`athena_type_string`.

Example::

    safe = to_athena_schema(df, partition_by=["dt"])
    columns = [Column(f.name, athena_type_string(f.dataType)) for f in safe.schema.fields]
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pyspark.ml.functions import vector_to_array
from pyspark.ml.linalg import VectorUDT
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F  # noqa: N812
from pyspark.sql import types as T  # noqa: N812

from lakeforge.errors import SchemaMismatchError

#: Partition column types Athena reads from a folder name.
PARTITION_TYPES = (T.StringType, T.ByteType, T.ShortType, T.IntegerType, T.LongType,
                   T.BooleanType, T.DateType)
_ATHENA_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


class AthenaSchemaError(SchemaMismatchError):
    """Columns Athena cannot read; the message lists every offending column and what to do."""

    def __init__(self, problems: Sequence[str], where: str) -> None:
        self.problems = list(problems)
        super().__init__(f"{where}: schema not Athena-safe: " + "; ".join(self.problems))


def _athena_type(dt: T.DataType, where: str, problems: list[str], top: bool) -> T.DataType:
    """The Athena-readable equivalent of ``dt`` (struct names lower-cased, NTZ -> timestamp,
    top-level vectors -> array<double>); unreadable types are added to ``problems``."""
    if isinstance(dt, VectorUDT):
        if top:
            return T.ArrayType(T.DoubleType(), containsNull=False)
        problems.append(f"{where}: ml vector nested in a complex type; convert it first "
                        "(pyspark.ml.functions.vector_to_array)")
        return dt
    if isinstance(dt, T.UserDefinedType):
        problems.append(f"{where}: user-defined type {dt.simpleString()} has no Athena type")
        return dt
    if isinstance(dt, T.NullType):
        problems.append(f"{where}: type void (all-null literal); cast it to a concrete type")
        return dt
    if isinstance(dt, (T.DayTimeIntervalType, T.YearMonthIntervalType)) or (
        dt.typeName() == "interval"
    ):
        problems.append(f"{where}: interval type {dt.simpleString()} is not supported by Athena; "
                        "store it as a number of seconds/months")
        return dt
    if isinstance(dt, T.TimestampNTZType):
        return T.TimestampType()
    if isinstance(dt, T.StringType) and getattr(dt, "collation", "UTF8_BINARY") != "UTF8_BINARY":
        # Spark 4's collated strings print as "string collate UTF8_LCASE", no Hive type at
        # all: Glue would store it and Athena fail on the table. The values are plain strings.
        return T.StringType()
    if dt.typeName() == "variant":
        problems.append(f"{where}: type variant (Spark 4) has no Athena type; store it as a "
                        "JSON string (to_json) or a struct")
        return dt
    if isinstance(dt, T.ArrayType):
        return T.ArrayType(_athena_type(dt.elementType, f"{where}[]", problems, False),
                           dt.containsNull)
    if isinstance(dt, T.MapType):
        if not isinstance(dt.keyType, T.AtomicType):
            problems.append(f"{where}: map key type {dt.keyType.simpleString()} must be a "
                            "primitive type")
        return T.MapType(_athena_type(dt.keyType, f"{where}.key", problems, False),
                         _athena_type(dt.valueType, f"{where}.value", problems, False),
                         dt.valueContainsNull)
    if isinstance(dt, T.StructType):
        fields = []
        seen: set[str] = set()
        for f in dt.fields:
            name = f.name.lower()
            if not _ATHENA_NAME.match(name):
                problems.append(f"{where}.{f.name}: field name must be letters, digits and '_'")
            if name in seen:
                problems.append(f"{where}.{f.name}: two fields named {name!r} once lower-cased")
            seen.add(name)
            fields.append(T.StructField(
                name, _athena_type(f.dataType, f"{where}.{f.name}", problems, False), f.nullable
            ))
        return T.StructType(fields)
    return dt


def athena_type_string(dt: T.DataType) -> str:
    """The Hive/Athena type string of an (already Athena-safe) Spark type."""
    return dt.simpleString()


def to_athena_schema(
    df: DataFrame, *, partition_by: Sequence[str] = (), convert_vectors: bool = True
) -> DataFrame:
    """Lower-case column and field names, timestamp_ntz -> timestamp, collated strings (Spark
    4) -> string, ml vectors -> array<double> (when ``convert_vectors``); lazy.

    Raises :class:`AthenaSchemaError` listing every column Athena could not read (invalid names,
    names equal once lower-cased, void/interval/UDT/variant types, maps with complex keys,
    vectors inside complex types) and partition columns that are not string/integer/boolean/date.
    """
    problems: list[str] = []
    exprs: list[Column] = []
    seen: dict[str, str] = {}
    for f in df.schema.fields:
        name = f.name.lower()
        if not _ATHENA_NAME.match(name):
            problems.append(f"{f.name}: column names must be letters, digits and '_' "
                            "(rename it)")
        if name in seen:
            problems.append(f"{f.name}: same name as {seen[name]} once lower-cased")
        seen[name] = f.name
        if isinstance(f.dataType, VectorUDT) and not convert_vectors:
            problems.append(f"{f.name}: ml vector; pass convert_vectors=True or convert it")
        target = _athena_type(f.dataType, f.name, problems, True)
        col = F.col(f"`{f.name}`")
        if isinstance(f.dataType, VectorUDT):
            col = vector_to_array(col, "float64")
        elif target != f.dataType:
            col = col.cast(target)
        exprs.append(col.alias(name))
    lowered = {f.name.lower(): f.dataType for f in df.schema.fields}
    for key in partition_by:
        if key.lower() not in lowered:
            problems.append(f"{key}: partition column not in the data "
                            f"(columns: {sorted(lowered)})")
        elif not isinstance(lowered[key.lower()], PARTITION_TYPES):
            problems.append(f"{key}: partition column of type "
                            f"{lowered[key.lower()].simpleString()}; use string, an integer, "
                            "boolean or date (e.g. derive a date from a timestamp)")
    if len(partition_by) >= len(df.columns) and not problems:
        problems.append("every column is a partition column; a table needs a data column")
    if problems:
        raise AthenaSchemaError(problems, "to_athena_schema")
    return df.select(*exprs)


