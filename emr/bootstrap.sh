#!/usr/bin/env bash
# EMR bootstrap action (runs as hadoop on every node before applications start).
# EMR 7.x runs Amazon Linux 2023, whose python3 is 3.9; Lakeforge needs Python >= 3.10, so this
# installs python3.11 and the project's wheel (with its AWS and matching extras) into it.
# emr/configurations.json points PYSPARK_PYTHON at the same interpreter. Spark itself is EMR's.
#
# Args: --wheel s3://bucket/prefix/<version>/lakeforge-<version>-py3-none-any.whl
#       [--python python3.11] [--extras aws,match] [--splink-version 5.0.0]
set -euo pipefail

WHEEL=""
PYBIN="python3.11"
EXTRAS="aws,match"
SPLINK=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --wheel) WHEEL="$2"; shift 2 ;;
    --python) PYBIN="$2"; shift 2 ;;
    --extras) EXTRAS="$2"; shift 2 ;;
    --splink-version) SPLINK="$2"; shift 2 ;;
    *) echo "bootstrap.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
if [[ -z "$WHEEL" ]]; then
  echo "bootstrap.sh: --wheel s3://.../lakeforge-*.whl is required" >&2
  exit 2
fi

if ! command -v "$PYBIN" >/dev/null 2>&1; then
  sudo dnf install -y "$PYBIN" "$PYBIN-pip"
fi

WORK="$(mktemp -d)"
# Keep the wheel's file name: pip reads the version and tags from it.
aws s3 cp "$WHEEL" "$WORK/"
LOCAL_WHEEL="$WORK/$(basename "$WHEEL")"

PINS=("numpy>=1.24,<2" "pandas>=1.5,<3" "pyarrow>=12,<26")
if [[ -n "$SPLINK" ]]; then PINS+=("splink==$SPLINK"); fi
sudo "$PYBIN" -m pip install --quiet "${PINS[@]}" "${LOCAL_WHEEL}[${EXTRAS}]"
"$PYBIN" -c "import lakeforge, yaml; print('lakeforge', lakeforge.__version__, 'ready')"
