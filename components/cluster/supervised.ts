// Nodes without systemd, on the way to kubeadm (kubeadm.ts): the lab's supervisor runs CRI-O (with
// the CRI proxy in front of it for direct restores) and the kubelet as kubeadm's systemd drop-in
// would; where the nodes have no registry, they build kubeadm's images from the binaries on their
// PATH first. The local lab's nodes are such nodes, and so are existing hosts with
// `existing.services: supervised` (for example golden images without systemd).
import * as pulumi from "@pulumi/pulumi";
import { NodeHandle, nodeCommand } from "../node/command";
import { declareKubeadm } from "./kubeadm";
import { crioService, kubeletService, localImagesScript, ServiceSpec, startServiceScript, stopServiceScript } from "./localCluster";

export interface SupervisedArgs {
    readonly nodes: readonly NodeHandle[];
    /** Per node name, what must be done on it first (its NodeRuntime). */
    readonly ready: Readonly<Record<string, pulumi.Resource[]>>;
    /** The name prefixes of the lab's workload pods (kubeadm reset). */
    readonly labPods: readonly string[];
    /** The CRI proxy's service, when the kubelet talks to CRI-O through it. */
    readonly proxy?: ServiceSpec;
    /** Builds kubeadm's images (and busybox) on each node for this Kubernetes release, when set. */
    readonly buildImages?: string;
    /** More steps on a node before its kubelet starts, after `ready` (the local lab's pod routes). */
    readonly before?: (parent: pulumi.ComponentResource, name: string, node: NodeHandle, ready: pulumi.Resource[]) => pulumi.Resource[];
}

/** Builds kubeadm's images on a node from the binaries on its PATH (no registry), after `dependsOn`. */
function imagesCommand(parent: pulumi.ComponentResource, name: string, node: NodeHandle, kubernetesVersion: string, dependsOn: pulumi.Resource[]) {
    return nodeCommand(`${name}-${node.name}-images`, {
        node,
        create: localImagesScript(kubernetesVersion),
        triggers: [{ lab: "node-check", node: node.name, check: "local-images" }],
        // Seven images of about 100 MB each: 3 minutes on the local lab, 15 on a VM under emulation.
        timeoutMinutes: 30,
    }, { parent, dependsOn });
}

/** `ready` with each node's kubeadm images built once it is ready (systemd's nodes without a registry). */
export function withImages(parent: pulumi.ComponentResource, name: string, nodes: readonly NodeHandle[], ready: Readonly<Record<string, pulumi.Resource[]>>, kubernetesVersion: string) {
    return Object.fromEntries(nodes.map(n => [n.name, [imagesCommand(parent, name, n, kubernetesVersion, ready[n.name])]]));
}

/** Supervised CRI-O, images and kubelet on every node, then kubeadm. Returns the admin kubeconfig (secret). */
export function declareSupervisedKubeadm(parent: pulumi.ComponentResource, name: string, args: SupervisedArgs): pulumi.Output<string> {
    const service = (node: NodeHandle, s: ServiceSpec, dependsOn: pulumi.Resource[]) => nodeCommand(`${name}-${node.name}-${s.name}`, {
        node,
        create: startServiceScript(s),
        delete: stopServiceScript(s.name),
        triggers: [{ lab: "node-check", node: node.name, check: `service-${s.name}` }],
        timeoutMinutes: 5,
    }, { parent, dependsOn });
    const ready = Object.fromEntries(args.nodes.map(n => {
        const crio = service(n, crioService(), args.ready[n.name]);
        const proxy = args.proxy ? [service(n, args.proxy, [crio])] : [];
        const images = args.buildImages ? [imagesCommand(parent, name, n, args.buildImages, [crio])] : [];
        const kubelet = service(n, kubeletService(), [crio, ...proxy, ...images, ...(args.before?.(parent, name, n, args.ready[n.name]) ?? [])]);
        return [n.name, [kubelet]];
    }));
    return declareKubeadm(parent, name, { nodes: args.nodes, ready, labPods: args.labPods });
}
