#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab (library) for kubeadm init and join.
# cgroup_v1_preflight: prints the flag that skips kubeadm's SystemVerification preflight where it
# must be: from 1.35 it fails on a cgroup v1 host (KEP-5573), where the lab's kubelet runs with
# failCgroupV1: false (its drop-in, by the node's cgroup) and the program's outputs warn of it.
# Nothing on a cgroup v2 host, or with a kubeadm before 1.35.
cgroup_v1_preflight() {
  local minor
  [ ! -f /sys/fs/cgroup/cgroup.controllers ] || return 0
  minor=$(kubeadm version -o short 2>/dev/null | sed -n 's/^v1\.\([0-9]*\)\..*/\1/p')
  if [ "${minor:-0}" -ge 35 ]; then echo --ignore-preflight-errors=SystemVerification; fi
}
