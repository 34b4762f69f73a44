#!/usr/bin/env bash
# live-migration-lab: the kubelet of a kubeadm node without systemd, run the way kubeadm's systemd
# drop-in (10-kubeadm.conf) runs it: once kubeadm init or join has written the kubelet's config and
# flags, with the bootstrap kubeconfig, and again a second after it exits (systemd's Restart=always).
# A supervised service (service.sh): TERM stops the kubelet, then this loop.
config=/var/lib/kubelet/config.yaml
flags=/var/lib/kubelet/kubeadm-flags.env
pid=
trap 'if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null; wait "$pid"; fi; exit 0' TERM INT
while :; do
  if [ -f "$config" ] && [ -f "$flags" ]; then
    KUBELET_KUBEADM_ARGS=
    # shellcheck disable=SC1090 # kubeadm's file
    . "$flags"
    # shellcheck disable=SC2086 # kubeadm's flags, split as systemd splits them
    kubelet --bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf \
      --config="$config" $KUBELET_KUBEADM_ARGS &
    pid=$!
    wait "$pid" || true
    pid=
  fi
  sleep 1
done
