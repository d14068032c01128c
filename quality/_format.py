"""Render Python values the way Deequ's Scala ``toString`` does.

Deequ's constraint strings (``CompletenessConstraint(Completeness(a,None,None))``) and failure
messages (``Value: 0.5 does not meet the constraint requirement!``) embed Scala case-class
``toString`` output: ``None`` / ``Some(x)`` for options, ``List(a, b)`` for sequences and
``java.lang.Double.toString`` for doubles (``1.0E7``, ``1.0E-4``, ``NaN``). Users grep and compare
these strings, so they are reproduced exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from typing import Any


def java_double(value: float) -> str:
    """``java.lang.Double.toString``: ``1.0``, ``0.001``, ``1.0E-4``, ``1.0E7``, ``NaN``."""
    d = float(value)
    if math.isnan(d):
        return "NaN"
    if math.isinf(d):
        return "Infinity" if d > 0 else "-Infinity"
    if d == 0.0:
        return "-0.0" if math.copysign(1.0, d) < 0 else "0.0"
    magnitude = abs(d)
    if 1e-3 <= magnitude < 1e7:
        text = repr(d)
        if "e" in text or "E" in text:  # pragma: no cover - repr never uses e in this range
            text = format(Decimal(text), "f")
        return text if "." in text else text + ".0"
    sign, digits, exponent = Decimal(repr(d)).as_tuple()
    digit_text = "".join(str(x) for x in digits).rstrip("0") or "0"
    sci_exp = len(digits) - 1 + int(exponent)
    mantissa = digit_text[0] + "." + (digit_text[1:] or "0")
    return f"{'-' if sign else ''}{mantissa}E{sci_exp}"


def scala(value: Any) -> str:
    """Scala ``toString`` of a case-class field value."""
    if value is None:
        return "None"
    if isinstance(value, Some):
        return f"Some({scala(value.value)})"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return java_double(value)
    if isinstance(value, (list, tuple)):
        return "List(" + ", ".join(scala(v) for v in value) + ")"
    return str(value)


def scala_option(value: Any) -> str:
    """``None`` or ``Some(value)``."""
    return "None" if value is None else f"Some({scala(value)})"


class Some:
    """Marks a field that Scala holds as ``Option[T]`` so that it renders as ``Some(x)``."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def case_class(name: str, fields: Sequence[Any]) -> str:
    """``Name(f1,f2,...)`` exactly like a Scala case class (no spaces between fields)."""
    return f"{name}(" + ",".join(scala(f) for f in fields) + ")"


def metric_value_text(value: Any) -> str:
    """How ``Value: $assertOn`` renders the picked value (Long, Double or Distribution)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return java_double(value)
    return str(value)
