#!/usr/bin/env bash
# Installs Debian's chromium with apt-get when it is missing: the lake site's browser tests
# (tests/lakeforge/test_site_browser.py) drive it headless through Playwright. Nothing to do
# when it is there (make test runs this every time, like ensure_java.sh).
set -euo pipefail
chromium="${LAKEFORGE_CHROMIUM:-/usr/bin/chromium}"
[ -x "$chromium" ] && exit 0
echo "no chromium at $chromium: installing Debian's chromium package" >&2
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else echo "error: chromium is missing and apt-get needs root; install chromium and retry" >&2; exit 1
    fi
}
as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
"$chromium" --version
