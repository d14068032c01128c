"""The jar tier's integrity (lakeforge.jars): the sha256 of every jar checked at session start
once per file (the verdict kept in the set folder), a hand-edited lock refused in one line
naming the file and the entry, a Maven that cannot reach its repository reported in one line
naming the sets, the pom and the repository, and two concurrent fetches of a line running Maven
once.

The Maven tests run the real ``mvn`` on a scratch line (spark-9.9) whose one set depends on
``io.delta:delta-storage:3.3.2``, which ``make jars`` put in the local Maven repository
(~/.m2) with the dependency plugin; no download happens. They are skipped where Maven or that
jar is absent (a machine that never ran ``make jars``)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lakeforge import jars
from lakeforge.cli import main as cli_main

REPO = Path(__file__).resolve().parents[2]
LINE = "spark-9.9"
M2 = Path.home() / ".m2" / "repository"
DELTA_STORAGE = M2 / "io/delta/delta-storage/3.3.2/delta-storage-3.3.2.jar"


def _fake_line(tmp_path: Path, content: bytes = b"jar bytes") -> tuple[Path, Path]:
    """A jvm/ folder with one line (spark-9.9) and one set (demo) locked to ``content``, and the
    set fetched into the jars folder."""
    jvm = tmp_path / "jvm"
    (jvm / LINE / "demo").mkdir(parents=True)
    (jvm / LINE / "pom.xml").write_text("<project/>")
    (jvm / LINE / "demo" / "pom.xml").write_text("<project/>")
    lock = {"line": LINE, "sets": {"demo": [{
        "coordinate": "g:demo:1", "file": "demo-1.jar",
        "sha256": hashlib.sha256(content).hexdigest(), "size": len(content)}]}}
    (jvm / LINE / jars.LOCK_NAME).write_text(json.dumps(lock))
    target = tmp_path / "jars"
    (target / LINE / "demo").mkdir(parents=True)
    (target / LINE / "demo" / "demo-1.jar").write_bytes(content)
    return jvm, target


@pytest.fixture
def fake_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    jvm, target = _fake_line(tmp_path)
    monkeypatch.setenv("LAKEFORGE_JVM_DIR", str(jvm))
    monkeypatch.setenv("LAKEFORGE_JARS_DIR", str(target))
    return jvm, target


def test_set_jars_hashes_each_jar_once_and_refuses_one_changed_in_place_with_its_size_and_mtime(
        fake_line: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    _, target = fake_line
    jar = target / LINE / "demo" / "demo-1.jar"
    hashed: list[Path] = []
    real_sha256_of = jars.sha256_of

    def counting_sha256_of(path: Path) -> str:
        hashed.append(path)
        return real_sha256_of(path)

    monkeypatch.setattr(jars, "sha256_of", counting_sha256_of)
    assert jars.set_jars("demo", LINE) == [str(jar)]
    assert hashed == [jar]
    # the verdict is kept beside the jar: the next session starts only stat it
    assert jars.set_jars("demo", LINE) == [str(jar)]
    assert hashed == [jar]
    recorded = json.loads((jar.parent / jars.VERIFIED_NAME).read_text())
    assert recorded["demo-1.jar"]["sha256"] == hashlib.sha256(b"jar bytes").hexdigest()
    # the same size, the mtime put back: the kernel's ctime still tells the change
    stat = jar.stat()
    jar.write_bytes(b"jar BYTES")
    os.utime(jar, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    with pytest.raises(jars.JarSetMissingError) as info:
        jars.set_jars("demo", LINE)
    message = str(info.value)
    assert "\n" not in message
    assert message == (f"jar set 'demo' for {LINE}: {jar} is not the jar jars.lock.json pins "
                       "(its sha256 differs: changed or corrupt); run `make jars` to fetch it "
                       "again")
    assert hashed == [jar, jar]


def test_set_jars_refuses_a_truncated_jar_and_ignores_a_jar_of_another_version_beside_it(
        fake_line: tuple[Path, Path]) -> None:
    _, target = fake_line
    folder = target / LINE / "demo"
    (folder / "demo-0.9.jar").write_bytes(b"an older version")
    assert jars.set_jars("demo", LINE) == [str(folder / "demo-1.jar")]
    (folder / "demo-1.jar").write_bytes(b"jar by")  # a copy cut short
    with pytest.raises(jars.JarSetMissingError, match=r"demo-1.jar missing or incomplete\); "
                                                      r"run `make jars`$"):
        jars.set_jars("demo", LINE)


# Hand edits of jvm/<line>/jars.lock.json: (JSON text or a function of the lock's dict, what
# the one-line error says after "<lock path>: ").
LOCK_EDITS = {
    "merge conflict": ("<<<<<<< HEAD\n{}", "not valid JSON (Expecting value: line 1 column 1 "
                                            "(char 0))"),
    "another line's lock": (lambda d: {**d, "line": "spark-3.5"},
                            "is the lock of 'spark-3.5', not of spark-9.9"),
    "no sets": (lambda d: {"line": LINE}, "must be a JSON object with a 'sets' object"),
    "a field missing": (lambda d: _set_entry(d, sha256=None),
                        "sets.demo[0] must have exactly the fields coordinate, file, sha256, "
                        "size (got ['coordinate', 'file', 'size'])"),
    "sha256 shortened": (lambda d: _set_entry(d, sha256="abc123"),
                         "sets.demo[0].sha256 is 'abc123', not 64 lower-case hex digits"),
    "size as text": (lambda d: _set_entry(d, size="9"),
                     "sets.demo[0].size is '9', not a positive integer"),
    "a path as the file": (lambda d: _set_entry(d, file="../demo-1.jar"),
                           "sets.demo[0].file is '../demo-1.jar', not a jar file name"),
    "an empty set": (lambda d: {**d, "sets": {"demo": []}},
                     "sets.demo must be a non-empty list of jars"),
    "a jar twice": (lambda d: {**d, "sets": {"demo": d["sets"]["demo"] * 2}},
                    "sets.demo[1].file demo-1.jar is listed twice in the set"),
}


def _set_entry(lock: dict, **fields: object) -> dict:
    entry = dict(lock["sets"]["demo"][0])
    for key, value in fields.items():
        if value is None:
            del entry[key]
        else:
            entry[key] = value
    return {**lock, "sets": {"demo": [entry]}}


@pytest.mark.parametrize("case", sorted(LOCK_EDITS))
def test_a_hand_edited_lock_fails_in_one_line_naming_the_file_and_the_entry(
        case: str, fake_line: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    jvm, _ = fake_line
    lock_path = jvm / LINE / jars.LOCK_NAME
    edit, message = LOCK_EDITS[case]
    if isinstance(edit, str):
        lock_path.write_text(edit)
    else:
        lock_path.write_text(json.dumps(edit(json.loads(lock_path.read_text()))))
    fix = (f"; restore it (git checkout -- {lock_path}) or re-pin with `lakeforge jars fetch "
           f"--line {LINE} --update-lock`")
    with pytest.raises(jars.JarLockError) as info:
        jars.set_jars("demo", LINE)
    assert str(info.value) == f"{lock_path}: {message}{fix}"
    # the CLI: exit 2 and that one line
    assert cli_main(["jars", "path", "demo", "--line", LINE]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {lock_path}: {message}{fix}\n"


# ----------------------------------------------------------------- with the real Maven

needs_maven = pytest.mark.skipif(
    shutil.which("mvn") is None or not DELTA_STORAGE.is_file(),
    reason="needs mvn and delta-storage 3.3.2 in ~/.m2 (`make jars` puts it there)")

PARENT_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.lakeforge.test</groupId><artifactId>{line}</artifactId><version>1</version>
  <packaging>pom</packaging>
  <properties><jars.dir>${{maven.multiModuleProjectDirectory}}/jars</jars.dir></properties>
  {repositories}
  <modules><module>demo</module></modules>
  <build><pluginManagement><plugins><plugin>
    <groupId>org.apache.maven.plugins</groupId><artifactId>maven-dependency-plugin</artifactId>
    <version>3.6.1</version>
    <configuration>
      <outputDirectory>${{jars.dir}}/${{jar.set}}</outputDirectory>
      <includeScope>runtime</includeScope>
      <outputFile>${{jars.dir}}/${{jar.set}}.deps.txt</outputFile>
    </configuration>
  </plugin></plugins></pluginManagement></build>
</project>
"""
SET_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <parent><groupId>dev.lakeforge.test</groupId><artifactId>{line}</artifactId>
    <version>1</version></parent>
  <artifactId>demo</artifactId><packaging>pom</packaging>
  <properties><jar.set>demo</jar.set></properties>
  <dependencies><dependency><groupId>io.delta</groupId><artifactId>delta-storage</artifactId>
    <version>3.3.2</version></dependency></dependencies>
