#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: the transfer step of a migration, on the target. Starts with the checkpoint:
# the source sends the archive while CRI-O writes it (migration/programs/archive-stream.py, run over
# SSH), straight into a 0600 file in the root-only archive directory, put in place (renamed) only
# when as long as the source says it sent. SSH's AES-GCM authenticates every byte on the way; the
# cutover compares both ends' sha256 before it commits, outside the frozen window. A copy cut short
# (network, full disk) is removed; the source's archive is kept. The lab's SSH key comes on stdin.
# Inputs: ID, HOLD (the hop's hold directory on the source), SOURCE_DIR and PREFIX (where and under
# which name the source's kubelet writes the archive), TIMEOUT (seconds for the checkpoint to come),
# or ARCHIVE (an archive already written on the source: copied as it is), DEST (on the target),
# PY_STREAM (archive-stream.py's text), PY_SPLIT (archive-split.py's text: the archive is split on
# arrival, its page images apart in DEST.images, for a restore straight from the archive; empty:
# kept whole), PEER_HOST, PEER_PORT, PEER_USER, FENCE (the restored pod's fence file, or empty) and
# MAX_PAUSE (the source's hold, seconds): the fence (fence.sh) is written before the archive is in
# place, so the copy restored from it never runs past the source's hold; it names DEST.images.
# Libraries: node/programs/peer.sh. Prints archive, sourceArchive, sizeBytes, startedAt (the first
# byte sent, ms), seconds (from then to the archive in place).
work=$(mktemp -d); trap 'rm -rf "$work"; rm -f "$DEST.part"; [ -e "$DEST" ] || rm -rf "$DEST.images" "$DEST.split"' EXIT
peer_key "$work"
rm -rf "$DEST.part" "$DEST.images" "$DEST.split"
if [ -n "$ARCHIVE" ]; then args=(send-file "$ARCHIVE"); else args=(send "$HOLD" "$SOURCE_DIR" "$PREFIX" "$TIMEOUT"); fi
send() { peer "python3 -c $(printf '%q' "$PY_STREAM") $(printf '%q ' "${args[@]}")" 2>"$work/sent"; }
if [ -n "$PY_SPLIT" ]; then
  # Split on arrival (archive-split.py): CRIU's page images into DEST.images, the rest into DEST.
  (set -o pipefail; umask 077; send | python3 -c "$PY_SPLIT" receive "$DEST" >"$work/received" 2>"$work/split") || rc=$?
else
  (umask 077; send >"$DEST.part") || rc=$?
fi
if [ "${rc:-0}" -ne 0 ]; then
  why=$(grep -v '^{' "$work/sent" | tail -n3 | tr '\n' ' '); [ -n "$why" ] || why=$(tail -n3 "$work/split" 2>/dev/null | tr '\n' ' ')
  echo "transfer ${ID}: sending the archive from ${PEER_HOST} failed: $why" >&2; exit 1
fi
sent=$(grep '^{' "$work/sent" | tail -n1) || true
[ -n "$sent" ] || { echo "transfer ${ID}: the source said nothing of what it sent: $(tail -n3 "$work/sent" | tr '\n' ' ')" >&2; exit 1; }
read -r src_path src_size first paused < <(python3 -c 'import json, sys; d = json.loads(sys.argv[1]); print(d["archive"], d["sizeBytes"], d["firstByteAt"], d.get("pausedAt", 0))' "$sent")
if [ -n "$PY_SPLIT" ]; then got=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["sizeBytes"])' <"$work/received"); else got=$(stat -c %s "$DEST.part"); fi
[ "$got" = "$src_size" ] || { echo "transfer ${ID}: $src_path sent as $src_size bytes, $got arrived; the source archive is kept" >&2; exit 1; }
if [ -n "$FENCE" ]; then
  # No pause known (an archive sent as it was): the hold is counted from now, which is later than
  # the source's, so the fence is 5 s shorter still.
  [ "$paused" -gt 0 ] || paused=$(( $(date +%s%3N) - 5000 ))
  install -d -m 0700 "${FENCE%/*}"; rm -f "$FENCE".*
  printf 'deadline=%s\nid=%s\n' "$(( paused + MAX_PAUSE * 1000 - 2000 ))" "$ID" >"$FENCE"
  # Where the page images are: the runtime wrapper has runc restore from there.
  if [ -n "$PY_SPLIT" ]; then printf 'images=%s\n' "$DEST.images" >>"$FENCE"; fi
fi
mv -f "$DEST.part" "$DEST"
now=$(date +%s%3N)
printf '{"archive":"%s","sourceArchive":"%s","sizeBytes":%s,"startedAt":%s,"seconds":%s}\n' \
  "$DEST" "$src_path" "$got" "$first" "$(awk -v a="$first" -v b="$now" 'BEGIN { printf "%.3f", (b - a) / 1000 }')"
