#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: `kubeadm reset` on a node leaving the cluster. CRI-O's own bridge CNI config in
# /etc/cni/net.d stays: it belongs to the cri-o package.
kubeadm reset -f >/dev/null 2>&1 || true
rm -rf /var/lib/kubelet/checkpoints
