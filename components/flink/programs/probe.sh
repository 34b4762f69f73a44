#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: probes the Flink job in a pod from the node it runs on (probe.py does the
# asking). Works with any image: crictl, nsenter, curl and python3 are the node's.
# Inputs: CRIO_ENDPOINT, CONTAINER, POD, NAMESPACE, REST_PORT, PY_PROBE (probe.py's text).
# Libraries: node/programs/container.sh. Prints one FlinkProbe JSON line.
found=$(find_container "$CRIO_ENDPOINT" "$CONTAINER" "$POD" "$NAMESPACE"); read -r _ pid <<<"$found"
python3 -c "$PY_PROBE" "$pid" "$POD" "$(hostname)" "$REST_PORT"
