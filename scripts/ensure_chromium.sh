#!/usr/bin/env bash
# Installs Debian's chromium with apt-get when it is missing: the lake site's browser tests
# (tests/lakeforge/test_site_browser.py) drive it headless through Playwright. Nothing to do
# when it is there (make test runs this every time, like ensure_java.sh). A LAKEFORGE_CHROMIUM
# that names a missing file fails in one line: installing Debian's package would not put a
# browser there. A failed apt-get (offline, no apt source) ends with one line naming chromium.
# $LAKEFORGE_CHROMIUM_DEFAULT is where Debian's package puts it (/usr/bin/chromium; the tests
# point it at a missing file to run the install path on a machine that has chromium).
set -euo pipefail
DEFAULT="${LAKEFORGE_CHROMIUM_DEFAULT:-/usr/bin/chromium}"
chromium="${LAKEFORGE_CHROMIUM:-$DEFAULT}"
[ -x "$chromium" ] && exit 0
if [ "$chromium" != "$DEFAULT" ]; then
    echo "error: LAKEFORGE_CHROMIUM=$chromium is not an executable file; point it at a chromium or unset it to install Debian's ($DEFAULT)" >&2
    exit 1
fi
echo "no chromium at $chromium: installing Debian's chromium package" >&2
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else echo "error: chromium is missing and apt-get needs root; install chromium and retry" >&2; exit 1
    fi
}
if ! { as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; }; then
    echo "error: apt-get could not install chromium (no network, or no apt source carries it; apt-get's messages are above); install chromium at $DEFAULT and retry" >&2
    exit 1
fi
"$chromium" --version
