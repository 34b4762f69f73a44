// The cutover of a migration: the source job is held (frozen) from its checkpoint until the target
// has restored and verified it, then either the target commits and the source's frozen copy is
// retired, or the source resumes where it was. A lease on the source decides which, exactly once.
//
// Why a freeze and how: the kubelet's checkpoint leaves the container running (CRI-O passes
// --leave-running), so without a hold the source would go on for the ~15 s a hop takes and the
// work it did would be lost at cutover (the job's count would step back). CRI-O itself pauses the
// container with the cgroup freezer around the dump and the export of the archive, and refuses
// to checkpoint a container that is already paused ("container not running"). SIGSTOP instead is
// no way out: on a cgroup v1 host CRIU then hangs in ptrace_attach on the stopped, frozen tasks.
// So a watcher armed on the source waits for CRI-O's pause, and as soon as CRI-O thaws the
// container again with a new archive written, it freezes it once more (a few milliseconds later)
// and holds it until the target commits or `maxPauseSeconds` pass.
//
// CRI-O caches each container's state and re-reads it (`runc state`) only at some calls. The
// checkpoint re-reads it right after its own thaw; when our freeze lands before that read, CRI-O
// keeps "paused" for a container that later runs again, and refuses its next checkpoint with
// "container … is not running" (a retried hop). So the lease gives the job back through CRI-O's
// own `GET /unpause/{id}` (runc resume plus a fresh read; 409 when CRI-O already sees it running,
// then a plain thaw), and the hold step mends a stale "paused" left by anything else first.
import { peerSshLines, q, script, SshPeer } from "../node/scripts";
import { FLINK_CONTAINER, flinkContainerLines, flinkVerifyScript, VerifyArgs } from "../flink/flink";
import { CRIO_SOCKET } from "../node/kubelet";

/** Per-hop lease directories on the source node: hold state of the current attempt and the abort log. */
export const LEASE_ROOT = "/var/lib/live-migration-lab/migrations";

/**
 * One line per attempt the source took back (the target was not committed in time, or verify
 * failed). The program reads its digest over SSH: a new line makes the next `pulumi up` redo the
 * hop from a fresh checkpoint instead of resuming with a stale archive.
 */
export const abortLog = (id: string) => `${LEASE_ROOT}/${id}/aborted`;

/** `members NS`: the pids whose pid namespace is NS (a /proc/<pid>/ns/pid link text). */
const PIDNS_MEMBERS = `members() { for p in /proc/[0-9]*; do [ "$(readlink "$p/ns/pid" 2>/dev/null)" = "$1" ] && echo "\${p#/proc/}"; done; true; }`;

