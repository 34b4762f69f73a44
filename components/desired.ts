// The desired lab: everything the program wants on the nodes, computed once per run from the
// validated config, and read both by the drift probe (before any resource is declared) and by the
// resources themselves. Pure: no resource, no I/O.
import type { LabConfig, NodeSpec } from "./config/types";
import { driverFor, NodeDriver } from "./drivers";
import type { ManagedFile } from "./node/nodeRuntime";
import type { MigrationPlan } from "./migration/plan";
import { criuConfigPaths, renderCriuConf } from "./node/criu";
import { CRIO_DROP_IN_PATH, deepMerge, isCrioKey, renderCrioDropIns } from "./node/crio";
import { CONFIG_NAMESPACE } from "./config/schema";
import { CRICTL_CONFIG_PATH, KUBELET_DROP_IN_PATH, refusesCgroupV1, renderCrictlConfig, renderKubeletConfig } from "./node/kubelet";
import { KUBEADM_CONFIG_PATH, KUBEADM_JOIN_CONFIG_PATH, renderKubeadmInitConfig, renderKubeadmJoinConfig } from "./cluster/kubeadm";
import { abortLog, ociRuntimeWrapper, renderOciRuntime } from "./migration/cutover";
import { PKI_DIR } from "./paths";

export interface DesiredNode {
    readonly spec: NodeSpec;
    readonly index: number;
    /** Its address as the config determines it. */
    readonly address: string;
    /** The files the program owns on it. */
    readonly files: readonly ManagedFile[];
    /** What the drift probe reads there: the managed files, the archive directory (a trailing "/") and the abort logs of hops from it. */
    readonly probePaths: readonly string[];
}

export interface DesiredLab {
    readonly config: LabConfig;
    readonly driver: NodeDriver;
    readonly nodes: readonly DesiredNode[];
    /** The migration hops the config asks for (validated). */
    readonly plan: MigrationPlan;
    /** The CRIU options file every node gets. */
    readonly criuConf: string;
}

export function desiredLab(c: LabConfig): DesiredLab {
    const driver = driverFor(c);
    const criuConf = renderCriuConf(c.criu);
    const nodes = c.nodes.map((spec, index): DesiredNode => {
        const address = driver.address(index);
        const files = managedFiles(c, driver, spec, index, criuConf);
        // Validation refuses migrations without Kubernetes, so a lab without it has no hops.
        const hopsFrom = c.plan.hops.filter(h => h.from === spec.name);
        return { spec, index, address, files, probePaths: [...files.map(f => f.path), `${c.archive.dir}/`, ...hopsFrom.map(h => abortLog(h.id))] };
    });
    return { config: c, driver, nodes, plan: c.plan, criuConf };
}

