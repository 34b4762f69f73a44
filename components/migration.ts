// One migration hop as strictly ordered remote commands:
// source-probe (source) -> preflight (target) -> hold (source) -> checkpoint (kubelet API, from the
// master) -> transfer (target pulls from source, digest checked) -> checkpoint image (target) ->
// [restored pod: FlinkJob] -> cutover (target: verify, commit, retire the source's copy) ->
// retention (target and source). Each step records what it did in its stdout, read back as outputs.
//
// Failure and retry: from the checkpoint on, the source job is frozen, not stopped, and its lease
// (cutover.ts) gives it back to the source if the cutover does not commit within
// cutover.maxPauseSeconds, logging the abort on the source. The program reads that log before
// declaring resources (`attempt`): a new entry lifts the ignore on the LAB_ATTEMPT line that starts
// every step's script (command.ts) and on the restored pod's environment, so the next `pulumi up`
// redoes the hop from a fresh checkpoint instead of resuming with an archive the source has moved past.
import * as pulumi from "@pulumi/pulumi";
import { jsonStdout, NodeHandle, nodeCommand } from "./command";
import type { MigrationHop } from "./plan";
import {
    checkpointImageScript, checkpointScript, preflightScript, pruneArchivesScript, removeFileScript,
    removeImageScript, transferredArchive, transferScript,
} from "./scripts";
import { FLINK_CONTAINER, FlinkProbe, flinkProbeScript } from "./flink";
import { KUBELET_CLIENT_CERT, KUBELET_CLIENT_KEY } from "./cluster";
import { cutoverScript, holdScript, KUBELET_CHECKPOINT_DIR } from "./cutover";
import { Observation } from "./drift";

/** Which attempt of a hop this run declares, from the source's abort log (cutover.ts abortLog). */
export interface Attempt {
    /** "first", or "retry <digest of the abort log>". */
    readonly value: string;
    /** True when the source took the job back at least once: the hop's steps run again. */
    readonly retrying: boolean;
}

/** The attempt a hop is at, from what the program observed on its source (undefined: not observed). */
export function attemptOf(observed: Observation | undefined): Attempt {
    if (observed === undefined || observed === "absent") return { value: "first", retrying: false };
    return { value: `retry ${observed.split(" ")[0].slice(0, 12)}`, retrying: true };
}

export interface MigrationArgs {
    readonly hop: MigrationHop;
    readonly attempt: Attempt;
    readonly namespace: string;
    /** Kubernetes name of the pod being checkpointed. */
    readonly sourcePod: string;
    readonly source: NodeHandle;
    readonly target: NodeHandle;
    readonly master: NodeHandle;
    readonly archiveDir: string;
    readonly keep: number;
    readonly maxPauseSeconds: number;
    /** The key the source node accepts (secret), handed to the target on stdin to reach the source. */
    readonly sshPrivateKey: pulumi.Output<string>;
    /** What must exist first: the cluster, the source pod. */
    readonly dependsOn: pulumi.Input<pulumi.Resource>[];
}

/** Local image name of a hop's checkpoint. */
export const checkpointImage = (id: string) => `localhost/flink-minimal-checkpoint:${id}`;

/** Where CRI-O (containers/storage) keeps images on a node. */
const IMAGE_STORE = "/var/lib/containers/storage";

interface StepResult { startedAt: number; seconds: number }

export interface PhaseTimings { checkpoint: number; transfer: number; image: number; restore?: number; cutover?: number }

/** Wall-clock marks of a hop (ms since the epoch, from the nodes' clocks). */
export interface MigrationTimeline {
    checkpointAt: number; transferAt: number; imageAt: number;
    /** CRI-O paused the source for the checkpoint: the job's last progress there. */
    pausedAt: number;
    /** The lease froze the source again right after CRI-O's thaw. */
    heldAt: number;
    /** The restored container started on the target: the job's first progress there. */
    restoredAt: number;
    cutoverAt: number; committedAt: number;
}

