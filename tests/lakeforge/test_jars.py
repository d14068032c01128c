"""The jar tier (lakeforge.jars): set names checked at config load, a missing set failing with one
line naming `make jars` before Spark starts, the lock checked by sha256, and a second fetch that
never starts Maven.

Runs on both Spark lines: the tests that use the real sets take the installed line (``LINE``,
lakeforge.jars.spark_line()) and the sets every line has (delta, iceberg, s3a); the 3.5 line's
``deequ`` set (no Deequ build for Spark 4 on Maven Central, so spark-4.1 has none) is asserted
where the line defines it and refused, naming the line's sets, where it does not. The per-line
form of ``spark.jar_sets`` (conf/envs/local_jars.yaml) is tested for both lines on either venv
by setting ``$LAKEFORGE_SPARK_LINE``."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lakeforge import jars
from lakeforge.config import load_env
from lakeforge.errors import ConfigError
from lakeforge.job import parse_job_args
from lakeforge.paths import Lake
from lakeforge.session import session_conf

REPO = Path(__file__).resolve().parents[2]
LINE = jars.spark_line()

# What each line pins (README "The jar tier"): the sets it must define, the Scala binary version
# of its pyspark (every Scala artifact in its lock is built for it) and coordinates that identify
# the line's builds.
LINE_PINS: dict[str, tuple[set[str], str, set[str]]] = {
    "spark-3.5": ({"deequ", "delta", "iceberg", "s3a"}, "2.12", {
        "com.amazon.deequ:deequ:2.0.7-spark-3.5", "io.delta:delta-spark_2.12:3.3.2",
        "org.apache.hadoop:hadoop-aws:3.3.4", "com.amazonaws:aws-java-sdk-bundle:1.12.262",
        "org.apache.iceberg:iceberg-spark-runtime-3.5_2.12:1.9.2"}),
    "spark-4.1": ({"delta", "iceberg", "s3a"}, "2.13", {
        "io.delta:delta-spark_4.1_2.13:4.4.0", "org.apache.hadoop:hadoop-aws:3.4.2",
        "software.amazon.awssdk:s3:2.54.17",
        "org.apache.iceberg:iceberg-spark-runtime-4.1_2.13:1.12.0"}),
}
# The jars that identify the installed line's delta and s3a sets.
LINE_JARS = {"spark-3.5": ("delta-spark_2.12-3.3.2.jar", "hadoop-aws-3.3.4.jar"),
             "spark-4.1": ("delta-spark_4.1_2.13-4.4.0.jar", "hadoop-aws-3.4.2.jar")}


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
    assert jars.artifact_name("delta-spark_4.1_2.13-4.4.0.jar") == "delta-spark_4.1_2.13"
    assert jars.artifact_name("hive-exec-2.3.9-core.jar") == "hive-exec"


def test_spark_line_follows_the_installed_pyspark_and_the_override(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import pyspark

    major, minor = pyspark.__version__.split(".")[:2]
    monkeypatch.delenv("LAKEFORGE_SPARK_LINE", raising=False)
    assert jars.spark_line() == f"spark-{major}.{minor}"
    # an override that is not the installed line (on 4.1, "spark-4.1" would prove nothing)
    monkeypatch.setenv("LAKEFORGE_SPARK_LINE", "spark-9.9")
    assert jars.spark_line() == "spark-9.9"


def _scala_versions(locked: dict[str, list[jars.LockedJar]]) -> set[str]:
    """The Scala binary versions in the locked file names (``delta-spark_2.12-3.3.2.jar``)."""
    return {v for js in locked.values() for j in js for v in re.findall(r"_(2\.1\d)-", j.file)}


@pytest.mark.parametrize("line", sorted(LINE_PINS))
def test_each_line_defines_its_sets_and_locks_each_for_its_scala(line: str) -> None:
    sets, scala, pinned = LINE_PINS[line]
    assert sets <= set(jars.available_sets(line))
    # deequ only where the line pins it: spark-4.1 has no set (no Deequ build for Spark 4)
    assert ("deequ" in jars.available_sets(line)) == ("deequ" in sets)
    lock = jars.read_lock(line)
    assert sorted(lock) == jars.available_sets(line)
    coordinates = {j.coordinate for js in lock.values() for j in js}
    assert pinned <= coordinates
    assert all(len(j.sha256) == 64 and j.size > 0 for js in lock.values() for j in js)
    assert _scala_versions(lock) == {scala}


def test_no_locked_jar_duplicates_a_jar_inside_pyspark_and_all_are_built_for_its_scala() -> None:
    provided = jars._pyspark_jar_names()
    scala = LINE_PINS[LINE][1]
    assert f"spark-core_{scala}" in provided and "hadoop-client-api" in provided
    lock = jars.read_lock(LINE)
    locked = {jars.artifact_name(j.file) for js in lock.values() for j in js}
    assert locked and not (locked & provided)
    assert _scala_versions(lock) == {scala}


def test_unknown_set_name_fails_at_config_load_naming_key_and_known_sets(
        tmp_path: Path) -> None:
    env_file = tmp_path / "x.yaml"
    env_file.write_text("kind: local\nspark:\n  jar_sets: [delta, delat]\n")
    known = ", ".join(jars.available_sets(LINE))
    assert {"delta", "iceberg", "s3a"} <= set(jars.available_sets(LINE))
    with pytest.raises(ConfigError, match=re.escape(
            f"x.yaml: spark.jar_sets[1] is 'delat'; known sets for {LINE}: {known}")):
        load_env(str(env_file))


def test_jar_sets_are_refused_on_clusters_and_when_listed_twice(tmp_path: Path) -> None:
    emr = tmp_path / "emr.yaml"
    emr.write_text("kind: emr\nspark:\n  metastore: glue\n  jar_sets: [delta]\n")
    with pytest.raises(ConfigError, match="jar_sets applies to local and standalone"):
        load_env(str(emr))
    twice = tmp_path / "twice.yaml"
    twice.write_text("kind: local\nspark:\n  jar_sets: [delta, s3a, delta]\n")
    with pytest.raises(ConfigError, match="lists delta more than once"):
        load_env(str(twice))
    wrong_type = tmp_path / "wrong.yaml"
    wrong_type.write_text("kind: local\nspark:\n  jar_sets: delta\n")
    with pytest.raises(ConfigError, match="'spark.jar_sets' must be a list"):
        load_env(str(wrong_type))


# What conf/envs/local_jars.yaml takes per line: the four sets, less deequ on 4.1 (and never
# deequ-dqdl, which runs Deequ 2.1 in its own JVM for the DQDL differential).
LOCAL_JARS_SETS = {"spark-3.5": ["deequ", "delta", "s3a", "iceberg"],
                   "spark-4.1": ["delta", "s3a", "iceberg"]}


def test_local_is_jar_free_and_local_jars_loads_the_installed_lines_sets() -> None:
    assert load_env("local").spark.jar_sets == []
    assert load_env("local_jars").spark.jar_sets == LOCAL_JARS_SETS[LINE]


@pytest.mark.parametrize("line", sorted(LOCAL_JARS_SETS))
def test_local_jars_loads_on_each_line_with_that_lines_sets(
        line: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEFORGE_SPARK_LINE", line)
    sets = load_env("local_jars").spark.jar_sets
    assert type(sets) is list and sets == LOCAL_JARS_SETS[line]
    assert set(sets) <= set(jars.available_sets(line))


@pytest.mark.parametrize("line", sorted(LOCAL_JARS_SETS))
def test_a_list_or_a_mapping_override_replaces_the_per_line_jar_sets(
        line: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEFORGE_SPARK_LINE", line)
    # a list: the same sets on every line, as before the per-line form
    overridden = load_env("local_jars", {"spark.jar_sets": ["delta", "s3a", "iceberg"]})
    assert overridden.spark.jar_sets == ["delta", "s3a", "iceberg"]
    # on a job's command line: a list, or a mapping in YAML flow style
    for value, expected in (("[delta, iceberg]", ["delta", "iceberg"]),
                            ("{spark-3.5: [deequ], spark-4.1: [s3a]}",
                             {"spark-3.5": ["deequ"], "spark-4.1": ["s3a"]}[line])):
        args = parse_job_args(["--env", "local_jars", "--env.spark.jar_sets", value], "x")
        assert load_env(args.env, args.env_overrides).spark.jar_sets == expected
    assert load_env("local_jars", {"spark.jar_sets": []}).spark.jar_sets == []
    # one line's entry, the others kept (a line's name holds a dot)
    args = parse_job_args(["--env", "local_jars", "--env.spark.jar_sets.spark-4.1", "[s3a]"],
                          "x")
    assert args.env_overrides == {"spark.jar_sets.spark-4.1": ["s3a"]}
    assert load_env(args.env, args.env_overrides).spark.jar_sets == {
        "spark-3.5": ["deequ", "delta", "s3a", "iceberg"], "spark-4.1": ["s3a"]}[line]
    # a line the map does not have yet is one key too, refused as that line (not 'spark-4')
    with pytest.raises(ConfigError) as info:
        load_env("local_jars", {"spark.jar_sets.spark-4.0": ["delta"]})
    assert "spark.jar_sets has an entry for 'spark-4.0', which is not a Spark line" in str(
        info.value)


def test_a_list_naming_deequ_is_refused_on_spark_4_1_naming_the_lines_sets(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEFORGE_SPARK_LINE", "spark-4.1")
    with pytest.raises(ConfigError) as info:
        load_env("local_jars", {"spark.jar_sets": ["delta", "deequ"]})
    known = ", ".join(jars.available_sets("spark-4.1"))
    assert str(info.value).endswith("local_jars.yaml (with command-line overrides): "
                                    "spark.jar_sets[1] is 'deequ'; known sets "
                                    f"for spark-4.1: {known}")


# Each way the per-line form fails at load, on the 4.1 line (forced, so the same on both
# venvs): the YAML under spark.jar_sets, then the message after "<file>: ".
PER_LINE_FAILURES = {
    "unknown line": (
        "{spark-4.1: [delta], spark-3.4: [delta]}",
        "spark.jar_sets has an entry for 'spark-3.4', which is not a Spark line of {jvm}; "
        "known lines: spark-3.5, spark-4.1"),
    "a line written as a number": (
        "{4.1: [delta]}",
        "spark.jar_sets has an entry for 4.1, which is not a Spark line of {jvm}; "
        "known lines: spark-3.5, spark-4.1"),
    "installed line missing": (
        "{spark-3.5: [deequ, delta]}",
        "spark.jar_sets has no entry for spark-4.1, the installed Spark line (it has "
        "spark-3.5); add `spark-4.1: [...]` ([] for no sets)"),
    "not a list": (
        "{spark-3.5: [delta], spark-4.1: delta}",
        "'spark.jar_sets.spark-4.1' must be a list of set names, got str 'delta'"),
    "null": (
        "{spark-3.5: [delta], spark-4.1: }",
        "'spark.jar_sets.spark-4.1' must be a list of set names, got NoneType None"),
    "a set twice": (
        "{spark-3.5: [delta], spark-4.1: [delta, s3a, delta]}",
        "spark.jar_sets.spark-4.1 lists delta more than once"),
    "unknown set": (
        "{spark-3.5: [delta], spark-4.1: [s3a, deequ]}",
        "spark.jar_sets.spark-4.1[1] is 'deequ'; known sets for spark-4.1: {sets_4_1}"),
    # the other line's entry is checked too: the file fails on both lines, not only on 3.5
    "unknown set on the other line": (
        "{spark-3.5: [delta, delat], spark-4.1: [delta]}",
        "spark.jar_sets.spark-3.5[1] is 'delat'; known sets for spark-3.5: {sets_3_5}"),
    "neither a list nor a mapping": (
        "delta",
        "'spark.jar_sets' must be a list of set names or a mapping from Spark line to such a "
        "list, got str 'delta'"),
}


@pytest.mark.parametrize("case", sorted(PER_LINE_FAILURES))
def test_per_line_jar_sets_fail_at_load_with_one_line_naming_file_and_key(
        case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEFORGE_SPARK_LINE", "spark-4.1")
    value, message = PER_LINE_FAILURES[case]
    env_file = tmp_path / "x.yaml"
    env_file.write_text(f"kind: local\nspark:\n  jar_sets: {value}\n")
    assert jars.available_lines() == ["spark-3.5", "spark-4.1"]
    with pytest.raises(ConfigError) as info:
        load_env(str(env_file))
    message = message.replace("{jvm}", str(jars.jvm_dir())).replace(
        "{sets_3_5}", ", ".join(jars.available_sets("spark-3.5"))).replace(
        "{sets_4_1}", ", ".join(jars.available_sets("spark-4.1")))
    assert str(info.value) == f"{env_file}: {message}"


def test_per_line_jar_sets_are_refused_on_clusters_and_empty_means_none(tmp_path: Path) -> None:
    emr = tmp_path / "emr.yaml"
    emr.write_text("kind: emr\nspark:\n  metastore: glue\n  jar_sets: {spark-3.5: [delta]}\n")
    with pytest.raises(ConfigError, match="jar_sets applies to local and standalone"):
        load_env(str(emr))
    for empty in ("[]", "{}"):
        emr.write_text(f"kind: emr\nspark:\n  metastore: glue\n  jar_sets: {empty}\n")
        assert load_env(str(emr)).spark.jar_sets == []


def test_missing_set_fails_before_spark_with_one_line_naming_make_jars(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEFORGE_JARS_DIR", str(tmp_path / "empty"))
    env = load_env("local", {"spark.jar_sets": ["delta", "s3a"]})
    lake = Lake.from_settings(str(tmp_path / "lake"), allow_env_override=False)
    with pytest.raises(jars.JarSetMissingError) as info:
        session_conf(env, lake)
    message = str(info.value)
    assert "\n" not in message
    assert f"jar set 'delta' is not fetched for {LINE}" in message
    assert message.endswith("run `make jars`")


def test_set_jars_names_the_known_sets_for_an_undefined_set_and_make_jars_for_an_unlocked_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    jvm, target = _fake_line(tmp_path)
    monkeypatch.setenv("LAKEFORGE_JVM_DIR", str(jvm))
    monkeypatch.setenv("LAKEFORGE_JARS_DIR", str(target))
    # a set the line has no pom for: `make jars` cannot fetch it, so the error does not say so
    with pytest.raises(jars.JarSetMissingError) as info:
        jars.set_jars("deequ", "spark-9.9")
    assert str(info.value) == "jar set 'deequ' is not defined for spark-9.9 (known sets for " \
                              "spark-9.9: demo)"
    # a line with no sets at all
    with pytest.raises(jars.JarSetMissingError, match=r"not defined for spark-0.0 \(no jar sets "
                                                      r"for spark-0.0 under "):
        jars.set_jars("demo", "spark-0.0")
    # a set with a pom but no lock entry yet: `make jars` fetches it and writes the lock
    (jvm / "spark-9.9" / "new").mkdir()
    (jvm / "spark-9.9" / "new" / "pom.xml").write_text("<project/>")
    with pytest.raises(jars.JarSetMissingError, match=r"jar set 'new' has no entry in .*"
                                                      r"jars.lock.json; run `make jars`$"):
        jars.set_jars("new", "spark-9.9")


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
    # set_jars checks sha256 too (once per file: tests/lakeforge/test_jars_integrity.py) ...
    with pytest.raises(jars.JarSetMissingError, match="sha256 differs"):
        jars.set_jars("demo", "spark-9.9")
    # ... fetch removes the tampered set and needs Maven to fetch it again.
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
    with pytest.raises(ConfigError, match=r"^jars fetch: --set is 'nope'; "):
        jars.fetch("spark-9.9", ["nope"])


def _fetched() -> bool:
    try:
        for name in jars.available_sets(LINE):
            jars.set_jars(name, LINE)
    except jars.JarSetMissingError:
        return False
    return True


# The tests of the real, fetched sets of the installed line. Under `make test`
# (LAKEFORGE_REQUIRE_JARS=1, it fetched them) they never skip: a missing set fails them.
needs_fetched_sets = pytest.mark.skipif(
    os.environ.get("LAKEFORGE_REQUIRE_JARS") != "1" and not _fetched(),
    reason=f"jar sets of {LINE} not fetched: run `make jars`")


@pytest.mark.jars
@needs_fetched_sets
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
    assert done.stdout.splitlines() == [f"{LINE}/{name}: up to date"
                                        for name in jars.available_sets(LINE)]


@pytest.mark.jars
@needs_fetched_sets
def test_session_conf_puts_each_named_set_on_spark_jars(tmp_path: Path) -> None:
    env = load_env("local")
    env = dataclasses.replace(env, spark=dataclasses.replace(env.spark,
                                                             jar_sets=["s3a", "delta"]))
    conf = session_conf(env, Lake.from_settings(str(tmp_path), allow_env_override=False))
    paths = conf["spark.jars"].split(",")
    # the sets in the env's order, each set's jars in the lock's order, from .jars/<line>/<set>/
    locked = [(name, j.file) for name in ("s3a", "delta") for j in jars.read_lock(LINE)[name]]
    assert [(Path(p).parent.name, Path(p).name) for p in paths[:len(locked)]] == locked
    folder = (jars.jars_dir() / LINE).resolve()
    assert all(Path(p).parent.parent == folder for p in paths[:len(locked)])
    delta_jar, hadoop_aws_jar = LINE_JARS[LINE]
    names = [Path(p).name for p in paths]
    assert names.index(hadoop_aws_jar) < names.index(delta_jar)


def test_spark_jars_packages_passes_through_locally(tmp_path: Path) -> None:
    packages = {"spark.jars.packages": "com.amazon.deequ:deequ:2.0.7-spark-3.5"}
    lake = Lake.from_settings(str(tmp_path), allow_env_override=False)
    conf = session_conf(load_env("local"), lake, extra_conf=packages)
    assert conf["spark.jars.packages"] == packages["spark.jars.packages"]


@pytest.mark.jars
@needs_fetched_sets
@pytest.mark.parametrize("set_name, class_name", [
    ("deequ", "com.amazon.deequ.VerificationSuite"),
    ("delta", "io.delta.sql.DeltaSparkSessionExtension"),
    ("iceberg", "org.apache.iceberg.spark.SparkCatalog"),
    ("s3a", "org.apache.hadoop.fs.s3a.S3AFileSystem"),
])
def test_the_test_session_has_each_set_of_its_line_on_its_classpath(
        spark: object, set_name: str, class_name: str) -> None:
    if set_name not in jars.available_sets(LINE):
        why = ": Maven Central has no Deequ build for Spark 4" if set_name == "deequ" else ""
        pytest.skip(f"{LINE} defines no {set_name} set (jvm/{LINE}/){why}")
    jvm = spark.sparkContext._jvm  # type: ignore[attr-defined]
    loader = jvm.Thread.currentThread().getContextClassLoader()
    found = jvm.java.lang.Class.forName(class_name, True, loader)
    assert found.getName() == class_name


@pytest.mark.jars
@needs_fetched_sets
def test_lakeforge_jars_path_prints_the_set_and_an_unknown_set_fails_in_one_line(
        capsys: pytest.CaptureFixture[str]) -> None:
    from lakeforge.cli import main

    assert main(["jars", "path", "delta", "--line", LINE]) == 0
    printed = capsys.readouterr().out.strip().split(",")
    assert printed == jars.set_jars("delta", LINE) and printed[0].endswith(".jar")
    assert LINE_JARS[LINE][0] in [Path(p).name for p in printed]
    assert main(["jars", "path", "no-such-set", "--line", LINE]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "'no-such-set'" in err
    assert f"is not defined for {LINE} (known sets for {LINE}: " in err