</project>
"""
# Maven's central replaced by a closed port: a machine without network
UNREACHABLE = """<repositories><repository><id>central</id><url>http://127.0.0.1:1/maven2</url>
  </repository></repositories><pluginRepositories><pluginRepository><id>central</id>
  <url>http://127.0.0.1:1/maven2</url></pluginRepository></pluginRepositories>"""


def _maven_line(tmp_path: Path, repositories: str = "", locked: bool = True) -> tuple[Path, Path]:
    """A scratch line whose set ``demo`` is delta-storage 3.3.2, locked to the real jar."""
    jvm = tmp_path / "jvm"
    (jvm / LINE / "demo").mkdir(parents=True)
    (jvm / LINE / "pom.xml").write_text(PARENT_POM.format(line=LINE, repositories=repositories))
    (jvm / LINE / "demo" / "pom.xml").write_text(SET_POM.format(line=LINE))
    if locked:
        body = {"line": LINE, "sets": {"demo": [{
            "coordinate": "io.delta:delta-storage:3.3.2", "file": DELTA_STORAGE.name,
            "sha256": jars.sha256_of(DELTA_STORAGE), "size": DELTA_STORAGE.stat().st_size}]}}
        (jvm / LINE / jars.LOCK_NAME).write_text(json.dumps(body))
    return jvm, tmp_path / "jars"


