"""Spec -> pyspark.ml Pipeline, the train/validation/test split, feature names, SageMaker frames
and the feature manifest (all DataFrame-in / DataFrame-or-dict-out; nothing is written here).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from pyspark.ml import Estimator, Pipeline, PipelineModel
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
from pyspark.ml.linalg import VectorUDT
from pyspark.sql import Column as SparkColumn
from pyspark.sql import DataFrame
from pyspark.sql import functions as F  # noqa: N812
from pyspark.sql import types as T  # noqa: N812
from pyspark.sql.window import Window

from lakeforge.errors import ConfigError, require_columns
from transforms.features.spec import (
    DATE_PARTS,
    BucketsStep,
    DatePartsStep,
    FeatureInputError,
    FeatureSpec,
    ImputeStep,
    InteractionStep,
    LogStep,
    OneHotStep,
    QuantileBinsStep,
    RatioStep,
    ScaleStep,
    SplitSpec,
    Step,
    step_dicts,
)

if TYPE_CHECKING:
    from pyspark.sql.types import StructType

log = logging.getLogger(__name__)



_HASH_RESOLUTION = 1_000_000_000


def build_feature_pipeline(
    spec: FeatureSpec, columns: Sequence[str], *, vector_columns: Iterable[str] = ()
) -> Pipeline:
    """The (unfitted) pyspark.ml Pipeline for ``spec`` over a DataFrame with ``columns``.

    Checks every step's inputs exist (in the data or as an earlier step's output) and that no
    output overwrites an input column. ``vector_columns`` names the input columns that are ml
    vectors (:func:`fit_feature_pipeline` reads them from the schema); the vectors the steps
    produce (scale, one_hot, interaction) are known from the spec.
    """
    available = list(columns)
    vectors = {c for c in vector_columns if c in available}
    clashes = [c for c in spec.produced_columns() + [spec.output_col] if c in available]
    if clashes:
        raise ConfigError(
            f"feature spec '{spec.name}': step outputs {clashes} already exist in the input data; "
            "rename them with 'suffix'/'name'/'output'"
        )
    stages: list[Any] = []
    for i, step in enumerate(spec.steps):
        require_columns(available, step.inputs(), f"features.steps[{i}] ({spec.step_kinds[i]})")
        stages.extend(_stages_for(step, i, spec.handle_invalid, vectors))
        available.extend(step.outputs())
        vectors.update(_vector_outputs(step))
    require_columns(available, spec.feature_columns(), f"features '{spec.name}' assembler")
    stages.append(
        VectorAssembler(
            inputCols=spec.feature_columns(),
            outputCol=spec.output_col,
            handleInvalid=spec.handle_invalid,
        )
    )
    return Pipeline(stages=stages)


def _with_sql_columns(columns: Iterable[tuple[str, str]]) -> SQLTransformer:
    """A SQLTransformer adding ``(sql expression, output name)`` columns to its input."""
    exprs = ", ".join(f"{sql} AS `{name}`" for sql, name in columns)
    return SQLTransformer(statement=f"SELECT *, {exprs} FROM __THIS__")


def _sql_text(text: str) -> str:
    """``text`` as a single-quoted Spark SQL string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _vector_outputs(step: Step) -> list[str]:
    """The columns ``step`` adds as ml vectors (every other step output is a double)."""
    if isinstance(step, ScaleStep):
        return step.outputs() + step.internal()
    if isinstance(step, (OneHotStep, InteractionStep)):
        return step.outputs()
    return []


def _fail_on_null(
    columns: Sequence[str], where: str, *, nan: bool, hint: str,
    vectors: Iterable[str] = (),
) -> SQLTransformer:
    """A stage passing every row through unchanged that fails the Spark job, with a one-line
    message naming ``where`` and the column, on a row where one of ``columns`` is null (or NaN
    with ``nan``; ``vectors``, ml vector columns, only on null: a vector cannot be cast to a
    double). Lazy: it raises when the rows are read (at fit for a later estimator)."""
    vector_set = set(vectors)
    checks = []
    for c in columns:
        with_nan = nan and c not in vector_set
        bad = f"`{c}` IS NULL" + (f" OR isnan(CAST(`{c}` AS DOUBLE))" if with_nan else "")
        what = "null or NaN" if with_nan else "null"
        message = _sql_text(f"{where}: column {c!r} is {what}; {hint}")
        checks.append(f"WHEN {bad} THEN raise_error({message})")
    return SQLTransformer(
        statement=f"SELECT * FROM __THIS__ WHERE CASE {' '.join(checks)} ELSE true END"
    )


