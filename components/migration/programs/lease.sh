#!/usr/bin/env bash
# live-migration-lab: a migration's lease on the source node, written next to it as lease.sh by
# the hold step (hold.sh). It decides, exactly once, whether the target commits or the source takes
# the job back.
#
#   lease.sh watch   (detached) wait until the checkpoint is held (oci-runtime.sh), then hold it at
#                    most MAX_PAUSE after CRI-O's pause (also when CRI-O never comes back to thaw it)
#   lease.sh commit  the target takes over: exits 3 printing "aborted" if the source already took it back
#   lease.sh abort   the source takes the job back now (thaw) and logs why
#   lease.sh retire  after a commit: kill the source's frozen copy (pending SIGKILL, then thaw)
#   lease.sh mend    before the checkpoint: make CRI-O see each running container as running
#   lease.sh status  one JSON line: pausedAt, heldAt (ms since the epoch), archive, decision
#
# Inputs, from hold/env (written by hold.sh), one entry per container of the pod, in its order:
# KIND (v1|v2), CGS (freezer cgroups), PIDNSS (pid namespace links), CIDS, HOLD_FILES (the runtime
# wrapper's lease files), and CRIO_SOCKET (path), POD, NAMESPACE, ATTEMPT, MAX_PAUSE and
# CHECKPOINT_TIMEOUT (seconds).
# The freeze itself is CRI-O's: the runtime wrapper (oci-runtime.sh) records pausedAt when CRI-O
# pauses the first container for its dump, freezing the pod's other containers with it, and refuses
# CRI-O's thaw after each dump; heldAt once every container is held. So the pod never runs between
# its checkpoint and the decision. Deciding removes the lease files before any resume.
# State lives in hold/; the abort log (one line per give-back) is ./aborted. The tool as written
# (cutover.ts leaseTool) starts with node/programs/pidns.sh, which defines `members`, and
# migration/programs/freezer.sh (frozen, freeze, thaw).
set -euo pipefail
dir=$(cd "$(dirname "$0")" && pwd); hold="$dir/hold"
# shellcheck source=/dev/null
. "$hold/env"
now() { date +%s%3N; }
# crio_unpause CID: CRI-O's /unpause/{id}: runc resume, then CRI-O reads the state again (200); 409
# when CRI-O sees the container running; 500 when CRI-O says paused but runc finds it running.
crio_unpause() { curl -s -o /dev/null -w '%{http_code}' --max-time 10 --unix-socket "$CRIO_SOCKET" "http://localhost/unpause/$1" 2>/dev/null || true; }
# Thaws every container through CRI-O where CRI-O sees it paused, else by hand: never leaves the job frozen.
resume() { local k; for k in "${!CIDS[@]}"; do [ "$(crio_unpause "${CIDS[k]}")" = 200 ] || thaw "$KIND" "${CGS[k]}"; done; }
decide() { mkdir "$hold/decision" 2>/dev/null && echo "$1" >"$hold/decision/by" && rm -f "${HOLD_FILES[@]}"; }
gone() { local cg; for cg in "${CGS[@]}"; do [ -d "$cg" ] || return 0; done; return 1; }
running() { local cg; for cg in "${CGS[@]}"; do ! frozen "$KIND" "$cg" || return 1; done; }
give_back() { resume; echo "$(date -u +%FT%TZ) attempt $ATTEMPT: $1" >>"$dir/aborted"; }
case "${1:-}" in
watch)
  deadline=$(( $(date +%s) + CHECKPOINT_TIMEOUT ))
  # An attempt whose checkpoint never came (or failed) is void: logged like an abort, so the
  # next `pulumi up` redoes the hop, and no late commit can take it.
  void() { echo "$1" >"$hold/state"; if decide aborted; then give_back "$1"; fi; exit 0; }
  until [ -s "$hold/heldAt" ]; do
    if [ -s "$hold/failed" ]; then
      # CRI-O thaws the job after a failed dump (its runtime call is let through): give it up to 3 s
      # to, so that it finds the job paused as it left it; thawing first would fail CRI-O's resume.
      for _ in $(seq 60); do ! running || break; sleep 0.05; done
      void "the checkpoint failed ($(cat "$hold/failed")); the job runs on"
    fi
    if gone || [ "$(date +%s)" -ge "$deadline" ]; then void "no checkpoint was held within ${CHECKPOINT_TIMEOUT}s; the job runs on"; fi
    # Paused for the dump, but CRI-O never came to thaw it (CRI-O stopped or crashed mid-checkpoint):
    # the job is frozen since the pause, so the hold ends MAX_PAUSE after it all the same.
    if [ -s "$hold/pausedAt" ] && [ "$(date +%s)" -ge $(( $(cat "$hold/pausedAt") / 1000 + MAX_PAUSE )) ]; then
      void "CRI-O paused the job for the dump but did not finish the checkpoint within ${MAX_PAUSE}s (CRI-O stopped mid-checkpoint?); the source resumed"
    fi
    sleep 0.05
  done
  # Frozen since CRI-O's pause: the hold ends MAX_PAUSE after it, whatever the target does.
  end=$(( $(cat "$hold/pausedAt") / 1000 + MAX_PAUSE ))
  while [ ! -d "$hold/decision" ] && [ "$(date +%s)" -lt "$end" ]; do sleep 0.1; done
  if decide aborted; then give_back "no commit within ${MAX_PAUSE}s; the source resumed"; echo "resumed" >"$hold/state"; fi ;;
