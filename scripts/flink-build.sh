#!/usr/bin/env bash
# The local lab's Flink image inputs: Flink's jars from Maven Central, a JRE from Debian.
#
#   flink-build.sh FLINK_VERSION   build what is missing; print that version's directory
#   flink-build.sh --root          print the images directory (nodes see it read-only at /opt/lab/images)
#
# flink-dist (the distribution jar with bin/ and conf/) is not on Maven Central, so the image runs
# Flink from the jars images/flink/pom.xml resolves, plus the streaming examples jar, and starts its
# JVMs itself (components/flink/flink.ts renders the entrypoint). Each node builds the image from these
# files with buildah (components/flink/flinkImage.ts); `buildah commit --timestamp 0` makes the image id
# the same on every node, which a restore needs (an archive names its base image by id).
#
# Layout, kept between runs:
#   $CACHE/jre-sid-openjdk-17-jre-headless.tar   Debian sid minbase + the JRE, as a tar (+ .sha256)
#   $CACHE/flink-VERSION/flink/{lib,examples/streaming}   what goes to /opt/flink
#   $CACHE/flink-VERSION/jre.tar                  a link to the JRE tar
#   $CACHE/flink-VERSION/inputs.sha256            digest of all of it, the image's label
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${LAB_IMAGES_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/live-migration-lab/images}
SUITE=sid
JRE=openjdk-17-jre-headless
RECIPE="$ROOT/images/flink"

fail() { echo "flink-build.sh: $*" >&2; exit 1; }
log() { echo "flink-build.sh: $*" >&2; }

if [ "${1:-}" = --root ]; then mkdir -p "$CACHE"; echo "$CACHE"; exit 0; fi
VERSION=${1:?usage: flink-build.sh FLINK_VERSION | --root}
[[ $VERSION =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "not a Flink release: $VERSION"
mkdir -p "$CACHE"

# jre_rootfs: the image's root filesystem, built once per suite and JRE package (rootfs-build.sh).
jre_rootfs() {
  LAB_IMAGES_CACHE=$CACHE LAB_DEBIAN_SUITE=$SUITE bash "$ROOT/scripts/rootfs-build.sh" "jre-$SUITE-$JRE" "$JRE" >/dev/null || fail "the JRE rootfs could not be built"
  echo "$CACHE/jre-$SUITE-$JRE.tar"
}

# ensure_maven: Maven and a JDK from Debian when the host has none.
ensure_maven() {
  command -v mvn >/dev/null && command -v java >/dev/null && return
  log "installing Debian's maven"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq maven >/dev/null || fail "needs Maven (apt-get install maven)"
}

# flink_files VERSION: /opt/flink's content, resolved by Maven; rebuilt when the recipe changes.
flink_files() {
  local out="$CACHE/flink-$1" recipe tmp
  recipe=$(sha256sum <"$RECIPE/pom.xml" | cut -c1-16)
  if [ "$(cat "$out/recipe" 2>/dev/null)" != "$recipe" ]; then
    ensure_maven
    log "resolving Flink $1 from Maven Central into $out"
    tmp=$(mktemp -d "$CACHE/flink.XXXXXX")
    chmod 755 "$tmp"
    mkdir -p "$tmp/flink/lib" "$tmp/flink/examples/streaming"
    mvn -B -q -f "$RECIPE/pom.xml" -Dflink.version="$1" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$tmp/flink/lib" >"$tmp.log" 2>&1 ||
      { tail -n 30 "$tmp.log" >&2; rm -rf "$tmp"; fail "Maven could not resolve Flink $1 (log: $tmp.log)"; }
    mvn -B -q -f "$RECIPE/pom.xml" dependency:copy -Dartifact="org.apache.flink:flink-examples-streaming:$1" \
      -DoutputDirectory="$tmp/flink/examples/streaming" >>"$tmp.log" 2>&1 ||
      { tail -n 30 "$tmp.log" >&2; rm -rf "$tmp"; fail "Maven could not fetch flink-examples-streaming $1 (log: $tmp.log)"; }
    mv "$tmp/flink/examples/streaming/flink-examples-streaming-$1.jar" "$tmp/flink/examples/streaming/flink-examples-streaming.jar"
    echo "$recipe" >"$tmp/recipe"
    rm -rf "$out" "$tmp.log" && mv "$tmp" "$out"
  fi
  echo "$out"
}

jre=$(jre_rootfs)
out=$(flink_files "$VERSION")
# The inputs' digest: the JRE tar's and every file of /opt/flink, by path.
inputs=$({ cat "$jre.sha256"; (cd "$out/flink" && find . -type f -print0 | sort -z | xargs -0 sha256sum); } | sha256sum | cut -d' ' -f1)
[ "$(cat "$out/inputs.sha256" 2>/dev/null)" = "$inputs" ] || echo "$inputs" >"$out/inputs.sha256"
ln -sfn "../${jre##*/}" "$out/jre.tar"
echo "$out"
