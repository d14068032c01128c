"""Per-record Python functions on a DynamicFrame (``filter``, ``map``) with Glue's error records.

awsglue's ``DynamicFrame.filter`` and ``map`` (aws-glue-libs ``awsglue/dynamicframe.py``) wrap
the user's function per record:

* ``filter``: a ``KeyError``, ``ValueError`` or ``TypeError`` in the predicate drops the record
  (``r["age"] > 30`` on a null or missing field); any other exception makes the record an
  error record (``isError``, ``errorMessage = str(exc)``), counted by ``errorsCount()``.
* ``map``: an exception, or a falsy result (None: "User-specified function returned None
  instead of DynamicRecord"), makes the record an error record; the job goes on.

Here an error record is a row of :data:`ERROR_SCHEMA`: the input record as JSON in
``_corrupt_record`` (the column the readers use for unparseable lines) and the message.
``map`` keeps the frame's column types and order: values are never round-tripped through
JSON, and a field keeps its type while every value the function returns for it is still a
value of that type.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, Row
from pyspark.sql import types as T  # noqa: N812
from pyspark.sql.types import _infer_type, _make_type_verifier, _merge_type

ERROR_SCHEMA = "_corrupt_record string, errorMessage string"
NONE_RESULT = "User-specified function returned None instead of DynamicRecord"
# What awsglue's filter treats as "the predicate does not hold" rather than as an error.
FILTER_FALSE = (KeyError, ValueError, TypeError)

_KEEP, _DROP, _ERROR = 0, 1, 2


class DynamicRecord(dict):  # type: ignore[type-arg]
    """A record handed to ``filter`` / ``map`` functions: a dict of the row's fields.

    As awsglue's: its fields are attributes too (``rec.age``, ``rec.addr.city``; a missing one
    raises KeyError, which ``filter`` reads as "does not hold"), and setting an attribute sets
    the field (``rec.total = ...`` in a ``map`` function adds it)."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # Python's protocols (copy, pickle) look for dunders
            raise AttributeError(name)
        return self[name]

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value


def _record(row: Row) -> DynamicRecord:
    """The row as awsglue hands it over: a DynamicRecord whose struct fields are too."""
    return DynamicRecord({k: DynamicRecord(v) if type(v) is dict else v
                          for k, v in row.asDict(True).items()})


