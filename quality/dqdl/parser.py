"""Parse DQDL text into a :class:`~quality.dqdl.model.Ruleset` (lark, LALR).

Errors are one line naming the source, line, column and what was expected::

    >>> parse_ruleset('Rules = [ RowCount > ]', source="orders.dqdl")
    Traceback (most recent call last):
    DQDLSyntaxError: orders.dqdl line 1, column 22: unexpected ']'; expected a number, ...

After the syntax, each rule is checked against :data:`~quality.dqdl.model.RULE_TYPES` (known type,
parameter count, a condition when the type compares a metric, ``where`` and ``with threshold``
only where Glue allows them), so a bad ruleset fails before Spark starts.
"""

from __future__ import annotations

import functools
import logging
from typing import Any, cast

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from lakeforge.errors import LakeforgeError
from quality.dqdl.grammar import DQDL_GRAMMAR
from quality.dqdl.model import (
    ANALYZER_ONLY,
    RULE_TYPES,
    AnalyzerSpec,
    AnyRule,
    Arithmetic,
    CompositeRule,
    Condition,
    DateValue,
    Duration,
    FunctionCall,
    Number,
    Rule,
    Ruleset,
    Size,
    StringValue,
)

log = logging.getLogger(__name__)


class DQDLSyntaxError(LakeforgeError, ValueError):
    """DQDL text that does not parse: the message names source, line, column and the expected."""


class DQDLRuleError(LakeforgeError, ValueError):
    """A rule that parses but cannot be evaluated (unknown type, wrong parameters, ...)."""


_READABLE = {
    "COMPARATOR": "'>', '>=', '<' or '<='", "EQUAL": "'='", "NEGATION": "'!'",
    "NUMBER": "a number", "QUOTED_STRING": "a quoted string", "IDENTIFIER": "a name",
    "DATE": 'a date "yyyy-mm-dd"', "TIME": "a time", "NOW": "now()",
    "LSQB": "'['", "RSQB": "']'", "LPAR": "'('", "RPAR": "')'", "LBRACE": "'{'",
    "RBRACE": "'}'", "COMMA": "','", "COLON": "':'", "AND": "'and'", "OR": "'or'",
    "NOT": "'not'", "IN": "'in'", "BETWEEN": "'between'", "MATCHES": "'matches'",
    "WHERE": "'where'", "WITH": "'with'", "LABELS": "'labels'", "NULL": "NULL",
    "EMPTY": "EMPTY", "WHITESPACES_ONLY": "WHITESPACES_ONLY", "DOLLAR": "'$'",
    "ADD_OP": "'+' or '-'", "MUL_OP": "'*' or '/'", "MINUS": "'-'",
    "DURATION_UNIT": "days/hours/minutes", "SIZE_UNIT": "B/KB/MB/GB/TB",
    "DATE_OP": "'+' or '-'", "CONNECTED_STRING": "a quoted string",
    "RULES": "'Rules'", "ANALYZERS": "'Analyzers'", "METADATA": "'Metadata'",
    "DATASOURCES": "'DataSources'", "DEFAULTLABELS": "'DefaultLabels'",
}


@functools.lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark(DQDL_GRAMMAR, parser="lalr", propagate_positions=True, maybe_placeholders=False)


def _unquote(token: str) -> str:
    body = token[1:-1]
    return body.replace('\\"', '"').replace("\\\\", "\\")


def _expected(names: Any) -> str:
    readable = sorted({_READABLE.get(n, n.lower() if n.isupper() else repr(n)) for n in names
                       if not n.startswith("__ANON")})
    if len(readable) > 8:
        readable = readable[:8] + ["..."]
    return ", ".join(readable) or "end of input"


def _syntax_error(text: str, exc: UnexpectedInput, source: str) -> DQDLSyntaxError:
    where = f"{source} line {exc.line}, column {exc.column}"
    if isinstance(exc, UnexpectedEOF):
        return DQDLSyntaxError(f"{where}: the ruleset ends early; expected "
                               f"{_expected(exc.expected)}")
    if isinstance(exc, UnexpectedToken):
        got = "end of input" if exc.token.type == "$END" else repr(str(exc.token))
        return DQDLSyntaxError(f"{where}: unexpected {got}; expected "
                               f"{_expected(exc.accepts or exc.expected)}")
    if isinstance(exc, UnexpectedCharacters):
        # lark declares pos_in_stream = None on UnexpectedInput (so mypy sees None), but
        # UnexpectedCharacters always sets it to the lexer's (int) position.
        pos = cast(int, exc.pos_in_stream)
        char = text[pos] if pos < len(text) else ""
        return DQDLSyntaxError(f"{where}: unexpected character {char!r}; expected "
                               f"{_expected(exc.allowed or ())}")
    return DQDLSyntaxError(f"{where}: {exc}")


