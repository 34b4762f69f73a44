#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: what drift review reads from a node (drift.ts): for each path, one line
# "<sha256> <mtime> <path>", "absent - <path>", or "host <sha256> <path>" for a file the program
# has no record of writing (the host's own, which the first write keeps aside: write-file.sh).
# A path ending in "/" is a directory the program makes its own (private-dir.sh): "own - <path>",
# "absent - <path>", "empty - <path>", or "foreign <entries> <path>" when it holds files the program
# did not write. Then "crio-restore-switch <key>": the restore switch the node's crio binary reads
# (crio-switch.sh), and "cgroup v1|v2". Inputs: PATHS (one per line), KEEP (the program's record of the files it wrote).
# Libraries: node/programs/crio-switch.sh.
while IFS= read -r p; do
  [ -n "$p" ] || continue
  if [ "${p%/}" != "$p" ]; then
    d=${p%/}
    if [ ! -e "$d" ]; then printf 'absent - %s\n' "$p"
    elif [ -f "$d/.live-migration-lab" ]; then printf 'own - %s\n' "$p"
    else n=$(find "$d" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l); if [ "$n" -eq 0 ]; then printf 'empty - %s\n' "$p"; else printf 'foreign %s %s\n' "$n" "$p"; fi; fi
  elif [ ! -f "$p" ]; then printf 'absent - %s\n' "$p"
  elif [ ! -e "$KEEP/owned$p" ]; then printf 'host %s %s\n' "$(sha256sum "$p" | cut -d' ' -f1)" "$p"
  else printf '%s %s %s\n' "$(sha256sum "$p" | cut -d' ' -f1)" "$(stat -c %Y "$p")" "$p"; fi
done <<<"$PATHS"
printf 'crio-restore-switch %s\n' "$(crio_restore_switch)"
printf 'cgroup %s\n' "$(node_cgroup)"