@pytest.mark.slow
@needs_maven
def test_maven_without_its_repository_fails_in_one_line_naming_sets_pom_and_repository(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Slow: starts Maven (a few seconds). A fresh machine offline: an empty local repository
    (MAVEN_OPTS) and central on a closed port; the whole output is kept in maven.log."""
    jvm, target = _maven_line(tmp_path, UNREACHABLE)
    monkeypatch.setenv("LAKEFORGE_JVM_DIR", str(jvm))
    monkeypatch.setenv("LAKEFORGE_JARS_DIR", str(target))
    monkeypatch.setenv("MAVEN_OPTS", f"-Dmaven.repo.local={tmp_path / 'empty-m2'}")
    with pytest.raises(jars.JarFetchError) as info:
        jars.fetch(LINE)
    message = str(info.value)
    assert "\n" not in message and "\x1b" not in message
    assert message.startswith(f"Maven failed fetching jar set(s) demo for {LINE} "
                              f"({jvm / LINE / 'pom.xml'}): ")
    assert "central (http://127.0.0.1:1/maven2)" in message
    assert "[Help 1]" not in message and "[ERROR]" not in message
    maven_log = target / LINE / jars.MAVEN_LOG_NAME
    assert message.endswith(f"(whole output: {maven_log})")
    assert "[ERROR]" in maven_log.read_text()


@pytest.mark.slow
@needs_maven
def test_update_lock_repins_a_lock_broken_by_hand_and_a_plain_fetch_refuses_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Slow: starts Maven (a few seconds), which copies delta-storage from ~/.m2."""
    jvm, target = _maven_line(tmp_path)
    monkeypatch.setenv("LAKEFORGE_JVM_DIR", str(jvm))
    monkeypatch.setenv("LAKEFORGE_JARS_DIR", str(target))
    lock_path = jvm / LINE / jars.LOCK_NAME
    lock_path.write_text('{"line": "spark-9.9", "sets": {"demo": [{"file": "x.jar"}]}}')
    with pytest.raises(jars.JarLockError, match=r"sets.demo\[0\] must have exactly the fields"):
        jars.fetch(LINE)
    with pytest.raises(jars.JarLockError):  # one set cannot re-pin the others' entries
        jars.fetch(LINE, ["demo"], update_lock=True)
    assert jars.fetch(LINE, update_lock=True) == {"demo": "fetched, lock written"}
    [pinned] = jars.read_lock(LINE)["demo"]
    assert pinned == jars.LockedJar("io.delta:delta-storage:3.3.2", DELTA_STORAGE.name,
                                    jars.sha256_of(DELTA_STORAGE),
                                    DELTA_STORAGE.stat().st_size)


MVN_WRAPPER = """#!/bin/sh
# the real mvn, held until the test says go: lets a second fetch start while the first runs
n=$(ls "{marks}" | wc -l)
touch "{marks}/started-$((n + 1))"
while [ ! -e "{go}" ]; do sleep 0.1; done
exec "{mvn}" "$@"
"""


def _wait_for(condition, what: str) -> None:  # type: ignore[no-untyped-def]
    """Poll until ``condition()``; the deadline only stops a hung test."""
    deadline = time.monotonic() + 120
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.1)


