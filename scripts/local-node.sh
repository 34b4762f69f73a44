#!/usr/bin/env bash
# The `local` node driver: lab nodes as namespace sandboxes on this Linux host (needs root).
#
#   local-node.sh lab-up SUBNET STATE_DIR       lab network namespace + bridge, rootfs, SSH key
#   local-node.sh lab-down STATE_DIR            remove the lab network namespace (nodes must be down)
#   local-node.sh lab-netns STATE_DIR           print the lab network namespace's name
#   local-node.sh key STATE_DIR                 print the lab's SSH private key
#   local-node.sh up NAME ADDRESS SUBNET STATE_DIR [K8S_BIN_DIR [IMAGES_DIR]]
#   local-node.sh down NAME ADDRESS SUBNET STATE_DIR
#   local-node.sh cgroup-root NAME STATE_DIR   the node's cgroup root (its kubelet's cgroupRoot)
#
# With K8S_BIN_DIR (scripts/k8s-build.sh), the node gets Kubernetes and CRI-O: that directory
# read-only at /opt/lab/bin (linked from /usr/local/bin), containers-storage on a directory of the
# host's filesystem (overlayfs cannot be an overlay's upper layer), /dev/kmsg (the kubelet's OOM
# watcher), and a cgroup root of its own in every cgroup hierarchy, so two kubelets on one host
# do not share a kubepods tree. IMAGES_DIR (scripts/flink-build.sh --root), the inputs of the
# images the node builds itself (Flink's), is bound read-only at /opt/lab/images. The kubelet also
# insists on a few kernel settings (overcommit, panic on oops); the node sees them as it wants in
# files bound over /proc/sys, and the host's own values stay untouched.
#
# A node is an overlay over a shared Debian sid rootfs (CRIU >= 4.2 works on new kernels where
# bookworm's and trixie's do not), with its own network namespace (a veth into a bridge that lives
# in the lab's own network namespace), its own mount, pid, uts and ipc namespaces, and sshd.
# Nothing is attached to the host's network: lab traffic stays in the lab's namespaces, and
# whoever talks to the nodes (the Pulumi engine, the tests) runs inside the lab namespace.
# Names derive from STATE_DIR, so two labs with different state directories do not collide.
set -euo pipefail

