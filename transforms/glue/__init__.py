"""AWS Glue's transforms on plain Spark DataFrames, with Glue's semantics and no Glue runtime.

Two shapes of the same transforms:

* snake_case functions, ``f(df, **kw) -> DataFrame`` (or a dict of DataFrames), chainable with
  ``df.transform(drop_null_fields)``;
* Glue-named wrapper classes called like Glue's, ``DropNullFields.apply(frame=df)``, made by one
  factory (:mod:`transforms.glue.wrappers`). They accept a DataFrame, or a Glue ``DynamicFrame``
  when ``awsglue`` is importable, and return the kind they received.

Modules by transform family: ``mapping`` (ApplyMapping, ResolveChoice), ``fields``
(DropNullFields, DropFields, SelectFields, RenameField, FillMissingValues), ``nested``
(Relationalize, Unbox, Unnest), ``joins`` (Join, SplitFields, SplitRows, the Spigot sample);
``field_paths`` parses Glue field paths, ``error_ledger`` counts rejected values.

Everything is a column expression: no Python UDFs and no Spark job, except
:func:`drop_null_fields` (one aggregation: it must look at the data to know which fields are
null everywhere) and :func:`fill_missing_values` (fits a pyspark.ml Imputer unless given a
fitted model). Nothing here writes: Glue's Spigot, whose purpose is writing a sample, is
``lakeforge.spigot`` (the sample itself is :func:`spigot_sample`). Transforms that can reject
values (:func:`apply_mapping`, :func:`resolve_choice`, :func:`unbox`) count them with
``DataFrame.observe`` into an :class:`ErrorLedger`.

Paths follow Glue: ``a.b`` is field ``b`` of struct ``a``; back-ticks quote names that contain
dots (```this.old.name```); ``items[].price`` is ``price`` in every element of array ``items``.
"""

from __future__ import annotations

from transforms.glue.common import (
    CatalogTableNotFoundError,
    ChoiceSpecError,
    DuplicateColumnsError,
    FillMissingValuesError,
    GlueTransformError,
    MappingError,
    SchemaRequiredError,
    UnknownTypeError,
    parse_type,
)
from transforms.glue.error_ledger import (
    ErrorCountsNotReady,
    ErrorLedger,
    ErrorThresholdExceeded,
    StageErrors,
)
from transforms.glue.field_paths import FieldPathError
from transforms.glue.fields import (
    drop_fields,
    drop_null_fields,
    fill_missing_values,
    fit_missing_values,
    rename_field,
    select_fields,
)
from transforms.glue.joins import join, spigot_sample, split_fields, split_rows
from transforms.glue.mapping import apply_mapping, resolve_choice
from transforms.glue.nested import RelationalizedTables, relationalize, unbox, unnest
from transforms.glue.wrappers import (
    GLUE_TRANSFORMS,
    ApplyMapping,
    DropFields,
    DropNullFields,
    FillMissingValues,
    GlueArg,
    GlueTransform,
    Join,
    Relationalize,
    RenameField,
    ResolveChoice,
    SelectFields,
    SelectFromCollection,
    SplitFields,
    SplitRows,
    Unbox,
    UnnestFrame,
    glue_wrapper,
)

__all__ = [
    "GLUE_TRANSFORMS", "ApplyMapping", "CatalogTableNotFoundError", "ChoiceSpecError",
    "DropFields", "DropNullFields", "DuplicateColumnsError", "ErrorCountsNotReady",
    "ErrorLedger", "ErrorThresholdExceeded", "FieldPathError", "FillMissingValues",
    "FillMissingValuesError", "GlueArg", "GlueTransform", "GlueTransformError", "Join",
    "MappingError", "Relationalize", "RelationalizedTables", "RenameField", "ResolveChoice",
    "SchemaRequiredError", "SelectFields", "SelectFromCollection", "SplitFields", "SplitRows",
    "StageErrors", "Unbox", "UnknownTypeError", "UnnestFrame", "apply_mapping", "drop_fields",
    "drop_null_fields", "fill_missing_values", "fit_missing_values", "glue_wrapper", "join",
    "parse_type", "relationalize", "rename_field", "resolve_choice", "select_fields",
    "split_fields", "split_rows", "spigot_sample", "unbox", "unnest",
]
