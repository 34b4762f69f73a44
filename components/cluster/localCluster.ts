// The local lab's Kubernetes: what runs on namespace nodes, which have no systemd and no package
// repositories. etcd (Debian) and kube-apiserver on the master; CRI-O and a kubelet on every node,
// as supervised processes; certificates made with openssl on the master; the CNI bridge plugin;
// images (pause, busybox) built locally with buildah into each node's containers-storage.
// Pure renderers: Cluster (cluster.ts) turns them into ordered remote commands.
import { SERVICE_LIB } from "../node/scripts";
import { nodeProgram, programText } from "../node/program";
import { CRIO_SOCKET, IMAGE_STORE } from "../node/crio";
import { q } from "../node/program";
import { ADMIN_KUBECONFIG, PKI_DIR } from "./cluster";

export const KUBELET_KUBECONFIG = "/etc/kubernetes/kubelet.conf";
export const CNI_CONFIG_PATH = "/etc/cni/net.d/10-live-migration-lab.conflist";
export const STORAGE_CONF_PATH = "/etc/containers/storage.conf";

export const SERVICE_CIDR = "10.96.0.0/16";
export const API_SERVER_SERVICE_IP = "10.96.0.1";
export const API_SERVER_PORT = 6443;
/** Per node index i, pods get 10.85.i.0/24 (node-local: no route between nodes' pods is needed). */
export const podSubnet = (index: number) => `10.85.${index}.0/24`;
/** Images every local node has; pods never pull (there is no registry). */
export const PAUSE_IMAGE = "localhost/live-migration-lab/pause:3.10";
export const BUSYBOX_IMAGE = "localhost/live-migration-lab/busybox:latest";

export interface LocalNode {
    readonly name: string;
    readonly address: string;
}

/** Files, with their content, that one node needs from the master's certificate authority. */
export interface NodeCredentials {
    readonly files: Record<string, { content: string; mode: string }>;
}

/** What the master's PKI step prints (a secret): the admin kubeconfig and each other node's files. */
export interface PkiOutput {
    readonly admin: string;
    readonly nodes: Record<string, NodeCredentials>;
}

/**
 * Makes the cluster's certificates on the master (programs/pki.sh, once; kept when present): CA,
 * API server serving cert, the API server's kubelet client cert (also what the checkpoint call
 * presents), admin, service-account keys, and per node a kubelet client cert (system:node:NAME) and
 * serving cert. Installs the master's own kubelet files and prints PkiOutput as one JSON line.
 */
export function pkiScript(master: LocalNode, nodes: readonly LocalNode[]): string {
    const apiSans = ["IP:" + API_SERVER_SERVICE_IP, "IP:" + master.address, "IP:127.0.0.1", "DNS:kubernetes", "DNS:kubernetes.default",
        "DNS:kubernetes.default.svc", "DNS:kubernetes.default.svc.cluster.local", "DNS:" + master.name].join(",");
    return nodeProgram("cluster/programs/pki.sh", "cluster certificates", {
        PKI_DIR, API_SANS: apiSans, SERVER: `https://${master.address}:${API_SERVER_PORT}`, MASTER: master.name,
        NODES: nodes.map(n => `${n.name}=${n.address}`).join(" "), ADMIN_KUBECONFIG, KUBELET_KUBECONFIG,
        PY_PKI: programText("cluster/programs/pki.py"),
    });
}

/** Installs a node's NodeCredentials (JSON on stdin) with their modes; prints the paths. */
export function installCredentialsScript(): string {
    return nodeProgram("cluster/programs/install-credentials.sh", "kubelet credentials", { PY_PKI: programText("cluster/programs/pki.py") });
}

export interface ServiceSpec {
    readonly name: string;
    /** The command line, already quoted for bash. */
    readonly command: string;
    /** A bash condition that holds once the service serves. */
    readonly ready: string;
    readonly readySeconds: number;
    /** Run before each start (directories, empty config files). */
    readonly prepare?: string[];
}

