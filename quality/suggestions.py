"""``ConstraintSuggestionRunner`` with Deequ's rules and rule sets.

Rules look at a column profile and the number of records: ``shouldBeApplied(profile,
numRecords)`` and ``candidate(profile, numRecords)`` -> ConstraintSuggestion whose
``codeForConstraint`` is Deequ's Scala snippet (``.isComplete("id")``). Rule sets:
``Rules.DEFAULT``, ``Rules.STRING``, ``Rules.NUMERICAL``, ``Rules.COMMON``, ``Rules.EXTENDED``;
PyDeequ's
``DEFAULT()`` style works too.

Example::

    result = (ConstraintSuggestionRunner(spark).onData(df)
              .addConstraintRule(DEFAULT()).run())
    result["constraint_suggestions"]   # PyDeequ's JSON shape
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from statistics import NormalDist
from typing import TYPE_CHECKING, Any, ClassVar

from quality._format import java_double
from quality.profiles import (
    ColumnProfilerRunner,
    ColumnProfiles,
    NumericColumnProfile,
    StandardColumnProfile,
    StringColumnProfile,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


@dataclass(frozen=True)
class ConfidenceInterval:
    lowerBound: float
    upperBound: float


def _z(confidence: float) -> float:
    return NormalDist().inv_cdf(1 - (1 - confidence) / 2)


def _validate(pHat: float, confidence: float) -> None:
    if not 0.0 <= pHat <= 1.0:
        raise ValueError("pHat must be between 0.0 and 1.0")
    if not 0.0 <= confidence <= 1.0:
        raise ValueError("confidence must be between 0.0 and 1.0")


class WaldIntervalStrategy:
    """Normal approximation interval p +- z sqrt(p(1-p)/n), clamped to [0, 1]."""

    def calculateTargetConfidenceInterval(self, pHat: float, numRecords: int,
                                          confidence: float = 0.95) -> ConfidenceInterval:
        _validate(pHat, confidence)
        half = _z(confidence) * math.sqrt(pHat * (1 - pHat) / numRecords)
        return ConfidenceInterval(max(0.0, pHat - half), min(1.0, pHat + half))


class WilsonScoreIntervalStrategy:
    """Wilson score interval (better than Wald near 0 and 1 and for small n)."""

    def calculateTargetConfidenceInterval(self, pHat: float, numRecords: int,
                                          confidence: float = 0.95) -> ConfidenceInterval:
        _validate(pHat, confidence)
        z, n = _z(confidence), float(numRecords)
        denominator = 1 + z * z / n
        center = (pHat + z * z / (2 * n)) / denominator
        half = z / denominator * math.sqrt(pHat * (1 - pHat) / n + z * z / (4 * n * n))
        return ConfidenceInterval(max(0.0, center - half), min(1.0, center + half))


@dataclass(frozen=True)
class ConstraintSuggestion:
    constraint_name: str
    column_name: str
    current_value: str
    description: str
    suggesting_rule: str
    rule_description: str
    codeForConstraint: str

    def to_json(self) -> dict[str, str]:
        return {"constraint_name": self.constraint_name, "column_name": self.column_name,
                "current_value": self.current_value, "description": self.description,
                "suggesting_rule": self.suggesting_rule,
                "rule_description": self.rule_description,
                "code_for_constraint": self.codeForConstraint}


def _has_histogram_of_categories(profile: StandardColumnProfile) -> bool:
    """Deequ 2.0.7's categorical rules apply to String and Integral columns only (a boolean
    column gets no IS IN suggestion)."""
    return profile.histogram is not None and profile.dataType in ("String", "Integral")


def _sql_values(values: Iterable[str]) -> str:
    """Deequ's categoriesSql: ``'a', 'it''s'``."""
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def _quoted(values: Iterable[str]) -> str:
    return ", ".join('"' + v.replace('"', '\\"') + '"' for v in values)


