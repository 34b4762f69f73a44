// Node drivers: what differs between the local lab, Vagrant VMs and hosts the user already has,
// behind one interface. Only this folder (and config validation) knows which driver a lab uses:
// everything else asks the NodeDriver.
//
// Modelled on kind's providers (pkg/cluster/internal/providers/provider.go): one interface, one
// module per implementation, chosen once from the config.
import type * as pulumi from "@pulumi/pulumi";
import type { LabConfig, NodeSpec } from "../config/types";
import type { NodeHandle } from "../node/command";
import type { ManagedFile } from "../node/nodeRuntime";
import type { KubeadmFacts } from "../cluster/kubeadm";
import { localDriver } from "./local";
import { vagrantDriver } from "./vagrant";
import { existingDriver } from "./existing";

/** How a driver's nodes run CRI-O and the kubelet. */
export interface NodeRuntimeFacts {
    /** The kubelet's and CRI-O's cgroup driver. */
    readonly cgroupDriver: "cgroupfs" | "systemd";
    /** The OCI runtime binary CRI-O runs, where the driver knows it (else CRI-O's packaged default). */
    readonly runtimePath?: string;
    /** CRI-O settings the driver's nodes need, merged under the stack's own crio.settings. */
    readonly crioSettings?: Record<string, unknown>;
    /** Kubelet settings the node needs on top of the lab's (kubelet.ts). */
    kubeletSettings(node: NodeSpec): Record<string, unknown> | undefined;
}

/** What the driver declares for Kubernetes: the admin kubeconfig (secret). */
export interface ClusterDeclaration {
    readonly kubeconfig: pulumi.Output<string>;
}

export interface DeclareNodesArgs {
    /** The sshPrivateKey config value as a secret output (undefined when not set). */
    readonly sshPrivateKey?: pulumi.Output<string>;
    /** Working directory for files the driver keeps on the machine running Pulumi. */
    readonly workDir: string;
}

export interface DeclareClusterArgs {
    readonly nodes: readonly NodeHandle[];
    /** Per node name, what must be done on it before Kubernetes starts (its NodeRuntime). */
    readonly ready: Readonly<Record<string, pulumi.Resource[]>>;
    /** The name prefixes of the lab's workload pods: their checkpoint archives are the lab's (kubeadm reset). */
    readonly labPods: readonly string[];
}

export interface NodeDriver {
    /** The config value that chose this driver. */
    readonly name: LabConfig["driver"];
    /** The address of `c.nodes[index]`, known from the config alone (before any node exists). */
    address(index: number): string;
    readonly runtime: NodeRuntimeFacts;
    /** What kubeadm's configs say differently on this driver's nodes (the cgroup driver is runtime's). */
    readonly kubeadm: Omit<KubeadmFacts, "cgroupDriver">;
    /**
     * Files this driver's way of running Kubernetes needs on a node, besides the CRIU, CRI-O,
     * crictl, kubelet and kubeadm files every node gets.
     */
    clusterFiles(node: NodeSpec, index: number): ManagedFile[];
    /** A script that installs CRIU, CRI-O and Kubernetes on a node, where its hosts need one. */
    readonly install?: string;
    /** Whether the Flink image is built on every node (no registry) or pulled. */
    readonly flinkImage: "build" | "pull";
    /** The key the drift probe may use to read the nodes while the program runs, if any. */
    probeKey(plainConfigKey: string | undefined): string | undefined;
    /** Whether the node exists yet (one that was never brought up is not probed, not waited for). */
    isUp(node: NodeSpec): boolean;
    /** Declares the nodes under `parent` and hands every one to the rest of the program. */
    declareNodes(parent: pulumi.ComponentResource, name: string, args: DeclareNodesArgs): NodeHandle[];
    /** Declares Kubernetes on the nodes under `parent` (kubeadm.ts, after what the driver's nodes need first). */
    declareCluster(parent: pulumi.ComponentResource, name: string, args: DeclareClusterArgs): ClusterDeclaration;
}

export { nodeAddress } from "./address";

/** The driver the config names. */
export function driverFor(c: LabConfig): NodeDriver {
    switch (c.driver) {
        case "local": return localDriver(c);
        case "vagrant": return vagrantDriver(c);
        case "existing": return existingDriver(c);
    }
}
