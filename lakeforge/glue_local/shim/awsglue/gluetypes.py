"""awsglue.gluetypes on Lakeforge: the type names a Glue script imports, as Spark's types.

Glue Studio's generated scripts start with ``from awsglue.gluetypes import *`` and walk
``frame.schema()`` with ``isinstance(schema, StructType)``, ``ArrayType``, ``NullType`` (its
DropNullFields helper). Here ``DynamicFrame.schema()`` is a Spark ``StructType``
(docs/glue-local.md), so these names are Spark's classes and such walks see the frame's
fields. ``Field`` is Spark's ``StructField`` (name, dataType). Glue-only types (choice, enum,
set, entity) have no Spark counterpart and are not defined.
"""

import json  # noqa: F401 - Glue's module exports it through `import *`
import sys  # noqa: F401 - likewise

from pyspark.sql.types import (  # noqa: F401 - re-exported under Glue's names
    ArrayType,
    AtomicType,
    BinaryType,
    BooleanType,
    ByteType,
    DataType,
    DateType,
    DecimalType,
    DoubleType,
    FloatType,
    IntegerType,
    LongType,
    MapType,
    NullType,
    ShortType,
    StringType,
    StructType,
    TimestampNTZType,
    TimestampType,
)
from pyspark.sql.types import StructField as Field  # noqa: F401

from lakeforge.glue_local.records import DynamicRecord  # noqa: F401