class ConstraintRule(ABC):
    """Base of the rules: ``shouldBeApplied`` and ``candidate``."""

    ruleDescription = ""

    @abstractmethod
    def shouldBeApplied(self, profile: StandardColumnProfile, numRecords: int) -> bool:
        """Whether the profile of a column (of ``numRecords`` rows) supports this rule."""

    @abstractmethod
    def candidate(self, profile: StandardColumnProfile, numRecords: int) -> ConstraintSuggestion:
        """The suggestion for a column this rule applies to."""

    def _suggest(self, profile: StandardColumnProfile, name: str, current: str,
                 description: str, code: str) -> ConstraintSuggestion:
        return ConstraintSuggestion(name, profile.column, current, description,
                                    f"{type(self).__name__}()", self.ruleDescription, code)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class CompleteIfCompleteRule(ConstraintRule):
    ruleDescription = "If a column is complete in the sample, we suggest a NOT NULL constraint"

    def shouldBeApplied(self, profile: StandardColumnProfile, numRecords: int) -> bool:
        return profile.completeness == 1.0

    def candidate(self, profile: StandardColumnProfile, numRecords: int) -> ConstraintSuggestion:
        c = profile.column
        return self._suggest(profile, f"CompletenessConstraint(Completeness({c},None,None))",
                             "Completeness: 1.0", f"'{c}' is not null", f'.isComplete("{c}")')


class RetainCompletenessRule(ConstraintRule):
    ruleDescription = ("If a column is incomplete in the sample, we model its completeness as a "
                       "binomial variable, estimate a confidence interval and use this to "
                       "define a lower bound for the completeness")

    def __init__(self, minCompleteness: float = 0.2, maxCompleteness: float = 1.0,
                 intervalStrategy: Any = None) -> None:
        self.minCompleteness = minCompleteness
        self.maxCompleteness = maxCompleteness
        # Deequ's default is the Wald interval ('c' of PyDeequ's README frame: p=2/3, n=3 ->
        # `_ >= 0.13`, as Deequ 2.0.7 and 2.1.0 suggest; Wilson would give 0.2).
        self.intervalStrategy = intervalStrategy or WaldIntervalStrategy()

    def shouldBeApplied(self, profile: StandardColumnProfile, numRecords: int) -> bool:
        value = profile.completeness
        return value is not None and self.minCompleteness < value < self.maxCompleteness

    def candidate(self, profile: StandardColumnProfile, numRecords: int) -> ConstraintSuggestion:
        c = profile.column
        interval = self.intervalStrategy.calculateTargetConfidenceInterval(
            float(profile.completeness), numRecords)
        target = math.floor(interval.lowerBound * 100) / 100
        bound = java_double(target)
        missing = int(round(100 - target * 100))
        return self._suggest(
            profile, f"CompletenessConstraint(Completeness({c},None,None))",
            f"Completeness: {java_double(float(profile.completeness))}",
            f"'{c}' has less than {missing}% missing values",
            f'.hasCompleteness("{c}", _ >= {bound}, Some("It should be above {bound}!"))')


class RetainTypeRule(ConstraintRule):
    ruleDescription = "If we detect a non-string type, we suggest a type constraint"

    def shouldBeApplied(self, profile: StandardColumnProfile, numRecords: int) -> bool:
        return profile.isDataTypeInferred and profile.dataType in ("Integral", "Fractional",
                                                                   "Boolean")

    def candidate(self, profile: StandardColumnProfile, numRecords: int) -> ConstraintSuggestion:
        c, t = profile.column, profile.dataType
        return self._suggest(profile, f"AnalysisBasedConstraint(DataType({c},None))",
                             f"DataType: {t}", f"'{c}' has type {t}",
                             f'.hasDataType("{c}", ConstrainableDataTypes.{t})')


