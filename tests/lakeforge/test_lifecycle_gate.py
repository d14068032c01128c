"""lakeforge.lifecycle.gate.minus_rows: the multiset difference the audit phase takes a staged
version's failing rows (and an append's carried rows) out with, also where the schema holds a
MAP, which Spark's own set operations refuse."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from lakeforge.lifecycle.gate import minus_rows

SCHEMA = ("id int, m map<string,int>, tags array<map<string,string>>, ts timestamp, "
          "s struct<k:string>")


def _rows(frame: Any) -> list[tuple[Any, ...]]:
    return sorted((tuple(r) for r in frame.collect()), key=repr)


def test_minus_rows_with_maps_removes_each_given_row_as_often_as_given(spark: Any) -> None:
    t1, t2 = datetime(2024, 1, 1, 0, 0, 0, 1), datetime(2024, 1, 1, 0, 0, 0, 2)
    dup = (2, {"b": 2}, [{"x": "y"}], t1, ("k",))
    data = spark.createDataFrame([
        (1, {"a": 1}, None, t1, None), dup, dup, dup,
        (3, None, [], t1, ("k",)),
        (4, {"a": None}, None, t1, None), (4, {"a": None}, None, t2, None),  # micros apart
        (None, None, None, None, None)], SCHEMA)
    rows = spark.createDataFrame([dup, dup, (4, {"a": None}, None, t2, None),
                                  (None, None, None, None, None),
                                  (9, {"z": 9}, None, t1, None)], SCHEMA)  # not in data
    with pytest.raises(Exception, match="MAP"):  # why minus_rows does not use exceptAll here
        data.exceptAll(rows).collect()
    assert _rows(minus_rows(data, rows)) == _rows(spark.createDataFrame([
        (1, {"a": 1}, None, t1, None), dup, (3, None, [], t1, ("k",)),
        (4, {"a": None}, None, t1, None)], SCHEMA))
    # columns are matched by name; nothing to take out, or everything
    assert minus_rows(data, rows.select(*reversed(rows.columns)).limit(0)).count() == 8
    assert minus_rows(data, data).count() == 0
    assert minus_rows(data.limit(0), rows).count() == 0


def test_minus_rows_without_maps_is_except_all(spark: Any) -> None:
    data = spark.createDataFrame([(1, "a"), (1, "a"), (2, None), (None, None)], "id int, v string")
    rows = spark.createDataFrame([("a", 1), (None, None), (None, 5)], "v string, id int")
    assert _rows(minus_rows(data, rows)) == [(1, "a"), (2, None)]
    assert "Except" in minus_rows(data, rows)._jdf.queryExecution().analyzed().toString()