/** Files the program manages on a node, rendered from the config and the driver's facts. */
function managedFiles(c: LabConfig, driver: NodeDriver, node: NodeSpec, index: number, criuConf: string): ManagedFile[] {
    const files: ManagedFile[] = criuConfigPaths(c.crio.runtime).map(path => ({
        role: path.endsWith("crun.conf") ? "crun-conf" : "runc-conf", path, content: criuConf, mode: 0o644,
    }));
    const extra = driver.runtime.crioSettings;
    files.push({ role: "oci-runtime", path: ociRuntimeWrapper(c.crio.runtime), content: renderOciRuntime(c.crio.runtime, driver.runtime.runtimePath), mode: 0o755 });
    // CRI-O's restore switch is the key its binary knows (container_level_enabled where it has it,
    // enable_criu_support before): the node's writer keeps the variant its crio reads.
    const dropIns = renderCrioDropIns({
        version: c.crio.version, runtime: c.crio.runtime, checkpointRestore: c.crio.checkpointRestore,
        // The stack's own settings win over what the driver's nodes need.
        settings: extra ? deepMerge(structuredClone(extra), c.crio.settings ?? {}) : c.crio.settings,
        // CRI-O runs the runtime through the lab's wrapper, which holds a migrating job frozen (cutover.ts).
        runtimePath: ociRuntimeWrapper(c.crio.runtime),
    });
    // A node that cannot tell yet (no crio) gets the form of the release crio.version names.
    const assumed = isCrioKey(c.crio.version, "crio.checkpoint_restore.container_level_enabled") || !dropIns.enable_criu_support ? "container_level_enabled" : "enable_criu_support";
    files.push({
        role: "crio-drop-in",
        path: CRIO_DROP_IN_PATH,
        content: dropIns[assumed]!,
        variants: {
            by: "crio-restore-switch", contents: dropIns, assumed,
            help: `${CONFIG_NAMESPACE}:crio.checkpointRestore is "${c.crio.checkpointRestore}", which a CRI-O without [crio.checkpoint_restore] container_level_enabled cannot express; install a CRI-O patch release from after 2026-09, or use "checkpoint_restore" or "none"`,
        },
        mode: 0o644,
        restart: "crio",
        // CRI-O refuses to start with a runtime_path that does not exist.
        after: "oci-runtime",
    });
    files.push({ role: "crictl-config", path: CRICTL_CONFIG_PATH, content: renderCrictlConfig(), mode: 0o644 });
    if (!c.kubernetes.enabled) return files;
    // kubeadm configures the kubelet; the node's own settings (checkpoint API, the driver's needs)
    // are its drop-in, which the kubelet reads over kubeadm's config.
    const kubelet = (cgroup?: "v1" | "v2") => renderKubeletConfig({
        kubernetesVersion: c.kubernetes.version,
        cgroupDriver: driver.runtime.cgroupDriver,
        clientCAFile: `${PKI_DIR}/ca.crt`,
        // The node's own settings from the config win over what the driver's nodes need.
        extra: { ...driver.runtime.kubeletSettings(node), ...node.kubelet },
        cgroup,
    });
    files.push({
        role: "kubelet-config",
        path: KUBELET_DROP_IN_PATH,
        content: kubelet(),
        // From 1.35 a cgroup v1 host needs failCgroupV1: false; which one the node is, it says itself.
        ...(refusesCgroupV1(c.kubernetes.version) ? {
            content: kubelet("v2"),
            variants: {
                by: "cgroup" as const,
                // A node whose config turns the override off gets no v1 variant: its kubelet would not start there.
                contents: node.kubelet.failCgroupV1 === true ? { v2: kubelet("v2") } : { v2: kubelet("v2"), v1: kubelet("v1") },
                assumed: "v2",
                help: `the node runs cgroup v1, where the kubelet ${c.kubernetes.version} starts only with failCgroupV1: false (KEP-5573), but ${CONFIG_NAMESPACE}:nodes[${index}].kubelet.failCgroupV1 is true: remove that setting (the program sets false on cgroup v1 hosts and warns), boot the host with cgroup v2 (systemd.unified_cgroup_hierarchy=1)`,
            },
        } : {}),
        mode: 0o644,
        restart: "kubelet",
    });
    const facts = {
        ...driver.kubeadm, cgroupDriver: driver.runtime.cgroupDriver,
        ignorePreflightErrors: [...new Set([...driver.kubeadm.ignorePreflightErrors, ...c.kubernetes.ignorePreflightErrors])],
        kubeProxy: deepMerge(structuredClone(driver.kubeadm.kubeProxy ?? {}), c.kubernetes.kubeProxy),
    };
    const self = { name: node.name, address: driver.address(index) };
    files.push(node.role === "master"
        ? { role: "kubeadm-config", path: KUBEADM_CONFIG_PATH, content: renderKubeadmInitConfig({ kubernetesVersion: c.kubernetes.version, master: self, facts }), mode: 0o600 }
        : { role: "kubeadm-join-config", path: KUBEADM_JOIN_CONFIG_PATH, content: renderKubeadmJoinConfig({ node: self, facts }), mode: 0o600 });
    files.push(...driver.clusterFiles(node, index));
    return files;
}
