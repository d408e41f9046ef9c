#!/usr/bin/env bash
# Installs Debian's chromium for the explorer's browser tests when it is missing (Playwright's own browser
# download needs the internet; Playwright drives this executable instead). Idempotent; run by `make test`.
set -euo pipefail
if command -v chromium >/dev/null; then
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "install-chromium.sh: chromium not found and no apt-get; install Chromium and put it on PATH" >&2
  exit 1
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-chromium.sh: apt-get install chromium ..."
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core
chromium --version
