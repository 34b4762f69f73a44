#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: routes a local node's traffic for the other nodes' pod subnets to those nodes
# (all on the lab bridge), and forwards packets in the node's own network namespace (kubeadm's
# preflight wants ip_forward; the host's setting is not touched). Inputs: ROUTES ("SUBNET=VIA"
# words), ACTION (replace, or del). Prints the node's routes to pod subnets.
[ "$ACTION" = del ] || sysctl -qw net.ipv4.ip_forward=1
for r in $ROUTES; do
  if [ "$ACTION" = del ]; then ip route del "${r%%=*}" via "${r#*=}" 2>/dev/null || true
  else ip route replace "${r%%=*}" via "${r#*=}" dev eth0; fi
done
ip -j route show | python3 -c 'import json, sys; print(json.dumps({"routes": [r["dst"] + " via " + r["gateway"] for r in json.load(sys.stdin) if "gateway" in r and r["dst"] != "default"]}))'
