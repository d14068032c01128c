"""Training: automatic configuration from column profiles, u from random pairs, m by EM."""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F  # noqa: N812

from transforms.dedup.backend import (
    ensure_similarity_functions,
    make_linker,
    rule_sql,
    spark_api,
    splink_settings_dict,
)
from transforms.dedup.inputs import (
    _internal_name,
    candidate_columns,
    check_label_keys,
    check_primary_key,
    labels_to_pairs,
    prepared_frame,
)
from transforms.dedup.model import MatchColumn, MatchModel
from transforms.dedup.profile import (
    BlockingCandidate,
    ColumnPlan,
    comparison_for,
    plan_columns,
    propose_blocking_rules,
    training_rules,
)
from transforms.dedup.settings import U_PAIRS, UID, DedupInputError, MatchSettings

if TYPE_CHECKING:
    from splink.internals.blocking_rule_creator import BlockingRuleCreator
    from splink.internals.linker import Linker

log = logging.getLogger(__name__)



def _estimate_u_in_one_pass(
    linker: Linker, frame: DataFrame, rows: int, max_pairs: float, seed: int
) -> None:
    """u probabilities from random pairs, every comparison in one Spark job.

    The same estimate as Splink's ``estimate_u_using_random_sampling`` (a random sample of
    about sqrt(2 * max_pairs) records, all pairs among them, the share of pairs in each
    comparison level), but Splink 5 runs a probe and chunked jobs per comparison, which
    dominates training time on a small cluster. The levels are Splink's own SQL and the
    result goes through Splink's trained-parameter bookkeeping.
    """
    from splink.internals.constants import LEVEL_NOT_OBSERVED_TEXT

    comparisons = linker._settings_obj.comparisons
    wanted = math.ceil(0.5 * ((8 * max_pairs + 1) ** 0.5 + 1))
    sample = frame if wanted >= rows else frame.sample(
        fraction=min(1.0, 1.05 * wanted / rows), seed=seed
    )
    cols = frame.columns
    left = sample.select(*[F.col(c).alias(f"{c}_l") for c in cols])
    right = sample.select(*[F.col(c).alias(f"{c}_r") for c in cols])
    pairs = left.join(right, F.col(f"{UID}_l") < F.col(f"{UID}_r"))
    gammas = pairs.selectExpr(*[cc._case_statement for cc in comparisons])
    stacked = gammas.select(F.explode(F.array(*[
        F.struct(F.lit(i).alias("c"), F.col(cc._gamma_column_name).alias("g"))
        for i, cc in enumerate(comparisons)
    ])).alias("x")).select("x.c", "x.g")
    counts: dict[int, dict[int, int]] = {}
    for r in stacked.groupBy("c", "g").count().collect():
        counts.setdefault(int(r["c"]), {})[int(r["g"])] = int(r["count"])
    for i, cc in enumerate(comparisons):
        levels = {g: n for g, n in counts.get(i, {}).items() if g != -1}
        total = sum(levels.values())
        for cl in cc._comparison_levels_excluding_null:
            n = levels.get(cl.comparison_vector_value, 0)
            # A level never seen among random pairs (an exact id match) gets half a pair:
            # rare, but not impossible, so its match weight stays finite.
            u = (n or 0.5) / total if total else LEVEL_NOT_OBSERVED_TEXT
            cl._add_trained_u_probability(u, "estimate u by random sampling")
    linker._populate_m_u_from_trained_values()


