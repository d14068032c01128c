"""Feature pipelines on the lake: the spec from a job's YAML, versioned fitted pipelines,
SageMaker channel files and the manifest (local folders or s3://).

The pure parts (spec, pyspark.ml pipeline, split, feature names, manifest contents) are in
:mod:`transforms.features`; everything that reads config or writes is here. The pure functions a
job's feature phase needs are re-exported, so a lifecycle uses one module.

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
    published = publish_sagemaker_channels(model.transform(df), spec, lake=lake,
                                           version=ref.version)
    published.files["train_csv"]  # features/churn/_versions/<version>/csv/train

A feature set's SageMaker channels are published atomically (:func:`publish_sagemaker_channels`)::

    features/<name>/manifest.json                          the switch: names the current version
    features/<name>/_versions/<version>/<csv|parquet>/<train|validation|test>/part-*
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakeforge.config import from_mapping, read_yaml
from lakeforge.errors import ConfigError
from lakeforge.faults import fault_point
from lakeforge.io import delete_dir, list_subdirs, read_text, uri_exists, write_text
from lakeforge.paths import Lake, join_uri, normalize_uri, validate_identifier
from transforms.features.pipeline import (
    build_feature_manifest,
    feature_names,
    fit_feature_pipeline,
    require_labels,
    to_sagemaker_frame,
    with_split,
)
from transforms.features.spec import (
    STEP_KINDS,
    FeatureSpec,
    SplitSpec,
    Step,
    spec_to_dict,
    validate_split,
    validate_step,
)

log = logging.getLogger(__name__)


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
        step: Step = from_mapping(STEP_KINDS[kind], body, source, key)
        validate_step(step, source, key)
        steps.append(step)
        kinds.append(kind)
    validate_split(header.split, source, f"{prefix}.split")
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


def _require_version_id(version: str, what: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", version) or version in (".", ".."):
        raise ConfigError(f"{what} version {version!r}: use letters, digits, '_', '.', '-'")
    return version


def save_feature_model(
    model: PipelineModel, spec: FeatureSpec, *, lake: Lake, version: str | None = None
) -> FeatureModelRef:
    """Save a fitted pipeline as a new immutable version (never overwrites one)."""
    version = _require_version_id(version or new_version(), "feature model")
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
    # The save time (UTC, microseconds) orders the versions: a version id is any text, so its
    # sort order says nothing about age ('v1' > '2026...', '1.9' > '1.10').
    saved = {**spec_to_dict(spec), "created_at": datetime.now(timezone.utc).isoformat(
        timespec="microseconds")}
    write_text(ref.spec_uri, json.dumps(saved, indent=2, sort_keys=True))
    log.info("saved feature pipeline %s version %s to %s", spec.name, version, uri)
    return ref


def _saved_at(uri: str) -> str | None:
    """The ``created_at`` a version's ``feature_spec.json`` records (None: saved before it was
    recorded, or no readable spec)."""
    try:
        created = json.loads(read_text(join_uri(uri, "feature_spec.json"))).get("created_at")
    except Exception:  # a missing or unreadable spec (local or S3): counted as an old version
        return None
    if not isinstance(created, str):
        return None
    try:
        return datetime.fromisoformat(created).astimezone(timezone.utc).isoformat(
            timespec="microseconds")
    except ValueError:
        return None


def list_feature_model_versions(lake: Lake, name: str) -> list[str]:
    """Saved versions of ``name``, oldest first: by the save time their ``feature_spec.json``
    records; versions saved before that was recorded come first, in text order."""
    base = feature_models_uri(lake, name)
    versions = [n[2:] for n in list_subdirs(base) if n.startswith("v=")]

    def order(version: str) -> tuple[bool, str, str]:
        created = _saved_at(join_uri(base, f"v={version}"))
        return (created is not None, created or "", version)

    return sorted(versions, key=order)


def load_feature_model(
    *, lake: Lake, name: str, version: str | None = None
) -> tuple[PipelineModel, FeatureModelRef]:
    """Load a saved version (the latest saved when ``version`` is None, by the save time its
    spec records; versions saved before that was recorded count as older, in text order)."""
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
    check_labels: bool = True,
) -> str:
    """Write a SageMaker training channel: the label, then one double column per feature.

    ``file_format`` ``"csv"`` writes no header and numbers only (what the built-in XGBoost and
    linear learner read); ``"parquet"`` writes snappy Parquet with named double columns (no
    VectorUDT). No ``_SUCCESS`` marker is written into the channel. A null label is an error
    (one Spark job looks for one); ``check_labels=False`` is for a caller that has checked
    every row already, before writing any of its channels.

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
    if check_labels:
        require_labels(frame, label)
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


