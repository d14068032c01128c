#!/usr/bin/env bash
# Installs Debian's chromium with apt-get when it is missing: the lake site's browser tests
# (tests/lakeforge/test_site_browser.py) drive it headless through Playwright. Like
# ensure_java.sh: nothing to do when it is there, one apt-get install otherwise.
set -euo pipefail
CHROMIUM="${LAKEFORGE_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ] && "$CHROMIUM" --headless --no-sandbox --version >/dev/null 2>&1; then
    exit 0
fi
echo "chromium not found at $CHROMIUM: installing Debian's chromium with apt-get" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
        echo "error: chromium is missing and this user cannot run apt-get; install chromium and retry" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
"$CHROMIUM" --headless --no-sandbox --version
