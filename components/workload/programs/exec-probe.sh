#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: probes a workload the stack brings, from the node its pod runs on: runs the
# workload's probe command in its container (crictl exec, which CRI-O ends after 10 s) and reads the
# last line it prints: a whole number (the progress figure, which must never go back) and optionally
# an identity (which must stay the same across a hop, such as a connection's id).
# Inputs: CRIO_ENDPOINT, POD, NAMESPACE, CONTAINER (the probe's), COMMAND (the probe command as
# shell-quoted words). Libraries: node/programs/container.sh, node/programs/pidns.sh.
# Prints one WorkloadProbe JSON line (components/workload/workload.ts); rssBytes counts every
# process of every container of the pod.
found=$(find_container "$CRIO_ENDPOINT" "$CONTAINER" "$POD" "$NAMESPACE"); read -r cid _ <<<"$found"
# COMMAND holds words quoted by the program (q), never text from elsewhere: eval only splits them.
cmd=(); eval "cmd=($COMMAND)"
if ! out=$(crictl --runtime-endpoint "$CRIO_ENDPOINT" exec --timeout 10 "$cid" "${cmd[@]}" 2>&1); then
  echo "the probe of ${NAMESPACE}/${POD} failed in its container ${CONTAINER}: $(tail -n2 <<<"$out" | tr '\n' ' ')" >&2; exit 1
fi
read -r figure identity _ < <(tail -n1 <<<"$out") || true
if ! [[ ${figure:-} =~ ^[0-9]+$ ]]; then
  echo "the probe of ${NAMESPACE}/${POD} printed no figure (a whole number first on its last line): $(tail -n1 <<<"$out")" >&2; exit 1
fi
if ! [[ ${identity:-} =~ ^[A-Za-z0-9._:=/-]*$ ]]; then
  echo "the probe of ${NAMESPACE}/${POD} printed an identity with characters other than letters, digits and ._:=/-: $identity" >&2; exit 1
fi
rss=0
while read -r c; do
  p=$(crictl --runtime-endpoint "$CRIO_ENDPOINT" inspect -o go-template --template '{{.info.pid}}' "$c" 2>/dev/null) || continue
  ns=$(readlink "/proc/$p/ns/pid") || continue
  while read -r m; do
    kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$m/status" 2>/dev/null) || kb=0
    rss=$(( rss + ${kb:-0} * 1024 ))
  done < <(members "$ns")
done < <(crictl --runtime-endpoint "$CRIO_ENDPOINT" ps -q --state running --label "io.kubernetes.pod.name=$POD" --label "io.kubernetes.pod.namespace=$NAMESPACE")
printf '{"pod":"%s","node":"%s","jobId":"%s","state":"RUNNING","startTime":0,"records":%s,"checkpoints":0,"rssBytes":%s,"at":%s}\n' \
  "$POD" "$(hostname)" "${identity:-}" "$((10#$figure))" "$rss" "$(date +%s%3N)"
