"""Automatic configuration for :mod:`transforms.dedup`: column profiles -> column kinds ->
Splink comparisons, and blocking rules chosen from measured block sizes.

Private to the dedup transform; the public entry points live in ``transforms/dedup.py``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F  # noqa: N812
from pyspark.sql import types as T  # noqa: N812

from transforms.casts import cast_or_null

log = logging.getLogger(__name__)

ColumnKind = Literal[
    "forename", "surname", "full_name", "date", "date_string", "postcode", "email", "phone",
    "identifier", "address", "text", "categorical", "number", "boolean",
]

PROFILE_SAMPLE_ROWS = 50_000

_EMAIL = r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$"
_PHONE = r"^\+?[0-9 ().-]{7,20}$"
_DATE_STRING = (
    r"^(1[89]|20)[0-9]{2}-?(0[1-9]|1[0-2])-?(0[1-9]|[12][0-9]|3[01])$"
    r"|^(0?[1-9]|[12][0-9]|3[01])[/.-](0?[1-9]|1[0-2])[/.-](1[89]|20)[0-9]{2}$"
)
_UK_POSTCODE = r"^[a-z]{1,2}[0-9][a-z0-9]? ?[0-9][a-z]{2}$"
_SHORT_CODE = r"^[a-z0-9]{3,8}( [a-z0-9]{2,4})?$"
_DIGITS = r"^[0-9]+$"
_WORDS = r"^[a-z][a-z' .-]*$"

_NAME_HINTS: list[tuple[str, ColumnKind]] = [
    (r"(^|_)(given|first|fore|christian)_?names?($|_)|^f_?name$|^forename", "forename"),
    (r"surname|(^|_)(last|family)_?names?($|_)|^l_?name$", "surname"),
    (r"^(full_?)?name$|_name$|^name_", "full_name"),
    (r"e_?mail", "email"),
    (r"phone|(^|_)tel($|_)|mobile|(^|_)cell($|_)|(^|_)fax($|_)", "phone"),
    (r"post_?code|(^|_)zip|postal", "postcode"),
    (r"birth|(^|_)dob($|_)|date|(^|_)dt($|_)", "date"),
    (r"address|street|(^|_)addr|road|suburb|city|town|locality|county", "address"),
    (r"ssn|soc_?sec|national|passport|licen[cs]e|(^|_)nhs($|_)|(^|_)id$|_no$|number", "identifier"),
]


@dataclass(frozen=True)
class ColumnProfile:
    """Value statistics of one column (over cleaned, lower-cased strings)."""

    name: str
    data_type: str
    rows: int
    non_null: int
    distinct: int
    avg_length: float
    share_email: float
    share_phone: float
    share_date: float
    share_uk_postcode: float
    share_short_code: float
    share_digits: float
    share_words: float
    avg_tokens: float
    top20_share: float = 0.0

    @property
    def null_fraction(self) -> float:
        return 1.0 - self.non_null / self.rows if self.rows else 1.0

    @property
    def distinct_ratio(self) -> float:
        return self.distinct / self.non_null if self.non_null else 0.0


@dataclass(frozen=True)
class ColumnPlan:
    """What the auto-configuration decided for one column."""

    name: str
    kind: ColumnKind
    reason: str
    term_frequencies: bool


def clean_string(col: Column) -> Column:
    """Lower-case, trimmed string with blank values as null."""
    s = F.lower(F.trim(col.cast("string")))
    return F.when(s == "", F.lit(None).cast("string")).otherwise(s)


def profile_columns(df: DataFrame, columns: Sequence[str], rows: int) -> dict[str, ColumnProfile]:
    """One aggregation over (a sample of) ``df`` giving a profile per column."""
    if not columns:
        return {}
    sample = df.select(*[F.col(f"`{c}`") for c in columns])
    if rows > PROFILE_SAMPLE_ROWS:
        sample = sample.sample(fraction=PROFILE_SAMPLE_ROWS / rows, seed=17)
    # Two jobs read the sample: keep it instead of re-reading the source.
    sample = sample.persist()
    try:
        return _profile(df, sample, columns)
    finally:
        sample.unpersist()


def _profile(df: DataFrame, sample: DataFrame, columns: Sequence[str]) -> dict[str, ColumnProfile]:
    # Long form: a row per (sampled row, column), grouped by column, so the plan holds eleven
    # aggregates whatever the number of columns (eleven per column in one wide row made a
    # plan whose generated code took seconds to compile on every run).
    cells = sample.select(F.explode(F.array(*[
        F.struct(F.lit(i).alias("c"), clean_string(F.col(f"`{name}`")).alias("s"))
        for i, name in enumerate(columns)
    ])).alias("p")).select("p.c", "p.s")
    s = F.col("s")

    def share(pattern: str) -> Column:
        return F.sum(F.when(s.rlike(pattern), 1).otherwise(0))

    by_column = {r["c"]: r for r in cells.groupBy("c").agg(
        F.count(F.lit(1)).alias("n"),
        F.count(s).alias("nn"),
        F.approx_count_distinct(s, 0.03).alias("d"),
        F.avg(F.length(s)).alias("len"),
        share(_EMAIL).alias("em"),
        share(_PHONE).alias("ph"),
        share(_DATE_STRING).alias("dt"),
        share(_UK_POSTCODE).alias("pc"),
        share(_SHORT_CODE).alias("sc"),
        share(_DIGITS).alias("dg"),
        share(_WORDS).alias("w"),
        # tokens of the non-null values (size(split(null)) is -1 on Spark 3.5, null on 4)
        F.avg(F.when(s.isNotNull(), F.size(F.split(s, r"\s+")))).alias("tok"),
    ).collect()}
    sampled = int(by_column[0]["n"]) if 0 in by_column else 0
    types = dict(df.dtypes)
    out: dict[str, ColumnProfile] = {}
    for i, name in enumerate(columns):
        stats = by_column[i].asDict() if i in by_column else {}
        nn = int(stats.get("nn") or 0)

        def frac(key: str, nn: int = nn, stats: dict[str, Any] = stats) -> float:
            return float(stats.get(key) or 0) / nn if nn else 0.0

        out[name] = ColumnProfile(
            name=name,
            data_type=types[name],
            rows=sampled,
            non_null=nn,
            distinct=int(stats.get("d") or 0),
            avg_length=float(stats.get("len") or 0.0),
            share_email=frac("em"),
            share_phone=frac("ph"),
            share_date=frac("dt"),
            share_uk_postcode=frac("pc"),
            share_short_code=frac("sc"),
            share_digits=frac("dg"),
            share_words=frac("w"),
            avg_tokens=float(stats.get("tok") or 0.0),
        )
    return _with_top_value_shares(sample, out)


def _with_top_value_shares(
    sample: DataFrame, profiles: dict[str, ColumnProfile]
) -> dict[str, ColumnProfile]:
    """Share of non-null values covered by the 20 commonest ones (categorical columns with a
    few typos still have most rows on a handful of values)."""
    names = [n for n, p in profiles.items() if p.non_null and p.distinct_ratio < 0.05]
    if not names:
        return profiles
    pairs = F.explode(F.array(*[
        F.struct(F.lit(i).alias("c"), clean_string(F.col(f"`{n}`")).alias("v"))
        for i, n in enumerate(names)
    ])).alias("x")
    counts = sample.select(pairs).select("x.c", "x.v").dropna().groupBy("c", "v").count()
    ranked = counts.withColumn(
        "r", F.row_number().over(Window.partitionBy("c").orderBy(F.desc("count")))
    )
    top = ranked.filter("r <= 20").groupBy("c").agg(F.sum("count").alias("top")).collect()
    out = dict(profiles)
    for r in top:
        name = names[int(r["c"])]
        p = profiles[name]
        out[name] = replace(p, top20_share=float(r["top"]) / p.non_null)
    return out


def _hinted_kind(name: str) -> ColumnKind | None:
    norm = re.sub(r"[^a-z0-9]+", "_", re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower())
    for pattern, kind in _NAME_HINTS:
        if re.search(pattern, norm):
            return kind
    return None


def infer_kind(profile: ColumnProfile, field_type: T.DataType) -> tuple[ColumnKind, str] | None:
    """The kind of a column from its type, name and values; None when it cannot help matching."""
    p = profile
    if p.non_null == 0:
        return None
    if p.distinct <= 1:
        return None
    if isinstance(field_type, T.BooleanType):
        return "boolean", "boolean type"
    if isinstance(field_type, (T.DateType, T.TimestampType, T.TimestampNTZType)):
        return "date", f"{p.data_type} type"
    if isinstance(field_type, (T.ArrayType, T.MapType, T.StructType, T.BinaryType)):
        return None
    hint = _hinted_kind(p.name)
    numeric = isinstance(field_type, T.NumericType)
    integral = isinstance(field_type, (T.IntegerType, T.LongType, T.ShortType, T.ByteType))
    low_cardinality = p.distinct <= 20 or p.distinct_ratio < 0.002 or p.top20_share >= 0.9
    if hint == "email" and p.share_email >= 0.5:
        return "email", "name says email, values look like e-mail addresses"
    if hint == "phone" and p.share_phone >= 0.7:
        return "phone", "name says phone, values look like phone numbers"
    if hint == "date" and p.share_date >= 0.7:
        return "date_string", "name says date, values look like dates"
    if hint == "postcode" and (p.share_uk_postcode >= 0.7 or p.share_short_code >= 0.7):
        return "postcode", "name says postcode, values look like postcodes"
    if hint in ("forename", "surname", "full_name") and p.share_words >= 0.7:
        kind: ColumnKind = hint
        if hint == "full_name" and p.avg_tokens < 1.5:
            kind = "surname"
        return kind, f"name says {hint}, values are words"
    codes = integral or p.share_digits >= 0.7 or p.distinct_ratio > 0.5
    if hint == "identifier" and codes and not low_cardinality:
        return "identifier", "name says identifier, values are mostly distinct codes"
    if hint == "address" and p.share_digits >= 0.7 and not low_cardinality:
        return "identifier", "name says address, values are numbers (house numbers)"
    if hint == "address" and p.share_words + p.share_digits >= 0.3 and not low_cardinality:
        return "address", "name says address/place, values are text"
    # No usable name hint: decide from the values alone.
    if low_cardinality:
        return "categorical", f"{p.distinct} distinct values"
    if numeric and not integral:
        return "number", f"{p.data_type} type"
    if p.share_email >= 0.8:
        return "email", "values look like e-mail addresses"
    if p.share_date >= 0.8:
        return "date_string", "values look like dates"
    if p.share_uk_postcode >= 0.8:
        return "postcode", "values look like UK postcodes"
    if p.share_digits >= 0.8:
        if p.share_phone >= 0.8 and p.avg_length >= 9:
            return "phone", "values look like phone numbers"
        if p.distinct_ratio >= 0.3:
            return "identifier", "digit codes, mostly distinct"
        if integral:
            return "number", f"{p.data_type} type"
        return "postcode" if p.avg_length <= 6 else "identifier", "short digit codes"
    if p.share_phone >= 0.8 and p.avg_length >= 9:
        return "phone", "values look like phone numbers"
    if p.share_words >= 0.8 and p.avg_tokens <= 1.3 and p.avg_length <= 14:
        return "full_name", "single words (name-like)"
    if p.avg_length > 40:
        return "text", f"free text, average length {p.avg_length:.0f}"
    return "address", "short free text"


def plan_columns(
    df: DataFrame, columns: Sequence[str], rows: int
) -> tuple[list[ColumnPlan], list[str]]:
    """Decide a kind for each column; returns the plans and the skipped columns with reasons."""
    profiles = profile_columns(df, columns, rows)
    fields = {f.name: f.dataType for f in df.schema.fields}
    plans: list[ColumnPlan] = []
    skipped: list[str] = []
    for name in columns:
        decided = infer_kind(profiles[name], fields[name])
        if decided is None:
            p = profiles[name]
            skipped.append(f"{name} ({p.data_type}, {p.non_null} non-null, {p.distinct} distinct)")
            continue
        kind, reason = decided
        # Term frequencies where a common value is much weaker evidence than a rare one; each
        # costs Splink a table and a join, so not for addresses or small categories.
        tf = kind in ("forename", "surname", "full_name", "postcode")
        plans.append(ColumnPlan(name, kind, reason, tf))
    # Two name columns: forename/surname swaps get their own comparison level.
    kinds = [p.kind for p in plans]
    if "forename" not in kinds and "surname" not in kinds and kinds.count("full_name") == 2:
        first, second = [p for p in plans if p.kind == "full_name"]
        plans[plans.index(first)] = ColumnPlan(first.name, "forename", first.reason, True)
        plans[plans.index(second)] = ColumnPlan(second.name, "surname", second.reason, True)
    return plans, skipped


def prepare_column(col: Column, kind: ColumnKind, field_type: T.DataType) -> Column:
    """The value Splink compares: cleaned text, digits-only phones, native dates and numbers."""
    if kind in ("date", "number", "boolean") and not isinstance(field_type, T.StringType):
        return col
    if kind == "number":
        # Text that is not a number is null on both Spark lines (4.x's ANSI cast would raise).
        return cast_or_null(clean_string(col), T.DoubleType())
    s = clean_string(col)
    if kind == "phone":
        digits = F.regexp_replace(s, r"[^0-9]", "")
        return F.when(F.length(digits) == 0, F.lit(None).cast("string")).otherwise(digits)
    if kind in ("date_string", "postcode", "identifier"):
        # Separators carry no identity: 1980-01-02 = 19800102, "sw1a 1aa" = "sw1a1aa".
        stripped = F.regexp_replace(s, r"[\s/.-]", "")
        return F.when(F.length(stripped) == 0, F.lit(None).cast("string")).otherwise(stripped)
    return s


def comparison_for(plan: ColumnPlan, plans: Sequence[ColumnPlan]) -> Any:
    """The Splink comparison for one planned column."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    c = plan.name
    if plan.kind in ("forename", "surname", "full_name"):
        other = {"forename": "surname", "surname": "forename"}.get(plan.kind)
        partner = next((p.name for p in plans if p.kind == other), None) if other else None
        levels: list[Any] = [
            cll.NullLevel(c),
            cll.ExactMatchLevel(c, term_frequency_adjustments=True),
        ]
        if partner:
            levels.append(
                cll.CustomLevel(
                    f"{c}_l = {partner}_r and {c}_r = {partner}_l",
                    label_for_charts=f"{c} and {partner} swapped",
                )
            )
        levels += [
            cll.JaroWinklerLevel(c, 0.92),
            cll.JaroWinklerLevel(c, 0.8),
            cll.ElseLevel(),
        ]
        return cl.CustomComparison(comparison_levels=levels, output_column_name=c)
    if plan.kind == "date":
        return cl.DateOfBirthComparison(c, input_is_string=False)
    if plan.kind in ("date_string", "identifier", "phone"):
        return cl.DamerauLevenshteinAtThresholds(c, [1, 2])
    if plan.kind == "postcode":
        return cl.DamerauLevenshteinAtThresholds(c, [1, 2]).configure(
            term_frequency_adjustments=True
        )
    if plan.kind == "email":
        return cl.EmailComparison(c)
    if plan.kind == "address":
        return cl.JaroWinklerAtThresholds(c, [0.94, 0.8])
    if plan.kind == "text":
        return cl.JaccardAtThresholds(c, [0.9, 0.7])
    if plan.kind == "number":
        return cl.CustomComparison(
            comparison_levels=[
                cll.NullLevel(c),
                cll.ExactMatchLevel(c),
                cll.PercentageDifferenceLevel(c, 0.01),
                cll.PercentageDifferenceLevel(c, 0.1),
                cll.ElseLevel(),
            ],
            output_column_name=c,
        )
    return cl.ExactMatch(c)


