"""``awsglue.transforms``: Glue's transform classes on Lakeforge's DynamicFrame.

Each class is :mod:`transforms.glue`'s Glue-named wrapper of the same name; given a
DynamicFrame of this runtime, it runs the DynamicFrame method of that transform (so choice
columns resolve as Glue resolves them and survive transforms that leave them alone), or, for
transforms with no DynamicFrame method (DropNullFields, FillMissingValues), the wrapper on
``toDF()``. Given DataFrames they behave exactly as the wrappers. Glue's frame-level classes
(Map, Filter, Union, Repartition, Coalesce, Spigot, ErrorsAsDynamicFrame, MapToCollection,
FlatMap) call the DynamicFrame methods.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from pyspark.sql import DataFrame

from lakeforge.glue_local.frames import DynamicFrame, DynamicFrameCollection
from transforms.glue import GLUE_TRANSFORMS, GlueTransform

_Method = Callable[[Mapping[str, Any]], Any]

# Glue class -> the DynamicFrame call it makes, from the wrapper's bound arguments.
_METHODS: dict[str, _Method] = {
    "ApplyMapping": lambda v: v["frame"].apply_mapping(
        v["mappings"], case_sensitive=v["case_sensitive"],
        transformation_ctx=v["transformation_ctx"]),
    "ResolveChoice": lambda v: v["frame"].resolveChoice(
        specs=v["specs"], choice=v["choice"], database=v["database"],
        table_name=v["table_name"], transformation_ctx=v["transformation_ctx"]),
    "DropFields": lambda v: v["frame"].drop_fields(v["paths"], v["transformation_ctx"]),
    "SelectFields": lambda v: v["frame"].select_fields(v["paths"], v["transformation_ctx"]),
    "RenameField": lambda v: v["frame"].rename_field(v["old_name"], v["new_name"],
                                                     v["transformation_ctx"]),
    "Join": lambda v: v["frame1"].join(v["keys1"], v["keys2"], v["frame2"],
                                       v["transformation_ctx"]),
    # As awsglue: the default names are the frame's name (or "frame") + "1" / "2".
    "SplitFields": lambda v: v["frame"].split_fields(
        v["paths"], v["name1"] or f"{v['frame'].name or 'frame'}1",
        v["name2"] or f"{v['frame'].name or 'frame'}2", v["transformation_ctx"]),
    "SplitRows": lambda v: v["frame"].split_rows(v["comparison_dict"], v["name1"],
                                                 v["name2"], v["transformation_ctx"]),
    "Relationalize": lambda v: v["frame"].relationalize(v["name"], v["staging_path"],
                                                        v["options"]),
    "Unbox": lambda v: v["frame"].unbox(v["path"], v["format"], v["transformation_ctx"],
                                        withSchema=v["withSchema"], **(v.get("options") or {})),
    "UnnestFrame": lambda v: v["frame"].unnest(v["transformation_ctx"]),
}
_FRAME_ARGS = ("frame", "frame1", "frame2")


def _glue_class(wrapper: type[GlueTransform]) -> type[GlueTransform]:
    signature = inspect.signature(wrapper.apply)
    name = wrapper.__name__
    method = _METHODS.get(name)

    def apply(cls: type[GlueTransform], *args: Any, **kwargs: Any) -> Any:
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{name}.apply: {exc}") from None
        bound.apply_defaults()
        values = dict(bound.arguments)
        frames = [values[f] for f in _FRAME_ARGS if f in values]
        if not any(isinstance(f, DynamicFrame) for f in frames):
            return wrapper.apply(*args, **kwargs)
        if method is not None:
            return method(values)
        first: DynamicFrame = frames[0]
        plain = {k: (v.toDF() if isinstance(v, DynamicFrame) else v)
                 for k, v in values.items() if k != "options"}
        out = wrapper.apply(**plain, **(values.get("options") or {}))
        if isinstance(out, DataFrame):
            return first._derive(out)
        return DynamicFrameCollection({k: first._derive(v, k) for k, v in out.items()},
                                      first.glue_ctx)

    return type(name, (GlueTransform,), {
        "__doc__": wrapper.__doc__, "__module__": "awsglue.transforms",
        "returns_collection": wrapper.returns_collection, "apply": classmethod(apply)})


_CLASSES = {w.__name__: _glue_class(w) for w in GLUE_TRANSFORMS}
globals().update(_CLASSES)


class _FrameTransform(GlueTransform):
    """Base of Glue's frame-level classes: ``X.apply(frame=..., ...)``."""


