#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: asks a node's kubelet for a checkpoint (POST /checkpoint/{ns}/{pod}/{container}).
# Runs on the master, which holds the API server's kubelet client certificate; the kubelet's
# serving certificate is self-signed on kubeadm and lab nodes, so the client certificate is what
# authenticates the call. The source keeps running. A CRIU failure comes back in the response body
# and is printed as the error. Inputs: URL, POD, KUBELET (its address), CLIENT_CERT, CLIENT_KEY.
# Prints archive, startedAt, seconds.
started=$(date +%s%3N); start=$(date +%s.%N)
body=$(mktemp); trap 'rm -f "$body"' EXIT
code=$(curl -sS -k -o "$body" -w '%{http_code}' -X POST --cert "$CLIENT_CERT" --key "$CLIENT_KEY" "$URL")
if [ "$code" != 200 ]; then echo "checkpoint of ${POD} on ${KUBELET} failed (HTTP $code): $(cat "$body")" >&2; exit 1; fi
archive=$(sed -n 's/.*"items":\["\([^"]*\)".*/\1/p' "$body")
[ -n "$archive" ] || { echo "kubelet answered without an archive path: $(cat "$body")" >&2; exit 1; }
printf '{"archive":"%s","startedAt":%s,"seconds":%s}\n' "$archive" "$started" "$(elapsed "$start")"
