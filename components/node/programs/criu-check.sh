#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: CRIU is usable on this node. `criu check` is the real test (`criu check
# --tcp-established` is not a check; TCP repair is part of the plain check): an old CRIU on a new
# kernel fails here, not mid-dump. CRIU also needs iptables or nft to lock TCP connections.
# It also reads the node's cgroup mode (v2, hybrid or v1), which the program reports: from 1.35 the
# kubelet runs on cgroup v1 only with failCgroupV1: false, which the node's kubelet drop-in then has
# (the program warns of it in its outputs).
# Prints criu (version), check, cgroup, the kernel's release and PID 1's name (init: systemd or not),
# which `scripts/lab.sh status` shows.
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then cgroup=v2; elif [ -d /sys/fs/cgroup/unified ]; then cgroup=hybrid; else cgroup=v1; fi
command -v criu >/dev/null || { echo "criu is not installed" >&2; exit 1; }
version=$(criu --version | sed -n 's/^Version: //p')
if ! out=$(criu check 2>&1); then echo "criu $version: criu check failed: $out" >&2; exit 1; fi
command -v iptables >/dev/null || command -v nft >/dev/null || { echo "criu needs iptables or nft to lock TCP connections" >&2; exit 1; }
init=$(tr -cd 'A-Za-z0-9._-' </proc/1/comm)
printf '{"criu":"%s","check":"ok","cgroup":"%s","kernel":"%s","init":"%s"}\n' "$version" "$cgroup" "$(uname -r | tr -cd 'A-Za-z0-9._+-')" "$init"
