#!/usr/bin/env bash
# EMR bootstrap action (runs as hadoop on every node before applications start).
# EMR 7.x runs Amazon Linux 2023, whose python3 is 3.9; Lakeforge needs Python >= 3.10, so this
# installs python3.11 and the project's wheel (with its AWS and matching extras) into it; no
# pyspark: Splink comes without its `spark` extra (see below).
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

# The requirements of one of the wheel's extras, each without extras of its own ("splink[spark]
# <5.1,>=5.0" -> "splink<5.1,>=5.0"), read from the wheel's METADATA.
extra_requirements() {
  "$PYBIN" - "$LOCAL_WHEEL" "$1" <<'PY'
import re, sys, zipfile
from email.parser import Parser
with zipfile.ZipFile(sys.argv[1]) as wheel:
    name = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    meta = Parser().parsestr(wheel.read(name).decode("utf-8"))
for requirement in meta.get_all("Requires-Dist") or []:
    spec, _, marker = requirement.partition(";")
    if re.search(r"""extra\s*==\s*["']%s["']""" % re.escape(sys.argv[2]), marker):
        print(re.sub(r"\[[^]]*\]", "", spec).replace(" ", ""))
PY
}

# The `match` extra is splink[spark], and Splink's `spark` extra is pyspark from PyPI with no upper
# bound: pip would build the newest pyspark (4.x, an sdist) on every node, a second pyspark beside
# EMR's own Spark 3.5. Splink runs on the cluster's Spark, so `match` is installed as the
# requirements it lists without their extras, at the versions the wheel pins (setup.py).
PINS=("numpy>=1.24,<2" "pandas>=1.5,<3" "pyarrow>=12,<26")
if [[ -n "$SPLINK" ]]; then PINS+=("splink==$SPLINK"); fi
KEEP=()
IFS=',' read -r -a WANTED <<< "$EXTRAS"
for extra in "${WANTED[@]}"; do
  if [[ "$extra" == match ]]; then
    mapfile -t MATCH < <(extra_requirements match)
    if [[ ${#MATCH[@]} -eq 0 ]]; then
      echo "bootstrap.sh: $(basename "$WHEEL") has no 'match' extra; pass --extras without it" >&2
      exit 2
    fi
    PINS+=("${MATCH[@]}")
  elif [[ -n "$extra" ]]; then
    KEEP+=("$extra")
  fi
done
if [[ ${#KEEP[@]} -gt 0 ]]; then
  WHEEL_REQ="${LOCAL_WHEEL}[$(IFS=,; echo "${KEEP[*]}")]"
else
  WHEEL_REQ="$LOCAL_WHEEL"
fi
sudo "$PYBIN" -m pip install --quiet "${PINS[@]}" "$WHEEL_REQ"
"$PYBIN" -c "import lakeforge, yaml; print('lakeforge', lakeforge.__version__, 'ready')"
