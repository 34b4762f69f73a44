#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: asks a node's kubelet for a checkpoint of each of a pod's containers, one after
# the other (POST /checkpoint/{ns}/{pod}/{container}). Runs on the master, which holds the API
# server's kubelet client certificate; the kubelet's serving certificate is self-signed on kubeadm
# and lab nodes, so the client certificate is what authenticates the call. The source keeps running
# (held frozen by the hop's hold). A CRIU failure comes back in the response body and is printed as
# the error. Inputs: URLS (newline-separated, one per container), POD, KUBELET (its address),
# CLIENT_CERT, CLIENT_KEY. Prints archive (the first container's), archives (each one's, in order),
# startedAt, seconds.
started=$(date +%s%3N); start=$(date +%s.%N)
body=$(mktemp); trap 'rm -f "$body"' EXIT
archives=()
while read -r url; do
  code=$(curl -sS -k -o "$body" -w '%{http_code}' -X POST --cert "$CLIENT_CERT" --key "$CLIENT_KEY" "$url")
  if [ "$code" != 200 ]; then echo "checkpoint of ${POD} on ${KUBELET} failed (HTTP $code${archives[0]:+, after ${#archives[@]} of its containers}): $(cat "$body")" >&2; exit 1; fi
  archive=$(sed -n 's/.*"items":\["\([^"]*\)".*/\1/p' "$body")
  [ -n "$archive" ] || { echo "kubelet answered without an archive path: $(cat "$body")" >&2; exit 1; }
  archives+=("$archive")
done <<<"${URLS:?}"
printf '{"archive":"%s","archives":[%s],"startedAt":%s,"seconds":%s}\n' "${archives[0]}" "$(printf '"%s",' "${archives[@]}" | sed 's/,$//')" "$started" "$(elapsed "$start")"