/**
 * Starts a supervised service on a node without systemd (programs/service-start.sh): a running one
 * is left alone unless its command line changed. Waits until it is ready.
 */
export function startServiceScript(s: ServiceSpec): string {
    return nodeProgram("cluster/programs/service-start.sh", `start ${s.name}`, {
        NAME: s.name, COMMAND: s.command, READY: s.ready, READY_SECONDS: s.readySeconds, PREPARE: (s.prepare ?? []).join("\n"),
    }, [SERVICE_LIB]);
}

/** Stops a supervised service (TERM, then KILL after 20 s). */
export function stopServiceScript(name: string): string {
    return nodeProgram("cluster/programs/service-stop.sh", `stop ${name}`, { NAME: name }, [SERVICE_LIB]);
}

export function etcdService(): ServiceSpec {
    return {
        name: "etcd",
        command: "etcd --name lab --data-dir /var/lib/etcd --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 --listen-peer-urls http://127.0.0.1:2380",
        prepare: ["install -d -m 0700 /var/lib/etcd"],
        ready: "curl -sf http://127.0.0.1:2379/health >/dev/null",
        readySeconds: 60,
    };
}

export function apiServerService(master: LocalNode): ServiceSpec {
    const p = PKI_DIR;
    const args = [
        `--advertise-address=${master.address}`,
        `--secure-port=${API_SERVER_PORT}`,
        "--etcd-servers=http://127.0.0.1:2379",
        `--service-cluster-ip-range=${SERVICE_CIDR}`,
        `--client-ca-file=${p}/ca.crt`,
        `--tls-cert-file=${p}/apiserver.crt`, `--tls-private-key-file=${p}/apiserver.key`,
        `--kubelet-client-certificate=${p}/apiserver-kubelet-client.crt`, `--kubelet-client-key=${p}/apiserver-kubelet-client.key`,
        `--kubelet-certificate-authority=${p}/ca.crt`,
        "--kubelet-preferred-address-types=InternalIP",
        `--service-account-issuer=https://kubernetes.default.svc.cluster.local`,
        `--service-account-key-file=${p}/sa.pub`, `--service-account-signing-key-file=${p}/sa.key`,
        "--authorization-mode=Node,RBAC",
        "--enable-admission-plugins=NodeRestriction",
        // No controller-manager runs, so nothing creates service accounts or their tokens: pods
        // run without one (the lab's pods do not talk to the API).
        "--disable-admission-plugins=ServiceAccount",
        "--allow-privileged=true",
    ];
    return {
        name: "kube-apiserver",
        command: `kube-apiserver ${args.join(" ")}`,
        ready: `curl -sf --cacert ${p}/ca.crt https://127.0.0.1:${API_SERVER_PORT}/readyz >/dev/null`,
        readySeconds: 120,
    };
}

export function crioService(): ServiceSpec {
    return {
        name: "crio",
        // crio.conf itself stays empty: everything the lab sets is in its drop-in.
        command: "crio --config /etc/crio/crio.conf --config-dir /etc/crio/crio.conf.d",
        prepare: ["install -d -m 0755 /etc/crio/crio.conf.d", "[ -f /etc/crio/crio.conf ] || : >/etc/crio/crio.conf"],
        ready: `crictl --runtime-endpoint ${CRIO_SOCKET} info >/dev/null 2>&1`,
        readySeconds: 60,
    };
}

/** The lab's CRI proxy (cri-proxy/): the kubelet's runtime endpoint when migrations restore directly from archives. */
export const CRI_PROXY_SOCKET = "/run/live-migration-lab/cri.sock";

/**
 * The proxy's service; `build` (the digest of its source) restarts it when the node's binary is new.
 * It restores no archive older than the migration's hold (`maxPauseSeconds`).
 */
