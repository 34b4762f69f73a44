#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: writes a managed file from stdin, atomically and only when the content differs,
# then restarts the service that reads it (if it runs). Prints path, sha256 and state (written or
# unchanged). Inputs: DEST, MODE (octal), RESTART (a service name, or empty).
# Libraries: node/programs/service.sh.
install -d -m 0755 "$(dirname "$DEST")"
tmp=$(mktemp "$(dirname "$DEST")/.live-migration-lab.XXXXXX")
cat >"$tmp"
if [ -f "$DEST" ] && cmp -s "$tmp" "$DEST"; then rm -f "$tmp"; state=unchanged; else chmod "$MODE" "$tmp"; mv -f "$tmp" "$DEST"; state=written; fi
if [ "$state" = written ] && [ -n "$RESTART" ]; then service_restart_if_active "$RESTART"; fi
printf '{"path":"%s","sha256":"%s","state":"%s"}\n' "$DEST" "$(sha256sum "$DEST" | cut -d' ' -f1)" "$state"
