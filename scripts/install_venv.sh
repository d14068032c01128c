#!/usr/bin/env bash
# Make (or reuse) a virtualenv and install packages into it: scripts/install_venv.sh VENV PYTHON
# PIP-ARGS...  (e.g. .venv python3 -e '.[dev]'). Used by the Makefile for .venv, .venv-spark4 and
# .venv-airflow.
#
# The installer is uv (`uv pip install`, the same requirement syntax and resolution as pip's,
# its downloads in parallel): on a machine with no download cache it installs .venv's
# requirements in about a quarter of pip's time (docs/benchmarks.md, "Setting up the venvs").
# uv itself comes from PyPI into the venv, pinned to UV_SPEC. When uv cannot be installed (a
# platform without its wheels, an index that does not carry it), or LAKEFORGE_INSTALLER=pip
# asks for it, pip does the same install.
set -euo pipefail

if [ "$#" -lt 3 ]; then
    echo "usage: $0 VENV PYTHON PIP-ARGS..." >&2
    exit 2
fi
venv=$1
python=$2
shift 2
UV_SPEC=${UV_SPEC:-"uv>=0.9,<1"}

# A venv is reused only when its python runs and is PYTHON's major.minor: one whose base Python
# was removed or upgraded (pyenv, brew) has a dangling bin/python, and one made by another
# PYTHON (.venv-spark4 made on python3 before the machine had 3.13) would silently keep it.
version='import sys; print("%d.%d" % sys.version_info[:2])'
if ! want="$("$python" -c "$version" 2>/dev/null)"; then
    echo "error: install_venv: PYTHON=$python does not run; install it or pass another PYTHON" >&2
    exit 1
fi
if [ ! -e "$venv" ]; then
    "$python" -m venv "$venv"
else
    have="$("$venv/bin/python" -c "$version" 2>/dev/null || echo "broken (its python does not run)")"
    if [ "$have" != "$want" ]; then
        echo "install_venv: $venv is Python $have, $python is $want: recreating it" >&2
        "$python" -m venv --clear "$venv"
    fi
fi
py=$venv/bin/python

if [ "${LAKEFORGE_INSTALLER:-uv}" != pip ] && { [ -x "$venv/bin/uv" ] || \
        "$py" -m pip install --quiet --disable-pip-version-check "$UV_SPEC"; }; then
    # uv reads neither pip.conf nor PIP_* variables: pip's index, extra index, local wheel
    # folder and CA bundle given in the environment are handed over (UV_* set already win).
    [ -n "${PIP_INDEX_URL:-}" ] && export UV_INDEX_URL=${UV_INDEX_URL:-$PIP_INDEX_URL}
    [ -n "${PIP_EXTRA_INDEX_URL:-}" ] && \
        export UV_EXTRA_INDEX_URL=${UV_EXTRA_INDEX_URL:-$PIP_EXTRA_INDEX_URL}
    [ -n "${PIP_FIND_LINKS:-}" ] && export UV_FIND_LINKS=${UV_FIND_LINKS:-$PIP_FIND_LINKS}
    [ -n "${PIP_CERT:-}" ] && export SSL_CERT_FILE=${SSL_CERT_FILE:-$PIP_CERT}
    # --python: into this venv, whatever venv is active. pip and wheel as the pip branch has
    # them (scripts/build_artifacts.sh builds the wheel with the venv's pip and setuptools).
    # --compile-bytecode, as pip does at install: where PYTHONDONTWRITEBYTECODE is set (it is
    # on this project's CI machines) Python never writes .pyc files itself, and every process
    # (each job run, pytest worker and Airflow task) would compile pyspark, pandas, Splink, ...
    # from source again: that made a whole make test about 40 % slower (docs/benchmarks.md).
    "$venv/bin/uv" pip install --quiet --compile-bytecode --python "$py" \
        --upgrade-package pip --upgrade-package wheel "pip>=23" wheel "$@"
else
    echo "install_venv: installing with pip (uv not used)" >&2
    "$py" -m pip install --quiet --upgrade "pip>=23" wheel
    "$py" -m pip install --quiet "$@"
fi