class Map(_FrameTransform):
    """Glue Map: ``f(record)`` for each record."""

    @classmethod
    def apply(cls, frame: DynamicFrame, f: Callable[..., Any], preservesPartitioning: bool = False,  # noqa: N803
              transformation_ctx: str = "", **kwargs: Any) -> DynamicFrame:
        return frame.map(f, preservesPartitioning, transformation_ctx)


class Filter(_FrameTransform):
    """Glue Filter: records for which ``f(record)`` is true."""

    @classmethod
    def apply(cls, frame: DynamicFrame, f: Callable[..., bool], transformation_ctx: str = "",
              **kwargs: Any) -> DynamicFrame:
        return frame.filter(f, transformation_ctx)


class Union(_FrameTransform):
    """Glue Union of two frames."""

    @classmethod
    def apply(cls, frame1: DynamicFrame, frame2: DynamicFrame, transformation_ctx: str = "",
              **kwargs: Any) -> DynamicFrame:
        return frame1.union(frame2, transformation_ctx)


class Repartition(_FrameTransform):
    @classmethod
    def apply(cls, frame: DynamicFrame, num_partitions: int, transformation_ctx: str = "",
              **kwargs: Any) -> DynamicFrame:
        return frame.repartition(num_partitions, transformation_ctx)


class Coalesce(_FrameTransform):
    @classmethod
    def apply(cls, frame: DynamicFrame, num_partitions: int, shuffle: bool = False,
              transformation_ctx: str = "", **kwargs: Any) -> DynamicFrame:
        return frame.coalesce(num_partitions, shuffle, transformation_ctx)


class Spigot(_FrameTransform):
    """Glue Spigot: write a sample of the frame, return the frame."""

    @classmethod
    def apply(cls, frame: DynamicFrame, path: str, options: Mapping[str, Any] | None = None,
              transformation_ctx: str = "", **kwargs: Any) -> DynamicFrame:
        return frame.spigot(path, options, transformation_ctx)


class ErrorsAsDynamicFrame(_FrameTransform):
    @classmethod
    def apply(cls, frame: DynamicFrame, **kwargs: Any) -> DynamicFrame:
        return frame.errorsAsDynamicFrame()


class MapToCollection(_FrameTransform):
    """Glue MapToCollection: ``callable(frame, transformation_ctx)`` on every frame of a
    collection (``DynamicFrameCollection.map``), as awsglue calls it."""

    @classmethod
    def apply(cls, dfc: DynamicFrameCollection, callable: Any,  # noqa: A002
              transformation_ctx: str = "") -> DynamicFrameCollection:
        return dfc.map(callable, transformation_ctx)


class FlatMap(_FrameTransform):
    @classmethod
    def apply(cls, dfc: DynamicFrameCollection, BaseTransform: Any,  # noqa: N803
              frame_name: str = "frame", transformation_ctx: str = "",
              **base_kwargs: Any) -> DynamicFrameCollection:
        return dfc.flatmap(lambda frame, ctx: BaseTransform.apply(**{frame_name: frame},
                                                                  **base_kwargs),
                           transformation_ctx)


__all__ = sorted([*_CLASSES, "Map", "Filter", "Union", "Repartition", "Coalesce", "Spigot",
                  "ErrorsAsDynamicFrame", "MapToCollection", "FlatMap", "GlueTransform"])
