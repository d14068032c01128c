"""The jar tier (lakeforge.jars): set names checked at config load, a missing set failing with one
line naming `make jars` before Spark starts, the lock checked by sha256, and a second fetch that
never starts Maven."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lakeforge import jars
from lakeforge.config import load_env
from lakeforge.errors import ConfigError
from lakeforge.paths import Lake
from lakeforge.session import session_conf

REPO = Path(__file__).resolve().parents[2]


def _fake_line(tmp_path: Path, content: bytes = b"jar bytes") -> tuple[Path, Path]:
    """A jvm/ folder with one line (spark-9.9) and one set (demo) locked to ``content``."""
    jvm = tmp_path / "jvm"
    (jvm / "spark-9.9" / "demo").mkdir(parents=True)
    (jvm / "spark-9.9" / "pom.xml").write_text("<project/>")
    (jvm / "spark-9.9" / "demo" / "pom.xml").write_text("<project/>")
    lock = {"line": "spark-9.9", "sets": {"demo": [{
        "coordinate": "g:demo:1", "file": "demo-1.jar",
        "sha256": hashlib.sha256(content).hexdigest(), "size": len(content)}]}}
    (jvm / "spark-9.9" / jars.LOCK_NAME).write_text(json.dumps(lock))
    return jvm, tmp_path / "jars"


def test_artifact_name_strips_the_version_and_classifier() -> None:
    assert jars.artifact_name("hadoop-aws-3.3.4.jar") == "hadoop-aws"
    assert jars.artifact_name("deequ-2.0.7-spark-3.5.jar") == "deequ"
    assert jars.artifact_name("delta-spark_2.12-3.3.2.jar") == "delta-spark_2.12"
    assert jars.artifact_name("hive-exec-2.3.9-core.jar") == "hive-exec"


def test_spark_line_follows_the_installed_pyspark_and_the_override(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import pyspark

    major, minor = pyspark.__version__.split(".")[:2]
    monkeypatch.delenv("LAKEFORGE_SPARK_LINE", raising=False)
    assert jars.spark_line() == f"spark-{major}.{minor}"
    monkeypatch.setenv("LAKEFORGE_SPARK_LINE", "spark-4.1")
    assert jars.spark_line() == "spark-4.1"


def test_the_repo_defines_the_four_sets_for_spark_3_5_and_locks_each() -> None:
    assert {"deequ", "delta", "iceberg", "s3a"} <= set(jars.available_sets("spark-3.5"))
    lock = jars.read_lock("spark-3.5")
    assert sorted(lock) == jars.available_sets("spark-3.5")
    coordinates = {j.coordinate for js in lock.values() for j in js}
    assert "com.amazon.deequ:deequ:2.0.7-spark-3.5" in coordinates
    assert "org.apache.hadoop:hadoop-aws:3.3.4" in coordinates
    assert "com.amazonaws:aws-java-sdk-bundle:1.12.262" in coordinates
    assert all(len(j.sha256) == 64 and j.size > 0 for js in lock.values() for j in js)


def test_no_locked_jar_duplicates_a_jar_inside_pyspark() -> None:
    provided = jars._pyspark_jar_names()
    assert "spark-core_2.12" in provided and "hadoop-client-api" in provided
    locked = {jars.artifact_name(j.file) for js in jars.read_lock("spark-3.5").values()
              for j in js}
    assert locked and not (locked & provided)


def test_unknown_set_name_fails_at_config_load_naming_key_and_known_sets(
        tmp_path: Path) -> None:
    env_file = tmp_path / "x.yaml"
    env_file.write_text("kind: local\nspark:\n  jar_sets: [deequ, delat]\n")
    with pytest.raises(ConfigError, match=r"x.yaml: spark.jar_sets\[1\] is 'delat'; known sets "
                                          r"for spark-3.5: deequ, .*delta, iceberg, s3a"):
        load_env(str(env_file))


def test_jar_sets_are_refused_on_clusters_and_when_listed_twice(tmp_path: Path) -> None:
    emr = tmp_path / "emr.yaml"
    emr.write_text("kind: emr\nspark:\n  metastore: glue\n  jar_sets: [deequ]\n")
    with pytest.raises(ConfigError, match="jar_sets applies to local and standalone"):
        load_env(str(emr))
    twice = tmp_path / "twice.yaml"
    twice.write_text("kind: local\nspark:\n  jar_sets: [deequ, deequ]\n")
    with pytest.raises(ConfigError, match="lists deequ more than once"):
        load_env(str(twice))
    wrong_type = tmp_path / "wrong.yaml"
    wrong_type.write_text("kind: local\nspark:\n  jar_sets: deequ\n")
    with pytest.raises(ConfigError, match="'spark.jar_sets' must be a list"):
        load_env(str(wrong_type))


def test_shipped_envs_load_and_the_embedded_default_is_jar_free() -> None:
    assert load_env("local").spark.jar_sets == []
    assert load_env("local_jars").spark.jar_sets == ["deequ", "delta", "s3a", "iceberg"]


def test_missing_set_fails_before_spark_with_one_line_naming_make_jars(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEFORGE_JARS_DIR", str(tmp_path / "empty"))
    env = load_env("local_jars")
    lake = Lake.from_settings(str(tmp_path / "lake"), allow_env_override=False)
    with pytest.raises(jars.JarSetMissingError) as info:
        session_conf(env, lake)
    message = str(info.value)
    assert "\n" not in message
    assert "jar set 'deequ' is not fetched for spark-3.5" in message
    assert message.endswith("run `make jars`")


def test_fetch_leaves_a_matching_set_alone_without_starting_maven(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    jvm, target = _fake_line(tmp_path)
    (target / "spark-9.9" / "demo").mkdir(parents=True)
    (target / "spark-9.9" / "demo" / "demo-1.jar").write_bytes(b"jar bytes")
    monkeypatch.setenv("LAKEFORGE_JVM_DIR", str(jvm))
    monkeypatch.setenv("LAKEFORGE_JARS_DIR", str(target))
    monkeypatch.setattr(jars.shutil, "which", lambda name: None)  # Maven would fail loudly
    assert jars.fetch("spark-9.9") == {"demo": "up to date"}
    assert jars.set_jars("demo", "spark-9.9") == [str(target / "spark-9.9/demo/demo-1.jar")]


def test_fetch_refetches_a_tampered_jar_of_the_same_size(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    jvm, target = _fake_line(tmp_path)
    (target / "spark-9.9" / "demo").mkdir(parents=True)
    (target / "spark-9.9" / "demo" / "demo-1.jar").write_bytes(b"jar BYTES")  # same size
    monkeypatch.setenv("LAKEFORGE_JVM_DIR", str(jvm))
    monkeypatch.setenv("LAKEFORGE_JARS_DIR", str(target))
    monkeypatch.setattr(jars.shutil, "which", lambda name: None)
    # set_jars checks names and sizes only (cheap, at every session start) ...
    assert jars.set_jars("demo", "spark-9.9")
    # ... fetch checks sha256, removes the tampered set and needs Maven to fetch it again.
    with pytest.raises(jars.JarFetchError, match="mvn .* is not on PATH"):
        jars.fetch("spark-9.9")
    assert not (target / "spark-9.9" / "demo").exists()


def test_fetch_names_the_lines_when_one_has_no_sets(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    jvm, _ = _fake_line(tmp_path)
    monkeypatch.setenv("LAKEFORGE_JVM_DIR", str(jvm))
    with pytest.raises(jars.JarFetchError, match=r"no jar sets for spark-4.1: .* \(lines here: "
                                                  r"spark-9.9"):
        jars.fetch("spark-4.1")
    with pytest.raises(ConfigError, match=r"fetch: spark.jar_sets\[0\] is 'nope'"):
        jars.fetch("spark-9.9", ["nope"])


def _fetched() -> bool:
    try:
        for name in jars.available_sets("spark-3.5"):
            jars.set_jars(name, "spark-3.5")
    except jars.JarSetMissingError:
        return False
    return True


@pytest.mark.jars
@pytest.mark.skipif(not _fetched(), reason="jar sets not fetched: run `make jars`")
def test_second_fetch_of_the_real_sets_checks_sha256_and_never_starts_maven(
        tmp_path: Path) -> None:
    """The real sets (~335 MB): the fetch hashes every jar and matches the committed lock with
    no `mvn` on the PATH, i.e. offline and without downloading."""
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    env = {**os.environ, "PATH": str(fake_bin), "LAKEFORGE_CONF_DIR": str(REPO / "conf")}
    env.pop("LAKEFORGE_JARS_DIR", None)
    env.pop("LAKEFORGE_JVM_DIR", None)
    done = subprocess.run([sys.executable, "-m", "lakeforge.jars", "fetch"], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"spark-3.5/{name}: up to date"
                                        for name in jars.available_sets("spark-3.5")]


@pytest.mark.jars
@pytest.mark.skipif(not _fetched(), reason="jar sets not fetched: run `make jars`")
def test_session_conf_puts_each_named_set_on_spark_jars(tmp_path: Path) -> None:
    env = load_env("local")
    env = dataclasses.replace(env, spark=dataclasses.replace(env.spark,
                                                             jar_sets=["deequ", "s3a"]))
    conf = session_conf(env, Lake.from_settings(str(tmp_path), allow_env_override=False))
    names = [Path(p).name for p in conf["spark.jars"].split(",")]
    assert names[:5] == ["deequ-2.0.7-spark-3.5.jar", "aws-java-sdk-bundle-1.12.262.jar",
                         "hadoop-aws-3.3.4.jar", "spark-hadoop-cloud_2.12-3.5.8.jar",
                         "wildfly-openssl-1.0.7.Final.jar"]


def test_spark_jars_packages_passes_through_locally(tmp_path: Path) -> None:
    packages = {"spark.jars.packages": "com.amazon.deequ:deequ:2.0.7-spark-3.5"}
    lake = Lake.from_settings(str(tmp_path), allow_env_override=False)
    conf = session_conf(load_env("local"), lake, extra_conf=packages)
    assert conf["spark.jars.packages"] == packages["spark.jars.packages"]


@pytest.mark.jars
@pytest.mark.skipif(not _fetched(), reason="jar sets not fetched: run `make jars`")
def test_the_test_session_has_the_deequ_jar_on_its_classpath(spark: object) -> None:
    jvm = spark.sparkContext._jvm  # type: ignore[attr-defined]
    loader = jvm.Thread.currentThread().getContextClassLoader()
    found = jvm.java.lang.Class.forName("com.amazon.deequ.VerificationSuite", True, loader)
    assert found.getName() == "com.amazon.deequ.VerificationSuite"


@pytest.mark.jars
@pytest.mark.skipif(not _fetched(), reason="jar sets not fetched: run `make jars`")
def test_lakeforge_jars_path_prints_the_set_and_an_unknown_set_fails_in_one_line(
        capsys: pytest.CaptureFixture[str]) -> None:
    from lakeforge.cli import main

    assert main(["jars", "path", "delta", "--line", "spark-3.5"]) == 0
    printed = capsys.readouterr().out.strip().split(",")
    assert printed == jars.set_jars("delta", "spark-3.5") and printed[0].endswith(".jar")
    assert main(["jars", "path", "no-such-set", "--line", "spark-3.5"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "'no-such-set'" in err and "make jars" in err
