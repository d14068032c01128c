"""YAML suites (conf/quality/*.yaml, :mod:`quality.suite_spec`) <-> DQDL rulesets.

Both directions keep the verdicts, not just the names: a constraint is exported only to a rule
that passes and fails on the same data, and a rule is imported only to constraints that do.

* Deequ's ``isContainedIn(values)`` lets NULL pass, DQDL's ``in [...]`` does not: it exports as
  ``in [NULL, ...]``.
* The suite's ``between`` is inclusive, DQDL's exclusive: a ``between`` assertion exports as a
  composite ``(X >= a) and (X <= b)``; a DQDL ``between`` imports as ``> a`` and ``< b``.
* Aggregates DQDL has no rule for (``hasMin``, ``hasMax``, ``isNonNegative``, ``isPositive``,
  ``satisfies``) export as ``CustomSql`` on ``primary`` (same NULL handling).
* Per-row DQDL conditions (``ColumnValues``, ``DataFreshness``) import as ``satisfies`` with the
  same SQL predicate the evaluator uses.

What has no exact counterpart is returned in ``skipped`` with the reason (never dropped
silently): e.g. quantiles, histograms, ``hasDataType``; ``or`` composites, dynamic thresholds,
CustomSql, multi-dataset rules and ``now()`` dates on import. DQDL has no check levels: every
exported rule gates.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lakeforge.errors import ConfigError
from quality.dqdl.model import (
    CompositeRule,
    Condition,
    DateValue,
    Number,
    Rule,
    Ruleset,
    StringValue,
)
from quality.dqdl.rules import column_values_sql, freshness_sql, sql_column

_ASSERTION = re.compile(r"^\s*(==|=|!=|>=|<=|>|<)\s*(-?[0-9.eE+-]+)\s*$")
_BETWEEN = re.compile(r"^\s*between\s+(-?[0-9.eE+-]+)\s+and\s+(-?[0-9.eE+-]+)\s*$", re.I)


@dataclass
class Conversion:
    """The converted document and what could not be converted (entry, reason)."""

    result: Any
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _conditions(assertion: Any, default: float | None = None) -> list[Condition]:
    """A suite assertion -> DQDL number conditions (one, or two for an inclusive between)."""
    if assertion is None:
        if default is None:
            raise ValueError("needs an assertion")
        return [Condition("=", (Number(default),))]
    if isinstance(assertion, (int, float)) and not isinstance(assertion, bool):
        return [Condition("=", (Number(float(assertion)),))]
    text = str(assertion)
    m = _ASSERTION.match(text)
    if m:
        op = "=" if m.group(1) == "==" else m.group(1)
        return [Condition(op, (Number(float(m.group(2))),))]
    m = _BETWEEN.match(text)
    if m:
        return [Condition(">=", (Number(float(m.group(1))),)),
                Condition("<=", (Number(float(m.group(2))),))]
    raise ValueError(f"assertion {text!r} is not understood")


def _rules(rule_type: str, params: tuple[str, ...], conditions: list[Condition],
           where: str | None) -> Rule | CompositeRule:
    rules = [Rule(rule_type, params, c, where) for c in conditions]
    return rules[0] if len(rules) == 1 else CompositeRule("and", tuple(rules))


def _custom_sql(select: str, conditions: list[Condition],
                where: str | None) -> Rule | CompositeRule:
    statement = select if where is None else f"{select} where {where}"
    return _rules("CustomSql", (statement,), conditions, None)


_METRIC_RULES = {"hasCompleteness": "Completeness", "hasMean": "Mean", "hasSum": "Sum",
                 "hasStandardDeviation": "StandardDeviation", "hasEntropy": "Entropy",
                 "hasNumberOfDistinctValues": "DistinctValuesCount"}
_COLUMNS_RULES = {"hasUniqueness": "Uniqueness", "hasUniqueValueRatio": "UniqueValueRatio"}


def _export_constraint(method: str, a: Mapping[str, Any]) -> Rule | CompositeRule:
    where = a.get("where")
    if method == "hasSize":
        return _rules("RowCount", (), _conditions(a.get("assertion")), where)
    if method == "hasColumnCount":
        return _rules("ColumnCount", (), _conditions(a.get("assertion")), None)
    if method == "isComplete":
        return Rule("IsComplete", (a["column"],), None, where)
    if method == "isUnique":
        return Rule("IsUnique", (a["column"],), None, where)
    if method == "isPrimaryKey":
        columns = [a["column"], *a.get("columns", [])] if "column" in a else list(a["columns"])
        return Rule("IsPrimaryKey", tuple(columns), None, where)
    if method in _METRIC_RULES:
        return _rules(_METRIC_RULES[method], (a["column"],), _conditions(a.get("assertion")),
                      where)
    if method in _COLUMNS_RULES:
        columns = a["columns"] if isinstance(a["columns"], list) else [a["columns"]]
        if len(columns) != 1:
            raise ValueError("DQDL takes one column here")
        return _rules(_COLUMNS_RULES[method], (columns[0],), _conditions(a.get("assertion")),
                      where)
    if method == "hasCorrelation":
        return _rules("ColumnCorrelation", (a["columnA"], a["columnB"]),
                      _conditions(a.get("assertion")), where)
    if method == "isContainedIn" and "allowed_values" in a:
        values = (StringValue(None, "NULL"), *(StringValue(str(v)) for v in a["allowed_values"]))
        return Rule("ColumnValues", (a["column"],), Condition("in", values), where)
    if method in ("hasMinLength", "hasMaxLength"):
        # not ColumnLength: DQDL takes NULL as length 0 (Glue), the suite leaves NULL out
        fn = "min" if method == "hasMinLength" else "max"
        return _custom_sql(f"select {fn}(length({sql_column(a['column'])})) from primary",
                           _conditions(a.get("assertion")), where)
    if method in ("hasMin", "hasMax"):
        fn = "min" if method == "hasMin" else "max"
        return _custom_sql(f"select {fn}({sql_column(a['column'])}) from primary",
                           _conditions(a.get("assertion")), where)
    if method in ("isNonNegative", "isPositive", "satisfies"):
        if a.get("assertion") is not None:
            raise ValueError("only the default assertion (every row) exports")
        if method == "satisfies":
            bad = f"not coalesce(({a['columnCondition']}), false)"
        else:
            op = ">=" if method == "isNonNegative" else ">"
            bad = f"not (coalesce({sql_column(a['column'])}, 0) {op} 0)"
        filtered = f"({where}) and {bad}" if where else bad
        return _rules("CustomSql", (f"select count(*) from primary where {filtered}",),
                      [Condition("=", (Number(0),))], None)
    if method == "hasPattern":
        pattern = str(a["pattern"])
        if a.get("assertion") is not None or not (pattern.startswith("^")
                                                   and pattern.endswith("$")):
            raise ValueError("only anchored patterns (^...$) with the default assertion export")
        # Deequ counts NULL as not matching, as DQDL's matches does
        return Rule("ColumnValues", (a["column"],),
                    Condition("matches", (StringValue(pattern[1:-1]),)), where)
    raise ValueError("DQDL has no rule with the same verdicts")


def suite_to_dqdl(suite: Mapping[str, Any], source: str = "suite") -> Conversion:
    """A suite mapping (as read from YAML) -> a :class:`Ruleset`; ``skipped`` lists the rest."""
    checks = suite.get("checks")
    if not isinstance(checks, list):
        raise ConfigError(f"{source}: 'checks' must be a list of checks")
    rules: list[Rule | CompositeRule] = []
    skipped: list[tuple[str, str]] = []
    for i, check in enumerate(checks):
        for j, entry in enumerate((check or {}).get("constraints") or []):
            here = f"{source}: checks[{i}].constraints[{j}]"
            if not isinstance(entry, Mapping) or len(entry) != 1:
                raise ConfigError(f"{here} must be one mapping {{method: {{arguments}}}}")
            ((method, args),) = entry.items()
            try:
                rules.append(_export_constraint(method, dict(args or {})))
            except (ValueError, KeyError) as exc:
                skipped.append((f"{here} {method}", str(exc).strip("'")))
    metadata: dict[str, object] = {"Suite": str(suite.get("name") or source)}
    return Conversion(Ruleset(tuple(rules), (), metadata), skipped)


def _assertion_text(condition: Condition) -> list[str]:
    values = [o.value for o in condition.operands if isinstance(o, Number)]
    if len(values) != len(condition.operands):
        raise ValueError("a dynamic or non-numeric threshold has no suite form")
    op = condition.operator
    if op in (">", ">=", "<", "<=", "!="):
        return [f"{op} {values[0]!r}"]
    if op == "=":
        return [f"== {values[0]!r}"]
    if op == "between":
        return [f"> {values[0]!r}", f"< {values[1]!r}"]
    raise ValueError(f"'{op}' has no suite assertion")


def _import_rule(rule: Rule, today: dt.date) -> list[dict[str, Any]]:
    t, p, c = rule.rule_type, rule.parameters, rule.condition
    where = {"where": rule.where} if rule.where else {}
    simple = {v: k for k, v in _METRIC_RULES.items()}
    if t == "RowCount":
        return [{"hasSize": {"assertion": s, **where}} for s in _assertion_text(c)]  # type: ignore[arg-type]
    if t == "ColumnCount":
        return [{"hasColumnCount": {"assertion": s}} for s in _assertion_text(c)]  # type: ignore[arg-type]
    if t in simple:
        return [{simple[t]: {"column": p[0], "assertion": s, **where}}
                for s in _assertion_text(c)]  # type: ignore[arg-type]
    if t in ("Uniqueness", "UniqueValueRatio"):
        method = {v: k for k, v in _COLUMNS_RULES.items()}[t]
        return [{method: {"columns": [p[0]], "assertion": s, **where}}
                for s in _assertion_text(c)]  # type: ignore[arg-type]
    if t == "ColumnCorrelation":
        return [{"hasCorrelation": {"columnA": p[0], "columnB": p[1], "assertion": s, **where}}
                for s in _assertion_text(c)]  # type: ignore[arg-type]
    if t == "IsComplete":
        return [{"isComplete": {"column": p[0], **where}}]
    if t == "IsUnique":
        return [{"isUnique": {"column": p[0], **where}}]
    if t == "IsPrimaryKey":
        return [*({"isComplete": {"column": col, **where}} for col in p),
                {"hasUniqueness": {"columns": list(p), "assertion": "== 1", **where}}]
    if t == "ColumnValues" and c is not None:
        if any(isinstance(o, DateValue) and o.kind == "now" for o in c.operands):
            raise ValueError("now() would be frozen at import time")
        threshold = rule.threshold
        assertion = _assertion_text(threshold) if threshold is not None else ["== 1"]
        sql = column_values_sql(p[0], c, today)
        return [{"satisfies": {"columnCondition": sql, "constraintName": rule.to_dqdl(),
                               "assertion": s, **where}} for s in assertion]
    if t == "DataFreshness" and c is not None:
        threshold = rule.threshold
        assertion = _assertion_text(threshold) if threshold is not None else ["== 1"]
        return [{"satisfies": {"columnCondition": freshness_sql(p[0], c),
                               "constraintName": rule.to_dqdl(), "assertion": s, **where}}
                for s in assertion]
    if t == "ColumnLength" and c is not None:
        # every row's length, NULL as 0 (Glue's ColumnLength), meets the condition; a
        # hasMinLength / hasMaxLength would leave NULL out
        if c.operator not in (">", ">=", "<", "<="):
            raise ValueError(f"ColumnLength {c.operator} has no suite form")
        length = f"length(coalesce({sql_column(p[0])}, ''))"
        return [{"satisfies": {"columnCondition": f"{length} {s}",
                               "constraintName": rule.to_dqdl(), **where}}
                for s in _assertion_text(c)]
    raise ValueError(f"{t} has no suite constraint with the same verdicts")


def dqdl_to_suite(ruleset: Ruleset, name: str, today: dt.date | None = None) -> Conversion:
    """A ruleset -> a suite mapping (one Error check); ``skipped`` lists rules left out."""
    today = today or dt.date.today()
    constraints: list[dict[str, Any]] = []
    skipped: list[tuple[str, str]] = []
    for top in ruleset.rules:
        if isinstance(top, CompositeRule) and any(
                isinstance(r, CompositeRule) and r.operator == "or" for r in [top, *top.rules]):
            skipped.append((top.to_dqdl(), "an 'or' composite has no suite form"))
            continue
        try:
            converted = [entry for leaf in top.leaves() for entry in _import_rule(leaf, today)]
        except (ValueError, IndexError) as exc:
            skipped.append((top.to_dqdl(), str(exc)))
            continue
        constraints.extend(converted)
    suite = {"name": name, "checks": [{"description": name, "level": "Error",
                                       "constraints": constraints}]}
    return Conversion(suite, skipped)


__all__ = ["Conversion", "dqdl_to_suite", "suite_to_dqdl"]
