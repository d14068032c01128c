"""Declarative suites: a suite mapping (as read from conf/quality/*.yaml) -> Checks.

Suite format::

    name: orders
    checks:
      - description: orders integrity
        level: Error                      # Error (default) or Warning
        constraints:
          - hasSize: {assertion: "> 0"}
          - isComplete: {column: order_id}
          - hasCompleteness: {column: email, assertion: ">= 0.95", hint: "emails go missing"}
          - isContainedIn: {column: status, allowed_values: [new, paid]}
          - isContainedIn: {column: amount, lowerBound: 0, upperBound: 500}
          - hasMean: {column: amount, assertion: "between 200 and 300", where: "amount > 0"}

Each constraint is one Check method (Deequ's names) with its keyword arguments; ``assertion`` is
``"<op> <number>"`` (``==, !=, >, >=, <, <=``), ``"between A and B"`` or a bare number (equality);
``where`` filters the constraint. Unknown methods or keys are errors naming the source and entry.
Reading the YAML file and the gate that quarantines failing rows are in
:mod:`lakeforge.quality_gate`.
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from lakeforge.errors import ConfigError
from quality.checks import Check, CheckLevel, ConstrainableDataTypes

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

_PREFIXES = ("has", "is", "are", "have", "contains", "satisfies")
_ASSERTION = re.compile(r"^\s*(==|=|!=|>=|<=|>|<)\s*(-?[0-9.eE+-]+)\s*$")
_BETWEEN = re.compile(r"^\s*between\s+(-?[0-9.eE+-]+)\s+and\s+(-?[0-9.eE+-]+)\s*$", re.I)


def parse_assertion(text: Any, where: str) -> Callable[[Any], bool]:
    """``"> 0"``, ``">= 0.95"``, ``"between 1 and 5"`` or a number -> a predicate."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        target = float(text)
        return lambda x: x == target
    if isinstance(text, str):
        m = _ASSERTION.match(text)
        if m:
            op, value = m.group(1), float(m.group(2))
            ops: dict[str, Callable[[Any], bool]] = {
                "==": lambda x: x == value, "=": lambda x: x == value,
                "!=": lambda x: x != value, ">": lambda x: x > value,
                ">=": lambda x: x >= value, "<": lambda x: x < value,
                "<=": lambda x: x <= value}
            return ops[op]
        m = _BETWEEN.match(text)
        if m:
            low, high = float(m.group(1)), float(m.group(2))
            return lambda x: low <= x <= high
    raise ConfigError(f"{where}: assertion {text!r} is not understood; use e.g. '>= 0.95', "
                      "'== 1', 'between 10 and 20' or a number")


def _constraint_methods() -> set[str]:
    return {name for name, _ in inspect.getmembers(Check, inspect.isfunction)
            if name.startswith(_PREFIXES) and not name.startswith("is_")}


def checks_from_mapping(data: Mapping[str, Any], source: str,
                        spark: SparkSession | None = None) -> list[Check]:
    """Build the Checks of a suite mapping; errors name ``source`` and the entry."""
    allowed = _constraint_methods()
    raw_checks = data.get("checks")
    if not isinstance(raw_checks, list) or not raw_checks:
        raise ConfigError(f"{source}: 'checks' must be a non-empty list of checks")
    unknown_top = sorted(set(data) - {"name", "checks", "description"})
    if unknown_top:
        raise ConfigError(f"{source}: unknown key(s) {unknown_top}; allowed: name, description, "
                          "checks")
    checks = []
    for i, raw in enumerate(raw_checks):
        where = f"{source}: checks[{i}]"
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{where} must be a mapping with description, level, constraints")
        extra = sorted(set(raw) - {"description", "level", "constraints"})
        if extra:
            raise ConfigError(f"{where}: unknown key(s) {extra}")
        level = str(raw.get("level", "Error"))
        if level not in ("Error", "Warning"):
            raise ConfigError(f"{where}.level is {level!r}; use Error or Warning")
        check = Check(CheckLevel(level), str(raw.get("description") or f"check {i}"))
        constraints = raw.get("constraints")
        if not isinstance(constraints, list) or not constraints:
            raise ConfigError(f"{where}.constraints must be a non-empty list")
        for j, entry in enumerate(constraints):
            here = f"{where}.constraints[{j}]"
            if not isinstance(entry, Mapping) or len(entry) != 1:
                raise ConfigError(f"{here} must be one mapping {{method: {{arguments}}}}")
            ((method, args),) = entry.items()
            if method not in allowed:
                raise ConfigError(f"{here}: unknown constraint {method!r}; known: "
                                  f"{sorted(allowed)}")
            kwargs = dict(args or {})
            if "assertion" in kwargs:
                kwargs["assertion"] = parse_assertion(kwargs["assertion"], here)
            if "datatype" in kwargs:
                kwargs["datatype"] = ConstrainableDataTypes(str(kwargs["datatype"]))
            filter_ = kwargs.pop("where", None)
            columns = kwargs.pop("columns", None) if method == "isPrimaryKey" else None
            try:
                if columns:
                    check.isPrimaryKey(*columns, **kwargs)
                else:
                    getattr(check, method)(**kwargs)
                if filter_:
                    check.where(str(filter_))
            except TypeError as exc:
                raise ConfigError(f"{here}: bad arguments for {method}: {exc}") from exc
        checks.append(check)
    return checks


__all__ = ["checks_from_mapping", "parse_assertion"]