class _FitOnCompleteRows(Estimator):  # type: ignore[type-arg]
    """Fits ``estimator`` on the rows whose ``columns`` are all present (not null, not NaN) and
    returns its (pyspark.ml, savable) model: the ``scale`` step under ``handle_invalid: keep``,
    so one missing value does not make the learnt mean/std/min/max NaN for every row.
    :class:`FeatureInputError` naming ``where`` and the columns when no training row is
    complete (one extra action at fit: a ``limit(1)`` over the complete rows)."""

    def __init__(self, estimator: Any, columns: Sequence[str], where: str) -> None:
        super().__init__()
        self._estimator = estimator
        self._columns = list(columns)
        self._where = where

    def _fit(self, dataset: DataFrame) -> Any:
        present = F.lit(True)
        for c in self._columns:
            ok = F.col(c).isNotNull()
            if isinstance(dataset.schema[c].dataType, T.NumericType):
                ok = ok & ~F.isnan(F.col(c).cast("double"))
            present = present & ok
        complete = dataset.where(present)
        if not complete.limit(1).count():
            raise FeatureInputError(
                f"{self._where}: no training row has all of {self._columns} present (not null, "
                "not NaN), so there is nothing to learn the scaling from; impute them first"
            )
        return self._estimator.fit(complete)


