from __future__ import annotations

import os
from pathlib import Path

import pytest

from lakeforge.errors import ConfigError
from lakeforge.paths import (
    HIVE_DEFAULT_PARTITION,
    ZONES,
    Lake,
    escape_partition_value,
    join_uri,
    parse_partition_fragment,
    partition_path,
    resolve_local_root,
    unescape_partition_value,
)


def test_local_lake_has_every_zone(tmp_path: Path) -> None:
    lake = Lake.from_settings(str(tmp_path), allow_env_override=False)
    assert set(lake.zones) == set(ZONES)
    assert lake.zone("raw") == f"{tmp_path}/raw"
    assert lake.table_uri("curated", "sales", "db") == f"{tmp_path}/curated/db/sales"
    with pytest.raises(ConfigError, match="unknown lake zone 'gold'"):
        lake.zone("gold")


def test_s3_lake_and_relocated_zone() -> None:
    lake = Lake.from_settings(
        "s3://bucket/prefix/", {"quarantine": "s3://other/q"}, allow_env_override=False
    )
    assert lake.is_remote
    assert lake.path("raw", "sales") == "s3://bucket/prefix/raw/sales"
    assert lake.zone("quarantine") == "s3://other/q"
    assert lake.contains("s3a://bucket/prefix/curated/t/part-0.parquet")
    assert not lake.contains("s3://bucket/prefix2/curated")
    assert not lake.contains("s3://bucket/prefix/curated/../../etc")
    with pytest.raises(ConfigError, match="unknown zone"):
        Lake.from_settings("s3://b/p", {"gold": "x"})


def test_env_var_overrides_local_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEFORGE_LAKE_ROOT", str(tmp_path / "elsewhere"))
    assert resolve_local_root("./.lake") == str(tmp_path / "elsewhere")
    monkeypatch.delenv("LAKEFORGE_LAKE_ROOT")
    assert resolve_local_root(None) == str(Path(".lake").resolve())
    assert resolve_local_root("s3://b/p/") == "s3://b/p"


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ("GB", "GB"),
        ("a/b", "a%2Fb"),
        ("../../etc", "..%2F..%2Fetc"),
        ("k=v", "k%3Dv"),
        ("50%", "50%25"),
        ("x:y?*", "x%3Ay%3F%2A"),
        ("tab\there", "tab%09here"),
        ("back\\slash", "back%5Cslash"),
        ("", HIVE_DEFAULT_PARTITION),
        (None, HIVE_DEFAULT_PARTITION),
        ("café", "café"),
        (2024, "2024"),
    ],
)
def test_hive_escaping_round_trips(value: object, escaped: str) -> None:
    assert escape_partition_value(value) == escaped
    expected = None if value in (None, "") else str(value)
    assert unescape_partition_value(escaped) == expected


def test_partition_values_cannot_escape_the_table_folder(tmp_path: Path) -> None:
    table = str(tmp_path / "curated" / "t")
    for evil in ["..", "../..", "/etc/passwd", "a/../../b", "%2e%2e"]:
        p = partition_path(table, {"country": evil})
        assert os.path.normpath(p).startswith(table + os.sep), p
        assert parse_partition_fragment(p[len(table) + 1 :]) == {"country": evil}
    with pytest.raises(ConfigError, match="partition column"):
        partition_path(table, {"../x": "1"})


def test_spark_writes_the_same_escaping(spark, tmp_path: Path) -> None:
    """Our escaping matches Spark's own partitionBy folders, so the catalog and files agree."""
    values = ["a/b", "k=v", "50%", "x:y", None]
    df = spark.createDataFrame([(i, v) for i, v in enumerate(values)], "id int, p string")
    df.write.partitionBy("p").parquet(str(tmp_path / "t"))
    folders = {d.name for d in (tmp_path / "t").iterdir() if d.is_dir()}
    assert folders == {f"p={escape_partition_value(v)}" for v in values}


def test_join_uri_refuses_traversal() -> None:
    assert join_uri("s3://b/p", "raw", "x/y") == "s3://b/p/raw/x/y"
    for bad in ["..", "a/../b", "", "./x"]:
        with pytest.raises(ConfigError, match="not allowed"):
            join_uri("/lake", bad)


def test_require_inside(tmp_path: Path) -> None:
    lake = Lake.from_settings(str(tmp_path), allow_env_override=False)
    assert lake.require_inside(f"{tmp_path}/curated/t") == f"{tmp_path}/curated/t"
    with pytest.raises(ConfigError, match="outside the lake's zones"):
        lake.require_inside("/tmp/elsewhere")
    with pytest.raises(ConfigError, match="outside"):
        lake.require_inside(f"{tmp_path}/curated/../../x")
