"""Per-record Python functions on a DynamicFrame (``filter``) with Glue's error records.

awsglue's ``DynamicFrame.filter`` and ``map`` (aws-glue-libs ``awsglue/dynamicframe.py``) wrap
the user's function per record:

* ``filter``: a ``KeyError``, ``ValueError`` or ``TypeError`` in the predicate drops the record
  (``r["age"] > 30`` on a null or missing field); any other exception makes the record an
  error record (``isError``, ``errorMessage = str(exc)``), counted by ``errorsCount()``.

Here an error record is a row of :data:`ERROR_SCHEMA`: the input record as JSON in
``_corrupt_record`` (the column the readers use for unparseable lines) and the message.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pyspark.sql import DataFrame, Row

ERROR_SCHEMA = "_corrupt_record string, errorMessage string"
# What awsglue's filter treats as "the predicate does not hold" rather than as an error.
FILTER_FALSE = (KeyError, ValueError, TypeError)

_KEEP, _DROP, _ERROR = 0, 1, 2


class DynamicRecord(dict):  # type: ignore[type-arg]
    """A record handed to ``filter`` / ``map`` functions: a dict of the row's fields."""


def _record_json(row: Row) -> str:
    return json.dumps(row.asDict(True), default=str)


def _test(f: Callable[[DynamicRecord], Any], row: Row) -> tuple[int, Row, str]:
    try:
        return (_KEEP if f(DynamicRecord(row.asDict(True))) else _DROP), row, ""
    except FILTER_FALSE:
        return _DROP, row, ""
    except Exception as exc:  # noqa: BLE001 - awsglue turns any other exception into an error record
        return _ERROR, row, str(exc)


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
