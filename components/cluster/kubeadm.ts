// Renderers for real VMs and existing hosts (drivers `vagrant` and `existing`): the kubeadm +
// CRI-O bootstrap from their official package repositories. These cannot run on
// the lab machines (no KVM); they are rendered here and checked by the unit tests.
import { q } from "../node/program";

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
    const k8sRepo = `https://pkgs.k8s.io/core:/stable:/v${k8sMinor}/deb/`;
    const crioRepo = `https://download.opensuse.org/repositories/isv:/cri-o:/stable:/v${a.crioVersion}/deb/`;
    return `#!/usr/bin/env bash
# live-migration-lab: install CRI-O ${a.crioVersion}, Kubernetes ${a.kubernetesVersion} and CRIU
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq curl gpg ca-certificates iptables criu buildah >/dev/null
install -d -m 0755 /etc/apt/keyrings
curl -fsSL ${q(k8sRepo + "Release.key")} | gpg --dearmor --yes -o /etc/apt/keyrings/kubernetes-apt-keyring.gpg
echo ${q(`deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] ${k8sRepo} /`)} >/etc/apt/sources.list.d/kubernetes.list
curl -fsSL ${q(crioRepo + "Release.key")} | gpg --dearmor --yes -o /etc/apt/keyrings/cri-o-apt-keyring.gpg
echo ${q(`deb [signed-by=/etc/apt/keyrings/cri-o-apt-keyring.gpg] ${crioRepo} /`)} >/etc/apt/sources.list.d/cri-o.list
apt-get update -qq
apt-get install -y -qq cri-o ${q(`kubelet=${a.kubernetesVersion}-*`)} ${q(`kubeadm=${a.kubernetesVersion}-*`)} ${q(`kubectl=${a.kubernetesVersion}-*`)} >/dev/null
apt-mark hold kubelet kubeadm kubectl >/dev/null
modprobe br_netfilter overlay
printf 'br_netfilter\\noverlay\\n' >/etc/modules-load.d/live-migration-lab.conf
printf 'net.ipv4.ip_forward = 1\\nnet.bridge.bridge-nf-call-iptables = 1\\n' >/etc/sysctl.d/90-live-migration-lab.conf
sysctl -q --system
swapoff -a
systemctl enable --now crio >/dev/null
systemctl enable kubelet >/dev/null
printf '{"crio":"%s","kubelet":"%s","criu":"%s"}\\n' "$(crio --version | sed -n 's/^Version: *//p')" "$(kubelet --version | cut -d' ' -f2)" "$(criu --version | sed -n 's/^Version: //p')"
`;
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
  criSocket: unix:///var/run/crio/crio.sock
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
    return `#!/usr/bin/env bash
# live-migration-lab: kubeadm init
set -euo pipefail
if [ ! -f /etc/kubernetes/admin.conf ]; then
  kubeadm init --config ${q(configPath)} >/var/log/live-migration-lab-kubeadm-init.log 2>&1 || { tail -n 20 /var/log/live-migration-lab-kubeadm-init.log >&2; exit 1; }
fi
join=$(kubeadm token create --print-join-command)
printf '{"join":"%s"}\\n' "$join"
`;
}

/** `kubeadm join` once; the join command arrives on stdin, never in the script or its logs. */
export function renderKubeadmJoinScript(): string {
    return `#!/usr/bin/env bash
# live-migration-lab: kubeadm join
set -euo pipefail
if [ -f /etc/kubernetes/kubelet.conf ]; then echo '{"joined":"already"}'; exit 0; fi
read -r endpoint token hash < <(sed -n 's/.*"join":"kubeadm join \\([^ ]*\\) --token \\([^ ]*\\) .*--discovery-token-ca-cert-hash \\([^ "]*\\).*/\\1 \\2 \\3/p')
[ -n "\${hash:-}" ] || { echo "no join parameters on stdin" >&2; exit 1; }
kubeadm join "$endpoint" --token "$token" --discovery-token-ca-cert-hash "$hash" --cri-socket unix:///var/run/crio/crio.sock >/var/log/live-migration-lab-kubeadm-join.log 2>&1 || { tail -n 20 /var/log/live-migration-lab-kubeadm-join.log >&2; exit 1; }
echo '{"joined":"now"}'
`;
}

export function renderKubeadmResetScript(): string {
    return `#!/usr/bin/env bash
# live-migration-lab: kubeadm reset
set -euo pipefail
kubeadm reset -f >/dev/null 2>&1 || true
# CRI-O's own bridge CNI config in /etc/cni/net.d stays: it belongs to the cri-o package.
rm -rf /var/lib/kubelet/checkpoints
`;
}
