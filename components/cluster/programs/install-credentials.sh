#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: installs a node's kubelet credentials (a bundle from pki.sh, as JSON on stdin)
# with their modes; prints their paths. Inputs: PY_PKI (pki.py's text).
python3 -c "$PY_PKI" install
