#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: stops a supervised service (TERM, then KILL after 20 s) and removes its
# command file, which service-start.sh wrote; its log stays for diagnosis. Input: NAME.
# Libraries: node/programs/service.sh.
service_stop "$NAME"
rm -f "${SERVICE_DIR:?}/$NAME"
rmdir "$SERVICE_DIR" 2>/dev/null || true
printf '{"service":"%s","state":"stopped"}\n' "$NAME"