# -- blocking --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BlockingCandidate:
    """A blocking rule (equality on expressions) and the pairs it generates on the input."""

    expressions: tuple[str, ...]
    pairs: int

    @property
    def sql(self) -> str:
        return " and ".join(f"l.{e} = r.{e}" if _is_column(e) else _expr_sql(e) for e in
                            self.expressions)


def _is_column(expression: str) -> bool:
    return re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", expression) is not None


def _expr_sql(expression: str) -> str:
    """``substr(surname, 1, 3)`` -> ``substr(l.surname, 1, 3) = substr(r.surname, 1, 3)``."""
    left = re.sub(r"\b([A-Za-z_][A-Za-z0-9_]*)\b(?!\s*\()", r"l.\1", expression)
    right = re.sub(r"\b([A-Za-z_][A-Za-z0-9_]*)\b(?!\s*\()", r"r.\1", expression)
    return f"{left} = {right}"


# Kinds whose exact value is specific enough to block on.
_BLOCKABLE: dict[ColumnKind, int] = {
    "identifier": 0, "email": 0, "phone": 0, "date_string": 1, "date": 1, "surname": 2,
    "forename": 3, "full_name": 2, "postcode": 4, "address": 5, "number": 6, "text": 7,
    "categorical": 8,
}


def count_block_pairs(df: DataFrame, expressions: Sequence[str]) -> int:
    """Pairs an equality block on ``expressions`` generates: sum over blocks of n(n-1)/2."""
    return count_many_block_pairs(df, [tuple(expressions)])[tuple(expressions)]


