#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: the cutover step of a migration, on the target once the restored pod exists.
# Checks the archive (the one the kubelet made, the same digest on both ends) and verifies the
# restored job (VERIFY), then commits on the source's lease and retires the source's
# frozen copy. If verify fails, the source takes the job back at once; if the source already took it
# back (the hold expired), the restored copy is killed. Either way the step fails, and the next
# `pulumi up` redoes the hop from a new checkpoint. The lab's SSH key comes on stdin.
# Inputs: ID, POD, NAMESPACE, CONTAINERS (the pod's, space-separated, in its order), CRIO_ENDPOINT,
# LEASE_PATH (lease.sh's path on the source), VERIFY (the workload's verify as a program), PY_SUMMARY
# (cutover-summary.py's text), PY_STATS (criu-stats.py's text), PY_SPLIT (archive-split.py's text),
# ARCHIVES (the transferred archives, one per container and line, each joined first when it was
# split on arrival), STATS (the runtime wrapper's restore figures), MAX_PAUSE (the source's hold,
# seconds from CRI-O's pause), CHECKPOINTED and SENT (one per line: the archives the kubelet
# reported, the ones the transfer streamed), PEER_HOST, PEER_PORT, PEER_USER.
# Libraries: node/programs/peer.sh, node/programs/pidns.sh (members), node/programs/container.sh
# (find_container). Prints the verify probe plus the cutover's timestamps and the archives' sha256.
mapfile -t archives <<<"${ARCHIVES:?}"; mapfile -t sent <<<"${SENT:?}"
started=$(date +%s%3N); start=$(date +%s.%N)
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
# The restored copy's fence (fence.sh) lets it run while this cutover does.
install -d -m 0700 "${FENCE%/*}"; echo "$$" >"$FENCE.cutover"
peer_key "$work"
lease="bash $(printf '%q' "$LEASE_PATH")"
# The restored copy must not run on beside a source that has the job back: each container of it.
# Found through CRI-O (find_container), or, when CRI-O does not answer (stopped mid-restore), through
# its conmon (named k8s_CONTAINER_POD_NS_...).
stop_target() {
  local found p ns conmon name
  for name in $CONTAINERS; do
    p=""
    found=$(find_container "$CRIO_ENDPOINT" "$name" "$POD" "$NAMESPACE" 2>/dev/null) || found=""
    read -r _ p <<<"$found"
    if [ -z "$p" ]; then
      conmon=$(pgrep -f "conmon .*-n k8s_${name}_${POD}_${NAMESPACE}_" | head -n1) || true
      if [ -n "$conmon" ]; then p=$(pgrep -P "$conmon" | head -n1) || p=""; fi
    fi
    [ -n "$p" ] || continue
    ns=$(readlink "/proc/$p/ns/pid") || continue
    members "$ns" | xargs -r kill -KILL 2>/dev/null || true
  done
}
# give_back REASON WHAT: stops the restored copy, has the source take the job back (its abort log
# gets REASON) and fails the step saying WHAT happened.
give_back() {
  local back
  # Committed by an earlier cutover of this attempt (one whose update then failed, e.g. the engine
  # lost the target mid-cutover): the restored copy is the job now; never stop it.
  if [ "${committed_before:-}" = 1 ]; then
    echo "cutover ${ID}: $2; the hop was committed by an earlier cutover, so the restored copy is the job and is left running" >&2; exit 1
  fi
  stop_target
  back=$(peer "${lease} abort $(printf '%q' "$1")" 2>&1) || back="could not reach the source: $back"
  echo "cutover ${ID}: $2; the restored copy was stopped and the source ${back}" >&2; exit 1
}
# archive_sum ARCHIVE: "SHA256  ARCHIVE" of an archive as it was sent. One split on arrival (its page
# images apart for the restore: archive-split.py) is joined back into one file first, now that the
# restored copy runs and CRIU has read its pages.
archive_sum() {
  local sum a=$1
  if [ -f "$a.split" ]; then
    sum=$(python3 -c "$PY_SPLIT" join "$a" "$a.joined") || { rm -f "$a.joined"; return 1; }
    if [ -f "$a.joined" ]; then mv -f "$a.joined" "$a"; fi
    rm -f "$a.split"; rm -rf "$a.images"
    echo "$sum  $a"
  else
    sha256sum "$a"
  fi
}
# The transfer found the archives by their names and times while CRI-O wrote them: they must be the
# ones the kubelet's checkpoint calls reported.
if [ "$CHECKPOINTED" != "$SENT" ]; then
  give_back "the transfer sent ${SENT//$'\n'/, }, the kubelet checkpointed to ${CHECKPOINTED//$'\n'/, }" "the transfer sent ${SENT//$'\n'/, } but the kubelet checkpointed to ${CHECKPOINTED//$'\n'/, }"
