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

# kubeadm_logged WHAT LOG ARGS...: kubeadm ARGS with its output in LOG (root only: init and join
# print a bootstrap token there); when it fails, says so with the log's last lines. A preflight that
# could not reach CRI-O within kubeadm's fixed 2 s (defaultTimeout in
# cmd/kubeadm/app/util/runtime/runtime.go; seen on a host under emulation, where a gRPC round trip
# can take longer) is tried again, up to 3 times: preflight changes nothing on the node.
kubeadm_logged() {
  local what=$1 log=$2 try; shift 2
  for try in 1 2 3; do
    (umask 077 && : >"$log")
    if kubeadm "$@" >"$log" 2>&1; then return 0; fi
    if [ "$try" -lt 3 ] && grep -q 'could not connect to the container runtime' "$log" && grep -q 'error execution phase preflight' "$log"; then
      sleep 5; continue
    fi
    break
  done
  echo "kubeadm $what failed; last lines of $log:" >&2
  tail -n 25 "$log" >&2
  return 1
}
