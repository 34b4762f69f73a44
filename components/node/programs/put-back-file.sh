#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: undoes write-file.sh on destroy: the host's own file, kept aside before the
# program's first write, goes back where it was (content, mode and owner); a file the program made
# is removed, with the directories it made for it while they are empty. A file the program has no
# record of writing is left alone. Prints path and action (put back, removed, or left).
# Inputs: DEST, KEEP (see write-file.sh).
owned="$KEEP/owned$DEST"; kept="$KEEP/kept$DEST"
if [ ! -e "$owned" ]; then
  action=left
elif [ -e "$kept" ] || [ -L "$kept" ]; then
  mv -f "$kept" "$DEST"; action="put back"
else
  rm -f "$DEST"; action=removed
  mapfile -t made <"$owned"
  for ((i = ${#made[@]} - 1; i >= 0; i--)); do [ -z "${made[i]}" ] || rmdir "${made[i]}" 2>/dev/null || break; done
fi
rm -f "$owned"
# The record's own directories, as far as they are empty now.
find "$KEEP" -mindepth 1 -depth -type d -empty -delete 2>/dev/null || true
rmdir "$KEEP" 2>/dev/null || true
printf '{"path":"%s","action":"%s"}\n' "$DEST" "$action"
