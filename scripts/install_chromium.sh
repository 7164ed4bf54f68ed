#!/bin/sh
# Install Debian's `chromium` for tests/test_site.py (headless checks of the built book).
#
# Idempotent: does nothing when `chromium` is already on PATH. Non-interactive and quiet.
# Needs root (or passwordless sudo) and apt; exits non-zero with a message when it cannot install.
set -eu

if command -v chromium >/dev/null 2>&1; then
    exit 0
fi

fail() {
    echo "install_chromium.sh: $*" >&2
    echo "install_chromium.sh: install Chromium yourself (Debian/Ubuntu: apt-get install chromium)," >&2
    echo "install_chromium.sh: or point CHROMIUM=/path/to/chrome at an existing Chromium/Chrome binary." >&2
    exit 1
}

command -v apt-get >/dev/null 2>&1 || fail "apt-get not found (not a Debian-like system)"

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
else
    fail "root (or passwordless sudo) is needed to apt-get install chromium"
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "install_chromium.sh: installing Debian's chromium with apt-get (about 35 s)..."
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get -qq update >"$log" 2>&1 ||
   ! $SUDO apt-get -qq install -y chromium >>"$log" 2>&1; then
    tail -n 20 "$log" >&2
    fail "apt-get install chromium failed (see the lines above)"
fi

command -v chromium >/dev/null 2>&1 || fail "apt-get succeeded but \`chromium\` is still not on PATH"
echo "install_chromium.sh: $(chromium --version 2>/dev/null | tail -n 1)"
