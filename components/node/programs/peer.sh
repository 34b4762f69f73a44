#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: a library (nodeProgram libs) for reaching another lab node over SSH from a
# node program, with the lab's key from stdin (a secret: never in a script or its environment).
# Inputs: PEER_HOST, PEER_PORT, PEER_USER (root, or a user with passwordless sudo).

# peer_key DIR: reads the key from stdin into DIR/key (a private temporary directory the caller made
# and removes); later `peer` calls use it.
peer_key() {
  peer_dir=$1
  # OpenSSH needs the key's final newline, which Pulumi's command stdout (the key's source) trims.
  (umask 077; printf '%s\n' "$(cat)" >"$peer_dir/key")
  grep -q 'PRIVATE KEY' "$peer_dir/key" || { echo "no SSH private key on stdin" >&2; exit 1; }
}

# peer CMD: runs CMD (one string, quoted for the remote shell) as root on the peer. AES-GCM first:
# with AES-NI it moves a checkpoint archive about 1.7x as fast as OpenSSH's default ChaCha20
# (560 MB: 0.8 s against 1.3 s on the lab's 2-core machine); the others remain for peers without it.
peer() {
  local sudo=""
  [ "$PEER_USER" = root ] || sudo="sudo -n "
  ssh -i "$peer_dir/key" -p "$PEER_PORT" -o BatchMode=yes -o LogLevel=ERROR -o StrictHostKeyChecking=accept-new \
    -c aes128-gcm@openssh.com,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com,aes128-ctr \
    -o UserKnownHostsFile="$peer_dir/known_hosts" "${PEER_USER}@${PEER_HOST}" "${sudo}$1"
}
