// One migration hop as strictly ordered remote commands:
// preflight (target) -> checkpoint (kubelet API, from the master) -> transfer (target pulls from
// source, digest checked) -> checkpoint image (target) -> [restored pod: FlinkJob] -> verify ->
// archive retention. Each step records what it did in its stdout, read back as outputs.
import * as pulumi from "@pulumi/pulumi";
import { jsonStdout, NodeHandle, nodeCommand } from "./command";
import type { MigrationHop } from "./plan";
import {
    checkpointImageScript, checkpointScript, preflightScript, pruneArchivesScript, removeFileScript,
    removeImageScript, transferredArchive, transferScript,
} from "./scripts";
import { FLINK_CONTAINER, FlinkProbe, flinkProbeScript, flinkVerifyScript } from "./flink";
import { KUBELET_CLIENT_CERT, KUBELET_CLIENT_KEY } from "./cluster";

export interface MigrationArgs {
    readonly hop: MigrationHop;
    readonly namespace: string;
    /** Kubernetes name of the pod being checkpointed. */
    readonly sourcePod: string;
    readonly source: NodeHandle;
    readonly target: NodeHandle;
    readonly master: NodeHandle;
    readonly archiveDir: string;
    readonly keep: number;
    /** The key the source node accepts (secret), handed to the target on stdin to pull the archive. */
    readonly sshPrivateKey: pulumi.Output<string>;
    /** What must exist first: the cluster, the source pod. */
    readonly dependsOn: pulumi.Input<pulumi.Resource>[];
}

/** Local image name of a hop's checkpoint. */
export const checkpointImage = (id: string) => `localhost/flink-minimal-checkpoint:${id}`;

interface StepResult { seconds: number }

export interface PhaseTimings { checkpoint: number; transfer: number; image: number; verify?: number }

/** What a finished hop records in the stack outputs. */
export interface MigrationSummary {
    id: string; from: string; to: string;
    sourceArchive: string; archive: string; sha256: string; sizeBytes: number;
    image: string; jobId: string; seconds: PhaseTimings;
}

export class Migration extends pulumi.ComponentResource {
    /** Archive path on the source node, as the kubelet returned it. */
    public readonly sourceArchive: pulumi.Output<string>;
    /** Archive on the target, its digest and size. */
    public readonly archive: pulumi.Output<{ archive: string; sha256: string; sizeBytes: number; seconds: number }>;
    /** The checkpoint image the restored pod starts from. */
    public readonly image: pulumi.Output<string>;
    /** Seconds per phase. */
    public readonly timings: pulumi.Output<PhaseTimings>;
    /** The job on the source right before the checkpoint. */
    public readonly before: pulumi.Output<FlinkProbe>;
    private readonly args: MigrationArgs;
    private readonly last: pulumi.Resource;
    private readonly name: string;