export function criProxyService(archiveDir: string, build: string, maxPauseSeconds: number): ServiceSpec {
    return {
        name: "cri-proxy",
        // The full path: nodes made before the proxy existed have no /usr/local/bin link to it.
        command: `/opt/lab/bin/cri-proxy -build ${build} -listen ${CRI_PROXY_SOCKET} -runtime ${CRIO_SOCKET} -archive-dir ${q(archiveDir)} -max-age ${maxPauseSeconds}s`,
        prepare: ["install -d -m 0755 /run/live-migration-lab"],
        ready: `crictl --runtime-endpoint unix://${CRI_PROXY_SOCKET} version >/dev/null 2>&1`,
        readySeconds: 30,
    };
}

export function kubeletService(node: LocalNode, configPath: string): ServiceSpec {
    return {
        name: "kubelet",
        command: `kubelet --config=${configPath} --kubeconfig=${KUBELET_KUBECONFIG} --node-ip=${node.address} --hostname-override=${node.name}`,
        prepare: ["install -d -m 0700 /var/lib/kubelet"],
        ready: "curl -sf http://127.0.0.1:10248/healthz >/dev/null",
        readySeconds: 120,
    };
}

/** Waits until every node is Ready in the API; prints the nodes and their kubelet versions. */
export function nodesReadyScript(names: readonly string[], seconds: number): string {
    return nodeProgram("cluster/programs/nodes-ready.sh", "nodes ready", { NODE_NAMES: names.join(" "), WAIT_SECONDS: seconds, ADMIN_KUBECONFIG });
}

/** The kubelet settings a namespace node needs on top of kubelet.ts's (see scripts/local-node.sh). */
export function localKubeletSettings(cgroupRoot: string): Record<string, unknown> {
    return {
        cgroupRoot,
        tlsCertFile: `${PKI_DIR}/kubelet.crt`,
        tlsPrivateKeyFile: `${PKI_DIR}/kubelet.key`,
        // The nodes share the host's disk and memory: evict only when they are really short.
        evictionHard: { "memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%", "nodefs.inodesFree": "1%" },
        imageGCHighThresholdPercent: 100,
        // The node's root is an overlay the kubelet cannot measure per pod.
        localStorageCapacityIsolation: false,
        // No cluster DNS runs; pods use the node's resolver.
        resolvConf: "/etc/resolv.conf",
    };
}

/** The CNI bridge network of a node's pods (Debian's plugins in /usr/lib/cni). */
export function renderCniConfig(index: number): string {
    return JSON.stringify({
        cniVersion: "1.0.0",
        name: "lab",
        plugins: [
            { type: "bridge", bridge: "cni0", isGateway: true, ipMasq: false, hairpinMode: true,
                ipam: { type: "host-local", ranges: [[{ subnet: podSubnet(index) }]], routes: [{ dst: "0.0.0.0/0" }] } },
            { type: "loopback" },
        ],
    }, null, 2) + "\n";
}

/** containers-storage shared by CRI-O and buildah: overlay on the host directory the node binds in. */
export function renderStorageConf(): string {
    return [
        "# Managed by live-migration-lab: CRI-O and buildah share this store.",
        "[storage]",
        'driver = "overlay"',
        'runroot = "/run/containers/storage"',
        `graphroot = "${IMAGE_STORE}"`,
        "",
    ].join("\n");
}

/** The drop-in settings a namespace node needs (merged under the rendered CRI-O drop-in). */
export function localCrioSettings(): Record<string, unknown> {
    return {
        crio: {
            runtime: { cgroup_manager: "cgroupfs", conmon_cgroup: "pod" },
            image: { pause_image: PAUSE_IMAGE },
            network: { network_dir: "/etc/cni/net.d/", plugin_dirs: ["/usr/lib/cni"] },
        },
    };
}

/** Builds the node's local images with buildah (once per image name); prints their ids. */
export function localImagesScript(): string {
    return nodeProgram("cluster/programs/local-images.sh", "local images", { PAUSE_IMAGE, BUSYBOX_IMAGE });
}
