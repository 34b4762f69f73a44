// Kubernetes on the lab nodes: kubeadm for VMs and existing hosts, and the local lab's own
// control plane for namespace nodes. Outputs a kubeconfig (secret) and a Kubernetes provider.
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import type { Driver } from "./config";
import { NodeHandle, nodeCommand } from "./command";
import { renderKubeadmInitScript, renderKubeadmJoinScript, renderKubeadmResetScript } from "./kubeadm";
import {
    apiServerService, crioService, etcdService, installCredentialsScript, kubeletService, LocalNode, localImagesScript,
    nodesReadyScript, pkiScript, PkiOutput, ServiceSpec, startServiceScript, stopServiceScript,
} from "./localCluster";

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
    /** The local driver: each node's name and static address, and the kubelet config's path. */
    readonly local?: { readonly nodes: readonly LocalNode[]; readonly kubeletConfigPath: string };
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

        if (args.driver === "local") {
            if (!args.local) throw new pulumi.ResourceError("the local driver's cluster needs its nodes' addresses", this);
            this.kubeconfig = this.localControlPlane(name, master, args.nodes, args.ready, args.local);
        } else {
            const init = nodeCommand(`${name}-init`, {
                node: master,
                create: renderKubeadmInitScript(KUBEADM_CONFIG_PATH),
                delete: renderKubeadmResetScript(),
                triggers: [{ lab: "node-check", node: master.name, check: "kubeadm-init" }],
                secretOutput: true, // the join token
                timeoutMinutes: 20,
            }, { parent: this, dependsOn: allReady });
            const joined = [init, ...workers.map(w => nodeCommand(`${name}-${w.name}-join`, {
                node: w,
                create: renderKubeadmJoinScript(),
                delete: renderKubeadmResetScript(),
                stdin: init.stdout,
                triggers: [{ lab: "node-check", node: w.name, check: "kubeadm-join" }],
                timeoutMinutes: 20,
            }, { parent: this, dependsOn: [init, ...args.ready[w.name]] }))];
            const admin = nodeCommand(`${name}-kubeconfig`, {
                node: master,
                create: "cat /etc/kubernetes/admin.conf",
                triggers: [{ lab: "node-check", node: master.name, check: "kubeconfig" }],
                secretOutput: true,
            }, { parent: this, dependsOn: joined });
            this.kubeconfig = pulumi.secret(admin.stdout);
        }
        this.provider = new k8s.Provider(`${name}-k8s`, { kubeconfig: this.kubeconfig }, { parent: this });
        this.registerOutputs({ kubeconfig: this.kubeconfig });
    }

    /**
     * The local lab's control plane, in order: CRI-O and the local images on every node; etcd,
     * certificates and kube-apiserver on the master; each node's kubelet credentials; kubelets;
     * then a wait until every node is Ready. Returns the admin kubeconfig (secret).
     */
    private localControlPlane(name: string, master: NodeHandle, nodes: readonly NodeHandle[],
        ready: ClusterArgs["ready"], local: NonNullable<ClusterArgs["local"]>): pulumi.Output<string> {
        const spec = (n: NodeHandle) => local.nodes.find(l => l.name === n.name)!;
        const service = (node: NodeHandle, s: ServiceSpec, dependsOn: pulumi.Resource[]) => nodeCommand(`${name}-${node.name}-${s.name}`, {
            node,
            create: startServiceScript(s),
            delete: stopServiceScript(s.name),
            triggers: [{ lab: "node-check", node: node.name, check: `service-${s.name}` }],
            timeoutMinutes: 5,
        }, { parent: this, dependsOn });

        const crio = new Map(nodes.map(n => [n.name, service(n, crioService(), ready[n.name])]));
        const images = new Map(nodes.map(n => [n.name, nodeCommand(`${name}-${n.name}-images`, {
            node: n,
            create: localImagesScript(),
            triggers: [{ lab: "node-check", node: n.name, check: "local-images" }],
        }, { parent: this, dependsOn: [crio.get(n.name)!] })]));

        const etcd = service(master, etcdService(), ready[master.name]);
        const pki = nodeCommand(`${name}-pki`, {
            node: master,
            create: pkiScript(spec(master), local.nodes),
            triggers: [{ lab: "node-check", node: master.name, check: "pki" }],
            secretOutput: true,
        }, { parent: this, dependsOn: ready[master.name] });
        const apiserver = service(master, apiServerService(spec(master)), [etcd, pki]);
        const issued = pki.stdout.apply(s => JSON.parse(s.trim().split("\n").pop()!) as PkiOutput);

        const kubelets = nodes.map(n => {
            const credentials = n === master ? pki : nodeCommand(`${name}-${n.name}-credentials`, {
                node: n,
                create: installCredentialsScript(),
                stdin: pulumi.secret(issued.apply(o => JSON.stringify(o.nodes?.[n.name] ?? { files: {} }))),
                triggers: [{ lab: "node-check", node: n.name, check: "kubelet-credentials" }],
            }, { parent: this, dependsOn: ready[n.name] });
            return service(n, kubeletService(spec(n), local.kubeletConfigPath), [crio.get(n.name)!, images.get(n.name)!, apiserver, credentials]);
        });
        const nodesReady = nodeCommand(`${name}-nodes-ready`, {
            node: master,
            create: nodesReadyScript(nodes.map(n => n.name), 180),
            triggers: [{ lab: "node-check", node: master.name, check: "nodes-ready" }],
        }, { parent: this, dependsOn: kubelets });
        // The provider's first use waits for the nodes, not only for the kubeconfig.
        return pulumi.secret(pulumi.all([issued, nodesReady.stdout]).apply(([o]) => o.admin));
    }
}
