#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: the local lab's certificates, made once on the master (kept when present): the
# CA, the API server's serving certificate, its kubelet client certificate (also what the checkpoint
# call presents), admin, service-account keys, and per node a kubelet client certificate
# (system:node:NAME) and serving certificate. Installs the master's own kubelet files and prints
# {"admin": kubeconfig, "nodes": {NAME: bundle}} as one JSON line (pki.py issue): a secret.
# Inputs: PKI_DIR, API_SANS, SERVER (https://address:port), MASTER, NODES ("name=address" words),
# ADMIN_KUBECONFIG, KUBELET_KUBECONFIG, PY_PKI (pki.py's text).
install -d -m 0700 "$PKI_DIR"
cd "$PKI_DIR" || exit 1
umask 077
key() { [ -f "$1.key" ] || openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }
key ca
[ -f ca.crt ] || openssl req -x509 -new -key ca.key -subj /CN=live-migration-lab-ca -days 3650 -out ca.crt
chmod 0644 ca.crt
# cert NAME SUBJECT USAGE [SAN]
cert() {
  [ -f "$1.crt" ] && return 0
  key "$1"
  printf '%s\n' basicConstraints=CA:FALSE keyUsage=critical,digitalSignature,keyEncipherment "extendedKeyUsage=$3" >"$1.ext"
  [ -z "${4:-}" ] || echo "subjectAltName=$4" >>"$1.ext"
  openssl req -new -key "$1.key" -subj "$2" | openssl x509 -req -CA ca.crt -CAkey ca.key -CAcreateserial -days 825 -extfile "$1.ext" -out "$1.crt" 2>/dev/null
  rm -f "$1.ext"
}
cert apiserver /CN=kube-apiserver serverAuth "$API_SANS"
cert apiserver-kubelet-client /O=system:masters/CN=kube-apiserver-kubelet-client clientAuth
cert admin /O=system:masters/CN=kubernetes-admin clientAuth
names=()
for n in $NODES; do
  name=${n%%=*} address=${n#*=}
  cert "kubelet-$name-client" "/O=system:nodes/CN=system:node:$name" clientAuth
  cert "kubelet-$name-server" "/CN=$name" serverAuth "IP:$address,DNS:$name"
  names+=("$name")
done
key sa && { [ -f sa.pub ] || openssl pkey -in sa.key -pubout -out sa.pub; }
export PKI_DIR ADMIN_KUBECONFIG KUBELET_KUBECONFIG
python3 -c "$PY_PKI" issue "$SERVER" "$MASTER" "${names[@]}"