class CategoricalRangeRule(ConstraintRule):
    ruleDescription = ("If we see a categorical range for a column, we suggest an IS IN (...) "
                       "constraint")

    def shouldBeApplied(self, profile: StandardColumnProfile, numRecords: int) -> bool:
        if not _has_histogram_of_categories(profile):
            return False
        values = profile.histogram.values  # type: ignore[union-attr]
        if not values:
            return False
        unique = sum(1 for v in values.values() if v.absolute == 1)
        return unique / len(values) <= 0.1

    def candidate(self, profile: StandardColumnProfile, numRecords: int) -> ConstraintSuggestion:
        c = profile.column
        items = sorted(((k, v.absolute) for k, v in profile.histogram.values.items()  # type: ignore[union-attr]
                        if k != "NullValue"), key=lambda kv: (-kv[1], kv[0]))
        names = [k for k, _ in items]
        values = _sql_values(names)
        description = f"'{c}' has value range {values}"
        return self._suggest(
            profile, f"ComplianceConstraint(Compliance({description},`{c}` IN ({values}),None,"
            f"List({c}),None))", "Compliance: 1", description,
            f'.isContainedIn("{c}", Array({_quoted(names)}))')


class FractionalCategoricalRangeRule(ConstraintRule):
    ruleDescription = ("If we see a categorical range for most values in a column, we suggest "
                       "an IS IN (...) constraint that should hold for most values")

    def __init__(self, targetDataCoverageFraction: float = 0.9) -> None:
        self.targetDataCoverageFraction = targetDataCoverageFraction

    def _top(self, profile: StandardColumnProfile) -> tuple[list[str], float]:
        """Deequ's getTopCategoriesForFractionalDataCoverage: the most frequent values
        (NullValue included) until they cover the target fraction; (values without
        NullValue, most frequent first, and the fraction they cover with it)."""
        items = sorted(profile.histogram.values.items(),  # type: ignore[union-attr]
                       key=lambda kv: (-kv[1].ratio, kv[0]))
        chosen: list[tuple[str, int]] = []
        coverage = 0.0
        for key, value in items:
            if coverage < self.targetDataCoverageFraction:
                coverage += value.ratio
                chosen.append((key, value.absolute))
        listed = [k for k, _ in sorted(chosen, key=lambda kv: (-kv[1], kv[0]))
                  if k != "NullValue"]
        return listed, coverage

    def shouldBeApplied(self, profile: StandardColumnProfile, numRecords: int) -> bool:
        if not _has_histogram_of_categories(profile):
            return False
        entries = profile.histogram.values  # type: ignore[union-attr]
        if not entries:
            return False
        unique = sum(1 for v in entries.values() if v.absolute == 1)
        _, coverage = self._top(profile)
        return unique / len(entries) <= 0.4 and coverage < 1

    def candidate(self, profile: StandardColumnProfile, numRecords: int) -> ConstraintSuggestion:
        c = profile.column
        chosen, coverage = self._top(profile)
        # Deequ's target: the Wald lower bound of the covered fraction, rounded down to 2
        # decimals (BigDecimal.setScale(2, RoundingMode.DOWN))
        wald = coverage - 1.96 * math.sqrt(coverage * (1 - coverage) / numRecords)
        target = float(Decimal(repr(wald)).quantize(Decimal("0.01"), rounding=ROUND_DOWN))
        bound = java_double(target)
        values = _sql_values(chosen)
        description = (f"'{c}' has value range {values} for at least "
                       f"{java_double(target * 100)}% of values")
        return self._suggest(
            profile, f"ComplianceConstraint(Compliance({description},`{c}` IN ({values}),"
            f"None,List({c}),None))", f"Compliance: {java_double(coverage)}", description,
            f'.isContainedIn("{c}", Array({_quoted(chosen)}), _ >= {bound}, '
            f'Some("It should be above {bound}!"))')


class NonNegativeNumbersRule(ConstraintRule):
    ruleDescription = ("If we see only non-negative numbers in a column, we suggest a "
                       "corresponding constraint")

    def shouldBeApplied(self, profile: StandardColumnProfile, numRecords: int) -> bool:
        return isinstance(profile, NumericColumnProfile) and profile.minimum is not None \
            and profile.minimum >= 0.0

    def candidate(self, profile: StandardColumnProfile, numRecords: int) -> ConstraintSuggestion:
        c = profile.column
        return self._suggest(
            profile, f"ComplianceConstraint(Compliance('{c}' has no negative values))",
            f"Minimum: {java_double(float(profile.minimum))}",  # type: ignore[attr-defined]
            f"'{c}' has no negative values", f'.isNonNegative("{c}")')


