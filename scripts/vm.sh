#!/usr/bin/env bash
# A host of the kind users run the lab on: Debian with systemd as PID 1 and cgroup v2 only, as a
# QEMU VM under software emulation (TCG: /dev/kvm on the lab machines is PVM, which cannot boot a
# stock kernel; ../shared/LAB-NOTES.md "A cgroup v2 host here"). Made only from Debian's packages.
#
#   vm.sh image                 build the VM image once (cached by IMAGE_VERSION, the suite and the
#                               packages); print its directory
#   vm.sh up NAME PORT [BINS [IMAGES]]
#                               boot a VM from the image (a copy-on-write overlay of its own) with
#                               SSH on 127.0.0.1:PORT only (user-mode networking: no traffic leaves
#                               this machine); BINS, a directory on this host, is mounted read-only
#                               at /opt/lab/bin (9p), e.g. scripts/k8s-build.sh's Kubernetes and
#                               CRI-O; IMAGES at /opt/lab/images (the inputs of images built on the
#                               nodes, as on the local lab's); waits for sshd; prints one JSON line:
#                               name, port, key, dir, address
#   vm.sh net-up NETNS CIDR     a network of VMs: the network namespace NETNS with a bridge holding
#                               CIDR (e.g. 10.231.94.1/24). With LAB_VM_NET=NETNS:ADDRESS/BITS, `up`
#                               runs QEMU in NETNS and gives the VM a second NIC on that bridge with
#                               that address (its node address: VMs reach each other there, and
#                               whoever runs in NETNS reaches them); SSH on 127.0.0.1:PORT is then
#                               NETNS's loopback. Nothing of it touches the host's network.
#   vm.sh net-down NETNS        remove that namespace (its VMs must be down)
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
PACKAGES=systemd-sysv,udev,kmod,procps,openssh-server,openssh-client,python3-pycriu,openssl,iproute2,iptables,nftables,criu,runc,conmon,crun,ca-certificates,python3-minimal,curl,e2fsprogs,containernetworking-plugins,buildah,netavark,sudo
fail() { echo "vm.sh: $*" >&2; exit 1; }

# Bumped whenever build_image makes a different image; the cache key is it, the suite and the packages.
IMAGE_VERSION=2
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

# in_net NAME COMMAND...: COMMAND in the VM's network namespace, if it has one.
in_net() {
  local dir; dir=$(vm_dir "$1"); shift
  if [ -s "$dir/netns" ]; then nsenter --net="/run/netns/$(cat "$dir/netns")" -- "$@"; else "$@"; fi
}

net_up() {
  local netns=$1 cidr=$2
  [[ $netns =~ ^[a-z0-9][a-z0-9-]*$ ]] || fail "not a namespace name: $netns"
  [[ $cidr =~ ^[0-9.]+/[0-9]+$ ]] || fail "not an address/bits: $cidr"
  [ -e "/run/netns/$netns" ] || ip netns add "$netns"
  ip -n "$netns" link set lo up
  ip -n "$netns" link show lab0 >/dev/null 2>&1 || ip -n "$netns" link add lab0 type bridge
  ip -n "$netns" addr replace "$cidr" dev lab0
  ip -n "$netns" link set lab0 up
}

net_down() {
  [ -e "/run/netns/$1" ] || return 0
  ip netns pids "$1" | grep -q . && fail "namespace $1 still has processes (vm.sh down its VMs first)"
  ip netns del "$1"
}

