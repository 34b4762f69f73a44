#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: a library (nodeProgram libs) for a container's freezer cgroup, on cgroup v1
# (the freezer hierarchy) and v2 (cgroup.freeze in the unified tree). KIND is v1 or v2.

# freezer_of PID: "KIND CGROUP" of the process (v1 where the node has a freezer hierarchy and the
# process is in it, else v2).
freezer_of() {
  if [ -d /sys/fs/cgroup/freezer ] && grep -q ':freezer:' "/proc/$1/cgroup"; then
    echo "v1 /sys/fs/cgroup/freezer$(awk -F: '$2 == "freezer" { print $3 }' "/proc/$1/cgroup")"
  else
    echo "v2 /sys/fs/cgroup$(awk -F: '$1 == "0" { print $3 }' "/proc/$1/cgroup")"
  fi
}
# frozen, freeze, thaw KIND CGROUP
frozen() { if [ "$1" = v1 ]; then [ "$(cat "$2/freezer.state" 2>/dev/null)" = FROZEN ]; else grep -qx 'frozen 1' "$2/cgroup.events" 2>/dev/null; fi; }
freeze() { if [ "$1" = v1 ]; then echo FROZEN >"$2/freezer.state"; else echo 1 >"$2/cgroup.freeze"; fi; }
thaw() { if [ "$1" = v1 ]; then echo THAWED >"$2/freezer.state"; else echo 0 >"$2/cgroup.freeze"; fi; }
