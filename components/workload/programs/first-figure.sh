#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: the source probe of a migration: runs the workload's probe (PROBE) until it
# reports a figure above 0, so that the hop's "never goes back" check has something to compare the
# restored copy with (a workload just started has not counted anything yet: Flink reports its first
# records a few seconds after the job starts).
# Inputs: POD, PROBE (the workload's probe as a program), TIMEOUT (seconds). Prints the probe's line.
deadline=$(( $(date +%s) + TIMEOUT ))
out=""
while :; do
  if out=$(bash -c "$PROBE" 2>&1); then
    figure=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1].splitlines()[-1])["records"])' "$out" 2>/dev/null) || figure=0
    if [ "$figure" -gt 0 ]; then tail -n1 <<<"$out"; exit 0; fi
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "the probe of ${POD} reported no figure above 0 within ${TIMEOUT}s, so the hop would have nothing to compare its restored copy with; the last probe said: $(tail -n2 <<<"$out" | tr '\n' ' ')" >&2
    exit 1
  fi
  sleep 1
done