def count_many_block_pairs(
    df: DataFrame, candidates: Sequence[tuple[str, ...]]
) -> dict[tuple[str, ...], int]:
    """Block pairs of several candidate rules in one Spark job (rows exploded per candidate)."""
    if not candidates:
        return {}
    keyed = F.explode(F.array(*[
        F.struct(
            F.lit(i).alias("rule"),
            F.when(
                F.greatest(*[F.expr(e).isNull() for e in cand], F.lit(False)), F.lit(None)
            ).otherwise(F.concat_ws("\u0001", *[F.expr(e).cast("string") for e in cand]))
            .alias("key"),
        )
        for i, cand in enumerate(candidates)
    ])).alias("k")
    counted = (
        df.select(keyed).select("k.rule", "k.key").dropna()
        .groupBy("rule", "key").count()
        .groupBy("rule").agg(F.sum(F.col("count") * (F.col("count") - 1) / 2).alias("p"))
        .collect()
    )
    found = {int(r["rule"]): int(r["p"] or 0) for r in counted}
    return {cand: found.get(i, 0) for i, cand in enumerate(candidates)}


def propose_blocking_rules(
    df: DataFrame,
    plans: Sequence[ColumnPlan],
    rows: int,
    *,
    max_rules: int = 8,
) -> list[BlockingCandidate]:
    """Blocking rules whose blocks are measured on ``df`` (the prepared frame).

    Single-column rules are kept when they generate at most ``per_rule_cap`` pairs; columns
    too common on their own are paired with each other. The union keeps candidate pairs far
    below n(n-1)/2 (at most ``total_cap``), and several rules on different columns keep
    recall high when any one field is mistyped.
    """
    per_rule_cap = max(5 * rows, 5_000)
    total_cap = max(20 * rows, 20_000)
    order = sorted(
        (p for p in plans if p.kind in _BLOCKABLE), key=lambda p: _BLOCKABLE[p.kind]
    )
    singles: list[BlockingCandidate] = []
    too_big: list[str] = []
    single_pairs = count_many_block_pairs(df, [(p.name,) for p in order])
    for plan in order:
        pairs = single_pairs[(plan.name,)]
        log.info("blocking candidate %s: %d pairs", plan.name, pairs)
        if pairs <= per_rule_cap:
            singles.append(BlockingCandidate((plan.name,), pairs))
        elif plan.kind != "categorical":
            too_big.append(plan.name)
    combos: list[BlockingCandidate] = []
    partners = too_big + [p.name for p in order if p.kind == "categorical"]
    wanted = [(a, b) for i, a in enumerate(too_big) for b in partners[i + 1 :] if b != a]
    for (a, b), pairs in count_many_block_pairs(df, wanted).items():
        log.info("blocking candidate %s+%s: %d pairs", a, b, pairs)
        if pairs <= per_rule_cap:
            combos.append(BlockingCandidate((a, b), pairs))
    chosen: list[BlockingCandidate] = []
    total = 0
    for cand in singles + sorted(combos, key=lambda c: c.pairs):
        if len(chosen) >= max_rules or total + cand.pairs > total_cap:
            continue
        # A combination is redundant when a chosen rule on a subset already covers it.
        if any(set(c.expressions) <= set(cand.expressions) for c in chosen):
            continue
        chosen.append(cand)
        total += cand.pairs
    return chosen


def training_rules(chosen: Sequence[BlockingCandidate]) -> list[BlockingCandidate]:
    """Two EM blocking rules on disjoint columns, so every comparison is estimated."""
    if not chosen:
        return []
    by_size = sorted(chosen, key=lambda c: -c.pairs)
    picked = [by_size[0]]
    for cand in by_size[1:]:
        used = {e for c in picked for e in c.expressions}
        if not used & set(cand.expressions) and cand.pairs > 0:
            picked.append(cand)
        if len(picked) == 2:
            break
    if len(picked) == 1:
        # No disjoint partner: a second rule still estimates the first rule's columns.
        partner = next((c for c in by_size[1:] if c.pairs > 0), None)
        if partner is not None:
            picked.append(partner)
    return picked
