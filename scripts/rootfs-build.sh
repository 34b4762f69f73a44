#!/usr/bin/env bash
# A Debian root filesystem with some packages, as a tar: what the local lab's images are built from
# (no registry is reachable: nodes build each image with buildah from such a tar).
#
#   rootfs-build.sh NAME PACKAGE...       build $CACHE/NAME.tar once (debootstrap minbase of sid with
#                                         the packages); print one JSON line: tar, sha256, built
#   rootfs-build.sh --workload PACKAGE... the same, named as the program names a workload image's
#                                         rootfs (components/workload/pod.ts rootfsName): rootfs-sid-
#                                         and the first 16 hex digits of the sha256 of the sorted,
#                                         distinct package names, one per line
#
# NAME is the cache key: callers put what decides the content in it (suite and packages). The tar
# is sorted and written with numeric owners, and its digest sits beside it (NAME.tar.sha256).
# $CACHE is scripts/flink-build.sh --root's directory, which the local lab's nodes see read-only at
# /opt/lab/images.
set -euo pipefail

CACHE=${LAB_IMAGES_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/live-migration-lab/images}
SUITE=${LAB_DEBIAN_SUITE:-sid}
MIRROR=${LAB_DEBIAN_MIRROR:-http://deb.debian.org/debian}

fail() { echo "rootfs-build.sh: $*" >&2; exit 1; }

NAME=${1:?usage: rootfs-build.sh NAME PACKAGE... | --workload PACKAGE...}; shift
if [ "$NAME" = --workload ]; then NAME="rootfs-$SUITE-$(printf '%s\n' "$@" | LC_ALL=C sort -u | sha256sum | cut -c1-16)"; fi
[[ $NAME =~ ^[a-z0-9][a-z0-9.+-]*$ ]] || fail "not a cache name: $NAME"
[ "$#" -gt 0 ] || fail "no packages given for $NAME"
for p in "$@"; do [[ $p =~ ^[a-z0-9][a-z0-9+.-]+$ ]] || fail "not a Debian package name: $p"; done
mkdir -p "$CACHE"
tar="$CACHE/$NAME.tar"
built=false
# One build at a time per name (two `pulumi up`s, or the Flink inputs and a workload's image).
exec 9>"$tar.lock"; flock 9
if [ ! -s "$tar.sha256" ]; then
  [ "$(id -u)" = 0 ] || fail "building a rootfs needs root (debootstrap)"
  command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null ||
    fail "needs debootstrap (apt-get install debootstrap)"
  echo "rootfs-build.sh: building the $SUITE rootfs with $* into $tar (once)" >&2
  dir=$(mktemp -d "$CACHE/rootfs.XXXXXX")
  include=$(IFS=,; echo "$*")
  debootstrap --variant=minbase --include="$include" "$SUITE" "$dir" "$MIRROR" >"$tar.log" 2>&1 ||
    { rm -rf "$dir"; tail -n 20 "$tar.log" >&2; fail "debootstrap of $SUITE with $* failed (log: $tar.log)"; }
  # Nothing an image needs at run time: package caches, documentation, device nodes.
  rm -rf "${dir:?}"/var/cache/apt/* "${dir:?}"/var/lib/apt/lists/* "${dir:?}"/usr/share/doc/* "${dir:?}"/usr/share/man/* "${dir:?}"/dev/*
  tar -C "$dir" --sort=name --numeric-owner -cf "$tar.tmp" .
  rm -rf "$dir"
  mv "$tar.tmp" "$tar"
  sha256sum "$tar" | cut -d' ' -f1 >"$tar.sha256"
  built=true
fi
printf '{"tar":"%s","sha256":"%s","built":%s}\n' "$tar" "$(cat "$tar.sha256")" "$built"
