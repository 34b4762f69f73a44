// One migration hop: a thin component over its ordered step table (steps.ts), one remote
// command per row and the restored pod where the table says, each after the row(s) before it.
// Each step records what it did in its stdout, read back as the hop's summary.
//
// Failure and retry: from the checkpoint on, the source job is frozen, not stopped, and its lease
// (cutover.ts) gives it back to the source if the cutover does not commit within
// cutover.maxPauseSeconds, logging the abort on the source. The program reads that log before
// declaring resources (`attempt`): a new entry lifts the ignore on the LAB_ATTEMPT line that starts
// every step's script (command.ts) and on the restored pod's environment, so the next `pulumi up`
// redoes the hop from a fresh checkpoint instead of resuming with an archive the source has moved past.
import * as pulumi from "@pulumi/pulumi";
import { jsonStdout, NodeHandle, nodeCommand } from "../node/command";
import type { MigrationHop } from "./plan";
import { Observation, observedDigest } from "../node/drift";
import {
    archivesOf, CheckpointOut, CriuStats, CutoverOut, ImageOut, MIGRATION_STEPS, SentArchive, StepContext, StepName, TransferOut,
} from "./steps";
import type { MigratingWorkload, WorkloadProbe } from "../workload/workload";
import type { RestoreMode } from "../config/types";

/** Which attempt of a hop this run declares, from the source's abort log (cutover.ts abortLog). */
export interface Attempt {
    /** "first", or "retry <digest of the abort log>". */
    readonly value: string;
    /** True when the source took the job back at least once: the hop's steps run again. */
    readonly retrying: boolean;
}

/** The attempt a hop is at, from what the program observed on its source (undefined: not observed). */
export function attemptOf(observed: Observation | undefined): Attempt {
    const digest = observedDigest(observed);
    if (digest === undefined) return { value: "first", retrying: false };
    return { value: `retry ${digest.slice(0, 12)}`, retrying: true };
}

export interface MigrationArgs {
    readonly hop: MigrationHop;
    /** What moves. */
    readonly workload: MigratingWorkload;
    readonly attempt: Attempt;
    readonly namespace: string;
    /** Kubernetes name of the pod being checkpointed, and of the pod restored from it. */
    readonly sourcePod: string;
    readonly restoredPod: string;
    readonly source: NodeHandle;
    readonly target: NodeHandle;
    readonly master: NodeHandle;
    readonly archiveDir: string;
    readonly keep: number;
    readonly maxPauseSeconds: number;
    /** How the target restores (archive.restore). */
    readonly restoreMode: RestoreMode;
    /** The workload's own image: a direct restore's pod names it (CRI-O restores onto it). */
    readonly baseImage: string;
    /** The key the source node accepts (secret), handed to the target on stdin to reach the source. */
    readonly sshPrivateKey: pulumi.Output<string>;
    /**
     * Declares the restored pod (the table's "restore" row) and returns what the cutover must wait
     * for; nothing for a hop whose stage a later hop has replaced already.
     */
    readonly restore: (from: RestoreSource) => pulumi.Resource[];
}

/** What the restored pod starts from. */
export interface RestoreSource {
    /** The pod's image: the checkpoint image, or for a direct restore the workload's own image. */
    readonly image: pulumi.Output<string>;
    /** For a direct restore: per container, the archive on the target that the CRI proxy hands CRI-O (cri-proxy/). */
    readonly archives?: Readonly<Record<string, string>>;
    /** The steps the pod is made after (the table's `after` for the restore row). */
    readonly after: pulumi.Input<pulumi.Resource>[];
}

export interface PhaseTimings { checkpoint: number; transfer: number; image?: number; restore?: number; cutover?: number }

/** Wall-clock marks of a hop (ms since the epoch, from the nodes' clocks). */
export interface MigrationTimeline {
    checkpointAt: number; transferAt: number; imageAt?: number;
    /** CRI-O paused the source for the checkpoint: the job's last progress there. */
    pausedAt: number;
    /** CRIU's dump ended (the runtime's checkpoint returned). */
    dumpedAt: number;
    /** CRI-O wrote the archive and tried to thaw the source; the runtime wrapper kept it frozen. */
    heldAt: number;
    /** The restored container started on the target: the job's first progress there. */
    restoredAt: number;
    cutoverAt: number; committedAt: number;
}

/** What a finished hop records in the stack outputs. */
export interface MigrationSummary {
    id: string;
    /** The workload the hop moved ("flink" or a name from `workloads`). */
    workload: string;
    from: string; to: string; attempt: string;
    /** The first container's archives on both ends and its digest; sizeBytes counts every container's archive. */
    sourceArchive: string; archive: string; sha256: string; sizeBytes: number;
    /** A pod with several containers: each one's archive. */
    archives?: (SentArchive & { sha256: string })[];
    /** How the target restored: from the archive directly, or from a checkpoint image. */
    restoredFrom: RestoreMode;
    /** The restored pod's image: the checkpoint image, or the workload's own for a direct restore. */
    image: string; jobId: string;
    /** The workload's progress figure (Flink: records read) on the source right before the hold, and on the target once verified. */
    records: { before: number; after: number };
    /** Resident memory of the source pod before the checkpoint (compare with sizeBytes). */
    rssBytes: number;
    seconds: PhaseTimings;
    /** How long the job made no progress: from the source's pause to the restored container's start. */
    noProgressSeconds: number;
    /** CRIU's own figures (its stats-dump and stats-restore): times in ms, counts in pages. */
    criu: { dump: CriuStats; restore: CriuStats };
    timeline: MigrationTimeline;
}

