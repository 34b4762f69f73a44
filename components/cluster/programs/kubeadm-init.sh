#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: `kubeadm init` once on the master; prints a new join command (a secret output).
# Inputs: CONFIG (kubeadm's config file), ADMIN_KUBECONFIG. kubeadm's output goes to a log on the
# node; its last lines are the error when it fails. Libraries: cluster/programs/kubeadm-lib.sh.
# kubeadm prints the join command (a bootstrap token) into its log: root only, removed by reset.
log=/var/log/live-migration-lab-kubeadm-init.log
if [ ! -f "$ADMIN_KUBECONFIG" ]; then
  (umask 077 && : >"$log")
  mapfile -t preflight < <(cgroup_v1_preflight)
  kubeadm init --config "$CONFIG" "${preflight[@]}" >"$log" 2>&1 || { echo "kubeadm init failed; last lines of $log:" >&2; tail -n 25 "$log" >&2; exit 1; }
fi
join=$(kubeadm token create --print-join-command --kubeconfig "$ADMIN_KUBECONFIG")
printf '{"join":"%s"}\n' "$join"
