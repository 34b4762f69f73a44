// One migration hop as data: the ordered table of its steps. The Migration component
// (migration.ts) declares one resource per row in this order, each after the row(s) it names;
// `pulumi preview` lists them as migrate-<id>-<step>; the README's "How a migration runs" lists
// the same rows (a unit test keeps the two equal).
import * as pulumi from "@pulumi/pulumi";
import type { NodeHandle } from "../node/command";
import type { MigrationHop } from "./plan";
import {
    checkpointImageScript, checkpointScript, kubeletArchivePrefix, preflightScript, pruneArchivesScript, removeFileScript,
    removeImageScript, transferredArchive, transferScript,
} from "../node/scripts";
import { FLINK_CONTAINER, FLINK_POD, FlinkProbe, flinkProbeScript } from "../flink/flink";
import { KUBELET_CLIENT_CERT, KUBELET_CLIENT_KEY } from "../cluster/cluster";
import { cutoverScript, fencePath, holdDir, holdScript, KUBELET_CHECKPOINT_DIR } from "./cutover";
import { IMAGE_STORE } from "../node/crio";
import type { RestoreMode } from "../config/config";

/** Where a step runs: on the hop's source or target node, or on the master (the kubelet API's client). */
export type StepNode = "source" | "target" | "master";

/** What every step of a hop may read: the hop, where it runs, and what earlier steps printed. */
export interface StepContext {
    readonly hop: MigrationHop;
    readonly namespace: string;
    /** Kubernetes names of the pod being checkpointed and of the pod restored from it. */
    readonly sourcePod: string;
    readonly restoredPod: string;
    readonly source: NodeHandle;
    readonly target: NodeHandle;
    readonly archiveDir: string;
    readonly keep: number;
    readonly maxPauseSeconds: number;
    /** "first", or "retry <digest>" (migration.ts attemptOf). */
    readonly attempt: string;
    /** How the target restores (archive.restore): rows for the other way are left out. */
    readonly restore: RestoreMode;
    /** The one JSON line an earlier step printed. */
    out<T>(step: StepName): pulumi.Output<T>;
}

export interface StepResult { startedAt: number; seconds: number }
export type CheckpointOut = { archive: string } & StepResult;
/** startedAt is when the source sent the first byte (its clock); seconds run from there to the archive in place. */
export type TransferOut = { archive: string; sourceArchive: string; sizeBytes: number } & StepResult;
export type ImageOut = { image: string; id: string } & StepResult;
/** CRIU's own figures of a dump or restore (programs/criu-stats.py), or why there are none. */
export type CriuStats = Record<string, number> | { unavailable: string };
export type CutoverOut = FlinkProbe & StepResult & {
    /** The archive's sha256, the same on both ends. */
    sha256: string;
    restoredAt: number; pausedAt: number; dumpedAt: number; heldAt: number; committedAt: number; retired: number;
    criu: { dump: CriuStats; restore: CriuStats };
};

interface Row {
    readonly step: StepName;
    readonly on: StepNode;
    /** One line for the README and the preview: what the step does. */
    readonly does: string;
    /** The rows this one runs after; the row before it when absent. */
    readonly after?: readonly StepName[];
    /** The row exists only when the target restores this way (archive.restore). */
    readonly only?: RestoreMode;
}

/** A remote command on `on`. */
export interface CommandRow extends Row {
    readonly kind: "command";
    program(x: StepContext): pulumi.Input<string>;
    /** What deleting the step's resource removes (its archive, its image). */
    delete?(x: StepContext): string;
    /** The step reaches the source over SSH: it gets the source's key on stdin. */
    readonly sourceKey?: boolean;
}

/** The restored pod: declared by the caller (the workload), from the archive or the image step's image. */
export interface PodRow extends Row {
    readonly kind: "pod";
}

export type StepName = "source-probe" | "preflight" | "hold" | "checkpoint" | "transfer" | "image" | "restore" | "cutover" | "retention" | "source-retention";

/** How long a checkpoint may take to begin (CRI-O's pause) and to be written, in seconds. */
const CHECKPOINT_TIMEOUT = 300;

/** Local image name of a hop's checkpoint. */
export const checkpointImage = (id: string) => `localhost/flink-minimal-checkpoint:${id}`;

/** Where the hop's archive lands on the target (its name depends on the attempt). */
export const archiveOf = (x: StepContext) => transferredArchive({ targetDir: x.archiveDir, id: x.hop.id, attempt: x.attempt });

