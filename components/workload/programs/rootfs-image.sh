#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: builds a workload's image in the node's image store from a Debian rootfs tar
# that scripts/rootfs-build.sh made on the host (seen read-only in /opt/lab/images). Rebuilds only
# when the tar changed. `--timestamp 0` makes every node's image id the same, which a restore needs:
# a checkpoint archive names its base image by id.
# Inputs: TAR (TAR.sha256 beside it is its digest, the image's label), IMAGE, LABEL, BUILD (the
# command that makes the tar on the host, for the error). Prints image, id, built, seconds.
start=$(date +%s.%N)
[ -s "$TAR.sha256" ] || { echo "no rootfs for ${IMAGE} at $TAR on $(hostname): run \`${BUILD}\` on the host (scripts/lab.sh up does it for the stack's workloads)" >&2; exit 1; }
SHA256=$(cat "$TAR.sha256")
have=$(buildah inspect --type image --format "{{index .OCIv1.Config.Labels \"$LABEL\"}}" "$IMAGE" 2>/dev/null || true)
built=false
if [ "$have" != "$SHA256" ]; then
  c=$(buildah from scratch)
  trap 'buildah rm "$c" >/dev/null 2>&1 || true' EXIT
  buildah add --quiet "$c" "$TAR" / >/dev/null
  buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd '["bash"]' --label "$LABEL=$SHA256" "$c"
  buildah commit --quiet --timestamp 0 "$c" "$IMAGE" >/dev/null
  built=true
fi
id=$(buildah inspect --type image --format '{{.FromImageID}}' "$IMAGE")
printf '{"image":"%s","id":"%s","built":%s,"seconds":%s}\n' "$IMAGE" "$id" "$built" "$(elapsed "$start")"
