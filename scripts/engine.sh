#!/usr/bin/env bash
# Makes the Pulumi engine available at pinned versions, with no download beyond the registries.
# Sourced by scripts/lab.sh (needs ROOT, CACHE_DIR, PATH with node 22 and node_modules/.bin).
#
# For each piece the official download is tried first and used when it works; otherwise the
# piece is built from Go modules and cached on disk keyed by version (or by source digest):
#   - Pulumi CLI $PULUMI_VERSION       official tarball via the `pulumi` npm launcher, else built
#                                      from github.com/pulumi/pulumi/pkg/v3 (engine/cli)
#   - pulumi-language-nodejs           from the official tarball, else this project's own host
#                                      (engine/cmd/pulumi-language-nodejs): Pulumi's module
#                                      for it is not served by the Go module proxy (403)
#   - resource plugin command          `pulumi plugin install`, else this project's own provider
#                                      (engine/cmd/pulumi-resource-command): the module
#                                      github.com/pulumi/pulumi-command/provider has no tags (403)
#   - resource plugin kubernetes       `pulumi plugin install`, else this project's own provider for
#                                      core/v1 ConfigMap and Pod (engine/cmd/pulumi-resource-kubernetes):
#                                      github.com/pulumi/pulumi-kubernetes/provider/v4 is 403 on the proxy
# Everything lands where the launcher and the engine look: $PULUMI_HOME/versions/<v>/bin (the
# launcher puts that directory first on PATH, so the language host is found there) and
# $PULUMI_HOME/plugins/resource-<name>-v<version>/.

engine_versions() {
  PULUMI_VERSION=$(node -p 'require(process.argv[1]).devDependencies.pulumi' "$ROOT/package.json")
  COMMAND_VERSION=$(node -p 'require(process.argv[1]).pulumi.version' "$ROOT/node_modules/@pulumi/command/package.json")
  KUBERNETES_VERSION=$(node -p 'require(process.argv[1]).pulumi.version' "$ROOT/node_modules/@pulumi/kubernetes/package.json")
}

engine_log() { echo "engine: $*" >&2; }

# Go for the builds: the machine's if new enough, else the toolchain the go directive names
# (GOTOOLCHAIN=auto fetches it from the Go module proxy).
ensure_go() {
  command -v go >/dev/null && return
  if command -v apt-get >/dev/null; then
    engine_log "installing Debian's golang-go (a newer toolchain then comes from the Go module proxy)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go >/dev/null
  fi
  command -v go >/dev/null || { engine_log "needs Go (https://go.dev/dl or Debian's golang-go) to build the Pulumi CLI"; return 1; }
}

ensure_cli() {
  local bin="$PULUMI_HOME/versions/$PULUMI_VERSION/bin"
  if [ -x "$bin/pulumi" ]; then return; fi
  engine_log "Pulumi CLI $PULUMI_VERSION: trying the official download"
  if PULUMI_VERSION="$PULUMI_VERSION" timeout 120 node "$ROOT/node_modules/pulumi/run.js" version >/dev/null 2>&1 && [ -x "$bin/pulumi" ]; then
    echo "pulumi-cli $PULUMI_VERSION downloaded" >>"$PULUMI_HOME/engine-sources"
    return
  fi
  engine_log "Pulumi CLI $PULUMI_VERSION: no download; building github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION"
  ensure_go
  local out="$CACHE_DIR/pulumi-cli/$PULUMI_VERSION"
  if [ ! -x "$out/pulumi" ]; then
    (cd "$ROOT/engine/cli" && go build -trimpath -o "$out/pulumi.tmp" \
      -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" \
      github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
    mv "$out/pulumi.tmp" "$out/pulumi"
  fi
  mkdir -p "$bin" && install -m 0755 "$out/pulumi" "$bin/pulumi"
  echo "pulumi-cli $PULUMI_VERSION built" >>"$PULUMI_HOME/engine-sources"
}

# This project's own Go programs, cached by the digest of their sources.
build_own() {
  local digest dir
  digest=$(cd "$ROOT/engine" && find go.mod go.sum cmd internal -type f | sort | xargs sha256sum | sha256sum | cut -c1-16)
  dir="$CACHE_DIR/engine/$digest"
  if [ ! -x "$dir/pulumi-resource-kubernetes" ]; then
    ensure_go
    engine_log "building the project's language host and providers ($digest)"
    (cd "$ROOT/engine" &&
      go build -trimpath -o "$dir/pulumi-language-nodejs" -ldflags "-X main.version=$PULUMI_VERSION" ./cmd/pulumi-language-nodejs &&
      go build -trimpath -o "$dir/pulumi-resource-command" -ldflags "-X main.version=$COMMAND_VERSION" ./cmd/pulumi-resource-command &&
      go build -trimpath -o "$dir/pulumi-resource-kubernetes" -ldflags "-X main.version=$KUBERNETES_VERSION" ./cmd/pulumi-resource-kubernetes)
  fi
  OWN_DIR=$dir
}

ensure_language_host() {
  local bin="$PULUMI_HOME/versions/$PULUMI_VERSION/bin"
  if grep -qx "pulumi-cli $PULUMI_VERSION downloaded" "$PULUMI_HOME/engine-sources" 2>/dev/null && [ -x "$bin/pulumi-language-nodejs" ]; then
    return # the official tarball brought its own
  fi
  build_own
  cmp -s "$OWN_DIR/pulumi-language-nodejs" "$bin/pulumi-language-nodejs" || install -m 0755 "$OWN_DIR/pulumi-language-nodejs" "$bin/pulumi-language-nodejs"
}

# plugin_dir NAME VERSION
plugin_dir() { echo "$PULUMI_HOME/plugins/resource-$1-v$2"; }

# ensure_plugin NAME VERSION OWN_BINARY: the official plugin when it downloads, else ours
# (marked with a .live-migration-lab file and replaced whenever our build changes).
ensure_plugin() {
  local name=$1 version=$2 own=$3
  local dir bin
  dir=$(plugin_dir "$name" "$version")
  bin="$dir/pulumi-resource-$name"
  if [ ! -e "$dir/.live-migration-lab" ]; then
    [ -x "$bin" ] && [ ! -e "$dir.partial" ] && return 0
    if timeout 120 pulumi plugin install resource "$name" "$version" >/dev/null 2>&1 && [ -x "$bin" ]; then
      echo "plugin $name $version downloaded" >>"$PULUMI_HOME/engine-sources"
      return 0
    fi
  fi
  build_own
  if ! cmp -s "$OWN_DIR/$own" "$bin"; then
    mkdir -p "$dir" && rm -f "$dir.partial"
    install -m 0755 "$OWN_DIR/$own" "$bin"
    basename "$OWN_DIR" >"$dir/.live-migration-lab"
    echo "plugin $name $version built (this project's own provider, $(basename "$OWN_DIR"))" >>"$PULUMI_HOME/engine-sources"
  fi
}

ensure_engine() {
  engine_versions
  export PULUMI_HOME=${PULUMI_HOME:-$CACHE_DIR/pulumi-home}
  export PULUMI_SKIP_UPDATE_CHECK=true
  mkdir -p "$PULUMI_HOME"
  ensure_cli
  ensure_language_host
  export PATH="$PULUMI_HOME/versions/$PULUMI_VERSION/bin:$PATH"
  ensure_plugin command "$COMMAND_VERSION" pulumi-resource-command
  ensure_plugin kubernetes "$KUBERNETES_VERSION" pulumi-resource-kubernetes
}
