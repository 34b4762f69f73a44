// The one interface behind which the node drivers differ (local.ts, vagrant.ts, existing.ts), after
// kind's providers (pkg/cluster/internal/providers/provider.go). index.ts picks one from the config.
import type * as pulumi from "@pulumi/pulumi";
import type { LabConfig, NodeSpec } from "../config/types";
import type { NodeHandle } from "../node/command";
import type { ManagedFile } from "../node/nodeRuntime";
import type { KubeadmFacts } from "../cluster/kubeadm";
import type { ClusterPlan } from "../cluster/cluster";

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

export interface DeclareNodesArgs {
    /** The sshPrivateKey config value as a secret output (undefined when not set). */
    readonly sshPrivateKey?: pulumi.Output<string>;
    /** Working directory for files the driver keeps on the machine running Pulumi. */
    readonly workDir: string;
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
    /**
     * Why the engine cannot drive this lab from where it runs, in one line saying what to run
     * instead, or undefined when it can. `dryRun`: a preview; `anyUp`: some node exists.
     */
    placementProblem?(dryRun: boolean, anyUp: boolean): string | undefined;
    /** Declares the nodes under `parent` and hands every one to the rest of the program. */
    declareNodes(parent: pulumi.ComponentResource, name: string, args: DeclareNodesArgs): NodeHandle[];
    /** How its nodes run CRI-O and the kubelet, which the cluster (cluster.ts) bootstraps Kubernetes on. */
    readonly cluster: ClusterPlan;
}
