// The whole lab, from the desired lab (desired.ts): nodes -> node runtime -> Kubernetes ->
// migrations -> the flink-minimal pod at its current stage -> outputs.
import * as pulumi from "@pulumi/pulumi";
import type { DesiredLab } from "./desired";
import { LabNodes } from "./node/nodes";
import { NodeRuntime } from "./node/nodeRuntime";
import { Cluster } from "./cluster/cluster";
import { FlinkJob, FlinkStage, podName } from "./flink/flinkJob";
import { FlinkImage } from "./flink/flinkImage";
import { attemptOf, Migration, MigrationSummary } from "./migration/migration";
import { abortLog } from "./migration/cutover";
import type { Observation } from "./node/drift";

export interface LabOutputs {
    nodes: pulumi.Output<{ name: string; role: string; address: string }[]>;
    /** What `criu check` said on each node. */
    criu: pulumi.Output<Record<string, unknown>>;
    /** Undefined when kubernetes.enabled is false. */
    flink?: pulumi.Output<{ pod: string; node: string; image: string; imageIds: Record<string, string> }>;
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
        kubernetesVersion: c.kubernetes.enabled ? c.kubernetes.version : undefined,
    }, { parent: lab }));
    const nodes = pulumi.all(lab.nodes.map(n => pulumi.output(n.address))).apply(addrs =>
        lab.nodes.map((n, i) => ({ name: n.name, role: n.role, address: addrs[i] })));
    const criu = pulumi.all(runtimes.map(r => r.criu)).apply(outs =>
        Object.fromEntries(outs.map((o, i) => [c.nodes[i].name, JSON.parse(o)])));
    if (!c.kubernetes.enabled) return { lab, nodes, criu };

    const ready = Object.fromEntries(c.nodes.map((n, i) => [n.name, runtimes[i].ready]));
    const cluster = new Cluster("cluster", { driver: desired.driver, nodes: lab.nodes, ready });
    return { lab, nodes, criu, cluster };
}

/** Declares the whole lab: buildCluster, then migrations and the Flink job at its current stage. */
export function buildLab(desired: DesiredLab, sshPrivateKey: pulumi.Output<string> | undefined, workDir: string, observed: Observed = {}): LabOutputs {
    const c = desired.config;
    const { lab, nodes, criu, cluster } = buildCluster(desired, sshPrivateKey, workDir, observed);
    if (!cluster) return { nodes, criu, criuConf: desired.criuConf };
    const handle = (name: string) => lab.nodes.find(n => n.name === name)!;

    const plan = desired.plan;
    const master = lab.nodes.find(n => n.role === "master")!;
    const attempts = plan.hops.map(hop => attemptOf(observed[hop.from]?.[abortLog(hop.id)]));
    // Without a registry the Flink image is built on every node; other clusters pull the official one.
    const build = desired.driver.flinkImage === "build";
    const image = build
        ? new FlinkImage("flink-image", { version: c.flink.version, image: c.flink.image, nodes: lab.nodes }, { dependsOn: [cluster] })
        : undefined;
    // The job's pod at its current stage: the newest hop's restored pod, else the initial one.
    const job = (stage: FlinkStage) => new FlinkJob("flink", {
        spec: c.flink, namespace: c.kubernetes.namespace, stage, provider: cluster.provider,
        dependsOn: [cluster, ...(image?.commands ?? [])],
    });
    let flink: FlinkJob | undefined;
    const migrations = plan.hops.map((hop, i) => new Migration(`migrate-${hop.id}`, {
        hop,
        attempt: attempts[i],
        maxPauseSeconds: c.cutover.maxPauseSeconds,
        namespace: c.kubernetes.namespace,
        sourcePod: podName(i === 0 ? "initial" : plan.hops[i - 1].id),
        restoredPod: podName(hop.id),
        source: handle(hop.from),
        target: handle(hop.to),
        master,
        archiveDir: c.archive.dir,
        keep: c.archive.keep,
        restoreMode: c.archive.restore,
        baseImage: c.flink.image,
        // The target pulls the archive from the source, so it needs the key the source accepts.
        sshPrivateKey: handle(hop.from).privateKey,
        // Only the newest stage's pod is declared: an earlier hop's restored pod was replaced since.
        restore: from => {
            if (i !== plan.hops.length - 1) return [];
            flink = job({ id: hop.id, node: plan.current, image: from.image, restoreArchive: from.archive, after: from.after, pull: false, attempt: attempts[i] });
            return [flink.pod];
        },
    }, { dependsOn: [cluster] }));
    flink ??= job({ id: "initial", node: c.flink.node, image: c.flink.image, pull: !build });
    const stageImage = migrations.length > 0 ? migrations[migrations.length - 1].image : pulumi.output(c.flink.image);

    return {
        nodes,
        criu,
        flink: pulumi.all([stageImage, image?.ids ?? {}]).apply(([name, ids]) => ({ pod: flink!.podName, node: flink!.node, image: name, imageIds: ids })),
        migrations: pulumi.all(migrations.map(m => m.summary)),
        kubeconfig: cluster.kubeconfig,
        criuConf: desired.criuConf,
    };
}
