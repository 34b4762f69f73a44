#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab (library): what the node's CRI-O knows and runs with, for its restore switch,
# and the node's cgroup version (node_cgroup: v2 where /sys/fs/cgroup is cgroup2, else v1).
# crio_restore_switch prints the key that switches restores for the crio binary on PATH, from what
# its `crio config` prints (CRI-O lists every key of its tables, a default one commented out):
# container_level_enabled ([crio.checkpoint_restore], CRI-O main from 2026-09 and the 1.30-1.34
# patch releases after it), enable_criu_support ([crio.runtime], before), none (no crio), or unknown.
# (CGROUP_FS: where the cgroup file system is mounted, /sys/fs/cgroup unless a test says otherwise.)
node_cgroup() { if [ -f "${CGROUP_FS:-/sys/fs/cgroup}/cgroup.controllers" ]; then echo v2; else echo v1; fi; }

crio_restore_switch() {
  local conf
  command -v crio >/dev/null || { echo none; return 0; }
  conf=$(crio config 2>/dev/null) || { echo unknown; return 0; }
  if grep -Eq '^[[:space:]]*(#[[:space:]]*)?container_level_enabled[[:space:]]*=' <<<"$conf"; then echo container_level_enabled
  elif grep -q '^[[:space:]]*\[crio\.runtime\]' <<<"$conf"; then echo enable_criu_support
  else echo unknown; fi
}

# crio_running_restore SOCKET: whether the RUNNING CRI-O restores containers, from the config it
# serves on its socket (GET /config, server/inspect.go: its effective config as TOML, with the level
# CRI-O fell back to when criu is missing). Prints "yes KEY VALUE" or "no KEY VALUE".
crio_running_restore() {
  local conf
  conf=$(curl -fsS --max-time 10 --unix-socket "$1" http://localhost/config 2>/dev/null) || { echo "no socket unreachable"; return 0; }
  awk '
    /^[[:space:]]*\[/ { table = $0; gsub(/[][[:space:]]/, "", table); next }
    table == "crio.checkpoint_restore" && $1 == "container_level_enabled" { gsub(/"/, "", $3); level = $3 }
    table == "crio.runtime" && $1 == "enable_criu_support" { criu = $3 }
    END {
      if (level != "") print (level == "checkpoint_restore" ? "yes" : "no"), "container_level_enabled", level
      else print (criu == "true" ? "yes" : "no"), "enable_criu_support", (criu == "" ? "unset" : criu)
    }' <<<"$conf"
}

# require_crio_restore ROLE SOCKET DROP_IN: fails, saying which setting turns restores off and
# where, unless the running CRI-O restores containers (a hop restores on its target, and a later
# hop may restore on its source). Before the checkpoint, so nothing is frozen in vain.
require_crio_restore() {
  local ok key value setting
  read -r ok key value <<<"$(crio_running_restore "$2")"
  [ "$ok" != yes ] || return 0
  case $key in
    socket) echo "CRI-O's running config could not be read from $2 on $(hostname) (the hop's ${1}); start CRI-O (systemctl start crio) and run pulumi up again" >&2; return 1 ;;
    container_level_enabled) setting="[crio.checkpoint_restore] container_level_enabled = \"$value\"" ;;
    *) setting="[crio.runtime] enable_criu_support = $value (CRI-O also turns it off when criu is not on its PATH)" ;;
  esac
  echo "CRI-O on $(hostname) (the hop's ${1}) does not restore containers: its running config has ${setting}. The program writes the restore switch from live-migration-lab:crio.checkpointRestore (\"checkpoint_restore\") to $3; a drop-in after it in /etc/crio/crio.conf.d or a crio command-line flag can turn it off again: remove that setting, restart CRI-O and run pulumi up again (nothing was checkpointed)" >&2
  return 1
}