def _train(
    linker: Linker,
    frame: DataFrame,
    frame_rows: int,
    em_rules: Sequence[str],
    label_pairs: DataFrame | None,
    seed: int,
    em_max_pairs: float | None,
    prediction_rules: Sequence[str],
) -> list[str]:
    """u by random sampling, lambda and m by EM, m from labeled matches; returns notes."""
    notes: list[str] = []
    all_pairs = frame_rows * (frame_rows - 1) / 2
    t0 = time.perf_counter()
    _estimate_u_in_one_pass(linker, frame, frame_rows, min(max(all_pairs, 1.0), U_PAIRS), seed)
    log.info("u estimated in %.1fs", time.perf_counter() - t0)
    if not em_rules:
        notes.append("no EM session: no blocking rule to train on (only 1=1), so m and the match "
                     "prior are Splink's defaults unless labels give m")
        log.warning("no EM session: no blocking rule to train on; m and prior are defaults")
    for rule in em_rules:
        t0 = time.perf_counter()
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(
                rule,
                estimate_without_term_frequencies=True,
                populate_probability_two_random_records_match_from_trained_values=True,
                max_pairs=em_max_pairs,
            )
        except Exception as exc:  # Splink raises when a rule gives no pairs or levels collapse
            notes.append(f"EM on {rule!r} skipped: {exc}")
            log.warning("EM on %r skipped: %s", rule, exc)
        log.info("EM blocked on %s in %.1fs", rule, time.perf_counter() - t0)
    prior = linker._settings_obj._probability_two_random_records_match
    if not (math.isfinite(prior) and 0.0 < prior < 1.0):
        # EM's prior is undefined when a blocking level was never seen among random pairs
        # (small inputs): estimate it from agreement on two blocking rules at once instead.
        first = list(prediction_rules[:4])
        deterministic = [f"({a}) and ({b})" for i, a in enumerate(first) for b in first[i + 1 :]]
        # Splink takes list[str | BlockingRuleCreator]; list is invariant, so list[str] is not one.
        rules: list[str | BlockingRuleCreator] = list(deterministic or first)
        linker.training.estimate_probability_two_random_records_match(rules, recall=0.8)
        notes.append(
            f"EM gave no usable match prior ({prior}); estimated it from records agreeing on "
            "two blocking rules, assuming 80% recall"
        )
    if label_pairs is not None:
        matches = label_pairs.filter("is_match").select(f"{UID}_l", f"{UID}_r")
        if matches.limit(1).count():
            table = linker.table_management.register_table(
                matches, f"__lf_labels_{id(matches)}", overwrite=True
            )
            linker.training.estimate_m_from_pairwise_labels(table)
            notes.append("m probabilities include estimates from labeled matching pairs")
    return notes


def check_comparisons_have_blocking_rules(
    comparisons: Sequence[Any] | None, blocking_rules: Sequence[Any] | None, where: str
) -> None:
    """User comparisons see raw columns, which automatic blocking cannot measure: without
    blocking rules EM would have no rule to run on and m would stay Splink's defaults."""
    if comparisons is not None and blocking_rules is None:
        raise DedupInputError(
            f"{where}: comparisons=[...] needs blocking_rules=[...] too (automatic blocking "
            "only knows automatically configured columns, and EM trains m on blocking rules)"
        )


def _untrained_m_notes(trained: Mapping[str, Any], where: str) -> list[str]:
    """A note per comparison with levels whose m was never estimated (Splink saves m only once
    trained; such a level uses Splink's default m, whatever the data says)."""
    notes = []
    for comp in trained.get("comparisons", []):
        levels = [lv for lv in comp.get("comparison_levels", []) if not lv.get("is_null_level")]
        missing = [str(lv.get("label_for_charts") or lv.get("sql_condition")) for lv in levels
                   if lv.get("m_probability") is None]
        name = comp.get("output_column_name")
        if not missing:
            continue
        if len(missing) == len(levels):
            note = (f"m not estimated for comparison {name!r}: no EM session left it free (EM "
                    "fixes the comparisons of its blocking rule's columns, or no EM ran); it "
                    "uses Splink's default m values (add a blocking rule on other columns, or "
                    "labels)")
            log.warning("%s: %s", where, note)  # the user has something to change
        else:
            note = (f"m not estimated for level(s) {missing} of comparison {name!r} (not seen "
                    "among EM's pairs); they use Splink's default m")
            # rare levels unseen in a sample of pairs: usual, nothing to act on (the note
            # stays in the model's training notes and the match report)
            log.info("%s: %s", where, note)
        notes.append(note)
    return notes


def _auto_configuration(
    df: DataFrame, primary_key: str, columns: Sequence[str], rows: int, where: str
) -> tuple[list[MatchColumn], list[Any], list[ColumnPlan]]:
    taken: set[str] = set()
    renamed = {c: _internal_name(c, taken) for c in columns}
    view = df.select(*[F.col(f"`{c}`").alias(renamed[c]) for c in columns])
    t0 = time.perf_counter()
    plans, skipped = plan_columns(view, list(renamed.values()), rows)
    log.info("%s: columns profiled in %.1fs", where, time.perf_counter() - t0)
    if skipped:
        log.info("%s: not compared (no usable values): %s", where, skipped)
    if not plans:
        raise DedupInputError(
            f"{where}: no column can be compared automatically (skipped: {skipped}); "
            "pass columns=[...] with name/date/code columns or comparisons=[...]"
        )
    back = {v: k for k, v in renamed.items()}
    match_columns = [MatchColumn(back[p.name], p.name, p.kind) for p in plans]
    for p in plans:
        log.info("%s: %s compared as %s (%s)", where, back[p.name], p.kind, p.reason)
    comparisons = [comparison_for(p, plans) for p in plans]
    return match_columns, comparisons, plans


