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
# PY_STREAM (archive-stream.py's text), PEER_HOST, PEER_PORT, PEER_USER, FENCE (the restored pod's
# fence file, or empty) and MAX_PAUSE (the source's hold, seconds): the fence (fence.sh) is written
# before the archive is in place, so the copy restored from it never runs past the source's hold.
# Libraries: node/programs/peer.sh. Prints archive, sourceArchive, sizeBytes, startedAt (the first
# byte sent, ms), seconds (from then to the archive in place).
work=$(mktemp -d); trap 'rm -rf "$work"; rm -f "$DEST.part"' EXIT
peer_key "$work"
rm -f "$DEST.part"
if [ -n "$ARCHIVE" ]; then args=(send-file "$ARCHIVE"); else args=(send "$HOLD" "$SOURCE_DIR" "$PREFIX" "$TIMEOUT"); fi
if ! (umask 077; peer "python3 -c $(printf '%q' "$PY_STREAM") $(printf '%q ' "${args[@]}")" >"$DEST.part" 2>"$work/sent"); then
  echo "transfer ${ID}: sending the archive from ${PEER_HOST} failed: $(grep -v '^{' "$work/sent" | tail -n3 | tr '\n' ' ')" >&2; exit 1
fi
sent=$(grep '^{' "$work/sent" | tail -n1) || true
[ -n "$sent" ] || { echo "transfer ${ID}: the source said nothing of what it sent: $(tail -n3 "$work/sent" | tr '\n' ' ')" >&2; exit 1; }
read -r src_path src_size first paused < <(python3 -c 'import json, sys; d = json.loads(sys.argv[1]); print(d["archive"], d["sizeBytes"], d["firstByteAt"], d.get("pausedAt", 0))' "$sent")
got=$(stat -c %s "$DEST.part")
[ "$got" = "$src_size" ] || { echo "transfer ${ID}: $src_path sent as $src_size bytes, $got arrived; the source archive is kept" >&2; exit 1; }
if [ -n "$FENCE" ]; then
  # No pause known (an archive sent as it was): the hold is counted from now, which is later than
  # the source's, so the fence is 5 s shorter still.
  [ "$paused" -gt 0 ] || paused=$(( $(date +%s%3N) - 5000 ))
  install -d -m 0700 "${FENCE%/*}"; rm -f "$FENCE".*
  printf 'deadline=%s\nid=%s\n' "$(( paused + MAX_PAUSE * 1000 - 2000 ))" "$ID" >"$FENCE"
fi
mv -f "$DEST.part" "$DEST"
now=$(date +%s%3N)
printf '{"archive":"%s","sourceArchive":"%s","sizeBytes":%s,"startedAt":%s,"seconds":%s}\n' \
  "$DEST" "$src_path" "$got" "$first" "$(awk -v a="$first" -v b="$now" 'BEGIN { printf "%.3f", (b - a) / 1000 }')"
