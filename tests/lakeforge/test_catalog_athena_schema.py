"""Athena-safe schemas of Spark 4 types (lakeforge.catalog.athena_schema).

Athena is not run: the check is the Hive type string Glue would be given, which Athena parses.
On the Spark 3.5 line these types do not exist and the tests are skipped; run them with
.venv-spark4.
"""

from __future__ import annotations

import pytest
from pyspark.sql import types as T  # noqa: N812

from lakeforge.catalog.athena_schema import (
    AthenaSchemaError,
    athena_type_string,
    to_athena_schema,
)

pytestmark = pytest.mark.skipif(not hasattr(T, "VariantType"),
                                reason="collated strings and variant are Spark 4 types")


def test_collated_strings_register_as_plain_string(spark) -> None:  # type: ignore[no-untyped-def]
    """A collated column (top level, in a struct, as a partition key) printed as
    'string collate UTF8_LCASE' in the old code, a type Athena cannot parse."""
    df = spark.sql("SELECT 'Ab' COLLATE UTF8_LCASE AS name, "
                   "named_struct('city', 'Köln' COLLATE UNICODE_CI) AS addr, "
                   "'GB' COLLATE UTF8_LCASE AS country")
    safe = to_athena_schema(df, partition_by=["country"])
    types = {f.name: athena_type_string(f.dataType) for f in safe.schema.fields}
    assert types == {"name": "string", "addr": "struct<city:string>", "country": "string"}
    assert [tuple(r) for r in safe.collect()] == [("Ab", ("Köln",), "GB")]


def test_variant_column_is_refused_with_its_name(spark) -> None:  # type: ignore[no-untyped-def]
    df = spark.sql("SELECT 1 AS id, parse_json('{\"a\": 1}') AS payload")
    with pytest.raises(AthenaSchemaError, match=r"payload: type variant \(Spark 4\) has no "
                                                r"Athena type"):
        to_athena_schema(df)