class UniqueIfApproximatelyUniqueRule(ConstraintRule):
    ruleDescription = ("If the ratio of approximate num distinct values in a column is close to "
                       "the number of records (within the error of the HLL sketch), we suggest "
                       "a UNIQUE constraint")

    def shouldBeApplied(self, profile: StandardColumnProfile, numRecords: int) -> bool:
        if numRecords == 0:
            return False
        distinctness = profile.approximateNumDistinctValues / numRecords
        return profile.completeness == 1.0 and abs(1.0 - distinctness) <= 0.08

    def candidate(self, profile: StandardColumnProfile, numRecords: int) -> ConstraintSuggestion:
        c = profile.column
        return self._suggest(profile, f"UniquenessConstraint(Uniqueness(List({c}),None,None))",
                             f"ApproxDistinctness: "
                             f"{java_double(profile.approximateNumDistinctValues / numRecords)}",
                             f"'{c}' is unique", f'.isUnique("{c}")')


class _ObservedBoundRule(ConstraintRule):
    """Bound a statistic of a column's profile by its observed value.

    Subclasses name the profile type, the profile field, Deequ's check method and comparison.
    """

    profile_type: ClassVar[type[StandardColumnProfile]] = NumericColumnProfile
    field = ""
    method = ""
    comparison = ""

    def shouldBeApplied(self, profile: StandardColumnProfile, numRecords: int) -> bool:
        return isinstance(profile, self.profile_type) and getattr(profile, self.field) \
            is not None

    def candidate(self, profile: StandardColumnProfile, numRecords: int) -> ConstraintSuggestion:
        c = profile.column
        value = java_double(float(getattr(profile, self.field)))
        return self._suggest(profile, f"{self.method}({c})", f"{self.field}: {value}",
                             f"'{c}' {self.method} {self.comparison} {value}",
                             f'.{self.method}("{c}", _ {self.comparison} {value})')


class HasMin(_ObservedBoundRule):
    ruleDescription = "The minimum of a numeric column should not fall below the observed one"
    field, method, comparison = "minimum", "hasMin", ">="


class HasMax(_ObservedBoundRule):
    ruleDescription = "The maximum of a numeric column should not exceed the observed one"
    field, method, comparison = "maximum", "hasMax", "<="


class HasMean(_ObservedBoundRule):
    ruleDescription = "The mean of a numeric column should stay at the observed one"
    field, method, comparison = "mean", "hasMean", "=="


class HasStandardDeviation(_ObservedBoundRule):
    ruleDescription = "The standard deviation of a numeric column should stay at the observed one"
    field, method, comparison = "stdDev", "hasStandardDeviation", "=="


class HasMinLength(_ObservedBoundRule):
    profile_type = StringColumnProfile
    ruleDescription = "The minimum length of a string column should not fall below the observed"
    field, method, comparison = "minLength", "hasMinLength", ">="


class HasMaxLength(_ObservedBoundRule):
    profile_type = StringColumnProfile
    ruleDescription = "The maximum length of a string column should not exceed the observed"
    field, method, comparison = "maxLength", "hasMaxLength", "<="


class Rules:
    """Deequ's rule sets."""

    DEFAULT: list[ConstraintRule] = [CompleteIfCompleteRule(), RetainCompletenessRule(),
                                     RetainTypeRule(), CategoricalRangeRule(),
                                     FractionalCategoricalRangeRule(), NonNegativeNumbersRule()]
    STRING: list[ConstraintRule] = [HasMinLength(), HasMaxLength()]
    NUMERICAL: list[ConstraintRule] = [HasMin(), HasMax(), HasMean(), HasStandardDeviation()]
    COMMON: list[ConstraintRule] = [UniqueIfApproximatelyUniqueRule()]
    EXTENDED: list[ConstraintRule] = DEFAULT + NUMERICAL + STRING + COMMON


class _RuleSet:
    rules: list[ConstraintRule] = []

    def __iter__(self) -> Any:
        return iter(self.rules)


