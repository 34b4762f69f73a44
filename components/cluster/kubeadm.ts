// Kubernetes on the lab's nodes, one way for every driver: kubeadm init on the master and kubeadm
// join on the workers, the control plane as static pods (etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler) plus kube-proxy and CoreDNS. The drivers differ only in
// where binaries and images come from (packages, or the local lab's builds) and in who supervises
// the kubelet (systemd, or the lab's supervisor on nodes without it). Renderers here are pure;
// declareKubeadm turns them into ordered remote commands.
import * as pulumi from "@pulumi/pulumi";
import * as YAML from "yaml";
import { nodeProgram } from "../node/program";
import { CRIO_SOCKET } from "../node/crio";
import { KUBELET_DROP_IN_DIR } from "../node/kubelet";
import { NodeHandle, nodeCommand } from "../node/command";
import { SERVICE_LIB } from "../node/scripts";
import { ADMIN_KUBECONFIG } from "../paths";
import { POD_SUBNET, SERVICE_SUBNET } from "./networks";
import { KUBELET_CHECKPOINT_DIR } from "../migration/cutover";

/** What kubeadm init and join share on the node (programs/kubeadm-lib.sh). */
const KUBEADM_LIB = "cluster/programs/kubeadm-lib.sh";

/** Where kubeadm's init config is written on the master (a managed file of the master's runtime). */
export const KUBEADM_CONFIG_PATH = "/etc/live-migration-lab/kubeadm.yaml";
/**
 * Where a worker's join config is written: without the bootstrap token, which the join step fills
 * in from its stdin into a temporary 0600 file.
 */
export const KUBEADM_JOIN_CONFIG_PATH = "/etc/live-migration-lab/kubeadm-join.yaml";
/** Placeholders of the join config that the join step fills in (kubeadm-join.sh). */
export const JOIN_PLACEHOLDERS = { endpoint: "@API_SERVER_ENDPOINT@", token: "@BOOTSTRAP_TOKEN@", caHash: "@CA_CERT_HASH@" } as const;

/** What differs between drivers in kubeadm's configs. */
export interface KubeadmFacts {
    /** The kubelet's cgroup driver (kubeadm defaults to systemd; it must match CRI-O's). */
    readonly cgroupDriver: "systemd" | "cgroupfs";
    /** `Never` where images are built on the nodes (no registry), else `IfNotPresent`. */
    readonly imagePullPolicy: "Never" | "IfNotPresent";
    /** kubeadm preflight checks that cannot pass on these nodes, each named with why in the driver. */
    readonly ignorePreflightErrors: readonly string[];
    /** KubeProxyConfiguration settings the nodes need (e.g. conntrack in a network namespace). */
    readonly kubeProxy?: Record<string, unknown>;
}

export interface KubeadmNode {
    readonly name: string;
    readonly address: string;
}

function nodeRegistration(node: KubeadmNode, f: KubeadmFacts): Record<string, unknown> {
    return {
        name: node.name,
        criSocket: CRIO_SOCKET,
        imagePullPolicy: f.imagePullPolicy,
        // Flink and the lab's test pods run on the master too.
        taints: [],
        // The node's own address (VMs have a NAT interface first) and the lab's kubelet drop-in
        // directory, where the node's rendered kubelet settings live (kubelet.ts).
        kubeletExtraArgs: [{ name: "node-ip", value: node.address }, { name: "config-dir", value: KUBELET_DROP_IN_DIR }],
        ...(f.ignorePreflightErrors.length > 0 ? { ignorePreflightErrors: [...f.ignorePreflightErrors] } : {}),
    };
}

const yamlDocs = (docs: Record<string, unknown>[]) => "# Managed by live-migration-lab.\n" + docs.map(d => YAML.stringify(d)).join("---\n");

/**
 * kubeadm's waits (v1beta4 `timeouts`), longer than its defaults (API calls 1m, control plane and
 * kubelet health 4m, discovery and TLS bootstrap 5m). They bound how long kubeadm waits, so a fast
 * host finishes as soon as it did; a slow one gets there instead of failing half-way. Seen on a
 * cgroup v2 VM under emulation: `kubeadm init` gave up bootstrapping the admin user ("unable to
 * create ClusterRoleBinding ... context deadline exceeded") after its 1m of API calls while the
 * API server answered in tens of seconds, and left a control plane without RBAC bindings or addons.
 */
export const KUBEADM_TIMEOUTS = {
    controlPlaneComponentHealthCheck: "10m0s", kubeletHealthCheck: "10m0s", kubernetesAPICall: "5m0s",
    etcdAPICall: "5m0s", tlsBootstrap: "10m0s", discovery: "10m0s",
} as const;

