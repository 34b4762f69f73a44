#!/usr/bin/env bash
# The `local` node driver: master and worker as namespace sandboxes on this Linux host.
#
#   local-node.sh key STATE_DIR                       print the lab's SSH private key (made once)
#   local-node.sh up|down NAME ADDRESS SUBNET STATE_DIR
set -euo pipefail

action=${1:?usage: local-node.sh key|up|down ...}
case "$action" in
  key)
    state=${2:?state dir}
    install -d -m 0700 "$state/ssh"
    [ -f "$state/ssh/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C live-migration-lab -f "$state/ssh/id_ed25519"
    cat "$state/ssh/id_ed25519"
    ;;
  up | down)
    # Not built yet: the namespace sandboxes (Debian sid rootfs, overlay per node, lab bridge in
    # its own network namespace, sshd) are tracked as the issue "The local lab: master and
    # worker nodes on one Linux host". Fail loudly rather than pretend.
    echo "local-node.sh: the local driver cannot create node '${2:-?}' yet: namespace sandboxes are not implemented in this version; use driver vagrant or existing" >&2
    exit 1
    ;;
  *)
    echo "local-node.sh: unknown action '$action' (key, up, down)" >&2
    exit 2
    ;;
esac
