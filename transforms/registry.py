"""Glue transforms looked up by name, so a job's YAML can list its steps.

A step is a mapping with ``name`` (Glue's class name, ``ApplyMapping``, or the function name,
``apply_mapping``) and that transform's Glue keyword arguments::

    steps:
      - {name: ApplyMapping, mappings: [[id, string, id, long], [name, string, name, string]]}
      - {name: ResolveChoice, specs: [[price, "cast:double"]]}
      - {name: DropNullFields}

:func:`run_steps` applies them in order. A step that returns a collection (SplitFields,
SplitRows, Relationalize) must be followed by ``{name: SelectFromCollection, key: ...}`` unless
it is the last step. ``Join`` names its other frame with ``frame2: <name>`` looked up in
``frames``; Relationalize's root table name (Glue's ``name``) is ``root_table_name`` in a step.
Steps that count rejected values get the job's ``ledger`` unless they set their own.
Every step is checked against its transform's signature before any is applied.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from pyspark.sql import DataFrame

from lakeforge.errors import ConfigError
from transforms.glue import GLUE_TRANSFORMS, GlueTransform
from transforms.glue.error_ledger import ErrorLedger

log = logging.getLogger(__name__)

_SNAKE = {
    "ApplyMapping": "apply_mapping", "ResolveChoice": "resolve_choice",
    "DropNullFields": "drop_null_fields", "DropFields": "drop_fields",
    "SelectFields": "select_fields", "RenameField": "rename_field", "Join": "join",
    "SplitFields": "split_fields", "SplitRows": "split_rows", "Relationalize": "relationalize",
    "Unbox": "unbox", "UnnestFrame": "unnest", "FillMissingValues": "fill_missing_values",
    "SelectFromCollection": "select_from_collection",
}

TRANSFORMS: dict[str, type[GlueTransform]] = {cls.name(): cls for cls in GLUE_TRANSFORMS}
_BY_ANY_NAME: dict[str, type[GlueTransform]] = {
    **{k.lower(): v for k, v in TRANSFORMS.items()},
    **{_SNAKE[k]: v for k, v in TRANSFORMS.items()},
    "unnest_frame": TRANSFORMS["UnnestFrame"],
}


def get_transform(name: str) -> type[GlueTransform]:
    """The wrapper class for a Glue name (``DropNullFields``) or function name
    (``drop_null_fields``); names are case-insensitive."""
    cls = _BY_ANY_NAME.get(str(name).lower())
    if cls is None:
        hint = ("; Spigot writes files: call lakeforge.spigot.spigot in the job"
                if str(name).lower() == "spigot" else "")
        raise ConfigError(f"unknown Glue transform {name!r}; known: {sorted(TRANSFORMS)}{hint}")
    return cls


def available_transforms() -> list[dict[str, Any]]:
    """Name, one-line description and arguments of every registered transform."""
    return [cls.describe() for cls in TRANSFORMS.values()]


def _prepare(step: Mapping[str, Any], index: int, frames: Mapping[str, Any],
             ledger: ErrorLedger | None) -> tuple[type[GlueTransform], dict[str, Any]]:
    where = f"step #{index}"
    if not isinstance(step, Mapping) or "name" not in step:
        raise ConfigError(f"{where}: a step is a mapping with a 'name' key, got {step!r}")
    cls = get_transform(step["name"])
    kwargs = {k: v for k, v in step.items() if k != "name"}
    where = f"step #{index} ({cls.name()})"
    if cls.name() == "Relationalize" and "root_table_name" in kwargs:
        # "name" is taken by the step's transform name; Glue's root table name goes here.
        kwargs["name"] = kwargs.pop("root_table_name")
    if cls.name() == "Join":
        other = kwargs.get("frame2")
        if not isinstance(other, str) or other not in frames:
            raise ConfigError(f"{where}: frame2 must name one of the frames passed to "
                              f"run_steps {sorted(frames)}, got {other!r}")
        kwargs["frame2"] = frames[other]
    params = inspect.signature(cls.apply).parameters
    if "ledger" in params and ledger is not None:
        kwargs.setdefault("ledger", ledger)
    first = "dfc" if cls.name() == "SelectFromCollection" else (
        "frame1" if cls.name() == "Join" else "frame")
    if first in kwargs:
        raise ConfigError(f"{where}: {first!r} is the previous step's output; do not set it")
    try:
        inspect.signature(cls.apply).bind(None, **kwargs)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}; arguments are {[p for p in params if p != first]}"
                          ) from exc
    return cls, kwargs


def run_steps(
    frame: Any,
    steps: Sequence[Mapping[str, Any]],
    *,
    frames: Mapping[str, Any] | None = None,
    ledger: ErrorLedger | None = None,
) -> Any:
    """Apply ``steps`` in order to ``frame``; returns the last step's output."""
    frames = dict(frames or {})
    prepared = [_prepare(step, i, frames, ledger) for i, step in enumerate(steps)]
    for i, (cls, _) in enumerate(prepared[:-1]):
        if cls.returns_collection and prepared[i + 1][0].name() != "SelectFromCollection":
            raise ConfigError(f"step #{i} ({cls.name()}) returns a collection of frames; follow "
                              "it with {name: SelectFromCollection, key: <frame name>}")
    current = frame
    for i, (cls, kwargs) in enumerate(prepared):
        if cls.name() != "SelectFromCollection" and not _is_frame(current):
            raise ConfigError(f"step #{i} ({cls.name()}) needs a frame, got "
                              f"{type(current).__name__}")
        log.debug("run_steps: step #%d %s", i, cls.name())
        current = cls.apply(current, **kwargs)
    return current


def _is_frame(value: Any) -> bool:
    if isinstance(value, DataFrame):
        return True
    try:
        from awsglue.dynamicframe import DynamicFrame
    except ImportError:
        return False
    return isinstance(value, DynamicFrame)
