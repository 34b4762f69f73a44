#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: what every node program may call (nodeProgram puts it before the program).

# elapsed START: seconds since START (a `date +%s.%N` value), with milliseconds.
elapsed() { awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN { printf "%.3f", e - s }'; }
