#!/usr/bin/env bash
# Kubernetes and CRI-O for the local lab, built from the Go module proxy (Debian packages neither).
#
#   k8s-build.sh KUBERNETES_VERSION CRIO_MINOR    build what is missing; print the bin directory
#   k8s-build.sh --find KUBERNETES_VERSION CRIO_MINOR   print it, or fail when it is not built
#   k8s-build.sh --proxy-digest                 print the digest the CRI proxy's build is keyed by
#
# Official release binaries first: kubeadm, kubelet, kubectl and the control plane from dl.k8s.io,
# etcd, CoreDNS and crictl from their GitHub releases, crio and pinns from CRI-O's release bundle,
# each checked against the checksum its release publishes (pause.c, which has none, against one
# pinned here). When any of them cannot be had (no route to those sites, as on the lab machines),
# everything is built from the Go module proxy instead. $BIN/SOURCE says which happened and why.
#
# The bin directory holds what kubeadm needs on a node: kubeadm, kubelet, kubectl and the control
# plane (kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy) from k8s.io/kubernetes,
# etcd (go.etcd.io/etcd/server/v3) and CoreDNS (github.com/coredns/coredns) at the versions this
# kubeadm lists (`kubeadm config images list`), crio and pinns (github.com/cri-o/cri-o), crictl
# (sigs.k8s.io/cri-tools) and pause (Kubernetes' pause.c, built static). The nodes build kubeadm's
# images from them (components/cluster/programs/kubeadm-images.sh). Each is built once per version
# under $LAB_K8S_CACHE and kept there, plus the lab's own CRI
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
BIN="$CACHE/bin-kubeadm-$K8S-crio-$CRIO"

current() { [ -x "$BIN/kubeadm" ] && [ "$(cat "$BIN/cri-proxy.digest" 2>/dev/null)" = "$PROXY" ]; }
if current; then echo "$BIN"; exit 0; fi
$find_only && fail "Kubernetes $K8S and CRI-O $CRIO are not built in $CACHE: run 'scripts/lab.sh up' (or 'scripts/k8s-build.sh ${1} ${2}') from the host's network namespace first"

# need_go WHAT: Go for a build (official release binaries need none, only the CRI proxy does).
need_go() {
  command -v go >/dev/null || fail "needs Go to build $1 (apt-get install golang-go, or Go on PATH)"
  export GOWORK=off GOFLAGS=-mod=mod GOTOOLCHAIN=${GOTOOLCHAIN:-local}
  export CGO_ENABLED=${CGO_ENABLED:-1}
}

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

