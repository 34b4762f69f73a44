#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: turns a checkpoint archive into a local image CRI-O restores from (buildah, no
# registry), labelled with the archive's digest; an image made from another archive (an earlier
# attempt) is made again. Inputs: ARCHIVE, IMAGE, CONTAINER, LABEL. Prints image, id,
# startedAt, seconds.
started=$(date +%s%3N); start=$(date +%s.%N)
sum=$(sha256sum "$ARCHIVE" | cut -d" " -f1)
have=$(buildah inspect --type image --format "{{index .OCIv1.Config.Labels \"$LABEL\"}}" "$IMAGE" 2>/dev/null || echo absent)
if [ "$have" != "$sum" ]; then
  if [ "$have" != absent ]; then buildah rmi "$IMAGE" >/dev/null || { echo "$IMAGE is from another archive and still in use; remove the pod using it" >&2; exit 1; }; fi
  c=$(buildah from scratch)
  trap 'buildah rm "$c" >/dev/null 2>&1 || true' EXIT
  buildah add "$c" "$ARCHIVE" / >/dev/null
  buildah config --annotation=io.kubernetes.cri-o.annotations.checkpoint.name="$CONTAINER" --label "$LABEL=$sum" "$c"
  buildah commit -q "$c" "$IMAGE" >/dev/null
fi
printf '{"image":"%s","id":"%s","startedAt":%s,"seconds":%s}\n' "$IMAGE" "$(buildah inspect --type image --format '{{.FromImageID}}' "$IMAGE")" "$started" "$(elapsed "$start")"