class _ToModel(Transformer):
    """Lark tree -> model nodes; variables (``name = "x"``) are substituted where used."""

    def __init__(self, source: str) -> None:
        super().__init__()
        self.source = source
        self.variables: dict[str, Any] = {}

    # ---- document
    def start(self, items: list[Any]) -> Ruleset:
        metadata: dict[str, object] = {}
        sources: dict[str, object] = {}
        rules: tuple[AnyRule, ...] = ()
        analyzers: tuple[AnalyzerSpec, ...] = ()
        for kind, value in items:
            if kind == "metadata":
                metadata = value
            elif kind == "data_sources":
                sources = value
            elif kind == "sections":
                rules, analyzers = value
        return Ruleset(rules, analyzers, metadata, sources)

    def sections(self, items: list[Any]) -> tuple[str, Any]:
        rules: tuple[AnyRule, ...] = ()
        analyzers: tuple[AnalyzerSpec, ...] = ()
        for kind, value in items:
            if kind == "rules":
                rules = value
            else:
                analyzers = value
        return ("sections", (rules, analyzers))

    def metadata(self, items: list[Any]) -> tuple[str, Any]:
        return ("metadata", items[0])

    def data_sources(self, items: list[Any]) -> tuple[str, Any]:
        return ("data_sources", items[0])

    def dictionary(self, items: list[Any]) -> dict[str, object]:
        return dict(items)

    def pair(self, items: list[Any]) -> tuple[str, object]:
        value = items[1]
        return _unquote(items[0]), (_unquote(value) if isinstance(value, Token) else value)

    def string_list(self, items: list[Any]) -> list[str]:
        return [_unquote(t) for t in items]

    def variable(self, items: list[Any]) -> tuple[str, Any]:
        self.variables[str(items[0])] = items[1]
        return ("variable", None)

    def default_labels(self, items: list[Any]) -> tuple[str, Any]:
        return ("default_labels", tuple(items))

    def rules(self, items: list[Any]) -> tuple[str, Any]:
        return ("rules", tuple(i for i in items if i is not None))

    def analyzers(self, items: list[Any]) -> tuple[str, Any]:
        return ("analyzers", tuple(i for i in items if i is not None))

    @v_args(meta=True)
    def analyzer(self, meta: Any, items: list[Any]) -> AnalyzerSpec:
        return AnalyzerSpec(str(items[0]), tuple(p[1] for p in items[1:]), meta.line, meta.column)

    # ---- rules
    @v_args(meta=True)
    def dq_rule(self, meta: Any, items: list[Any]) -> Rule:
        rule_type = str(items[0])
        params: list[str] = []
        condition = where = None
        tags: list[tuple[str, Condition]] = []
        labels: tuple[tuple[str, str], ...] = ()
        for item in items[1:]:
            if isinstance(item, tuple) and item and item[0] == "param":
                params.append(item[1])
            elif isinstance(item, Condition):
                condition = item
            elif isinstance(item, tuple) and item[0] == "where":
                where = item[1]
            elif isinstance(item, tuple) and item[0] == "tag":
                tags.append((item[1], item[2]))
            elif isinstance(item, tuple) and item[0] == "labels":
                labels = item[1]
        return Rule(rule_type, tuple(params), condition, where, tuple(tags), labels,
                    meta.line, meta.column)

    def parameter(self, items: list[Any]) -> tuple[str, str]:
        token = items[0]
        if isinstance(token, StringValue):  # $variable
            return ("param", token.value or "")
        if token.type == "CONNECTED_STRING":
            return ("param", _unquote(token.split(None, 1)[1]))
        if token.type in ("QUOTED_STRING", "DATE"):
            return ("param", _unquote(token))
        return ("param", str(token))

    def where(self, items: list[Any]) -> tuple[str, str]:
        return ("where", _unquote(items[0]))

    def labels(self, items: list[Any]) -> tuple[str, Any]:
        return ("labels", tuple(i for i in items if i is not None))

    def label(self, items: list[Any]) -> tuple[str, str]:
        return (_unquote(items[0]), _unquote(items[1]))

    def tag(self, items: list[Any]) -> tuple[str, str, Condition]:
        return ("tag", str(items[0]), items[1])

    @v_args(meta=True)
    def group(self, meta: Any, items: list[Any]) -> AnyRule:
        rule = items[0]
        if len(items) > 1 and isinstance(items[1], tuple) and items[1][0] == "labels":
            if isinstance(rule, CompositeRule):
                return CompositeRule(rule.operator, rule.rules, items[1][1], rule.line,
                                     rule.column)
            return Rule(rule.rule_type, rule.parameters, rule.condition, rule.where, rule.tags,
                        items[1][1], rule.line, rule.column)
        return rule

    def _composite(self, operator: str, meta: Any, items: list[Any]) -> CompositeRule:
        left, right = items[0], items[2]
        # a chain "(a) and (b) and (c)" is one composite of three, as Glue prints it
        parts = (left.rules if isinstance(left, CompositeRule) and left.operator == operator
                 and not left.labels else (left,)) + (right,)
        return CompositeRule(operator, parts, (), meta.line, meta.column)

    @v_args(meta=True)
    def and_composite(self, meta: Any, items: list[Any]) -> CompositeRule:
        return self._composite("and", meta, items)

    @v_args(meta=True)
    def or_composite(self, meta: Any, items: list[Any]) -> CompositeRule:
        return self._composite("or", meta, items)

    # ---- conditions
    def between(self, items: list[Any]) -> Condition:
        negated = isinstance(items[0], Token) and items[0].type == "NOT"
        ops = [i for i in items if not isinstance(i, Token)]
        return Condition("not between" if negated else "between", (ops[0], ops[1]))

    def compare(self, items: list[Any]) -> Condition:
        return Condition(str(items[0]), (items[1],))

    def equals(self, items: list[Any]) -> Condition:
        negated = isinstance(items[0], Token) and items[0].type == "NEGATION"
        return Condition("!=" if negated else "=", (items[-1],))

    def in_list(self, items: list[Any]) -> Condition:
        negated = isinstance(items[0], Token) and items[0].type == "NOT"
        ops: list[Any] = []
        for op in items:
            if isinstance(op, Token):
                continue
            ops.extend(op.value if isinstance(op, _ListValue) else [op])
        return Condition("not in" if negated else "in", tuple(ops))

    def in_variable(self, items: list[Any]) -> Condition:
        negated = isinstance(items[0], Token) and items[0].type == "NOT"
        value = items[-1]
        ops = value.value if isinstance(value, _ListValue) else [value]
        return Condition("not in" if negated else "in", tuple(ops))

    def matches(self, items: list[Any]) -> Condition:
        negated = isinstance(items[0], Token) and items[0].type == "NOT"
        return Condition("not matches" if negated else "matches",
                         (StringValue(_unquote(items[-1])),))

    # ---- operands
    def string_value(self, items: list[Any]) -> Any:
        token = items[0]
        if not isinstance(token, Token):
            return token  # a substituted variable
        if token.type == "QUOTED_STRING":
            return StringValue(_unquote(token))
        return StringValue(None, token.upper())

    def string_array(self, items: list[Any]) -> _ListValue:
        return _ListValue(tuple(items))

    def var_ref(self, items: list[Any]) -> Any:
        name = str(items[0])
        if name not in self.variables:
            raise DQDLRuleError(f"{self.source} line {items[0].line}, column {items[0].column}: "
                                f"variable ${name} is not declared; declare it before the "
                                f"rules: {name} = \"...\"")
        return self.variables[name]

    def date_literal(self, items: list[Any]) -> DateValue:
        return DateValue("date", _unquote(items[0]))

    def time_literal(self, items: list[Any]) -> DateValue:
        return DateValue("time", _unquote(items[0]))

    def now(self, items: list[Any]) -> DateValue:
        return DateValue("now")

    def now_offset(self, items: list[Any]) -> DateValue:
        return DateValue("now", "", str(items[1]), _integer(items[2]), str(items[3]))

    def duration(self, items: list[Any]) -> Duration:
        return Duration(_integer(items[0]), str(items[1]))

    def size(self, items: list[Any]) -> Size:
        return Size(_integer(items[0]), str(items[1]))

    def arithmetic(self, items: list[Any]) -> Arithmetic:
        return Arithmetic(items[0], str(items[1]), items[2])

    def number(self, items: list[Any]) -> Number:
        return Number(float(items[0]))

    def negative_number(self, items: list[Any]) -> Number:
        return Number(-float(items[0]))

    def function_call(self, items: list[Any]) -> FunctionCall:
        return FunctionCall(str(items[0]).lower(), tuple(i for i in items[1:] if i is not None))


