"""The jar tier: JVM artifacts pinned per Spark line, fetched once with Maven, checked by sha256.

Layout (nothing here is hard-coded per set or per line)::

    jvm/<line>/pom.xml              parent: one <module> per jar set, the copy settings
    jvm/<line>/<set>/pom.xml        the set's Maven coordinates and what pyspark already provides
    jvm/<line>/jars.lock.json       committed: every jar of every set, its coordinate and sha256
    .jars/<line>/<set>/*.jar        fetched (outside git)

``<line>`` is ``spark-<major>.<minor>`` of the installed pyspark (``$LAKEFORGE_SPARK_LINE``
overrides it). :func:`fetch` (``make jars``) checks the folders against the lock and runs Maven
only for a set whose folder does not match, so a second run reads the disk and downloads
nothing. Sessions take sets by name (``spark.jar_sets`` in conf/envs/*.yaml): :func:`set_jars`
returns a set's jar files, or raises :class:`JarSetMissingError` naming ``make jars``.

Example::

    lakeforge jars fetch                 # every set of the installed Spark line
    lakeforge jars fetch --set delta     # one set
    lakeforge jars fetch --update-lock   # after changing a pom: re-pin
    lakeforge jars path delta            # a set's jars, comma-separated (spark-submit --jars)

(``python -m lakeforge.jars ...`` is the same command.)
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lakeforge.errors import ConfigError, LakeforgeError

log = logging.getLogger(__name__)

FETCH_COMMAND = "make jars"
LOCK_NAME = "jars.lock.json"


class JarSetMissingError(ConfigError):
    """A jar set a session asks for is not fetched (or not complete) on this machine."""


class JarFetchError(LakeforgeError, RuntimeError):
    """Maven failed, or the fetched jars do not match the lock."""


@dataclass(frozen=True)
class LockedJar:
    """One jar of a set as pinned in the lock."""

    coordinate: str  # group:artifact:version
    file: str
    sha256: str
    size: int


def repo_root() -> Path:
    """The checkout the jvm/ poms and the .jars/ folder belong to (beside conf/)."""
    from lakeforge.config import conf_dir

    return conf_dir().resolve().parent


def jvm_dir() -> Path:
    return Path(os.environ.get("LAKEFORGE_JVM_DIR") or repo_root() / "jvm")


def jars_dir() -> Path:
    return Path(os.environ.get("LAKEFORGE_JARS_DIR") or repo_root() / ".jars")


def spark_line() -> str:
    """``spark-3.5`` for pyspark 3.5.x; ``$LAKEFORGE_SPARK_LINE`` wins when set."""
    explicit = os.environ.get("LAKEFORGE_SPARK_LINE")
    if explicit:
        return explicit
    try:
        version = importlib.metadata.version("pyspark")
    except importlib.metadata.PackageNotFoundError as exc:
        raise ConfigError("spark.jar_sets: pyspark is not installed, so there is no Spark line "
                          "to take jars for; pip install -e '.[spark]'") from exc
    major, minor = version.split(".")[:2]
    return f"spark-{major}.{minor}"


def available_lines() -> list[str]:
    return sorted(p.parent.name for p in jvm_dir().glob("*/pom.xml"))


def available_sets(line: str) -> list[str]:
    """The jar sets a line defines: its sub-folders that hold a pom.xml."""
    return sorted(p.parent.name for p in (jvm_dir() / line).glob("*/pom.xml"))


def _known_sets_text(line: str, known: Sequence[str]) -> str:
    return (f"no jar sets for {line} under {jvm_dir()}" if not known
            else f"known sets for {line}: {', '.join(known)}")


def check_set_names(names: Sequence[str], source: str, line: str | None = None,
                    key: str = "spark.jar_sets") -> None:
    """Refuse a set name the line has no pom for (config load time: before Spark starts).

    ``key`` is the config key the names came from (``spark.jar_sets.spark-4.1`` for one line's
    entry of the per-line form), named in the error.
    """
    line = line or spark_line()
    known = available_sets(line)
    for i, name in enumerate(names):
        if name not in known:
            raise ConfigError(f"{source}: {key}[{i}] is {name!r}; "
                              f"{_known_sets_text(line, known)}")


def read_lock(line: str) -> dict[str, list[LockedJar]]:
    path = jvm_dir() / line / LOCK_NAME
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {name: [LockedJar(**jar) for jar in jars] for name, jars in data["sets"].items()}


def write_lock(line: str, sets: dict[str, list[LockedJar]]) -> Path:
    path = jvm_dir() / line / LOCK_NAME
    body = {
        "line": line,
        "note": f"written by `python -m lakeforge.jars fetch --update-lock`; checked by "
                f"`{FETCH_COMMAND}`",
        "sets": {name: [vars(jar) for jar in sorted(jars, key=lambda j: j.file)]
                 for name, jars in sorted(sets.items())},
    }
    path.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    return path


def set_jars(name: str, line: str | None = None) -> list[str]:
    """The jar files of one fetched set, checked against the lock by name and size.

    Raises JarSetMissingError (one line, naming ``make jars``) when the folder is missing or
    differs from the lock; sha256 is checked by :func:`fetch`, not on every session start. A set
    the line has no pom for (``deequ`` on spark-4.1) is named with the line's known sets
    instead: ``make jars`` cannot fetch it.
    """
    line = line or spark_line()
    locked = read_lock(line).get(name)
    folder = jars_dir() / line / name
    known = available_sets(line)
    if name not in known:
        raise JarSetMissingError(f"jar set {name!r} is not defined for {line} "
                                 f"({_known_sets_text(line, known)})")
    if not locked:
        raise JarSetMissingError(f"jar set {name!r} has no entry in "
                                 f"{jvm_dir() / line / LOCK_NAME}; run `{FETCH_COMMAND}`")
    paths = []
    for jar in locked:
        path = folder / jar.file
        if not path.is_file() or path.stat().st_size != jar.size:
            raise JarSetMissingError(
                f"jar set {name!r} is not fetched for {line} ({path} missing or incomplete); "
                f"run `{FETCH_COMMAND}`")
        paths.append(str(path))
    return paths


# --------------------------------------------------------------------------- fetching


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _matches_lock(folder: Path, locked: list[LockedJar]) -> bool:
    if not folder.is_dir():
        return False
    present = {p.name for p in folder.glob("*.jar")}
    if present != {jar.file for jar in locked}:
        return False
    return all((folder / jar.file).stat().st_size == jar.size
               and sha256_of(folder / jar.file) == jar.sha256 for jar in locked)


_LISTED = re.compile(r"^\s*([\w.\-]+):([\w.\-]+):jar(?::[\w.\-]+)?:([\w.\-]+):(?:compile|runtime)")


def _coordinates(listing: Path) -> dict[str, str]:
    """file name -> group:artifact:version, from ``dependency:list`` output."""
    out = {}
    for line in listing.read_text(encoding="utf-8").splitlines():
        m = _LISTED.match(line)
        if m:
            group, artifact, version = m.groups()
            out[f"{artifact}-{version}.jar"] = f"{group}:{artifact}:{version}"
    return out


def _run_maven(line: str, sets: Sequence[str], target: Path) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise JarFetchError("mvn (Apache Maven) is not on PATH; install it (apt-get install "
                            "maven) to fetch jar sets")
    cmd = [mvn, "-B", "-q", "--strict-checksums", "-f", str(jvm_dir() / line / "pom.xml"),
           "-pl", ",".join(sets), f"-Djars.dir={target}",
           "dependency:copy-dependencies", "dependency:list"]
    log.info("fetching jar sets %s for %s with Maven", ", ".join(sets), line)
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).strip().splitlines()[-15:]
        raise JarFetchError(f"Maven failed fetching {', '.join(sets)} for {line}:\n"
                            + "\n".join(tail))


def _pyspark_jar_names() -> set[str]:
    """Artifact names (version stripped) of the jars inside the installed pyspark."""
    spec = importlib.util.find_spec("pyspark")
    if spec is None or not spec.submodule_search_locations:
        return set()
    folder = Path(next(iter(spec.submodule_search_locations))) / "jars"
    return {artifact_name(p.name) for p in folder.glob("*.jar")}


def artifact_name(file_name: str) -> str:
    """``hadoop-aws-3.3.4.jar`` -> ``hadoop-aws``: the name before the first ``-<digit>``."""
    return re.split(r"-\d", file_name.removesuffix(".jar"), maxsplit=1)[0]


def fetch(line: str | None = None, sets: Sequence[str] | None = None,
          update_lock: bool = False) -> dict[str, str]:
    """Make ``.jars/<line>/<set>/`` match the lock for each set; returns set -> what happened.

    A set whose folder already matches the lock (names, sizes, sha256) is left alone: Maven is
    not started. Otherwise the folder is emptied, Maven copies the set's runtime jars into it,
    and every jar is checked against the lock (written instead with ``update_lock``, or when
    the set has no lock entry yet). A jar that duplicates one inside the installed pyspark fails
    the fetch: the set's pom must exclude it.
    """
    line = line or spark_line()
    known = available_sets(line)
    if not known:
        raise JarFetchError(f"no jar sets for {line}: {jvm_dir() / line} has no */pom.xml "
                            f"(lines here: {', '.join(available_lines()) or 'none'})")
    wanted = list(sets or known)
    check_set_names(wanted, "fetch", line)
    lock = read_lock(line)
    target = jars_dir() / line
    outcome: dict[str, str] = {}
    stale = []
    for name in wanted:
        if not update_lock and name in lock and _matches_lock(target / name, lock[name]):
            outcome[name] = "up to date"
        else:
            stale.append(name)
    if not stale:
        return outcome
    for name in stale:
        shutil.rmtree(target / name, ignore_errors=True)
    target.mkdir(parents=True, exist_ok=True)
    _run_maven(line, stale, target.resolve())
    provided = _pyspark_jar_names() if line == _installed_line() else set()
    new_lock = dict(lock)
    for name in stale:
        folder = target / name
        listing = target / f"{name}.deps.txt"
        coordinates = _coordinates(listing) if listing.is_file() else {}
        jars = []
        for path in sorted(folder.glob("*.jar")):
            if artifact_name(path.name) in provided:
                raise JarFetchError(
                    f"jar set {name!r}: {path.name} duplicates a jar inside pyspark; exclude it "
                    f"in {jvm_dir() / line / name / 'pom.xml'}")
            jars.append(LockedJar(coordinates.get(path.name, ""), path.name,
                                  sha256_of(path), path.stat().st_size))
        if not jars:
            raise JarFetchError(f"jar set {name!r}: Maven copied no jar into {folder}")
        if name in lock and not update_lock:
            expected = {(j.file, j.sha256) for j in lock[name]}
            got = {(j.file, j.sha256) for j in jars}
            if expected != got:
                shutil.rmtree(folder, ignore_errors=True)
                diff = sorted(f for f, _ in expected ^ got)
                raise JarFetchError(
                    f"jar set {name!r} for {line} does not match {LOCK_NAME} ({', '.join(diff)}); "
                    "if the pom changed on purpose, run `lakeforge jars fetch "
                    "--update-lock` and commit the lock")
            outcome[name] = "fetched, matches the lock"
        else:
            new_lock[name] = jars
            outcome[name] = "fetched, lock written"
    if new_lock != lock:
        write_lock(line, new_lock)
    return outcome


def _installed_line() -> str | None:
    try:
        major, minor = importlib.metadata.version("pyspark").split(".")[:2]
    except importlib.metadata.PackageNotFoundError:
        return None
    return f"spark-{major}.{minor}"


def main(argv: list[str] | None = None) -> int:
    """``python -m lakeforge.jars ...`` is ``lakeforge jars ...`` (lakeforge/commands/jars.py)."""
    from lakeforge.cli import main as cli_main

    return cli_main(["jars", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
