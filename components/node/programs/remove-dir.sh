#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: gives back the archive directory private-dir.sh made or adopted: removes the
# archives the program wrote there (*.tar, *.part copies cut short, and the parts of an archive
# split on arrival: *.tar.images, *.tar.split, *.tar.joined), then the directory and the
# parents it made, as far as they are empty; an adopted directory stays, with its mode as found.
# Anything else in it is left, and named. Input: DIR. Prints path, action and left.
marker="$DIR/.live-migration-lab"
if [ ! -d "$DIR" ]; then printf '{"path":"%s","action":"absent","left":""}\n' "$DIR"; exit 0; fi
if [ ! -f "$marker" ]; then
  left=$(find "$DIR" -mindepth 1 -maxdepth 1 -printf '%f ' | head -c 200)
  printf '{"path":"%s","action":"not the program'"'"'s (no %s): left as it is","left":"%s"}\n' "$DIR" "$marker" "${left% }"; exit 0
fi
found=$(sed -n 's/^found=//p' "$marker"); top=$(sed -n 's/^top=//p' "$marker"); mode=$(sed -n 's/^mode=//p' "$marker")
find "$DIR" -maxdepth 1 -type f \( -name '*.tar' -o -name '*.part' -o -name '*.tar.split' -o -name '*.tar.joined' \) -delete
# CRIU's images of an archive split on arrival (migration/programs/archive-split.py).
find "$DIR" -mindepth 1 -maxdepth 1 -type d -name '*.tar.images' -exec test -f '{}/inventory.img' \; -exec rm -rf '{}' +
rm -f "$marker"
left=$(find "$DIR" -mindepth 1 -maxdepth 1 -printf '%f ' | head -c 200)
if [ "$found" = adopted ]; then
  [ -z "$mode" ] || chmod "$mode" "$DIR"; action="given back as found"
elif [ -n "$left" ]; then
  action="kept: it holds files the program did not write"
else
  d=$DIR
  while rmdir "$d" 2>/dev/null && [ "$d" != "${top:-$DIR}" ]; do d=$(dirname "$d"); done
  action=removed
fi
printf '{"path":"%s","action":"%s","left":"%s"}\n' "$DIR" "$action" "${left% }"
