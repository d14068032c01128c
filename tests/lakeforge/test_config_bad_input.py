"""Bad config input found by trying every key as a new user would mistype it: each is one
ConfigError naming the file and the key, at load, before Spark starts. No Spark, no AWS."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from jobs import csv_to_parquet
from lakeforge.config import load_config, load_env, read_yaml
from lakeforge.errors import ConfigError

LOCAL_ENV = "kind: local\nspark:\n  master: local[*]\n  driver_memory: 4g\n"


def _env_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "env.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("text, key, line", [
    ("kind: local\nspark:\n  master: local[2]\nkind: emr\n", "kind", 4),
    ("a: {x: 1, x: 2}\n", "x", 1),
    ("sources:\n  s: {path: a}\n  s: {path: b}\n", "s", 3),
])
def test_a_key_given_twice_in_one_mapping_is_refused_naming_key_and_line(
        tmp_path: Path, text: str, key: str, line: int) -> None:
    """yaml.safe_load keeps the last of two equal keys silently (a second `kind:` replaced the
    first); now the file is refused with the key and the line of the second."""
    path = _env_file(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        read_yaml(path)
    message = str(err.value)
    assert message.startswith(f"{path}: not valid YAML at line {line}")
    assert f"duplicate key {key!r}" in message and "\n" not in message


def test_a_merge_key_may_still_be_overridden(tmp_path: Path) -> None:
    """`<<: *base` then an explicit key is YAML's way to override a merged value, not a
    duplicate."""
    path = _env_file(tmp_path, "base: &b {x: 1, y: 2}\nc:\n  <<: *b\n  x: 3\n")
    assert read_yaml(path)["c"] == {"x": 3, "y": 2}


@pytest.mark.parametrize("master", ["locale[*]", "5", "local[two]", "spark:/host:7077", ""])
def test_a_master_spark_cannot_parse_is_refused_at_load(tmp_path: Path, master: str) -> None:
    """Such a master passed the preflight and failed in the JVM with a Java stack trace
    ("Could not parse Master URL") after Spark started."""
    path = _env_file(tmp_path, f"kind: local\nspark:\n  master: '{master}'\n")
    with pytest.raises(ConfigError, match=r"'spark\.master' is .* not a Spark master URL") as e:
        load_env(str(path))
    assert str(e.value).startswith(f"{path}: ")


@pytest.mark.parametrize("master", ["local", "local[2]", "local[*]", "local[*, 3]",
                                    "local-cluster[2, 1, 1024]", "spark://10.0.0.5:7077",
                                    "yarn", "k8s://https://host:443"])
def test_every_spark_master_form_loads(tmp_path: Path, master: str) -> None:
    env = load_env(str(_env_file(tmp_path, f"kind: local\nspark:\n  master: '{master}'\n")))
    assert env.spark.master == master


@pytest.mark.parametrize("memory", ["lots", "-4g", "4", "1.5g", "4gb", "0g"])
def test_a_driver_memory_the_jvm_cannot_take_is_refused_at_load(tmp_path: Path,
                                                                memory: str) -> None:
    """The JVM's -Xmx refuses these ('Invalid maximum heap size'): the session failed with
    pyspark's JAVA_GATEWAY_EXITED traceback instead of a line naming the key."""
    path = _env_file(tmp_path, f"kind: local\nspark:\n  driver_memory: '{memory}'\n")
    with pytest.raises(ConfigError, match=r"'spark\.driver_memory' is .*; give a whole number "
                                          r"with a unit k, m, g or t"):
        load_env(str(path))


def test_driver_memory_forms_the_jvm_takes_load(tmp_path: Path) -> None:
    for memory in ("4g", "512m", "2G", "1t", "1048576k"):
        path = _env_file(tmp_path, f"kind: local\nspark:\n  driver_memory: {memory}\n")
        assert load_env(str(path)).spark.driver_memory == memory


def test_a_source_key_in_an_env_file_is_refused_not_ignored(tmp_path: Path) -> None:
    """`source` is filled in by the loader; given in the file it was silently replaced."""
    path = _env_file(tmp_path, LOCAL_ENV + "source: mine\n")
    with pytest.raises(ConfigError, match=r"unknown key 'source'; allowed keys here: \['aws'"):
        load_env(str(path))


