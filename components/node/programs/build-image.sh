#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: builds an image in the node's image store, with no registry: a root filesystem
# tar made on the host (a Debian rootfs: scripts/rootfs-build.sh), seen read-only under
# /opt/lab/images, plus optionally a directory added at a path. Rebuilds only when the inputs'
# digest (the image's label) changed. `--timestamp 0` makes every node's image id the same, which a
# restore needs: a checkpoint archive names its base image by id.
# Inputs: TAR, DIGEST (a file holding the inputs' digest), IMAGE, LABEL, ADD_DIR and ADD_TO (a
# directory and where it goes in the image; empty: none), ENVS (K=V per line), WORKDIR (or empty),
# MISSING (the error when TAR or DIGEST is not there: what makes them). Prints image, id, inputs,
# built, seconds.
start=$(date +%s.%N)
if [ ! -s "$DIGEST" ] || [ ! -f "$TAR" ]; then echo "no inputs for ${IMAGE} on $(hostname) ($TAR): $MISSING" >&2; exit 1; fi
want=$(cat "$DIGEST")
have=$(buildah inspect --type image --format "{{index .OCIv1.Config.Labels \"$LABEL\"}}" "$IMAGE" 2>/dev/null || true)
built=false
if [ "$have" != "$want" ]; then
  c=$(buildah from scratch)
  trap 'buildah rm "$c" >/dev/null 2>&1 || true' EXIT
  buildah add --quiet "$c" "$TAR" / >/dev/null
  if [ -n "$ADD_DIR" ]; then buildah add --quiet "$c" "$ADD_DIR" "$ADD_TO" >/dev/null; fi
  config=(--env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd '["bash"]' --label "$LABEL=$want")
  while read -r env; do [ -z "$env" ] || config+=(--env "$env"); done <<<"$ENVS"
  if [ -n "$WORKDIR" ]; then config+=(--workingdir "$WORKDIR"); fi
  buildah config "${config[@]}" "$c"
  buildah commit --quiet --timestamp 0 "$c" "$IMAGE" >/dev/null
  built=true
fi
id=$(buildah inspect --type image --format '{{.FromImageID}}' "$IMAGE")
printf '{"image":"%s","id":"%s","inputs":"%s","built":%s,"seconds":%s}\n' "$IMAGE" "$id" "$want" "$built" "$(elapsed "$start")"