def _stages_for(
    step: Step, index: int, handle_invalid: str = "error", vectors: Iterable[str] = ()
) -> list[Any]:
    if isinstance(step, ImputeStep):
        return [
            Imputer(inputCols=step.columns, outputCols=step.outputs(), strategy=step.strategy)
        ]
    if isinstance(step, LogStep):
        return [_with_sql_columns(
            (f"log1p(CAST(`{c}` AS DOUBLE))", o)
            for c, o in zip(step.columns, step.outputs(), strict=True))]
    if isinstance(step, RatioStep):
        return [_with_sql_columns([(
            f"try_divide(CAST(`{step.numerator}` AS DOUBLE), "
            f"CAST(`{step.denominator}` AS DOUBLE))", step.name)])]
    if isinstance(step, DatePartsStep):
        return [_with_sql_columns(
            (f"CAST({DATE_PARTS[p]}(`{step.column}`) AS DOUBLE)", o)
            for p, o in zip(step.parts, step.outputs(), strict=True))]
    if isinstance(step, InteractionStep):
        # pyspark.ml's Interaction fails on a null input whatever handle_invalid says ("Values
        # to interact cannot be null"): fail first, naming the step and the column. NaN passes
        # (its products are NaN, which the final assembler's handle_invalid then judges).
        return [
            _fail_on_null(
                step.columns, f"features.steps[{index}] (interaction {step.name!r})", nan=False,
                hint="interaction inputs cannot be null, even with handle_invalid keep: "
                "impute them first",
            ),
            Interaction(inputCols=step.columns, outputCol=step.name),
        ]
    if isinstance(step, ScaleStep):
        raw = f"{step.output_name}_input"
        scaler: Any
        if step.method == "standard":
            scaler = StandardScaler(
                inputCol=raw, outputCol=step.output_name, withMean=step.with_mean, withStd=True
            )
        else:
            scaler = MinMaxScaler(inputCol=raw, outputCol=step.output_name)
        assembler = VectorAssembler(
            inputCols=step.columns, outputCol=raw, handleInvalid=handle_invalid
        )
        where = f"features.steps[{index}] (scale {step.output_name!r})"
        if handle_invalid == "error":
            # Null and NaN fail for plain columns; a vector input (an earlier step's output, or
            # an input column of vector type) on null only, as VectorAssembler took it before.
            return [
                _fail_on_null(
                    step.columns, where, nan=True, vectors=vectors,
                    hint="impute it first or set handle_invalid: keep",
                ),
                assembler,
                scaler,
            ]
        # keep: the statistics come from the training rows with every input present; a row
        # with a null/NaN input gets NaN in that slot only (its other slots are scaled).
        return [assembler, _FitOnCompleteRows(scaler, step.columns, where)]
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
        # pyspark's __init__ overloads pair numBuckets with inputCol only (numBuckets applies to
        # every one of inputCols too, as its docs say), so the columns are set with setters.
        return [
            QuantileDiscretizer(
                numBuckets=step.buckets,
                relativeError=step.relative_error,
                handleInvalid="keep",
            )
            .setInputCols(step.columns)
            .setOutputCols(step.outputs())
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
    vectors = [f.name for f in train.schema.fields if isinstance(f.dataType, VectorUDT)]
    pipeline = build_feature_pipeline(spec, train.columns, vector_columns=vectors)
    log.info("fitting feature pipeline %s (%d stages)", spec.name, len(pipeline.getStages()))
    return pipeline.fit(train)


def with_split(
    df: DataFrame,
    *,
    key: Sequence[str],
    split: SplitSpec,
    stratify_by: str | None = None,
) -> DataFrame:
    """Add ``split.column`` ('train' / 'validation' / 'test') from a hash of the entity key.

    The hash is ``xxhash64(seed, *key)``, so the assignment never depends on row order or
    partitioning, and every row of a key lands in the same split (no entity leaks between
    train and validation/test). With ``method='stratified'`` each entity gets one stratum, the
    most frequent value of ``stratify_by`` among its rows (ties go to the greatest value, a
    value before null; an entity whose labels are all null is the null stratum), and the cut
    points are learnt per stratum over the entities with ``percentile_approx``, so each stratum
    gets the fractions to within one entity. A stratum of fewer than ``ceil(1 / smallest
    non-zero fraction)`` entities (7 for 0.7/0.15/0.15), and every non-integral value of a
    float/double/decimal label (NaN and infinities too; a continuous label is not stratified
    per value, and its values are pooled before the strata are counted), go into one
    pooled stratum cut the same way, or by the fixed cut points when the pool too is that
    small. With ``method='hash'`` the cut points are the fractions themselves. Lazy: no action
    is run.
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
        # One stratum per entity, by windows over the key (a null key is one entity, as it is
        # one hash): the label's count among the entity's rows, then the entity's greatest
        # (count, label) pair. Struct ordering compares count first, then the label with null
        # lowest, so the choice never depends on row order.
        entity = Window.partitionBy(*[F.col(k) for k in key])
        label_count = F.count(F.lit(1)).over(
            Window.partitionBy(*[F.col(k) for k in key], F.col(stratify_by)))
        with_u = (
            with_u.withColumn("__split_n", label_count)
            .withColumn("__split_stratum", F.max(F.struct(
                F.col("__split_n").alias("n"), F.col(stratify_by).alias("v"))).over(entity)["v"])
        )
        # A stratum with fewer than min_size entities cannot be cut by its own quantiles (they
        # are data values: 1 to 3 entities would all go to train), nor can a non-integral value
        # of a float/double/decimal label (a continuous label: one stratum per distinct value).
        # Those entities are pooled into one leftover stratum, cut by its own quantiles, or
        # by the fixed hash cut points when the pool too is smaller than min_size.
        fractions = [f for f in (split.train, split.validation, split.test) if f > 0]
        min_size = math.ceil(1.0 / min(fractions) - 1e-9)
        # Non-integral values (NaN and infinities too: their % 1 is NaN) go to the pool before
        # the per-stratum sizes are counted, so a continuous label gives one size row for all
        # of them, not one per distinct value.
        stratum = F.col("__split_stratum")
        fractional = F.lit(False)
        label_type = df.schema[stratify_by].dataType
        if isinstance(label_type, (T.FloatType, T.DoubleType, T.DecimalType)):
            off_grid = (stratum % F.lit(1)) != F.lit(0)
            if not isinstance(label_type, T.DecimalType):
                off_grid = off_grid | F.isnan(stratum)
            fractional = F.coalesce(off_grid, F.lit(False))
        with_u = with_u.withColumn("__split_frac", fractional).withColumn(
            "__split_key", F.when(F.col("__split_frac"), F.lit(None)).otherwise(stratum))
        entities = with_u.select(*key, "__split_frac", "__split_key").dropDuplicates(list(key))
        sizes = entities.groupBy(
            F.col("__split_frac").alias("__split_size_frac"),
            F.col("__split_key").alias("__split_size_key"),
        ).agg(F.count(F.lit(1)).alias("__split_size"))
        # Broadcast: one row per integral label value (non-integral ones are pooled above), a
        # handful for a class label. A shuffle join would instead hash every row by its
        # stratum: a binary label puts all rows in two partitions (two writing tasks, and
        # empty files in the SageMaker channels). A label with very many integral values is
        # no stratum to split by (use method hash).
        with_u = with_u.join(
            F.broadcast(sizes),
            (with_u["__split_frac"] == sizes["__split_size_frac"])
            & with_u["__split_key"].eqNullSafe(sizes["__split_size_key"]),
            "left",
        )
        pooled = F.col("__split_frac") | (F.col("__split_size") < F.lit(min_size))
        with_u = with_u.withColumn("__split_pooled", pooled).withColumn(
            "__split_group",
            F.when(F.col("__split_pooled"), F.lit(None)).otherwise(F.col("__split_stratum")))
        groups = with_u.select(*key, "__split_pooled", "__split_group", "__split_u") \
            .dropDuplicates(list(key))
        cuts = groups.groupBy(
            F.col("__split_pooled").alias("__split_cut_pooled"),
            F.col("__split_group").alias("__split_cut_stratum"),
        ).agg(
            F.percentile_approx("__split_u", [cut_train, cut_val], 100_000).alias("__split_cuts"),
            F.count(F.lit(1)).alias("__split_cut_n"),
        )
        with_u = with_u.join(
            F.broadcast(cuts),  # at most one row per stratum of ``sizes`` plus the pool
            (with_u["__split_pooled"] == cuts["__split_cut_pooled"])
            & with_u["__split_group"].eqNullSafe(cuts["__split_cut_stratum"]),
            "left",
        )
        own = F.col("__split_cut_n") >= F.lit(min_size)
        train_cond = F.when(own, F.col("__split_u") <= F.col("__split_cuts")[0]) \
            .otherwise(F.col("__split_u") < F.lit(cut_train))
        val_cond = F.when(own, F.col("__split_u") <= F.col("__split_cuts")[1]) \
            .otherwise(F.col("__split_u") < F.lit(cut_val))
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
    return labelled.drop(
        "__split_u", "__split_n", "__split_stratum", "__split_frac", "__split_key",
        "__split_size_frac", "__split_size_key", "__split_size",
        "__split_pooled", "__split_group", "__split_cut_pooled", "__split_cut_stratum",
        "__split_cuts", "__split_cut_n",
    )


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


def require_labels(df: DataFrame, label: str) -> None:
    nulls = df.filter(F.col(label).isNull()).limit(1).count()
    if nulls:
        raise FeatureInputError(
            f"label column {label!r} has null values; SageMaker training needs a label on every "
            "row: filter or fill them before writing"
        )


def build_feature_manifest(
    train_features: DataFrame,
    spec: FeatureSpec,
    *,
    version: str,
    files: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The manifest of a feature set: column order (label first), names, source columns and
    stages, and per-feature training statistics (count, nulls, mean, stddev, min, max).

    ``train_features`` is the fitted pipeline's output on the training split. The statistics
    are one aggregation over it in long form, a row per (training row, feature slot) grouped
    by slot: five aggregates whatever the number of features. (Five aggregates per slot in
    one wide row, as before, made a plan of hundreds of aggregates whose generated code alone
    took seconds to compile on every run.) A null vector counts as a null in every slot.
    """
    names = feature_names(train_features.schema, spec)
    vec = F.col(spec.output_col)  # vector_to_array fails on a null vector: not called on one
    arr = F.when(vec.isNull(), F.array_repeat(F.lit(None).cast("double"), len(names))) \
        .otherwise(vector_to_array(vec, "float64"))
    slots = (train_features.select(F.posexplode(arr).alias("slot", "v"))
             .select("slot", _nan_to_null(F.col("v")).alias("v")))
    by_slot = {
        r["slot"]: r
        for r in slots.groupBy("slot").agg(
            F.count(F.lit(1)).alias("rows"), F.count("v").alias("count"),
            F.mean("v").alias("mean"), F.stddev_samp("v").alias("stddev"),
            F.min("v").alias("min"), F.max("v").alias("max"),
        ).collect()
    }
    rows = int(by_slot[0]["rows"]) if 0 in by_slot else 0
    raw_names = _slot_names(train_features.schema, spec)
    features = []
    for i, name in enumerate(names):
        column, kind = source_of(raw_names[i], spec)
        stats = by_slot[i].asDict() if i in by_slot else {}
        count = int(stats.get("count") or 0)
        features.append(
            {
                "index": i + 1,
                "name": name,
                "source_column": column,
                "source_stage": kind,
                "statistics": {
                    "count": count,
                    "nulls": rows - count,
                    **{k: stats.get(k) for k in ("mean", "stddev", "min", "max")},
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


__all__ = [
    "build_feature_manifest", "build_feature_pipeline", "feature_names", "fit_feature_pipeline",
    "require_labels", "source_of", "to_sagemaker_frame", "with_split",
]
