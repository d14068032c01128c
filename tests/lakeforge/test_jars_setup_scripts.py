"""The machine setup scripts that ``make`` runs before Spark or the jar tier: scripts/ensure_java.sh
and scripts/ensure_chromium.sh, shellcheck clean, and each failure one line naming what to do.

The Java checks run the real JDKs under /usr/lib/jvm (skipped where the one a test needs is not
installed). ``apt-get`` is a stand-in wherever a test reaches it: a real one would install
packages on this machine or need the network, so the stand-in records its call or fails as
apt-get does offline; ``sudo`` runs its command as is (for a user who is not root)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ENSURE_JAVA = REPO / "scripts" / "ensure_java.sh"
ENSURE_CHROMIUM = REPO / "scripts" / "ensure_chromium.sh"
JVM_ROOT = Path("/usr/lib/jvm")
BASH = shutil.which("bash") or "/bin/bash"


def _java_major(home: Path) -> int | None:
    """The major version ``home/bin/java -version`` reports (what the script parses, read here
    independently), or None."""
    java = home / "bin" / "java"
    if not java.is_file():
        return None
    out = subprocess.run([str(java), "-version"], capture_output=True, text=True,
                         timeout=60).stderr
    version = out.split('"')[1] if '"' in out else ""
    version = version.removeprefix("1.")
    digits = version.split(".")[0].split("-")[0].split("+")[0].split("_")[0]
    return int(digits) if digits.isdigit() else None


def _jdks() -> dict[Path, int]:
    found = {}
    for home in sorted(JVM_ROOT.glob("*")) if JVM_ROOT.is_dir() else []:
        major = _java_major(home)
        if major is not None:
            found[home] = major
    return found


JDKS = _jdks()
NEWER = next((h for h, m in JDKS.items() if m >= 23), None)  # Hadoop 3.3 fails there
IN_RANGE = [h for h, m in JDKS.items() if 17 <= m <= 22]

APT_OFFLINE = """#!/bin/sh
echo "apt-get $*" >> "{calls}"
echo "W: Failed to fetch http://deb.debian.org/debian/dists/bookworm/InRelease" >&2
echo "W: Temporary failure resolving 'deb.debian.org'" >&2
exit 100
"""


def _bare_path(tmp_path: Path) -> tuple[Path, Path]:
    """A PATH holding only what the scripts call besides java and chromium (the real sed,
    head, id, env), the apt-get stand-in that fails as offline (and records its
    calls) and a pass-through sudo."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("sed", "head", "id", "env"):
        real = shutil.which(tool)
        assert real, f"{tool} is not installed"
        (bin_dir / tool).symlink_to(real)
    calls = tmp_path / "apt-calls.txt"
    apt = bin_dir / "apt-get"
    apt.write_text(APT_OFFLINE.format(calls=calls))
    sudo = bin_dir / "sudo"
    sudo.write_text('#!/bin/sh\nexec "$@"\n')
    for stub in (apt, sudo):
        stub.chmod(0o755)
    return bin_dir, calls