export class Migration extends pulumi.ComponentResource {
    /** The image the restored pod starts from. */
    public readonly image: pulumi.Output<string>;
    /** What the hop did: paths, sizes, digests, phase timings (the stack's `migrations` output). */
    public readonly summary: pulumi.Output<MigrationSummary>;
    /** The workload it moves, and its position in the migrations list. */
    public readonly workload: string;
    public readonly index: number;

    /** `opts.dependsOn` (the cluster, the source pod) is what the first step waits for. */
    constructor(name: string, args: MigrationArgs, opts?: pulumi.ComponentResourceOptions) {
        super("lab:migration:Migration", name, {}, opts);
        const { hop } = args;
        this.workload = hop.workload;
        this.index = hop.index;
        if (hop.from === hop.to) throw new pulumi.ResourceError(`migration ${hop.id}: source and target are both ${hop.to}`, this);
        const outs = new Map<StepName, pulumi.Output<unknown>>();
        const ctx: StepContext = {
            hop, workload: args.workload, namespace: args.namespace, sourcePod: args.sourcePod, restoredPod: args.restoredPod,
            source: args.source, target: args.target, archiveDir: args.archiveDir, keep: args.keep,
            maxPauseSeconds: args.maxPauseSeconds, attempt: args.attempt.value, restore: args.restoreMode,
            out: <T>(step: StepName) => outs.get(step) as pulumi.Output<T>,
        };
        const rows = MIGRATION_STEPS.filter(r => r.only === undefined || r.only === args.restoreMode);
        const nodes = { source: args.source, target: args.target, master: args.master };
        const done = new Map<StepName, pulumi.Input<pulumi.Resource>[]>();
        let image: pulumi.Output<string> = pulumi.output(args.baseImage);
        rows.forEach((row, i) => {
            const first = i === 0;
            const after: pulumi.Input<pulumi.Resource>[] = first
                ? [...toArray(opts?.dependsOn)]
                : (row.after ?? [rows[i - 1].step]).flatMap(s => done.get(s)!);
            if (row.kind === "pod") {
                const archives = args.restoreMode === "direct" ? archivesOf(ctx) : undefined;
                done.set(row.step, [...after, ...args.restore({ image, archives, after })]);
                return;
            }
            // LAB_ATTEMPT, the first line of each step's script, runs the step again when the hop is
            // retried (see the file comment).
            const cmd = nodeCommand(`${name}-${row.step}`, {
                node: nodes[row.on],
                create: row.program(ctx),
                delete: row.delete?.(ctx),
                stdin: row.sourceKey ? args.sshPrivateKey : undefined,
                attempt: { value: args.attempt.value, rerun: args.attempt.retrying },
                triggers: [{ lab: "migration-step", id: hop.id, step: row.step, from: hop.from, to: hop.to }],
            }, { parent: this, dependsOn: after });
            done.set(row.step, [cmd]);
            outs.set(row.step, jsonStdout(cmd));
            if (row.step === "image") image = ctx.out<ImageOut>("image").image;
        });
        this.image = image;
        this.summary = summarize(hop, args.attempt.value, ctx, image);
        this.registerOutputs({ image: this.image, summary: this.summary });
    }
}

const toArray = <T>(x: pulumi.Input<T> | pulumi.Input<pulumi.Input<T>[]> | undefined): pulumi.Input<T>[] =>
    x === undefined ? [] : Array.isArray(x) ? x : [x as pulumi.Input<T>];

/** The hop's summary from what its steps printed. */
function summarize(hop: MigrationHop, attempt: string, x: StepContext, image: pulumi.Output<string>): pulumi.Output<MigrationSummary> {
    const retention = pulumi.all([x.out("retention"), x.out("source-retention")]);
    const built = x.restore === "image" ? x.out<ImageOut>("image") : pulumi.output(undefined);
    return pulumi.all([x.out<CheckpointOut>("checkpoint"), x.out<TransferOut>("transfer"), built,
        x.out<WorkloadProbe>("source-probe"), x.out<CutoverOut>("cutover"), image, retention]).apply(
        ([c, a, i, before, v, img]): MigrationSummary => {
            // The restore can start when the step before it ends: the image build, or the transfer.
            const ready = i ? i.startedAt + i.seconds * 1000 : a.startedAt + a.seconds * 1000;
            return {
                id: hop.id, workload: hop.workload, from: hop.from, to: hop.to, attempt, sourceArchive: c.archive,
                archive: a.archive, sha256: v.sha256, sizeBytes: a.sizeBytes,
                // Each container's archive, for a pod with several (the fields above are its first container's).
                ...(a.archives && a.archives.length > 1 ? { archives: a.archives.map((s, k) => ({ ...s, sha256: v.sha256s?.[k] ?? "" })) } : {}),
                restoredFrom: x.restore, image: img, jobId: v.jobId,
                records: { before: before.records, after: v.records },
                rssBytes: before.rssBytes,
                seconds: {
                    checkpoint: c.seconds, transfer: a.seconds, ...(i ? { image: i.seconds } : {}),
                    // From the archive (or image) ready on the target to the restored container's start.
                    restore: round((v.restoredAt - ready) / 1000), cutover: v.seconds,
                },
                noProgressSeconds: round((v.restoredAt - v.pausedAt) / 1000),
                criu: v.criu,
                timeline: {
                    checkpointAt: c.startedAt, transferAt: a.startedAt, ...(i ? { imageAt: i.startedAt } : {}),
                    pausedAt: v.pausedAt, dumpedAt: v.dumpedAt, heldAt: v.heldAt, restoredAt: v.restoredAt,
                    cutoverAt: v.startedAt, committedAt: v.committedAt,
                },
            };
        });
}

const round = (x: number) => Math.round(x * 1000) / 1000;