def test_env_override_errors_name_the_command_line(tmp_path: Path) -> None:
    """An --env.KEY override's error said only the file (as if the file had the key) and
    named the flag without its env. prefix (--kind.x for --env.kind.x)."""
    path = _env_file(tmp_path, LOCAL_ENV)
    with pytest.raises(ConfigError) as err:
        load_env(str(path), {"spark.bogus": 1})
    assert str(err.value).startswith(f"{path} (with command-line overrides): unknown key "
                                      "'spark.bogus'")
    with pytest.raises(ConfigError, match=r"^override --env\.kind\.x: 'kind' is a value, not a "
                                          r"section; use --env\.kind VALUE$"):
        load_env(str(path), {"kind.x": "y"})
    with pytest.raises(ConfigError, match=r"\(with command-line overrides\): 'spark\.master'"):
        load_env(str(path), {"spark.master": "nowhere"})


@dataclass(frozen=True)
class Ratio:
    ratio: float = 0.5


def test_nan_for_a_number_key_is_refused(tmp_path: Path) -> None:
    """YAML's .nan passed every range check (each comparison with NaN is false):
    run.lock_ttl_seconds: .nan got past 'must be > 0'."""
    path = tmp_path / "job.yaml"
    path.write_text("ratio: .nan\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"'ratio' must be a number, got \.nan"):
        load_config(Ratio, path)
    path.write_text("ratio: .inf\n", encoding="utf-8")
    assert load_config(Ratio, path).ratio == float("inf")


def test_a_config_s3_uri_without_a_key_is_one_line(tmp_path: Path) -> None:
    """--config s3:// was a ValueError traceback from the S3 helper."""
    for uri in ("s3://", "s3://bucket", "s3://bucket/"):
        with pytest.raises(ConfigError, match=r"is not an object URI; give s3://bucket/key"):
            read_yaml(uri)


def test_a_mapping_with_two_entries_is_one_line_not_an_index_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """csv_to_parquet's own validate reads m[2] before the lifecycle checks a mapping's shape:
    [country, string] was an IndexError traceback (exit 1). The shape is now checked at load."""
    monkeypatch.setenv("LAKEFORGE_LAKE_ROOT", str(tmp_path / "lake"))
    config = tmp_path / "job.yaml"
    config.write_text("sources:\n  sales:\n    path: sales\n    format: csv\n"
                      "    mappings: [[country, string]]\n"
                      "outputs:\n  sales: {partition_by: [country]}\n", encoding="utf-8")
    assert csv_to_parquet.main(["--config", str(config), "--env", "local"]) == 2
    err = capsys.readouterr().err
    assert err == (f"error: {config}: 'sources.sales.mappings[0]' has 2 entries, a mapping has "
                   "4 (source, type, target, type)\n")


def test_a_catalog_database_that_is_no_identifier_is_refused_at_load(tmp_path: Path) -> None:
    """``catalog.database`` names the database of ``lakeforge deploy iam``'s policy: a name
    Glue and Athena cannot take (spaces, '!') is refused with the file and key."""
    path = tmp_path / "bad.yaml"
    path.write_text("kind: local\ncatalog:\n  database: 'bad name!'\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: 'catalog\.database' 'bad name!' is not a "
                                          r"valid identifier"):
        load_env(str(path))
    path.write_text("kind: local\ncatalog:\n  database: sales_db\n")
    assert load_env(str(path)).catalog.database == "sales_db"


@pytest.mark.parametrize("key,yaml_text", [
    ("lake.root", "lake:\n  root: ${DATA}/lake\n"),
    ("lake.root", "lake:\n  root: $HOME/lake\n"),
    ("lake.zones.raw", "lake:\n  root: /tmp/l\n  zones:\n    raw: s3://b/${ENV}/raw\n")])
def test_a_variable_in_a_lake_path_is_refused_not_made_a_folder(
        tmp_path: Path, key: str, yaml_text: str) -> None:
    """Config values are not expanded: '${DATA}/lake' was taken as a relative folder named
    '${DATA}'. The key is named, with the env var that does set the root."""
    path = tmp_path / "vars.yaml"
    path.write_text("kind: local\n" + yaml_text)
    with pytest.raises(ConfigError, match=rf"vars\.yaml: '{re.escape(key)}' is .*expands no "
                                          r"variables in paths.*LAKEFORGE_LAKE_ROOT"):
        load_env(str(path))
