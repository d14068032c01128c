#!/usr/bin/env bash
# Installs OpenJDK 17 with apt-get when no usable `java` is on the PATH (Spark 3.5 needs 8/11/17).
set -euo pipefail
if command -v java >/dev/null 2>&1 && java -version >/dev/null 2>&1; then
    exit 0
fi
echo "java not found: installing OpenJDK 17 (headless) with apt-get" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
        echo "error: java is missing and this user cannot run apt-get; install OpenJDK 17 and retry" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless procps >/dev/null
java -version