    constructor(name: string, args: MigrationArgs, opts?: pulumi.ComponentResourceOptions) {
        super("lab:migration:Migration", name, {}, opts);
        const { hop } = args;
        if (hop.from === hop.to) throw new pulumi.ResourceError(`migration ${hop.id}: source and target are both ${hop.to}`, this);
        this.args = args;
        this.name = name;
        const step = (s: string) => ({ lab: "migration-step" as const, id: hop.id, step: s, from: hop.from, to: hop.to });

        const preflight = nodeCommand(`${name}-preflight`, {
            node: args.target,
            create: preflightScript(args.archiveDir, 1024),
            triggers: [step("preflight")],
        }, { parent: this, dependsOn: args.dependsOn });

        // The job's figures on the source right before the checkpoint: verify compares against them.
        const sourceProbe = nodeCommand(`${name}-source-probe`, {
            node: args.source,
            create: flinkProbeScript({ namespace: args.namespace, pod: args.sourcePod }),
            triggers: [step("source-probe")],
        }, { parent: this, dependsOn: [preflight] });
        this.before = jsonStdout<FlinkProbe>(sourceProbe);

        const checkpoint = nodeCommand(`${name}-checkpoint`, {
            node: args.master,
            create: pulumi.output(args.source.address).apply(addr => checkpointScript({
                kubeletAddress: addr, namespace: args.namespace, pod: args.sourcePod, container: FLINK_CONTAINER,
                clientCert: KUBELET_CLIENT_CERT, clientKey: KUBELET_CLIENT_KEY, timeoutSeconds: 300,
            })),
            triggers: [step("checkpoint")],
        }, { parent: this, dependsOn: [sourceProbe] });
        const checkpointOut = jsonStdout<{ archive: string } & StepResult>(checkpoint);

        const transferArgs = (archive: string, host: string) => ({
            from: { host, port: args.source.port, user: args.source.user }, archive, targetDir: args.archiveDir, id: hop.id,
        });
        const transfer = nodeCommand(`${name}-transfer`, {
            node: args.target,
            create: pulumi.all([checkpointOut, args.source.address]).apply(([c, host]) => transferScript(transferArgs(c.archive, host))),
            delete: removeFileScript(transferredArchive({ targetDir: args.archiveDir, id: hop.id })),
            stdin: args.sshPrivateKey,
            triggers: [step("transfer")],
        }, { parent: this, dependsOn: [checkpoint] });
        this.archive = jsonStdout(transfer);

        const image = nodeCommand(`${name}-image`, {
            node: args.target,
            create: checkpointImageScript({ archive: transferredArchive({ targetDir: args.archiveDir, id: hop.id }), image: checkpointImage(hop.id), container: FLINK_CONTAINER }),
            delete: removeImageScript(checkpointImage(hop.id)),
            triggers: [step("image")],
        }, { parent: this, dependsOn: [transfer] });
        const imageOut = jsonStdout<{ image: string } & StepResult>(image);

        this.sourceArchive = checkpointOut.archive;
        this.image = imageOut.image;
        this.last = image;
        this.timings = pulumi.all([checkpointOut, this.archive, imageOut]).apply(([c, t, i]) => ({
            checkpoint: c.seconds, transfer: t.seconds, image: i.seconds,
        }));
    }

    /**
     * Adds the steps after the restored pod exists: verify the job runs there, then prune old
     * archives on both nodes. `restoredPod` is the Kubernetes name of the pod made from `image`.
     */
    public complete(restoredPod: string, dependsOn: pulumi.Input<pulumi.Resource>[]): pulumi.Output<MigrationSummary> {
        const { hop } = this.args;
        const step = (s: string) => ({ lab: "migration-step" as const, id: hop.id, step: s, from: hop.from, to: hop.to });
        const verify = nodeCommand(`${this.name}-verify`, {
            node: this.args.target,
            create: this.before.apply(b => flinkVerifyScript({
                namespace: this.args.namespace, pod: restoredPod, jobId: b.jobId, recordsBefore: b.records, timeoutSeconds: 180,
            })),
            triggers: [step("verify")],
        }, { parent: this, dependsOn: [this.last, ...dependsOn] });
        const verifyOut = jsonStdout<FlinkProbe & StepResult>(verify);
        const prune = nodeCommand(`${this.name}-retention`, {
            node: this.args.target,
            create: pruneArchivesScript(this.args.archiveDir, this.args.keep),
            triggers: [step("retention")],
        }, { parent: this, dependsOn: [verify] });

        const summary = pulumi.all([this.sourceArchive, this.archive, this.image, this.timings, verifyOut, prune.stdout]).apply(
            ([sourceArchive, archive, image, timings, v]): MigrationSummary => ({
                id: hop.id, from: hop.from, to: hop.to, sourceArchive,
                archive: archive.archive, sha256: archive.sha256, sizeBytes: archive.sizeBytes,
                image, jobId: v.jobId, seconds: { ...timings, verify: v.seconds },
            }));
        this.registerOutputs({ summary });
        return summary;
    }
}
