#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: CRIU is usable on this node. `criu check` is the real test (`criu check
# --tcp-established` is not a check; TCP repair is part of the plain check): an old CRIU on a new
# kernel fails here, not mid-dump. CRIU also needs iptables or nft to lock TCP connections.
# It also reads the node's cgroup mode: the kubelet 1.35 and later refuses cgroup v1 by default
# (failCgroupV1, KEP-5573), and so fails here, before anything is installed or started.
# Input: KUBERNETES_MINOR (0 without Kubernetes). Prints criu (version), check and cgroup.
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then cgroup=v2; elif [ -d /sys/fs/cgroup/unified ]; then cgroup=hybrid; else cgroup=v1; fi
if [ "$KUBERNETES_MINOR" -ge 35 ] && [ "$cgroup" != v2 ]; then
  echo "$(hostname) runs cgroup $cgroup: the kubelet 1.${KUBERNETES_MINOR} refuses cgroup v1 unless failCgroupV1 is false (KEP-5573); use kubernetes.version 1.34.x on this host, or a host booted with cgroup v2 only (systemd.unified_cgroup_hierarchy=1)" >&2
  exit 1
fi
command -v criu >/dev/null || { echo "criu is not installed" >&2; exit 1; }
version=$(criu --version | sed -n 's/^Version: //p')
if ! out=$(criu check 2>&1); then echo "criu $version: criu check failed: $out" >&2; exit 1; fi
command -v iptables >/dev/null || command -v nft >/dev/null || { echo "criu needs iptables or nft to lock TCP connections" >&2; exit 1; }
printf '{"criu":"%s","check":"ok","cgroup":"%s"}\n' "$version" "$cgroup"