def write_feature_manifest(manifest: Mapping[str, Any], uri: str, *, lake: Lake) -> str:
    """Write the manifest JSON (keep it outside the SageMaker channel folders).

    A reader sees the old manifest or the new one, never part of one
    (:func:`lakeforge.io.write_text`: a local file is renamed over the old one, an S3 PUT is
    atomic)."""
    lake.require_inside(uri, "feature manifest")
    write_text(uri, json.dumps(manifest, indent=2, sort_keys=False, default=str))
    return uri


FEATURE_VERSIONS_DIR = "_versions"
FEATURE_MANIFEST = "manifest.json"
SAGEMAKER_SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class PublishedFeatures:
    """What :func:`publish_sagemaker_channels` published.

    ``files`` maps ``<split>_<format>`` to its channel folder (as the manifest's ``files``);
    ``previous_version`` is the version the manifest named before (None: none, or the
    channels of the layout before versions); ``removed_folders`` are the folders deleted
    afterwards, relative to the feature set's folder (``_versions/<version>``, ``csv``)."""

    name: str
    version: str
    manifest_uri: str
    version_uri: str
    files: Mapping[str, str]
    previous_version: str | None
    removed_folders: tuple[str, ...]


def feature_set_uri(lake: Lake, name: str) -> str:
    """Folder of the feature set ``name``: its ``manifest.json`` and ``_versions/``."""
    return lake.path("features", validate_identifier(name, "feature set name"))


def publish_sagemaker_channels(
    scored: DataFrame,
    spec: FeatureSpec,
    *,
    lake: Lake,
    version: str,
    formats: Sequence[SageMakerFormat] = ("csv", "parquet"),
    check_labels: bool = True,
) -> PublishedFeatures:
    """Publish a feature set's SageMaker channels atomically: every split x format channel is
    written under ``features/<name>/_versions/<version>/<format>/<split>``, then
    ``features/<name>/manifest.json`` is replaced in one step (the switch) by the manifest of
    the new version, whose ``files`` name those channel folders.

    ``scored`` is the fitted pipeline's output with the split column (``spec.split.column``);
    the manifest's statistics come from its train rows. A reader that takes the channel URIs
    from the manifest never sees a half-written feature set. Until the switch, the previous
    manifest and its folders are untouched; when anything fails before it, the new version's
    folder is deleted and the error raised. After the switch the current and the previous
    version are kept (a reader that read the old manifest just before the switch can finish)
    and every other version folder is deleted (older ones, and what a killed run left), as are
    the channel folders of the layout before versions (``features/<name>/<format>/<split>``)
    once no kept manifest names them. One writer per feature set at a time (a job's lock).

    ``version`` must be new (the feature model's version: one per run); an existing version
    folder is an error. ``check_labels=False`` is for a caller that has checked every label
    already; otherwise one Spark job checks them before anything is written.

    Example::

        ref = save_feature_model(model, spec, lake=lake)
        published = publish_sagemaker_channels(model.transform(df), spec, lake=lake,
                                               version=ref.version)
    """
    for fmt in formats:
        if fmt not in _SAGEMAKER_FORMATS:
            raise ConfigError(
                f"SageMaker output format {fmt!r}: use one of {sorted(_SAGEMAKER_FORMATS)}")
    base = lake.require_inside(feature_set_uri(lake, spec.name), "feature set")
    version = _require_version_id(version, f"feature set {spec.name}")
    versions_uri = join_uri(base, FEATURE_VERSIONS_DIR)
    version_uri = join_uri(versions_uri, version)
    manifest_uri = join_uri(base, FEATURE_MANIFEST)
    if uri_exists(version_uri):
        raise ConfigError(
            f"feature set {spec.name} version {version} already exists at {version_uri}; "
            "versions are immutable, publish under a new version")
    names = feature_names(scored.schema, spec)
    if check_labels:
        require_labels(to_sagemaker_frame(scored, label=spec.label, feature_names=names,
                                          features_col=spec.output_col), spec.label)
    previous = _read_previous_manifest(manifest_uri)
    split_col = F.col(spec.split.column)
    files = {f"{split}_{fmt}": join_uri(version_uri, fmt, split)
             for split in SAGEMAKER_SPLITS for fmt in formats}
    switching = False
    try:
        for split in SAGEMAKER_SPLITS:
            rows = scored.where(split_col == split)
            for fmt in formats:
                write_sagemaker(rows, files[f"{split}_{fmt}"], file_format=fmt,
                                label=spec.label, lake=lake, feature_names=names,
                                features_col=spec.output_col, check_labels=False)
        manifest = build_feature_manifest(scored.where(split_col == "train"), spec,
                                          version=version, files=files)
        fault_point(f"before_features_switch.{spec.name}")
        switching = True
        write_feature_manifest(manifest, manifest_uri, lake=lake)
    except BaseException:
        if switching and _manifest_version(manifest_uri) == version:
            raise  # the switch went through (an S3 PUT whose answer was lost): keep it
        try:
            delete_dir(version_uri)
        except Exception:  # the write's own error matters more; the next publish removes it
            log.warning("could not delete the partial feature set version %s", version_uri,
                        exc_info=True)
        raise
    log.info("published feature set %s version %s (%d channels, %d features): %s",
             spec.name, version, len(files), len(names), manifest_uri)
    removed = _remove_unreferenced(base, versions_uri, version, previous, formats)
    kept = _folders_named(previous or {}, versions_uri)
    return PublishedFeatures(
        name=spec.name, version=version, manifest_uri=manifest_uri, version_uri=version_uri,
        files=files, previous_version=_only(kept), removed_folders=removed)


