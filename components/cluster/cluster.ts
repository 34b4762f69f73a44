// Kubernetes on the lab nodes, as the node driver brings it up (drivers/): kubeadm on every driver
// (kubeadm.ts), after what the driver's nodes need first. Outputs a kubeconfig (secret) and a
// Kubernetes provider.
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import type { NodeHandle } from "../node/command";
import type { NodeDriver } from "../drivers";

/** Kubernetes' certificate directory and admin kubeconfig (kubeadm's paths). */
export const PKI_DIR = "/etc/kubernetes/pki";
export const ADMIN_KUBECONFIG = "/etc/kubernetes/admin.conf";

/** The API server's client certificate for kubelets: what the checkpoint call presents. */
export const KUBELET_CLIENT_CERT = `${PKI_DIR}/apiserver-kubelet-client.crt`;
export const KUBELET_CLIENT_KEY = `${PKI_DIR}/apiserver-kubelet-client.key`;

export interface ClusterArgs {
    readonly driver: NodeDriver;
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
        this.kubeconfig = args.driver.declareCluster(this, name, args).kubeconfig;
        this.provider = new k8s.Provider(`${name}-k8s`, { kubeconfig: this.kubeconfig }, { parent: this });
        this.registerOutputs({ kubeconfig: this.kubeconfig });
    }
}
