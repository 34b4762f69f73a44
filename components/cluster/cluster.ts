// Kubernetes on the lab nodes, bootstrapped by kubeadm (kubeadm.ts) on what the node driver
// provides: the driver says how its nodes run CRI-O and the kubelet (a ClusterPlan: systemd's units,
// or the lab's supervisor with what its nodes need first), and the cluster declares it. Like kind's
// actions over its providers, nothing here knows which driver it is. Outputs a kubeconfig (secret)
// and a Kubernetes provider.
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import type { NodeHandle } from "../node/command";
import { declareKubeadm } from "./kubeadm";
import type { ServiceSpec } from "./localCluster";
import { declareSupervisedKubeadm, withImages } from "./supervised";

export { ADMIN_KUBECONFIG, KUBELET_CLIENT_CERT, KUBELET_CLIENT_KEY, PKI_DIR } from "../paths";

/** How a driver's nodes run Kubernetes' services, which decides how the cluster is brought up. */
export type ClusterPlan =
    /** systemd runs CRI-O and the kubelet (the packages' units; kubeadm starts the kubelet). */
    | {
        readonly services: "systemd";
        /** Builds kubeadm's images on each node for this Kubernetes release (no registry), when set. */
        readonly buildImages?: string;
    }
    | {
        /** The lab's supervisor runs them, on nodes without systemd (supervised.ts). */
        readonly services: "supervised";
        /** The CRI proxy's service, when the kubelet talks to CRI-O through it. */
        readonly proxy?: ServiceSpec;
        /** Builds kubeadm's images on each node for this Kubernetes release (no registry), when set. */
        readonly buildImages?: string;
        /** More steps on a node before its kubelet starts, after `ready` (the local lab's pod routes). */
        readonly before?: (parent: pulumi.ComponentResource, name: string, node: NodeHandle, ready: pulumi.Resource[]) => pulumi.Resource[];
    };

export interface ClusterArgs {
    readonly plan: ClusterPlan;
    readonly nodes: readonly NodeHandle[];
    /** Per node name, what must be done on it before Kubernetes starts (its NodeRuntime). */
    readonly ready: Readonly<Record<string, pulumi.Resource[]>>;
    /** The name prefixes of the lab's workload pods (the Flink job's, every workload's). */
    readonly labPods: readonly string[];
}

export class Cluster extends pulumi.ComponentResource {
    /** Admin kubeconfig (secret). */
    public readonly kubeconfig: pulumi.Output<string>;
    /** Provider for everything the program puts into the cluster. */
    public readonly provider: k8s.Provider;

    constructor(name: string, args: ClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("lab:cluster:Cluster", name, {}, opts);
        if (!args.nodes.some(n => n.role === "master")) throw new pulumi.ResourceError("the cluster needs a node with role master", this);
        const { plan, nodes, ready, labPods } = args;
        this.kubeconfig = plan.services === "supervised"
            ? declareSupervisedKubeadm(this, name, { nodes, ready, labPods, proxy: plan.proxy, buildImages: plan.buildImages, before: plan.before })
            : declareKubeadm(this, name, { nodes, ready: plan.buildImages ? withImages(this, name, nodes, ready, plan.buildImages) : ready, labPods });
        this.provider = new k8s.Provider(`${name}-k8s`, { kubeconfig: this.kubeconfig }, { parent: this });
        this.registerOutputs({ kubeconfig: this.kubeconfig });
    }
}
