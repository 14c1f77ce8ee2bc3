#!/usr/bin/env bash
# Install headless Chromium and a CJK font for the dashboard browser test
# (tests/integration/test_dashboard.py). Idempotent: does nothing when both are present.
# Debian/Ubuntu only (apt-get); run as root (CI containers) or with sudo available.
set -euo pipefail

need=()
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || need+=(chromium)
if ! fc-list 2>/dev/null | grep -qi 'Noto Sans CJK'; then
    need+=(fonts-noto-cjk)
fi
if [ "${#need[@]}" -eq 0 ]; then
    echo "install-chromium: chromium and fonts-noto-cjk already present"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
echo "install-chromium: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" fontconfig >/dev/null
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || {
    echo "install-chromium: chromium still missing after apt-get" >&2
    exit 1
}
chromium --version 2>/dev/null || chromium-browser --version
