#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: the cutover step of a migration, on the target once the restored pod exists.
# Verifies the restored job (VERIFY), then commits on the source's lease and retires the source's
# frozen copy. If verify fails, the source takes the job back at once; if the source already took it
# back (the hold expired), the restored copy is killed. Either way the step fails, and the next
# `pulumi up` redoes the hop from a new checkpoint. The lab's SSH key comes on stdin.
# Inputs: ID, POD, NAMESPACE, CONTAINER, CRIO_ENDPOINT, LEASE_PATH (lease.sh's path on the source),
# VERIFY (verify.sh as a program), PY_SUMMARY (cutover-summary.py's text), PEER_HOST, PEER_PORT,
# PEER_USER. Libraries: node/programs/peer.sh, node/programs/pidns.sh (members). Prints the verify probe plus the cutover's timestamps.
started=$(date +%s%3N); start=$(date +%s.%N)
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
peer_key "$work"
lease="bash $(printf '%q' "$LEASE_PATH")"
cid=$(crictl --runtime-endpoint "$CRIO_ENDPOINT" ps -q --name "^${CONTAINER}\$" --label "io.kubernetes.pod.name=$POD" --label "io.kubernetes.pod.namespace=$NAMESPACE" 2>/dev/null | head -n1)
# The restored copy must not run on beside a source that has the job back.
stop_target() {
  [ -n "$cid" ] || return 0
  p=$(crictl --runtime-endpoint "$CRIO_ENDPOINT" inspect -o go-template --template '{{.info.pid}}' "$cid" 2>/dev/null) || return 0
  ns=$(readlink "/proc/$p/ns/pid") || return 0
  members "$ns" | xargs -r kill -KILL 2>/dev/null; true
}
if ! verified=$(bash -c "$VERIFY" 2>"$work/verify.err"); then
  why=$(grep -v '^time=' "$work/verify.err" | tail -n2 | tr '\n' ' ')
  stop_target
  back=$(peer "${lease} abort $(printf '%q' "verify on the target failed: $why")" 2>&1) || back="could not reach the source: $back"
  echo "cutover ${ID}: $why; the restored copy was stopped and the source ${back}" >&2; exit 1
fi
if ! by=$(peer "${lease} commit" 2>&1); then
  stop_target
  echo "cutover ${ID}: the source could not be committed ($by): it took the job back after its hold expired (cutover.maxPauseSeconds); the restored copy was stopped" >&2; exit 1
fi
retired=$(peer "${lease} retire")
status=$(peer "${lease} status")
restored=$(date -d "$(crictl --runtime-endpoint "$CRIO_ENDPOINT" inspect -o go-template --template '{{.status.startedAt}}' "$cid" 2>/dev/null)" +%s%3N 2>/dev/null || echo 0)
python3 -c "$PY_SUMMARY" "$verified" "$status" "$started" "$(elapsed "$start")" "$restored" "$retired"