commit)
  [ -s "$hold/heldAt" ] || { echo "the source was never held (state: $(cat "$hold/state" 2>/dev/null || echo none))" >&2; exit 3; }
  if decide committed; then now >"$hold/decision/at"; echo committed
  elif [ "$(cat "$hold/decision/by")" = committed ]; then echo committed
  else cat "$hold/decision/by"; exit 3; fi ;;
abort)
  if decide aborted; then give_back "${2:-aborted}"; echo aborted; else cat "$hold/decision/by"; fi ;;
retire)
  [ "$(cat "$hold/decision/by" 2>/dev/null)" = committed ] || { echo "not committed: refusing to retire the source" >&2; exit 1; }
  pids=(); for ns in "${PIDNSS[@]}"; do mapfile -t -O "${#pids[@]}" pids < <(members "$ns"); done
  if [ "${#pids[@]}" -gt 0 ]; then kill -KILL "${pids[@]}" 2>/dev/null || true; fi
  resume 2>/dev/null || true; echo "${#pids[@]}" ;;
# Before a checkpoint: a running container that CRI-O believes paused (an earlier lease's
# thaw, or anyone's runc resume, that CRI-O did not see) is frozen and resumed through CRI-O.
mend)
  for k in "${!CIDS[@]}"; do
    if frozen "$KIND" "${CGS[k]}" || [ "$(crio_unpause "${CIDS[k]}")" != 500 ]; then continue; fi
    freeze "$KIND" "${CGS[k]}"
    [ "$(crio_unpause "${CIDS[k]}")" = 200 ] || thaw "$KIND" "${CGS[k]}"
    echo "CRI-O saw ${POD} as paused while it ran; resumed through CRI-O"
  done ;;
status)
  v() { cat "$hold/$1" 2>/dev/null || echo "$2"; }
  printf '{"pausedAt":%s,"dumpedAt":%s,"heldAt":%s,"committedAt":%s,"state":"%s","decision":"%s"}\n' "$(v pausedAt 0)" "$(v dumpedAt 0)" "$(v heldAt 0)" "$(v decision/at 0)" "$(v state armed)" "$(v decision/by none)" ;;
*) echo "usage: $0 watch|commit|abort REASON|retire|mend|status" >&2; exit 2 ;;
esac
