"""Glue-named wrapper classes (``DropNullFields.apply(frame=df)``), made by one factory.

Each wrapper takes Glue's arguments (``transformation_ctx``, ``info``, ``stageThreshold``, ...),
converts a Glue ``DynamicFrame`` to a DataFrame when ``awsglue`` is importable, calls the
snake_case function and returns the kind of frame it received (a ``DynamicFrameCollection``
where Glue returns one). :func:`glue_wrapper` builds a wrapper from a function and the list of
its Glue arguments (:class:`GlueArg`), so the 13 frame transforms differ only in that list.
Spigot writes files, so it lives in the runtime (``lakeforge.spigot.Spigot``).
"""

from __future__ import annotations

import inspect
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from pyspark.sql import DataFrame

from transforms.glue.common import GlueTransformError
from transforms.glue.fields import (
    drop_fields,
    drop_null_fields,
    fill_missing_values,
    rename_field,
    select_fields,
)
from transforms.glue.joins import join, split_fields, split_rows
from transforms.glue.mapping import apply_mapping, resolve_choice
from transforms.glue.nested import relationalize, unbox, unnest

log = logging.getLogger(__name__)

_REQUIRED = inspect.Parameter.empty


def _dynamic_frame_types() -> tuple[type, type] | None:
    try:
        from awsglue.dynamicframe import DynamicFrame, DynamicFrameCollection
    except ImportError:
        return None
    return DynamicFrame, DynamicFrameCollection


def _as_dataframe(frame: Any, arg: str = "frame") -> tuple[DataFrame, Callable[[Any, str], Any]]:
    """The DataFrame in ``frame`` and a function turning results back into ``frame``'s kind."""
    if isinstance(frame, DataFrame):
        return frame, lambda result, name: result
    glue = _dynamic_frame_types()
    if glue is not None and isinstance(frame, glue[0]):
        dynamic_frame: Any = glue[0]
        collection: Any = glue[1]
        dyf: Any = frame
        glue_ctx = dyf.glue_ctx

        def back(result: Any, name: str) -> Any:
            if isinstance(result, DataFrame):
                return dynamic_frame.fromDF(result, glue_ctx, name)
            return collection({k: dynamic_frame.fromDF(v, glue_ctx, k)
                               for k, v in result.items()}, glue_ctx)

        return dyf.toDF(), back
    raise TypeError(f"{arg} must be a pyspark DataFrame"
                    + (" or an awsglue DynamicFrame" if glue is not None else "")
                    + f", got {type(frame).__name__}")


