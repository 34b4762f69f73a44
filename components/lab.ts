// The whole lab, from the desired lab (desired.ts): nodes -> node runtime -> Kubernetes -> each
// workload (the Flink job, the pods the stack brings) with its migrations, at its current stage -> outputs.
import * as pulumi from "@pulumi/pulumi";
import type { DesiredLab } from "./desired";
import { LabNodes } from "./node/nodes";
import { NodeRuntime } from "./node/nodeRuntime";
import { Cluster } from "./cluster/cluster";
import { FlinkJob } from "./flink/flinkJob";
import { FlinkImage } from "./flink/flinkImage";
import { FLINK_CHAIN, FLINK_CONTAINER } from "./flink/flink";
import { Attempt, attemptOf, Migration, MigrationSummary } from "./migration/migration";
import { MigratingWorkload, stagePod } from "./workload/workload";
import { WorkloadImages, WorkloadPod, workloadChain } from "./workload/pod";
import { abortLog } from "./migration/cutover";
import type { Observation } from "./node/drift";

export interface LabOutputs {
    nodes: pulumi.Output<{ name: string; role: string; address: string }[]>;
    /** What `criu check` said on each node. */
    criu: pulumi.Output<Record<string, unknown>>;
    /** Undefined when kubernetes.enabled or flink.enabled is false. */
    flink?: pulumi.Output<{ pod: string; node: string; image: string; imageIds: Record<string, string> }>;
    /** Every workload (the Flink job as "flink"): its pod now, the node and the image it runs from. Undefined without Kubernetes. */
    workloads?: pulumi.Output<Record<string, { pod: string; node: string; image: string }>>;
    migrations?: pulumi.Output<MigrationSummary[]>;
    kubeconfig?: pulumi.Output<string>;
    criuConf: string;
}

export interface LabCluster {
    readonly lab: LabNodes;
    readonly nodes: LabOutputs["nodes"];
    readonly criu: LabOutputs["criu"];
    /** Undefined when kubernetes.enabled is false. */
    readonly cluster?: Cluster;
}

/** What the nodes have at the probed paths right now (probe.ts), per node name; nodes not in it were not observed. */
export type Observed = Readonly<Record<string, Readonly<Record<string, Observation>>>>;

/** Declares the lab's nodes, their runtime configuration and (when enabled) Kubernetes. */
export function buildCluster(desired: DesiredLab, sshPrivateKey: pulumi.Output<string> | undefined, workDir: string, observed: Observed = {}): LabCluster {
    const c = desired.config;
    const lab = new LabNodes("lab", { driver: desired.driver, sshPrivateKey, workDir });
    const runtimes = desired.nodes.map(d => new NodeRuntime(d.spec.name, {
        node: lab.nodes[d.index],
        files: d.files,
        archiveDir: c.archive.dir,
        install: desired.driver.install,
        observed: observed[d.spec.name],
    }, { parent: lab }));
    const nodes = pulumi.all(lab.nodes.map(n => pulumi.output(n.address))).apply(addrs =>
        lab.nodes.map((n, i) => ({ name: n.name, role: n.role, address: addrs[i] })));
    const criu = pulumi.all(runtimes.map(r => r.criu)).apply(outs =>
        Object.fromEntries(outs.map((o, i) => [c.nodes[i].name, JSON.parse(o)])));
    if (!c.kubernetes.enabled) return { lab, nodes, criu };

    const ready = Object.fromEntries(c.nodes.map((n, i) => [n.name, runtimes[i].ready]));
    // Whose checkpoint archives are the lab's on a node (kubeadm reset removes them): every workload's pods.
    const labPods = [FLINK_CHAIN.podPrefix, ...c.workloads.map(w => w.name)];
    const cluster = new Cluster("cluster", { plan: desired.driver.cluster, nodes: lab.nodes, ready, labPods });
    return { lab, nodes, criu, cluster };
}

/** A workload's pod at a stage, as buildLab declares it. */
interface StagePod { readonly podName: string; readonly node: string; readonly pod: pulumi.Resource }

/** What a stage's pod is made from: for a restored pod, what its hop's restore row hands over. */
interface StageArgs {
    readonly id: string;
    readonly node: string;
    readonly image: pulumi.Input<string>;
    /** Per container, the archive a direct restore hands CRI-O. */
    readonly restoreArchives?: Readonly<Record<string, string>>;
    readonly after?: pulumi.Input<pulumi.Resource>[];
    readonly attempt?: Attempt;
}

/** A workload as buildLab declares it: the chain's view, its own image, and how it makes a stage's pod. */
interface LabWorkload {
    readonly chain: MigratingWorkload;
    readonly node: string;
    readonly image: string;
    declare(stage: StageArgs): StagePod;
}

