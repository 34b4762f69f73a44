// The whole lab, from a validated LabConfig: nodes -> node runtime -> Kubernetes -> migrations ->
// the flink-minimal pod at its current stage -> outputs.
import * as pulumi from "@pulumi/pulumi";
import type { LabConfig, NodeSpec } from "./config";
import { LabNodes } from "./nodes";
import { ManagedFile, NodeRuntime } from "./nodeRuntime";
import { Cluster, KUBEADM_CONFIG_PATH } from "./cluster";
import { FlinkJob, FlinkStage, podName } from "./flinkJob";
import { FlinkImage } from "./flinkImage";
import { attemptOf, Migration, MigrationSummary } from "./migration";
import { abortLog } from "./cutover";
import { criuConfigPaths, renderCriuConf } from "./criu";
import { CRIO_DROP_IN_PATH, renderCrioDropIn } from "./crio";
import { CRICTL_CONFIG_PATH, KUBELET_CONFIG_PATH, renderCrictlConfig, renderKubeletConfig } from "./kubelet";
import { nodeAddress, renderKubeadmConfig, renderNodeInstallScript } from "./kubeadm";
import { planMigrations } from "./plan";
import { restartIfActive } from "./scripts";
import { deepMerge } from "./crio";
import { CNI_CONFIG_PATH, localCrioSettings, localKubeletSettings, renderCniConfig, renderStorageConf, STORAGE_CONF_PATH } from "./localCluster";
import { localCgroupRoot } from "./nodes";
import type { Observation } from "./drift";

/** Debian's binary paths on local lab nodes; kubeadm hosts use what the cri-o package configures. */
const DEBIAN_RUNTIME_PATHS = { runc: "/usr/sbin/runc", crun: "/usr/bin/crun" } as const;

/** A node's address as the config determines it (drivers number nodes from .10 of their subnet). */
export function staticAddress(c: LabConfig, index: number): string {
    const n = c.nodes[index];
    if (c.driver === "existing") return n.address!;
    return nodeAddress(c.driver === "local" ? c.local.subnet : c.vagrant.subnet, index);
}

/** Files the program manages on a node, rendered from the config. */
export function managedFiles(c: LabConfig, node: NodeSpec, address: string): ManagedFile[] {
    const criu = renderCriuConf(c.criu);
    const files: ManagedFile[] = criuConfigPaths(c.crio.runtime).map(path => ({
        role: path.endsWith("crun.conf") ? "crun-conf" : "runc-conf", path, content: criu, mode: 0o644,
    }));
    const localCluster = c.driver === "local" && c.kubernetes.enabled;
    files.push({
        role: "crio-drop-in",
        path: CRIO_DROP_IN_PATH,
        content: renderCrioDropIn({
            version: c.crio.version, runtime: c.crio.runtime, checkpointRestore: c.crio.checkpointRestore,
            // The stack's own settings win over what namespace nodes need.
            settings: localCluster ? deepMerge(localCrioSettings(), c.crio.settings ?? {}) : c.crio.settings,
            runtimePath: c.driver === "local" ? DEBIAN_RUNTIME_PATHS[c.crio.runtime] : undefined,
        }),
        mode: 0o644,
        onChange: restartIfActive("crio"),
    });
    files.push({ role: "crictl-config", path: CRICTL_CONFIG_PATH, content: renderCrictlConfig(), mode: 0o644 });
    const kubelet = renderKubeletConfig({
        kubernetesVersion: c.kubernetes.version,
        cgroupDriver: c.driver === "local" ? "cgroupfs" : "systemd",
        clientCAFile: "/etc/kubernetes/pki/ca.crt",
        extra: localCluster ? localKubeletSettings(localCgroupRoot(c.local.stateDir, node.name)) : undefined,
    });
    if (c.driver === "local") {
        if (localCluster) {
            const index = c.nodes.indexOf(node);
            files.push(
                { role: "kubelet-config", path: KUBELET_CONFIG_PATH, content: kubelet, mode: 0o644, onChange: restartIfActive("kubelet") },
                { role: "cni-config", path: CNI_CONFIG_PATH, content: renderCniConfig(index), mode: 0o644, onChange: restartIfActive("crio") },
                { role: "storage-conf", path: STORAGE_CONF_PATH, content: renderStorageConf(), mode: 0o644, onChange: restartIfActive("crio") },
            );
        }
    } else if (node.role === "master") {
        files.push({
            role: "kubeadm-config",
            path: KUBEADM_CONFIG_PATH,
            content: renderKubeadmConfig({ kubernetesVersion: c.kubernetes.version, advertiseAddress: address, nodeName: node.name, podSubnet: "10.85.0.0/16", kubeletConfigYaml: kubelet }),
            mode: 0o600,
        });
    }
    return files;
}

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