/** CRI-O's socket as a path (its inspect API has /pause/{id} and /unpause/{id} since CRI-O 1.24). */
const CRIO_SOCKET_PATH = CRIO_SOCKET.replace(/^unix:\/\//, "");

/** Where the kubelet writes checkpoint archives (on the source). */
export const KUBELET_CHECKPOINT_DIR = "/var/lib/kubelet/checkpoints";

export interface HoldArgs {
    readonly id: string;
    readonly namespace: string;
    readonly pod: string;
    readonly maxPauseSeconds: number;
    /** How long to wait for the checkpoint (CRI-O's pause) to begin and end. */
    readonly checkpointTimeoutSeconds: number;
}

/**
 * The lease tool, written next to the lease as `lease.sh` by the hold step; it reads `hold/env`.
 *   watch   (detached) wait for CRI-O's pause and thaw around a checkpoint, freeze again, hold
 *   commit  the target takes over: exits 3 printing "aborted" if the source already took it back
 *   abort   the source takes the job back now (thaw) and logs why
 *   retire  after a commit: kill the source's frozen copy (pending SIGKILL, then thaw)
 *   mend    before the checkpoint: make CRI-O see a running container as running
 *   status  one JSON line: pausedAt, heldAt (ms since the epoch), archive, decision
 */
export function leaseTool(): string {
    return [
        "#!/usr/bin/env bash",
        "# live-migration-lab: migration lease (written by the hold step)",
        "set -euo pipefail",
        `dir=$(cd "$(dirname "$0")" && pwd); hold="$dir/hold"`,
        `. "$hold/env"`,
        `now() { date +%s%3N; }`,
        `frozen() { if [ "$kind" = v1 ]; then [ "$(cat "$cg/freezer.state" 2>/dev/null)" = FROZEN ]; else grep -qx 'frozen 1' "$cg/cgroup.events" 2>/dev/null; fi; }`,
        `freeze() { if [ "$kind" = v1 ]; then echo FROZEN >"$cg/freezer.state"; else echo 1 >"$cg/cgroup.freeze"; fi; }`,
        `thaw() { if [ "$kind" = v1 ]; then echo THAWED >"$cg/freezer.state"; else echo 0 >"$cg/cgroup.freeze"; fi; }`,
        // CRI-O's /unpause/{id}: runc resume, then CRI-O reads the state again (200); 409 when CRI-O
        // sees the container running; 500 when CRI-O says paused but runc finds it running.
        `crio_unpause() { curl -s -o /dev/null -w '%{http_code}' --max-time 10 --unix-socket "$crio_socket" "http://localhost/unpause/$cid" 2>/dev/null || true; }`,
        // Thaws through CRI-O where CRI-O sees it paused, else by hand: never leaves the job frozen.
        `resume() { [ "$(crio_unpause)" = 200 ] || thaw; }`,
        PIDNS_MEMBERS,
        `decide() { mkdir "$hold/decision" 2>/dev/null && echo "$1" >"$hold/decision/by"; }`,
        `give_back() { resume; echo "$(date -u +%FT%TZ) attempt $attempt: $1" >>"$dir/aborted"; }`,
        `case "\${1:-}" in`,
        `watch)`,
        `  deadline=$(( $(date +%s) + checkpoint_timeout ))`,
        // CRI-O pauses the container before the dump ...
        // An attempt whose checkpoint never came (or failed) is void: logged like an abort, so the
        // next `pulumi up` redoes the hop, and no late commit can take it.
        `  void() { echo "$1" >"$hold/state"; if decide aborted; then give_back "$1"; fi; exit 0; }`,
        `  until frozen; do [ -d "$cg" ] && [ "$(date +%s)" -lt "$deadline" ] || void "no checkpoint began"; sleep 0.01; done`,
        `  now >"$hold/pausedAt"`,
        // ... thaws and freezes it again on the way (runc, then CRIU's own freeze for the dump),
        // writes the archive while it is frozen, and thaws it at the end: the first thaw seen with
        // a new archive in place is that end. A failed dump leaves no archive: the job runs on.
        `  archive=""`,
        `  while :; do`,
        `    [ "$(date +%s)" -lt "$deadline" ] || void "no checkpoint archive appeared; the job runs on"`,
        // The archive first, then the state: a thaw seen after the archive exists is the last one.
        `    archive=$(find "$checkpoint_dir" -maxdepth 1 -name "checkpoint-\${pod}_\${namespace}-\${container}-*.tar" -newer "$hold/armed" 2>/dev/null | head -n1)`,
        `    if [ -n "$archive" ] && ! frozen; then break; fi`,
        `    sleep 0.002`,
        `  done`,
        `  freeze; now >"$hold/heldAt"; echo "$archive" >"$hold/archive"; echo held >"$hold/state"`,
        `  end=$(( $(date +%s) + max_pause ))`,
        `  while [ ! -d "$hold/decision" ] && [ "$(date +%s)" -lt "$end" ]; do sleep 0.2; done`,
        `  if decide aborted; then give_back "no commit within \${max_pause}s; the source resumed"; echo "resumed" >"$hold/state"; fi ;;`,
        `commit)`,
        `  [ -s "$hold/heldAt" ] || { echo "the source was never held (state: $(cat "$hold/state" 2>/dev/null || echo none))" >&2; exit 3; }`,
        `  if decide committed; then now >"$hold/decision/at"; echo committed`,
        `  elif [ "$(cat "$hold/decision/by")" = committed ]; then echo committed`,
        `  else cat "$hold/decision/by"; exit 3; fi ;;`,
        `abort)`,
        `  if decide aborted; then give_back "\${2:-aborted}"; echo aborted; else cat "$hold/decision/by"; fi ;;`,
        `retire)`,
        `  [ "$(cat "$hold/decision/by" 2>/dev/null)" = committed ] || { echo "not committed: refusing to retire the source" >&2; exit 1; }`,
        `  mapfile -t pids < <(members "$pidns")`,
        `  if [ "\${#pids[@]}" -gt 0 ]; then kill -KILL "\${pids[@]}" 2>/dev/null || true; fi`,
        `  resume 2>/dev/null || true; echo "\${#pids[@]}" ;;`,
        // Before a checkpoint: a running container that CRI-O believes paused (an earlier lease's
        // thaw, or anyone's runc resume, that CRI-O did not see) is frozen and resumed through CRI-O.
        `mend)`,
        `  if frozen || [ "$(crio_unpause)" != 500 ]; then exit 0; fi`,
        `  freeze; resume; echo "CRI-O saw \${pod} as paused while it ran; resumed through CRI-O" ;;`,
        `status)`,
        `  v() { cat "$hold/$1" 2>/dev/null || echo "$2"; }`,
        `  printf '{"pausedAt":%s,"heldAt":%s,"committedAt":%s,"archive":"%s","state":"%s","decision":"%s"}\\n' "$(v pausedAt 0)" "$(v heldAt 0)" "$(v decision/at 0)" "$(v archive '')" "$(v state armed)" "$(v decision/by none)" ;;`,
        `*) echo "usage: $0 watch|commit|abort REASON|retire|mend|status" >&2; exit 2 ;;`,
        `esac`,
        "",
    ].join("\n");
}

/**
 * Runs on the source before the checkpoint: finds the job's container and its freezer cgroup,
 * writes the lease tool and starts its watcher. Refuses while an earlier attempt still holds the
 * job (its watcher alive and undecided).
 */
export function holdScript(a: HoldArgs, attempt: string): string {
    const dir = `${LEASE_ROOT}/${a.id}`;
    return script(`hold ${a.namespace}/${a.pod}`, [
        `dir=${q(dir)}; hold="$dir/hold"`,
        `if [ -s "$hold/watcher.pid" ] && kill -0 "$(cat "$hold/watcher.pid")" 2>/dev/null && [ ! -d "$hold/decision" ]; then`,
        `  if [ "$(cat "$hold/state" 2>/dev/null)" = held ]; then`,
        `    echo "an earlier attempt of migration ${a.id} still holds ${a.pod} frozen; it gives the job back within ${a.maxPauseSeconds}s of its checkpoint, then run pulumi up again" >&2; exit 1`,
        `  fi`,
        `  kill "$(cat "$hold/watcher.pid")" 2>/dev/null || true  # armed by an attempt whose checkpoint never came`,
        `fi`,
        ...flinkContainerLines(a),
        `if [ -d /sys/fs/cgroup/freezer ] && grep -q ':freezer:' "/proc/$pid/cgroup"; then kind=v1; cg="/sys/fs/cgroup/freezer$(awk -F: '$2 == "freezer" { print $3 }' "/proc/$pid/cgroup")"`,
        `else kind=v2; cg="/sys/fs/cgroup$(awk -F: '$1 == "0" { print $3 }' "/proc/$pid/cgroup")"; fi`,
        `[ -d "$cg" ] || { echo "no freezer cgroup for ${a.pod} at $cg" >&2; exit 1; }`,
        `install -d -m 0700 "$dir"; rm -rf "$hold"; install -d -m 0700 "$hold"`,
        `cat >"$dir/lease.sh" <<'LEASE'`,
        leaseTool().trimEnd(),
        `LEASE`,
        `{ printf 'kind=%s\\ncg=%q\\npidns=%q\\ncid=%q\\ncrio_socket=%q\\n' "$kind" "$cg" "$(readlink "/proc/$pid/ns/pid")" "$cid" ${q(CRIO_SOCKET_PATH)}`,
        `  printf 'pod=%q\\nnamespace=%q\\ncontainer=%q\\nattempt=%q\\n' ${q(a.pod)} ${q(a.namespace)} ${q(FLINK_CONTAINER)} ${q(attempt)}`,
        `  printf 'max_pause=%s\\ncheckpoint_timeout=%s\\ncheckpoint_dir=%q\\n' ${a.maxPauseSeconds} ${a.checkpointTimeoutSeconds} ${q(KUBELET_CHECKPOINT_DIR)}; } >"$hold/env"`,
        `mended=$(bash "$dir/lease.sh" mend)`,
        `touch "$hold/armed"; echo armed >"$hold/state"`,
        `setsid bash "$dir/lease.sh" watch </dev/null >>"$hold/watch.log" 2>&1 & echo $! >"$hold/watcher.pid"`,
        `printf '{"lease":"%s","cgroup":"%s","cgroupVersion":"%s","watcher":%s,"mended":%s}\\n' "$dir" "$cg" "$kind" "$(cat "$hold/watcher.pid")" "$([ -n "$mended" ] && echo true || echo false)"`,
    ]);
}

export interface CutoverArgs extends VerifyArgs {
    readonly id: string;
    readonly source: SshPeer;
}

/**
 * Runs on the target once the restored pod exists; the source's SSH key comes on stdin. Verifies
 * the restored job, then commits on the source's lease and retires the source's frozen copy. If
 * verify fails, the source takes the job back at once; if the source already took it back (the
 * hold expired), the restored copy is killed. Either way the step fails and the next `pulumi up`
 * redoes the hop from a new checkpoint. Prints the verify probe plus the cutover's timestamps.
 */
export function cutoverScript(a: CutoverArgs): string {
    const lease = `bash ${q(`${LEASE_ROOT}/${a.id}/lease.sh`)}`;
    return script(`cutover ${a.id}`, [
        `started=$(date +%s%3N); start=$(date +%s.%N)`,
        `work=$(mktemp -d); trap 'rm -rf "$work"' EXIT`,
        ...peerSshLines(a.source),
        `cid=$(crictl --runtime-endpoint ${q(CRIO_SOCKET)} ps -q --name '^${FLINK_CONTAINER}$' --label io.kubernetes.pod.name=${q(a.pod)} --label io.kubernetes.pod.namespace=${q(a.namespace)} 2>/dev/null | head -n1)`,
        // The restored copy must not run on beside a source that has the job back.
        PIDNS_MEMBERS,
        `stop_target() { [ -n "$cid" ] || return 0; p=$(crictl --runtime-endpoint ${q(CRIO_SOCKET)} inspect -o go-template --template '{{.info.pid}}' "$cid" 2>/dev/null) || return 0; ns=$(readlink "/proc/$p/ns/pid") || return 0`,
        `  members "$ns" | xargs -r kill -KILL 2>/dev/null; true; }`,
        `if ! verified=$(bash <<'VERIFY' 2>"$work/verify.err"`,
        flinkVerifyScript(a).trimEnd(),
        `VERIFY`,
        `); then`,
        `  why=$(grep -v '^time=' "$work/verify.err" | tail -n2 | tr '\\n' ' ')`,
        `  stop_target`,
        `  back=$(peer "${lease} abort $(printf '%q' "verify on the target failed: $why")" 2>&1) || back="could not reach the source: $back"`,
        `  echo "cutover ${a.id}: $why; the restored copy was stopped and the source \${back}" >&2; exit 1`,
        `fi`,
        `if ! by=$(peer "${lease} commit" 2>&1); then`,
        `  stop_target`,
        `  echo "cutover ${a.id}: the source could not be committed ($by): it took the job back after its hold expired (cutover.maxPauseSeconds); the restored copy was stopped" >&2; exit 1`,
        `fi`,
        `retired=$(peer "${lease} retire")`,
        `status=$(peer "${lease} status")`,
        `restored=$(date -d "$(crictl --runtime-endpoint ${q(CRIO_SOCKET)} inspect -o go-template --template '{{.status.startedAt}}' "$cid" 2>/dev/null)" +%s%3N 2>/dev/null || echo 0)`,
        `python3 -c 'import json, sys`,
        `v = json.loads(sys.argv[1].splitlines()[-1]); s = json.loads(sys.argv[2])`,
        `v.update(startedAt=int(sys.argv[3]), seconds=float(sys.argv[4]), restoredAt=int(sys.argv[5]), retired=int(sys.argv[6]),`,
        `         pausedAt=s["pausedAt"], heldAt=s["heldAt"], committedAt=s["committedAt"], heldArchive=s["archive"])`,
        `print(json.dumps(v))' "$verified" "$status" "$started" "$(elapsed "$start")" "$restored" "$retired"`,
    ]);
}
