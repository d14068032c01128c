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

Integrity: every jar's sha256 is checked against the lock by the fetch and, once per file, by
:func:`set_jars`; the verdict is kept in ``.jars/<line>/<set>/.verified.json`` keyed by the file's
size, mtime, ctime and inode, so a session start only stats the jars until one changes (a
truncated, replaced or edited jar is hashed again and refused). A fetch holds
``.jars/<line>/.fetch.lock`` (``fcntl``): a second ``make jars`` of the line waits for the first,
then finds its sets up to date. A lock file that is not what ``--update-lock`` writes (edited
by hand, a merge conflict) fails in one line naming the file and the entry.

Example::

    lakeforge jars fetch                 # every set of the installed Spark line
    lakeforge jars fetch --set delta     # one set
    lakeforge jars fetch --update-lock   # after changing a pom: re-pin
    lakeforge jars path delta            # a set's jars, comma-separated (spark-submit --jars)

(``python -m lakeforge.jars ...`` is the same command.)
"""

from __future__ import annotations

import contextlib
import fcntl
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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from lakeforge.errors import ConfigError, LakeforgeError

log = logging.getLogger(__name__)

FETCH_COMMAND = "make jars"
LOCK_NAME = "jars.lock.json"
VERIFIED_NAME = ".verified.json"  # per set folder: the sha256 verdicts (see the module doc)
FETCH_LOCK_NAME = ".fetch.lock"  # per line folder: held by a fetch
MAVEN_LOG_NAME = "maven.log"  # per line folder: the last failed Maven run's whole output


class JarSetMissingError(ConfigError):
    """A jar set a session asks for is not fetched (or not complete) on this machine."""


class JarFetchError(LakeforgeError, RuntimeError):
    """Maven failed, or the fetched jars do not match the lock."""


class JarLockError(ConfigError):
    """jvm/<line>/jars.lock.json is not a lock ``--update-lock`` writes (edited by hand)."""


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
            at = key if key.startswith("--") else f"{key}[{i}]"  # a command-line option
            raise ConfigError(f"{source}: {at} is {name!r}; {_known_sets_text(line, known)}")


_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_LOCKED_FIELDS = ("coordinate", "file", "sha256", "size")


def read_lock(line: str) -> dict[str, list[LockedJar]]:
    """The line's lock: set -> its jars; ``{}`` when the line has no lock yet.

    Raises JarLockError (one line naming the file and the entry) for anything
    :func:`write_lock` does not write: invalid JSON, another line's lock, a missing or unknown
    field, a sha256 that is not 64 hex digits, a size that is not a positive integer, a file
    name with a folder in it, a jar listed twice in a set.
    """
    path = jvm_dir() / line / LOCK_NAME
    if not path.is_file():
        return {}
    fix = (f"restore it (git checkout -- {path}) or re-pin with `lakeforge jars fetch "
           f"--line {line} --update-lock`")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise JarLockError(f"{path}: not valid JSON ({exc}); {fix}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("sets"), dict):
        raise JarLockError(f"{path}: must be a JSON object with a 'sets' object; {fix}")
    if data.get("line", line) != line:
        raise JarLockError(f"{path}: is the lock of {data['line']!r}, not of {line}; {fix}")
    out: dict[str, list[LockedJar]] = {}
    for name, entries in data["sets"].items():
        where = f"{path}: sets.{name}"
        if not isinstance(entries, list) or not entries:
            raise JarLockError(f"{where} must be a non-empty list of jars; {fix}")
        jars: list[LockedJar] = []
        for i, entry in enumerate(entries):
            at = f"{where}[{i}]"
            if not isinstance(entry, dict) or set(entry) != set(_LOCKED_FIELDS):
                got = sorted(entry) if isinstance(entry, dict) else type(entry).__name__
                raise JarLockError(f"{at} must have exactly the fields "
                                   f"{', '.join(_LOCKED_FIELDS)} (got {got}); {fix}")
            jar = LockedJar(**entry)
            if not isinstance(jar.sha256, str) or not _SHA256.match(jar.sha256):
                raise JarLockError(f"{at}.sha256 is {jar.sha256!r}, not 64 lower-case hex "
                                   f"digits; {fix}")
            if type(jar.size) is not int or jar.size <= 0:
                raise JarLockError(f"{at}.size is {jar.size!r}, not a positive integer; {fix}")
            if (not isinstance(jar.file, str) or not jar.file.endswith(".jar")
                    or Path(jar.file).name != jar.file):
                raise JarLockError(f"{at}.file is {jar.file!r}, not a jar file name; {fix}")
            if not isinstance(jar.coordinate, str):
                raise JarLockError(f"{at}.coordinate is {jar.coordinate!r}, not a string; {fix}")
            if any(j.file == jar.file for j in jars):
                raise JarLockError(f"{at}.file {jar.file} is listed twice in the set; {fix}")
            jars.append(jar)
        out[name] = jars
    return out


def write_lock(line: str, sets: dict[str, list[LockedJar]]) -> Path:
    path = jvm_dir() / line / LOCK_NAME
    body = {
        "line": line,
        "note": f"written by `python -m lakeforge.jars fetch --update-lock`; checked by "
                f"`{FETCH_COMMAND}`",
        "sets": {name: [vars(jar) for jar in sorted(jars, key=lambda j: j.file)]
                 for name, jars in sorted(sets.items())},
    }
    from lakeforge.io import write_text

    write_text(str(path), json.dumps(body, indent=2) + "\n")  # whole or not at all
    return path


def set_jars(name: str, line: str | None = None) -> list[str]:
    """The jar files of one fetched set, checked against the lock by name, size and sha256.

    Raises JarSetMissingError (one line, naming ``make jars``) when the folder is missing or
    differs from the lock. The sha256 of a jar is computed once and its verdict kept in the set
    folder (:func:`verified_sha256`): a session start stats the jars and hashes only a file that
    changed since. A set the line has no pom for (``deequ`` on spark-4.1) is named with the
    line's known sets instead: ``make jars`` cannot fetch it.
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
    for jar, jar_path in zip(locked, paths, strict=True):
        if verified_sha256(Path(jar_path)) != jar.sha256:
            raise JarSetMissingError(
                f"jar set {name!r} for {line}: {jar_path} is not the jar {LOCK_NAME} pins (its "
                f"sha256 differs: changed or corrupt); run `{FETCH_COMMAND}` to fetch it again")
    return paths