# The Kubernetes commands a kubeadm node runs or builds images from.
K8S_COMMANDS="kubeadm kubelet kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy"
build_kubernetes() {
  local out src c targets=()
  out=$(out_dir kubernetes "$K8S-kubeadm")
  [ -f "$out/.built" ] && return
  echo "k8s-build.sh: building $K8S_COMMANDS $K8S (several minutes, once)" >&2
  src=$(module_src k8s.io/kubernetes "$K8S")
  # The published module points its staging modules at ./staging: use their published versions.
  local staging=v0.${K8S#v1.}
  (cd "$src" && sed -i -E "s#=> \./staging/src/(k8s\.io/[A-Za-z0-9.-]+)\$#=> \1 $staging#" go.mod)
  rm -rf "$out.tmp" && mkdir -p "$out.tmp"
  for c in $K8S_COMMANDS; do targets+=("./cmd/$c"); done
  local ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$K8S -X k8s.io/component-base/version.gitTreeState=clean"
  (cd "$src" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$out.tmp/" "${targets[@]}") ||
    fail "building Kubernetes $K8S failed (source copy kept in $src)"
  gcc -Os -static -o "$out.tmp/pause" "$src/build/pause/linux/pause.c" -DVERSION="${K8S}" || fail "building pause.c failed"
  rm -rf "$src" "$out" && mv "$out.tmp" "$out" && touch "$out/.built"
}

# image_tag NAME [KUBEADM]: the tag of kubeadm's image NAME (etcd, coredns) for this Kubernetes, as
# KUBEADM (default: the one just built) lists it, so etcd and CoreDNS are the versions its static
# pods and addons expect.
image_tag() {
  "${2:-$(out_dir kubernetes "$K8S-kubeadm")/kubeadm}" config images list --kubernetes-version "$K8S" 2>/dev/null |
    sed -n "s#.*/$1:\(.*\)#\1#p"
}

# etcd: its server module replaces its sibling modules with ../ paths; use their published versions.
build_etcd() {
  local tag version out src
  tag=$(image_tag etcd); version=v${tag%-*}
  [ "$version" != v ] || fail "kubeadm $K8S lists no etcd image"
  out=$(out_dir etcd "$version")
  [ -f "$out/.built" ] && return
  echo "k8s-build.sh: building etcd $version (once)" >&2
  src=$(module_src go.etcd.io/etcd/server/v3 "$version")
  (cd "$src" && sed -i -E "s#^([[:space:]]*)(go\.etcd\.io/etcd/[a-z0-9/]+) => \.\./.*\$#\1\2 => \2 $version#" go.mod)
  rm -rf "$out.tmp" && mkdir -p "$out.tmp"
  (cd "$src" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out.tmp/etcd" .) ||
    fail "building etcd $version failed (source copy kept in $src)"
  rm -rf "$src" "$out" && mv "$out.tmp" "$out" && touch "$out/.built"
}

build_coredns() {
  local version out src
  version=$(image_tag coredns)
  [ -n "$version" ] || fail "kubeadm $K8S lists no CoreDNS image"
  out=$(out_dir coredns "$version")
  [ -f "$out/.built" ] && return
  echo "k8s-build.sh: building CoreDNS $version (about a minute, once)" >&2
  src=$(module_src github.com/coredns/coredns "$version")
  rm -rf "$out.tmp" && mkdir -p "$out.tmp"
  (cd "$src" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out.tmp/coredns" .) ||
    fail "building CoreDNS $version failed (source copy kept in $src)"
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
  need_go "the lab's CRI proxy (cri-proxy/)"
  echo "k8s-build.sh: building cri-proxy $PROXY (seconds, once)" >&2
  rm -rf "$out.tmp" && mkdir -p "$out.tmp"
  (cd "$ROOT/cri-proxy" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out.tmp/cri-proxy" .) || fail "building cri-proxy failed"
  rm -rf "$out" && mv "$out.tmp" "$out" && touch "$out/.built"
  # Earlier builds of the proxy are of no further use.
  find "$CACHE" -maxdepth 1 -name 'cri-proxy-*' ! -name "cri-proxy-$PROXY" -exec rm -rf {} +
}

# Where official releases come from (overridable for mirrors, and for the tests' stand-in file tree).
K8S_RELEASES=${LAB_K8S_RELEASES:-https://dl.k8s.io/release}
GITHUB=${LAB_GITHUB:-https://github.com}
GITHUB_RAW=${LAB_GITHUB_RAW:-https://raw.githubusercontent.com}
CRIO_ARTIFACTS=${LAB_CRIO_ARTIFACTS:-https://storage.googleapis.com/cri-o/artifacts}
case "$(uname -m)" in x86_64) ARCH=amd64 ;; aarch64 | arm64) ARCH=arm64 ;; *) ARCH=$(uname -m) ;; esac
# pause.c has no published checksum: the one of each Kubernetes release's file, recorded from the
# Go module proxy's k8s.io/kubernetes source.
pause_sha256() {
  case "$1" in
    v1.34.1) echo 14a3fe21ab5f8e62937a2b453e76f3b94b0d3c7c04c3d09bc37195f54c1695ea ;;
    *) echo unknown ;;
  esac
}

# get URL FILE: downloads URL (a failure is quick where the site cannot be reached).
get() { curl -fsSL --connect-timeout 5 --max-time 900 -o "$2" "$1" 2>/dev/null || { why="cannot download $1"; return 1; }; }
# verified FILE SHA256: whether FILE has that checksum.
verified() { [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ] || { why="$1 does not match its published checksum $2"; return 1; }; }

# official_into DIR TMP: the official release binaries into DIR, each verified (downloads in TMP);
# sets `why` when it fails. Runs as an `if` condition, so every step says `|| return 1`.
official_into() {
  local d=$1 t=$2 c f version tag
  for c in $K8S_COMMANDS; do
    get "$K8S_RELEASES/$K8S/bin/linux/$ARCH/$c.sha256" "$t/$c.sha256" || return 1
    get "$K8S_RELEASES/$K8S/bin/linux/$ARCH/$c" "$d/$c" || return 1
    verified "$d/$c" "$(cut -d' ' -f1 "$t/$c.sha256")" || return 1
    chmod 0755 "$d/$c"
  done
  get "$GITHUB_RAW/kubernetes/kubernetes/$K8S/build/pause/linux/pause.c" "$t/pause.c" || return 1
  verified "$t/pause.c" "$(pause_sha256 "$K8S")" || return 1
  gcc -Os -static -o "$d/pause" "$t/pause.c" -DVERSION="$K8S" || { why="cannot build pause.c"; return 1; }
  tag=$(image_tag etcd "$d/kubeadm"); version=v${tag%-*}
  f=etcd-$version-linux-$ARCH.tar.gz
  get "$GITHUB/etcd-io/etcd/releases/download/$version/SHA256SUMS" "$t/etcd.sums" || return 1
  get "$GITHUB/etcd-io/etcd/releases/download/$version/$f" "$t/etcd.tgz" || return 1
  verified "$t/etcd.tgz" "$(awk -v f="$f" '$2 == f {print $1}' "$t/etcd.sums")" || return 1
  tar -xzf "$t/etcd.tgz" -C "$d" --strip-components=1 "etcd-$version-linux-$ARCH/etcd" || { why="no etcd in $f"; return 1; }
  version=$(image_tag coredns "$d/kubeadm"); version=${version#v}
  f=coredns_${version}_linux_$ARCH.tgz
  get "$GITHUB/coredns/coredns/releases/download/v$version/$f.sha256" "$t/coredns.sum" || return 1
  get "$GITHUB/coredns/coredns/releases/download/v$version/$f" "$t/coredns.tgz" || return 1
  verified "$t/coredns.tgz" "$(cut -d' ' -f1 "$t/coredns.sum")" || return 1
  tar -xzf "$t/coredns.tgz" -C "$d" coredns || { why="no coredns in $f"; return 1; }
  f=cri-o.$ARCH.$CRIO.tar.gz
  get "$CRIO_ARTIFACTS/$f.sha256sum" "$t/crio.sum" || return 1
  get "$CRIO_ARTIFACTS/$f" "$t/crio.tgz" || return 1
  verified "$t/crio.tgz" "$(cut -d' ' -f1 "$t/crio.sum")" || return 1
  tar -xzf "$t/crio.tgz" -C "$t" cri-o/bin/crio cri-o/bin/pinns || { why="no crio and pinns in $f"; return 1; }
  mv "$t/cri-o/bin/crio" "$t/cri-o/bin/pinns" "$d/"
  f=crictl-$CRICTL-linux-$ARCH.tar.gz
  get "$GITHUB/kubernetes-sigs/cri-tools/releases/download/$CRICTL/$f.sha256" "$t/crictl.sum" || return 1
  get "$GITHUB/kubernetes-sigs/cri-tools/releases/download/$CRICTL/$f" "$t/crictl.tgz" || return 1
  verified "$t/crictl.tgz" "$(cut -d' ' -f1 "$t/crictl.sum")" || return 1
  tar -xzf "$t/crictl.tgz" -C "$d" crictl || { why="no crictl in $f"; return 1; }
}

# official DIR: official_into with a scratch directory for the downloads.
official() {
  local t rc=0
  t=$(mktemp -d "$CACHE/dl.XXXXXX")
  official_into "$1" "$t" || rc=1
  rm -rf "$t"
  return $rc
}

mkdir -p "$CACHE"
build_cri_proxy
why=
if [ ! -x "$BIN/kubeadm" ] && [ "${LAB_K8S_OFFICIAL:-1}" != 0 ]; then
  rm -rf "$BIN.tmp" && mkdir -p "$BIN.tmp"
  if official "$BIN.tmp"; then
    echo "official release binaries (Kubernetes $K8S, CRI-O $CRIO, crictl $CRICTL, etcd, CoreDNS), checksums verified" >"$BIN.tmp/SOURCE"
    rm -rf "$BIN" && mv "$BIN.tmp" "$BIN"
    echo "k8s-build.sh: using the official release binaries (checksums verified)" >&2
  else
    rm -rf "$BIN.tmp"
    echo "k8s-build.sh: no official release binaries ($why): building them from the Go module proxy" >&2
  fi
fi
if [ ! -x "$BIN/kubeadm" ]; then
  # LAB_K8S_BUILD=0: official binaries or nothing (the tests check the downloads this way).
  [ "${LAB_K8S_BUILD:-1}" != 0 ] || fail "no official release binaries ($why), and LAB_K8S_BUILD=0 forbids building them"
  need_go "Kubernetes and CRI-O from the Go module proxy"
  build_kubernetes
  build_etcd
  build_coredns
  build_crio
  build_crictl
  rm -rf "$BIN.tmp" && mkdir -p "$BIN.tmp"
  k=$(out_dir kubernetes "$K8S-kubeadm")
  tag=$(image_tag etcd)
  for f in "$k"/* "$(out_dir etcd "v${tag%-*}")/etcd" "$(out_dir coredns "$(image_tag coredns)")/coredns" \
    "$(out_dir cri-o "$CRIO")"/{crio,pinns} "$(out_dir cri-tools "$CRICTL")/crictl"; do
    cp -l "$f" "$BIN.tmp/" 2>/dev/null || cp "$f" "$BIN.tmp/"
  done
  echo "built from the Go module proxy${why:+ ($why)}" >"$BIN.tmp/SOURCE"
  rm -rf "$BIN" && mv "$BIN.tmp" "$BIN"
  # Builds of the layout before kubeadm (no kubeadm in them) are of no further use.
  rm -rf "$CACHE"/bin-k8s-* "$(out_dir kubernetes "$K8S")"
fi
# The proxy in place: a rename, so a running proxy keeps its own file until it restarts.
cp "$(out_dir cri-proxy "$PROXY")/cri-proxy" "$BIN/.cri-proxy.tmp" && mv -f "$BIN/.cri-proxy.tmp" "$BIN/cri-proxy"
echo "$PROXY" >"$BIN/cri-proxy.digest"
echo "$BIN"