def _read_previous_manifest(uri: str) -> dict[str, Any] | None:
    """The current manifest before the switch: {} when there is none; None when it cannot be
    parsed (then no version is known to be unreferenced, and nothing is removed)."""
    if not uri_exists(uri):
        return {}
    try:
        doc = json.loads(read_text(uri))
    except ValueError:
        log.warning("feature manifest %s is not JSON: no old version is removed this time", uri)
        return None
    return doc if isinstance(doc, dict) else None


def _manifest_version(uri: str) -> str | None:
    try:
        doc = json.loads(read_text(uri))
    except Exception:  # missing, unreadable or unparsable: not the new version
        return None
    return doc.get("version") if isinstance(doc, dict) else None


def _folders_named(manifest: Mapping[str, Any], folder: str) -> set[str]:
    """The sub-folders of ``folder`` a manifest's ``files`` point into."""
    prefix = normalize_uri(folder) + "/"
    files = manifest.get("files")
    out = set()
    for uri in (files.values() if isinstance(files, Mapping) else []):
        path = normalize_uri(str(uri))
        if path.startswith(prefix):
            out.add(path[len(prefix):].split("/", 1)[0])
    return out


def _only(versions: set[str]) -> str | None:
    return next(iter(versions)) if len(versions) == 1 else None


def _remove_unreferenced(base: str, versions_uri: str, current: str,
                         previous: Mapping[str, Any] | None, formats: Sequence[str]
                         ) -> tuple[str, ...]:
    """Delete the version folders other than ``current`` and those the ``previous`` manifest
    names, and the ``<format>/`` channel folders of the layout before versions unless it names
    them; nothing when the previous manifest could not be read (None). A folder that cannot
    be deleted is logged and left for the next publish: the switch is done."""
    if previous is None:
        return ()
    kept_versions = _folders_named(previous, versions_uri) | {current}
    kept_legacy = _folders_named(previous, base)
    doomed = [(f"{FEATURE_VERSIONS_DIR}/{name}", join_uri(versions_uri, name))
              for name in list_subdirs(versions_uri) if name not in kept_versions]
    doomed += [(fmt, join_uri(base, fmt)) for fmt in formats if fmt not in kept_legacy]
    removed = []
    for name, folder in doomed:
        if not uri_exists(folder):
            continue
        try:
            delete_dir(folder)
        except Exception:
            log.warning("could not delete the old feature set folder %s; the next publish "
                        "tries again", folder, exc_info=True)
            continue
        removed.append(name)
        log.info("removed old feature set folder %s", folder)
    return tuple(removed)


__all__ = [
    "FeatureModelRef", "PublishedFeatures", "build_feature_manifest", "feature_models_uri",
    "feature_names", "feature_set_uri", "feature_spec_from_mapping", "fit_feature_pipeline",
    "list_feature_model_versions", "load_feature_model", "load_feature_spec", "new_version",
    "publish_sagemaker_channels", "save_feature_model", "with_split", "write_feature_manifest",
    "write_sagemaker", "write_sagemaker_csv", "write_sagemaker_parquet",
]
