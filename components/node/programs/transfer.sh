#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: the transfer step of a migration, on the target. Pulls the checkpoint archive
# from the source over the lab network into the root-only archive directory and checks its sha256 on
# both ends; a copy cut short (network, full disk) is removed. The lab's SSH key comes on stdin.
# Inputs: ID, ARCHIVE (on the source), DEST (on the target), PEER_HOST, PEER_PORT, PEER_USER.
# Libraries: node/programs/peer.sh. Prints archive, sha256, sizeBytes, startedAt, seconds.
work=$(mktemp -d); trap 'rm -rf "$work"; rm -f "$DEST.part"' EXIT
peer_key "$work"
started=$(date +%s%3N); start=$(date +%s.%N)
# The source's digest is read while the copy streams (two readers of a file in the page cache);
# hashing the copy afterwards measured faster here than hashing it in flight through a pipe.
peer "sha256sum $(printf '%q' "$ARCHIVE")" >"$work/source.sum" & summing=$!
(umask 077; peer "cat $(printf '%q' "$ARCHIVE")" >"$DEST.part")
dst_sum=$(sha256sum "$DEST.part" | cut -d' ' -f1)
wait "$summing" || { echo "could not read the digest of $ARCHIVE on the source" >&2; exit 1; }
src_sum=$(cut -d' ' -f1 "$work/source.sum")
if [ "$src_sum" != "$dst_sum" ]; then echo "digest mismatch for ${ID}: source $src_sum, copy $dst_sum; the source archive is kept" >&2; rm -f "$DEST.part"; exit 1; fi
chmod 0600 "$DEST.part" && mv -f "$DEST.part" "$DEST"
printf '{"archive":"%s","sha256":"%s","sizeBytes":%s,"startedAt":%s,"seconds":%s}\n' "$DEST" "$dst_sum" "$(stat -c %s "$DEST")" "$started" "$(elapsed "$start")"
