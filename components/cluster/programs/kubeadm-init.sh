#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: `kubeadm init` once on the master; prints the join command (a secret output).
# Input: CONFIG (kubeadm's config file).
if [ ! -f /etc/kubernetes/admin.conf ]; then
  kubeadm init --config "$CONFIG" >/var/log/live-migration-lab-kubeadm-init.log 2>&1 || { tail -n 20 /var/log/live-migration-lab-kubeadm-init.log >&2; exit 1; }
fi
join=$(kubeadm token create --print-join-command)
printf '{"join":"%s"}\n' "$join"