/** What a finished hop records in the stack outputs. */
export interface MigrationSummary {
    id: string; from: string; to: string; attempt: string;
    sourceArchive: string; archive: string; sha256: string; sizeBytes: number;
    image: string; jobId: string;
    /** The job's record count on the source right before the hold, and on the target once verified. */
    records: { before: number; after: number };
    /** Resident memory of the source pod before the checkpoint (compare with sizeBytes). */
    rssBytes: number;
    seconds: PhaseTimings;
    /** How long the job made no progress: from the source's pause to the restored container's start. */
    noProgressSeconds: number;
    timeline: MigrationTimeline;
}

export class Migration extends pulumi.ComponentResource {
    /** Archive path on the source node, as the kubelet returned it. */
    public readonly sourceArchive: pulumi.Output<string>;
    /** Archive on the target, its digest and size. */
    public readonly archive: pulumi.Output<{ archive: string; sha256: string; sizeBytes: number } & StepResult>;
    /** The checkpoint image the restored pod starts from. */
    public readonly image: pulumi.Output<string>;
    /** The job on the source right before the checkpoint. */
    public readonly before: pulumi.Output<FlinkProbe>;
    private readonly args: MigrationArgs;
    private readonly steps: { checkpoint: pulumi.Output<{ archive: string } & StepResult>; image: pulumi.Output<{ image: string } & StepResult> };
    private readonly last: pulumi.Resource;
    private readonly name: string;

    constructor(name: string, args: MigrationArgs, opts?: pulumi.ComponentResourceOptions) {
        super("lab:migration:Migration", name, {}, opts);
        const { hop } = args;
        if (hop.from === hop.to) throw new pulumi.ResourceError(`migration ${hop.id}: source and target are both ${hop.to}`, this);
        this.args = args;
        this.name = name;
        const run = this.step.bind(this);

        // The job's figures on the source right before the checkpoint: preflight sizes the archive
        // from its RSS, cutover compares the restored count against its records.
        const sourceProbe = run("source-probe", args.source, flinkProbeScript({ namespace: args.namespace, pod: args.sourcePod }), [], args.dependsOn);
        this.before = jsonStdout<FlinkProbe>(sourceProbe);
        const preflight = run("preflight", args.target, this.before.apply(b => preflightScript({
            archiveDir: args.archiveDir, imageStore: IMAGE_STORE, rssBytes: b.rssBytes,
        })), [sourceProbe]);
        const hold = run("hold", args.source, holdScript({
            id: hop.id, namespace: args.namespace, pod: args.sourcePod,
            maxPauseSeconds: args.maxPauseSeconds, checkpointTimeoutSeconds: 300,
        }, args.attempt.value), [preflight]);
        const checkpoint = run("checkpoint", args.master, pulumi.output(args.source.address).apply(addr => checkpointScript({
            kubeletAddress: addr, namespace: args.namespace, pod: args.sourcePod, container: FLINK_CONTAINER,
            clientCert: KUBELET_CLIENT_CERT, clientKey: KUBELET_CLIENT_KEY, timeoutSeconds: 300,
        })), [hold]);
        const checkpointOut = jsonStdout<{ archive: string } & StepResult>(checkpoint);

        const archive = transferredArchive({ targetDir: args.archiveDir, id: hop.id });
        const transfer = run("transfer", args.target, pulumi.all([checkpointOut, args.source.address]).apply(([c, host]) => transferScript({
            from: { host, port: args.source.port, user: args.source.user }, archive: c.archive, targetDir: args.archiveDir, id: hop.id,
        })), [checkpoint], [], { delete: removeFileScript(archive), stdin: args.sshPrivateKey });
        this.archive = jsonStdout(transfer);

        const image = run("image", args.target, this.archive.apply(t => checkpointImageScript({
            archive, sha256: t.sha256, image: checkpointImage(hop.id), container: FLINK_CONTAINER,
        })), [transfer], [], { delete: removeImageScript(checkpointImage(hop.id)) });
        const imageOut = jsonStdout<{ image: string } & StepResult>(image);

        this.sourceArchive = checkpointOut.archive;
        this.image = imageOut.image;
        this.last = image;
        this.steps = { checkpoint: checkpointOut, image: imageOut };
    }

