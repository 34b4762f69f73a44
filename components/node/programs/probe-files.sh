#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: what drift review reads from a node (drift.ts): for each path, one line
# "<sha256> <mtime> <path>", or "absent - <path>". Input: PATHS (one per line).
while IFS= read -r p; do
  [ -n "$p" ] || continue
  if [ -f "$p" ]; then printf '%s %s %s\n' "$(sha256sum "$p" | cut -d' ' -f1)" "$(stat -c %Y "$p")" "$p"; else printf 'absent - %s\n' "$p"; fi
done <<<"$PATHS"
