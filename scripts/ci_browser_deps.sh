#!/usr/bin/env bash
# Install the browser the dashboard's browser test drives: Debian's chromium at /usr/bin/chromium.
#
# Idempotent: does nothing when /usr/bin/chromium is already there. Playwright's own browser download
# (`playwright install`) is not used: the test drives the system chromium through the Python playwright package.
# Needs root (or sudo) and the Debian/Ubuntu package mirrors; elsewhere it says what to do and exits 0, and the
# browser test skips with that reason.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    version="$(/usr/bin/chromium --version 2>/dev/null | head -n1 || true)"
    echo "ci_browser_deps: /usr/bin/chromium present (${version:-version unknown})"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "ci_browser_deps: no apt-get here; install Chromium at /usr/bin/chromium to run the browser test" >&2
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "ci_browser_deps: not root and no sudo; cannot install chromium (the browser test will skip)" >&2
        exit 0
    fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q chromium
/usr/bin/chromium --version
