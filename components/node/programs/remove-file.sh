#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: removes files the program wrote. Input: DEST (one path per line). An archive
# split on arrival (migration/programs/archive-split.py) goes with its page images and index.
while read -r f; do
  [ -n "$f" ] || continue
  rm -f "$f" "$f.split"
  if [ -f "$f.images/inventory.img" ]; then rm -rf "$f.images"; fi
done <<<"$DEST"