def _stat_key(path: Path) -> list[int]:
    """What changes when a file's bytes change: size, mtime, ctime (set by the kernel on every
    write, rename or touch), inode (a file replaced by another)."""
    st = path.stat()
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def verified_sha256(path: Path, rehash: bool = False) -> str:
    """The sha256 of a jar, from its folder's ``.verified.json`` while the file's stat key
    (:func:`_stat_key`) is the one recorded with it; hashed (and recorded) otherwise or with
    ``rehash``. A folder that cannot be written (a read-only install) only loses the record."""
    record_path = path.parent / VERIFIED_NAME
    key = _stat_key(path)
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        if not isinstance(record, dict):
            record = {}
    except (OSError, ValueError):
        record = {}
    entry = record.get(path.name)
    if (not rehash and isinstance(entry, dict) and entry.get("stat") == key
            and isinstance(entry.get("sha256"), str)):
        return str(entry["sha256"])
    digest = sha256_of(path)
    if _stat_key(path) != key:  # written while hashed: no verdict to keep
        return digest
    record[path.name] = {"stat": key, "sha256": digest}
    from lakeforge.io import write_text

    try:
        write_text(str(record_path), json.dumps(record, indent=1, sort_keys=True) + "\n")
    except OSError as exc:
        log.debug("cannot record the sha256 of %s in %s: %s", path, record_path, exc)
    return digest


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
               and verified_sha256(folder / jar.file, rehash=True) == jar.sha256
               for jar in locked)


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
    pom = jvm_dir() / line / "pom.xml"
    cmd = [mvn, "-B", "-q", "-Dstyle.color=never", "--strict-checksums", "-f", str(pom),
           "-pl", ",".join(sets), f"-Djars.dir={target}",
           "dependency:copy-dependencies", "dependency:list"]
    log.info("fetching jar sets %s for %s with Maven", ", ".join(sets), line)
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        output = done.stdout + done.stderr
        maven_log = target / MAVEN_LOG_NAME
        maven_log.write_text(f"$ {' '.join(cmd)}\n{output}", encoding="utf-8")
        raise JarFetchError(f"Maven failed fetching jar set(s) {', '.join(sets)} for {line} "
                            f"({pom}): {maven_error(output)} (whole output: {maven_log})")


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def maven_error(output: str) -> str:
    """The line that says why Maven failed: its first ``[ERROR]`` line with text (naming the
    artifact and the repository it could not reach), without colours and ``-> [Help 1]``."""
    lines = [_ANSI.sub("", raw).strip() for raw in output.splitlines()]
    for text in lines:
        if text.startswith("[ERROR]") and text.removeprefix("[ERROR]").strip():
            return re.sub(r"\s*-> \[Help \d+\]$", "", text.removeprefix("[ERROR]").strip())
    return next((text for text in reversed(lines) if text), "no output")


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
    check_set_names(wanted, "jars fetch", line, key="--set")
    target = jars_dir() / line
    with _fetch_lock(target):
        return _fetch_locked(line, wanted, target, update_lock, every_set=not sets)


