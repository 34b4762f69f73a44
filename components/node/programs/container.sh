#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: a library (nodeProgram libs) for finding a pod's container through CRI-O.

# find_container ENDPOINT NAME POD NAMESPACE [running|any]: prints "CID PID" (PID: the container's
# first process, on the node) of the pod's container NAME, or fails naming the pod. "any" also finds
# one that exited. Use as: found=$(find_container ...); read -r cid pid <<<"$found"
find_container() {
  local endpoint=$1 name=$2 pod=$3 ns=$4 state=${5:-running} filter=() which="" cid
  if [ "$state" = running ]; then filter=(--state running); which="running "; fi
  cid=$(crictl --runtime-endpoint "$endpoint" ps -q "${filter[@]}" --name "^${name}\$" --label "io.kubernetes.pod.name=$pod" --label "io.kubernetes.pod.namespace=$ns" | head -n1)
  [ -n "$cid" ] || { echo "no ${which}${name} container of pod ${ns}/${pod} on $(hostname)" >&2; exit 1; }
  echo "$cid $(crictl --runtime-endpoint "$endpoint" inspect -o go-template --template '{{.info.pid}}' "$cid")"
}
