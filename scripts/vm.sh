#!/usr/bin/env bash
# A host of the kind users run the lab on: Debian with systemd as PID 1 and cgroup v2 only, as a
# QEMU VM under software emulation (TCG: /dev/kvm on the lab machines is PVM, which cannot boot a
# stock kernel; ../shared/LAB-NOTES.md "A cgroup v2 host here"). Made only from Debian's packages.
#
#   vm.sh image                 build the VM image once (cached by IMAGE_VERSION, the suite and the
#                               packages); print its directory
#   vm.sh up NAME PORT [BINS]   boot a VM from the image (a copy-on-write overlay of its own) with
#                               SSH on 127.0.0.1:PORT only (user-mode networking: no traffic leaves
#                               this machine); BINS, a directory on this host, is mounted read-only
#                               at /opt/lab/bin (9p), e.g. scripts/k8s-build.sh's Kubernetes and
#                               CRI-O; waits for sshd; prints one JSON line: name, port, key, dir
#   vm.sh ssh NAME [COMMAND]    run COMMAND (or a shell) in the VM as root
#   vm.sh down NAME             power it off and remove its overlay and state
#
# The image: debootstrap (minbase) of $LAB_VM_SUITE (default sid, the suite of the lab's nodes: CRIU
# 4.2, runc, conmon), Debian's kernel and its initramfs, systemd-networkd (DHCP on the user-mode
# NIC), sshd with the VM key (made with the image, root-only) and an ext4 root. VMs live under
# $LAB_VM_STATE (default /run/live-migration-lab-vm): an overlay, the console log, QEMU's pid.
set -euo pipefail

