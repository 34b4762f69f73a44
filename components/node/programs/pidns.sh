#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: a library (nodeProgram libs) for a container's processes, found by pid namespace.

# members NS: the pids whose pid namespace is NS (a /proc/<pid>/ns/pid link text).
members() { for p in /proc/[0-9]*; do [ "$(readlink "$p/ns/pid" 2>/dev/null)" = "$1" ] && echo "${p#/proc/}"; done; true; }