class DEFAULT(_RuleSet):
    rules = Rules.DEFAULT


class STRING(_RuleSet):
    rules = Rules.STRING


class NUMERICAL(_RuleSet):
    rules = Rules.NUMERICAL


class COMMON(_RuleSet):
    rules = Rules.COMMON


class EXTENDED(_RuleSet):
    rules = Rules.EXTENDED


class ConstraintSuggestionResult(dict):  # type: ignore[type-arg]
    """What PyDeequ's ``ConstraintSuggestionRunner.run()`` returns: a plain dict
    ``{"constraint_suggestions": [{"constraint_name", "column_name", "current_value",
    "description", "suggesting_rule", "rule_description", "code_for_constraint"}, ...]}``, so
    ``print(result)`` and ``json.dumps(result)`` work; Deequ's fields are attributes."""

    def __init__(self, columnProfiles: dict[str, StandardColumnProfile],
                 numRecordsUsedForProfiling: int,
                 constraintSuggestions: dict[str, list[ConstraintSuggestion]]) -> None:
        super().__init__(constraint_suggestions=[
            s.to_json() for suggestions in constraintSuggestions.values() for s in suggestions])
        self.columnProfiles = columnProfiles
        self.numRecordsUsedForProfiling = numRecordsUsedForProfiling
        self.constraintSuggestions = constraintSuggestions

    def to_json(self) -> dict[str, Any]:
        return dict(self)


class ConstraintSuggestionRunBuilder:
    def __init__(self, spark: SparkSession, df: DataFrame) -> None:
        self._spark = spark
        self._df = df
        self._rules: list[ConstraintRule] = []
        self._columns: list[str] | None = None

    def addConstraintRule(self, rule: ConstraintRule | _RuleSet | Iterable[ConstraintRule]
                          ) -> ConstraintSuggestionRunBuilder:
        if isinstance(rule, ConstraintRule):
            self._rules.append(rule)
        else:
            self._rules.extend(rule)
        return self

    addConstraintRules = addConstraintRule

    def restrictToColumns(self, columns: Iterable[str]) -> ConstraintSuggestionRunBuilder:
        self._columns = list(columns)
        return self

    def run(self) -> ConstraintSuggestionResult:
        if not self._rules:
            raise ValueError("add at least one rule, e.g. .addConstraintRule(DEFAULT())")
        builder = ColumnProfilerRunner(self._spark).onData(self._df)
        if self._columns:
            builder = builder.restrictToColumns(self._columns)
        profiles: ColumnProfiles = builder.run()
        suggestions: dict[str, list[ConstraintSuggestion]] = {}
        for column, profile in profiles.profiles.items():
            for rule in self._rules:
                if rule.shouldBeApplied(profile, profiles.numRecords):
                    suggestions.setdefault(column, []).append(
                        rule.candidate(profile, profiles.numRecords))
        return ConstraintSuggestionResult(profiles.profiles, profiles.numRecords, suggestions)


class ConstraintSuggestionRunner:
    """Entry point: ``ConstraintSuggestionRunner(spark).onData(df)``."""

    def __init__(self, spark_session: SparkSession) -> None:
        self._spark = spark_session

    def onData(self, df: DataFrame) -> ConstraintSuggestionRunBuilder:
        return ConstraintSuggestionRunBuilder(self._spark, df)


__all__ = [
    "COMMON", "DEFAULT", "EXTENDED", "NUMERICAL", "STRING", "CategoricalRangeRule",
    "CompleteIfCompleteRule", "ConfidenceInterval", "ConstraintRule", "ConstraintSuggestion",
    "ConstraintSuggestionResult", "ConstraintSuggestionRunner", "FractionalCategoricalRangeRule",
    "HasMax", "HasMaxLength", "HasMean", "HasMin", "HasMinLength", "HasStandardDeviation",
    "NonNegativeNumbersRule", "RetainCompletenessRule", "RetainTypeRule", "Rules",
    "UniqueIfApproximatelyUniqueRule", "WaldIntervalStrategy", "WilsonScoreIntervalStrategy",
]
