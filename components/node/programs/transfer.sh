#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: the transfer step of a migration, on the target. Starts with the checkpoint:
# the source sends each archive while CRI-O writes it (migration/programs/archive-stream.py, run
# over SSH), one container after the other in the order the checkpoint step asks for them, straight
# into a 0600 file in the root-only archive directory; all are put in place (renamed) only once each
# is as long as the source says it sent. SSH's AES-GCM authenticates every byte on the way; the
# cutover compares both ends' sha256 before it commits, outside the frozen window. A copy cut short
# (network, full disk) is removed; the source's archives are kept. The lab's SSH key comes on stdin.
# Inputs: ID, HOLD (the hop's hold directory on the source), SOURCE_DIR (where the source's kubelet
# writes archives), NAMES and PREFIXES (newline-separated: the pod's containers and the start of each
# one's archive name there), TIMEOUT (seconds for the checkpoint to come), or ARCHIVE (an archive
# already written on the source: copied as it is), DESTS (newline-separated, one per container: where
# each lands on the target), PY_STREAM (archive-stream.py's text), PY_SPLIT (archive-split.py's
# text: each archive is split on arrival, its page images apart in DEST.images, for a restore
# straight from the archive; empty: kept whole), PEER_HOST, PEER_PORT, PEER_USER, FENCE (the
# restored pod's fence file, or empty) and MAX_PAUSE (the source's hold, seconds): the fence
# (fence.sh) is written before the archives are in place, so the copy restored from them never runs
# past the source's hold; it names each DEST.images.
# Libraries: node/programs/peer.sh. Prints archive, sourceArchive, sizeBytes (all archives), startedAt
# (the first byte sent, ms), seconds (from then to the archives in place), and archives (each
# container's archive, sourceArchive, sizeBytes).
mapfile -t dests <<<"${DESTS:?}"; mapfile -t names <<<"${NAMES?}"; mapfile -t prefixes <<<"${PREFIXES?}"
work=$(mktemp -d)
cleanup() {
  local d
  rm -rf "$work"
  for d in "${dests[@]}"; do rm -f "$d.part"; [ -e "$d" ] || rm -rf "$d.images" "$d.split"; done
}
trap cleanup EXIT
peer_key "$work"
for d in "${dests[@]}"; do rm -rf "$d.part" "$d.images" "$d.split"; done
# receive K: the K-th archive from the source into dests[K].part (split on arrival with PY_SPLIT);
# prints "SOURCE_PATH SIZE FIRST_BYTE PAUSED".
receive() {
  local k=$1 dest=${dests[$1]} args sent got rc=0
  if [ -n "$ARCHIVE" ]; then args=(send-file "$ARCHIVE"); else args=(send "$HOLD" "$SOURCE_DIR" "${prefixes[k]}" "$TIMEOUT" "${names[k]}"); fi
  send() { peer "python3 -c $(printf '%q' "$PY_STREAM") $(printf '%q ' "${args[@]}")" 2>"$work/sent.$k"; }
  if [ -n "$PY_SPLIT" ]; then
    # Split on arrival (archive-split.py): CRIU's page images into DEST.images, the rest into DEST.
    (set -o pipefail; umask 077; send | python3 -c "$PY_SPLIT" receive "$dest" >"$work/received.$k" 2>"$work/split.$k") || rc=$?
  else
    (umask 077; send >"$dest.part") || rc=$?
  fi
  if [ "$rc" -ne 0 ]; then
    why=$(grep -v '^{' "$work/sent.$k" | tail -n3 | tr '\n' ' '); [ -n "$why" ] || why=$(tail -n3 "$work/split.$k" 2>/dev/null | tr '\n' ' ')
    what=""; [ "${#dests[@]}" -le 1 ] || what=" of container ${names[k]}"
    echo "transfer ${ID}: sending the archive${what} from ${PEER_HOST} failed: $why" >&2; exit 1
  fi
  sent=$(grep '^{' "$work/sent.$k" | tail -n1) || true
  [ -n "$sent" ] || { echo "transfer ${ID}: the source said nothing of what it sent: $(tail -n3 "$work/sent.$k" | tr '\n' ' ')" >&2; exit 1; }
  read -r src_path src_size first paused < <(python3 -c 'import json, sys; d = json.loads(sys.argv[1]); print(d["archive"], d["sizeBytes"], d["firstByteAt"], d.get("pausedAt", 0))' "$sent")
  if [ -n "$PY_SPLIT" ]; then got=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["sizeBytes"])' <"$work/received.$k"); else got=$(stat -c %s "$dest.part"); fi
  [ "$got" = "$src_size" ] || { echo "transfer ${ID}: $src_path sent as $src_size bytes, $got arrived; the source archive is kept" >&2; exit 1; }
  echo "$src_path $got $first $paused"
}
srcs=(); sizes=(); first=0; paused=0
for k in "${!dests[@]}"; do
  read -r src size at pause < <(receive "$k") || exit 1
  [ -n "${src:-}" ] || exit 1
  srcs+=("$src"); sizes+=("$size")
  if [ "$k" -eq 0 ]; then first=$at; paused=$pause; fi
done
if [ -n "$FENCE" ]; then
  # No pause known (an archive sent as it was): the hold is counted from now, which is later than
  # the source's, so the fence is 5 s shorter still.
  [ "$paused" -gt 0 ] || paused=$(( $(date +%s%3N) - 5000 ))
  install -d -m 0700 "${FENCE%/*}"; rm -f "$FENCE".*
  printf 'deadline=%s\nid=%s\n' "$(( paused + MAX_PAUSE * 1000 - 2000 ))" "$ID" >"$FENCE"
  # Where each container's page images are: the runtime wrapper has runc restore from there.
  if [ -n "$PY_SPLIT" ]; then
    for k in "${!dests[@]}"; do
      if [ -n "${names[k]}" ]; then printf 'images.%s=%s\n' "${names[k]}" "${dests[k]}.images"; else printf 'images=%s\n' "${dests[k]}.images"; fi
    done >>"$FENCE"
  fi
fi
for d in "${dests[@]}"; do mv -f "$d.part" "$d"; done
now=$(date +%s%3N)
list=$(for k in "${!dests[@]}"; do printf '{"container":"%s","archive":"%s","sourceArchive":"%s","sizeBytes":%s},' "${names[k]}" "${dests[k]}" "${srcs[k]}" "${sizes[k]}"; done)
total=0; for s in "${sizes[@]}"; do total=$((total + s)); done
printf '{"archive":"%s","sourceArchive":"%s","sizeBytes":%s,"startedAt":%s,"seconds":%s,"archives":[%s]}\n' \
  "${dests[0]}" "${srcs[0]}" "$total" "$first" "$(awk -v a="$first" -v b="$now" 'BEGIN { printf "%.3f", (b - a) / 1000 }')" "${list%,}"
