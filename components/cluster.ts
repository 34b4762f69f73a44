// Kubernetes on the lab nodes: kubeadm for VMs and existing hosts, and the local lab's own
// control plane for namespace nodes. Outputs a kubeconfig (secret) and a Kubernetes provider.
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import type { Driver } from "./config";
import { NodeHandle, nodeCommand } from "./command";
import { renderKubeadmInitScript, renderKubeadmJoinScript, renderKubeadmResetScript } from "./kubeadm";

/** Where kubeadm's config is written on the master (a managed file of the master's runtime). */
export const KUBEADM_CONFIG_PATH = "/etc/live-migration-lab/kubeadm.yaml";

/** The API server's client certificate for kubelets: what the checkpoint call presents. */
export const KUBELET_CLIENT_CERT = "/etc/kubernetes/pki/apiserver-kubelet-client.crt";
export const KUBELET_CLIENT_KEY = "/etc/kubernetes/pki/apiserver-kubelet-client.key";

export interface ClusterArgs {
    readonly driver: Driver;
    readonly nodes: readonly NodeHandle[];
    /** Per node name, what must be done on it before Kubernetes starts (its NodeRuntime). */
    readonly ready: Readonly<Record<string, pulumi.Resource[]>>;
}

/** The local lab's check: the control plane binaries are on the node before anything starts. */
export function localControlPlaneScript(role: "master" | "worker"): string {
    const bins = role === "master" ? ["etcd", "kube-apiserver", "kubelet", "crio", "kubectl"] : ["kubelet", "crio"];
    return [
        "#!/usr/bin/env bash",
        "# live-migration-lab: Kubernetes on a local namespace node",
        "set -euo pipefail",
        `for b in ${bins.join(" ")}; do command -v "$b" >/dev/null || { echo "$b is not installed on $(hostname): the local lab's Kubernetes (built from Go modules) is not part of this version; use driver vagrant or existing" >&2; exit 1; }; done`,
        `test -f /etc/kubernetes/admin.conf || { echo "no /etc/kubernetes/admin.conf on $(hostname)" >&2; exit 1; }`,
        `echo '{"kubernetes":"present"}'`,
        "",
    ].join("\n");
}

export class Cluster extends pulumi.ComponentResource {
    /** Admin kubeconfig (secret). */
    public readonly kubeconfig: pulumi.Output<string>;
    /** Provider for everything the program puts into the cluster. */
    public readonly provider: k8s.Provider;

    constructor(name: string, args: ClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("lab:cluster:Cluster", name, {}, opts);
        const master = args.nodes.find(n => n.role === "master");
        if (!master) throw new pulumi.ResourceError("the cluster needs a node with role master", this);
        const workers = args.nodes.filter(n => n.role === "worker");
        const allReady = Object.values(args.ready).flat();

        let joined: pulumi.Resource[];
        if (args.driver === "local") {
            joined = args.nodes.map(n => nodeCommand(`${name}-${n.name}-kubernetes`, {
                node: n,
                create: localControlPlaneScript(n.role),
                triggers: [{ lab: "node-check", node: n.name, check: "kubernetes" }],
            }, { parent: this, dependsOn: args.ready[n.name] }));
        } else {
            const init = nodeCommand(`${name}-init`, {
                node: master,
                create: renderKubeadmInitScript(KUBEADM_CONFIG_PATH),
                delete: renderKubeadmResetScript(),
                triggers: [{ lab: "node-check", node: master.name, check: "kubeadm-init" }],
                secretOutput: true, // the join token
                timeoutMinutes: 20,
            }, { parent: this, dependsOn: allReady });
            joined = [init, ...workers.map(w => nodeCommand(`${name}-${w.name}-join`, {
                node: w,
                create: renderKubeadmJoinScript(),
                delete: renderKubeadmResetScript(),
                stdin: init.stdout,
                triggers: [{ lab: "node-check", node: w.name, check: "kubeadm-join" }],
                timeoutMinutes: 20,
            }, { parent: this, dependsOn: [init, ...args.ready[w.name]] }))];
        }

        const admin = nodeCommand(`${name}-kubeconfig`, {
            node: master,
            create: "cat /etc/kubernetes/admin.conf",
            triggers: [{ lab: "node-check", node: master.name, check: "kubeconfig" }],
            secretOutput: true,
        }, { parent: this, dependsOn: joined });
        this.kubeconfig = pulumi.secret(admin.stdout);
        this.provider = new k8s.Provider(`${name}-k8s`, { kubeconfig: this.kubeconfig }, { parent: this });
        this.registerOutputs({ kubeconfig: this.kubeconfig });
    }
}
