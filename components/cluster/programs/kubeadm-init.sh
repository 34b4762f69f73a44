#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: `kubeadm init` once on the master, then the grant that lets the API server's
# kubelet client call the kubelets' checkpoint API (RBAC, applied every time: idempotent); prints a
# new join command (a secret output).
# Inputs: CONFIG (kubeadm's config file), ADMIN_KUBECONFIG, RBAC (YAML). kubeadm's output goes to a
# root-only log on the node (it names a bootstrap token; reset removes it); its last lines are the
# error when it fails (kubeadm_logged). Libraries: cluster/programs/kubeadm-lib.sh.
if [ ! -f "$ADMIN_KUBECONFIG" ]; then
  mapfile -t preflight < <(cgroup_v1_preflight)
  kubeadm_logged init /var/log/live-migration-lab-kubeadm-init.log init --config "$CONFIG" "${preflight[@]}" || exit 1
fi
printf '%s\n' "$RBAC" | kubectl --kubeconfig "$ADMIN_KUBECONFIG" apply -f - >/dev/null ||
  { echo "granting the kubelet client the checkpoint API (kubectl apply) failed" >&2; exit 1; }
join=$(kubeadm token create --print-join-command --kubeconfig "$ADMIN_KUBECONFIG")
printf '{"join":"%s"}\n' "$join"
