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


def test_ensure_chromium_with_apt_get_offline_ends_with_one_line_naming_chromium(
        tmp_path: Path) -> None:
    """apt-get failing as it does offline (the stand-in): the script ended with apt-get's exit
    code and no line of its own. Debian's path is pointed at a missing file
    ($LAKEFORGE_CHROMIUM_DEFAULT), so this runs where chromium is installed (make test)."""
    bin_dir, calls = _bare_path(tmp_path)
    default = tmp_path / "usr-bin-chromium"
    done = _run(ENSURE_CHROMIUM, {"PATH": str(bin_dir), "LAKEFORGE_CHROMIUM_DEFAULT": str(default)})
    assert done.returncode == 1
    assert calls.read_text().splitlines() == ["apt-get update -qq"]
    assert done.stderr.splitlines()[-1] == (
        "error: apt-get could not install chromium (no network, or no apt source carries it; "
        f"apt-get's messages are above); install chromium at {default} and retry")


INSTALL_VENV = REPO / "scripts" / "install_venv.sh"
PYENV = Path.home() / ".pyenv" / "versions"
PY311 = next(iter(sorted(PYENV.glob("3.11*/bin/python3.11"))), None)
PY312 = next(iter(sorted(PYENV.glob("3.12*/bin/python3.12"))), None)


def _venv_version(venv: Path) -> str:
    return next(line.split("=", 1)[1].strip() for line in
                (venv / "pyvenv.cfg").read_text().splitlines() if line.startswith("version"))


def _install_offline(venv: Path, python: Path) -> subprocess.CompletedProcess[str]:
    """install_venv.sh with pip and no index: pip then fails (nothing to install from, so no
    download); what these tests check is the venv the script made or kept before pip."""
    env = {**os.environ, "LAKEFORGE_INSTALLER": "pip", "PIP_NO_INDEX": "1",
           "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    return subprocess.run([BASH, str(INSTALL_VENV), str(venv), str(python), "six"], env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.skipif(PY311 is None or PY312 is None,
                    reason="needs pyenv's Python 3.11 and 3.12 (two real interpreters)")
def test_install_venv_recreates_a_venv_of_another_python_and_one_whose_python_is_gone(
        tmp_path: Path) -> None:
    """Two real Pythons. The script reused any venv whose bin/python was executable: one made
    by another PYTHON kept that Python; one whose base Python was removed (dangling links, as
    after a pyenv upgrade) failed inside `python -m venv` / pip with 'No such
    file or directory'."""
    assert PY311 is not None and PY312 is not None
    venv = tmp_path / "venv"
    subprocess.run([str(PY311), "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    assert _venv_version(venv).startswith("3.11")
    done = _install_offline(venv, PY312)
    assert f"install_venv: {venv} is Python 3.11, {PY312} is 3.12: recreating it" in \
        done.stderr.splitlines()
    assert _venv_version(venv).startswith("3.12")
    # the base Python gone: the venv's links to it dangle
    for link in (venv / "bin").glob("python*"):
        if link.is_symlink() and Path(os.readlink(link)).is_absolute():
            link.unlink()
            link.symlink_to(tmp_path / "removed" / link.name)
    assert not (venv / "bin" / "python").exists()
    done = _install_offline(venv, PY312)
    assert (f"install_venv: {venv} is Python broken (its python does not run), {PY312} is "
            "3.12: recreating it") in done.stderr.splitlines()
    ran = subprocess.run([str(venv / "bin" / "python"), "-c", "import sys; print(sys.prefix)"],
                         capture_output=True, text=True, timeout=60)
    assert ran.stdout.strip() == str(venv)
    # the same PYTHON again: kept as it is
    marker = venv / "kept"
    marker.write_text("")
    done = _install_offline(venv, PY312)
    assert "recreating" not in done.stderr and marker.exists()


def test_install_venv_with_a_python_that_does_not_run_fails_in_one_line(tmp_path: Path) -> None:
    done = _install_offline(tmp_path / "venv", tmp_path / "no-python3.99")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"error: install_venv: PYTHON={tmp_path / 'no-python3.99'} does not run; install it or "
        "pass another PYTHON"]
    assert not (tmp_path / "venv").exists()
