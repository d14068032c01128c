"""Feature engineering as pyspark.ml Pipelines declared in YAML, plus SageMaker-ready frames.

A :class:`FeatureSpec` (the ``features:`` section of a job's YAML) lists ordered steps; each step
becomes pyspark.ml stages (Imputer, StandardScaler/MinMaxScaler, StringIndexer + OneHotEncoder,
QuantileDiscretizer, Bucketizer, Interaction, SQLTransformer for log, ratios and date parts), and
a final VectorAssembler gathers the feature columns into one vector. The pipeline is fitted on the
training split only and re-applied to new data.

``spec`` holds the spec and its validation, ``pipeline`` the pyspark.ml pipeline, the split,
feature names, SageMaker frames and the manifest contents. Reading the YAML, saving fitted
versions and writing SageMaker files and the manifest is the runtime's job:
:mod:`lakeforge.feature_store`.
"""

from __future__ import annotations

from transforms.features.pipeline import (
    build_feature_manifest,
    build_feature_pipeline,
    feature_names,
    fit_feature_pipeline,
    require_labels,
    source_of,
    to_sagemaker_frame,
    with_split,
)
from transforms.features.spec import (
    DATE_PARTS,
    SPLITS,
    STEP_KINDS,
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
    spec_to_dict,
    step_dicts,
)

__all__ = [
    "DATE_PARTS", "SPLITS", "STEP_KINDS", "BucketsStep", "DatePartsStep", "FeatureInputError",
    "FeatureSpec", "ImputeStep", "InteractionStep", "LogStep", "OneHotStep", "QuantileBinsStep",
    "RatioStep", "ScaleStep", "SplitSpec", "Step", "build_feature_manifest",
    "build_feature_pipeline", "feature_names", "fit_feature_pipeline", "require_labels",
    "source_of", "spec_to_dict", "step_dicts", "to_sagemaker_frame", "with_split",
]