/** Declares the whole lab: buildCluster, then every workload with its migrations, at its current stage. */
export function buildLab(desired: DesiredLab, sshPrivateKey: pulumi.Output<string> | undefined, workDir: string, observed: Observed = {}): LabOutputs {
    const c = desired.config;
    const { lab, nodes, criu, cluster } = buildCluster(desired, sshPrivateKey, workDir, observed);
    if (!cluster) return { nodes, criu, criuConf: desired.criuConf };
    const handle = (name: string) => lab.nodes.find(n => n.name === name)!;
    const master = lab.nodes.find(n => n.role === "master")!;
    const namespace = c.kubernetes.namespace;

    const workloads: LabWorkload[] = [];
    let flinkImage: FlinkImage | undefined;
    if (c.flink.enabled) {
        // Without a registry the Flink image is built on every node; other clusters pull the official one.
        const build = desired.driver.flinkImage === "build";
        flinkImage = build
            ? new FlinkImage("flink-image", { version: c.flink.version, image: c.flink.image, nodes: lab.nodes }, { dependsOn: [cluster] })
            : undefined;
        workloads.push({
            chain: FLINK_CHAIN, node: c.flink.node, image: c.flink.image,
            declare: s => new FlinkJob("flink", {
                spec: c.flink, namespace, provider: cluster.provider, dependsOn: [cluster, ...(flinkImage?.commands ?? [])],
                stage: s.id === "initial"
                    ? { id: "initial", node: s.node, image: s.image, pull: !build }
                    : { id: s.id, node: s.node, image: s.image, restoreArchive: s.restoreArchives?.[FLINK_CONTAINER], after: s.after, pull: false, attempt: s.attempt },
            }),
        });
    }
    // Nodes without a registry (the local lab, existing hosts with images: build) build the workloads' images from Debian packages.
    const built = c.workloads.some(w => w.containers.some(x => x.packages.length > 0))
        ? new WorkloadImages("workload-images", { workloads: c.workloads, nodes: lab.nodes }, { dependsOn: [cluster] })
        : undefined;
    for (const w of c.workloads) {
        const chain = workloadChain(w);
        const restored = chain.containers[0];
        workloads.push({
            chain, node: w.node, image: w.containers[0].image,
            declare: s => new WorkloadPod(`workload-${w.name}`, {
                spec: w, namespace, provider: cluster.provider, dependsOn: [cluster, ...(built?.commands ?? [])],
                stage: {
                    id: s.id, node: s.node, after: s.after, attempt: s.attempt,
                    images: pulumi.output(s.image).apply(image => (image === w.containers[0].image ? {} : { [restored]: image })),
                    restoreArchives: s.restoreArchives,
                },
            }),
        });
    }

    const migrations: Migration[] = [];
    const running: Record<string, { stage: StagePod; image: pulumi.Output<string> }> = {};
    for (const w of workloads) {
        const hops = desired.plan.hops.filter(h => h.workload === w.chain.name);
        let current: StagePod | undefined;
        for (const [i, hop] of hops.entries()) {
            const attempt = attemptOf(observed[hop.from]?.[abortLog(hop.id)]);
            migrations.push(new Migration(`migrate-${hop.id}`, {
                hop,
                workload: w.chain,
                attempt,
                maxPauseSeconds: c.cutover.maxPauseSeconds,
                namespace,
                sourcePod: stagePod(w.chain.podPrefix, hop.previous ?? "initial"),
                restoredPod: stagePod(w.chain.podPrefix, hop.id),
                source: handle(hop.from),
                target: handle(hop.to),
                master,
                archiveDir: c.archive.dir,
                keep: c.archive.keep,
                restoreMode: c.archive.restore,
                baseImage: w.image,
                // The target pulls the archive from the source, so it needs the key the source accepts.
                sshPrivateKey: handle(hop.from).privateKey,
                // Only the newest stage's pod is declared: an earlier hop's restored pod was replaced since.
                restore: from => {
                    if (i !== hops.length - 1) return [];
                    current = w.declare({ id: hop.id, node: hop.to, image: from.image, restoreArchives: from.archives, after: from.after, attempt });
                    return [current.pod];
                },
            }, { dependsOn: [cluster] }));
        }
        current ??= w.declare({ id: "initial", node: w.node, image: w.image });
        const newest = migrations.filter(m => m.workload === w.chain.name).pop();
        running[w.chain.name] = { stage: current, image: newest ? newest.image : pulumi.output(w.image) };
    }
    // Hops in the order the config lists them, as the history check reads them back.
    migrations.sort((a, b) => a.index - b.index);
    const placed = (name: string) => pulumi.output(running[name].image).apply(image => ({ pod: running[name].stage.podName, node: running[name].stage.node, image }));
    const flink = running.flink;

    return {
        nodes,
        criu,
        flink: flink ? pulumi.all([flink.image, flinkImage?.ids ?? {}]).apply(([name, ids]) => ({ pod: flink.stage.podName, node: flink.stage.node, image: name, imageIds: ids })) : undefined,
        workloads: pulumi.all(Object.fromEntries(Object.keys(running).map(n => [n, placed(n)]))),
        migrations: pulumi.all(migrations.map(m => m.summary)),
        kubeconfig: cluster.kubeconfig,
        criuConf: desired.criuConf,
    };
}
