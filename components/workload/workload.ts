// A workload: a pod the lab runs and can migrate. The migration chain (migration/) knows a workload
// only through this interface: its pods' names, its containers, and the programs that probe and
// verify it. The Flink job (flink/) is one workload; the pods the stack brings (`workloads`,
// pod.ts) are the others.
import { nodeProgram, programText } from "../node/program";

/** What a workload's probe prints: one JSON line. */
export interface WorkloadProbe {
    pod: string;
    node: string;
    /** What must stay the same across a hop: a Flink job's id, a connection's id ("" when the workload has none). */
    jobId: string;
    /** "RUNNING" when the probe answered. */
    state: string;
    /** When the job was submitted (ms since the epoch, Flink); 0 when the workload has no such notion. */
    startTime: number;
    /** The progress figure: only ever grows while the workload lives (Flink: records read). */
    records: number;
    /** Completed Flink checkpoints (0 for other workloads). */
    checkpoints: number;
    /** Resident memory of all the pod's processes (sizes the archive). */
    rssBytes: number;
    /** When the probe ran (ms since the epoch). */
    at: number;
}

export interface ProbeArgs {
    readonly namespace: string;
    readonly pod: string;
}

export interface VerifyArgs extends ProbeArgs {
    /** The identity that must be there: the one the source had when it was checkpointed. */
    readonly jobId: string;
    /** The source's figure just before the checkpoint: the restored one must not be below it. */
    readonly recordsBefore: number;
    readonly timeoutSeconds: number;
}

/** A workload as the migration chain sees it. */
export interface MigratingWorkload {
    /** Its name in the config (`migrations[].workload`). */
    readonly name: string;
    /** Its pods' names: PREFIX for the first stage, PREFIX-<hop id> for a hop's restored pod. */
    readonly podPrefix: string;
    /** Its containers, in the order the pod starts them. */
    readonly containers: readonly string[];
    /** A node program printing one WorkloadProbe line for a pod of this workload on that node. */
    probeScript(a: ProbeArgs): string;
    /** A node program verifying a restored pod (verifyScript with this workload's probe). */
    verifyScript(a: VerifyArgs): string;
}

/** Asks the lab's CRI proxy to restore a container from an archive on the node (cri-proxy/proxy.go RestoreAnnotationPrefix). */
export const restoreAnnotation = (container: string) => `live-migration-lab/restore.${container}`;

/**
 * What every pod of the lab tolerates: its node's runtime or kubelet being down. Its memory is on its
 * node, so it waits for the node rather than be evicted after the default 300 s (as DaemonSet pods do).
 */
export const NODE_OUTAGE_TOLERATIONS = ["not-ready", "unreachable"].map(t => ({ key: `node.kubernetes.io/${t}`, operator: "Exists", effect: "NoExecute" }));

/** Where the local lab's nodes see the host's image inputs (scripts/flink-build.sh --root), read-only. */
export const IMAGE_INPUTS_DIR = "/opt/lab/images";

/** Kubernetes name of a workload's pod at a stage ("initial" or a hop id); stages exist side by side while a hop runs. */
export const stagePod = (prefix: string, stage: string) => (stage === "initial" ? prefix : `${prefix}-${stage}`);

/**
 * Verifies a restored pod on its node with `probe` (programs/verify.sh): the same identity, running,
 * its figure not below the source's before the checkpoint and growing. Prints the last probe plus `seconds`.
 */
export function verifyScript(a: VerifyArgs, probe: string): string {
    return nodeProgram("workload/programs/verify.sh", `verify ${a.pod}`, {
        POD: a.pod, JOB_ID: a.jobId, RECORDS_BEFORE: a.recordsBefore, TIMEOUT: a.timeoutSeconds,
        PROBE: probe, PY_VERDICT: programText("workload/programs/verdict.py"),
    });
}