def _plain(value: Any) -> Any:
    """``value`` with every dict (DynamicRecords too) a plain dict, as awsglue reverts them."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _record_json(row: Row) -> str:
    return json.dumps(row.asDict(True), default=str)


def _test(f: Callable[[DynamicRecord], Any], row: Row) -> tuple[int, Row, str]:
    try:
        return (_KEEP if f(_record(row)) else _DROP), row, ""
    except FILTER_FALSE:
        return _DROP, row, ""
    except Exception as exc:  # noqa: BLE001 - awsglue turns any other exception into an error record
        return _ERROR, row, str(exc)


def _apply(f: Callable[[DynamicRecord], Any], row: Row) -> tuple[int, Any, str]:
    try:
        out = f(_record(row))
    except Exception as exc:  # noqa: BLE001 - awsglue turns any exception into an error record
        return _ERROR, row, str(exc)
    if not out:
        return _ERROR, row, NONE_RESULT
    if not isinstance(out, Mapping):
        return _ERROR, row, (f"User-specified function returned {type(out).__name__} instead "
                             "of DynamicRecord")
    return _KEEP, _plain(dict(out)), ""


def filter_records(df: DataFrame, f: Callable[[DynamicRecord], Any]
                   ) -> tuple[DataFrame, DataFrame]:
    """The rows for which ``f`` holds, and the error records of the rows where it raised."""
    spark = df.sparkSession
    tagged = df.rdd.map(lambda row: _test(f, row))
    kept = tagged.filter(lambda t: t[0] == _KEEP).map(lambda t: t[1])
    errors = tagged.filter(lambda t: t[0] == _ERROR).map(
        lambda t: (_record_json(t[1]), t[2]))
    return (spark.createDataFrame(kept, df.schema, verifySchema=False),
            spark.createDataFrame(errors, ERROR_SCHEMA))


def map_records(df: DataFrame, f: Callable[[DynamicRecord], Any]
                ) -> tuple[DataFrame, DataFrame]:
    """``f`` on each row, as a frame whose schema is the input's where ``f`` keeps a field's
    type (one Spark job finds the fields and types ``f`` returns), and the error records."""
    spark = df.sparkSession
    # cached: the schema pass, the rows and the error records read one run of ``f`` per row
    # (a side effect or a non-deterministic ``f`` would otherwise run, and differ, per pass)
    tagged = df.rdd.map(lambda row: _apply(f, row)).persist(StorageLevel.MEMORY_AND_DISK)
    results = tagged.filter(lambda t: t[0] == _KEEP).map(lambda t: t[1])
    schema = _result_schema(df.schema, results)
    coerce = [_coercer(field.dataType) for field in schema.fields]
    names = schema.names
    rows = results.map(lambda rec: tuple(c(rec.get(n)) for c, n in zip(coerce, names,
                                                                          strict=True)))
    errors = tagged.filter(lambda t: t[0] == _ERROR).map(
        lambda t: (_record_json(t[1]), t[2]))
    return spark.createDataFrame(rows, schema), spark.createDataFrame(errors, ERROR_SCHEMA)


def _result_schema(source: T.StructType, results: Any) -> T.StructType:
    """The input's fields that ``f`` still returns (in the input's order, with their types
    where every value still fits), then the new fields in the order they first appear."""
    original = {f.name: f.dataType for f in source.fields}

    def scan(records: Iterable[dict[str, Any]]) -> Iterator[dict[str, list[Any]]]:
        verifiers = {name: _make_type_verifier(dt, True, name) for name, dt in original.items()}
        seen: dict[str, list[Any]] = {}  # name -> [fits the input type, inferred type]
        for rec in records:
            for key, value in rec.items():
                state = seen.setdefault(key, [key in original, T.NullType()])
                if value is None:
                    continue
                if state[0]:
                    try:
                        verifiers[key](value)
                    except (TypeError, ValueError):
                        state[0] = False
                    if state[0] and _adds_fields(value, original[key]):
                        state[0] = False  # a struct the function gave new fields
                state[1] = _merged(state[1], _infer_type(value, infer_dict_as_struct=True))
        yield seen

    merged: dict[str, list[Any]] = {}
    for part in results.mapPartitions(scan).collect():
        for key, (fits, dtype) in part.items():
            if key not in merged:
                merged[key] = [fits, dtype]
            else:
                merged[key] = [merged[key][0] and fits, _merged(merged[key][1], dtype)]
    fields = [T.StructField(name, dt if merged[name][0] else merged[name][1])
              for name, dt in original.items() if name in merged]
    fields += [T.StructField(name, dtype) for name, (_, dtype) in merged.items()
               if name not in original]
    return T.StructType(fields)


def _adds_fields(value: Any, dtype: T.DataType) -> bool:
    """Whether ``value`` has a field that its struct type ``dtype`` lacks, at any depth
    (Spark's type check ignores such fields, which would drop them)."""
    if isinstance(dtype, T.StructType) and isinstance(value, dict):
        names = set(dtype.names)
        if any(k not in names for k in value):
            return True
        return any(_adds_fields(value.get(f.name), f.dataType) for f in dtype.fields)
    if isinstance(dtype, T.ArrayType) and isinstance(value, list):
        return any(_adds_fields(v, dtype.elementType) for v in value)
    return False


def _merged(a: T.DataType, b: T.DataType) -> T.DataType:
    """Spark's type merge (int and double -> double); values of types that do not merge
    (a number and a text) become strings, as a JSON reader of them would give."""
    try:
        return _merge_type(a, b)
    except TypeError:
        return T.StringType()


def _coercer(dtype: T.DataType) -> Callable[[Any], Any]:
    """How a returned value becomes a value of its field's type (see :func:`_merged`)."""
    if isinstance(dtype, T.StringType):
        return lambda v: v if v is None or isinstance(v, str) else str(v)
    if isinstance(dtype, (T.DoubleType, T.FloatType)):
        return lambda v: v if v is None or isinstance(v, float) else float(v)
    return lambda v: v