    /**
     * One step of the hop: a command on `node` whose triggers name the hop and step, and whose
     * LAB_ATTEMPT line makes it run again when the hop is retried (see the file comment).
     */
    private step(
        step: string, node: NodeHandle, create: pulumi.Input<string>, after: pulumi.Input<pulumi.Resource>[],
        dependsOn: pulumi.Input<pulumi.Resource>[] = [], extra: { delete?: string; stdin?: pulumi.Input<string> } = {},
    ) {
        const { hop, attempt } = this.args;
        return nodeCommand(`${this.name}-${step}`, {
            node, create, ...extra,
            attempt: { value: attempt.value, rerun: attempt.retrying },
            triggers: [{ lab: "migration-step", id: hop.id, step, from: hop.from, to: hop.to }],
        }, { parent: this, dependsOn: [...after, ...dependsOn] });
    }

    /**
     * Adds the steps after the restored pod exists: cutover (verify the job there, commit, retire
     * the source's frozen copy), then archive retention on both nodes. `restoredPod` is the
     * Kubernetes name of the pod made from `image`.
     */
    public complete(restoredPod: string, dependsOn: pulumi.Input<pulumi.Resource>[]): pulumi.Output<MigrationSummary> {
        const { hop, source, target } = this.args;
        const cutover = this.step("cutover", target, pulumi.all([this.before, source.address]).apply(([b, host]) => cutoverScript({
            id: hop.id, source: { host, port: source.port, user: source.user },
            namespace: this.args.namespace, pod: restoredPod, jobId: b.jobId, recordsBefore: b.records, timeoutSeconds: 120,
        })), [this.last], dependsOn, { stdin: this.args.sshPrivateKey });
        const cut = jsonStdout<FlinkProbe & StepResult & {
            restoredAt: number; pausedAt: number; heldAt: number; committedAt: number;
        }>(cutover);
        const retention = [
            this.step("retention", target, pruneArchivesScript(this.args.archiveDir, this.args.keep), [cutover]),
            this.step("source-retention", source, pruneArchivesScript(KUBELET_CHECKPOINT_DIR, this.args.keep), [cutover]),
        ];

        const summary = pulumi.all([this.sourceArchive, this.archive, this.image, this.steps.checkpoint, this.steps.image, this.before, cut, pulumi.all(retention.map(r => r.stdout))]).apply(
            ([sourceArchive, a, image, c, i, before, v]): MigrationSummary => ({
                id: hop.id, from: hop.from, to: hop.to, attempt: this.args.attempt.value, sourceArchive,
                archive: a.archive, sha256: a.sha256, sizeBytes: a.sizeBytes,
                image, jobId: v.jobId,
                records: { before: before.records, after: v.records },
                rssBytes: before.rssBytes,
                seconds: {
                    checkpoint: c.seconds, transfer: a.seconds, image: i.seconds,
                    restore: round((v.startedAt - (i.startedAt + i.seconds * 1000)) / 1000), cutover: v.seconds,
                },
                noProgressSeconds: round((v.restoredAt - v.pausedAt) / 1000),
                timeline: {
                    checkpointAt: c.startedAt, transferAt: a.startedAt, imageAt: i.startedAt,
                    pausedAt: v.pausedAt, heldAt: v.heldAt, restoredAt: v.restoredAt,
                    cutoverAt: v.startedAt, committedAt: v.committedAt,
                },
            }));
        this.registerOutputs({ summary });
        return summary;
    }
}

const round = (x: number) => Math.round(x * 1000) / 1000;
