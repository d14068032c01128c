from __future__ import annotations

from dataclasses import FrozenInstanceError, dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from lakeforge.config import (
    EnvConfig,
    apply_overrides,
    available_envs,
    load_config,
    load_env,
    parse_override_value,
)
from lakeforge.errors import ConfigError


@dataclass(frozen=True)
class Inner:
    path: str
    retries: int = 3


@dataclass(frozen=True)
class Sample:
    inner: Inner
    mode: Literal["overwrite", "append"] = "overwrite"
    ratio: float = 0.5
    tags: list[str] = field(default_factory=list)
    enabled: bool = True
    note: str | None = None


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "job.yaml"
    p.write_text(text)
    return p


def test_loads_nested_typed_frozen_config(tmp_path: Path) -> None:
    p = write(tmp_path, "inner: {path: raw/x, retries: 5}\nmode: append\nratio: 1\ntags: [a, b]\n")
    cfg = load_config(Sample, p)
    assert cfg == Sample(Inner("raw/x", 5), "append", 1.0, ["a", "b"], True, None)
    assert isinstance(cfg.ratio, float)
    with pytest.raises(FrozenInstanceError):
        cfg.mode = "append"  # type: ignore[misc]


def test_unknown_key_names_key_and_file(tmp_path: Path) -> None:
    p = write(tmp_path, "inner: {path: x, retrys: 5}\n")
    with pytest.raises(ConfigError) as err:
        load_config(Sample, p)
    msg = str(err.value)
    assert "inner.retrys" in msg and str(p) in msg and "retries" in msg


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ("inner: {path: x, retries: three}\n", "inner.retries", "integer"),
        ("inner: {path: x}\nmode: upsert\n", "mode", "allowed values"),
        ("inner: {path: x}\nenabled: 'yes'\n", "enabled", "true or false"),
        ("inner: {path: x}\ntags: a\n", "tags", "list"),
        ("inner: {path: x}\nratio: [1]\n", "ratio", "number"),
        ("inner: [1, 2]\n", "inner", "mapping"),
        ("mode: append\n", "inner", "missing required key"),
        ("inner: {path: null}\n", "inner.path", "must not be null"),
    ],
)
def test_wrong_types_name_the_key(tmp_path: Path, text: str, key: str, expected: str) -> None:
    p = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(Sample, p)
    assert f"'{key}'" in str(err.value) and expected in str(err.value)
    assert str(p) in str(err.value)


@pytest.mark.parametrize(("text", "key"), [
    ("inner: {path: yes}\n", "inner.path"),
    ("inner: {path: x}\ntags: [a, on]\n", "tags[1]"),
    ("inner: {path: x}\nnote: off\n", "note"),
])
def test_a_yaml_boolean_where_text_is_expected_is_refused(tmp_path: Path, text: str,
                                                          key: str) -> None:
    """YAML 1.1 reads an unquoted on/no/yes/off as a boolean: `[on, string, no, string]` used
    to name the columns 'true' and 'false'. The error names the key and says to quote it."""
    p = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(Sample, p)
    msg = str(err.value)
    assert msg.startswith(f"{p}: '{key}' must be a string, got the boolean") and "quotes" in msg
    assert load_config(Sample, write(tmp_path, "inner: {path: 'yes'}\ntags: ['on']\n")
                       ) == Sample(Inner("yes"), tags=["on"])


def test_a_yaml_boolean_in_spark_conf_is_sparks_true_or_false() -> None:
    """spark.conf is a map of Spark's text settings: `enabled: true` means "true"."""
    env = load_env("local", {"spark.conf.spark.sql.adaptive.enabled": False})
    assert env.spark.conf["spark.sql.adaptive.enabled"] == "false"


def test_command_line_overrides_are_validated_too(tmp_path: Path) -> None:
    p = write(tmp_path, "inner: {path: x}\n")
    cfg = load_config(Sample, p, {"inner.retries": 9, "tags": ["z"]})
    assert cfg.inner.retries == 9 and cfg.tags == ["z"]
    with pytest.raises(ConfigError, match="command-line overrides.*'inner.nope'"):
        load_config(Sample, p, {"inner.nope": 1})
    with pytest.raises(ConfigError, match="is a value, not a section"):
        load_config(Sample, p, {"inner.path.x": 1})


def test_missing_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(Sample, tmp_path / "nope.yaml")
    bad = write(tmp_path, "inner: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(Sample, bad)
    scalar = write(tmp_path, "just a string\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(Sample, scalar)


def test_override_values_parse_as_yaml() -> None:
    assert parse_override_value("3") == 3
    assert parse_override_value("[a, b]") == ["a", "b"]
    assert parse_override_value("true") is True
    assert parse_override_value("") == ""
    assert parse_override_value("raw/x") == "raw/x"
    original = {"a": {"b": 1}}
    assert apply_overrides(original, {"a.c": 2}) == {"a": {"b": 1, "c": 2}}
    assert original == {"a": {"b": 1}}  # the caller's mapping is not mutated


def test_an_override_under_a_map_of_plain_values_is_one_dotted_key() -> None:
    """A Spark setting the env file does not have, from a job's command line: its name is one
    key of spark.conf (it used to be split at each dot into nested sections and refused)."""
    from lakeforge.job import parse_job_args

    args = parse_job_args(["--env", "local", "--env.spark.conf.spark.sql.adaptive.enabled",
                           "false", "--env.lake.zones.raw", "/data/raw",
                           "--env.spark.master", "local[3]"], "x")
    env = load_env(args.env, args.env_overrides)
    assert env.spark.conf == {**load_env("local").spark.conf,
                              "spark.sql.adaptive.enabled": "false"}
    assert env.lake.zones == {"raw": "/data/raw"} and env.spark.master == "local[3]"
    # a setting the file has is replaced, not nested beside it
    data = {"spark": {"conf": {"spark.sql.adaptive.enabled": "false"}}}
    assert apply_overrides(data, {"spark.conf.spark.sql.adaptive.enabled": "true"},
                           EnvConfig) == {"spark": {"conf": {"spark.sql.adaptive.enabled": "true"}}}
    # the value is still checked, naming the whole key
    with pytest.raises(ConfigError, match=r"local\.yaml \(with command-line overrides\): "
                                          r"'spark\.conf\.spark\.sql\.x' must be a string, "
                                          r"got list$"):
        load_env("local", {"spark.conf.spark.sql.x": [1]})
    # a section is still a section: an unknown key under it fails in one line, naming it
    with pytest.raises(ConfigError, match=r"local\.yaml \(with command-line overrides\): "
                                          r"unknown key 'spark\.no_such_key'"):
        load_env("local", {"spark.no_such_key.x": 1})


def test_shipped_envs_load_and_validate() -> None:
    assert {"local", "standalone", "emr", "glue"} <= set(available_envs())
    for name in ("local", "standalone", "emr", "glue"):
        env = load_env(name)
        assert isinstance(env, EnvConfig) and env.name == name and env.kind == name
    assert load_env("emr").spark.metastore == "glue"
    assert load_env("local").lake.root == "./.lake"


def test_unknown_env_lists_available_ones() -> None:
    with pytest.raises(ConfigError) as err:
        load_env("prodd")
    msg = str(err.value)
    assert "unknown env 'prodd'" in msg and "local" in msg and "standalone" in msg


def test_env_file_with_bad_key(tmp_path: Path) -> None:
    p = tmp_path / "mine.yaml"
    p.write_text("kind: local\nspark:\n  mastr: local[1]\n")
    with pytest.raises(ConfigError, match=r"unknown key 'spark.mastr'.*master"):
        load_env(str(p))
