"""lakeforge.feature_store.publish_sagemaker_channels: SageMaker channels published as a new
version, manifest.json as the switch, the previous feature set kept whole until then, and the
retention of the current and the previous version."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakeforge import feature_store
from lakeforge.errors import ConfigError
from lakeforge.feature_store import (
    feature_set_uri,
    feature_spec_from_mapping,
    publish_sagemaker_channels,
)
from transforms.features import FeatureInputError, fit_feature_pipeline, with_split

SCHEMA = "id long, x double, label double"
# 30 entities: every split gets rows (hash split, seed 3); id 4 has no x (NaN in its slot).
ROWS = [(i, None if i == 4 else float(i % 7), float(i % 2)) for i in range(30)]
SPEC = feature_spec_from_mapping(
    {"name": "visits", "label": "label", "entity_key": ["id"], "handle_invalid": "keep",
     "split": {"train": 0.6, "validation": 0.2, "test": 0.2, "seed": 3, "method": "hash"},
     "steps": [{"kind": "scale", "method": "standard", "columns": ["x"], "output": "scaled"}],
     "features": ["scaled"]},
    "test")
CHANNELS = sorted(f"{s}_{f}" for s in ("train", "validation", "test") for f in ("csv", "parquet"))


def _split(spark: Any, rows: list[tuple[Any, ...]] = ROWS) -> DataFrame:
    return with_split(spark.createDataFrame(rows, SCHEMA), key=SPEC.entity_key, split=SPEC.split)


@pytest.fixture(scope="module")
def model(spark: Any) -> Any:
    return fit_feature_pipeline(_split(spark).where(F.col("split") == "train"), SPEC)


def _manifest(lake: Any) -> dict[str, Any]:
    return json.loads(Path(feature_set_uri(lake, "visits"), "manifest.json").read_text())  # type: ignore[no-any-return]


def _channel_rows(folder: str, fmt: str) -> int:
    if fmt == "parquet":
        return int(pq.read_table(folder).num_rows)
    return sum(len(p.read_text().splitlines()) for p in Path(folder).glob("part-*.csv"))


def _tree(lake: Any) -> dict[str, str]:
    """SHA-256 of every file of the feature set, by path relative to its folder."""
    base = Path(feature_set_uri(lake, "visits"))
    return {str(p.relative_to(base)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(base.rglob("*")) if p.is_file()}


def _versions(lake: Any) -> list[str]:
    return sorted(p.name for p in Path(feature_set_uri(lake, "visits"), "_versions").iterdir())


def test_publish_switches_the_manifest_to_the_new_version(spark, model, lake) -> None:
    first = publish_sagemaker_channels(model.transform(_split(spark)), SPEC, lake=lake,
                                       version="v1")
    assert first.previous_version is None and first.removed_folders == ()
    second = publish_sagemaker_channels(model.transform(_split(spark)), SPEC, lake=lake,
                                        version="v2")
    manifest = _manifest(lake)
    assert manifest["version"] == "v2" == second.version
    assert manifest["files"] == dict(second.files) and sorted(manifest["files"]) == CHANNELS
    base = feature_set_uri(lake, "visits")
    total = {"csv": 0, "parquet": 0}
    for channel, folder in manifest["files"].items():
        split, fmt = channel.split("_")
        assert folder == f"{base}/_versions/v2/{fmt}/{split}"
        rows = _channel_rows(folder, fmt)
        assert rows > 0, channel
        total[fmt] += rows
    assert total == {"csv": len(ROWS), "parquet": len(ROWS)}
    # The null x: NaN in the Parquet column, an empty field in the CSV.
    assert any("" in line.split(",") for p in Path(manifest["files"]["train_csv"]).parent.parent
               .rglob("part-*.csv") for line in p.read_text().splitlines())
    assert second.previous_version == "v1" and _versions(lake) == ["v1", "v2"]
    # No temporary file of the switch is left beside the manifest; no _SUCCESS in a channel.
    assert sorted(p.name for p in Path(base).iterdir()) == ["_versions", "manifest.json"]
    assert not list(Path(base).rglob("_SUCCESS"))


def test_a_failure_in_the_middle_leaves_the_previous_feature_set_current(
        spark, model, lake, monkeypatch) -> None:
    """The test split's rows fail in a Spark task (a UDF raising), after the train and
    validation channels of the new version were written: the previous manifest and every file
    of its version are byte-identical, and the new version's folder is gone."""
    publish_sagemaker_channels(model.transform(_split(spark)), SPEC, lake=lake, version="v1")
    before = _tree(lake)

    @F.udf("double")
    def bad_row(label: float | None) -> float | None:
        raise ValueError("bad row in the test split")

    written: list[str] = []
    write = feature_store.write_sagemaker

    def failing_on_test(df: DataFrame, path: str, **kwargs: Any) -> str:
        if path.endswith("/test"):
            df = df.withColumn("label", bad_row("label"))
        out = write(df, path, **kwargs)
        written.append(path)
        return out

    monkeypatch.setattr(feature_store, "write_sagemaker", failing_on_test)
    with pytest.raises(Exception, match="bad row in the test split"):
        publish_sagemaker_channels(model.transform(_split(spark)), SPEC, lake=lake,
                                   version="v2")
    base = feature_set_uri(lake, "visits")
    assert written == [f"{base}/_versions/v2/{f}/{s}" for s in ("train", "validation")
                       for f in ("csv", "parquet")]
    assert _tree(lake) == before
    assert _manifest(lake)["version"] == "v1" and _versions(lake) == ["v1"]
    for channel, folder in _manifest(lake)["files"].items():
        assert _channel_rows(folder, channel.split("_")[1]) > 0, channel


