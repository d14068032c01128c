#!/usr/bin/env bash
# Checks that the java Spark will start ($JAVA_HOME/bin/java when JAVA_HOME is set, else `java` on
# the PATH, as spark-class picks it) is Java 17 to 22: Spark 4.1 needs 17 or newer (it supports
# 17 and 21), the Spark 3.5 line runs on 17 too, and from Java 23 Hadoop's client (Hadoop 3.3.4
# inside pyspark 3.5) stops every SparkContext with "getSubject is not supported" (JEP 486).
# A java outside that range fails with one line naming it and, when there is one, a JDK in range
# under /usr/lib/jvm ($LAKEFORGE_JVM_ROOT) to point JAVA_HOME at. With no java at all and none
# there, installs OpenJDK 17 with apt-get (one line naming the package when apt-get fails:
# offline, no apt source).
set -euo pipefail
REQUIRED=17
NEWEST=22
JVM_ROOT="${LAKEFORGE_JVM_ROOT:-/usr/lib/jvm}"
PACKAGE="openjdk-${REQUIRED}-jre-headless"
INSTALL_HINT="install OpenJDK ${REQUIRED} (e.g. apt-get install ${PACKAGE}) and put it first on the PATH or point JAVA_HOME at it"

if [ -n "${JAVA_HOME:-}" ]; then JAVA="$JAVA_HOME/bin/java"; else JAVA="$(command -v java || true)"; fi

# The major version from `java -version`: "1.8.0_392" -> 8, "17.0.9" -> 17, "21" -> 21, "22-ea" -> 22.
java_major() {
    local version
    version="$("$1" -version 2>&1 | sed -n 's/.* version "\([^"]*\)".*/\1/p' | head -n 1)"
    version="${version#1.}"
    version="${version%%[.+_-]*}"
    [[ "$version" =~ ^[0-9]+$ ]] && echo "$version"
}

# A JDK under $JVM_ROOT whose java is in range (the first by name), or nothing.
jdk_in_range() {
    local home major
    for home in "$JVM_ROOT"/*; do
        [ -x "$home/bin/java" ] || continue
        major="$(java_major "$home/bin/java")" || continue
        if [ "$major" -ge "$REQUIRED" ] && [ "$major" -le "$NEWEST" ]; then
            echo "$home"
            return 0
        fi
    done
    return 1
}

# The hint that ends an error line: a JDK found in range, else how to install one.
fix_hint() {
    local home
    if home="$(jdk_in_range)"; then
        echo "$home is Java $(java_major "$home/bin/java"): export JAVA_HOME=$home"
    else
        echo "$INSTALL_HINT"
    fi
}

check() {
    local major
    if ! major="$(java_major "$JAVA")"; then
        echo "error: cannot read the version of $JAVA ('$JAVA -version' says: $("$JAVA" -version 2>&1 | head -n 1)); $(fix_hint)" >&2
        exit 1
    fi
    if [ "$major" -lt "$REQUIRED" ]; then
        echo "error: $JAVA is Java $major ($("$JAVA" -version 2>&1 | head -n 1)); Spark here needs Java $REQUIRED to $NEWEST: $(fix_hint)" >&2
        exit 1
    fi
    if [ "$major" -gt "$NEWEST" ]; then
        echo "error: $JAVA is Java $major ($("$JAVA" -version 2>&1 | head -n 1)); Spark here needs Java $REQUIRED to $NEWEST (from Java 23 Hadoop's client fails with 'getSubject is not supported'): $(fix_hint)" >&2
        exit 1
    fi
}

if [ -n "$JAVA" ] && "$JAVA" -version >/dev/null 2>&1; then
    check
    exit 0
fi
if [ -n "${JAVA_HOME:-}" ]; then
    echo "error: JAVA_HOME=$JAVA_HOME has no working bin/java; unset it or $(fix_hint)" >&2
    exit 1
fi
if home="$(jdk_in_range)"; then
    # installed but not on the PATH: installing another copy would not put it there either
    echo "error: no java on the PATH and JAVA_HOME is not set; $home is Java $(java_major "$home/bin/java"): export JAVA_HOME=$home" >&2
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
if ! { $SUDO apt-get update -qq && \
        $SUDO apt-get install -y -qq --no-install-recommends "$PACKAGE" procps >/dev/null; }; then
    echo "error: apt-get could not install $PACKAGE (no network, or no apt source carries it; apt-get's messages are above); $INSTALL_HINT" >&2
    exit 1
fi
JAVA="$(command -v java)"
check
"$JAVA" -version
