"""Names, errors and :class:`MatchSettings`: what every dedup entry point is configured with."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lakeforge.errors import LakeforgeError

log = logging.getLogger(__name__)



MATCH_ID = "match_id"
MATCH_CONFIDENCE_SCORE = "match_confidence_score"
LABELING_SET_ID = "labeling_set_id"
LABEL = "label"
MODEL_FORMAT = "lakeforge.match_model/1"
# Pairs below this probability are not kept as edges: they can neither join a cluster nor
# lower a singleton's confidence by more than this.
EDGE_FLOOR = 0.01
# Random pairs for u: enough to see levels with u ~ 1e-5 a few times, cheap on two cores.
U_PAIRS = 300_000
UID = "unique_id"
NEW_FLAG = "lf_is_new"
SIMILARITY_FUNCTIONS = ("jaro_winkler", "damerau_levenshtein", "jaccard", "jaro_sim")


class DedupInputError(LakeforgeError, ValueError):
    """The input of a dedup transform cannot be matched as given."""


class NullPrimaryKeyError(DedupInputError):
    """The primary key column holds nulls."""


class DuplicatePrimaryKeyError(DedupInputError):
    """The primary key column holds a value more than once."""


class LabelsFormatError(DedupInputError):
    """Labels are not in FindMatches' labeling format or name unknown records."""


class MatchModelError(DedupInputError):
    """A saved match model cannot be used on this input."""


class SimilarityFunctionsMissingError(LakeforgeError, RuntimeError):
    """Splink's similarity functions are not available in the Spark session."""


class MatchSettingsError(DedupInputError):
    """A MatchSettings field (or a key of its mapping) is invalid; ``field`` names it."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class MatchSettings:
    """What to compare and how strictly: the settings every dedup entry point takes.

    ``columns`` (None: every column but the key, configured automatically),
    ``precision_recall_tradeoff`` in [0, 1] (1 favours precision), ``max_em_iterations`` > 0,
    ``seed`` (random pairs for u), ``compute_match_confidence_scores`` and
    ``enforce_provided_labels``. Validated on construction; ``to_dict``/``from_dict`` round-trip
    through JSON (a job config's ``dedup:`` block is such a mapping).

    Example::

        settings = MatchSettings(columns=("name", "dob"), precision_recall_tradeoff=0.7)
        find_matches(people, primary_key="id", settings=settings)
    """

    columns: tuple[str, ...] | None = None
    precision_recall_tradeoff: float = 0.5
    max_em_iterations: int = 25
    seed: int = 42
    compute_match_confidence_scores: bool = True
    enforce_provided_labels: bool = False

    def __post_init__(self) -> None:
        if self.columns is not None:
            if isinstance(self.columns, str) or not all(
                    isinstance(c, str) and c for c in self.columns):
                raise MatchSettingsError(
                    f"MatchSettings.columns must be a list of column names, got {self.columns!r}",
                    "columns")
            if not self.columns:
                raise MatchSettingsError("MatchSettings.columns is empty: name at least one "
                                         "column, or leave it unset to compare all columns",
                                         "columns")
            object.__setattr__(self, "columns", tuple(self.columns))
        t = self.precision_recall_tradeoff
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0.0 <= float(t) <= 1.0:
            raise MatchSettingsError(f"MatchSettings.precision_recall_tradeoff must be a number "
                                     f"between 0.0 and 1.0, got {t!r}", "precision_recall_tradeoff")
        object.__setattr__(self, "precision_recall_tradeoff", float(t))
        for name in ("max_em_iterations", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise MatchSettingsError(f"MatchSettings.{name} must be an integer, "
                                         f"got {value!r}", name)
        if self.max_em_iterations < 1:
            raise MatchSettingsError(f"MatchSettings.max_em_iterations must be >= 1, "
                                     f"got {self.max_em_iterations}", "max_em_iterations")
        for name in ("compute_match_confidence_scores", "enforce_provided_labels"):
            if not isinstance(getattr(self, name), bool):
                raise MatchSettingsError(f"MatchSettings.{name} must be true or false, "
                                         f"got {getattr(self, name)!r}", name)

    @property
    def threshold(self) -> float:
        """The match-probability threshold of ``precision_recall_tradeoff``."""
        return tradeoff_to_threshold(self.precision_recall_tradeoff)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["columns"] = list(self.columns) if self.columns is not None else None
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "match settings") -> MatchSettings:
        """Settings from a mapping; unknown keys and bad values name ``source`` and the key."""
        if not isinstance(data, Mapping):
            raise MatchSettingsError(f"{source}: match settings must be a mapping, "
                                     f"got {type(data).__name__}")
        known = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise MatchSettingsError(f"{source}: unknown key(s) {unknown}; allowed: "
                                     f"{', '.join(known)}")
        values = dict(data)
        if isinstance(values.get("columns"), list):
            values["columns"] = tuple(values["columns"])
        try:
            return cls(**values)
        except MatchSettingsError as exc:
            raise MatchSettingsError(f"{source}: {exc}", exc.field) from None


def tradeoff_to_threshold(precision_recall_tradeoff: float) -> float:
    """Map FindMatches' precision/recall tradeoff (0..1) to a match-probability threshold.

    Linear in match weight: 0.5 -> probability 0.5 (match weight 0), 1.0 -> weight +10
    (p = 0.999, favours precision), 0.0 -> weight -10 (p = 0.001, favours recall).
    """
    t = precision_recall_tradeoff
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0.0 <= float(t) <= 1.0:
        raise MatchSettingsError(
            f"precision_recall_tradeoff must be a number between 0.0 and 1.0, got {t!r}"
        )
    weight = 20.0 * (float(t) - 0.5)
    return 1.0 / (1.0 + 2.0 ** (-weight))