/**
 * kubeadm's config for `kubeadm init` on the master: InitConfiguration, ClusterConfiguration,
 * KubeletConfiguration (only what kubeadm must know; the node's own settings are its drop-in) and
 * KubeProxyConfiguration.
 */
export function renderKubeadmInitConfig(a: { kubernetesVersion: string; master: KubeadmNode; facts: KubeadmFacts }): string {
    return yamlDocs([
        {
            apiVersion: "kubeadm.k8s.io/v1beta4", kind: "InitConfiguration",
            localAPIEndpoint: { advertiseAddress: a.master.address, bindPort: 6443 },
            nodeRegistration: nodeRegistration(a.master, a.facts),
            timeouts: KUBEADM_TIMEOUTS,
        },
        {
            apiVersion: "kubeadm.k8s.io/v1beta4", kind: "ClusterConfiguration",
            kubernetesVersion: `v${a.kubernetesVersion}`,
            controlPlaneEndpoint: `${a.master.address}:6443`,
            networking: { podSubnet: POD_SUBNET, serviceSubnet: SERVICE_SUBNET },
        },
        { apiVersion: "kubelet.config.k8s.io/v1beta1", kind: "KubeletConfiguration", cgroupDriver: a.facts.cgroupDriver, failSwapOn: false },
        { apiVersion: "kubeproxy.config.k8s.io/v1alpha1", kind: "KubeProxyConfiguration", ...a.facts.kubeProxy },
    ]);
}

/** A worker's JoinConfiguration, with the discovery token left as placeholders (JOIN_PLACEHOLDERS). */
export function renderKubeadmJoinConfig(a: { node: KubeadmNode; facts: KubeadmFacts }): string {
    return yamlDocs([{
        apiVersion: "kubeadm.k8s.io/v1beta4", kind: "JoinConfiguration",
        nodeRegistration: nodeRegistration(a.node, a.facts),
        discovery: {
            bootstrapToken: { apiServerEndpoint: JOIN_PLACEHOLDERS.endpoint, token: JOIN_PLACEHOLDERS.token, caCertHashes: [JOIN_PLACEHOLDERS.caHash] },
        },
        timeouts: KUBEADM_TIMEOUTS,
    }]);
}

export interface NodeInstallArgs {
    /** Kubernetes release, e.g. "1.34.1". */
    readonly kubernetesVersion: string;
    /** CRI-O minor, e.g. "1.34". */
    readonly crioVersion: string;
}

/**
 * Installs CRI-O, kubelet, kubeadm and kubectl from their official repositories, CRIU from the
 * distribution, and turns on what kubeadm's preflight needs. Idempotent.
 */
export function renderNodeInstallScript(a: NodeInstallArgs): string {
    const k8sMinor = a.kubernetesVersion.split(".").slice(0, 2).join(".");
    return nodeProgram("cluster/programs/kubeadm-install.sh", `install CRI-O ${a.crioVersion}, Kubernetes ${a.kubernetesVersion} and CRIU`, {
        K8S_REPO: `https://pkgs.k8s.io/core:/stable:/v${k8sMinor}/deb/`,
        CRIO_REPO: `https://download.opensuse.org/repositories/isv:/cri-o:/stable:/v${a.crioVersion}/deb/`,
        KUBERNETES_VERSION: a.kubernetesVersion,
    });
}

/**
 * Who may call the kubelet's checkpoint API: the API server's kubelet client (the certificate the
 * checkpoint step presents). kubeadm 1.34 issued that certificate in the group kubeadm:cluster-admins;
 * from 1.37 it has only its user, bound to system:kubelet-api-admin, which has nodes/proxy, /stats,
 * /log and /metrics but not nodes/checkpoint (seen: "Forbidden (user=kube-apiserver-kubelet-client,
 * verb=create, resource=nodes, subresource(s)=[checkpoint])"). So the lab grants exactly that.
 */
export function renderCheckpointRbac(): string {
    const name = "live-migration-lab:kubelet-checkpoint";
    return yamlDocs([
        { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: { name }, rules: [{ apiGroups: [""], resources: ["nodes/checkpoint"], verbs: ["create"] }] },
        {
            apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRoleBinding", metadata: { name },
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name },
            subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: KUBELET_CLIENT_USER }],
        },
    ]);
}
/** The user of the API server's kubelet client certificate (kubeadm's APIServerKubeletClientCertCommonName). */
export const KUBELET_CLIENT_USER = "kube-apiserver-kubelet-client";

