"""AWS Glue Data Quality's DQDL, evaluated by the native engine (no Glue, no Deequ jar).

    from quality.dqdl import parse_ruleset, evaluate_ruleset
    ruleset = parse_ruleset('Rules = [ RowCount > 0, IsComplete "id", '
                            'ColumnValues "status" in ["new", "paid"] with threshold > 0.9 ]')
    result = evaluate_ruleset(spark, df, ruleset)
    result.score, result.rules          # Glue's outcome shapes

See docs/dqdl.md for the supported rule types and how they map onto the engine.
"""

from __future__ import annotations

from quality.dqdl.evaluate import (
    DQDLResult,
    EvaluateDataQuality,
    RuleOutcome,
    evaluate_ruleset,
)
from quality.dqdl.model import RULE_TYPES, CompositeRule, Condition, Rule, Ruleset
from quality.dqdl.parser import DQDLRuleError, DQDLSyntaxError, check_ruleset, parse_ruleset

__all__ = [
    "RULE_TYPES", "CompositeRule", "Condition", "DQDLResult", "DQDLRuleError", "DQDLSyntaxError",
    "EvaluateDataQuality", "Rule", "RuleOutcome", "Ruleset", "check_ruleset", "evaluate_ruleset",
    "parse_ruleset",
]
