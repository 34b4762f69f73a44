#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: `kubeadm init` once on the master, then the grant that lets the API server's
# kubelet client call the kubelets' checkpoint API (RBAC, applied every time: idempotent); prints a
# new join command (a secret output).
# Inputs: CONFIG (kubeadm's config file), ADMIN_KUBECONFIG, RBAC (YAML). kubeadm's output goes to a log on the
# node; its last lines are the error when it fails. Libraries: cluster/programs/kubeadm-lib.sh.
# kubeadm prints the join command (a bootstrap token) into its log: root only, removed by reset.
log=/var/log/live-migration-lab-kubeadm-init.log
if [ ! -f "$ADMIN_KUBECONFIG" ]; then
  (umask 077 && : >"$log")
  mapfile -t preflight < <(cgroup_v1_preflight)
  kubeadm init --config "$CONFIG" "${preflight[@]}" >"$log" 2>&1 || { echo "kubeadm init failed; last lines of $log:" >&2; tail -n 25 "$log" >&2; exit 1; }
fi
printf '%s\n' "$RBAC" | kubectl --kubeconfig "$ADMIN_KUBECONFIG" apply -f - >/dev/null ||
  { echo "granting the kubelet client the checkpoint API (kubectl apply) failed" >&2; exit 1; }
join=$(kubeadm token create --print-join-command --kubeconfig "$ADMIN_KUBECONFIG")
printf '{"join":"%s"}\n' "$join"
