"""The feature spec: ordered steps (impute, log, ratio, ..., buckets), the split, validation.

Parsing a job YAML into a spec is :func:`lakeforge.feature_store.feature_spec_from_mapping`.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from lakeforge.errors import ConfigError, LakeforgeError

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)



SPLITS = ("train", "validation", "test")
DATE_PARTS: dict[str, str] = {
    "year": "year",
    "quarter": "quarter",
    "month": "month",
    "day": "dayofmonth",
    "dayofweek": "dayofweek",
    "dayofyear": "dayofyear",
    "weekofyear": "weekofyear",
    "hour": "hour",
}


class FeatureInputError(LakeforgeError, ValueError):
    """Input data cannot be turned into SageMaker features (null labels, non-numeric columns)."""


class _SuffixedColumnsStep:
    """Steps that read ``columns`` and add one ``<column><suffix>`` for each."""

    columns: list[str]
    suffix: str

    def outputs(self) -> list[str]:
        return [f"{c}{self.suffix}" for c in self.columns]

    def inputs(self) -> list[str]:
        return list(self.columns)


@dataclass(frozen=True)
class ImputeStep(_SuffixedColumnsStep):
    """Fill nulls/NaN with the training mean, median or mode: ``<col><suffix>``."""

    columns: list[str]
    strategy: Literal["mean", "median", "mode"] = "median"
    suffix: str = "_imputed"


@dataclass(frozen=True)
class LogStep(_SuffixedColumnsStep):
    """``log1p(col)`` as ``<col><suffix>``; values <= -1 give null (impute or clip them first)."""

    columns: list[str]
    suffix: str = "_log"


@dataclass(frozen=True)
class RatioStep:
    """``numerator / denominator`` as ``name``; a zero or null denominator gives null."""

    name: str
    numerator: str
    denominator: str

    def outputs(self) -> list[str]:
        return [self.name]

    def inputs(self) -> list[str]:
        return [self.numerator, self.denominator]


@dataclass(frozen=True)
class InteractionStep:
    """Products of numeric and/or one-hot vector columns (pyspark.ml Interaction) as ``name``.

    A null input fails naming the step and column whatever ``handle_invalid`` says (impute
    first); NaN gives NaN products."""

    name: str
    columns: list[str]

    def outputs(self) -> list[str]:
        return [self.name]

    def inputs(self) -> list[str]:
        return list(self.columns)


@dataclass(frozen=True)
class DatePartsStep:
    """Calendar parts of a date/timestamp column as ``<column>_<part>`` (doubles)."""

    column: str
    parts: list[str] = field(default_factory=lambda: ["year", "month", "dayofweek"])

    def outputs(self) -> list[str]:
        return [f"{self.column}_{p}" for p in self.parts]

    def inputs(self) -> list[str]:
        return [self.column]


@dataclass(frozen=True)
class ScaleStep:
    """Standard (z-score) or min-max scaling of numeric columns into one vector ``output``.

    With ``handle_invalid: error`` a null/NaN input fails (at fit and transform) naming the
    column; with ``keep`` the statistics are learnt on the training rows whose inputs are all
    present and a missing input gives NaN in its own slot only."""

    columns: list[str]
    method: Literal["standard", "minmax"] = "standard"
    output: str = ""
    with_mean: bool = True

    @property
    def output_name(self) -> str:
        return self.output or f"{self.method}_scaled"

    def outputs(self) -> list[str]:
        return [self.output_name]

    def internal(self) -> list[str]:
        """The assembled (unscaled) input vector, kept in the output like any ml stage's."""
        return [f"{self.output_name}_input"]

    def inputs(self) -> list[str]:
        return list(self.columns)


@dataclass(frozen=True)
class OneHotStep(_SuffixedColumnsStep):
    """StringIndexer (handleInvalid='keep') + OneHotEncoder: one slot per training category and
    one ``__unknown`` slot for nulls and categories never seen in training."""

    columns: list[str]
    suffix: str = "_onehot"
    order: Literal["frequencyDesc", "frequencyAsc", "alphabetDesc", "alphabetAsc"] = (
        "frequencyDesc"
    )

    def internal(self) -> list[str]:
        """The StringIndexer's category indices, kept in the output."""
        return [f"{c}_index" for c in self.columns]


@dataclass(frozen=True)
class QuantileBinsStep(_SuffixedColumnsStep):
    """Equal-frequency bins learnt on training data (QuantileDiscretizer): ``<col><suffix>``.
    NaN gets its own extra bin; null stays null (impute first)."""

    columns: list[str]
    buckets: int = 4
    relative_error: float = 0.001
    suffix: str = "_qbin"


@dataclass(frozen=True)
class BucketsStep(_SuffixedColumnsStep):
    """Fixed bins (Bucketizer) with explicit split points; use ``-.inf`` / ``.inf`` as ends.
    NaN gets its own extra bin; null stays null (impute first)."""

    columns: list[str]
    splits: list[float]
    suffix: str = "_bucket"


