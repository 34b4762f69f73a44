// Renderers for real VMs and existing hosts (drivers `vagrant` and `existing`): the kubeadm +
// CRI-O bootstrap from their official package repositories. These cannot run on
// the lab machines (no KVM); they are rendered here and checked by the unit tests.
import { nodeProgram } from "../node/program";
import { CRIO_SOCKET } from "../node/crio";

/** Where kubeadm's config is written on the master (a managed file of the master's runtime). */
export const KUBEADM_CONFIG_PATH = "/etc/live-migration-lab/kubeadm.yaml";

export interface NodeInstallArgs {
    /** Kubernetes release, e.g. "1.34.1". */
    readonly kubernetesVersion: string;
    /** CRI-O minor, e.g. "1.34". */
    readonly crioVersion: string;
}

/**
 * Installs CRI-O, kubelet, kubeadm and kubectl from their official repositories, CRIU from the
 * distribution, and turns on what kubeadm's preflight needs. Idempotent.
 */
export function renderNodeInstallScript(a: NodeInstallArgs): string {
    const k8sMinor = a.kubernetesVersion.split(".").slice(0, 2).join(".");
    return nodeProgram("cluster/programs/kubeadm-install.sh", `install CRI-O ${a.crioVersion}, Kubernetes ${a.kubernetesVersion} and CRIU`, {
        K8S_REPO: `https://pkgs.k8s.io/core:/stable:/v${k8sMinor}/deb/`,
        CRIO_REPO: `https://download.opensuse.org/repositories/isv:/cri-o:/stable:/v${a.crioVersion}/deb/`,
        KUBERNETES_VERSION: a.kubernetesVersion,
    });
}

export interface KubeadmInitArgs {
    readonly kubernetesVersion: string;
    readonly advertiseAddress: string;
    readonly nodeName: string;
    readonly podSubnet: string;
    /** The KubeletConfiguration document (kubelet.ts) appended to kubeadm's config. */
    readonly kubeletConfigYaml: string;
}

/** kubeadm's config for `kubeadm init` (InitConfiguration + ClusterConfiguration + kubelet). */
export function renderKubeadmConfig(a: KubeadmInitArgs): string {
    return `apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
localAPIEndpoint:
  advertiseAddress: ${a.advertiseAddress}
nodeRegistration:
  name: ${a.nodeName}
  criSocket: ${CRIO_SOCKET}
  taints: []
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: v${a.kubernetesVersion}
networking:
  podSubnet: ${a.podSubnet}
---
${a.kubeletConfigYaml.replace(/^#.*\n/, "")}`;
}

/** `kubeadm init` once; prints the join parameters (read back as a secret output). */
export function renderKubeadmInitScript(configPath: string): string {
    return nodeProgram("cluster/programs/kubeadm-init.sh", "kubeadm init", { CONFIG: configPath });
}

/** `kubeadm join` once; the join command arrives on stdin, never in the script or its logs. */
export function renderKubeadmJoinScript(): string {
    return nodeProgram("cluster/programs/kubeadm-join.sh", "kubeadm join");
}

export function renderKubeadmResetScript(): string {
    return nodeProgram("cluster/programs/kubeadm-reset.sh", "kubeadm reset");
}
