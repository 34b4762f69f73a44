#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: builds the local lab's own images on a node with buildah (once per name), so
# pods never pull (there is no registry): pause from the lab's binaries (/opt/lab/bin/pause) and a
# busybox image from the node's busybox. Reproducible: every node must hold the same image id,
# because a checkpoint archive names its container's base image by id and restores only on top of
# that very image. Inputs: PAUSE_IMAGE, BUSYBOX_IMAGE. Prints both image ids.
# build IMAGE STEP...: runs each STEP (a function taking the working container) on a new image.
build() {
  local image=$1 c step; shift
  buildah inspect --type image "$image" >/dev/null 2>&1 && return 0
  c=$(buildah from scratch)
  for step in "$@"; do "$step" "$c"; done
  buildah commit --quiet --timestamp 0 "$c" "$image" >/dev/null
  buildah rm "$c" >/dev/null
}
pause_files() { buildah copy "$1" /opt/lab/bin/pause /pause >/dev/null; buildah config --entrypoint '["/pause"]' "$1"; }
busybox_files() {
  local d a
  buildah copy "$1" /bin/busybox /bin/busybox >/dev/null
  d=$(mktemp -d); mkdir "$d/bin"
  for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$d/bin/$a"; done
  buildah copy "$1" "$d/bin" /bin >/dev/null; rm -rf "$d"
  buildah config --cmd '["/bin/sh"]' --env PATH=/bin "$1"
}
build "$PAUSE_IMAGE" pause_files
build "$BUSYBOX_IMAGE" busybox_files
printf '{"pause":"%s","busybox":"%s"}\n' "$(buildah inspect --type image --format '{{.FromImageID}}' "$PAUSE_IMAGE")" "$(buildah inspect --type image --format '{{.FromImageID}}' "$BUSYBOX_IMAGE")"
