#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: the root-only directory for checkpoint archives (they hold process memory):
# mode 0700, and every file in it 0600. It must be the program's own: one that exists already with
# files the program did not write is refused before anything changes. An empty one is used as found
# and given back empty, with its mode, on destroy. DIR/.live-migration-lab records which, and the
# topmost directory made for it (remove-dir.sh reads it). Inputs: DIR, OWN_ROOT. Prints path, mode and found
# (created or adopted). OWN_ROOT: the program's own directory on nodes (/var/lib/live-migration-lab).
marker="$DIR/.live-migration-lab"
if [ -e "$DIR" ] && [ ! -d "$DIR" ]; then
  echo "archive directory $DIR exists and is not a directory; set archive.dir to a path of the program's own that does not exist yet" >&2; exit 1
fi
if [ ! -f "$marker" ]; then
  if [ -d "$DIR" ]; then
    others=$(find "$DIR" -mindepth 1 -maxdepth 1 -printf '%f\n' | head -n 3 | tr '\n' ' ')
    # Inside the program's own /var/lib/live-migration-lab: made by a version that kept no record.
    case $DIR in "$OWN_ROOT"/*) others= ; record="found=created"$'\n'"top=$DIR" ;; esac
    if [ -n "$others" ]; then
      echo "archive directory $DIR already holds files this program did not write (${others% }); the program empties and deletes its archive directory, so it takes only one of its own: set archive.dir to a path that does not exist yet (nothing was changed)" >&2; exit 1
    fi
    [ -n "${record:-}" ] || record="found=adopted"$'\n'"mode=$(stat -c %a "$DIR")"
  else
    top=$DIR; while [ ! -e "$(dirname "$top")" ]; do top=$(dirname "$top"); done
    install -d -m 0700 -o root -g root "$DIR"
    record="found=created"$'\n'"top=$top"
  fi
  (umask 077; printf '%s\n' "$record" >"$marker")
fi
chown root:root "$DIR"; chmod 0700 "$DIR"
find "$DIR" -maxdepth 1 -type f ! -perm 0600 -exec chmod 0600 {} +
printf '{"path":"%s","mode":"%s","found":"%s"}\n' "$DIR" "$(stat -c %a "$DIR")" "$(sed -n 's/^found=//p' "$marker")"
