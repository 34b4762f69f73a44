// What the two drivers with real machines share (vagrant and existing): systemd hosts where
// packages are installed, the kubeadm config on the master, kubeadm init and join, and the
// official Flink image pulled from a registry.
import * as pulumi from "@pulumi/pulumi";
import type { LabConfig, NodeSpec } from "../config/config";
import { nodeCommand } from "../node/command";
import type { ManagedFile } from "../node/nodeRuntime";
import {
    KUBEADM_CONFIG_PATH, renderKubeadmConfig, renderKubeadmInitScript, renderKubeadmJoinScript, renderKubeadmResetScript,
    renderNodeInstallScript,
} from "../cluster/kubeadm";
import type { DeclareClusterArgs, NodeDriver } from "./index";
import { ADMIN_KUBECONFIG } from "../cluster/cluster";

/** The pod network kubeadm gives the cluster. */
const POD_SUBNET = "10.85.0.0/16";

export function kubeadmHosts(c: LabConfig, address: (index: number) => string):
    Pick<NodeDriver, "runtime" | "clusterFiles" | "install" | "flinkImage" | "declareCluster"> {
    return {
        runtime: { cgroupDriver: "systemd", kubeletSettings: () => undefined },
        clusterFiles(node: NodeSpec, index: number, kubelet: string): ManagedFile[] {
            if (node.role !== "master") return [];
            return [{
                role: "kubeadm-config",
                path: KUBEADM_CONFIG_PATH,
                content: renderKubeadmConfig({ kubernetesVersion: c.kubernetes.version, advertiseAddress: address(index), nodeName: node.name, podSubnet: POD_SUBNET, kubeletConfigYaml: kubelet }),
                mode: 0o600,
            }];
        },
        install: renderNodeInstallScript({ kubernetesVersion: c.kubernetes.version, crioVersion: c.crio.version }),
        flinkImage: "pull",
        declareCluster(parent: pulumi.ComponentResource, name: string, args: DeclareClusterArgs) {
            const master = args.nodes.find(n => n.role === "master")!;
            const workers = args.nodes.filter(n => n.role === "worker");
            const init = nodeCommand(`${name}-init`, {
                node: master,
                create: renderKubeadmInitScript(KUBEADM_CONFIG_PATH),
                delete: renderKubeadmResetScript(),
                triggers: [{ lab: "node-check", node: master.name, check: "kubeadm-init" }],
                secretOutput: true, // the join token
                timeoutMinutes: 20,
            }, { parent, dependsOn: Object.values(args.ready).flat() });
            const joined = [init, ...workers.map(w => nodeCommand(`${name}-${w.name}-join`, {
                node: w,
                create: renderKubeadmJoinScript(),
                delete: renderKubeadmResetScript(),
                stdin: init.stdout,
                triggers: [{ lab: "node-check", node: w.name, check: "kubeadm-join" }],
                timeoutMinutes: 20,
            }, { parent, dependsOn: [init, ...args.ready[w.name]] }))];
            const admin = nodeCommand(`${name}-kubeconfig`, {
                node: master,
                create: `cat ${ADMIN_KUBECONFIG}`,
                triggers: [{ lab: "node-check", node: master.name, check: "kubeconfig" }],
                secretOutput: true,
            }, { parent, dependsOn: joined });
            return { kubeconfig: pulumi.secret(admin.stdout) };
        },
    };
}
