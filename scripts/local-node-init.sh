#!/usr/bin/env bash
# A local lab node's PID 1 (scripts/local-node.sh up runs it, as its text, in the node's new mount,
# pid, uts and ipc namespaces): switch to the overlay root, give it fresh proc/sys/dev, and serve
# SSH. The host cgroup tree is bound in for runc and CRIU.
#   local-node-init.sh ROOT NAME [BINS STORAGE SYSCTLS IMAGES]
set -e
root=$1 name=$2 bins=${3:-} storage=${4:-} sysctls=${5:-} images=${6:-}
hostname "$name"
mount --bind "$root" "$root"
cd "$root"
mkdir -p .oldroot
pivot_root . .oldroot
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs -o mode=0755 tmpfs /dev
mkdir -p /dev/pts /dev/shm /dev/net
for n in null zero full random urandom tty net/tun; do
  [ -e "/.oldroot/dev/$n" ] || continue
  touch "/dev/$n"
  mount --bind "/.oldroot/dev/$n" "/dev/$n"
done
mount -t devpts devpts /dev/pts -o newinstance,ptmxmode=0666
ln -sf pts/ptmx /dev/ptmx
ln -sf /proc/self/fd /dev/fd
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/sshd /run/netns
mount --rbind /.oldroot/sys/fs/cgroup /sys/fs/cgroup
if [ -n "$bins" ]; then
  mkdir -p /opt/lab/bin /var/lib/containers/storage
  mount --bind -o ro "/.oldroot$bins" /opt/lab/bin
  mount --bind "/.oldroot$storage" /var/lib/containers/storage
  if [ -n "$images" ]; then mkdir -p /opt/lab/images && mount --bind -o ro "/.oldroot$images" /opt/lab/images; fi
  touch /dev/kmsg && mount --bind /.oldroot/dev/kmsg /dev/kmsg
  mkdir -p /run/lab/sysctl
  for kv in $sysctls; do
    f=/run/lab/sysctl/${kv%%=*}; mkdir -p "${f%/*}"; echo "${kv#*=}" >"$f"
    mount --bind "$f" "/proc/sys/${kv%%=*}"
  done
  # Without a hugetlb cgroup controller on the host, hide the huge page sizes: the kubelet would
  # ask runc for hugetlb limits that cannot be set ("cannot set hugetlb limit").
  if ! grep -qw hugetlb /proc/cgroups 2>/dev/null || { [ ! -d /sys/fs/cgroup/hugetlb ] && ! grep -qw hugetlb /sys/fs/cgroup/cgroup.controllers 2>/dev/null; }; then
    mount -t tmpfs -o ro,mode=0755 tmpfs /sys/kernel/mm/hugepages
  fi
  # Pods ask for shared/slave propagation of their mounts.
  mount --make-rshared /
fi
umount -l /.oldroot
rmdir /.oldroot 2>/dev/null || true
ssh-keygen -A >/dev/null
# sshd stays in the foreground; this shell stays PID 1 and reaps orphans.
/usr/sbin/sshd -D -e &
while true; do wait || true; sleep 1; done
