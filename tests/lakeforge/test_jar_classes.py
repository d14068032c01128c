"""One version of each library on a session's classpath: a class that two jars of the installed
Spark line carry, where both are loaded together, must come from the same version of its library.

A session's JVM holds pyspark's own jars (``pyspark/jars``, the parent class loader, so they win)
and the jar sets its env names (``spark.jars``, in the order of ``spark.jar_sets``). A class in two
of them is loaded from whichever comes first, and the rest of its library from wherever each
class is: two versions of one library on one classpath mix silently (docs/formats.md, "One
version of each library on a classpath").

A class two jars carry passes when both copies are the same bytes (the CRC-32 and size in the zip
index), or when both jars say they carry the same version of its library: a jar's own Maven
coordinate (the lock's, or for pyspark's jars their ``pom.properties``) and the versions a bundle
lists under ``META-INF/maven/<group>/<artifact>/pom.properties``. A shaded bundle rewrites the
constant pool of the classes it copies, so the same version often differs in bytes. Anything
else fails unless :data:`ALLOWED` names the overlap and says why it is harmless.

Reads the jars' zip indexes and their small ``pom.properties`` files only, never a class: the
~330 jars of a line in a few seconds. Runs on the installed line (``lakeforge.jars.spark_line()``);
skips when its sets are not fetched, except under ``make test`` (``LAKEFORGE_REQUIRE_JARS=1``),
where a missing set fails."""

from __future__ import annotations

import functools
import itertools
import os
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from lakeforge import jars

LINE = jars.spark_line()

# Sets that never share a JVM with the line's other sets; each is checked with pyspark's jars
# alone. deequ-dqdl (Deequ 2.1.0) runs in a JVM of its own for the DQDL differential
# (tests/quality/test_dqdl_differential.py), away from the `deequ` set's Deequ 2.0.7.
OWN_JVM_SETS = frozenset({"deequ-dqdl"})

# Overlaps the versions cannot clear, each checked by hand and harmless:
# (line, artifact of one jar, artifact of the other; in either order) -> why.
ALLOWED: dict[tuple[str, str, str], str] = {
    ("spark-4.1", "iceberg-aws-bundle", "reactive-streams"):
        "the bundle's 13 org/reactivestreams classes have no pom.properties; they are those of "
        "reactive-streams 1.0.4 (the version SDK 2.54.17 depends on, the s3a set's jar): javap "
        "-c shows the same code, only the constant-pool numbering differs",
    # Iceberg 1.9.2's bundle copies logging and codec libraries unshaded (apache/iceberg#14207,
    # fixed from 1.10.1 by apache/iceberg#14225). They cannot be excluded from a shaded jar;
    # pyspark's copies are on the parent class loader and win for every class both carry, so
    # the bundle only adds the classes pyspark's versions lack. Gone with Iceberg >= 1.10.1.
    ("spark-3.5", "iceberg-aws-bundle", "commons-codec"):
        "the bundle carries commons-codec 1.17.1, pyspark 1.16.1 (pyspark's classes win)",
    ("spark-3.5", "iceberg-aws-bundle", "commons-logging"):
        "the bundle carries commons-logging 1.2, pyspark 1.1.3 (pyspark's classes win)",
    ("spark-3.5", "iceberg-aws-bundle", "jcl-over-slf4j"):
        "the bundle's commons-logging 1.2 and pyspark's jcl-over-slf4j 2.0.7 share 5 class "
        "names (pyspark's classes win: commons-logging goes to SLF4J, as in Spark itself)",
    ("spark-3.5", "iceberg-aws-bundle", "log4j-slf4j2-impl"):
        "the bundle's log4j-slf4j-impl 2.20.0 (SLF4J 1 binding) and pyspark's "
        "log4j-slf4j2-impl 2.20.0 share 7 class names (pyspark's classes win; SLF4J 2 only "
        "looks for its own provider)",
    ("spark-3.5", "iceberg-spark-runtime", "annotations"):
        "39 org.jetbrains.annotations classes (compile-time annotations, no pom.properties in "
        "the runtime) against pyspark's org.jetbrains:annotations 17.0.0; never loaded to run",
}


@dataclass(frozen=True)
class JarIndex:
    """What one jar says about itself, read from its zip index."""

    name: str  # "<set>/<file>", or "pyspark/<file>"
    own: str  # group:artifact of the library the jar is ("" when it does not say)
    versions: dict[str, str]  # group:artifact -> version: its own and every bundled one
    classes: dict[str, tuple[int, int]] = field(repr=False)  # class entry -> (CRC-32, size)


@dataclass(frozen=True)
class Overlap:
    """The classes two jars both carry with different bytes, and what their versions say."""

    first: str
    second: str
    classes: int
    example: str
    verdict: str  # "same version", "different versions" or "version unknown"
    versions: str  # e.g. "software.amazon.awssdk:s3 2.54.17 / 2.54.17"

    def text(self) -> str:
        return (f"{self.first} <-> {self.second}: {self.classes} classes differ "
                f"({self.verdict}: {self.versions}; e.g. {self.example})")


