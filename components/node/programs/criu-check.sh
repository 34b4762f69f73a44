#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: CRIU is usable on this node. `criu check` is the real test (`criu check
# --tcp-established` is not a check; TCP repair is part of the plain check): an old CRIU on a new
# kernel fails here, not mid-dump. CRIU also needs iptables or nft to lock TCP connections.
# Prints criu (version) and check.
command -v criu >/dev/null || { echo "criu is not installed" >&2; exit 1; }
version=$(criu --version | sed -n 's/^Version: //p')
if ! out=$(criu check 2>&1); then echo "criu $version: criu check failed: $out" >&2; exit 1; fi
command -v iptables >/dev/null || command -v nft >/dev/null || { echo "criu needs iptables or nft to lock TCP connections" >&2; exit 1; }
printf '{"criu":"%s","check":"ok"}\n' "$version"