Step = (
    ImputeStep | LogStep | RatioStep | InteractionStep | DatePartsStep | ScaleStep | OneHotStep
    | QuantileBinsStep | BucketsStep
)
STEP_KINDS: dict[str, type] = {
    "impute": ImputeStep,
    "log": LogStep,
    "ratio": RatioStep,
    "interaction": InteractionStep,
    "date_parts": DatePartsStep,
    "scale": ScaleStep,
    "one_hot": OneHotStep,
    "quantile_bins": QuantileBinsStep,
    "buckets": BucketsStep,
}


@dataclass(frozen=True)
class SplitSpec:
    """Train/validation/test fractions of a deterministic split by a hash of the entity key.

    ``method: stratified`` gives every stratum (an entity's most frequent label) the fractions
    exactly (to one entity), with per-stratum cut points learnt from the data; strata too small
    for that and non-integral values of a fractional label are pooled into one stratum (see
    :func:`transforms.features.with_split`); every row of an entity is in one split.
    ``method: hash`` uses fixed cut points, so a key keeps its split even when more data
    arrives (stratified only in expectation).
    """

    train: float = 0.7
    validation: float = 0.15
    test: float = 0.15
    seed: int = 42
    method: Literal["stratified", "hash"] = "stratified"
    column: str = "split"


@dataclass(frozen=True)
class FeatureSpec:
    """A feature pipeline: ordered steps, the assembled feature columns, label and split."""

    name: str
    label: str
    entity_key: list[str]
    steps: tuple[Step, ...] = ()
    features: list[str] = field(default_factory=list)
    output_col: str = "features"
    handle_invalid: Literal["error", "keep"] = "error"
    split: SplitSpec = field(default_factory=SplitSpec)
    step_kinds: tuple[str, ...] = ()

    def produced_columns(self) -> list[str]:
        """Every column the pipeline adds (step outputs and kept intermediates)."""
        return [c for s in self.steps for c in s.outputs() + list(getattr(s, "internal", list)())]

    def feature_columns(self) -> list[str]:
        """The columns the final VectorAssembler gathers, in order.

        Explicit ``features`` when given, else every step output no later step consumes.
        """
        if self.features:
            return list(self.features)
        consumed: set[str] = set()
        leaves: list[str] = []
        for step in reversed(self.steps):
            for out in reversed(step.outputs()):
                if out not in consumed:
                    leaves.append(out)
            consumed.update(step.inputs())
        return list(reversed(leaves))


def validate_step(step: Step, source: str, key: str) -> None:
    def bad(msg: str) -> ConfigError:
        return ConfigError(f"{source}: '{key}' {msg}")

    columns = getattr(step, "columns", None)
    if columns is not None and not columns:
        raise bad("needs at least one column in 'columns'")
    if isinstance(step, DatePartsStep):
        unknown = [p for p in step.parts if p not in DATE_PARTS]
        if unknown or not step.parts:
            raise bad(f"has unknown date part(s) {unknown}; allowed: {sorted(DATE_PARTS)}")
    if isinstance(step, InteractionStep) and len(step.columns) < 2:
        raise bad("needs at least two columns to interact")
    if isinstance(step, QuantileBinsStep) and step.buckets < 2:
        raise bad(f"'buckets' must be >= 2, got {step.buckets}")
    if isinstance(step, BucketsStep):
        s = step.splits
        increasing = all(a < b for a, b in zip(s, s[1:], strict=False))
        if len(s) < 3 or any(math.isnan(v) for v in s) or not increasing:
            raise bad(
                f"'splits' must be at least 3 strictly increasing numbers (use -.inf and .inf "
                f"for open ends), got {s}"
            )
    for out in step.outputs():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", out):
            raise bad(f"output column {out!r} is not a plain identifier")


def validate_split(split: SplitSpec, source: str, key: str) -> None:
    fractions = (split.train, split.validation, split.test)
    if any(f < 0 for f in fractions) or split.train <= 0 or abs(sum(fractions) - 1.0) > 1e-9:
        raise ConfigError(
            f"{source}: '{key}' fractions must be >= 0 (train > 0) and sum to 1, "
            f"got train={split.train}, validation={split.validation}, test={split.test}"
        )


def step_dicts(spec: FeatureSpec) -> list[dict[str, Any]]:
    """Each step as a dict with its ``kind`` first (for JSON)."""
    return [{"kind": k, **asdict(s)} for k, s in zip(spec.step_kinds, spec.steps, strict=True)]


def spec_to_dict(spec: FeatureSpec) -> dict[str, Any]:
    """A JSON-able view of the spec (steps with their kind), as written next to a model."""
    return {
        "name": spec.name,
        "label": spec.label,
        "entity_key": list(spec.entity_key),
        "steps": step_dicts(spec),
        "features": spec.feature_columns(),
        "output_col": spec.output_col,
        "handle_invalid": spec.handle_invalid,
        "split": asdict(spec.split),
    }


__all__ = [
    "DATE_PARTS", "SPLITS", "STEP_KINDS", "BucketsStep", "DatePartsStep", "FeatureInputError",
    "FeatureSpec", "ImputeStep", "InteractionStep", "LogStep", "OneHotStep", "QuantileBinsStep",
    "RatioStep", "ScaleStep", "SplitSpec", "Step", "spec_to_dict", "step_dicts",
    "validate_split", "validate_step",
]
