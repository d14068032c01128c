#!/usr/bin/env bash
# Build what a cluster needs into dist/ (or --dist DIR, or $LAKEFORGE_DIST_DIR):
#   lakeforge-<version>-py3-none-any.whl   the project (pip wheel --no-deps; bootstrap installs it)
#   lakeforge_pyfiles.zip                  lakeforge, transforms, quality, jobs + conf/ for --py-files
#   jars/scala-udf-similarity-*_spark3.x.jar  Splink's similarity functions, from the splink wheel
#   glue_entry.py, bootstrap.sh            the Glue/EMR entry script and the EMR bootstrap action
#   manifest.json                          names + SHA-256 digests, checked before every upload
# Usage: bash scripts/build_artifacts.sh [--dist DIR]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIST="${LAKEFORGE_DIST_DIR:-$ROOT/dist}"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --dist) DIST="$2"; shift 2 ;;
    --dist=*) DIST="${1#--dist=}"; shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "error: unknown argument $1 (usage: build_artifacts.sh [--dist DIR])" >&2; exit 2 ;;
  esac
done
if [[ -n "${PYTHON:-}" ]]; then PY="$PYTHON"
elif [[ -x "$ROOT/.venv/bin/python" ]]; then PY="$ROOT/.venv/bin/python"
else PY="$(command -v python3)"; fi

mkdir -p "$DIST"
DIST="$(cd "$DIST" && pwd)"
WHEEL_TMP="$(mktemp -d)"
trap 'rm -rf "$WHEEL_TMP"' EXIT

cd "$ROOT"
# Stale files in build/lib would otherwise end up in the wheel.
rm -rf "$ROOT/build/lib" "$ROOT/build/bdist."*
ISOLATION=()
if "$PY" -c "import setuptools, wheel" 2>/dev/null; then
  ISOLATION=(--no-build-isolation)   # build with the venv's setuptools: no download needed
fi
"$PY" -m pip wheel --quiet --no-deps "${ISOLATION[@]}" --wheel-dir "$WHEEL_TMP" "$ROOT"
WHEEL="$(ls "$WHEEL_TMP"/lakeforge-*.whl)"
rm -f "$DIST"/lakeforge-*.whl
"$PY" -m lakeforge.cli deploy artifacts --source "$ROOT" --dist "$DIST" --wheel "$WHEEL"
