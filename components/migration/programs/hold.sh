#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: the hold step of a migration, on the source before the checkpoint. Finds the
# job's container and its freezer cgroup, writes the lease tool (lease.sh) and its hold/env next to
# the lease, makes CRI-O's view of the container right (lease.sh mend), starts the lease's watcher
# and arms the runtime wrapper (oci-runtime.sh) with a lease file HOLDS/<container id>. Refuses
# while an earlier attempt still holds the job (its watcher alive and undecided).
# Prints one JSON line: lease, cgroup, cgroupVersion, watcher pid, mended.
#
# Inputs: LEASE_DIR, ID, POD, NAMESPACE, CONTAINER, ATTEMPT, MAX_PAUSE, CHECKPOINT_TIMEOUT,
# HOLDS (the runtime wrapper's lease directory), CRIO_ENDPOINT (unix://...), CRIO_SOCKET (its path),
# LEASE_TOOL (lease.sh's text).
# Libraries: node/programs/container.sh.
dir=$LEASE_DIR; hold="$dir/hold"
if [ -s "$hold/watcher.pid" ] && kill -0 "$(cat "$hold/watcher.pid")" 2>/dev/null && [ ! -d "$hold/decision" ]; then
  if [ "$(cat "$hold/state" 2>/dev/null)" = held ]; then
    echo "an earlier attempt of migration ${ID} still holds ${POD} frozen; it gives the job back within ${MAX_PAUSE}s of its checkpoint, then run pulumi up again" >&2; exit 1
  fi
  kill "$(cat "$hold/watcher.pid")" 2>/dev/null || true  # armed by an attempt whose checkpoint never came
fi
found=$(find_container "$CRIO_ENDPOINT" "$CONTAINER" "$POD" "$NAMESPACE"); read -r cid pid <<<"$found"
if [ -d /sys/fs/cgroup/freezer ] && grep -q ':freezer:' "/proc/$pid/cgroup"; then kind=v1; cg="/sys/fs/cgroup/freezer$(awk -F: '$2 == "freezer" { print $3 }' "/proc/$pid/cgroup")"
else kind=v2; cg="/sys/fs/cgroup$(awk -F: '$1 == "0" { print $3 }' "/proc/$pid/cgroup")"; fi
[ -d "$cg" ] || { echo "no freezer cgroup for ${POD} at $cg" >&2; exit 1; }
install -d -m 0700 "$dir"; rm -rf "$hold"; install -d -m 0700 "$hold"
printf '%s\n' "$LEASE_TOOL" >"$dir/lease.sh"
{ printf 'KIND=%s\nCG=%q\nPIDNS=%q\nCID=%q\nCRIO_SOCKET=%q\n' "$kind" "$cg" "$(readlink "/proc/$pid/ns/pid")" "$cid" "$CRIO_SOCKET"
  printf 'POD=%q\nNAMESPACE=%q\nCONTAINER=%q\nATTEMPT=%q\n' "$POD" "$NAMESPACE" "$CONTAINER" "$ATTEMPT"
  printf 'MAX_PAUSE=%s\nCHECKPOINT_TIMEOUT=%s\nHOLD_FILE=%q\n' "$MAX_PAUSE" "$CHECKPOINT_TIMEOUT" "$HOLDS/$cid"; } >"$hold/env"
echo "$ID" >"$hold/id"
mended=$(bash "$dir/lease.sh" mend)
echo armed >"$hold/state"
setsid bash "$dir/lease.sh" watch </dev/null >>"$hold/watch.log" 2>&1 & echo $! >"$hold/watcher.pid"
install -d -m 0700 "$HOLDS"; printf '%s\n' "$hold" >"$HOLDS/$cid.tmp"; mv "$HOLDS/$cid.tmp" "$HOLDS/$cid"
printf '{"lease":"%s","cgroup":"%s","cgroupVersion":"%s","watcher":%s,"mended":%s}\n' "$dir" "$cg" "$kind" "$(cat "$hold/watcher.pid")" "$([ -n "$mended" ] && echo true || echo false)"
