"""The parsed form of a DQDL ruleset and its DQDL text (``to_dqdl``).

Every node renders back to DQDL, so a parsed ruleset prints as a ruleset, a rule's ``Rule`` field
in the outcomes is its DQDL text, and a YAML suite exports to DQDL through the same nodes.
:data:`RULE_TYPES` is the catalog of the rule types evaluated here (parameters, what their
condition compares, ``where`` / ``with threshold`` support, row-level results).
"""

from __future__ import annotations

from dataclasses import dataclass, field


def quote(text: str) -> str:
    """A DQDL quoted string (``"`` and ``\\`` escaped)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


@dataclass(frozen=True)
class Number:
    value: float

    def to_dqdl(self) -> str:
        return _number_text(self.value)


@dataclass(frozen=True)
class FunctionCall:
    """``last(10)``, ``avg(last(10))``, ``index(last(3), 1)``: answered from the metric history."""

    name: str
    arguments: tuple[NumberExpression, ...]

    def to_dqdl(self) -> str:
        return f"{self.name}({', '.join(a.to_dqdl() for a in self.arguments)})"


@dataclass(frozen=True)
class Arithmetic:
    left: NumberExpression
    operator: str
    right: NumberExpression

    def to_dqdl(self) -> str:
        right = self.right.to_dqdl()
        if isinstance(self.right, Arithmetic):
            right = f"({right})"
        return f"{self.left.to_dqdl()} {self.operator} {right}"


NumberExpression = Number | FunctionCall | Arithmetic


@dataclass(frozen=True)
class StringValue:
    """A quoted string or one of the keywords ``NULL``, ``EMPTY``, ``WHITESPACES_ONLY``."""

    value: str | None
    keyword: str | None = None  # "NULL", "EMPTY", "WHITESPACES_ONLY"

    def to_dqdl(self) -> str:
        return self.keyword if self.keyword else quote(self.value or "")


@dataclass(frozen=True)
class DateValue:
    """``"2024-01-01"``, ``now()``, ``(now() - 3 days)`` or a time ``"10:30 AM"``."""

    kind: str  # "date", "time", "now"
    text: str = ""
    offset_sign: str = ""
    offset_amount: int = 0
    offset_unit: str = ""

    def to_dqdl(self) -> str:
        if self.kind == "now":
            if self.offset_sign:
                return f"(now() {self.offset_sign} {self.offset_amount} {self.offset_unit})"
            return "now()"
        return quote(self.text)


@dataclass(frozen=True)
class Duration:
    amount: int
    unit: str  # days, hours, minutes

    @property
    def hours(self) -> float:
        return {"days": 24.0, "hours": 1.0, "minutes": 1 / 60}[self.unit] * self.amount

    def to_dqdl(self) -> str:
        return f"{self.amount} {self.unit}"


@dataclass(frozen=True)
class Size:
    amount: int
    unit: str

    def to_dqdl(self) -> str:
        return f"{self.amount} {self.unit}"


Operand = Number | FunctionCall | Arithmetic | StringValue | DateValue | Duration | Size

OPERATORS = ("=", "!=", ">", ">=", "<", "<=", "between", "not between", "in", "not in",
             "matches", "not matches")


@dataclass(frozen=True)
class Condition:
    """An operator and its operands (two for ``between``, the list for ``in``)."""

    operator: str
    operands: tuple[Operand, ...]

    def to_dqdl(self) -> str:
        ops = self.operands
        if self.operator.endswith("between"):
            return f"{self.operator} {ops[0].to_dqdl()} and {ops[1].to_dqdl()}"
        if self.operator.endswith("in"):
            return f"{self.operator} [{', '.join(o.to_dqdl() for o in ops)}]"
        return f"{self.operator} {ops[0].to_dqdl()}"

    @property
    def is_dynamic(self) -> bool:
        return any(_has_function(o) for o in self.operands)


def _has_function(operand: Operand) -> bool:
    if isinstance(operand, FunctionCall):
        return True
    if isinstance(operand, Arithmetic):
        return _has_function(operand.left) or _has_function(operand.right)
    return False


@dataclass(frozen=True)
class Rule:
    """One rule: ``ColumnValues "a" in ["x", "y"] where "b > 0" with threshold > 0.9``."""

    rule_type: str
    parameters: tuple[str, ...] = ()
    condition: Condition | None = None
    where: str | None = None
    tags: tuple[tuple[str, Condition], ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    line: int = 0
    column: int = 0

    @property
    def threshold(self) -> Condition | None:
        return next((c for name, c in self.tags if name == "threshold"), None)

    def to_dqdl(self) -> str:
        parts = [self.rule_type, *(quote(p) for p in self.parameters)]
        if self.condition is not None:
            parts.append(self.condition.to_dqdl())
        if self.where is not None:
            parts.append(f"where {quote(self.where)}")
        if self.labels:
            parts.append(_labels_text(self.labels))
        parts.extend(f"with {name} {c.to_dqdl()}" for name, c in self.tags)
        return " ".join(parts)

    def leaves(self) -> list[Rule]:
        return [self]


@dataclass(frozen=True)
class CompositeRule:
    """``(A) and (B)``, ``(A) or (B)``: each side is a rule or a composite."""

    operator: str  # "and" / "or"
    rules: tuple[AnyRule, ...]
    labels: tuple[tuple[str, str], ...] = ()
    line: int = 0
    column: int = 0

    def to_dqdl(self) -> str:
        text = f" {self.operator} ".join(f"({r.to_dqdl()})" for r in self.rules)
        return f"{text} {_labels_text(self.labels)}" if self.labels else text

    def leaves(self) -> list[Rule]:
        return [leaf for r in self.rules for leaf in r.leaves()]


AnyRule = Rule | CompositeRule


def _labels_text(labels: tuple[tuple[str, str], ...]) -> str:
    return "labels = [" + ", ".join(f"{quote(k)}={quote(v)}" for k, v in labels) + "]"


@dataclass(frozen=True)
class AnalyzerSpec:
    """One entry of ``Analyzers = [...]``: a rule type without a condition."""

    analyzer_type: str
    parameters: tuple[str, ...] = ()
    line: int = 0
    column: int = 0

    def to_dqdl(self) -> str:
        return " ".join([self.analyzer_type, *(quote(p) for p in self.parameters)])


@dataclass(frozen=True)
class Ruleset:
    """A parsed DQDL document (variables already substituted)."""

    rules: tuple[AnyRule, ...] = ()
    analyzers: tuple[AnalyzerSpec, ...] = ()
    metadata: dict[str, object] = field(default_factory=dict)
    data_sources: dict[str, object] = field(default_factory=dict)

    def to_dqdl(self) -> str:
        out = []
        if self.metadata:
            out.append("Metadata = {" + ", ".join(
                f"{quote(k)}: {_dict_value(v)}" for k, v in self.metadata.items()) + "}")
        if self.data_sources:
            out.append("DataSources = {" + ", ".join(
                f"{quote(k)}: {_dict_value(v)}" for k, v in self.data_sources.items()) + "}")
        if self.rules or not self.analyzers:
            out.append("Rules = [\n" + ",\n".join(f"    {r.to_dqdl()}" for r in self.rules)
                       + ("\n]" if self.rules else "]"))
        if self.analyzers:
            out.append("Analyzers = [\n" + ",\n".join(f"    {a.to_dqdl()}"
                                                      for a in self.analyzers) + "\n]")
        return "\n".join(out) + "\n"


def _dict_value(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(quote(str(v)) for v in value) + "]"
    return quote(str(value))


@dataclass(frozen=True)
class RuleType:
    """What a rule type takes: its parameters, the kind of condition, and what it supports.

    ``condition``: "number" (a metric compared with a number), "values" (per-value conditions:
    numbers, strings, dates), "duration", "type" (a data type name), "none" (no condition),
    "optional-number" (CustomSql: a number, or none for a row-level statement).
    """

    name: str
    min_parameters: int
    max_parameters: int
    condition: str
    where: bool = False
    threshold: bool = False
    row_level: bool = False
    analyzer: bool = True
    multi_dataset: bool = False


RULE_TYPES: dict[str, RuleType] = {t.name: t for t in (
    RuleType("AggregateMatch", 2, 2, "number", multi_dataset=True, analyzer=False),
    RuleType("ColumnCorrelation", 2, 2, "number", where=True),
    RuleType("ColumnCount", 0, 0, "number"),
    RuleType("ColumnDataType", 1, 1, "type", where=True, threshold=True, row_level=True,
             analyzer=False),
    RuleType("ColumnExists", 1, 1, "none", analyzer=False),
    RuleType("ColumnLength", 1, 1, "number", where=True, row_level=True),
    RuleType("ColumnNamesMatchPattern", 1, 1, "none", analyzer=False),
    RuleType("ColumnValues", 1, 1, "values", where=True, threshold=True, row_level=True),
    RuleType("Completeness", 1, 1, "number", where=True, row_level=True),
    RuleType("CustomSql", 1, 1, "optional-number", threshold=True, analyzer=False),
    RuleType("DataFreshness", 1, 1, "duration", where=True, threshold=True, row_level=True,
             analyzer=False),
    RuleType("DatasetMatch", 2, 3, "number", multi_dataset=True, analyzer=False),
    RuleType("DistinctValuesCount", 1, 1, "number", where=True),
    RuleType("Entropy", 1, 1, "number", where=True),
    RuleType("IsComplete", 1, 1, "none", where=True, row_level=True, analyzer=False),
    RuleType("IsPrimaryKey", 1, 64, "none", where=True, row_level=True, analyzer=False),
    RuleType("IsUnique", 1, 1, "none", where=True, row_level=True, analyzer=False),
    RuleType("Mean", 1, 1, "number", where=True),
    RuleType("ReferentialIntegrity", 2, 2, "number", multi_dataset=True, analyzer=False),
    RuleType("RowCount", 0, 0, "number", where=True),
    RuleType("RowCountMatch", 1, 1, "number", multi_dataset=True, analyzer=False),
    RuleType("StandardDeviation", 1, 1, "number", where=True),
    RuleType("Sum", 1, 1, "number", where=True),
    RuleType("SchemaMatch", 1, 1, "number", multi_dataset=True, analyzer=False),
    RuleType("Uniqueness", 1, 1, "number", where=True, row_level=True),
    RuleType("UniqueValueRatio", 1, 1, "number", where=True),
    RuleType("DetectAnomalies", 1, 2, "none", analyzer=False),
)}

ANALYZER_ONLY = {"AllStatistics": RuleType("AllStatistics", 1, 1, "none")}
