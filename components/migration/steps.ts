// One migration hop as data: the ordered table of its steps. The Migration component
// (migration.ts) declares one resource per row in this order, each after the row(s) it names;
// `pulumi preview` lists them as migrate-<id>-<step>; docs/how-a-migration-runs.md lists
// the same rows (a unit test keeps the two equal).
import * as pulumi from "@pulumi/pulumi";
import type { NodeHandle } from "../node/command";
import type { MigrationHop } from "./plan";
import {
    checkpointImageScript, checkpointScript, kubeletArchivePrefix, preflightScript, pruneArchivesScript, removeFileScript,
    removeImageScript, transferredArchive, transferScript,
} from "../node/scripts";
import type { MigratingWorkload, WorkloadProbe } from "../workload/workload";
import { firstFigureScript } from "../workload/pod";
import { KUBELET_CLIENT_CERT, KUBELET_CLIENT_KEY } from "../paths";
import { cutoverScript, fencePath, holdDir, holdScript, KUBELET_CHECKPOINT_DIR } from "./cutover";
import { IMAGE_STORE } from "../node/crio";
import type { RestoreMode } from "../config/types";

/** Where a step runs: on the hop's source or target node, or on the master (the kubelet API's client). */
export type StepNode = "source" | "target" | "master";

/** What every step of a hop may read: the hop, where it runs, and what earlier steps printed. */
export interface StepContext {
    readonly hop: MigrationHop;
    /** What moves: its pods, containers, probe and verify. */
    readonly workload: MigratingWorkload;
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
/** archive: the first container's; archives: each container's, in the pod's order. */
export type CheckpointOut = { archive: string; archives: string[] } & StepResult;
/** One container's archive on both ends. */
export interface SentArchive { container: string; archive: string; sourceArchive: string; sizeBytes: number }
/**
 * startedAt is when the source sent the first byte (its clock); seconds run from there to the
 * archives in place. archive and sourceArchive are the first container's; sizeBytes counts all.
 */
export type TransferOut = { archive: string; sourceArchive: string; sizeBytes: number; archives: SentArchive[] } & StepResult;
export type ImageOut = { image: string; id: string } & StepResult;
/** CRIU's own figures of a dump or restore (programs/criu-stats.py), or why there are none. */
export type CriuStats = Record<string, number> | { unavailable: string };
export type CutoverOut = WorkloadProbe & StepResult & {
    /** The first container's archive's sha256, the same on both ends; sha256s: each container's. */
    sha256: string;
    sha256s: string[];
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
export const checkpointImage = (podPrefix: string, id: string) => `localhost/${podPrefix}-checkpoint:${id}`;

/** The pod's first container (the one a checkpoint image is made of). */
const container = (x: StepContext) => x.workload.containers[0];

/** Where the hop's archives land on the target, per container (their names depend on the attempt). */
export const archivesOf = (x: StepContext): Record<string, string> => Object.fromEntries(x.workload.containers.map((c, i) =>
    [c, transferredArchive({ targetDir: x.archiveDir, id: x.hop.id, attempt: x.attempt }, i === 0 ? undefined : c)]));

export const MIGRATION_STEPS: readonly (CommandRow | PodRow)[] = [
    {
        kind: "command", step: "source-probe", on: "source",
        does: "the workload's probe right before the checkpoint (waits until it reports a figure): its identity (Flink: the job id), progress figure and RSS",
        program: x => firstFigureScript(x.sourcePod, x.workload.probeScript({ namespace: x.namespace, pod: x.sourcePod })),
    },
    {
        kind: "command", step: "preflight", on: "target",
        does: "`criu check` passes, CRI-O answers and its running config restores, the archive directory is 0700, and there is room for the archive and its second copy (the archive joined after the restore, or the checkpoint image)",
        // Preflight sizes the archive from the source's RSS.
        program: x => x.out<WorkloadProbe>("source-probe").apply(b => preflightScript({
            archiveDir: x.archiveDir, imageStore: IMAGE_STORE, rssBytes: b.rssBytes,
            copy: x.restore === "image" ? "checkpoint image" : "joined copy",
        })),
    },
    {
        kind: "command", step: "hold", on: "source",
        does: "the source's running CRI-O restores too; arms the hop's lease: the runtime wrapper keeps the job frozen from CRI-O's pause for the dump until the target commits",
        program: x => holdScript({
            id: x.hop.id, namespace: x.namespace, pod: x.sourcePod, containers: x.workload.containers, maxPauseSeconds: x.maxPauseSeconds, checkpointTimeoutSeconds: CHECKPOINT_TIMEOUT,
        }, x.attempt),
    },
    {
        kind: "command", step: "checkpoint", on: "master",
        does: "asks the source's kubelet for a checkpoint with the API server's kubelet client certificate",
        program: x => pulumi.output(x.source.address).apply(addr => checkpointScript({
            kubeletAddress: addr, namespace: x.namespace, pod: x.sourcePod, containers: x.workload.containers,
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
                hold: holdDir(x.hop.id), dir: KUBELET_CHECKPOINT_DIR,
                containers: x.workload.containers.map(name => ({ name, prefix: kubeletArchivePrefix(x.namespace, x.sourcePod, name) })),
                timeoutSeconds: CHECKPOINT_TIMEOUT,
            },
            targetDir: x.archiveDir, id: x.hop.id, attempt: x.attempt,
            fence: { path: fencePath(x.namespace, x.restoredPod), maxPauseSeconds: x.maxPauseSeconds },
            split: x.restore === "direct",
        })),
        delete: x => removeFileScript(...Object.values(archivesOf(x))),
    },
    {
        kind: "command", step: "image", on: "target", only: "image",
        does: "(`archive.restore: image` only) turns the archive into a local checkpoint image with buildah (no registry)",
        program: x => x.out<TransferOut>("transfer").apply(t => checkpointImageScript({
            archive: t.archive, image: checkpointImage(x.workload.podPrefix, x.hop.id), container: container(x),
        })),
        delete: x => removeImageScript(checkpointImage(x.workload.podPrefix, x.hop.id)),
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
        does: "checks the streamed archive is the one the kubelet reported, verifies the restored workload with its probe, commits on the source's lease and kills the source's frozen copy",
        program: x => pulumi.all([x.out<WorkloadProbe>("source-probe"), x.source.address, x.out<CheckpointOut>("checkpoint"), x.out<TransferOut>("transfer")]).apply(([b, host, c, t]) => cutoverScript({
            id: x.hop.id, source: { host, port: x.source.port, user: x.source.user }, archives: Object.values(archivesOf(x)), maxPauseSeconds: x.maxPauseSeconds,
            checkpointed: c.archives ?? [c.archive], sent: t.archives?.map(a => a.sourceArchive) ?? [t.sourceArchive],
            namespace: x.namespace, pod: x.restoredPod, jobId: b.jobId, recordsBefore: b.records, containers: x.workload.containers,
            verify: x.workload.verifyScript({ namespace: x.namespace, pod: x.restoredPod, jobId: b.jobId, recordsBefore: b.records, timeoutSeconds: x.maxPauseSeconds }),
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
        does: "keeps the newest `archive.keep` of the workload's own archives (of each of its containers) in the source's kubelet checkpoint directory",
        program: x => pruneArchivesScript(KUBELET_CHECKPOINT_DIR, x.keep,
            ...x.workload.containers.map(c => `${kubeletArchivePrefix(x.namespace, `${x.workload.podPrefix}*`, c)}*.tar`)),
    },
];
