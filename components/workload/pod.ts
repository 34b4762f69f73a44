// The pods the stack brings (`workloads`): their manifest, their pod at its current stage, their
// probe, and on the local lab their images, built on every node from Debian packages.
import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import type { ContainerSpec, WorkloadSpec } from "../config/types";
import { nodeProgram, words } from "../node/program";
import { CRIO_SOCKET } from "../node/crio";
import { NodeHandle, nodeCommand } from "../node/command";
import { removeImageScript } from "../node/scripts";
import { IMAGE_INPUTS_DIR, MigratingWorkload, NODE_OUTAGE_TOLERATIONS, ProbeArgs, restoreAnnotation, stagePod, VerifyArgs, verifyScript } from "./workload";


/** How long the source probe waits for a workload's first figure, in seconds. */
export const FIRST_FIGURE_TIMEOUT = 120;

/** The source probe: the workload's probe, run until it reports a figure above 0 (programs/first-figure.sh). */
export function firstFigureScript(pod: string, probe: string, timeoutSeconds = FIRST_FIGURE_TIMEOUT): string {
    return nodeProgram("workload/programs/first-figure.sh", `source probe ${pod}`, { POD: pod, PROBE: probe, TIMEOUT: timeoutSeconds });
}

/** Runs a workload's probe command in its container, from the node (programs/exec-probe.sh). */
export function execProbeScript(spec: WorkloadSpec, a: ProbeArgs): string {
    return nodeProgram("workload/programs/exec-probe.sh", `probe ${a.pod}`, {
        CRIO_ENDPOINT: CRIO_SOCKET, POD: a.pod, NAMESPACE: a.namespace, CONTAINER: spec.probe.container, COMMAND: words(spec.probe.command),
    }, ["node/programs/container.sh", "node/programs/pidns.sh"]);
}

/** A workload the stack brings, as the migration chain sees it. */
export function workloadChain(spec: WorkloadSpec): MigratingWorkload {
    return {
        name: spec.name,
        podPrefix: spec.name,
        containers: spec.containers.map(c => c.name),
        probeScript: (a: ProbeArgs) => execProbeScript(spec, a),
        verifyScript: (a: VerifyArgs) => verifyScript(a, execProbeScript(spec, a)),
    };
}

export const WORKLOAD_LABEL = "live-migration-lab/workload";
export const STAGE_LABEL = "live-migration-lab/stage";


export interface WorkloadPodArgs {
    readonly spec: WorkloadSpec;
    readonly namespace: string;
    readonly nodeName: string;
    /** "initial", or the id of the hop that restored this pod. */
    readonly stage: string;
    /** Per container: the image it runs (its own, or a checkpoint image). */
    readonly images?: Readonly<Record<string, string>>;
    /** A restored pod's migration attempt: a new attempt is a new pod. */
    readonly attempt?: string;
    /** Per container restored straight from an archive on the node: the archive's path. */
    readonly restoreArchives?: Readonly<Record<string, string>>;
}

/** A workload's pod manifest at a stage. */
export function workloadPodManifest(a: WorkloadPodArgs) {
    const container = (c: ContainerSpec) => {
        const image = a.images?.[c.name] ?? c.image;
        return {
            name: c.name,
            image,
            // Built on the nodes (packages) or a checkpoint image: never pulled.
            imagePullPolicy: c.packages.length > 0 || image !== c.image ? "Never" : "IfNotPresent",
            ...(c.command.length > 0 ? { command: [...c.command] } : {}),
            ...(c.args.length > 0 ? { args: [...c.args] } : {}),
            ...(Object.keys(c.env).length > 0 || a.attempt ? {
                env: [...Object.entries(c.env).map(([name, value]) => ({ name, value })), ...(a.attempt ? [{ name: "LAB_MIGRATION_ATTEMPT", value: a.attempt }] : [])],
            } : {}),
            ...(c.ports.length > 0 ? { ports: c.ports.map(p => ({ containerPort: p })) } : {}),
            resources: { requests: { memory: `${c.memoryMb}Mi`, cpu: "100m" }, limits: { memory: `${c.memoryMb}Mi` } },
        };
    };
    return {
        apiVersion: "v1",
        kind: "Pod",
        metadata: {
            name: stagePod(a.spec.name, a.stage),
            namespace: a.namespace,
            labels: { app: a.spec.name, [WORKLOAD_LABEL]: a.spec.name, [STAGE_LABEL]: a.stage },
            annotations: {
                ...Object.fromEntries(Object.entries(a.restoreArchives ?? {}).map(([c, archive]) => [restoreAnnotation(c), archive])),
                // A restored pod is verified by its migration's cutover, not awaited (see flink.ts).
                ...(a.stage !== "initial" ? { "pulumi.com/skipAwait": "true" } : {}),
            },
        },
        spec: {
            nodeName: a.nodeName,
            restartPolicy: "Never",
            // Its memory is on its node: it waits for the node rather than be evicted (see flink.ts).
            tolerations: NODE_OUTAGE_TOLERATIONS,
            containers: a.spec.containers.map(container),
        },
    };
}

export interface WorkloadStage {
    readonly id: string;
    readonly node: string;
    readonly images?: pulumi.Input<Readonly<Record<string, string>>>;
    readonly restoreArchives?: Readonly<Record<string, string>>;
    readonly after?: pulumi.Input<pulumi.Resource>[];
    readonly attempt?: { readonly value: string; readonly retrying: boolean };
}

