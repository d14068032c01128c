#!/usr/bin/env bash
# Checks that the java Spark will start ($JAVA_HOME/bin/java when JAVA_HOME is set, else `java` on
# the PATH, as spark-class picks it) is Java 17 or newer: Spark 4.1 needs 17/21 and the Spark 3.5
# line runs on 17 too. Installs OpenJDK 17 with apt-get when there is no java at all; an older
# java fails with one line naming it, rather than being replaced behind the user's back.
set -euo pipefail
REQUIRED=17
INSTALL_HINT="install OpenJDK ${REQUIRED} or newer (e.g. apt-get install openjdk-${REQUIRED}-jre-headless) and put it first on the PATH or point JAVA_HOME at it"

if [ -n "${JAVA_HOME:-}" ]; then JAVA="$JAVA_HOME/bin/java"; else JAVA="$(command -v java || true)"; fi

# The major version from `java -version`: "1.8.0_392" -> 8, "17.0.9" -> 17, "21" -> 21, "22-ea" -> 22.
java_major() {
    local version
    version="$("$1" -version 2>&1 | sed -n 's/.* version "\([^"]*\)".*/\1/p' | head -n 1)"
    version="${version#1.}"
    version="${version%%[.+_-]*}"
    [[ "$version" =~ ^[0-9]+$ ]] && echo "$version"
}

check() {
    local major
    if ! major="$(java_major "$JAVA")"; then
        echo "error: cannot read the version of $JAVA ('$JAVA -version' says: $("$JAVA" -version 2>&1 | head -n 1)); $INSTALL_HINT" >&2
        exit 1
    fi
    if [ "$major" -lt "$REQUIRED" ]; then
        echo "error: $JAVA is Java $major ($("$JAVA" -version 2>&1 | head -n 1)); Spark here needs Java $REQUIRED or newer: $INSTALL_HINT" >&2
        exit 1
    fi
}

if [ -n "$JAVA" ] && "$JAVA" -version >/dev/null 2>&1; then
    check
    exit 0
fi
if [ -n "${JAVA_HOME:-}" ]; then
    echo "error: JAVA_HOME=$JAVA_HOME has no working bin/java; unset it or $INSTALL_HINT" >&2
    exit 1
fi
echo "java not found: installing OpenJDK ${REQUIRED} (headless) with apt-get" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
        echo "error: java is missing and this user cannot run apt-get; $INSTALL_HINT" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "openjdk-${REQUIRED}-jre-headless" procps >/dev/null
JAVA="$(command -v java)"
check
"$JAVA" -version