/**
 * Declares the lab's nodes, their runtime configuration and (when enabled) Kubernetes.
 * `observed` is what the nodes have at the managed paths right now (probe.ts), per node name;
 * nodes not in it were not observed.
 */
export function buildCluster(
    c: LabConfig,
    sshPrivateKey: pulumi.Output<string> | undefined,
    workDir: string,
    observed: Readonly<Record<string, Record<string, Observation>>> = {},
): LabCluster {
    const lab = new LabNodes("lab", { config: c, sshPrivateKey, workDir });
    const runtimes = c.nodes.map((spec, i) => {
        const node = lab.nodes[i];
        return new NodeRuntime(spec.name, {
            node,
            files: managedFiles(c, spec, staticAddress(c, i)),
            archiveDir: c.archive.dir,
            install: c.driver === "local" ? undefined : renderNodeInstallScript({ kubernetesVersion: c.kubernetes.version, crioVersion: c.crio.version }),
            observed: observed[spec.name],
        }, { parent: lab });
    });
    const nodes = pulumi.all(lab.nodes.map(n => pulumi.output(n.address))).apply(addrs =>
        lab.nodes.map((n, i) => ({ name: n.name, role: n.role, address: addrs[i] })));
    const criu = pulumi.all(runtimes.map(r => r.criu)).apply(outs =>
        Object.fromEntries(outs.map((o, i) => [c.nodes[i].name, JSON.parse(o)])));
    if (!c.kubernetes.enabled) return { lab, nodes, criu };

    const ready = Object.fromEntries(c.nodes.map((n, i) => [n.name, runtimes[i].ready]));
    const cluster = new Cluster("cluster", {
        driver: c.driver, nodes: lab.nodes, ready,
        local: c.driver === "local"
            ? { nodes: c.nodes.map((n, i) => ({ name: n.name, address: staticAddress(c, i) })), kubeletConfigPath: KUBELET_CONFIG_PATH }
            : undefined,
    });
    return { lab, nodes, criu, cluster };
}

/** Declares the whole lab: buildCluster, then migrations and the Flink job at its current stage. */
export function buildLab(
    c: LabConfig,
    sshPrivateKey: pulumi.Output<string> | undefined,
    workDir: string,
    observed: Readonly<Record<string, Record<string, Observation>>> = {},
): LabOutputs {
    const { lab, nodes, criu, cluster } = buildCluster(c, sshPrivateKey, workDir, observed);
    if (!cluster) return { nodes, criu, criuConf: renderCriuConf(c.criu) };
    const handle = (name: string) => lab.nodes.find(n => n.name === name)!;

    const plan = planMigrations(c.flink.node, c.migrations, c.nodes.map(n => n.name));
    const master = lab.nodes.find(n => n.role === "master")!;
    const attempts = plan.hops.map(hop => attemptOf(observed[hop.from]?.[abortLog(hop.id)]));
    const migrations = plan.hops.map((hop, i) => new Migration(`migrate-${hop.id}`, {
        hop,
        attempt: attempts[i],
        maxPauseSeconds: c.cutover.maxPauseSeconds,
        namespace: c.kubernetes.namespace,
        sourcePod: podName(i === 0 ? "initial" : plan.hops[i - 1].id),
        source: handle(hop.from),
        target: handle(hop.to),
        master,
        archiveDir: c.archive.dir,
        keep: c.archive.keep,
        // The target pulls the archive from the source, so it needs the key the source accepts.
        sshPrivateKey: handle(hop.from).privateKey,
        dependsOn: [cluster],
    }));
    const last = migrations[migrations.length - 1];
    const stage: FlinkStage = last
        ? { id: plan.hops[plan.hops.length - 1].id, node: plan.current, image: last.image, pull: false, attempt: attempts[attempts.length - 1] }
        : { id: "initial", node: c.flink.node, image: c.flink.image, pull: c.driver !== "local" };
    // The local lab builds the Flink image on every node; other clusters pull the official one.
    const image = c.driver === "local"
        ? new FlinkImage("flink-image", { version: c.flink.version, image: c.flink.image, nodes: lab.nodes }, { dependsOn: [cluster] })
        : undefined;
    const flink = new FlinkJob("flink", {
        spec: c.flink, namespace: c.kubernetes.namespace, stage, provider: cluster.provider,
        dependsOn: [cluster, ...(image?.commands ?? [])],
    });
    const summaries = migrations.map((m, i) => m.complete(podName(plan.hops[i].id), m === last ? [flink.pod] : []));

    return {
        nodes,
        criu,
        flink: pulumi.all([stage.image, image?.ids ?? {}]).apply(([name, ids]) => ({ pod: flink.podName, node: flink.node, image: name, imageIds: ids })),
        migrations: pulumi.all(summaries),
        kubeconfig: cluster.kubeconfig,
        criuConf: renderCriuConf(c.criu),
    };
}
