#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: keeps the KEEP most recently written archives (*.tar) in DIR. Prints kept, removed.
cd "$DIR" || exit 1
mapfile -t old < <(find . -maxdepth 1 -name '*.tar' -printf '%T@ %f\n' | sort -n | head -n -"$KEEP" | cut -d' ' -f2-)
if [ "${#old[@]}" -gt 0 ]; then rm -f -- "${old[@]}"; fi
printf '{"kept":%s,"removed":%s}\n' "$(find . -maxdepth 1 -name '*.tar' | wc -l)" "${#old[@]}"
