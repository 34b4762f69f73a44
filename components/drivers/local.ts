// Driver `local`: master and worker as namespace sandboxes on this Linux host, made by
// scripts/local-node.sh (overlay root over a Debian sid rootfs, own network namespace on a bridge
// inside the lab's own network namespace, sshd), with Debian's runc/crun and CRIU. Kubernetes is
// kubeadm's, as on every driver (kubeadm.ts), from binaries the lab builds and images the nodes
// build (localCluster.ts); CRI-O and the kubelet run under a small supervisor: the nodes have no systemd.
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { execFileSync } from "child_process";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import type { LabConfig, NodeSpec } from "../config/types";
import { jsonStdout, NodeHandle, nodeCommand } from "../node/command";
import type { ManagedFile } from "../node/nodeRuntime";
import { q } from "../node/program";
import {
    CNI_CONFIG_PATH, CRI_PROXY_SOCKET, criProxyService, localCrioSettings, localKubeletSettings, podRoutesScript, podSubnet, renderCniConfig,
    renderStorageConf, STORAGE_CONF_PATH,
} from "../cluster/localCluster";
import { nodeAddress } from "./address";
import type { NodeDriver } from "./driver";
import type { ClusterPlan } from "../cluster/cluster";

/** Where the repository's helper scripts live (the local driver runs them on this host). */
export const SCRIPTS_DIR = path.resolve(__dirname, "..", "..", "scripts");

/**
 * The digest scripts/k8s-build.sh keys the CRI proxy's build by (the one place that computes it):
 * on the proxy's command line, so a new build restarts it.
 */
export function criProxyDigest(): string {
    return execFileSync("bash", [path.join(SCRIPTS_DIR, "k8s-build.sh"), "--proxy-digest"], { encoding: "utf8" }).trim();
}

/** Debian's binary paths on local lab nodes. */
const DEBIAN_RUNTIME_PATHS = { runc: "/usr/sbin/runc", crun: "/usr/bin/crun" } as const;

/** A local node's cgroup root, as scripts/local-node.sh names it (`cgroup-root`). */
export function localCgroupRoot(stateDir: string, node: string): string {
    return `/lml${crypto.createHash("sha256").update(stateDir).digest("hex").slice(0, 6)}-${node}`;
}

export function localDriver(c: LabConfig): NodeDriver {
    const address = (index: number) => nodeAddress(c.local.subnet, index);
    const k8s = c.kubernetes.enabled;
    // A direct restore: the kubelet talks to CRI-O through the lab's CRI proxy.
    const direct = c.archive.restore === "direct";
    return {
        name: "local",
        address,
        runtime: {
            cgroupDriver: "cgroupfs",
            runtimePath: DEBIAN_RUNTIME_PATHS[c.crio.runtime],
            crioSettings: k8s ? localCrioSettings() : undefined,
            kubeletSettings: (node: NodeSpec) => (k8s ? {
                ...localKubeletSettings(localCgroupRoot(c.local.stateDir, node.name)),
                ...(direct ? { containerRuntimeEndpoint: `unix://${CRI_PROXY_SOCKET}` } : {}),
            } : undefined),
        },
        kubeadm: {
            imagePullPolicy: "Never",
            ignorePreflightErrors: LOCAL_PREFLIGHT_IGNORED,
            // A node's network namespace cannot set nf_conntrack_max (it is the host's): leave it.
            kubeProxy: { conntrack: { maxPerCore: 0 } },
        },
        clusterFiles(_node: NodeSpec, index: number): ManagedFile[] {
            if (!k8s) return [];
            return [
                { role: "cni-config", path: CNI_CONFIG_PATH, content: renderCniConfig(index), mode: 0o644, restart: "crio" },
                { role: "storage-conf", path: STORAGE_CONF_PATH, content: renderStorageConf(), mode: 0o644, restart: "crio" },
            ];
        },
        flinkImage: "build",
        probeKey() {
            const file = path.join(c.local.stateDir, "ssh", "id_ed25519");
            return fs.existsSync(file) ? fs.readFileSync(file, "utf8") : undefined;
        },
        isUp: node => fs.existsSync(path.join(c.local.stateDir, "nodes", node.name)),
        placementProblem: (dryRun, anyUp) => outsideLocalLab(c.local.stateDir, dryRun, anyUp),
        declareNodes: (parent, name) => declareLocalNodes(c, parent, name),
        cluster: localClusterPlan(c),
    };
}

/** Where outsideLocalLab looks: this process's network namespace, and the named ones (`ip netns`). */
export const NETNS_PATHS = { self: "/proc/self/ns/net", named: "/run/netns" };

/**
 * The local lab's nodes answer only inside its network namespace, which scripts/lab.sh makes (after
 * building what the nodes need) and runs pulumi in. Outside it, an update (which would start nodes
 * it cannot reach) and a preview of a lab that is up (whose drift review could not reach its nodes)
 * stop at once, saying what to run; a preview of a lab never brought up only plans, and runs anywhere.
 */
export function outsideLocalLab(stateDir: string, dryRun: boolean, anyUp: boolean, where = NETNS_PATHS): string | undefined {
    const ns = execFileSync("bash", [path.join(SCRIPTS_DIR, "local-node.sh"), "lab-netns", stateDir], { encoding: "utf8" }).trim();
    let inside = false;
    try {
        inside = fs.readlinkSync(where.self) === `net:[${fs.statSync(path.join(where.named, ns)).ino}]`;
    } catch { /* no such namespace yet: not inside it */ }
    if (inside || (dryRun && !anyUp)) return undefined;
    return `driver local: run this through scripts/lab.sh (sudo scripts/lab.sh ${dryRun ? "preview" : "up"}): it builds what the nodes need and runs pulumi inside the lab's network namespace ${ns}, the only place its nodes answer; this pulumi runs outside it`;
}

