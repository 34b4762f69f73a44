#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: `kubeadm join` once on a worker. The join command (kubeadm-init.sh's output)
# arrives on stdin, never in the program's text or its logs; its endpoint, token and CA hash fill
# the placeholders of the node's join config into a temporary 0600 file, removed afterwards.
# Inputs: CONFIG (the join config with placeholders), ENDPOINT_AT, TOKEN_AT, HASH_AT (the placeholders).
# Libraries: cluster/programs/kubeadm-lib.sh.
if [ -f /etc/kubernetes/kubelet.conf ]; then echo '{"joined":"already"}'; exit 0; fi
read -r endpoint token hash < <(sed -n 's/.*"join":"kubeadm join \([^ ]*\) --token \([^ ]*\) .*--discovery-token-ca-cert-hash \([^ "]*\).*/\1 \2 \3/p') || true
[ -n "${hash:-}" ] || { echo "no join parameters on stdin" >&2; exit 1; }
filled=$(umask 077 && mktemp /etc/live-migration-lab/.join.XXXXXX)
trap 'rm -f "$filled"' EXIT
# The substitutions reach sed as a script on a pipe (printf is bash's own), never as arguments, which
# every local user could read in /proc/PID/cmdline.
sed -f <(printf 's|%s|%s|\n' "$ENDPOINT_AT" "$endpoint" "$TOKEN_AT" "$token" "$HASH_AT" "$hash") "$CONFIG" >"$filled"
# kubeadm prints the join command (a bootstrap token) into its log: root only, removed by reset.
mapfile -t preflight < <(cgroup_v1_preflight)
kubeadm_logged join /var/log/live-migration-lab-kubeadm-join.log join --config "$filled" "${preflight[@]}" || exit 1
echo '{"joined":"now"}'
