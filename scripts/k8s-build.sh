#!/usr/bin/env bash
# Kubernetes and CRI-O for the local lab, built from the Go module proxy (Debian packages neither).
#
#   k8s-build.sh KUBERNETES_VERSION CRIO_MINOR    build what is missing; print the bin directory
#   k8s-build.sh --find KUBERNETES_VERSION CRIO_MINOR   print it, or fail when it is not built
#   k8s-build.sh --proxy-digest                 print the digest the CRI proxy's build is keyed by
#
# The bin directory holds kubelet, kube-apiserver, kubectl (k8s.io/kubernetes), crio and pinns
# (github.com/cri-o/cri-o), crictl (sigs.k8s.io/cri-tools) and pause (Kubernetes' pause.c, built
# static), each built once per version under $LAB_K8S_CACHE and kept there, plus the lab's own CRI
# proxy (cri-proxy/, keyed by the digest of its source). A new build of the proxy replaces the file
# in the bin directory in place (nodes bind that directory; their cri-proxy service restarts when
# the digest on its command line changes), so it needs no new nodes. Modules come from the
# Go module proxy only: each is built inside a writable copy of its own module source, so its own
# go.sum pins its dependencies (a consumer module would need sum.golang.org entries the proxy's
# sumdb does not always serve).
set -euo pipefail

CACHE=${LAB_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/live-migration-lab/k8s}
fail() { echo "k8s-build.sh: $*" >&2; exit 1; }

