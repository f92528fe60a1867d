#!/usr/bin/env bash
# Headless Chromium (and CJK fonts for the Chinese labels) for the report-site tests, which render the
# auditors' pages as a browser does. A system package, so installed with apt when missing (as root, or
# through sudo); where neither works, the tests needing it fail with the command to run.
set -uo pipefail
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
    exit 0
fi
if [[ "$(id -u)" == 0 ]]; then
    SUDO=""
elif sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
else
    echo "chromium: not installed and no root/sudo here; run: apt-get install chromium chromium-driver fonts-noto-cjk" >&2
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "chromium: not installed and no apt-get here; install Chromium for the report-site tests" >&2
    exit 0
fi
echo "chromium: installing chromium and CJK fonts for the report-site tests (apt, once per machine)…" >&2
start=$SECONDS
$SUDO apt-get update -qq >/dev/null \
    && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver fonts-noto-cjk >/dev/null \
    && echo "chromium: ready in $((SECONDS - start)) s" >&2 \
    || echo "chromium: apt-get failed; the report-site tests will say what is missing" >&2
