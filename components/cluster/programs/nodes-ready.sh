#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: waits until every node is Ready in the API; prints each node's kubelet version.
# Inputs: NODE_NAMES (space-separated), WAIT_SECONDS, ADMIN_KUBECONFIG.
export KUBECONFIG=$ADMIN_KUBECONFIG
read -r -a names <<<"$NODE_NAMES"
for _ in $(seq 1 "$WAIT_SECONDS"); do kubectl get node "${names[@]}" >/dev/null 2>&1 && break; sleep 1; done
kubectl wait --for=condition=Ready "${names[@]/#/node/}" --timeout="${WAIT_SECONDS}s" >&2
kubectl get nodes -o json | python3 -c 'import json, sys; print(json.dumps({n["metadata"]["name"]: n["status"]["nodeInfo"]["kubeletVersion"] for n in json.load(sys.stdin)["items"]}))'