class GlueTransform(ABC):
    """Base of the Glue-named wrappers: ``X.apply(frame=..., ...)`` as in awsglue.transforms."""

    returns_collection: ClassVar[bool] = False

    @classmethod
    def name(cls) -> str:
        return cls.__name__

    @classmethod
    def describe(cls) -> dict[str, Any]:
        import inspect

        doc = (cls.__doc__ or "").strip().splitlines()
        params = [p for p in inspect.signature(cls.apply).parameters if p not in ("cls",)]
        return {"name": cls.name(), "description": doc[0] if doc else "", "args": params,
                "returns": "collection" if cls.returns_collection else "frame"}

    @classmethod
    @abstractmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        """Run the transform on ``frame`` (every wrapper defines it)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.apply(*args, **kwargs)


@dataclass(frozen=True)
class GlueArg:
    """One argument of a Glue wrapper: Glue's name, its default, and the function keyword it
    feeds (``to``; ``""``: the same name; None: accepted for Glue compatibility, unused)."""

    glue: str
    default: Any = _REQUIRED
    to: str | None = ""

    @property
    def keyword(self) -> str | None:
        return self.glue if self.to == "" else self.to


# Glue's bookkeeping arguments: passed on by transforms that count rejected values (COUNTED),
# accepted and unused by the others (ACCEPTED). transformation_ctx also names the result.
COUNTED = (GlueArg("transformation_ctx", ""), GlueArg("info", ""),
           GlueArg("stageThreshold", None, "stage_threshold"),
           GlueArg("totalThreshold", None, "total_threshold"))
ACCEPTED = (GlueArg("transformation_ctx", "", None), GlueArg("info", "", None),
            GlueArg("stageThreshold", None, None), GlueArg("totalThreshold", None, None))


def glue_wrapper(
    name: str,
    function: Callable[..., Any],
    summary: str,
    args: Sequence[GlueArg],
    *,
    frames: Sequence[str] = ("frame",),
    returns_collection: bool = False,
    extra_options: bool = False,
    result_name: Callable[[Mapping[str, Any]], str] | None = None,
    adapt: Callable[[dict[str, Any], Mapping[str, Any]], dict[str, Any]] | None = None,
) -> type[GlueTransform]:
    """A GlueTransform subclass ``name`` whose ``apply`` has Glue's signature (``frames`` then
    ``args``; ``extra_options``: ``**options`` passed through) and calls ``function``.

    ``result_name(values)`` names the output frame (default: ``transformation_ctx`` or the
    function's name); ``adapt(kwargs, values)`` adjusts the function's keywords from Glue's.
    """
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    params = [inspect.Parameter(f, kind) for f in frames]
    params += [inspect.Parameter(a.glue, kind, default=a.default) for a in args]
    if extra_options:
        params.append(inspect.Parameter("options", inspect.Parameter.VAR_KEYWORD))
    signature = inspect.Signature(params)

    def apply(cls: type[GlueTransform], *positional: Any, **keywords: Any) -> Any:
        try:
            bound = signature.bind(*positional, **keywords)
        except TypeError as exc:
            raise TypeError(f"{name}.apply: {exc}") from None
        bound.apply_defaults()
        values = dict(bound.arguments)
        dfs = []
        back = None
        for f in frames:
            df, to_kind = _as_dataframe(values[f], f)
            dfs.append(df)
            back = back or to_kind
        kwargs = {a.keyword: values[a.glue] for a in args if a.keyword is not None}
        if extra_options:
            kwargs.update(values.get("options") or {})
        if adapt is not None:
            kwargs = adapt(kwargs, values)
        out = function(*dfs, **kwargs)
        label = (result_name(values) if result_name is not None
                 else values.get("transformation_ctx") or function.__name__)
        assert back is not None
        return back(out, label)

    apply.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter("cls", kind), *params])
    apply.__doc__ = f"{summary} (see :func:`{function.__module__}.{function.__name__}`)."
    return type(name, (GlueTransform,), {
        "__doc__": f"{summary} (see :func:`{function.__name__}`).",
        "__module__": __name__,
        "returns_collection": returns_collection,
        "apply": classmethod(apply),
    })


def _split_names(kwargs: dict[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    base = values["transformation_ctx"] or "frame"
    return {**kwargs, "name1": kwargs["name1"] or f"{base}1",
            "name2": kwargs["name2"] or f"{base}2"}


def _output_column_or_none(kwargs: dict[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    return {**kwargs, "output_column": kwargs["output_column"] or None}


ApplyMapping = glue_wrapper(
    "ApplyMapping", apply_mapping, "Apply a declarative mapping",
    [GlueArg("mappings"), GlueArg("case_sensitive", False), *COUNTED, GlueArg("ledger", None)])
ResolveChoice = glue_wrapper(
    "ResolveChoice", resolve_choice, "Resolve mixed-type columns",
    [GlueArg("specs", None), GlueArg("choice", ""), GlueArg("database", None),
     GlueArg("table_name", None), *COUNTED, GlueArg("catalog", None),
     GlueArg("choice_types", None), GlueArg("ledger", None)])
DropNullFields = glue_wrapper(
    "DropNullFields", drop_null_fields, "Drop fields that are null in every record",
    [*ACCEPTED, GlueArg("null_values", None)])
DropFields = glue_wrapper(
    "DropFields", drop_fields, "Drop fields by path", [GlueArg("paths"), *ACCEPTED])
SelectFields = glue_wrapper(
    "SelectFields", select_fields, "Keep only the given fields", [GlueArg("paths"), *ACCEPTED])
RenameField = glue_wrapper(
    "RenameField", rename_field, "Rename or move one field",
    [GlueArg("old_name"), GlueArg("new_name"), *ACCEPTED])
Join = glue_wrapper(
    "Join", join, "Equality join of two frames",
    [GlueArg("keys1"), GlueArg("keys2"), ACCEPTED[0]], frames=("frame1", "frame2"))
SplitFields = glue_wrapper(
    "SplitFields", split_fields, "Split fields off into a second frame",
    [GlueArg("paths"), GlueArg("name1", None), GlueArg("name2", None), *ACCEPTED],
    returns_collection=True, adapt=_split_names,
    result_name=lambda values: values["transformation_ctx"] or "frame")
SplitRows = glue_wrapper(
    "SplitRows", split_rows, "Split rows off into a second frame",
    [GlueArg("comparison_dict"), GlueArg("name1", "frame1"), GlueArg("name2", "frame2"),
     *ACCEPTED], returns_collection=True)
Relationalize = glue_wrapper(
    "Relationalize", relationalize, "Flatten and pivot arrays into tables",
    [GlueArg("staging_path", None), GlueArg("name", "roottable", "root_table_name"),
     GlueArg("options", None), *ACCEPTED, GlueArg("persist", True)],
    returns_collection=True, result_name=lambda values: values["name"])
Unbox = glue_wrapper(
    "Unbox", unbox, "Parse a JSON/CSV string field into a struct",
    [GlueArg("path"), GlueArg("format", "json"), *COUNTED, GlueArg("ledger", None),
     GlueArg("withSchema", None, "with_schema")], extra_options=True)
UnnestFrame = glue_wrapper(
    "UnnestFrame", unnest, "Flatten nested structs to top-level columns", [*ACCEPTED])
FillMissingValues = glue_wrapper(
    "FillMissingValues", fill_missing_values,
    "Impute missing values into ``<col>_filled``",
    [GlueArg("missing_values_column"), GlueArg("output_column", ""), *ACCEPTED,
     GlueArg("strategy", "mean"), GlueArg("model", None)], adapt=_output_column_or_none)


class SelectFromCollection(GlueTransform):
    """Pick one frame out of a collection (SplitFields, SplitRows, Relationalize output)."""

    @classmethod
    def apply(cls, dfc: Any, key: str, transformation_ctx: str = "") -> Any:
        if isinstance(dfc, Mapping):
            if key not in dfc:
                raise GlueTransformError(f"SelectFromCollection: no frame {key!r}; the "
                                         f"collection has {sorted(dfc)}")
            return dfc[key]
        glue = _dynamic_frame_types()
        if glue is not None and isinstance(dfc, glue[1]):
            collection: Any = dfc
            return collection.select(key)
        raise TypeError(f"SelectFromCollection: dfc must be a dict of frames or a "
                        f"DynamicFrameCollection, got {type(dfc).__name__}")


GLUE_TRANSFORMS: tuple[type[GlueTransform], ...] = (
    ApplyMapping, ResolveChoice, DropNullFields, DropFields, SelectFields, RenameField, Join,
    SplitFields, SplitRows, Relationalize, Unbox, UnnestFrame, FillMissingValues,
    SelectFromCollection,
)
