"""DQDL parser: every construct of the reference, round trips, one-line errors."""

from __future__ import annotations

import pytest

from quality.dqdl import DQDLRuleError, DQDLSyntaxError, parse_ruleset
from quality.dqdl.model import (
    Arithmetic,
    CompositeRule,
    DateValue,
    Duration,
    FunctionCall,
    Number,
    Rule,
    StringValue,
)


def one(text: str) -> Rule | CompositeRule:
    ruleset = parse_ruleset(f"Rules = [ {text} ]")
    assert len(ruleset.rules) == 1
    return ruleset.rules[0]


@pytest.mark.parametrize("text, operator, operands", [
    ("RowCount = 10", "=", (Number(10),)),
    ("RowCount != 10", "!=", (Number(10),)),
    ("RowCount > 10", ">", (Number(10),)),
    ("RowCount >= 10", ">=", (Number(10),)),
    ("RowCount < 10", "<", (Number(10),)),
    ("RowCount <= 10", "<=", (Number(10),)),
    ("Mean \"a\" between -1.5 and 5", "between", (Number(-1.5), Number(5))),
    ("Mean \"a\" not between 1 and 5", "not between", (Number(1), Number(5))),
    ("ColumnValues \"a\" in [1, 2, 3]", "in", (Number(1), Number(2), Number(3))),
    ("ColumnValues \"a\" not in [\"x\", NULL]", "not in",
     (StringValue("x"), StringValue(None, "NULL"))),
    ("ColumnValues \"a\" matches \"[a-z]+\"", "matches", (StringValue("[a-z]+"),)),
    ("ColumnValues \"a\" not matches \"[a-z]+\"", "not matches", (StringValue("[a-z]+"),)),
    ("ColumnValues \"a\" = EMPTY", "=", (StringValue(None, "EMPTY"),)),
    ("ColumnValues \"a\" > \"2024-01-31\"", ">", (DateValue("date", "2024-01-31"),)),
    ("ColumnValues \"a\" <= (now() - 3 days)", "<=", (DateValue("now", "", "-", 3, "days"),)),
    ("DataFreshness \"a\" <= 24 hours", "<=", (Duration(24, "hours"),)),
])
def test_conditions_parse_to_operator_and_operands(text: str, operator: str,
                                                   operands: tuple[object, ...]) -> None:
    rule = one(text)
    assert isinstance(rule, Rule)
    assert rule.condition is not None
    assert rule.condition.operator == operator
    assert rule.condition.operands == operands


def test_where_threshold_and_parameters() -> None:
    rule = one('ColumnValues "status" in ["new", "paid"] where "amount > 0" '
               'with threshold >= 0.9')
    assert isinstance(rule, Rule)
    assert rule.parameters == ("status",)
    assert rule.where == "amount > 0"
    assert rule.threshold is not None and rule.threshold.operator == ">="
    assert rule.threshold.operands == (Number(0.9),)


def test_dynamic_rule_is_arithmetic_over_function_calls() -> None:
    rule = one("RowCount > avg(last(10)) * 0.9 + 1")
    assert isinstance(rule, Rule) and rule.condition is not None
    expr = rule.condition.operands[0]
    last = FunctionCall("last", (Number(10),))
    assert expr == Arithmetic(Arithmetic(FunctionCall("avg", (last,)), "*", Number(0.9)),
                              "+", Number(1))
    assert rule.condition.is_dynamic


def test_and_binds_tighter_than_or_and_parentheses_group() -> None:
    rule = one('(IsComplete "a") or (IsComplete "b") and (IsUnique "c")')
    assert isinstance(rule, CompositeRule) and rule.operator == "or"
    assert isinstance(rule.rules[1], CompositeRule) and rule.rules[1].operator == "and"
    grouped = one('((IsComplete "a") or (IsComplete "b")) and (IsUnique "c")')
    assert isinstance(grouped, CompositeRule) and grouped.operator == "and"
    chain = one('(IsComplete "a") and (IsComplete "b") and (IsComplete "c")')
    assert isinstance(chain, CompositeRule) and len(chain.rules) == 3


