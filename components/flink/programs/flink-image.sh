#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: builds the local lab's Flink image in the node's image store from the inputs
# scripts/flink-build.sh made on the host (Debian's JRE as a rootfs tar, Flink's jars from Maven
# Central), seen read-only in SRC. Rebuilds only when the inputs changed. `--timestamp 0` makes every
# node's image id the same, which a restore needs: a checkpoint archive names its base image by id.
# Inputs: SRC, IMAGE, VERSION, FLINK_HOME, LABEL. Prints image, id, inputs, built, seconds.
start=$(date +%s.%N)
if [ ! -s "$SRC/inputs.sha256" ] || [ ! -f "$SRC/jre.tar" ]; then echo "no inputs for the Flink ${VERSION} image in $SRC on $(hostname): run scripts/flink-build.sh ${VERSION} on the host (scripts/lab.sh up does)" >&2; exit 1; fi
want=$(cat "$SRC/inputs.sha256")
have=$(buildah inspect --type image --format "{{index .OCIv1.Config.Labels \"$LABEL\"}}" "$IMAGE" 2>/dev/null || true)
built=false
if [ "$have" != "$want" ]; then
  c=$(buildah from scratch)
  trap 'buildah rm "$c" >/dev/null 2>&1 || true' EXIT
  buildah add --quiet "$c" "$SRC/jre.tar" / >/dev/null
  buildah add --quiet "$c" "$SRC/flink" "$FLINK_HOME" >/dev/null
  buildah config --env FLINK_HOME="$FLINK_HOME" --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --workingdir "$FLINK_HOME" --cmd '["bash"]' --label "$LABEL=$want" "$c"
  buildah commit --quiet --timestamp 0 "$c" "$IMAGE" >/dev/null
  built=true
fi
id=$(buildah inspect --type image --format '{{.FromImageID}}' "$IMAGE")
printf '{"image":"%s","id":"%s","inputs":"%s","built":%s,"seconds":%s}\n' "$IMAGE" "$id" "$want" "$built" "$(elapsed "$start")"