def test_retention_keeps_the_current_and_the_previous_version(spark, model, lake) -> None:
    """Versions before the previous one go, and so does what a killed run left (a version
    folder no manifest named)."""
    scored = model.transform(_split(spark))
    publish_sagemaker_channels(scored, SPEC, lake=lake, version="v1", formats=["parquet"])
    publish_sagemaker_channels(scored, SPEC, lake=lake, version="v2", formats=["parquet"])
    killed = Path(feature_set_uri(lake, "visits"), "_versions", "v2b", "csv", "train")
    killed.mkdir(parents=True)
    (killed / "part-00000.csv").write_text("1.0,0.5\n")
    third = publish_sagemaker_channels(scored, SPEC, lake=lake, version="v3",
                                       formats=["parquet"])
    assert _versions(lake) == ["v2", "v3"]
    assert sorted(third.removed_folders) == ["_versions/v1", "_versions/v2b"]
    assert third.previous_version == "v2" and _manifest(lake)["version"] == "v3"
    for channel, folder in _manifest(lake)["files"].items():
        assert _channel_rows(folder, channel.split("_")[1]) > 0, channel


def test_the_layout_before_versions_stays_as_the_previous_one_then_goes(
        spark, model, lake) -> None:
    """features/<name>/<format>/<split> of a manifest written before versions: kept by the
    first versioned publish (a reader may be on it), removed by the second."""
    base = Path(feature_set_uri(lake, "visits"))
    old_files = {}
    for fmt in ("csv", "parquet"):
        for split in ("train", "validation", "test"):
            folder = base / fmt / split
            folder.mkdir(parents=True)
            (folder / f"part-00000.{fmt}").write_text("old")
            old_files[f"{split}_{fmt}"] = str(folder)
    (base / "manifest.json").write_text(json.dumps({"version": "old", "files": old_files}))
    scored = model.transform(_split(spark))
    first = publish_sagemaker_channels(scored, SPEC, lake=lake, version="v1")
    assert first.previous_version is None and first.removed_folders == ()
    assert (base / "csv" / "train" / "part-00000.csv").read_text() == "old"
    second = publish_sagemaker_channels(scored, SPEC, lake=lake, version="v2")
    assert sorted(second.removed_folders) == ["csv", "parquet"]
    assert sorted(p.name for p in base.iterdir()) == ["_versions", "manifest.json"]
    assert _versions(lake) == ["v1", "v2"]