def test_connector_word_and_variables_and_sections() -> None:
    ruleset = parse_ruleset('''
        Metadata = {"Version": "1.0"}
        allowed = ["new", "paid"]
        # a comment
        Rules = [
            ColumnCorrelation "a" and "b" > 0.5,
            ColumnValues "s" in $allowed,
            IsComplete "a" and IsComplete "b"
        ]
        Analyzers = [ RowCount, Completeness "a" ]
    ''')
    corr, values, composite = ruleset.rules
    assert isinstance(corr, Rule) and corr.parameters == ("a", "b")
    assert isinstance(values, Rule) and values.condition is not None
    assert values.condition.operands == (StringValue("new"), StringValue("paid"))
    assert isinstance(composite, CompositeRule) and composite.operator == "and"
    assert ruleset.metadata == {"Version": "1.0"}
    assert [a.analyzer_type for a in ruleset.analyzers] == ["RowCount", "Completeness"]


def test_to_dqdl_round_trips() -> None:
    text = '''Rules = [
        RowCount between avg(last(3)) - 1 and max(last(3)),
        (IsComplete "a") and ((Mean "b" > 1) or (Sum "b" < 10 where "c = 'x'")),
        ColumnValues "d" not in ["x", NULL, EMPTY] with threshold > 0.8,
        ColumnValues "e" >= (now() - 2 hours),
        DataFreshness "e" between 1 days and 3 days,
        CustomSql "select count(*) from primary" > 0,
        ColumnValues "q\\"uote" = "it\\"s"
    ]'''
    ruleset = parse_ruleset(text)
    again = parse_ruleset(ruleset.to_dqdl())
    assert again.to_dqdl() == ruleset.to_dqdl()
    last = ruleset.rules[-1]
    assert isinstance(last, Rule) and last.parameters == ('q"uote',)


def test_empty_rules_section_parses_to_no_rules() -> None:
    assert parse_ruleset("Rules = [ ]").rules == ()


@pytest.mark.parametrize("text, fragment", [
    ("Rules = [ RowCount > ]", "line 1, column 22: unexpected ']'; expected"),
    ("Rules = [ RowCount > 5", "unexpected end of input; expected"),
    ("Rules = [\n  IsComplete \"a\" @ ]", "line 2, column 18: unexpected character '@'"),
    ("", "line 1, column 1: unexpected end of input; expected 'Analyzers'"),
    ("Rules = [ Mean \"a\" between 1 5 ]", "unexpected '5'; expected"),
    ("Rules = [ ColumnValues \"a\" in [\"x\" \"y\"] ]", "unexpected '\"y\"'"),
])
def test_syntax_errors_name_line_column_and_expected(text: str, fragment: str) -> None:
    with pytest.raises(DQDLSyntaxError) as info:
        parse_ruleset(text, source="t.dqdl")
    message = str(info.value)
    assert message.startswith("t.dqdl line ")
    assert fragment in message
    assert "\n" not in message


@pytest.mark.parametrize("text, fragment", [
    ('Rules = [ Foo "a" ]', "unknown rule type 'Foo'"),
    ('Rules = [ Mean "a" ]', "Mean needs a condition"),
    ('Rules = [ IsComplete "a" "b" ]', "IsComplete takes 1 parameter(s), got 2"),
    ('Rules = [ RowCount > 5 with threshold > 0.5 ]', "does not support 'with threshold'"),
    ('Rules = [ RowCount > 5 where "a > 1" with foo > 1 ]', "unknown tag 'with foo'"),
    ('Rules = [ ColumnCount > 5 where "a > 1" ]', "does not support a where clause"),
    ('Rules = [ ColumnValues "a" in $nope ]', "variable $nope is not declared"),
    ('Rules = [ Mean "a" matches "x" ]', "Mean compares a number"),
    ('Rules = [ DataFreshness "a" > 3 ]', "compares an age"),
    ('Rules = [ IsComplete "a" > 1 ]', "IsComplete takes no condition"),
    ('Analyzers = [ IsComplete "a" ]', "IsComplete is not an analyzer"),
])
def test_rule_errors_name_the_rule_and_position(text: str, fragment: str) -> None:
    with pytest.raises(DQDLRuleError) as info:
        parse_ruleset(text, source="t.dqdl")
    assert fragment in str(info.value)
    assert str(info.value).startswith("t.dqdl line 1, column ")