class _ListValue:
    """A variable holding a list (``allowed = ["a", "b"]``), spread into ``in $allowed``."""

    def __init__(self, value: tuple[Any, ...]) -> None:
        self.value = value


def _integer(token: Token) -> int:
    value = float(token)
    if not value.is_integer():
        raise DQDLSyntaxError(f"line {token.line}, column {token.column}: {token} must be a "
                              f"whole number")
    return int(value)


def parse_ruleset(text: str, source: str = "ruleset") -> Ruleset:
    """Parse and check a DQDL document; ``source`` names it in error messages."""
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(text, exc, source) from None
    transformer = _ToModel(source)
    try:
        ruleset = transformer.transform(tree)
    except Exception as exc:  # lark wraps errors raised in callbacks
        inner = getattr(exc, "orig_exc", exc)
        if isinstance(inner, LakeforgeError):
            raise inner from None
        raise
    check_ruleset(ruleset, source)
    log.debug("parsed %s: %d rules, %d analyzers", source, len(ruleset.rules),
              len(ruleset.analyzers))
    return ruleset


def check_ruleset(ruleset: Ruleset, source: str = "ruleset") -> None:
    """Raise :class:`DQDLRuleError` for the first rule Glue would reject."""
    for top in ruleset.rules:
        for rule in top.leaves():
            _check_rule(rule, source)
    for analyzer in ruleset.analyzers:
        spec = RULE_TYPES.get(analyzer.analyzer_type) or ANALYZER_ONLY.get(
            analyzer.analyzer_type)
        where = f"{source} line {analyzer.line}, column {analyzer.column}"
        if spec is None or not spec.analyzer:
            known = sorted([n for n, t in RULE_TYPES.items() if t.analyzer] + list(ANALYZER_ONLY))
            raise DQDLRuleError(f"{where}: {analyzer.analyzer_type} is not an analyzer; "
                                f"choose one of {', '.join(known)}")
        _check_parameters(spec.name, spec.min_parameters, spec.max_parameters,
                          len(analyzer.parameters), where)


