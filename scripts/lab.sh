#!/usr/bin/env bash
# The project's one entry point, used by the README and by CI alike.
#
#   scripts/lab.sh test          install what the project needs, then run the mocha suite (npm test)
#   scripts/lab.sh <cmd> [args]  run any command with the project's Node 22 first on PATH
#
# Node 22 LTS is the target. Where the system Node is older (Debian 12 ships 20, which is end of
# life), Node 22 comes from the npm registry's `node-linux-<arch>` package and is cached on disk by
# version, so no download site other than the registry is needed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NODE_VERSION=22.23.3
CACHE_DIR=${LAB_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/live-migration-lab}

fail() { echo "lab.sh: $*" >&2; exit 1; }

node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

# Prints the directory holding a Node >= 22 binary, installing the pinned one when needed.
ensure_node() {
  local sys
  sys=$(command -v node || true)
  if [ -n "$sys" ] && [ "$(node_major "$sys")" -ge 22 ]; then
    dirname "$sys"
    return
  fi
  local arch
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) fail "no Node 22 package for machine $(uname -m); install Node >= 22 yourself" ;;
  esac
  local dir="$CACHE_DIR/node-$NODE_VERSION-$arch"
  local bin="$dir/node_modules/node-linux-$arch/bin"
  if [ ! -x "$bin/node" ]; then
    command -v npm >/dev/null || fail "needs npm (any version) to fetch Node $NODE_VERSION from the npm registry"
    echo "lab.sh: installing Node $NODE_VERSION from the npm registry into $dir" >&2
    rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
    npm install --no-save --no-audit --no-fund --ignore-scripts --loglevel=error \
      --prefix "$dir.tmp" "node-linux-$arch@$NODE_VERSION" >&2
    rm -rf "$dir" && mv "$dir.tmp" "$dir"
  fi
  [ "$("$bin/node" -v)" = "v$NODE_VERSION" ] || fail "$bin/node is not v$NODE_VERSION"
  echo "$bin"
}

# npm ci when node_modules does not match package-lock.json. --ignore-scripts because the provider
# packages' postinstall tries `pulumi plugin install` from a download site (and exits 0 on failure).
ensure_modules() {
  local stamp="$ROOT/node_modules/.lab-lock-sha256"
  local want
  want=$(sha256sum "$ROOT/package-lock.json" | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    (cd "$ROOT" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
    echo "$want" >"$stamp"
  fi
}

NODE_BIN=$(ensure_node)
export PATH="$NODE_BIN:$ROOT/node_modules/.bin:$PATH"
ensure_modules

cmd=${1:-test}
shift || true
case "$cmd" in
  test) cd "$ROOT" && exec npm test -- "$@" ;;
  *) cd "$ROOT" && exec "$cmd" "$@" ;;
esac
