// The cutover of a migration: the source job is held (frozen) from its checkpoint until the target
// has restored and verified it, then either the target commits and the source's frozen copy is
// retired, or the source resumes where it was. A lease on the source decides which, exactly once.
//
// Why a freeze and how: the kubelet's checkpoint leaves the container running (CRI-O passes
// --leave-running), so without a hold the source would go on while the hop runs and the work it
// did would be lost at cutover (the job's count would step back). CRI-O itself pauses the
// container with the cgroup freezer (`runc pause`) before the dump and thaws it (`runc resume`)
// once the archive is written. CRI-O's runtime path on every node is the lab's wrapper
// (programs/oci-runtime.sh): for a container the hold step armed, it records CRI-O's pause and
// refuses CRI-O's thaw, so the job stays frozen from the dump to the decision with no thaw in
// between, and CRI-O keeps seeing it "paused", which is true. The lease (programs/lease.sh)
// decides exactly once: the target commits (the frozen copy is killed), or the source takes the job
// back through CRI-O's own `GET /unpause/{id}` (a plain thaw when CRI-O cannot be reached) when
// the target did not commit within `maxPauseSeconds` of the pause.
import { libraryText, nodeProgram, programText, q } from "../node/program";
import { CRIO_SWITCH_LIB, SshPeer } from "../node/scripts";
import type { VerifyArgs } from "../workload/workload";
import { CRIO_DROP_IN_PATH, CRIO_SOCKET } from "../node/crio";

/** Per-hop lease directories on the source node: hold state of the current attempt and the abort log. */
export const LEASE_ROOT = "/var/lib/live-migration-lab/migrations";

/**
 * One line per attempt the source took back (the target was not committed in time, or verify
 * failed). The program reads its digest over SSH: a new line makes the next `pulumi up` redo the
 * hop from a fresh checkpoint instead of resuming with a stale archive.
 */
export const abortLog = (id: string) => `${LEASE_ROOT}/${id}/aborted`;

/** The hold state of a hop's current attempt on the source (hold.sh): the runtime wrapper's marks. */
export const holdDir = (id: string) => `${LEASE_ROOT}/${id}/hold`;