SUITE=sid
MIRROR=${LAB_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# What a node needs: CRIU and the runtimes from one suite, iptables/nftables for CRIU's TCP lock,
# sshd and ssh (a migration target pulls the archive from its source), python3 for workloads the tests run in containers,
# python3-pycriu (CRIU's own reader of its stats images: a migration reports them); for Kubernetes: the CNI plugins,
# buildah (+ netavark, which it needs even for `from scratch`) for kubeadm's images, busybox-static
# as the content of small images, openssl, curl for the kubelet API; sudo for nodes driven as
# someone's hosts (driver existing, with a user that is not root).
PACKAGES=criu,python3-pycriu,runc,crun,conmon,iproute2,iptables,nftables,openssh-server,openssh-client,procps,ca-certificates,python3-minimal,containernetworking-plugins,buildah,netavark,busybox-static,openssl,curl,sudo
ROOTFS_CACHE=${LAB_ROOTFS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/live-migration-lab/rootfs}

fail() { echo "local-node.sh: $*" >&2; exit 1; }
lab_id() { printf '%s' "$1" | sha256sum | cut -c1-6; }
lab_netns() { echo "lml$(lab_id "$1")-lab"; }
# A name needs no root (the program asks for it under any user, to know where the lab's nodes answer).
if [ "${1:-}" = lab-netns ]; then lab_netns "${2:?state dir}"; exit 0; fi
[ "$(id -u)" = 0 ] || fail "the local driver needs root (namespaces, mounts, veth)"

cgroup_root() { echo "/lml$(lab_id "$2")-$1"; }
# cgroup v1 hierarchies (one directory each) or the v2 tree (cgroup.controllers at the top).
# `cgroup_dirs all` adds the v2 tree of a hybrid host (/sys/fs/cgroup/unified), where runc
# mirrors the v1 paths without controllers: nodes get nothing made there, but it is cleaned.
cgroup_dirs() {
  if [ -f /sys/fs/cgroup/cgroup.controllers ]; then echo /sys/fs/cgroup; return; fi
  local h
  for h in /sys/fs/cgroup/*/; do
    h=${h%/}
    if [ -f "$h/cgroup.procs" ] && { [ "$(basename "$h")" != unified ] || [ "${1:-}" = all ]; }; then echo "$h"; fi
  done
}
# The sysctls the kubelet sets when they differ (pkg/kubelet/cm: setupKernelTunables).
KUBELET_SYSCTLS="vm/overcommit_memory=1 vm/panic_on_oom=0 kernel/panic=10 kernel/panic_on_oops=1 kernel/keys/root_maxkeys=1000000 kernel/keys/root_maxbytes=25000000"
node_netns() { echo "lml$(lab_id "$2")-$1"; }
# Interface names have at most 15 characters.
veth_name() { echo "l$(lab_id "$2")$(printf '%s' "$1" | sha256sum | cut -c1-6)"; }
bridge_name() { echo "l$(lab_id "$1")br"; }
gateway_of() { local base=${1%/*}; echo "${base%.*}.1"; }

# The rootfs, built once per suite and package list with debootstrap and cached by their digest.
# `rootfs build` needs the host's network (lab-up runs there); `rootfs` only finds it, because
# node commands run inside the lab's network namespace, which has no route out.
rootfs() {
  local digest dir
  digest=$(printf '%s %s' "$SUITE" "$PACKAGES" | sha256sum | cut -c1-12)
  dir="$ROOTFS_CACHE/$SUITE-$digest"
  if [ ! -x "$dir/usr/sbin/criu" ] && [ "${1:-}" != build ]; then
    fail "no $SUITE rootfs in $dir: run 'local-node.sh lab-up' (scripts/lab.sh does) from the host's network namespace first"
  fi
  if [ ! -x "$dir/usr/sbin/criu" ]; then
    command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null ||
      fail "needs debootstrap (apt-get install debootstrap)"
    echo "local-node.sh: building the $SUITE rootfs into $dir (once)" >&2
    rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
    debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$dir.tmp" "$MIRROR" >"$dir.log" 2>&1 ||
      { tail -n 20 "$dir.log" >&2; fail "debootstrap of $SUITE failed (log: $dir.log)"; }
    rm -rf "$dir" && mv "$dir.tmp" "$dir"
  fi
  echo "$dir"
}

# The state directory is the lab's own: made here (STATE/.live-migration-lab records it), or found
# empty, or holding only what an earlier version made (its key). One that holds anything else is
# refused before it is touched: the lab makes it root-only, so adopting /srv or a project folder
# would lock its owner out. (validation refuses system directories before this runs.)
ensure_state_dir() {
  local dir=$1 marker=$1/.live-migration-lab others
  [ -f "$marker" ] && return 0
  if [ -e "$dir" ] && [ ! -d "$dir" ]; then
    fail "local.stateDir $dir exists and is not a directory; set local.stateDir to a path that does not exist yet (nothing was changed)"
  fi
  if [ -d "$dir" ]; then
    others=$(find "$dir" -mindepth 1 -maxdepth 1 ! -name ssh ! -name nodes ! -name kubeconfig -printf '%f\n' | head -n 3 | paste -sd ' ')
    if [ -n "$others" ] || { [ -e "$dir/ssh" ] && ! grep -qs ' live-migration-lab$' "$dir/ssh/id_ed25519.pub"; }; then
      fail "local.stateDir $dir already holds files the lab did not write (${others:-ssh}); the lab makes its state directory root-only, so it takes only one of its own: set local.stateDir to a path that does not exist yet (nothing was changed)"
    fi
  fi
  install -d -m 0700 "$dir"
  (umask 077 && echo "live-migration-lab state directory" >"$marker")
}

# The lab's SSH key, made once per state directory.
ensure_key() {
  ensure_state_dir "$1"
  install -d -m 0700 "$1" "$1/ssh"
  [ -f "$1/ssh/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C live-migration-lab -f "$1/ssh/id_ed25519"
}

lab_up() {
  local subnet=$1 state=$2 ns br
  ns=$(lab_netns "$state")
  br=$(bridge_name "$state")
  ensure_key "$state"
  rootfs build >/dev/null
  if ! ip netns list | grep -q "^$ns\b"; then
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip -n "$ns" link add "$br" type bridge
    ip -n "$ns" addr add "$(gateway_of "$subnet")/24" dev "$br"
    ip -n "$ns" link set "$br" up
  fi
  echo "$ns"
}

lab_down() {
  local state=$1 ns
  ns=$(lab_netns "$state")
  local left
  left=$(ip netns list | awk '{print $1}' | grep "^lml$(lab_id "$state")-" | grep -vx "$ns" || true)
  [ -z "$left" ] || fail "nodes are still up ($left); run pulumi destroy first"
  # Only the name goes: whoever still runs inside (the Pulumi engine calling this) keeps the
  # namespace alive until it exits, and the bridge goes with it.
  if ip netns list | grep -q "^$ns\b"; then ip netns del "$ns"; fi
}

# Runs inside the node's new mount+pid namespace as its PID 1: switch to the overlay root, give
# it fresh proc/sys/dev, and serve SSH. The host cgroup tree is bound in for runc and CRIU.
node_init() { cat "$(dirname "${BASH_SOURCE[0]}")/local-node-init.sh"; }

# make_cgroup_root NAME STATE: the node's own cgroup root in every hierarchy (cpusets filled in).
make_cgroup_root() {
  local root h
  root=$(cgroup_root "$1" "$2")
  for h in $(cgroup_dirs); do
    mkdir -p "$h$root"
    if [ -f "$h$root/cpuset.cpus" ] && [ -z "$(cat "$h$root/cpuset.cpus")" ]; then
      cat "$h/cpuset.cpus" >"$h$root/cpuset.cpus"
      cat "$h/cpuset.mems" >"$h$root/cpuset.mems"
    fi
  done
}

# remove_cgroup_root NAME STATE: once its processes are gone, the node's cgroups go, deepest first.
remove_cgroup_root() {
  local root h
  root=$(cgroup_root "$1" "$2")
  for h in $(cgroup_dirs all); do
    [ -d "$h$root" ] || continue
    for _ in $(seq 1 50); do
      find "$h$root" -depth -type d -exec rmdir {} + 2>/dev/null || true
      [ -d "$h$root" ] || break
      sleep 0.1
    done
    [ ! -d "$h$root" ] || echo "local-node.sh: could not remove cgroup $h$root" >&2
  done
}

node_up() {
  local name=$1 address=$2 subnet=$3 state=$4 bins=${5:-} images=${6:-}
  local ns lab br veth dir base instance init
  init=$(node_init) || fail "node $name: no init program (scripts/local-node-init.sh beside local-node.sh)"
  ns=$(node_netns "$name" "$state")
  lab=$(lab_up "$subnet" "$state")
  br=$(bridge_name "$state")
  veth=$(veth_name "$name" "$state")
  base=$(rootfs)
  dir="$state/nodes/$name"
  if ip netns list | grep -q "^$ns\b" && [ -n "$(ip netns pids "$ns")" ]; then
    echo "{\"name\":\"$name\",\"address\":\"$address\",\"state\":\"running\",\"instance\":\"$(cat "$dir/instance" 2>/dev/null)\"}"
    return
  fi
  mkdir -p "$dir/upper" "$dir/work" "$dir/merged"
  mountpoint -q "$dir/merged" || mount -t overlay overlay -o "lowerdir=$base,upperdir=$dir/upper,workdir=$dir/work" "$dir/merged"
  echo "$name" >"$dir/merged/etc/hostname"
  # The node knows its own name without DNS (the lab has none): sudo and kubeadm look it up.
  printf '127.0.0.1\tlocalhost\n%s\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n' "$address" "$name" >"$dir/merged/etc/hosts"
  if [ -n "$bins" ]; then
    [ -x "$bins/kubelet" ] || fail "no kubelet in $bins (scripts/k8s-build.sh makes it)"
    mkdir -p "$dir/storage"
    for b in "$bins"/*; do ln -sfn "/opt/lab/bin/${b##*/}" "$dir/merged/usr/local/bin/${b##*/}"; done
    make_cgroup_root "$name" "$state"
  fi
  install -d -m 0700 "$dir/merged/root/.ssh"
  install -m 0600 "$state/ssh/id_ed25519.pub" "$dir/merged/root/.ssh/authorized_keys"

  ip netns list | grep -q "^$ns\b" || ip netns add "$ns"
  ip -n "$ns" link set lo up
  if ! ip -n "$lab" link show "$veth" >/dev/null 2>&1; then
    ip -n "$lab" link add "$veth" type veth peer name eth0 netns "$ns"
    ip -n "$lab" link set "$veth" master "$br" up
    ip -n "$ns" addr add "$address/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" route add default via "$(gateway_of "$subnet")"
  fi
  # This start of the node, new each time: what runs on a node (its files, services, images) is
  # declared again when the node is (components/node/command.ts, node-instance).
  instance=$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n'); echo "$instance" >"$dir/instance"
  # nsenter, not `ip netns exec`: the latter remounts /sys and would hide the host cgroup tree.
  setsid nsenter --net="/run/netns/$ns" unshare --mount --pid --uts --ipc --fork --kill-child --propagation private \
    bash -c "$init" node-init "$dir/merged" "$name" "$bins" "${bins:+$dir/storage}" "${bins:+$KUBELET_SYSCTLS}" "${bins:+$images}" </dev/null >"$dir/init.log" 2>&1 &
  for _ in $(seq 1 100); do
    if ip netns exec "$lab" bash -c "exec 3<>/dev/tcp/$address/22" 2>/dev/null; then
      echo "{\"name\":\"$name\",\"address\":\"$address\",\"state\":\"started\",\"instance\":\"$instance\"}"
      return
    fi
    sleep 0.2
  done
  cat "$dir/init.log" >&2
  # Nothing of a node that never came up stays behind (its mounts, namespaces, cgroups).
  node_down "$name" "$address" "$subnet" "$state" >/dev/null 2>&1 || true
  fail "node $name: sshd did not answer on $address:22"
}

node_down() {
  local name=$1 state=$4 ns lab veth dir
  ns=$(node_netns "$name" "$state")
  lab=$(lab_netns "$state")
  veth=$(veth_name "$name" "$state")
  dir="$state/nodes/$name"
  # A node that is half gone (its namespace file left without a namespace) is taken down all the same.
  if ip netns list | grep -q "^$ns\b"; then
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
    for _ in $(seq 1 50); do [ -z "$(ip netns pids "$ns" 2>/dev/null)" ] && break; sleep 0.1; done
    ip netns del "$ns" 2>/dev/null || [ ! -e "/run/netns/$ns" ] || rm -f "/run/netns/$ns" || fail "cannot remove /run/netns/$ns"
  fi
  ip -n "$lab" link del "$veth" 2>/dev/null || true
  remove_cgroup_root "$name" "$state"
  if mountpoint -q "$dir/merged"; then umount "$dir/merged" || umount -l "$dir/merged"; fi
  rm -rf "$dir"
}

action=${1:?usage: local-node.sh lab-up|lab-down|lab-netns|key|up|down ...}
shift
case "$action" in
  lab-up) lab_up "${1:?subnet}" "${2:?state dir}" >/dev/null; lab_netns "$2" ;;
  lab-down) lab_down "${1:?state dir}" ;;
  key) ensure_key "${1:?state dir}" && cat "$1/ssh/id_ed25519" ;;
  up) node_up "${1:?name}" "${2:?address}" "${3:?subnet}" "${4:?state dir}" "${5:-}" "${6:-}" ;;
  cgroup-root) cgroup_root "${1:?name}" "${2:?state dir}" ;;
  down) node_down "${1:?name}" "${2:?address}" "${3:?subnet}" "${4:?state dir}" ;;
  *) fail "unknown action '$action' (lab-up, lab-down, lab-netns, key, up, down, cgroup-root)" ;;
esac
