#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: keeps the KEEP most recently written archives named NAME (a glob: *.tar in the
# program's own directory, the program's pods' checkpoints in the kubelet's; one per line: KEEP of
# each, as for each container of a pod) in DIR, then writes the
# kept ones out and drops them from the page cache (posix_fadvise DONTNEED on these files only):
# every hop leaves about 1.2 GB of archives cached, and with some 9 GB of page cache on the lab's
# 24 GiB machine CRIU's restore took 1.1-1.2 s instead of 0.3 s and a hop paused 5-7 s instead of
# 3.6-4.2 s (measured over 4+ hops each way). Runs after the commit, when nothing is frozen.
# Prints kept, removed, dropMs.
cd "$DIR" || exit 1
old=()
while read -r glob; do
  mapfile -t -O "${#old[@]}" old < <(find . -maxdepth 1 -name "$glob" -printf '%T@ %f\n' | sort -n | head -n -"$KEEP" | cut -d' ' -f2-)
done <<<"$NAME"
if [ "${#old[@]}" -gt 0 ]; then
  rm -f -- "${old[@]}"
  # An archive still split on arrival (migration/programs/archive-split.py) goes with its parts.
  for f in "${old[@]}"; do rm -f -- "$f.split"; if [ -f "$f.images/inventory.img" ]; then rm -rf -- "$f.images"; fi; done
fi
start=$(date +%s%3N)
kept=()
while read -r glob; do mapfile -t -O "${#kept[@]}" kept < <(find . -maxdepth 1 -name "$glob"); done <<<"$NAME"
if [ "${#kept[@]}" -gt 0 ]; then
  sync -f .
  python3 -c 'import os, sys
for f in sys.argv[1:]:
    fd = os.open(f, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)' "${kept[@]}"
fi
printf '{"kept":%s,"removed":%s,"dropMs":%s}\n' "${#kept[@]}" "${#old[@]}" "$(( $(date +%s%3N) - start ))"
