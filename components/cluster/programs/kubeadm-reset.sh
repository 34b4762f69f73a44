#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: `kubeadm reset` on a node leaving the cluster. kubeadm stops a systemd kubelet
# itself; a kubelet the lab supervises (nodes without systemd) is stopped first, or it would start
# the static pods again while kubeadm removes them. CRI-O's own bridge CNI config in /etc/cni/net.d
# stays: it belongs to the cri-o package. kubeadm empties /var/lib/kubelet: checkpoint archives
# there that are not of the lab's pods (OURS: a glob per workload pod, one per line) are moved aside
# and put back after; the lab's own (process memory) go with the reset.
# Inputs: CHECKPOINTS (the kubelet's checkpoint directory), OURS. Libraries: node/programs/service.sh,
# cluster/programs/kubeadm-lib.sh.
if service_running kubelet; then service_stop kubelet; fi
aside=$(mktemp -d "${CHECKPOINTS%/*/*}/.live-migration-lab-reset.XXXXXX")
theirs=(); while IFS= read -r glob; do [ -z "$glob" ] || theirs+=(! -name "$glob"); done <<<"$OURS"
find "$CHECKPOINTS" -maxdepth 1 -type f "${theirs[@]}" -exec mv -t "$aside" {} + 2>/dev/null || true
put_back() {
  if [ -n "$(ls -A "$aside")" ]; then install -d -m 0700 "$CHECKPOINTS" && mv -t "$CHECKPOINTS" "$aside"/*; fi
  rmdir "$aside"
}
trap put_back EXIT
kubeadm_logged reset /var/log/live-migration-lab-kubeadm-reset.log reset -f || exit 1
# kubeadm's init and join logs name a bootstrap token.
rm -f /var/log/live-migration-lab-kubeadm-init.log /var/log/live-migration-lab-kubeadm-join.log
echo '{"reset":"done"}'