@pytest.mark.slow
@needs_maven
def test_a_second_fetch_of_a_line_waits_for_the_first_and_finds_its_sets_up_to_date(
        tmp_path: Path) -> None:
    """Slow: two CLI processes and one Maven run. ``mvn`` on the PATH is a wrapper around the
    real Maven that waits for a go file, so the second fetch starts while the first is in
    Maven: it must wait on the line's lock (and say so), not empty the folder and start Maven
    again."""
    jvm, target = _maven_line(tmp_path)
    marks, go = tmp_path / "marks", tmp_path / "go"
    marks.mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "mvn"
    wrapper.write_text(MVN_WRAPPER.format(marks=marks, go=go, mvn=shutil.which("mvn")))
    wrapper.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "LAKEFORGE_JVM_DIR": str(jvm), "LAKEFORGE_JARS_DIR": str(target),
           "LAKEFORGE_CONF_DIR": str(REPO / "conf")}
    cmd = [sys.executable, "-m", "lakeforge.jars", "fetch", "--line", LINE]
    logs = [tmp_path / "first.err", tmp_path / "second.err"]
    with logs[0].open("w") as err0, logs[1].open("w") as err1:
        first = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=err0, text=True)
        _wait_for(lambda: (marks / "started-1").exists(), "the first fetch to start Maven")
        second = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=err1, text=True)
        _wait_for(lambda: "holds" in logs[1].read_text() or (marks / "started-2").exists(),
                  "the second fetch to wait or to start Maven")
        go.touch()
        outs = [p.communicate(timeout=300)[0] for p in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], [p.read_text() for p in logs]
    assert sorted(p.name for p in marks.iterdir()) == ["started-1"]  # Maven ran once
    assert outs == [f"{LINE}/demo: fetched, matches the lock\n", f"{LINE}/demo: up to date\n"]
    assert f"another fetch of {LINE} holds {target / LINE / jars.FETCH_LOCK_NAME}" in \
        logs[1].read_text()


@pytest.mark.slow
@needs_maven
def test_a_fetched_jar_with_other_bytes_than_the_lock_is_named_once_with_the_local_repository(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Slow: starts Maven (a few seconds). The lock pins other bytes than Maven's local copy of
    delta-storage (as when that copy is corrupt or was replaced): the file was named twice and
    the only advice was to re-pin, which would lock the wrong jar."""
    jvm, target = _maven_line(tmp_path)
    monkeypatch.setenv("LAKEFORGE_JVM_DIR", str(jvm))
    monkeypatch.setenv("LAKEFORGE_JARS_DIR", str(target))
    lock_path = jvm / LINE / jars.LOCK_NAME
    lock = json.loads(lock_path.read_text())
    lock["sets"]["demo"][0]["sha256"] = "0" * 64
    lock_path.write_text(json.dumps(lock))
    with pytest.raises(jars.JarFetchError) as info:
        jars.fetch(LINE)
    assert str(info.value) == (
        f"jar set 'demo' for {LINE} does not match jars.lock.json (sha256 differs: "
        f"{DELTA_STORAGE.name}; with the pom unchanged, Maven's local repository "
        "(~/.m2/repository unless settings.xml moves it) holds other bytes for the pinned "
        "artifacts: delete them there and fetch again; if the pom changed on purpose, run "
        "`lakeforge jars fetch --update-lock` and commit the lock)")
    assert not (target / LINE / "demo").exists()