def _pom_properties(raw: bytes) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in raw.decode("utf-8", "replace").splitlines()
             if "=" in line and not line.startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


def index_jar(path: Path, name: str, coordinate: str = "") -> JarIndex:
    """Index one jar. ``coordinate`` (group:artifact:version, from the lock) names the library
    the jar is; without it, the ``pom.properties`` whose artifactId is the file's artifact name.
    Multi-release copies (``META-INF/versions/``) and ``module-info`` are left out."""
    classes: dict[str, tuple[int, int]] = {}
    versions: dict[str, str] = {}
    with zipfile.ZipFile(path) as jar:
        for info in jar.infolist():
            entry = info.filename
            if entry.endswith(".class"):
                if not entry.startswith("META-INF/") and not entry.endswith("module-info.class"):
                    classes[entry] = (info.CRC, info.file_size)
            elif entry.startswith("META-INF/maven/") and entry.endswith("/pom.properties"):
                props = _pom_properties(jar.read(info))
                if {"groupId", "artifactId", "version"} <= props.keys():
                    versions[f"{props['groupId']}:{props['artifactId']}"] = props["version"]
    own = ""
    if coordinate.count(":") == 2:
        group, artifact, version = coordinate.split(":")
        own = f"{group}:{artifact}"
        versions[own] = version
    else:
        artifact = jars.artifact_name(path.name)
        own = next((key for key in versions if key.split(":")[1] == artifact), "")
    return JarIndex(name, own, versions, classes)


def find_overlaps(indexes: list[JarIndex]) -> list[Overlap]:
    """Every pair of jars whose common classes differ in bytes, with the versions' verdict:
    the pair's own libraries are looked up in both jars; one carried at two versions is
    ``different versions``, one at the same version ``same version``, none ``version unknown``."""
    owners: dict[str, list[JarIndex]] = defaultdict(list)
    for index in indexes:
        for entry in index.classes:
            owners[entry].append(index)
    differing: dict[tuple[str, str], list[str]] = defaultdict(list)
    by_name = {index.name: index for index in indexes}
    for entry, holders in owners.items():
        for a, b in itertools.combinations(holders, 2):
            if a.classes[entry] != b.classes[entry]:
                pair = (a.name, b.name) if a.name < b.name else (b.name, a.name)
                differing[pair].append(entry)
    overlaps = []
    for (first, second), entries in sorted(differing.items()):
        a, b = by_name[first], by_name[second]
        same, different = [], []
        for library in sorted({a.own, b.own} - {""}):
            va, vb = a.versions.get(library), b.versions.get(library)
            if va and vb:
                (same if va == vb else different).append(f"{library} {va} / {vb}")
        if different:
            verdict, versions = "different versions", "; ".join(different)
        elif same:
            verdict, versions = "same version", "; ".join(same)
        else:
            verdict = "version unknown"
            versions = " / ".join(f"{x.name} is {x.own or 'unnamed'}" for x in (a, b))
        overlaps.append(Overlap(first, second, len(entries), min(entries), verdict, versions))
    return overlaps


def allowed_reason(overlap: Overlap, line: str) -> str | None:
    a = jars.artifact_name(Path(overlap.first).name)
    b = jars.artifact_name(Path(overlap.second).name)
    return ALLOWED.get((line, a, b)) or ALLOWED.get((line, b, a))


def _pyspark_jars() -> list[Path]:
    import pyspark

    return sorted((Path(pyspark.__file__).parent / "jars").glob("*.jar"))


def _line_groups() -> list[list[str]]:
    """The line's sets as they share JVMs: all but the own-JVM sets together, then each of
    those alone (each group with pyspark's jars)."""
    sets = jars.available_sets(LINE)
    together = [name for name in sets if name not in OWN_JVM_SETS]
    return [together, *([name] for name in sets if name in OWN_JVM_SETS)]


def _fetched_indexes(sets: list[str]) -> list[JarIndex]:
    lock = jars.read_lock(LINE)
    try:
        paths = {name: jars.set_jars(name, LINE) for name in sets}
    except jars.JarSetMissingError as exc:
        if os.environ.get("LAKEFORGE_REQUIRE_JARS") == "1":
            pytest.fail(f"LAKEFORGE_REQUIRE_JARS=1 but {exc}", pytrace=False)
        pytest.skip(f"jar sets of {LINE} not fetched: {exc}")
    coordinates = {jar.file: jar.coordinate for name in sets for jar in lock[name]}
    indexes = [_index_once(path, f"pyspark/{path.name}") for path in _pyspark_jars()]
    for name in sets:
        for path in map(Path, paths[name]):
            indexes.append(_index_once(path, f"{name}/{path.name}", coordinates[path.name]))
    return indexes