/** `kubeadm init` once, and the checkpoint API's grant; prints the join parameters (read back as a secret output). */
export function renderKubeadmInitScript(configPath: string): string {
    return nodeProgram("cluster/programs/kubeadm-init.sh", "kubeadm init", { CONFIG: configPath, ADMIN_KUBECONFIG, RBAC: renderCheckpointRbac() }, [KUBEADM_LIB]);
}

/** `kubeadm join` once; the join parameters arrive on stdin, never in the script or its logs. */
export function renderKubeadmJoinScript(configPath: string): string {
    return nodeProgram("cluster/programs/kubeadm-join.sh", "kubeadm join", {
        CONFIG: configPath, ENDPOINT_AT: JOIN_PLACEHOLDERS.endpoint, TOKEN_AT: JOIN_PLACEHOLDERS.token, HASH_AT: JOIN_PLACEHOLDERS.caHash,
    }, [KUBEADM_LIB]);
}

/**
 * `kubeadm reset` on a node leaving the cluster (a supervised kubelet is stopped first). kubeadm
 * empties /var/lib/kubelet: checkpoints the lab did not make (not of its pods) are kept through it.
 */
export function renderKubeadmResetScript(labPods: readonly string[]): string {
    return nodeProgram("cluster/programs/kubeadm-reset.sh", "kubeadm reset", { CHECKPOINTS: KUBELET_CHECKPOINT_DIR, OURS: labPods.map(p => `checkpoint-${p}*`).join("\n") }, [SERVICE_LIB, KUBEADM_LIB]);
}

/**
 * Waits until every node is Ready and every kube-system pod (the control plane, kube-proxy,
 * CoreDNS) is Ready; prints each node's kubelet version and the kube-system pods' phases.
 */
export function clusterReadyScript(names: readonly string[], seconds: number): string {
    return nodeProgram("cluster/programs/cluster-ready.sh", "cluster ready", { NODE_NAMES: names.join(" "), WAIT_SECONDS: seconds, ADMIN_KUBECONFIG });
}

export interface DeclareKubeadmArgs {
    readonly nodes: readonly NodeHandle[];
    /** The name prefixes of the lab's workload pods: kubeadm reset removes their checkpoint archives and keeps others'. */
    readonly labPods: readonly string[];
    /** Per node name, what must be done on it before kubeadm runs there (runtime files, services, images). */
    readonly ready: Readonly<Record<string, pulumi.Resource[]>>;
}

/**
 * kubeadm init on the master, kubeadm join on every worker (each reset on delete), a wait until
 * the cluster is Ready, and the admin kubeconfig (secret).
 */
export function declareKubeadm(parent: pulumi.ComponentResource, name: string, args: DeclareKubeadmArgs): pulumi.Output<string> {
    const master = args.nodes.find(n => n.role === "master")!;
    const workers = args.nodes.filter(n => n.role === "worker");
    const init = nodeCommand(`${name}-init`, {
        node: master,
        create: renderKubeadmInitScript(KUBEADM_CONFIG_PATH),
        delete: renderKubeadmResetScript(args.labPods),
        triggers: [{ lab: "node-check", node: master.name, check: "kubeadm-init" }],
        secretOutput: true, // the join token
        timeoutMinutes: 20,
    }, { parent, dependsOn: args.ready[master.name] });
    const joined = [init, ...workers.map(w => nodeCommand(`${name}-${w.name}-join`, {
        node: w,
        create: renderKubeadmJoinScript(KUBEADM_JOIN_CONFIG_PATH),
        delete: renderKubeadmResetScript(args.labPods),
        stdin: init.stdout,
        triggers: [{ lab: "node-check", node: w.name, check: "kubeadm-join" }],
        timeoutMinutes: 20,
    }, { parent, dependsOn: [init, ...args.ready[w.name]] }))];
    const ready = nodeCommand(`${name}-ready`, {
        node: master,
        create: clusterReadyScript(args.nodes.map(n => n.name), 300),
        triggers: [{ lab: "node-check", node: master.name, check: "cluster-ready" }],
        timeoutMinutes: 10,
    }, { parent, dependsOn: joined });
    const admin = nodeCommand(`${name}-kubeconfig`, {
        node: master,
        create: `cat ${ADMIN_KUBECONFIG}`,
        triggers: [{ lab: "node-check", node: master.name, check: "kubeconfig" }],
        secretOutput: true,
    }, { parent, dependsOn: [ready] });
    // The provider's first use waits for the cluster, not only for the kubeconfig.
    return pulumi.secret(admin.stdout);
}