CACHE=${LAB_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/live-migration-lab/vm}
STATE=${LAB_VM_STATE:-/run/live-migration-lab-vm}
SUITE=${LAB_VM_SUITE:-sid}
MIRROR=${LAB_DEBIAN_MIRROR:-http://deb.debian.org/debian}
PACKAGES=systemd-sysv,udev,kmod,procps,openssh-server,iproute2,iptables,nftables,criu,runc,conmon,crun,ca-certificates,python3-minimal,curl,e2fsprogs,containernetworking-plugins,buildah,netavark,sudo
fail() { echo "vm.sh: $*" >&2; exit 1; }

# Bumped whenever build_image makes a different image; the cache key is it, the suite and the packages.
IMAGE_VERSION=1
image_dir() { echo "$CACHE/$SUITE-$(printf '%s %s %s' "$IMAGE_VERSION" "$SUITE" "$PACKAGES" | sha256sum | cut -c1-12)"; }

build_image() {
  local dir root
  dir=$(image_dir)
  if [ -f "$dir/root.img" ] && [ -f "$dir/vmlinuz" ] && [ -f "$dir/initrd.img" ]; then echo "$dir"; return; fi
  [ "$(id -u)" = 0 ] || fail "building the VM image needs root (debootstrap)"
  local tools=(debootstrap e2fsprogs qemu-system-x86 qemu-utils)
  for t in debootstrap mkfs.ext4 qemu-system-x86_64 qemu-img; do
    command -v "$t" >/dev/null && continue
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${tools[@]}" >/dev/null ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${tools[@]}" >/dev/null; } ||
      fail "needs $t (apt-get install ${tools[*]})"
  done
  echo "vm.sh: building the $SUITE VM image into $dir (once, several minutes)" >&2
  rm -rf "$dir.tmp" && mkdir -p "$dir.tmp" && chmod 0700 "$dir.tmp"
  root="$dir.tmp/root"
  debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$root" "$MIRROR" >"$dir.tmp/debootstrap.log" 2>&1 ||
    { tail -n 20 "$dir.tmp/debootstrap.log" >&2; fail "debootstrap of $SUITE failed (log: $dir.tmp/debootstrap.log)"; }
  # The kernel with apt in the new root (debootstrap's resolver picks two initramfs tools at once),
  # then an initramfs that finds the root on virtio: Debian's kernel has virtio_blk and ext4 as modules.
  mount -t proc proc "$root/proc" && mount --rbind /sys "$root/sys" && mount --rbind /dev "$root/dev"
  trap 'umount -R "$root/dev" "$root/sys" "$root/proc" 2>/dev/null || umount -lR "$root/dev" "$root/sys" "$root/proc" 2>/dev/null || true' EXIT
  mkdir -p "$root/etc/initramfs-tools"
  printf '%s\n' virtio_pci virtio_blk virtio_net ext4 9p 9pnet_virtio >>"$root/etc/initramfs-tools/modules"
  chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends linux-image-amd64 initramfs-tools >"$dir.tmp/kernel.log" 2>&1 ||
    { tail -n 20 "$dir.tmp/kernel.log" >&2; fail "installing Debian's kernel in the VM image failed (log: $dir.tmp/kernel.log)"; }
  umount -R "$root/dev" "$root/sys" "$root/proc"
  trap - EXIT
  cp "$(readlink -f "$root/vmlinuz")" "$dir.tmp/vmlinuz"
  cp "$(readlink -f "$root/initrd.img")" "$dir.tmp/initrd.img"
  echo vm >"$root/etc/hostname"
  printf '127.0.0.1 localhost\n127.0.1.1 vm\n' >"$root/etc/hosts"
  printf '/dev/vda / ext4 rw,relatime 0 1\nlabbin /opt/lab/bin 9p trans=virtio,ro,nofail,x-systemd.device-timeout=5s 0 0\n' >"$root/etc/fstab"
  mkdir -p "$root/opt/lab/bin" "$root/etc/systemd/network" "$root/root/.ssh"
  printf '[Match]\nName=en* eth*\n\n[Network]\nDHCP=ipv4\n' >"$root/etc/systemd/network/10-user.network"
  ln -sf /lib/systemd/system/systemd-networkd.service "$root/etc/systemd/system/multi-user.target.wants/systemd-networkd.service"
  # What the lab's binaries need on PATH, as /usr/local/bin holds them on the local lab's nodes.
  printf 'PATH="/opt/lab/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"\n' >"$root/etc/environment"
  ssh-keygen -q -t ed25519 -N '' -C live-migration-lab-vm -f "$dir.tmp/id_ed25519"
  install -m 0600 "$dir.tmp/id_ed25519.pub" "$root/root/.ssh/authorized_keys"
  rm -f "$root"/etc/ssh/ssh_host_*
  chroot "$root" ssh-keygen -A >/dev/null
  cut -d' ' -f1,2 "$root/etc/ssh/ssh_host_ed25519_key.pub" >"$dir.tmp/host-key.pub"
  printf 'PermitRootLogin prohibit-password\nUseDNS no\n' >"$root/etc/ssh/sshd_config.d/lab.conf"
  rm -rf "${root:?}"/var/cache/apt/archives/*.deb "${root:?}"/var/lib/apt/lists/*
  truncate -s 8G "$dir.tmp/root.img"
  mkfs.ext4 -q -d "$root" -L root "$dir.tmp/root.img"
  rm -rf "$root"
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
  echo "$dir"
}

vm_dir() { echo "$STATE/$1"; }

up() {
  local name=$1 port=$2 bins=${3:-} img dir virtfs=()
  [[ $name =~ ^[a-z0-9][a-z0-9-]*$ ]] || fail "not a VM name: $name"
  [[ $port =~ ^[0-9]+$ ]] || fail "not a port: $port"
  img=$(build_image)
  { command -v qemu-img && command -v qemu-system-x86_64; } >/dev/null || fail "needs QEMU (apt-get install qemu-system-x86 qemu-utils)"
  dir=$(vm_dir "$name")
  if [ -f "$dir/qemu.pid" ] && kill -0 "$(cat "$dir/qemu.pid")" 2>/dev/null; then fail "VM $name runs already (vm.sh down $name)"; fi
  rm -rf "$dir" && mkdir -p "$dir" && chmod 0700 "$dir"
  qemu-img create -q -f qcow2 -F raw -b "$img/root.img" "$dir/overlay.qcow2"
  if [ -n "$bins" ]; then virtfs=(-virtfs "local,path=$(cd "$bins" && pwd),mount_tag=labbin,security_model=none,readonly=on"); fi
  # thread=single: a JVM crashed in 2 of 10 runs under multi-threaded TCG (LAB-NOTES).
  qemu-system-x86_64 -name "lab-$name" -machine q35 -accel "tcg,thread=${LAB_VM_TCG_THREAD:-multi}" -cpu max \
    -smp "${LAB_VM_CPUS:-2}" -m "${LAB_VM_MEMORY_MB:-2048}" \
    -kernel "$img/vmlinuz" -initrd "$img/initrd.img" \
    -append "root=/dev/vda rw console=ttyS0 systemd.unified_cgroup_hierarchy=1 quiet" \
    -drive "file=$dir/overlay.qcow2,if=virtio,format=qcow2" \
    -nic "user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:$port-:22" \
    "${virtfs[@]}" -display none -serial "file:$dir/console.log" -monitor none \
    -daemonize -pidfile "$dir/qemu.pid"
  echo "$port" >"$dir/port"
  local deadline=$(( $(date +%s) + ${LAB_VM_BOOT_SECONDS:-300} ))
  until ssh_vm "$name" true 2>/dev/null; do
    [ "$(date +%s)" -lt "$deadline" ] || { tail -n 30 "$dir/console.log" >&2; fail "VM $name: no sshd on 127.0.0.1:$port after ${LAB_VM_BOOT_SECONDS:-300}s (console: $dir/console.log)"; }
    kill -0 "$(cat "$dir/qemu.pid")" 2>/dev/null || { tail -n 30 "$dir/console.log" >&2; fail "VM $name: QEMU exited"; }
    sleep 2
  done
  printf '{"name":"%s","port":%s,"key":"%s","dir":"%s"}\n' "$name" "$port" "$img/id_ed25519" "$dir"
}

# The VM's host key is the one made with the image: pinned, never learned on first use.
ssh_vm() {
  local name=$1 dir img; shift
  dir=$(vm_dir "$name"); img=$(image_dir)
  [ -f "$dir/known_hosts" ] || printf '[127.0.0.1]:%s %s\n' "$(cat "$dir/port")" "$(cat "$img/host-key.pub" 2>/dev/null)" >"$dir/known_hosts"
  ssh -i "$img/id_ed25519" -p "$(cat "$dir/port")" -o BatchMode=yes -o ConnectTimeout=5 -o LogLevel=ERROR \
    -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$dir/known_hosts" root@127.0.0.1 "$@"
}

down() {
  local dir pid
  dir=$(vm_dir "$1")
  [ -d "$dir" ] || return 0
  if [ -f "$dir/qemu.pid" ] && pid=$(cat "$dir/qemu.pid") && kill -0 "$pid" 2>/dev/null; then
    ssh_vm "$1" systemctl poweroff >/dev/null 2>&1 || true
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    kill "$pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}

action=${1:?usage: vm.sh image | up NAME PORT [BINS] | ssh NAME [COMMAND] | down NAME}
shift
case "$action" in
  image) build_image ;;
  up) up "${1:?name}" "${2:?port}" "${3:-}" ;;
  ssh) name=${1:?name}; shift; ssh_vm "$name" "$@" ;;
  down) down "${1:?name}" ;;
  *) fail "unknown action '$action' (image, up, ssh, down)" ;;
esac
