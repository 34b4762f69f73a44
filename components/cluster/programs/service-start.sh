#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: starts a supervised service on a node without systemd (service.sh): its
# command line goes to $SERVICE_DIR/NAME; a running one is left alone unless that line changed.
# Waits until it is ready, else fails with the last lines of its log. Prints service, pid, state.
# Inputs: NAME, COMMAND (the command line, quoted for bash) or SCRIPT (a whole bash script, when
# COMMAND is empty), READY (a bash condition that holds once the service serves), READY_SECONDS,
# PREPARE (bash run before each start, or empty).
# Libraries: node/programs/service.sh.
install -d -m 0755 "$SERVICE_DIR" "$SERVICE_RUN_DIR" "$SERVICE_LOG_DIR"
[ -z "$PREPARE" ] || bash -euc "$PREPARE"
file="$SERVICE_DIR/$NAME"
if [ -n "$COMMAND" ]; then printf '%s\n' '#!/usr/bin/env bash' "exec $COMMAND" >"$file.new"; else printf '%s\n' "$SCRIPT" >"$file.new"; fi
if cmp -s "$file.new" "$file"; then changed=false; else changed=true; fi
mv -f "$file.new" "$file"
if service_running "$NAME" && ! $changed; then state=running; else
  service_restart "$NAME"
  state=started
fi
ok=false
for _ in $(seq 1 $((READY_SECONDS * 5))); do if bash -c "$READY"; then ok=true; break; fi; sleep 0.2; done
if ! $ok; then echo "${NAME} did not become ready in ${READY_SECONDS}s; last lines of $SERVICE_LOG_DIR/${NAME}.log:" >&2; tail -n 30 "$SERVICE_LOG_DIR/$NAME.log" >&2; exit 1; fi
printf '{"service":"%s","pid":%s,"state":"%s"}\n' "$NAME" "$(cat "$SERVICE_RUN_DIR/$NAME.pid")" "$state"
