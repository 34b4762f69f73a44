#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: waits until every node is Ready in the API and every kube-system pod (control
# plane, kube-proxy, CoreDNS) is Ready; prints each node's kubelet version and the kube-system pods.
# Inputs: NODE_NAMES (space-separated), WAIT_SECONDS, ADMIN_KUBECONFIG.
export KUBECONFIG=$ADMIN_KUBECONFIG
read -r -a names <<<"$NODE_NAMES"
for _ in $(seq 1 "$WAIT_SECONDS"); do kubectl get node "${names[@]}" >/dev/null 2>&1 && break; sleep 1; done
kubectl wait --for=condition=Ready "${names[@]/#/node/}" --timeout="${WAIT_SECONDS}s" >&2
# CoreDNS's Deployment is made by kubeadm; its pods appear once the scheduler places them.
for _ in $(seq 1 "$WAIT_SECONDS"); do [ -n "$(kubectl get pods -n kube-system -l k8s-app=kube-dns -o name 2>/dev/null)" ] && break; sleep 1; done
if ! kubectl wait --for=condition=Ready pods --all -n kube-system --timeout="${WAIT_SECONDS}s" >&2; then
  kubectl get pods -n kube-system -o wide >&2
  exit 1
fi
kubectl get nodes -o json | python3 -c 'import json, sys; print(json.dumps({n["metadata"]["name"]: n["status"]["nodeInfo"]["kubeletVersion"] for n in json.load(sys.stdin)["items"]}))'
kubectl get pods -n kube-system -o json | python3 -c 'import json, sys; print(json.dumps(sorted(p["metadata"]["name"] + " " + p["status"]["phase"] for p in json.load(sys.stdin)["items"])))'