@contextlib.contextmanager
def _fetch_lock(target: Path) -> Iterator[None]:
    """Hold ``<target>/.fetch.lock``: a concurrent fetch of the line waits here, then reads
    what the first one fetched instead of emptying the folders under it."""
    target.mkdir(parents=True, exist_ok=True)
    with (target / FETCH_LOCK_NAME).open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.warning("another fetch of %s holds %s: waiting for it", target.name,
                        target / FETCH_LOCK_NAME)
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _fetch_locked(line: str, wanted: list[str], target: Path, update_lock: bool,
                  every_set: bool) -> dict[str, str]:
    try:
        lock = read_lock(line)
    except JarLockError as exc:
        if not (update_lock and every_set):
            raise
        log.warning("%s; --update-lock re-pins every set", exc)
        lock = {}
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
                                  verified_sha256(path, rehash=True), path.stat().st_size))
        if not jars:
            raise JarFetchError(f"jar set {name!r}: Maven copied no jar into {folder}")
        if name in lock and not update_lock:
            mismatch = _lock_mismatch(lock[name], jars)
            if mismatch:
                shutil.rmtree(folder, ignore_errors=True)
                raise JarFetchError(f"jar set {name!r} for {line} does not match {LOCK_NAME} "
                                    f"({mismatch})")
            outcome[name] = "fetched, matches the lock"
        else:
            new_lock[name] = jars
            outcome[name] = "fetched, lock written"
    if new_lock != lock:
        write_lock(line, new_lock)
    return outcome


def _lock_mismatch(locked: list[LockedJar], fetched: list[LockedJar]) -> str:
    """How the jars Maven copied differ from the lock, and what to do; "" when they match.

    Other bytes under a pinned file name with the pom unchanged come from Maven's local
    repository (a corrupt or replaced copy, a mirror serving other bytes): re-pinning them
    would lock the wrong jar, so the message says to delete the copy there first."""
    want = {j.file: j.sha256 for j in locked}
    got = {j.file: j.sha256 for j in fetched}
    changed = sorted(f for f in want.keys() & got.keys() if want[f] != got[f])
    parts = [f"{label}: {', '.join(files)}" for label, files in (
        ("sha256 differs", changed), ("not in the lock", sorted(got.keys() - want.keys())),
        ("locked but not copied", sorted(want.keys() - got.keys()))) if files]
    if not parts:
        return ""
    hint = ("; with the pom unchanged, Maven's local repository (~/.m2/repository unless "
            "settings.xml moves it) holds other bytes for the pinned artifacts: delete them "
            "there and fetch again" if changed else "")
    return (f"{'; '.join(parts)}{hint}; if the pom changed on purpose, run `lakeforge jars "
            "fetch --update-lock` and commit the lock")


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
