#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: on hosts that bring their own CRI-O and Kubernetes (existing.install present),
# checks that every binary the lab runs is on the PATH (sudo's secure_path included) and prints
# where each is; fails naming the missing ones. Input: COMMANDS (space-separated).
missing=() found=()
for c in $COMMANDS; do
  if p=$(command -v "$c"); then found+=("\"$c\":\"$p\""); else missing+=("$c"); fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "$(hostname) has no ${missing[*]} on its PATH ($PATH); existing.install \"present\" needs them there, or use existing.install \"packages\"" >&2
  exit 1
fi
(IFS=,; printf '{%s}\n' "${found[*]}")