export const MIGRATION_STEPS: readonly (CommandRow | PodRow)[] = [
    {
        kind: "command", step: "source-probe", on: "source",
        does: "the job's id, record count and RSS right before the checkpoint",
        program: x => flinkProbeScript({ namespace: x.namespace, pod: x.sourcePod }),
    },
    {
        kind: "command", step: "preflight", on: "target",
        does: "`criu check` passes, CRI-O answers, the archive directory is 0700, and there is room for the archive and its second copy (the archive joined after the restore, or the checkpoint image)",
        // Preflight sizes the archive from the source's RSS.
        program: x => x.out<FlinkProbe>("source-probe").apply(b => preflightScript({
            archiveDir: x.archiveDir, imageStore: IMAGE_STORE, rssBytes: b.rssBytes,
            copy: x.restore === "image" ? "checkpoint image" : "joined copy",
        })),
    },
    {
        kind: "command", step: "hold", on: "source",
        does: "arms the hop's lease: the runtime wrapper keeps the job frozen from CRI-O's pause for the dump until the target commits",
        program: x => holdScript({
            id: x.hop.id, namespace: x.namespace, pod: x.sourcePod, maxPauseSeconds: x.maxPauseSeconds, checkpointTimeoutSeconds: CHECKPOINT_TIMEOUT,
        }, x.attempt),
    },
    {
        kind: "command", step: "checkpoint", on: "master",
        does: "asks the source's kubelet for a checkpoint with the API server's kubelet client certificate",
        program: x => pulumi.output(x.source.address).apply(addr => checkpointScript({
            kubeletAddress: addr, namespace: x.namespace, pod: x.sourcePod, container: FLINK_CONTAINER,
            clientCert: KUBELET_CLIENT_CERT, clientKey: KUBELET_CLIENT_KEY, timeoutSeconds: CHECKPOINT_TIMEOUT,
        })),
    },
    {
        // Runs beside the checkpoint: the archive is streamed while CRI-O writes it.
        kind: "command", step: "transfer", on: "target", sourceKey: true, after: ["hold"],
        does: "the source sends the archive over the lab network while CRI-O writes it, into the 0700 archive directory",
        program: x => pulumi.output(x.source.address).apply(host => transferScript({
            from: { host, port: x.source.port, user: x.source.user },
            source: {
                hold: holdDir(x.hop.id), dir: KUBELET_CHECKPOINT_DIR, prefix: kubeletArchivePrefix(x.namespace, x.sourcePod, FLINK_CONTAINER),
                timeoutSeconds: CHECKPOINT_TIMEOUT,
            },
            targetDir: x.archiveDir, id: x.hop.id, attempt: x.attempt,
            fence: { path: fencePath(x.namespace, x.restoredPod), maxPauseSeconds: x.maxPauseSeconds },
            split: x.restore === "direct",
        })),
        delete: x => removeFileScript(archiveOf(x)),
    },
    {
        kind: "command", step: "image", on: "target", only: "image",
        does: "(`archive.restore: image` only) turns the archive into a local checkpoint image with buildah (no registry)",
        program: x => x.out<TransferOut>("transfer").apply(t => checkpointImageScript({
            archive: t.archive, image: checkpointImage(x.hop.id), container: FLINK_CONTAINER,
        })),
        delete: x => removeImageScript(checkpointImage(x.hop.id)),
    },
    {
        // Made once the target passed preflight, while the source is checkpointed: the sandbox and
        // its network are ready before the archive arrives (the CRI proxy waits for it), so only
        // CRI-O's restore is left inside the frozen window. From an image, it waits for the image.
        kind: "pod", step: "restore", on: "target", after: ["preflight"],
        does: "the restored pod is created on the target: the lab's CRI proxy hands CRI-O the archive's path and CRI-O restores from it (`direct`), or from the checkpoint image (`image`)",
    },
    {
        kind: "command", step: "cutover", on: "target", sourceKey: true, after: ["checkpoint", "transfer", "restore"],
        does: "checks the streamed archive is the one the kubelet reported, verifies the restored job, commits on the source's lease and kills the source's frozen copy",
        program: x => pulumi.all([x.out<FlinkProbe>("source-probe"), x.source.address, x.out<CheckpointOut>("checkpoint"), x.out<TransferOut>("transfer")]).apply(([b, host, c, t]) => cutoverScript({
            id: x.hop.id, source: { host, port: x.source.port, user: x.source.user }, archive: archiveOf(x), maxPauseSeconds: x.maxPauseSeconds,
            checkpointed: c.archive, sent: t.sourceArchive,
            namespace: x.namespace, pod: x.restoredPod, jobId: b.jobId, recordsBefore: b.records,
            // Past the hold the source has the job back and no commit can succeed.
            timeoutSeconds: x.maxPauseSeconds,
        })),
    },
    {
        kind: "command", step: "retention", on: "target", after: ["cutover"],
        does: "keeps the newest `archive.keep` archives in the target's archive directory",
        program: x => pruneArchivesScript(x.archiveDir, x.keep),
    },
    {
        kind: "command", step: "source-retention", on: "source", after: ["cutover"],
        does: "keeps the newest `archive.keep` of the lab's own archives in the source's kubelet checkpoint directory",
        program: x => pruneArchivesScript(KUBELET_CHECKPOINT_DIR, x.keep, `${kubeletArchivePrefix(x.namespace, `${FLINK_POD}*`, FLINK_CONTAINER)}*.tar`),
    },
];
