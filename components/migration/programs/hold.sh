#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: the hold step of a migration, on the source before the checkpoint. Finds the
# pod's containers and their freezer cgroups, writes the lease tool (lease.sh) and its hold/env next
# to the lease, makes CRI-O's view of the containers right (lease.sh mend), starts the lease's
# watcher and arms the runtime wrapper (oci-runtime.sh) with a lease file HOLDS/<container id> per
# container. Refuses while an earlier attempt still holds the job (its watcher alive and undecided).
# Prints one JSON line: lease, cgroups, cgroupVersion, watcher pid, mended.
#
# Inputs: LEASE_DIR, ID, POD, NAMESPACE, CONTAINERS (the pod's containers, space-separated, in its
# order), ATTEMPT, MAX_PAUSE, CHECKPOINT_TIMEOUT,
# HOLDS (the runtime wrapper's lease directory), CRIO_ENDPOINT (unix://...), CRIO_SOCKET (its path),
# LEASE_TOOL (lease.sh's text), CRIO_DROP_IN (the program's CRI-O drop-in, named when restores are off).
# Libraries: node/programs/container.sh, node/programs/crio-switch.sh.
require_crio_restore source "$CRIO_SOCKET" "$CRIO_DROP_IN"
dir=$LEASE_DIR; hold="$dir/hold"
if [ -s "$hold/watcher.pid" ] && kill -0 "$(cat "$hold/watcher.pid")" 2>/dev/null && [ ! -d "$hold/decision" ]; then
  if [ "$(cat "$hold/state" 2>/dev/null)" = held ]; then
    echo "an earlier attempt of migration ${ID} still holds ${POD} frozen; it gives the job back within ${MAX_PAUSE}s of its checkpoint, then run pulumi up again" >&2; exit 1
  fi
  kill "$(cat "$hold/watcher.pid")" 2>/dev/null || true  # armed by an attempt whose checkpoint never came
fi
# Every container of the pod, in its order: id, freezer cgroup, pid namespace.
cids=(); cgs=(); pidnss=(); kind=
for name in $CONTAINERS; do
  found=$(find_container "$CRIO_ENDPOINT" "$name" "$POD" "$NAMESPACE"); read -r cid pid <<<"$found"
  read -r kind cg < <(freezer_of "$pid")
  [ -d "$cg" ] || { echo "no freezer cgroup for container ${name} of ${POD} at $cg" >&2; exit 1; }
  cids+=("$cid"); cgs+=("$cg"); pidnss+=("$(readlink "/proc/$pid/ns/pid")")
done
install -d -m 0700 "$dir"; rm -rf "$hold"; install -d -m 0700 "$hold" "$hold/containers"
printf '%s\n' "$LEASE_TOOL" >"$dir/lease.sh"
holds=(); for cid in "${cids[@]}"; do holds+=("$HOLDS/$cid"); done
{ printf 'KIND=%s\nCRIO_SOCKET=%q\n' "$kind" "$CRIO_SOCKET"
  printf 'CIDS=(%s)\nCGS=(%s)\nPIDNSS=(%s)\nHOLD_FILES=(%s)\n' "$(printf '%q ' "${cids[@]}")" "$(printf '%q ' "${cgs[@]}")" "$(printf '%q ' "${pidnss[@]}")" "$(printf '%q ' "${holds[@]}")"
  printf 'POD=%q\nNAMESPACE=%q\nATTEMPT=%q\n' "$POD" "$NAMESPACE" "$ATTEMPT"
  printf 'MAX_PAUSE=%s\nCHECKPOINT_TIMEOUT=%s\n' "$MAX_PAUSE" "$CHECKPOINT_TIMEOUT"; } >"$hold/env"
# What the runtime wrapper reads: the cgroups it freezes together (KIND CG per line), and each
# container's name by id (its marks go to containers/NAME).
for k in "${!cids[@]}"; do echo "$kind ${cgs[k]}"; done >"$hold/cgroups"
k=0; for name in $CONTAINERS; do install -d -m 0700 "$hold/containers/$name"; echo "$name" >"$hold/containers/${cids[k]}.name"; k=$((k + 1)); done
echo "$ID" >"$hold/id"
mended=$(bash "$dir/lease.sh" mend)
echo armed >"$hold/state"
setsid bash "$dir/lease.sh" watch </dev/null >>"$hold/watch.log" 2>&1 & echo $! >"$hold/watcher.pid"
install -d -m 0700 "$HOLDS"
for cid in "${cids[@]}"; do printf '%s\n' "$hold" >"$HOLDS/$cid.tmp"; mv "$HOLDS/$cid.tmp" "$HOLDS/$cid"; done
printf '{"lease":"%s","cgroups":[%s],"cgroupVersion":"%s","watcher":%s,"mended":%s}\n' "$dir" "$(printf '"%s",' "${cgs[@]}" | sed 's/,$//')" "$kind" "$(cat "$hold/watcher.pid")" "$([ -n "$mended" ] && echo true || echo false)"
