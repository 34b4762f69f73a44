// The local lab's Kubernetes: what kubeadm needs on namespace nodes, which have no systemd and no
// package repositories. CRI-O, the lab's CRI proxy and the kubelet run as supervised processes (the
// kubelet as kubeadm's systemd drop-in would run it); kubeadm's images (and busybox for test pods)
// are built locally with buildah into each node's containers-storage; each node bridges its own
// /24 of the pod network and routes the others' to their nodes. kubeadm.ts does the rest, as on
// every driver. Pure renderers: the local driver (drivers/local.ts) turns them into remote commands.
import { SERVICE_LIB } from "../node/scripts";
import { nodeProgram, programText } from "../node/program";
import { CRIO_SOCKET, IMAGE_STORE } from "../node/crio";
import { q } from "../node/program";

export const CNI_CONFIG_PATH = "/etc/cni/net.d/10-live-migration-lab.conflist";
export const STORAGE_CONF_PATH = "/etc/containers/storage.conf";

/** Per node index i, pods get 10.85.i.0/24 of the cluster's pod network (kubeadm.ts POD_SUBNET). */
export const podSubnet = (index: number) => `10.85.${index}.0/24`;
/**
 * CRI-O's pause image: the one kubeadm 1.34 lists (CRI-O 1.34's default is pause:3.10; kubeadm 1.37
 * lists 3.10.2 and only warns of the difference). The node builds it under kubeadm's name and tags
 * it with this one.
 */
export const PAUSE_IMAGE = "registry.k8s.io/pause:3.10.1";
/** A small image every local node has, for the lab's test pods; pods never pull (there is no registry). */
export const BUSYBOX_IMAGE = "localhost/live-migration-lab/busybox:latest";

export interface ServiceSpec {
    readonly name: string;
    /** The command line, already quoted for bash. */
    readonly command?: string;
    /** Or a whole bash script (when the service is more than one command). */
    readonly script?: string;
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
        NAME: s.name, COMMAND: s.command ?? "", SCRIPT: s.script ?? "", READY: s.ready, READY_SECONDS: s.readySeconds, PREPARE: (s.prepare ?? []).join("\n"),
    }, [SERVICE_LIB]);
}

/** Stops a supervised service (TERM, then KILL after 20 s). */
export function stopServiceScript(name: string): string {
    return nodeProgram("cluster/programs/service-stop.sh", `stop ${name}`, { NAME: name }, [SERVICE_LIB]);
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

/** The kubelet under kubeadm (programs/kubelet-kubeadm.sh): it runs once kubeadm has configured it. */
export function kubeletService(): ServiceSpec {
    return {
        name: "kubelet",
        script: programText("cluster/programs/kubelet-kubeadm.sh"),
        prepare: ["install -d -m 0700 /var/lib/kubelet"],
        // Before kubeadm init/join there is no kubelet yet; after, it must answer.
        ready: "[ ! -f /var/lib/kubelet/config.yaml ] || curl -sf http://127.0.0.1:10248/healthz >/dev/null",
        readySeconds: 120,
    };
}

/** The kubelet settings a namespace node needs on top of kubelet.ts's (see scripts/local-node.sh). */
export function localKubeletSettings(cgroupRoot: string): Record<string, unknown> {
    return {
        cgroupRoot,
        // The nodes share the host's disk and memory: evict only when they are really short.
        evictionHard: { "memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%", "nodefs.inodesFree": "1%" },
        imageGCHighThresholdPercent: 100,
        // The node's root is an overlay the kubelet cannot measure per pod.
        localStorageCapacityIsolation: false,
        // CoreDNS forwards what is not the cluster's to the node's resolver.
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

/** Builds the node's kubeadm and test images with buildah (once per image name); prints them. */
export function localImagesScript(kubernetesVersion: string): string {
    return nodeProgram("cluster/programs/local-images.sh", "local images", { KUBERNETES_VERSION: kubernetesVersion, PAUSE_IMAGE, BUSYBOX_IMAGE });
}

/**
 * Routes from a node to the other nodes' pod subnets (they share the lab bridge), so pods reach each
 * other and services across nodes; removed on delete. Prints the routes.
 */
export function podRoutesScript(others: readonly { subnet: string; via: string }[], remove = false): string {
    return nodeProgram("cluster/programs/pod-routes.sh", remove ? "remove pod routes" : "pod routes", {
        ROUTES: others.map(o => `${o.subnet}=${o.via}`).join(" "), ACTION: remove ? "del" : "replace",
    });
}