def _user_configuration(
    df: DataFrame, primary_key: str, columns: Sequence[str] | None, comparisons: Sequence[Any],
    where: str,
) -> tuple[list[MatchColumn], list[Any]]:
    if isinstance(comparisons, (str, Mapping)) or not comparisons:
        raise DedupInputError(
            f"{where}: comparisons must be a non-empty list of Splink comparisons"
        )
    cols = candidate_columns(df, primary_key, columns, where)
    bad = [c for c in cols if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", c) or c == UID]
    if bad:
        raise DedupInputError(
            f"{where}: with explicit comparisons, compared columns must be plain identifiers "
            f"other than {UID!r}; rename {bad}"
        )
    return [MatchColumn(c, c, "raw") for c in cols], list(comparisons)


def train_match_model(
    df: DataFrame,
    *,
    primary_key: str,
    settings: MatchSettings | None = None,
    comparisons: Sequence[Any] | None = None,
    blocking_rules: Sequence[Any] | None = None,
    labels: DataFrame | None = None,
) -> MatchModel:
    """Configure (automatically unless ``comparisons`` is given) and train a model on ``df``."""
    return fit_model(df, primary_key, settings or MatchSettings(), comparisons, blocking_rules,
                labels, "train_match_model")[0]


def fit_model(
    df: DataFrame,
    primary_key: str,
    settings: MatchSettings,
    comparisons: Sequence[Any] | None,
    blocking_rules: Sequence[Any] | None,
    labels: DataFrame | None,
    where: str,
    checked_rows: int | None = None,
) -> tuple[MatchModel, dict[str, int], int]:
    """Configure and train; ``checked_rows`` says the key was already checked on ``df``."""
    columns, max_em_iterations, seed = (settings.columns, settings.max_em_iterations,
                                        settings.seed)
    check_comparisons_have_blocking_rules(comparisons, blocking_rules, where)
    if checked_rows is None:
        check_primary_key(df, primary_key, where)
    rows = df.count() if checked_rows is None else checked_rows
    if rows < 2:
        raise DedupInputError(f"{where}: training needs at least 2 rows, got {rows}")
    spark = df.sparkSession
    ensure_similarity_functions(spark)
    if comparisons is None:
        cand = candidate_columns(df, primary_key, columns, where)
        match_columns, comps, _ = _auto_configuration(df, primary_key, cand, rows, where)
    else:
        match_columns, comps = _user_configuration(df, primary_key, columns, comparisons, where)
    frame = prepared_frame(df, primary_key, match_columns).persist()
    try:
        rule_pairs: dict[str, int]
        if blocking_rules is None:
            plans = [
                ColumnPlan(c.name, c.kind, "", False)  # type: ignore[arg-type]
                for c in match_columns if c.kind != "raw"
            ]
            t0 = time.perf_counter()
            chosen = propose_blocking_rules(frame, plans, rows)
            log.info("blocking rules chosen in %.1fs", time.perf_counter() - t0)
            if not chosen:
                if rows * (rows - 1) / 2 > 50_000:
                    raise DedupInputError(
                        f"{where}: no column is specific enough to block on and comparing all "
                        f"{rows} rows pairwise is too costly; pass blocking_rules=[...]"
                    )
                chosen = [BlockingCandidate(("1",), rows * (rows - 1) // 2)]
            rules = ["1=1" if c.expressions == ("1",) else c.sql for c in chosen]
            rule_pairs = {r: c.pairs for r, c in zip(rules, chosen, strict=True)}
            em = [c.sql for c in training_rules(chosen) if c.expressions != ("1",)]
        else:
            if isinstance(blocking_rules, str) or not blocking_rules:
                raise DedupInputError(f"{where}: blocking_rules must be a non-empty list")
            rules = [rule_sql(r) for r in blocking_rules]
            rule_pairs = {}
            em = rules[:2]
        label_pairs = None
        if labels is not None:
            label_pairs = labels_to_pairs(check_label_keys(labels, df, primary_key), primary_key)
        splink_settings = splink_settings_dict(comps, rules, max_em_iterations)
        db_api = spark_api(spark)
        linker = make_linker(db_api, frame, splink_settings)
        try:
            # Automatic rules were measured (at most 5n pairs each): no sampling probe needed.
            em_max_pairs = None if blocking_rules is None else 2e6
            notes = _train(linker, frame, rows, em, label_pairs, seed, em_max_pairs, rules)
            trained = linker.misc.save_model_to_json()
            notes += _untrained_m_notes(trained, where)
        finally:
            linker.table_management.delete_tables_created_by_splink_from_db()
    finally:
        frame.unpersist()
    model = MatchModel(
        splink_settings=trained,
        columns=tuple(match_columns),
        blocking_rules=tuple(rules),
        trained_on_rows=rows,
        notes=tuple(notes),
    )
    return model, rule_pairs, rows