/** The namespace nodes, the lab network and the lab's SSH key (read back as a secret). */
function declareLocalNodes(c: LabConfig, parent: pulumi.ComponentResource, name: string): NodeHandle[] {
    const stateDir = c.local.stateDir;
    const script = q(path.join(SCRIPTS_DIR, "local-node.sh"));
    // The lab network namespace and its bridge. scripts/lab.sh makes them first (it runs pulumi
    // inside them); this resource owns them, so destroy removes them too.
    const network = new command.local.Command(`${name}-network`, {
        create: `bash ${script} lab-up ${q(c.local.subnet)} ${q(stateDir)}`,
        delete: `bash ${script} lab-down ${q(stateDir)}`,
    }, { parent });
    const key = new command.local.Command(`${name}-key`, {
        create: `bash ${script} key ${q(stateDir)}`,
        logging: "none",
    }, { parent, dependsOn: [network], additionalSecretOutputs: ["stdout"] });
    const privateKey = key.stdout;
    // With Kubernetes, nodes get the binaries scripts/k8s-build.sh made (scripts/lab.sh builds them
    // in the host's network namespace, where the Go module proxy is reachable). They also see the
    // inputs of the Flink image (scripts/flink-build.sh), which they build.
    const bins = c.kubernetes.enabled
        ? `bins=$(bash ${q(path.join(SCRIPTS_DIR, "k8s-build.sh"))} --find ${q(c.kubernetes.version)} ${q(c.crio.version)}); ` +
          `images=$(bash ${q(path.join(SCRIPTS_DIR, "flink-build.sh"))} --root); `
        : "bins=; images=; ";
    return c.nodes.map((n, i) => {
        const address = nodeAddress(c.local.subnet, i);
        const node = new command.local.Command(`${name}-${n.name}`, {
            interpreter: ["/bin/bash", "-c"],
            create: `set -euo pipefail; ${bins}bash ${script} up ${q(n.name)} ${q(address)} ${q(c.local.subnet)} ${q(stateDir)} "$bins" "$images"`,
            delete: `bash ${script} down ${q(n.name)} ${q(address)} ${q(c.local.subnet)} ${q(stateDir)}`,
            // Another Kubernetes (or none) is another node.
            triggers: [c.kubernetes.enabled ? `kubernetes ${c.kubernetes.version} crio ${c.crio.version}` : "no kubernetes"],
        // The node's name and address stay the same: the old node must be gone before the new one
        // starts (`up` of a running node leaves it as it is).
        }, { parent, dependsOn: [network, key], customTimeouts: { create: "30m" }, deleteBeforeReplace: true });
        return {
            name: n.name, role: n.role, user: "root", port: 22, keySource: "driver" as const, privateKey,
            address: node.stdout.apply(() => address),
            connection: { host: node.stdout.apply(() => address), port: 22, user: "root", privateKey },
            // local-node.sh up prints {name, address, state, instance}.
            instance: jsonStdout<{ instance?: string }>(node).apply(o => o.instance ?? ""),
        };
    });
}

/**
 * kubeadm preflight checks the lab's nodes fail for reasons that do not apply, each with why:
 * - HTTPProxyCIDR: kubeadm 1.34 writes the service and pod networks' first address as `[10.96.0.1]`
 *   (an IPv4 address in 16 bytes is taken for IPv6) and asks net/url whether a proxy serves it; built
 *   with Go 1.26 (the toolchain here; Kubernetes 1.34 is released with Go 1.24), net/url refuses
 *   a bracketed IPv4 address ("invalid IP-literal"). The check only warns of HTTP proxies; the lab
 *   network has none.
 */
export const LOCAL_PREFLIGHT_IGNORED = ["HTTPProxyCIDR"];

/**
 * What kubeadm needs on every local node first: supervised CRI-O (with the CRI proxy in front of it
 * for direct restores), the node's kubeadm and test images, routes to the other nodes' pods, and
 * the supervised kubelet (supervised.ts); then kubeadm itself. Returns the admin kubeconfig (secret).
 */
function localClusterPlan(c: LabConfig): ClusterPlan {
    return {
        services: "supervised",
        // With direct restores the kubelet's runtime endpoint is the CRI proxy in front of CRI-O.
        proxy: c.archive.restore === "direct" ? criProxyService(c.archive.dir, criProxyDigest(), c.cutover.maxPauseSeconds) : undefined,
        buildImages: c.kubernetes.version,
        before: (parent, name, n, ready) => {
            const index = c.nodes.findIndex(s => s.name === n.name);
            const others = c.nodes.map((_, i) => ({ subnet: podSubnet(i), via: nodeAddress(c.local.subnet, i) })).filter((_, i) => i !== index);
            return [nodeCommand(`${name}-${n.name}-pod-routes`, {
                node: n,
                create: podRoutesScript(others),
                delete: podRoutesScript(others, true),
                triggers: [{ lab: "node-check", node: n.name, check: "pod-routes" }],
            }, { parent, dependsOn: ready })];
        },
    };
}