fi
# Verify ends 3 s before the source's hold does (MAX_PAUSE after CRI-O's pause): a restored copy
# that is not verified by then is stopped before the source takes the job back, never beside it.
read -r paused decision < <(peer "${lease} status" | python3 -c 'import json, sys; d = json.load(sys.stdin); print(d["pausedAt"], d["decision"])') || paused=0
left=$(( (paused / 1000 + MAX_PAUSE - 3) - $(date +%s) ))
[ "$left" -ge 1 ] || left=1
# Already committed (this cutover runs again after an update that failed past the commit): no hold
# to beat, and the restored copy is the job.
if [ "${decision:-}" = committed ]; then committed_before=1; left=60; fi
if ! verified=$(VERIFY_LAST="$work/verify.last" timeout "$left" bash -c "$VERIFY" 2>"$work/verify.err"); then
  # Stopped at the hold's deadline: say what the probe saw last and how long verify had.
  [ -s "$work/verify.err" ] || echo "no verified job within the source's hold (${MAX_PAUSE}s after its pause; verify had ${left}s of it; the probe's last answer: $(cat "$work/verify.last" 2>/dev/null || echo none))" >"$work/verify.err"
  # crictl's own log lines (time=...) say less than verify's; keep them when they are all there is.
  why=$({ grep -v '^time=' "$work/verify.err" || cat "$work/verify.err"; } | tail -n2 | tr '\n' ' ')
  give_back "verify on the target failed: $why" "$why"
fi
# Both ends' digests must be the same before the commit: read once the restored job is verified,
# both at once (while the restore runs they would slow it down).
(for a in "${archives[@]}"; do archive_sum "$a" || exit 1; done) >"$work/copy.sum" 2>&1 & copy_sum=$!
peer "sha256sum $(printf '%q ' "${sent[@]}")" >"$work/source.sum" 2>&1 & source_sum=$!
wait "$copy_sum" || { echo "cutover ${ID}: could not read the digests of ${archives[*]}: $(cat "$work/copy.sum")" >&2; digest_error=1; }
wait "$source_sum" || { echo "cutover ${ID}: could not read the digests of ${sent[*]} on the source: $(cat "$work/source.sum")" >&2; digest_error=1; }
mapfile -t dst_sums < <(cut -d' ' -f1 "$work/copy.sum"); mapfile -t src_sums < <(cut -d' ' -f1 "$work/source.sum")
for k in "${!archives[@]}"; do
  if [ -n "${digest_error:-}" ] || [ "${dst_sums[k]:-}" != "${src_sums[k]:-}" ]; then
    give_back "the archive's digests differ: source ${src_sums[k]:-none}, copy ${dst_sums[k]:-none}" "${sent[k]:-?} has sha256 ${src_sums[k]:-none} on the source, its copy ${archives[k]} has ${dst_sums[k]:-none}"
  fi
done
dst_sum=${dst_sums[0]}
: >"$FENCE.committing"
if ! by=$(peer "${lease} commit" 2>&1); then
  stop_target
  echo "cutover ${ID}: the source could not be committed ($by): it took the job back after its hold expired (cutover.maxPauseSeconds); the restored copy was stopped" >&2; exit 1
fi
: >"$FENCE.committed"
retired=$(peer "${lease} retire")
status=$(peer "${lease} status")
# The pod is restored when its last container started (the job's first progress needs all of them).
# Empty when CRI-O does not answer: the figures and the start time then say so, the commit stands.
restored=0; cid=""
for name in $CONTAINERS; do
  found=$(find_container "$CRIO_ENDPOINT" "$name" "$POD" "$NAMESPACE" 2>/dev/null) || found=""
  read -r c _ <<<"$found"
  [ -n "$c" ] || continue
  [ -n "$cid" ] || cid=$c
  at=$(date -d "$(crictl --runtime-endpoint "$CRIO_ENDPOINT" inspect -o go-template --template '{{.status.startedAt}}' "$c" 2>/dev/null)" +%s%3N 2>/dev/null || echo 0)
  [ "$at" -le "$restored" ] || restored=$at
done
# CRIU's own figures of the first container, after the commit (outside the window): the dump's from
# its archive, the restore's as the runtime wrapper kept them.
dump_stats=$(tar -xOf "${archives[0]}" --occurrence=1 stats-dump 2>/dev/null >"$work/stats-dump" && python3 -c "$PY_STATS" "$work/stats-dump" || echo '{"unavailable":"no stats-dump in the archive"}')
restore_stats=$(python3 -c "$PY_STATS" "$STATS/$cid.restore" || echo '{"unavailable":"unreadable"}')
python3 -c "$PY_SUMMARY" "$verified" "$status" "$started" "$(elapsed "$start")" "$restored" "$retired" "$dump_stats" "$restore_stats" "$dst_sum" "$(IFS=,; echo "${dst_sums[*]}")"
