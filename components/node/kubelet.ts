// Kubelet settings the checkpoint API depends on.
import { CRIO_SOCKET } from "./crio";
import * as YAML from "yaml";

/**
 * The kubelet's drop-in directory (--config-dir, which kubeadm passes from its kubeletExtraArgs) and
 * the lab's file there: the node's own kubelet settings, over kubeadm's /var/lib/kubelet/config.yaml.
 */
export const KUBELET_DROP_IN_DIR = "/etc/kubernetes/kubelet.conf.d";
export const KUBELET_DROP_IN_PATH = `${KUBELET_DROP_IN_DIR}/50-live-migration-lab.conf`;
/** crictl's config: without it a bare `crictl ps` on a node guesses among deprecated defaults. */
export const CRICTL_CONFIG_PATH = "/etc/crictl.yaml";

/** ContainerCheckpoint became beta, and on by default, in Kubernetes 1.30 (alpha since 1.25). */
export const CHECKPOINT_GATE_DEFAULT_ON_SINCE = 30;
/** From 1.35 the kubelet refuses to start on cgroup v1 unless failCgroupV1 is false (KEP-5573). */
export const FAIL_CGROUP_V1_SINCE = 35;

/** Whether a kubelet of this release needs `failCgroupV1: false` to run on a cgroup v1 host. */
export const refusesCgroupV1 = (kubernetesVersion: string) => Number(kubernetesVersion.split(".")[1]) >= FAIL_CGROUP_V1_SINCE;

export interface KubeletArgs {
    /** Kubernetes release, e.g. "1.34.1". */
    readonly kubernetesVersion: string;
    /** "systemd" on VMs; "cgroupfs" where the node has no systemd (the local lab). */
    readonly cgroupDriver: "systemd" | "cgroupfs";
    readonly clientCAFile: string;
    /** Further settings (the local lab's namespace nodes need some). */
    readonly extra?: Record<string, unknown>;
    /** The node's cgroup version, where it matters: on v1 a kubelet from 1.35 needs failCgroupV1: false. */
    readonly cgroup?: "v1" | "v2";
}

/** The feature gates the kubelet needs for `POST /checkpoint/...`. */
export function checkpointFeatureGates(kubernetesVersion: string): Record<string, boolean> {
    const minor = Number(kubernetesVersion.split(".")[1]);
    return minor < CHECKPOINT_GATE_DEFAULT_ON_SINCE ? { ContainerCheckpoint: true } : {};
}

/** A KubeletConfiguration (kubelet.config.k8s.io/v1beta1) as an object. */
export function kubeletConfig(args: KubeletArgs): Record<string, unknown> {
    const gates = checkpointFeatureGates(args.kubernetesVersion);
    return {
        apiVersion: "kubelet.config.k8s.io/v1beta1",
        kind: "KubeletConfiguration",
        cgroupDriver: args.cgroupDriver,
        containerRuntimeEndpoint: CRIO_SOCKET,
        // The checkpoint endpoint is on the authenticated port: callers present a certificate
        // signed by the cluster CA and the API server authorizes them (nodes/checkpoint).
        authentication: {
            anonymous: { enabled: false },
            webhook: { enabled: true },
            x509: { clientCAFile: args.clientCAFile },
        },
        authorization: { mode: "Webhook" },
        failSwapOn: false,
        ...(args.cgroup === "v1" && refusesCgroupV1(args.kubernetesVersion) ? { failCgroupV1: false } : {}),
        ...(Object.keys(gates).length > 0 ? { featureGates: gates } : {}),
        ...args.extra,
    };
}

/**
 * What a user should know of each node's kubelet: from 1.35 it runs on a cgroup v1 (or hybrid) host
 * only because the program set failCgroupV1: false there (`criu` is each node's criu-check output).
 */
export function cgroupWarnings(kubernetesVersion: string, criu: Readonly<Record<string, { cgroup?: string }>>): string[] {
    if (!refusesCgroupV1(kubernetesVersion)) return [];
    return Object.entries(criu).filter(([, o]) => o.cgroup !== undefined && o.cgroup !== "v2").map(([node, o]) =>
        `node ${node} runs cgroup ${o.cgroup === "hybrid" ? "v1 (hybrid: v2 mounted without controllers)" : o.cgroup}: the kubelet ${kubernetesVersion} refuses cgroup v1 by default (KEP-5573), so the program set failCgroupV1: false in its drop-in (${KUBELET_DROP_IN_PATH}) and kubeadm skips its SystemVerification preflight there; cgroup v1 support is in maintenance mode in Kubernetes: boot the host with cgroup v2 (systemd.unified_cgroup_hierarchy=1) where you can`);
}

export function renderKubeletConfig(args: KubeletArgs): string {
    return "# Managed by live-migration-lab.\n" + YAML.stringify(kubeletConfig(args));
}

/** /etc/crictl.yaml pointing crictl at CRI-O, so `crictl ps` on a node needs no flags. */
export function renderCrictlConfig(): string {
    return "# Managed by live-migration-lab.\n" + YAML.stringify({ "runtime-endpoint": CRIO_SOCKET, "image-endpoint": CRIO_SOCKET, timeout: 10 });
}