def _run(script: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([BASH, str(script)], env=env, capture_output=True, text=True,
                          timeout=120)


def test_setup_scripts_pass_shellcheck() -> None:
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is missing: `make tools` installs it (apt-get)"
    scripts = sorted(str(p) for p in (REPO / "scripts").glob("*.sh")) + [
        str(REPO / "emr" / "bootstrap.sh")]
    done = subprocess.run([shellcheck, "--severity=style", *scripts], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout


@pytest.mark.skipif(NEWER is None or not IN_RANGE,
                    reason="needs a JDK 23+ and a JDK 17-22 under /usr/lib/jvm")
def test_ensure_java_refuses_a_jdk_newer_than_22_in_one_line_naming_a_jdk_17_to_22_here() -> None:
    """Java 25 (the machine's second JDK) stops pyspark 3.5's SparkContext ("getSubject is not
    supported", Hadoop 3.3.4): the script refused it only below 17."""
    env = {**os.environ, "JAVA_HOME": str(NEWER)}
    done = _run(ENSURE_JAVA, env)
    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert line.startswith(f"error: {NEWER}/bin/java is Java {JDKS[NEWER]} (")
    assert "Spark here needs Java 17 to 22 (from Java 23 Hadoop's client fails with " \
           "'getSubject is not supported')" in line
    suggested = Path(line.rsplit("export JAVA_HOME=", 1)[1])
    assert suggested in IN_RANGE
    # the JDK it names passes
    assert _run(ENSURE_JAVA, {**os.environ, "JAVA_HOME": str(suggested)}).returncode == 0


@pytest.mark.skipif(not IN_RANGE, reason="needs a JDK 17-22 under /usr/lib/jvm")
def test_ensure_java_without_java_on_the_path_names_the_installed_jdk_and_runs_no_apt_get(
        tmp_path: Path) -> None:
    """JDK 17 installed but neither on the PATH nor in JAVA_HOME: installing it again with
    apt-get (as the script did) would not make Spark find it; the script names it instead."""
    bin_dir, calls = _bare_path(tmp_path)
    done = _run(ENSURE_JAVA, {"PATH": str(bin_dir)})
    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert line.startswith("error: no java on the PATH and JAVA_HOME is not set; ")
    assert Path(line.rsplit("export JAVA_HOME=", 1)[1]) in IN_RANGE
    assert not calls.exists()


def test_ensure_java_with_no_jdk_and_apt_get_offline_ends_with_one_line_naming_the_package(
        tmp_path: Path) -> None:
    """No java anywhere (an empty $LAKEFORGE_JVM_ROOT) and apt-get failing as it does offline
    (the stand-in): the script ended with apt-get's exit code and no line of its own."""
    bin_dir, calls = _bare_path(tmp_path)
    empty = tmp_path / "jvm"
    empty.mkdir()
    done = _run(ENSURE_JAVA, {"PATH": str(bin_dir), "LAKEFORGE_JVM_ROOT": str(empty)})
    assert done.returncode == 1
    assert calls.read_text().splitlines() == ["apt-get update -qq"]
    assert done.stderr.splitlines()[-1] == (
        "error: apt-get could not install openjdk-17-jre-headless (no network, or no apt "
        "source carries it; apt-get's messages are above); install OpenJDK 17 (e.g. apt-get "
        "install openjdk-17-jre-headless) and put it first on the PATH or point JAVA_HOME at it")


def test_ensure_chromium_with_lakeforge_chromium_naming_a_missing_file_fails_without_apt_get(
        tmp_path: Path) -> None:
    """The script installed Debian's chromium (at /usr/bin/chromium, the apt-get stand-in here)
    and then failed running the missing $LAKEFORGE_CHROMIUM."""
    bin_dir, calls = _bare_path(tmp_path)
    missing = tmp_path / "no-chromium"
    done = _run(ENSURE_CHROMIUM, {"PATH": str(bin_dir), "LAKEFORGE_CHROMIUM": str(missing)})
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"error: LAKEFORGE_CHROMIUM={missing} is not an executable file; point it at a "
        "chromium or unset it to install Debian's (/usr/bin/chromium)"]
    assert not calls.exists()


@pytest.mark.skipif(Path("/usr/bin/chromium").exists(),
                    reason="/usr/bin/chromium is installed: the script has nothing to install")
def test_ensure_chromium_with_apt_get_offline_ends_with_one_line_naming_chromium(
        tmp_path: Path) -> None:
    """apt-get failing as it does offline (the stand-in): the script ended with apt-get's exit
    code and no line of its own."""
    bin_dir, calls = _bare_path(tmp_path)
    done = _run(ENSURE_CHROMIUM, {"PATH": str(bin_dir)})
    assert done.returncode == 1
    assert calls.read_text().splitlines() == ["apt-get update -qq"]
    assert done.stderr.splitlines()[-1] == (
        "error: apt-get could not install chromium (no network, or no apt source carries it; "
        "apt-get's messages are above); install chromium at /usr/bin/chromium and retry")