# CRI-O releases per minor that the proxy serves (v1.34.1 and later patches answer 403 there).
crio_release() {
  case "$1" in
    1.34) echo v1.34.0 ;;
    *) fail "no CRI-O release known for minor $1 in the local lab (known: 1.34); use driver vagrant or existing for other versions" ;;
  esac
}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PROXY=$(cd "$ROOT/cri-proxy" && cat go.mod go.sum ./*.go | sha256sum | cut -c1-12)
[ "${1:-}" = --proxy-digest ] && { echo "$PROXY"; exit 0; }

find_only=false
[ "${1:-}" = --find ] && { find_only=true; shift; }
K8S=v${1:?usage: k8s-build.sh [--find] KUBERNETES_VERSION CRIO_MINOR}
CRIO=$(crio_release "${2:?crio minor}")
CRICTL=v${2}.0
# sum.golang.org answers 404 for cri-tools; its module hash is pinned here instead (recorded from
# the proxy's zip on 2026-11-24; the proxy's .info names upstream tag v1.34.0, commit ca0237b9fe).
crictl_h1() {
  case "$1" in
    v1.34.0) echo "h1:KqL9EJ+WgHtz1HR1exezm91n+o8O2uMLs/eHzHJHAWw=" ;;
    *) fail "no pinned module hash for cri-tools $1" ;;
  esac
}
BIN="$CACHE/bin-k8s-$K8S-crio-$CRIO"

current() { [ -x "$BIN/kubelet" ] && [ "$(cat "$BIN/cri-proxy.digest" 2>/dev/null)" = "$PROXY" ]; }
if current; then echo "$BIN"; exit 0; fi
$find_only && fail "Kubernetes $K8S and CRI-O $CRIO are not built in $CACHE: run 'scripts/lab.sh up' (or 'scripts/k8s-build.sh ${1} ${2}') from the host's network namespace first"

command -v go >/dev/null || fail "needs Go (the toolchain builds Kubernetes and CRI-O from the module proxy)"
export GOWORK=off GOFLAGS=-mod=mod GOTOOLCHAIN=${GOTOOLCHAIN:-local}
export CGO_ENABLED=${CGO_ENABLED:-1}

# module_src MODULE VERSION [H1]: a writable copy of the module's source, printed. With H1 the
# module is fetched without sum.golang.org (which has no entry for it) and must have that hash.
module_src() {
  local dir src json
  dir=$(cd "$(mktemp -d "$CACHE/src.XXXXXX")" && pwd)
  if [ -n "${3:-}" ]; then
    json=$(GONOSUMDB=$1 go mod download -json "$1@$2")
    grep -q "\"Sum\": \"$3\"" <<<"$json" || fail "$1@$2 does not have the pinned hash $3: $json"
  else
    json=$(go mod download -json "$1@$2")
  fi
  src=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' <<<"$json")
  [ -d "$src" ] || fail "go mod download $1@$2 gave no source directory: $json"
  cp -a "$src/." "$dir/"
  chmod -R u+w "$dir"
  echo "$dir"
}

# built NAME VERSION: the per-component directory; `ready` when its stamp is there.
out_dir() { echo "$CACHE/$1-$2"; }

build_kubernetes() {
  local out src
  out=$(out_dir kubernetes "$K8S")
  [ -f "$out/.built" ] && return
  echo "k8s-build.sh: building kubelet, kube-apiserver, kubectl $K8S (several minutes, once)" >&2
  src=$(module_src k8s.io/kubernetes "$K8S")
  # The published module points its staging modules at ./staging: use their published versions.
  local staging=v0.${K8S#v1.}
  (cd "$src" && sed -i -E "s#=> \./staging/src/(k8s\.io/[A-Za-z0-9.-]+)\$#=> \1 $staging#" go.mod &&
    true)
  rm -rf "$out.tmp" && mkdir -p "$out.tmp"
  local ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$K8S -X k8s.io/component-base/version.gitTreeState=clean"
  (cd "$src" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$out.tmp/" ./cmd/kubelet ./cmd/kube-apiserver ./cmd/kubectl) ||
    fail "building Kubernetes $K8S failed (source copy kept in $src)"
  gcc -Os -static -o "$out.tmp/pause" "$src/build/pause/linux/pause.c" -DVERSION="${K8S}" || fail "building pause.c failed"
  rm -rf "$src" "$out" && mv "$out.tmp" "$out" && touch "$out/.built"
}

build_crio() {
  local out src
  out=$(out_dir cri-o "$CRIO")
  [ -f "$out/.built" ] && return
  echo "k8s-build.sh: building crio and pinns $CRIO (about a minute, once)" >&2
  src=$(module_src github.com/cri-o/cri-o "$CRIO")
  rm -rf "$out.tmp" && mkdir -p "$out.tmp"
  (cd "$src" && go build -trimpath -ldflags "-s -w" \
    -tags "containers_image_openpgp exclude_graphdriver_btrfs exclude_graphdriver_devicemapper" -o "$out.tmp/crio" ./cmd/crio) ||
    fail "building CRI-O $CRIO failed (source copy kept in $src)"
  make -s -C "$src/pinns" >&2 || fail "building pinns failed (source copy kept in $src)"
  cp "$src/bin/pinns" "$out.tmp/pinns"
  rm -rf "$src" "$out" && mv "$out.tmp" "$out" && touch "$out/.built"
}

build_crictl() {
  local out src
  out=$(out_dir cri-tools "$CRICTL")
  [ -f "$out/.built" ] && return
  echo "k8s-build.sh: building crictl $CRICTL (once)" >&2
  src=$(module_src sigs.k8s.io/cri-tools "$CRICTL" "$(crictl_h1 "$CRICTL")")
  rm -rf "$out.tmp" && mkdir -p "$out.tmp"
  (cd "$src" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$CRICTL" -o "$out.tmp/crictl" ./cmd/crictl) ||
    fail "building crictl $CRICTL failed (source copy kept in $src)"
  rm -rf "$src" "$out" && mv "$out.tmp" "$out" && touch "$out/.built"
}

# The lab's CRI proxy (cri-proxy/main.go says why it is our own), built from this repository.
build_cri_proxy() {
  local out
  out=$(out_dir cri-proxy "$PROXY")
  [ -f "$out/.built" ] && return
  echo "k8s-build.sh: building cri-proxy $PROXY (seconds, once)" >&2
  rm -rf "$out.tmp" && mkdir -p "$out.tmp"
  (cd "$ROOT/cri-proxy" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out.tmp/cri-proxy" .) || fail "building cri-proxy failed"
  rm -rf "$out" && mv "$out.tmp" "$out" && touch "$out/.built"
  # Earlier builds of the proxy are of no further use.
  find "$CACHE" -maxdepth 1 -name 'cri-proxy-*' ! -name "cri-proxy-$PROXY" -exec rm -rf {} +
}

mkdir -p "$CACHE"
build_cri_proxy
if [ ! -x "$BIN/kubelet" ]; then
  build_kubernetes
  build_crio
  build_crictl
  rm -rf "$BIN.tmp" && mkdir -p "$BIN.tmp"
  for f in "$(out_dir kubernetes "$K8S")"/{kubelet,kube-apiserver,kubectl,pause} "$(out_dir cri-o "$CRIO")"/{crio,pinns} "$(out_dir cri-tools "$CRICTL")/crictl"; do
    cp -l "$f" "$BIN.tmp/" 2>/dev/null || cp "$f" "$BIN.tmp/"
  done
  rm -rf "$BIN" && mv "$BIN.tmp" "$BIN"
fi
# The proxy in place: a rename, so a running proxy keeps its own file until it restarts.
cp "$(out_dir cri-proxy "$PROXY")/cri-proxy" "$BIN/.cri-proxy.tmp" && mv -f "$BIN/.cri-proxy.tmp" "$BIN/cri-proxy"
echo "$PROXY" >"$BIN/cri-proxy.digest"
echo "$BIN"