/** CRI-O's socket as a path (its inspect API has /pause/{id} and /unpause/{id} since CRI-O 1.24). */
const CRIO_SOCKET_PATH = CRIO_SOCKET.replace(/^unix:\/\//, "");

/** The runtime wrapper's lease files: HOLDS_DIR/<container id> names the hold directory of a hop. */
export const HOLDS_DIR = "/run/live-migration-lab/holds";

/** Where the runtime wrapper keeps CRIU's figures of each restore: STATS_DIR/<container id>.restore. */
export const STATS_DIR = "/run/live-migration-lab/stats";

/** Where CRI-O's runtime path points on every node: the wrapper, named like the runtime it runs. */
export const ociRuntimeWrapper = (runtime: "runc" | "crun") => `/usr/local/libexec/live-migration-lab/${runtime}`;

/** Where CRI-O packages and distributions put the runtime, tried in order when the driver does not know. */
const RUNTIME_CANDIDATES = (runtime: string) => [`/usr/libexec/crio/${runtime}`, `/usr/bin/${runtime}`, `/usr/sbin/${runtime}`, `/usr/local/bin/${runtime}`];

/**
 * A restored pod's fence on the target (programs/fence.sh): FENCES_DIR/<namespace>_<pod>, written by
 * the transfer before the archive is in place, read by the runtime wrapper when it restores the pod's
 * container; the cutover marks it (.cutover, .committing, .committed).
 */
export const FENCES_DIR = "/run/live-migration-lab/fences";
export const fencePath = (namespace: string, pod: string) => `${FENCES_DIR}/${namespace}_${pod}`;

/** Where the runtime wrapper logs what it fitted in a container's spec (programs/oci-spec-fit.py). */
export const SPEC_FIT_LOG = "/run/live-migration-lab/oci-spec-fit.log";

/** The runtime wrapper's file (programs/oci-runtime.sh), running `realPath` or the first candidate that exists. */
/** The freezer helpers (v1 and v2) the wrapper, the fence, the hold and the lease share. */
const FREEZER = "migration/programs/freezer.sh";

export function renderOciRuntime(runtime: "runc" | "crun", realPath?: string, holds = HOLDS_DIR, stats = STATS_DIR,
    status = "/proc/self/status", fitLog = SPEC_FIT_LOG, fences = FENCES_DIR): string {
    return [
        "#!/usr/bin/env bash",
        `# Managed by live-migration-lab: CRI-O's runtime path for ${runtime} (components/migration/programs/oci-runtime.sh).`,
        `REAL=${q(realPath ?? "")}`,
        `CANDIDATES=${q(RUNTIME_CANDIDATES(runtime).join(" "))}`,
        `HOLDS=${q(holds)}`,
        `STATS=${q(stats)}`,
        `STATUS_FILE=${q(status)}`,
        `FIT_LOG=${q(fitLog)}`,
        `PY_FIT=${q(programText("migration/programs/oci-spec-fit.py"))}`,
        `FENCES=${q(fences)}`,
        `FENCE_PROGRAM=${q(nodeProgram("migration/programs/fence.sh", "fence", {}, ["node/programs/pidns.sh", FREEZER]))}`,
        libraryText(FREEZER).trimEnd(),
        libraryText("migration/programs/oci-runtime.sh").trimEnd(),
        "",
    ].join("\n");
}

/** Where the kubelet writes checkpoint archives (on the source). */
export const KUBELET_CHECKPOINT_DIR = "/var/lib/kubelet/checkpoints";

export interface HoldArgs {
    readonly id: string;
    readonly namespace: string;
    readonly pod: string;
    /** The pod's containers: the hold freezes them together. */
    readonly containers: readonly string[];
    readonly maxPauseSeconds: number;
    /** How long to wait for the checkpoint (CRI-O's pause) to begin and end. */
    readonly checkpointTimeoutSeconds: number;
}

/** The lease tool (programs/lease.sh with the pidns library), written next to the lease by the hold step. */
export const leaseTool = () => ["#!/usr/bin/env bash", libraryText("node/programs/pidns.sh").trimEnd(), libraryText(FREEZER).trimEnd(),
    libraryText("migration/programs/lease.sh")].join("\n");

/**
 * Runs on the source before the checkpoint: finds the job's container and its freezer cgroup,
 * writes the lease tool and starts its watcher. Refuses while an earlier attempt still holds the
 * job (its watcher alive and undecided).
 */
export function holdScript(a: HoldArgs, attempt: string): string {
    return nodeProgram("migration/programs/hold.sh", `hold ${a.namespace}/${a.pod}`, {
        LEASE_DIR: `${LEASE_ROOT}/${a.id}`, ID: a.id, POD: a.pod, NAMESPACE: a.namespace, CONTAINERS: a.containers.join(" "), ATTEMPT: attempt,
        MAX_PAUSE: a.maxPauseSeconds, CHECKPOINT_TIMEOUT: a.checkpointTimeoutSeconds, HOLDS: HOLDS_DIR,
        CRIO_ENDPOINT: CRIO_SOCKET, CRIO_SOCKET: CRIO_SOCKET_PATH, LEASE_TOOL: leaseTool(), CRIO_DROP_IN: CRIO_DROP_IN_PATH,
    }, ["node/programs/container.sh", CRIO_SWITCH_LIB, FREEZER]);
}

export interface CutoverArgs extends VerifyArgs {
    readonly id: string;
    /** The restored pod's containers, and the workload's verify program for it (MigratingWorkload.verifyScript). */
    readonly containers: readonly string[];
    readonly verify: string;
    /** The transferred archives on the target, one per container in the pod's order (the first one's stats-dump is CRIU's record of the dump). */
    readonly archives: readonly string[];
    /** The source's hold: verify ends before it does. */
    readonly maxPauseSeconds: number;
    readonly source: SshPeer;
    /** The archives the kubelet reported for the checkpoint, and the ones the transfer streamed: the same files, or no commit. */
    readonly checkpointed: readonly string[];
    readonly sent: readonly string[];
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
        ID: a.id, POD: a.pod, NAMESPACE: a.namespace, CONTAINERS: a.containers.join(" "), CRIO_ENDPOINT: CRIO_SOCKET,
        LEASE_PATH: `${LEASE_ROOT}/${a.id}/lease.sh`, VERIFY: a.verify,
        PY_SUMMARY: programText("migration/programs/cutover-summary.py"), PY_STATS: programText("migration/programs/criu-stats.py"),
        ARCHIVES: a.archives.join("\n"), STATS: STATS_DIR, MAX_PAUSE: a.maxPauseSeconds, CHECKPOINTED: a.checkpointed.join("\n"), SENT: a.sent.join("\n"),
        PY_SPLIT: programText("migration/programs/archive-split.py"),
        FENCE: fencePath(a.namespace, a.pod),
        PEER_HOST: a.source.host, PEER_PORT: a.source.port, PEER_USER: a.source.user,
    }, ["node/programs/peer.sh", "node/programs/pidns.sh", "node/programs/container.sh"]);
}
