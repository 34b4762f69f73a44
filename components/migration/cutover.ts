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
import { libraryText, nodeProgram, programText } from "../node/program";
import { SshPeer } from "../node/scripts";
import { FLINK_CONTAINER, flinkVerifyScript, VerifyArgs } from "../flink/flink";
import { CRIO_SOCKET } from "../node/crio";

/** Per-hop lease directories on the source node: hold state of the current attempt and the abort log. */
export const LEASE_ROOT = "/var/lib/live-migration-lab/migrations";

/**
 * One line per attempt the source took back (the target was not committed in time, or verify
 * failed). The program reads its digest over SSH: a new line makes the next `pulumi up` redo the
 * hop from a fresh checkpoint instead of resuming with a stale archive.
 */
export const abortLog = (id: string) => `${LEASE_ROOT}/${id}/aborted`;

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

/** The lease tool (programs/lease.sh with the pidns library), written next to the lease by the hold step. */
export const leaseTool = () => ["#!/usr/bin/env bash", libraryText("node/programs/pidns.sh").trimEnd(), libraryText("migration/programs/lease.sh")].join("\n");

/**
 * Runs on the source before the checkpoint: finds the job's container and its freezer cgroup,
 * writes the lease tool and starts its watcher. Refuses while an earlier attempt still holds the
 * job (its watcher alive and undecided).
 */
export function holdScript(a: HoldArgs, attempt: string): string {
    return nodeProgram("migration/programs/hold.sh", `hold ${a.namespace}/${a.pod}`, {
        LEASE_DIR: `${LEASE_ROOT}/${a.id}`, ID: a.id, POD: a.pod, NAMESPACE: a.namespace, CONTAINER: FLINK_CONTAINER, ATTEMPT: attempt,
        MAX_PAUSE: a.maxPauseSeconds, CHECKPOINT_TIMEOUT: a.checkpointTimeoutSeconds, CHECKPOINT_DIR: KUBELET_CHECKPOINT_DIR,
        CRIO_ENDPOINT: CRIO_SOCKET, CRIO_SOCKET: CRIO_SOCKET_PATH, LEASE_TOOL: leaseTool(),
    }, ["node/programs/container.sh"]);
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
    return nodeProgram("migration/programs/cutover.sh", `cutover ${a.id}`, {
        ID: a.id, POD: a.pod, NAMESPACE: a.namespace, CONTAINER: FLINK_CONTAINER, CRIO_ENDPOINT: CRIO_SOCKET,
        LEASE_PATH: `${LEASE_ROOT}/${a.id}/lease.sh`, VERIFY: flinkVerifyScript(a),
        PY_SUMMARY: programText("migration/programs/cutover-summary.py"),
        PEER_HOST: a.source.host, PEER_PORT: a.source.port, PEER_USER: a.source.user,
    }, ["node/programs/peer.sh", "node/programs/pidns.sh"]);
}
