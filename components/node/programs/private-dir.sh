#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: a root-only directory for checkpoint archives (they hold process memory):
# mode 0700, and every file already in it 0600. Input: DIR. Prints path and mode.
install -d -m 0700 -o root -g root "$DIR"
chmod 0700 "$DIR"
find "$DIR" -maxdepth 1 -type f ! -perm 0600 -exec chmod 0600 {} +
printf '{"path":"%s","mode":"%s"}\n' "$DIR" "$(stat -c %a "$DIR")"