def test_an_existing_version_or_a_null_label_writes_nothing(spark, model, lake) -> None:
    scored = model.transform(_split(spark))
    publish_sagemaker_channels(scored, SPEC, lake=lake, version="v1", formats=["parquet"])
    before = _tree(lake)
    with pytest.raises(ConfigError, match="version v1 already exists"):
        publish_sagemaker_channels(scored, SPEC, lake=lake, version="v1")
    nulls = [(i, x, None if i == 7 else label) for i, x, label in ROWS]
    with pytest.raises(FeatureInputError, match="'label' has null values"):
        publish_sagemaker_channels(model.transform(_split(spark, nulls)), SPEC, lake=lake,
                                   version="v2")
    with pytest.raises(ConfigError, match="version 'v 3'"):
        publish_sagemaker_channels(scored, SPEC, lake=lake, version="v 3")
    assert _tree(lake) == before and _versions(lake) == ["v1"]


_KILLED_PUBLISH = """
import sys
from pyspark.sql import SparkSession, functions as F
from lakeforge.feature_store import publish_sagemaker_channels
from lakeforge.paths import Lake
from tests.lakeforge.test_feature_store import SPEC, _split
from transforms.features import fit_feature_pipeline

spark = (SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false")
         .config("spark.sql.shuffle.partitions", "1").getOrCreate())
lake = Lake.from_settings(sys.argv[1], allow_env_override=False)
split = _split(spark)
scored = fit_feature_pipeline(split.where(F.col("split") == "train"), SPEC).transform(split)
publish_sagemaker_channels(scored, SPEC, lake=lake, version="v1", formats=["parquet"])
print("v1 published", flush=True)
import os
os.environ["LAKEFORGE_FAULT_POINT"] = "before_features_switch.visits"
publish_sagemaker_channels(scored, SPEC, lake=lake, version="v2", formats=["parquet"])
print("v2 published", flush=True)
"""


@pytest.mark.slow
def test_a_kill_before_the_manifest_switch_leaves_the_previous_set_current(
        spark, model, tmp_path) -> None:
    """A real SIGKILL (fault point ``before_features_switch.<name>``) after every channel of
    v2 was written, before manifest.json names it, in a child process (slow: its own JVM, as
    a dying node has): the manifest and every file of v1 are untouched, v2's folder is left
    whole but unnamed, and the next publish removes it and keeps v1 as the previous version."""
    import subprocess
    import sys

    from lakeforge.paths import Lake
    from tests.jobsupport import REPO, job_env

    root = tmp_path / "lake"
    env = job_env(root)
    env.pop("LAKEFORGE_FAULT_POINT", None)
    proc = subprocess.run([sys.executable, "-c", _KILLED_PUBLISH, str(root)], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == -9, proc.stderr[-3000:]
    assert "v1 published" in proc.stdout and "v2 published" not in proc.stdout
    assert "fault point before_features_switch.visits: SIGKILL" in proc.stderr
    lake = Lake.from_settings(str(root), allow_env_override=False)
    assert _manifest(lake)["version"] == "v1" and _versions(lake) == ["v1", "v2"]
    v2 = Path(feature_set_uri(lake, "visits"), "_versions", "v2", "parquet")
    assert sorted(p.name for p in v2.iterdir()) == ["test", "train", "validation"]
    for channel, folder in _manifest(lake)["files"].items():
        assert "/_versions/v1/" in folder and _channel_rows(folder, "parquet") > 0, channel
    third = publish_sagemaker_channels(model.transform(_split(spark)), SPEC, lake=lake,
                                       version="v3", formats=["parquet"])
    assert third.previous_version == "v1" and third.removed_folders == ("_versions/v2",)
    assert _versions(lake) == ["v1", "v3"] and _manifest(lake)["version"] == "v3"
