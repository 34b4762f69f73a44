#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: stops a supervised service (TERM, then KILL after 20 s). Input: NAME.
# Libraries: node/programs/service.sh.
service_stop "$NAME"
printf '{"service":"%s","state":"stopped"}\n' "$NAME"