def _check_parameters(name: str, low: int, high: int, given: int, where: str) -> None:
    if not low <= given <= high:
        wanted = str(low) if low == high else f"{low} to {high}"
        raise DQDLRuleError(f"{where}: {name} takes {wanted} parameter(s), got {given}")


def _check_rule(rule: Rule, source: str) -> None:
    where = f"{source} line {rule.line}, column {rule.column}"
    spec = RULE_TYPES.get(rule.rule_type)
    if spec is None:
        raise DQDLRuleError(f"{where}: unknown rule type {rule.rule_type!r}; choose one of "
                            f"{', '.join(sorted(RULE_TYPES))}")
    _check_parameters(rule.rule_type, spec.min_parameters, spec.max_parameters,
                      len(rule.parameters), where)
    if spec.condition in ("number", "values", "duration", "type") and rule.condition is None:
        raise DQDLRuleError(f"{where}: {rule.rule_type} needs a condition "
                            f"(e.g. {rule.rule_type} ... > 0.9)")
    if spec.condition == "none" and rule.condition is not None:
        raise DQDLRuleError(f"{where}: {rule.rule_type} takes no condition")
    if rule.where is not None and not spec.where:
        raise DQDLRuleError(f"{where}: {rule.rule_type} does not support a where clause")
    for name, tag_condition in rule.tags:
        if name != "threshold":
            raise DQDLRuleError(f"{where}: unknown tag 'with {name}'; only 'with threshold'")
        if not spec.threshold:
            raise DQDLRuleError(f"{where}: {rule.rule_type} does not support 'with threshold'")
        if tag_condition.operator not in (">", ">=", "<", "<=", "=", "between") or not all(
                isinstance(o, Number) for o in tag_condition.operands):
            raise DQDLRuleError(f"{where}: 'with threshold' takes a number comparison "
                                f"(e.g. with threshold > 0.9)")
    condition = rule.condition
    if condition is None:
        return
    numeric = all(isinstance(o, (Number, FunctionCall, Arithmetic)) for o in condition.operands)
    if spec.condition == "number" and (not numeric or condition.operator.endswith("matches")):
        raise DQDLRuleError(f"{where}: {rule.rule_type} compares a number; got "
                            f"'{condition.to_dqdl()}'")
    if spec.condition == "duration" and not all(isinstance(o, Duration)
                                                for o in condition.operands):
        raise DQDLRuleError(f"{where}: {rule.rule_type} compares an age (e.g. <= 24 hours); got "
                            f"'{condition.to_dqdl()}'")
    if spec.condition == "type" and not (condition.operator in ("=", "!=", "in", "not in")
                                         and all(isinstance(o, StringValue) and o.value
                                                 for o in condition.operands)):
        raise DQDLRuleError(f"{where}: ColumnDataType takes = \"TYPE\", != \"TYPE\" or "
                            f"(not) in [\"TYPE\", ...]")
    if condition.is_dynamic and spec.condition not in ("number", "optional-number"):
        raise DQDLRuleError(f"{where}: dynamic thresholds (last(k), avg(...)) only apply to "
                            f"rules that compare one metric")
