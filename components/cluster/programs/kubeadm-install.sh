#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: installs CRI-O, kubelet, kubeadm and kubectl from their official package
# repositories, CRIU from the distribution, and turns on what kubeadm's preflight needs. Idempotent.
# Inputs: K8S_REPO, CRIO_REPO (the repositories' deb URLs), KUBERNETES_VERSION. Prints the versions.
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq curl gpg ca-certificates iptables criu buildah >/dev/null
install -d -m 0755 /etc/apt/keyrings
curl -fsSL "${K8S_REPO}Release.key" | gpg --dearmor --yes -o /etc/apt/keyrings/kubernetes-apt-keyring.gpg
echo "deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] $K8S_REPO /" >/etc/apt/sources.list.d/kubernetes.list
curl -fsSL "${CRIO_REPO}Release.key" | gpg --dearmor --yes -o /etc/apt/keyrings/cri-o-apt-keyring.gpg
echo "deb [signed-by=/etc/apt/keyrings/cri-o-apt-keyring.gpg] $CRIO_REPO /" >/etc/apt/sources.list.d/cri-o.list
apt-get update -qq
apt-get install -y -qq cri-o "kubelet=${KUBERNETES_VERSION}-*" "kubeadm=${KUBERNETES_VERSION}-*" "kubectl=${KUBERNETES_VERSION}-*" >/dev/null
apt-mark hold kubelet kubeadm kubectl >/dev/null
modprobe br_netfilter overlay
printf 'br_netfilter\noverlay\n' >/etc/modules-load.d/live-migration-lab.conf
printf 'net.ipv4.ip_forward = 1\nnet.bridge.bridge-nf-call-iptables = 1\n' >/etc/sysctl.d/90-live-migration-lab.conf
sysctl -q --system
swapoff -a
systemctl enable --now crio >/dev/null
systemctl enable kubelet >/dev/null
printf '{"crio":"%s","kubelet":"%s","criu":"%s"}\n' "$(crio --version | sed -n 's/^Version: *//p')" "$(kubelet --version | cut -d' ' -f2)" "$(criu --version | sed -n 's/^Version: //p')"