up() {
  local name=$1 port=$2 bins=${3:-} images=${4:-} img dir virtfs=() net=() netns='' address='' tap='' mac=''
  [[ $name =~ ^[a-z0-9][a-z0-9-]*$ ]] || fail "not a VM name: $name"
  [[ $port =~ ^[0-9]+$ ]] || fail "not a port: $port"
  if [ -n "${LAB_VM_NET:-}" ]; then
    netns=${LAB_VM_NET%%:*}; address=${LAB_VM_NET#*:}
    [[ $address =~ ^([0-9]+)\.([0-9]+)\.([0-9]+)\.([0-9]+)/[0-9]+$ ]] || fail "LAB_VM_NET: not NETNS:ADDRESS/BITS: $LAB_VM_NET"
    [ -e "/run/netns/$netns" ] || fail "no network namespace $netns (vm.sh net-up $netns CIDR)"
    mac=$(printf '52:54:00:%02x:%02x:%02x' "${BASH_REMATCH[2]}" "${BASH_REMATCH[3]}" "${BASH_REMATCH[4]}")
    tap="t-${name:0:13}"
  fi
  img=$(build_image)
  { command -v qemu-img && command -v qemu-system-x86_64; } >/dev/null || fail "needs QEMU (apt-get install qemu-system-x86 qemu-utils)"
  dir=$(vm_dir "$name")
  if [ -f "$dir/qemu.pid" ] && kill -0 "$(cat "$dir/qemu.pid")" 2>/dev/null; then fail "VM $name runs already (vm.sh down $name)"; fi
  rm -rf "$dir" && mkdir -p "$dir" && chmod 0700 "$dir"
  echo "$port" >"$dir/port"
  if [ -n "$bins" ]; then virtfs=(-virtfs "local,path=$(cd "$bins" && pwd),mount_tag=labbin,security_model=none,readonly=on"); fi
  if [ -n "$images" ]; then virtfs+=(-virtfs "local,path=$(cd "$images" && pwd),mount_tag=labimages,security_model=none,readonly=on"); fi
  if [ -n "$netns" ]; then
    echo "$netns" >"$dir/netns"; echo "${address%/*}" >"$dir/address"
    ip -n "$netns" link del "$tap" 2>/dev/null || true
    ip -n "$netns" tuntap add dev "$tap" mode tap
    ip -n "$netns" link set "$tap" master lab0 up
    net=(-netdev "tap,id=lab,ifname=$tap,script=no,downscript=no" -device "virtio-net-pci,netdev=lab,mac=$mac")
  fi
  local attempt why
  for attempt in 1 2; do
    rm -f "$dir/overlay.qcow2" "$dir/console.log" "$dir/qemu.pid"
    qemu-img create -q -f qcow2 -F raw -b "$img/root.img" "$dir/overlay.qcow2"
    # thread=single: a JVM crashed in 2 of 10 runs under multi-threaded TCG (LAB-NOTES). A kernel
    # panic reboots (panic=-1), which ends QEMU (-no-reboot). damon_stat.enabled=N: sid's kernel
    # starts DAMON_STAT at boot (CONFIG_DAMON_STAT_ENABLED_DEFAULT=y), a kdamond sampling all memory
    # every few ms: seen busy on a master VM at a load of 20 under emulation.
    in_net "$name" qemu-system-x86_64 -name "lab-$name" -machine q35 -accel "tcg,thread=${LAB_VM_TCG_THREAD:-multi}" -cpu max \
      -smp "${LAB_VM_CPUS:-2}" -m "${LAB_VM_MEMORY_MB:-2048}" \
      -kernel "$img/vmlinuz" -initrd "$img/initrd.img" \
      -append "root=/dev/vda rw console=ttyS0 systemd.unified_cgroup_hierarchy=1 damon_stat.enabled=N quiet panic=-1" -no-reboot \
      -drive "file=$dir/overlay.qcow2,if=virtio,format=qcow2" \
      -nic "user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:$port-:22" \
      "${virtfs[@]}" "${net[@]}" -display none -serial "file:$dir/console.log" -monitor none \
      -daemonize -pidfile "$dir/qemu.pid"
    local deadline=$(( $(date +%s) + ${LAB_VM_BOOT_SECONDS:-300} ))
    why=""
    until ssh_vm "$name" true 2>/dev/null; do
      if [ "$(date +%s)" -ge "$deadline" ]; then why="no sshd on 127.0.0.1:$port after ${LAB_VM_BOOT_SECONDS:-300}s"; break; fi
      if ! kill -0 "$(cat "$dir/qemu.pid")" 2>/dev/null; then why="QEMU exited"; break; fi
      sleep 2
    done
    [ -n "$why" ] || break
    # Seen once in a few boots: an int3 Oops while the kernel patches its own text early in boot
    # (multi-threaded TCG and cross-modifying code). One more boot; a second panic is a failure.
    if [ "$attempt" = 1 ] && grep -aq 'Kernel panic' "$dir/console.log"; then
      kill "$(cat "$dir/qemu.pid" 2>/dev/null)" 2>/dev/null || true
      echo "vm.sh: $name's kernel panicked while booting ($(grep -a -m1 -o 'Oops: [^[]*' "$dir/console.log" || echo see its console)); booting it once more" >&2
      continue
    fi
    boot_failed "$name" "$why"
  done
  # Its own name, and its node address on the lab's bridge (systemd-networkd, by the NIC's MAC).
  ssh_vm "$name" "echo $name >/etc/hostname && hostname $name && sed -i 's/^127.0.1.1 .*/127.0.1.1 $name/' /etc/hosts" ||
    boot_failed "$name" "could not name it"
  if [ -n "$images" ]; then
    ssh_vm "$name" 'mkdir -p /opt/lab/images && mount -t 9p -o trans=virtio,ro labimages /opt/lab/images' || boot_failed "$name" "could not mount $images"
  fi
  if [ -n "$address" ]; then
    # Before the image's DHCP file (10-user.network matches en*): networkd takes the first match.
    printf '[Match]\nMACAddress=%s\n\n[Network]\nAddress=%s\n' "$mac" "$address" |
      ssh_vm "$name" "cat >/etc/systemd/network/05-lab.network && networkctl reload && networkctl reconfigure \$(grep -l '$mac' /sys/class/net/*/address | cut -d/ -f5)" ||
      boot_failed "$name" "could not give it its address $address"
    deadline=$(( $(date +%s) + 60 ))
    until in_net "$name" timeout 2 bash -c "exec 3<>/dev/tcp/${address%/*}/22" 2>/dev/null; do
      [ "$(date +%s)" -lt "$deadline" ] || boot_failed "$name" "its address ${address%/*} does not answer on the bridge"
      sleep 1
    done
  fi
  printf '{"name":"%s","port":%s,"key":"%s","dir":"%s","address":"%s"}\n' "$name" "$port" "$img/id_ed25519" "$dir" "${address%/*}"
}

# boot_failed NAME WHY: the console's last lines, and nothing of the VM left behind but the cache.
boot_failed() {
  local dir; dir=$(vm_dir "$1")
  tail -n 30 "$dir/console.log" >&2 2>/dev/null || true
  kill "$(cat "$dir/qemu.pid" 2>/dev/null)" 2>/dev/null || true
  if [ -s "$dir/netns" ]; then ip -n "$(cat "$dir/netns")" link del "t-${1:0:13}" 2>/dev/null || true; fi
  rm -rf "$dir"
  fail "VM $1: $2 (its console's last lines above)"
}

# The VM's host key is the one made with the image: pinned, never learned on first use.
ssh_vm() {
  local name=$1 dir img; shift
  dir=$(vm_dir "$name"); img=$(image_dir)
  [ -f "$dir/known_hosts" ] || printf '[127.0.0.1]:%s %s\n' "$(cat "$dir/port")" "$(cat "$img/host-key.pub" 2>/dev/null)" >"$dir/known_hosts"
  in_net "$name" ssh -i "$img/id_ed25519" -p "$(cat "$dir/port")" -o BatchMode=yes -o ConnectTimeout=5 -o LogLevel=ERROR \
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
  if [ -s "$dir/netns" ]; then ip -n "$(cat "$dir/netns")" link del "t-${1:0:13}" 2>/dev/null || true; fi
  rm -rf "$dir"
}

action=${1:?usage: vm.sh image | net-up NETNS CIDR | net-down NETNS | up NAME PORT [BINS [IMAGES]] | ssh NAME [COMMAND] | down NAME}
shift
case "$action" in
  image) build_image ;;
  up) up "${1:?name}" "${2:?port}" "${3:-}" "${4:-}" ;;
  net-up) net_up "${1:?netns}" "${2:?cidr}" ;;
  net-down) net_down "${1:?netns}" ;;
  ssh) name=${1:?name}; shift; ssh_vm "$name" "$@" ;;
  down) down "${1:?name}" ;;
  *) fail "unknown action '$action' (image, net-up, net-down, up, ssh, down)" ;;
esac
