"""FindMatches-like fuzzy deduplication on Splink's Spark backend.

:func:`find_matches` returns every input row plus ``match_id`` (one value per entity: the
smallest primary key of the entity's records) and ``match_confidence_score`` (0..1), like AWS
Glue's FindMatches transform. Without ``comparisons`` it configures itself from column names,
types and value profiles (names, dates, postcodes, e-mails, phones, codes, free text, numbers)
and measures candidate blocking rules on the data, keeping candidate pairs far below n(n-1)/2.
Training is unsupervised (u from random pairs, m by expectation maximisation); FindMatches-
format labels sharpen m and can be enforced. A trained :class:`MatchModel` is JSON and can be
passed back as ``model=`` to skip training. Every entry point takes one :class:`MatchSettings`.

Modules (one per phase, as in Splink): ``settings`` (names, errors, MatchSettings), ``model``,
``inputs`` (key, column and label checks), ``profile`` (column profiles, blocking candidates),
``backend`` (Splink on Spark), ``training``, ``inference``, ``incremental``, ``evaluation``,
``report`` (HTML to a string).

Splink's similarity functions (Jaro-Winkler, Damerau-Levenshtein, ...) live in a jar inside the
splink wheel: build the session with ``extra_jars=[splink_jar_path()]``. When the session was
started without it, :func:`ensure_similarity_functions` adds the local jar at run time.

Example::

    from transforms.dedup import MatchSettings, evaluate_matches, find_matches

    matched = find_matches(people, primary_key="rec_id",
                           settings=MatchSettings(precision_recall_tradeoff=0.7))
    evaluate_matches(matched, "true_entity").pairwise_f1
"""

from __future__ import annotations

from transforms.dedup.backend import ensure_similarity_functions, splink_jar_path
from transforms.dedup.evaluation import MatchEvaluation, evaluate_matches
from transforms.dedup.incremental import find_incremental_matches
from transforms.dedup.inference import MatchRun, find_matches, find_matches_detailed
from transforms.dedup.inputs import labels_to_pairs
from transforms.dedup.model import MatchColumn, MatchModel
from transforms.dedup.profile import count_block_pairs
from transforms.dedup.report import render_report
from transforms.dedup.settings import (
    LABEL,
    LABELING_SET_ID,
    MATCH_CONFIDENCE_SCORE,
    MATCH_ID,
    DedupInputError,
    DuplicatePrimaryKeyError,
    LabelsFormatError,
    MatchModelError,
    MatchSettings,
    MatchSettingsError,
    NullPrimaryKeyError,
    SimilarityFunctionsMissingError,
    tradeoff_to_threshold,
)
from transforms.dedup.training import train_match_model

__all__ = [
    "LABEL",
    "LABELING_SET_ID",
    "MATCH_CONFIDENCE_SCORE",
    "MATCH_ID",
    "DedupInputError",
    "DuplicatePrimaryKeyError",
    "LabelsFormatError",
    "MatchColumn",
    "MatchEvaluation",
    "MatchModel",
    "MatchModelError",
    "MatchRun",
    "MatchSettings",
    "MatchSettingsError",
    "NullPrimaryKeyError",
    "SimilarityFunctionsMissingError",
    "count_block_pairs",
    "ensure_similarity_functions",
    "evaluate_matches",
    "find_incremental_matches",
    "find_matches",
    "find_matches_detailed",
    "labels_to_pairs",
    "render_report",
    "splink_jar_path",
    "train_match_model",
    "tradeoff_to_threshold",
]
