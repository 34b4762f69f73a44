#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: writes a managed file from stdin, atomically and only when the content differs,
# then restarts the service that reads it (if it runs). On hosts the program does not own, a file
# that is already there before the first write is the host's: it is kept aside first (KEEP/kept/PATH,
# mode and owner as they were) and put back on destroy (put-back-file.sh); KEEP/owned/PATH marks
# the path as written by the program, and lists the directories it made for it.
# Prints path, sha256, state (written or unchanged) and kept (where the host's own file waits, or "").
# Inputs: DEST, MODE (octal), RESTART (a service name, or empty), KEEP (the program's record of the
# files it manages on this node), SELECT (empty, or crio-restore-switch or cgroup: stdin holds
# variants, see variants.ts), SELECT_DEFAULT (the variant for a node that cannot tell), SELECT_HELP
# (what to do when no variant fits). Libraries: node/programs/service.sh,
# node/programs/crio-switch.sh.
owned="$KEEP/owned$DEST"; kept="$KEEP/kept$DEST"
if [ -n "${SELECT:-}" ]; then
  # stdin holds one variant per key the node's software may read (variants.ts): keep the one it reads,
  # chosen before anything on the node changes, so a node no variant fits is left as it was.
  if [ "$SELECT" = cgroup ]; then variant=$(node_cgroup); what="its cgroup"; else variant=$(crio_restore_switch); what="crio config of $(command -v crio || echo 'no crio')"; fi
  # No crio on the node (yet), or one that would not print its config: the variant of the release the
  # config names (SELECT_DEFAULT); drift review rewrites it once the node reports another.
  case $variant in none | unknown) variant=$SELECT_DEFAULT ;; esac
  selected=$(mktemp)
  awk -v want="#live-migration-lab variant: $variant" '/^#live-migration-lab variant: / { on = ($0 == want); next } on' >"$selected"
  if [ ! -s "$selected" ]; then
    rm -f "$selected"
    echo "$DEST: no variant for $(hostname) ($variant, from $what): $SELECT_HELP; nothing was changed on it" >&2; exit 1
  fi
fi
if [ ! -e "$owned" ]; then
  made=(); d=$(dirname "$DEST")
  while [ ! -e "$d" ]; do made=("$d" "${made[@]}"); d=$(dirname "$d"); done
  # Written before the file is: an interrupted first write must not keep the program's own file as the host's.
  if { [ -e "$DEST" ] || [ -L "$DEST" ]; } && [ ! -e "$kept" ] && [ ! -L "$kept" ]; then
    install -d -m 0700 "$(dirname "$kept")"; cp -a "$DEST" "$kept"
  fi
  install -d -m 0700 "$(dirname "$owned")"
  printf '%s\n' "${made[@]}" >"$owned"
fi
install -d -m 0755 "$(dirname "$DEST")"
tmp=$(mktemp "$(dirname "$DEST")/.live-migration-lab.XXXXXX")
if [ -z "${SELECT:-}" ]; then cat >"$tmp"; else cat "$selected" >"$tmp"; rm -f "$selected"; fi
if [ -f "$DEST" ] && [ ! -L "$DEST" ] && cmp -s "$tmp" "$DEST"; then rm -f "$tmp"; state=unchanged; else chmod "$MODE" "$tmp"; mv -f "$tmp" "$DEST"; state=written; fi
if [ "$state" = written ] && [ -n "$RESTART" ]; then service_restart_if_active "$RESTART"; fi
if [ -e "$kept" ] || [ -L "$kept" ]; then found=$kept; else found=; fi
printf '{"path":"%s","sha256":"%s","state":"%s","kept":"%s"}\n' "$DEST" "$(sha256sum "$DEST" | cut -d' ' -f1)" "$state" "$found"