# Each jar once per run: pyspark's jars are in every group, and the largest index (3.5's
# aws-java-sdk-bundle, 128k classes) takes ~2 s to read.
_index_once = functools.cache(index_jar)


def _is_pyspark_pair(overlap: Overlap) -> bool:
    # Spark ships these together (e.g. the same shaded protobuf in orc-core, orc-format and
    # orc-mapreduce); Lakeforge does not choose pyspark's jars.
    return overlap.first.startswith("pyspark/") and overlap.second.startswith("pyspark/")


@pytest.mark.jars
@pytest.mark.parametrize("sets", _line_groups(), ids="+".join)
def test_no_class_of_a_session_comes_from_two_versions_of_its_library(sets: list[str]) -> None:
    overlaps = [o for o in find_overlaps(_fetched_indexes(sets)) if not _is_pyspark_pair(o)]
    bad = [o.text() for o in overlaps
           if o.verdict != "same version" and allowed_reason(o, LINE) is None]
    assert not bad, (f"{LINE}, sets {'+'.join(sets)} with pyspark's jars: classes carried by "
                     "two jars at two (or unknown) versions; pin one version in the set's pom, "
                     "or add the overlap to ALLOWED with why it is harmless:\n" + "\n".join(bad))


@pytest.mark.jars
def test_every_allowed_overlap_of_the_line_still_exists() -> None:
    """An entry of ALLOWED that no longer matches an overlap (a pom moved on) is stale."""
    found = set()
    for sets in _line_groups():
        for overlap in find_overlaps(_fetched_indexes(sets)):
            a = jars.artifact_name(Path(overlap.first).name)
            b = jars.artifact_name(Path(overlap.second).name)
            found |= {(a, b), (b, a)}
    stale = [key for key in ALLOWED if key[0] == LINE and key[1:] not in found]
    assert not stale, f"ALLOWED entries with no overlap on {LINE}: {stale}"


# ------------------------------------------------------------------ the check itself, no jars


def _jar(path: Path, classes: dict[str, bytes], poms: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as jar:
        for entry, body in classes.items():
            jar.writestr(entry, body)
        for key, version in (poms or {}).items():
            group, artifact = key.split(":")
            jar.writestr(f"META-INF/maven/{group}/{artifact}/pom.properties",
                         f"#by hand\ngroupId={group}\nartifactId={artifact}\nversion={version}\n")
    return path


def _two_jars(tmp_path: Path, bundled: str | None, body: bytes = b"v2") -> list[Overlap]:
    """lib-1.jar (g:lib:1, class p/A) beside a bundle carrying p/A with ``body``."""
    thin = _jar(tmp_path / "lib-1.jar", {"p/A.class": b"v1", "p/B.class": b"b"})
    poms = {"g:bundle": "9", **({"g:lib": bundled} if bundled else {})}
    bundle = _jar(tmp_path / "bundle-9.jar", {"p/A.class": body, "q/C.class": b"c"}, poms)
    return find_overlaps([index_jar(thin, "s/lib-1.jar", "g:lib:1"),
                          index_jar(bundle, "t/bundle-9.jar", "g:bundle:9")])


def test_a_class_from_two_versions_of_its_library_is_reported(tmp_path: Path) -> None:
    [overlap] = _two_jars(tmp_path, bundled="2")
    assert (overlap.first, overlap.second, overlap.classes) == ("s/lib-1.jar", "t/bundle-9.jar", 1)
    assert (overlap.verdict, overlap.versions) == ("different versions", "g:lib 1 / 2")
    assert overlap.example == "p/A.class"


def test_a_bundle_that_does_not_name_the_version_is_reported_as_unknown(tmp_path: Path) -> None:
    [overlap] = _two_jars(tmp_path, bundled=None)
    assert overlap.verdict == "version unknown"
    assert allowed_reason(overlap, "spark-9.9") is None


def test_the_same_version_in_other_bytes_passes_and_same_bytes_are_no_overlap(
        tmp_path: Path) -> None:
    [overlap] = _two_jars(tmp_path, bundled="1")
    assert (overlap.verdict, overlap.versions) == ("same version", "g:lib 1 / 1")
    assert _two_jars(tmp_path, bundled=None, body=b"v1") == []


def test_pyspark_jars_are_named_by_their_own_pom_properties(tmp_path: Path) -> None:
    path = _jar(tmp_path / "jts-core-1.20.0.jar", {"org/J.class": b"j"},
                {"org.locationtech.jts:jts-core": "1.20.0", "other:dep": "3"})
    index = index_jar(path, "pyspark/jts-core-1.20.0.jar")
    assert index.own == "org.locationtech.jts:jts-core"
    assert index.versions == {"org.locationtech.jts:jts-core": "1.20.0", "other:dep": "3"}
