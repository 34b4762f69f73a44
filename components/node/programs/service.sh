#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: a library (nodeProgram libs) for the services a node runs. On nodes without
# systemd (the local lab's namespace nodes) the lab supervises them itself: service NAME runs
# $SERVICE_DIR/NAME in its own session, with its pid in $SERVICE_RUN_DIR/NAME.pid and its output
# appended to $SERVICE_LOG_DIR/NAME.log.
SERVICE_DIR=/etc/live-migration-lab/services
SERVICE_RUN_DIR=/run/lab
SERVICE_LOG_DIR=/var/log/lab

# service_stop NAME: TERM, then KILL after 20 s; forgets its pid.
service_stop() {
  local old
  old=$(cat "$SERVICE_RUN_DIR/$1.pid" 2>/dev/null || true)
  if [ -n "$old" ] && kill "$old" 2>/dev/null; then
    for _ in $(seq 1 100); do kill -0 "$old" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$old" 2>/dev/null || true
  fi
  rm -f "$SERVICE_RUN_DIR/$1.pid"
}

# service_restart NAME: stops the running process, then starts NAME again in its own session.
service_restart() {
  service_stop "$1"
  setsid bash "$SERVICE_DIR/$1" >>"$SERVICE_LOG_DIR/$1.log" 2>&1 </dev/null & echo $! >"$SERVICE_RUN_DIR/$1.pid"
}

# service_running NAME: whether the supervised service runs.
service_running() { [ -s "$SERVICE_RUN_DIR/$1.pid" ] && kill -0 "$(cat "$SERVICE_RUN_DIR/$1.pid")" 2>/dev/null; }

# service_restart_if_active NAME: restarts NAME if it runs: systemd's unit on VMs and hosts, the
# supervised service on namespace nodes.
service_restart_if_active() {
  if command -v systemctl >/dev/null && systemctl is-active -q "$1"; then systemctl restart "$1"
  elif service_running "$1"; then service_restart "$1"; fi
}

# service_restart_if_down NAME: starts the supervised service again unless it runs.
service_restart_if_down() { service_running "$1" || service_restart "$1"; }
