"""Feature engineering as pyspark.ml Pipelines declared in YAML, plus SageMaker outputs.

A :class:`FeatureSpec` (the ``features:`` section of a job's YAML) lists ordered steps; each step
becomes pyspark.ml stages (Imputer, StandardScaler/MinMaxScaler, StringIndexer + OneHotEncoder,
QuantileDiscretizer, Bucketizer, Interaction, SQLTransformer for log, ratios and date parts), and
a final VectorAssembler gathers the feature columns into one vector. The pipeline is fitted on the
training split only, saved under a version and re-applied to new data.

Example YAML::

    features:
      name: churn
      entity_key: [customer_id]
      label: churned
      split: {train: 0.7, validation: 0.15, test: 0.15, seed: 7}
      steps:
        - {kind: impute, columns: [age, income], strategy: median}
        - {kind: log, columns: [income_imputed]}
        - {kind: ratio, name: spend_per_visit, numerator: spend, denominator: visits}
        - {kind: date_parts, column: signup_date, parts: [year, month, dayofweek]}
        - {kind: scale, method: standard, columns: [age_imputed, income_imputed_log]}
        - {kind: one_hot, columns: [plan]}
        - {kind: quantile_bins, columns: [age_imputed], buckets: 4}
        - {kind: buckets, columns: [income_imputed], splits: [-.inf, 1000, 10000, .inf]}
        - {kind: interaction, name: age_x_plan, columns: [age_imputed, plan_onehot]}

Example use::

    spec = load_feature_spec("conf/jobs/churn.yaml")
    df = with_split(raw, key=spec.entity_key, stratify_by=spec.label, split=spec.split)
    model = fit_feature_pipeline(df.filter("split = 'train'"), spec)
    ref = save_feature_model(model, spec, lake=lake)
    out = model.transform(df)
    names = feature_names(out.schema, spec)
    write_sagemaker(out.filter("split = 'train'"), lake.path("features", "churn", "train"),
                    file_format="csv", label=spec.label, feature_names=names, lake=lake)
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal

from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.feature import (
    Bucketizer,
    Imputer,
    Interaction,
    MinMaxScaler,
    OneHotEncoder,
    QuantileDiscretizer,
    SQLTransformer,
    StandardScaler,
    StringIndexer,
    VectorAssembler,
)
from pyspark.ml.functions import vector_to_array
from pyspark.sql import Column as SparkColumn
from pyspark.sql import DataFrame
from pyspark.sql import functions as F  # noqa: N812
from pyspark.sql import types as T  # noqa: N812

from lakeforge.config import from_mapping, read_yaml
from lakeforge.errors import ConfigError, LakeforgeError, require_columns
from lakeforge.io import list_subdirs, uri_exists, write_text
from lakeforge.paths import Lake, join_uri, validate_identifier

if TYPE_CHECKING:
    from pyspark.sql.types import StructType

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
_HASH_RESOLUTION = 1_000_000_000


class FeatureInputError(LakeforgeError, ValueError):
    """Input data cannot be turned into SageMaker features (null labels, non-numeric columns)."""


# --------------------------------------------------------------------------- the spec


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
    """Products of numeric and/or one-hot vector columns (pyspark.ml Interaction) as ``name``."""

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
    """Standard (z-score) or min-max scaling of numeric columns into one vector ``output``."""

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

    ``method: stratified`` gives every stratum (label value) the fractions exactly (to one row),
    with per-stratum cut points learnt from the data; ``method: hash`` uses fixed cut points, so a
    key keeps its split even when more data arrives (stratified only in expectation).
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


@dataclass(frozen=True)
class _SpecHeader:
    name: str
    label: str
    entity_key: list[str]
    steps: list[dict[str, Any]] = field(default_factory=list)
    features: list[str] = field(default_factory=list)
    output_col: str = "features"
    handle_invalid: Literal["error", "keep"] = "error"
    split: SplitSpec = field(default_factory=SplitSpec)


def feature_spec_from_mapping(
    data: Mapping[str, Any], source: str, prefix: str = "features"
) -> FeatureSpec:
    """Build and validate a :class:`FeatureSpec`; errors name the key and ``source``."""
    header = from_mapping(_SpecHeader, data, source, prefix)
    where = f"{source}: '{prefix}"
    validate_identifier(header.name, f"{source}: {prefix}.name")
    if not header.entity_key:
        raise ConfigError(f"{where}.entity_key' must list at least one column")
    steps: list[Step] = []
    kinds: list[str] = []
    for i, raw in enumerate(header.steps):
        key = f"{prefix}.steps[{i}]"
        if not isinstance(raw, Mapping) or "kind" not in raw:
            raise ConfigError(
                f"{source}: '{key}' must be a mapping with a 'kind' "
                f"(one of {sorted(STEP_KINDS)})"
            )
        kind = raw["kind"]
        if kind not in STEP_KINDS:
            raise ConfigError(
                f"{source}: '{key}.kind' is {kind!r}; allowed kinds: {sorted(STEP_KINDS)}"
            )
        body = {k: v for k, v in raw.items() if k != "kind"}
        step = from_mapping(STEP_KINDS[kind], body, source, key)
        _validate_step(step, source, key)
        steps.append(step)
        kinds.append(kind)
    _validate_split(header.split, source, f"{prefix}.split")
    produced: dict[str, str] = {}
    for i, step in enumerate(steps):
        for out in step.outputs() + list(getattr(step, "internal", list)()):
            if out in produced:
                raise ConfigError(
                    f"{source}: '{prefix}.steps[{i}]' produces column {out!r}, already produced "
                    f"by {produced[out]}; set a different name/suffix"
                )
            produced[out] = f"{prefix}.steps[{i}]"
    if header.output_col in produced:
        raise ConfigError(f"{where}.output_col' {header.output_col!r} clashes with a step output")
    if not steps and not header.features:
        raise ConfigError(f"{where}' needs at least one step or an explicit 'features' list")
    return FeatureSpec(
        name=header.name,
        label=header.label,
        entity_key=list(header.entity_key),
        steps=tuple(steps),
        features=list(header.features),
        output_col=header.output_col,
        handle_invalid=header.handle_invalid,
        split=header.split,
        step_kinds=tuple(kinds),
    )


def load_feature_spec(path: str, section: str = "features") -> FeatureSpec:
    """Read the ``features:`` section of a job YAML (local file or s3://)."""
    data = read_yaml(path)
    if section not in data:
        raise ConfigError(f"{path}: missing required key '{section}'")
    return feature_spec_from_mapping(data[section], str(path), section)


def _validate_step(step: Step, source: str, key: str) -> None:
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


def _validate_split(split: SplitSpec, source: str, key: str) -> None:
    fractions = (split.train, split.validation, split.test)
    if any(f < 0 for f in fractions) or split.train <= 0 or abs(sum(fractions) - 1.0) > 1e-9:
        raise ConfigError(
            f"{source}: '{key}' fractions must be >= 0 (train > 0) and sum to 1, "
            f"got train={split.train}, validation={split.validation}, test={split.test}"
        )


# --------------------------------------------------------------------------- the pipeline


def build_feature_pipeline(spec: FeatureSpec, columns: Sequence[str]) -> Pipeline:
    """The (unfitted) pyspark.ml Pipeline for ``spec`` over a DataFrame with ``columns``.

    Checks every step's inputs exist (in the data or as an earlier step's output) and that no
    output overwrites an input column.
    """
    available = list(columns)
    clashes = [c for c in spec.produced_columns() + [spec.output_col] if c in available]
    if clashes:
        raise ConfigError(
            f"feature spec '{spec.name}': step outputs {clashes} already exist in the input data; "
            "rename them with 'suffix'/'name'/'output'"
        )
    stages: list[Any] = []
    for i, step in enumerate(spec.steps):
        require_columns(available, step.inputs(), f"features.steps[{i}] ({spec.step_kinds[i]})")
        stages.extend(_stages_for(step, i))
        available.extend(step.outputs())
    require_columns(available, spec.feature_columns(), f"features '{spec.name}' assembler")
    stages.append(
        VectorAssembler(
            inputCols=spec.feature_columns(),
            outputCol=spec.output_col,
            handleInvalid=spec.handle_invalid,
        )
    )
    return Pipeline(stages=stages)


def _stages_for(step: Step, index: int) -> list[Any]:
    if isinstance(step, ImputeStep):
        return [
            Imputer(inputCols=step.columns, outputCols=step.outputs(), strategy=step.strategy)
        ]
    if isinstance(step, LogStep):
        exprs = ", ".join(
            f"log1p(CAST(`{c}` AS DOUBLE)) AS `{o}`"
            for c, o in zip(step.columns, step.outputs(), strict=True)
        )
        return [SQLTransformer(statement=f"SELECT *, {exprs} FROM __THIS__")]
    if isinstance(step, RatioStep):
        return [
            SQLTransformer(
                statement=f"SELECT *, try_divide(CAST(`{step.numerator}` AS DOUBLE), "
                f"CAST(`{step.denominator}` AS DOUBLE)) AS `{step.name}` FROM __THIS__"
            )
        ]
    if isinstance(step, DatePartsStep):
        exprs = ", ".join(
            f"CAST({DATE_PARTS[p]}(`{step.column}`) AS DOUBLE) AS `{o}`"
            for p, o in zip(step.parts, step.outputs(), strict=True)
        )
        return [SQLTransformer(statement=f"SELECT *, {exprs} FROM __THIS__")]
    if isinstance(step, InteractionStep):
        return [Interaction(inputCols=step.columns, outputCol=step.name)]
    if isinstance(step, ScaleStep):
        raw = f"{step.output_name}_input"
        scaler: Any
        if step.method == "standard":
            scaler = StandardScaler(
                inputCol=raw, outputCol=step.output_name, withMean=step.with_mean, withStd=True
            )
        else:
            scaler = MinMaxScaler(inputCol=raw, outputCol=step.output_name)
        return [
            VectorAssembler(inputCols=step.columns, outputCol=raw, handleInvalid="keep"),
            scaler,
        ]
    if isinstance(step, OneHotStep):
        index_cols = [f"{c}_index" for c in step.columns]
        return [
            StringIndexer(
                inputCols=step.columns,
                outputCols=index_cols,
                handleInvalid="keep",
                stringOrderType=step.order,
            ),
            OneHotEncoder(
                inputCols=index_cols, outputCols=step.outputs(), handleInvalid="keep"
            ),
        ]
    if isinstance(step, QuantileBinsStep):
        return [
            QuantileDiscretizer(
                inputCols=step.columns,
                outputCols=step.outputs(),
                numBuckets=step.buckets,
                relativeError=step.relative_error,
                handleInvalid="keep",
            )
        ]
    if isinstance(step, BucketsStep):
        return [
            Bucketizer(
                inputCols=step.columns,
                outputCols=step.outputs(),
                splitsArray=[list(step.splits)] * len(step.columns),
                handleInvalid="keep",
            )
        ]
    raise TypeError(f"unknown feature step {step!r}")  # unreachable: the spec is validated


def fit_feature_pipeline(train: DataFrame, spec: FeatureSpec) -> PipelineModel:
    """Fit the spec's pipeline on the training split only (the caller passes only train rows).

    Fitting is an action: imputers, scalers, indexers and discretizers read the data.
    """
    pipeline = build_feature_pipeline(spec, train.columns)
    log.info("fitting feature pipeline %s (%d stages)", spec.name, len(pipeline.getStages()))
    return pipeline.fit(train)


# --------------------------------------------------------------------------- versions


@dataclass(frozen=True)
class FeatureModelRef:
    """Where a fitted pipeline version lives."""

    name: str
    version: str
    uri: str

    @property
    def pipeline_uri(self) -> str:
        return join_uri(self.uri, "pipeline")

    @property
    def spec_uri(self) -> str:
        return join_uri(self.uri, "feature_spec.json")


def feature_models_uri(lake: Lake, name: str) -> str:
    """Folder holding every saved version of the feature pipeline ``name``."""
    return lake.table_uri("metadata", validate_identifier(name, "feature pipeline name"),
                          database="feature_models")


def new_version() -> str:
    """A sortable version id: UTC time to the microsecond."""
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")


def save_feature_model(
    model: PipelineModel, spec: FeatureSpec, *, lake: Lake, version: str | None = None
) -> FeatureModelRef:
    """Save a fitted pipeline as a new immutable version (never overwrites one)."""
    version = version or new_version()
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", version):
        raise ConfigError(f"feature model version {version!r}: use letters, digits, '_', '.', '-'")
    uri = lake.require_inside(
        join_uri(feature_models_uri(lake, spec.name), f"v={version}"), "feature model"
    )
    ref = FeatureModelRef(spec.name, version, uri)
    if uri_exists(ref.uri):
        raise ConfigError(
            f"feature model {spec.name} version {version} already exists at {uri}; "
            "versions are immutable, save under a new version"
        )
    model.save(ref.pipeline_uri)
    write_text(ref.spec_uri, json.dumps(spec_to_dict(spec), indent=2, sort_keys=True))
    log.info("saved feature pipeline %s version %s to %s", spec.name, version, uri)
    return ref


def list_feature_model_versions(lake: Lake, name: str) -> list[str]:
    """Saved versions of ``name``, oldest first."""
    names = list_subdirs(feature_models_uri(lake, name))
    return sorted(n[2:] for n in names if n.startswith("v="))


def load_feature_model(
    *, lake: Lake, name: str, version: str | None = None
) -> tuple[PipelineModel, FeatureModelRef]:
    """Load a saved version (the newest when ``version`` is None)."""
    versions = list_feature_model_versions(lake, name)
    if not versions:
        raise ConfigError(
            f"no saved feature pipeline {name!r} under {feature_models_uri(lake, name)}"
        )
    chosen = version or versions[-1]
    if chosen not in versions:
        raise ConfigError(f"feature pipeline {name!r} has no version {chosen!r}; have {versions}")
    ref = FeatureModelRef(name, chosen, join_uri(feature_models_uri(lake, name), f"v={chosen}"))
    return PipelineModel.load(ref.pipeline_uri), ref


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


# --------------------------------------------------------------------------- the split


def with_split(
    df: DataFrame,
    *,
    key: Sequence[str],
    split: SplitSpec,
    stratify_by: str | None = None,
) -> DataFrame:
    """Add ``split.column`` ('train' / 'validation' / 'test') from a hash of the entity key.

    The hash is ``xxhash64(seed, *key)``, so the assignment never depends on row order or
    partitioning. With ``method='stratified'`` the cut points are learnt per value of
    ``stratify_by`` (nulls form their own stratum) with ``percentile_approx`` so each stratum gets
    the fractions to within one row; with ``method='hash'`` the cut points are the fractions
    themselves. Lazy: no action is run.
    """
    require_columns(df.columns, list(key) + ([stratify_by] if stratify_by else []), "with_split")
    if split.column in df.columns:
        raise ConfigError(f"with_split: column {split.column!r} already exists; set split.column")
    u = F.pmod(F.xxhash64(F.lit(split.seed), *[F.col(k) for k in key]), F.lit(_HASH_RESOLUTION))
    u = u.cast("double") / float(_HASH_RESOLUTION)
    cut_train = split.train
    cut_val = 1.0 if split.test == 0 else split.train + split.validation
    with_u = df.withColumn("__split_u", u)
    if split.method == "stratified" and stratify_by:
        cuts = with_u.groupBy(F.col(stratify_by).alias("__split_stratum")).agg(
            F.percentile_approx("__split_u", [cut_train, cut_val], 100_000).alias("__split_cuts")
        )
        with_u = with_u.join(
            F.broadcast(cuts), with_u[stratify_by].eqNullSafe(cuts["__split_stratum"]), "left"
        )
        train_cond = F.col("__split_u") <= F.col("__split_cuts")[0]
        val_cond = F.col("__split_u") <= F.col("__split_cuts")[1]
    else:
        train_cond = F.col("__split_u") < F.lit(cut_train)
        val_cond = F.col("__split_u") < F.lit(cut_val)
    if split.validation == 0:
        val_cond = F.lit(False)
    if split.test == 0:
        val_cond = F.lit(True)
    labelled = with_u.withColumn(
        split.column,
        F.when(train_cond, F.lit("train")).when(val_cond, F.lit("validation"))
        .otherwise(F.lit("test")),
    )
    return labelled.drop("__split_u", "__split_stratum", "__split_cuts")


# --------------------------------------------------------------------------- feature names


def feature_names(schema: StructType, spec: FeatureSpec) -> list[str]:
    """One SageMaker-safe column name per slot of the assembled vector, from its ml_attr metadata.

    Scaled vectors are named ``<output>_<input column>``, one-hot slots ``<col>_onehot_<category>``
    (``__unknown`` for unseen/null), interactions ``<name>_<a>_<b>``. Names are lower-case,
    ``[a-z0-9_]`` only, de-duplicated with a numeric suffix. Uses the schema only (no action).
    """
    raw = _slot_names(schema, spec)
    out: list[str] = []
    seen: set[str] = set()
    for name in raw:
        clean = re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_") or "f"
        if clean[0].isdigit():
            clean = f"f_{clean}"
        candidate, n = clean, 1
        while candidate in seen:
            n += 1
            candidate = f"{clean}_{n}"
        seen.add(candidate)
        out.append(candidate)
    return out


def _slot_names(schema: StructType, spec: FeatureSpec) -> list[str]:
    field_ = schema[spec.output_col]
    attrs = field_.metadata.get("ml_attr", {})
    size = int(attrs.get("num_attrs", 0))
    names = [f"{spec.output_col}_{i}" for i in range(size)]
    for group in attrs.get("attrs", {}).values():
        for attr in group:
            if "name" in attr:
                names[attr["idx"]] = attr["name"]
    scaled = {s.output_name: list(s.columns) for s in spec.steps if isinstance(s, ScaleStep)}
    for i, name in enumerate(names):
        m = re.fullmatch(r"(.+)_(\d+)", name)
        if m and m.group(1) in scaled and int(m.group(2)) < len(scaled[m.group(1)]):
            names[i] = f"{m.group(1)}_{scaled[m.group(1)][int(m.group(2))]}"
    return names


def source_of(slot: str, spec: FeatureSpec) -> tuple[str, str]:
    """(column, step kind) an assembled slot comes from: the longest feature column prefixing it."""
    kinds = {out: d["kind"] for d, s in zip(step_dicts(spec), spec.steps, strict=True)
             for out in s.outputs()}
    best = ""
    for col in spec.feature_columns():
        if (slot == col or slot.startswith(col + "_")) and len(col) > len(best):
            best = col
    return best, kinds.get(best, "passthrough")


# --------------------------------------------------------------------------- SageMaker outputs


def to_sagemaker_frame(
    df: DataFrame,
    *,
    label: str,
    feature_names: Sequence[str],
    features_col: str = "features",
) -> DataFrame:
    """Label first (as double), then one double column per vector slot; NaN becomes null.

    Lazy. Raises :class:`FeatureInputError` when the label is not numeric/boolean or the names do
    not match the vector size recorded in the schema.
    """
    require_columns(df.columns, [label, features_col], "to_sagemaker_frame")
    label_type = df.schema[label].dataType
    if not isinstance(label_type, (T.NumericType, T.BooleanType)):
        raise FeatureInputError(
            f"label column {label!r} is {label_type.simpleString()}; SageMaker needs a numeric "
            "label: index it first (e.g. a StringIndexer) or cast it"
        )
    size = df.schema[features_col].metadata.get("ml_attr", {}).get("num_attrs")
    if size is not None and int(size) != len(feature_names):
        raise FeatureInputError(
            f"{len(feature_names)} feature names for a {size}-slot vector in {features_col!r}"
        )
    if label in feature_names:
        raise FeatureInputError(f"a feature is named like the label {label!r}; rename it")
    arr = vector_to_array(F.col(features_col), "float64")
    cols = [_nan_to_null(F.col(label).cast("double")).alias(label)]
    cols += [_nan_to_null(arr[i]).alias(name) for i, name in enumerate(feature_names)]
    return df.select(*cols)


def _nan_to_null(col: SparkColumn) -> SparkColumn:
    return F.when(F.isnan(col), F.lit(None).cast("double")).otherwise(col)


def _require_labels(df: DataFrame, label: str) -> None:
    nulls = df.filter(F.col(label).isNull()).limit(1).count()
    if nulls:
        raise FeatureInputError(
            f"label column {label!r} has null values; SageMaker training needs a label on every "
            "row: filter or fill them before writing"
        )


SageMakerFormat = Literal["csv", "parquet"]
# Per format: the name in messages and the writer options. CSV for the built-in XGBoost / linear
# learner: label first, no header, numbers only (missing values as empty fields).
_SAGEMAKER_FORMATS: dict[str, tuple[str, dict[str, str]]] = {
    "csv": ("CSV", {"header": "false"}),
    "parquet": ("Parquet", {"compression": "snappy"}),
}


def write_sagemaker(
    df: DataFrame,
    path: str,
    *,
    file_format: SageMakerFormat,
    label: str,
    lake: Lake,
    feature_names: Sequence[str],
    features_col: str = "features",
    mode: Literal["error", "overwrite"] = "error",
) -> str:
    """Write a SageMaker training channel: the label, then one double column per feature.

    ``file_format`` ``"csv"`` writes no header and numbers only (what the built-in XGBoost and
    linear learner read); ``"parquet"`` writes snappy Parquet with named double columns (no
    VectorUDT). No ``_SUCCESS`` marker is written into the channel. A null label is an error.

    Example::

        write_sagemaker(train, lake.path("features", "churn", "train"), file_format="csv",
                        label="churned", lake=lake, feature_names=names)
    """
    if file_format not in _SAGEMAKER_FORMATS:
        raise ConfigError(
            f"SageMaker output format {file_format!r}: use one of {sorted(_SAGEMAKER_FORMATS)}"
        )
    title, options = _SAGEMAKER_FORMATS[file_format]
    lake.require_inside(path, f"SageMaker {title} output")
    frame = to_sagemaker_frame(
        df, label=label, feature_names=feature_names, features_col=features_col
    )
    _require_labels(frame, label)
    (
        frame.write.mode(mode)
        .format(file_format)
        .options(**options)
        .option("mapreduce.fileoutputcommitter.marksuccessfuljobs", "false")
        .save(path)
    )
    log.info("wrote SageMaker %s (%d features) to %s", title, len(feature_names), path)
    return path


def write_sagemaker_csv(df: DataFrame, path: str, **kwargs: Any) -> str:
    """:func:`write_sagemaker` with ``file_format="csv"``."""
    return write_sagemaker(df, path, file_format="csv", **kwargs)


def write_sagemaker_parquet(df: DataFrame, path: str, **kwargs: Any) -> str:
    """:func:`write_sagemaker` with ``file_format="parquet"``."""
    return write_sagemaker(df, path, file_format="parquet", **kwargs)


# --------------------------------------------------------------------------- the manifest


def build_feature_manifest(
    train_features: DataFrame,
    spec: FeatureSpec,
    *,
    version: str,
    files: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The manifest of a feature set: column order (label first), names, source columns and
    stages, and per-feature training statistics (count, nulls, mean, stddev, min, max).

    ``train_features`` is the fitted pipeline's output on the training split; computing the
    statistics is one aggregation over it.
    """
    names = feature_names(train_features.schema, spec)
    arr = vector_to_array(F.col(spec.output_col), "float64")
    aggs: list[SparkColumn] = [F.count(F.lit(1)).alias("rows")]
    for i in range(len(names)):
        v = _nan_to_null(arr[i])
        aggs += [
            F.count(v).alias(f"n{i}"),
            F.mean(v).alias(f"mean{i}"),
            F.stddev_samp(v).alias(f"std{i}"),
            F.min(v).alias(f"min{i}"),
            F.max(v).alias(f"max{i}"),
        ]
    row = train_features.agg(*aggs).first()
    stats = row.asDict() if row is not None else {}
    rows = int(stats.get("rows") or 0)
    raw_names = _slot_names(train_features.schema, spec)
    features = []
    for i, name in enumerate(names):
        column, kind = source_of(raw_names[i], spec)
        features.append(
            {
                "index": i + 1,
                "name": name,
                "source_column": column,
                "source_stage": kind,
                "statistics": {
                    "count": int(stats.get(f"n{i}") or 0),
                    "nulls": rows - int(stats.get(f"n{i}") or 0),
                    "mean": stats.get(f"mean{i}"),
                    "stddev": stats.get(f"std{i}"),
                    "min": stats.get(f"min{i}"),
                    "max": stats.get(f"max{i}"),
                },
            }
        )
    return {
        "name": spec.name,
        "version": version,
        "created_at": datetime.now(timezone.utc).isoformat(),
        "label": {"name": spec.label, "index": 0},
        "columns": [spec.label, *names],
        "csv": {"header": False, "label_position": 0},
        "training_rows": rows,
        "features": features,
        "stages": step_dicts(spec),
        "files": dict(files or {}),
    }


def write_feature_manifest(manifest: Mapping[str, Any], uri: str, *, lake: Lake) -> str:
    """Write the manifest JSON (keep it outside the SageMaker channel folders)."""
    lake.require_inside(uri, "feature manifest")
    write_text(uri, json.dumps(manifest, indent=2, sort_keys=False, default=str))
    return uri


__all__ = [
    "BucketsStep", "DatePartsStep", "FeatureInputError", "FeatureModelRef", "FeatureSpec",
    "ImputeStep", "InteractionStep", "LogStep", "OneHotStep", "QuantileBinsStep", "RatioStep",
    "ScaleStep", "SplitSpec", "build_feature_manifest", "build_feature_pipeline",
    "feature_names", "feature_spec_from_mapping", "fit_feature_pipeline", "load_feature_model",
    "load_feature_spec", "save_feature_model", "to_sagemaker_frame", "with_split",
    "write_feature_manifest", "write_sagemaker", "write_sagemaker_csv", "write_sagemaker_parquet",
]
