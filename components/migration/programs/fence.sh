# shellcheck shell=bash
# live-migration-lab: the fence of a restored copy on the target, started detached by the runtime
# wrapper (oci-runtime.sh) right after it restored a pod that has a fence file. The wrapper restores
# only while a migration's cutover watches (FENCE.cutover names its pid); from then on:
#   - committed (FENCE.committed, the cutover's mark once the source's lease said so): done, and the
#     fence's files go once every container's fence saw it;
#   - the cutover gone, uncommitted (the engine was killed, the cutover died): the copy is killed at
#     once, so it never runs beside a source that takes the job back when its hold ends;
#   - the cutover gone while asking the source to commit (FENCE.committing, not .committed): the
#     commit is in doubt, so the copy is frozen, not killed, until a later cutover settles it with the
#     source's lease (thawed while that cutover watches).
# Every change is logged to FENCE.log. Inputs: FENCE (the fence file), CID, PIDNS (the copy's pid
# namespace link), CG (its freezer cgroup), KIND (v1|v2). Libraries: node/programs/pidns.sh,
# migration/programs/freezer.sh.
log() { echo "$(date -u +%FT%T.%3NZ) container ${CID:0:12}: $*" >>"$FENCE.log"; }
watched() { local p; p=$(cat "$FENCE.cutover" 2>/dev/null) && [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }
if [ "$PIDNS" = "$(readlink /proc/self/ns/pid)" ]; then log "shares the node's pid namespace; not fenced"; exit 0; fi
log "restored under cutover pid $(cat "$FENCE.cutover" 2>/dev/null)"
# A pod with several containers has one fence per container, all on the same fence file: each
# registers, and the last one released removes the fence's files (a fence that finds them gone was
# released by the others: the commit came).
echo "$CID" >>"$FENCE.fences"
while :; do
  if [ -e "$FENCE.committed" ] || [ ! -e "$FENCE" ]; then
    if frozen "$KIND" "$CG"; then thaw "$KIND" "$CG"; fi
    log "committed"
    if [ -e "$FENCE" ]; then
      echo "$CID" >>"$FENCE.released"
      if [ "$(sort -u "$FENCE.released" | wc -l)" -ge "$(sort -u "$FENCE.fences" | wc -l)" ]; then
        rm -f "$FENCE" "$FENCE.cutover" "$FENCE.committing" "$FENCE.committed" "$FENCE.fences" "$FENCE.released" "$FENCE.restored" "$FENCE.rst-drop"
      fi
    fi
    exit 0
  fi
  mapfile -t pids < <(members "$PIDNS")
  if [ "${#pids[@]}" -eq 0 ]; then log "gone"; exit 0; fi
  if watched; then
    if frozen "$KIND" "$CG"; then thaw "$KIND" "$CG"; log "thawed: a cutover watches it again"; fi
  elif [ -e "$FENCE.committing" ]; then
    if ! frozen "$KIND" "$CG"; then freeze "$KIND" "$CG"; log "frozen: its cutover is gone while asking the source to commit; the next cutover settles it"; fi
  else
    kill -KILL "${pids[@]}" 2>/dev/null || true
    if frozen "$KIND" "$CG"; then thaw "$KIND" "$CG"; fi
    log "killed: its cutover is gone and nothing was committed; the source takes the job back when its hold ends"
    echo killed >"$FENCE.state"; exit 0
  fi
  sleep 0.05
done