/**
 * What a stage's pod leaves alone: a pod restored from an archive runs the processes of that archive,
 * so a later change of its containers (a command, an image, an attempt's env) cannot reach them, and
 * replacing the pod would only restore the same archive again, the workload back where it was at
 * that hop (seen: the stack file rewritten by `pulumi config set` changed a multi-line command's
 * blank lines). Only a hop being redone (`retrying`) makes a new pod, from its new archive. The
 * initial pod leaves alone `initial` (what the caller says).
 */
export function restoredPodIgnores(stage: string, attempt: { readonly retrying: boolean } | undefined, initial: readonly string[]): string[] {
    if (stage === "initial") return [...initial];
    return attempt?.retrying ? [] : ["spec.containers"];
}

/** A workload's pod at its current stage (the newest hop's restored pod, else the initial one). */
export class WorkloadPod extends pulumi.ComponentResource {
    public readonly podName: string;
    public readonly node: string;
    public readonly pod: k8s.core.v1.Pod;

    constructor(name: string, args: { spec: WorkloadSpec; namespace: string; stage: WorkloadStage; provider: k8s.Provider; dependsOn?: pulumi.Input<pulumi.Resource>[] },
        opts?: pulumi.ComponentResourceOptions) {
        super("lab:workload:WorkloadPod", name, {}, opts);
        this.podName = stagePod(args.spec.name, args.stage.id);
        this.node = args.stage.node;
        const manifest = pulumi.output(args.stage.images ?? {}).apply(images => workloadPodManifest({
            spec: args.spec, namespace: args.namespace, nodeName: args.stage.node, stage: args.stage.id, images,
            attempt: args.stage.attempt?.value, restoreArchives: args.stage.restoreArchives,
        }));
        // The logical name carries the stage, as the Flink pod's does (flinkJob.ts).
        this.pod = new k8s.core.v1.Pod(`${name}-${args.stage.id}`, { metadata: manifest.metadata, spec: manifest.spec }, {
            parent: this, provider: args.provider, dependsOn: [...(args.dependsOn ?? []), ...(args.stage.after ?? [])],
            ignoreChanges: restoredPodIgnores(args.stage.id, args.stage.attempt, []),
        });
        this.registerOutputs({ podName: this.podName, node: this.node });
    }
}

/** The image label holding the digest of the rootfs an image was built from. */
const ROOTFS_LABEL = "live-migration-lab.rootfs";

/**
 * The rootfs cache name of a package list (scripts/rootfs-build.sh --workload computes the same):
 * the suite and the digest of the sorted, distinct packages, one per line.
 */
export const rootfsName = (packages: readonly string[]) =>
    `rootfs-sid-${crypto.createHash("sha256").update([...new Set(packages)].sort().map(p => `${p}\n`).join("")).digest("hex").slice(0, 16)}`;

/**
 * The local lab's workload images: each distinct (image, packages) is built on every node from a
 * Debian rootfs that scripts/rootfs-build.sh made on this host (scripts/lab.sh up builds the stack's;
 * the nodes cannot reach Debian's mirrors).
 */
export class WorkloadImages extends pulumi.ComponentResource {
    /** The node builds, for dependsOn. */
    public readonly commands: pulumi.Resource[] = [];

    constructor(name: string, args: { workloads: readonly WorkloadSpec[]; nodes: readonly NodeHandle[] }, opts?: pulumi.ComponentResourceOptions) {
        super("lab:workload:WorkloadImages", name, {}, opts);
        for (const [image, packages] of workloadImages(args.workloads)) {
            const rootfs = rootfsName(packages);
            const key = image.replace(/^localhost\//, "").replace(/[^a-z0-9-]/g, "-");
            for (const n of args.nodes) {
                this.commands.push(nodeCommand(`${name}-${key}-${n.name}`, {
                    node: n,
                    create: nodeProgram("node/programs/build-image.sh", `image ${image}`, {
                        TAR: `${IMAGE_INPUTS_DIR}/${rootfs}.tar`, DIGEST: `${IMAGE_INPUTS_DIR}/${rootfs}.tar.sha256`, IMAGE: image, LABEL: ROOTFS_LABEL,
                        ADD_DIR: "", ADD_TO: "", ENVS: "", WORKDIR: "",
                        MISSING: `run \`bash scripts/rootfs-build.sh --workload ${[...new Set(packages)].sort().join(" ")}\` on the host (scripts/lab.sh up does it for the stack's workloads)`,
                    }),
                    delete: removeImageScript(image),
                    triggers: [{ lab: "node-check", node: n.name, check: `workload-image ${image} ${rootfs}` }],
                    timeoutMinutes: 15,
                }, { parent: this }));
            }
        }
        this.registerOutputs({});
    }
}

/** The images the local lab builds for these workloads, each with its packages (validated: one package list per image). */
export function workloadImages(workloads: readonly WorkloadSpec[]): Map<string, readonly string[]> {
    const images = new Map<string, readonly string[]>();
    for (const c of workloads.flatMap(w => w.containers).filter(c => c.packages.length > 0)) images.set(c.image, c.packages);
    return images;
}
