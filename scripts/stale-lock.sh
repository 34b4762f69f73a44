#!/usr/bin/env bash
# live-migration-lab: clears a Pulumi file-backend lock whose process is gone.
#
#   scripts/stale-lock.sh STATE_DIR STACK     (STATE_DIR: the file backend's directory)
#
# A `pulumi` killed mid-update (SIGKILL, a closed terminal, a crashed CI job) leaves its lock in
# the backend (.pulumi/locks/<org>/<project>/<stack>/<id>.json: pid, username, hostname, timestamp),
# and every later command on the stack fails with "the stack is currently locked". A lock taken on
# this host by a process that no longer runs is removed, saying whose it was; a live one, or one from
# another host, is left and named (wait for it, or `pulumi cancel` if you know it is gone). Exits 0
# when the stack is free afterwards, 1 when a lock remains. The update's pending operations stay in
# the state: the next `pulumi up` reports them and carries on.
set -euo pipefail
state=${1:?usage: stale-lock.sh STATE_DIR STACK}
stack=${2:?usage: stale-lock.sh STATE_DIR STACK}
shopt -s nullglob
held=0
for lock in "$state"/.pulumi/locks/*/*/"$stack"/*.json "$state"/.pulumi/locks/"$stack"/*.json; do
  read -r pid host user when < <(python3 -c 'import json, sys; l = json.load(open(sys.argv[1])); print(l["pid"], l["hostname"], l["username"], l["timestamp"])' "$lock") || continue
  if [ "$host" = "$(hostname)" ] && ! kill -0 "$pid" 2>/dev/null; then
    echo "stale-lock.sh: stack $stack was locked by pid $pid ($user@$host, $when), which is no longer running: removing its lock $lock" >&2
    rm -f "$lock"
  else
    echo "stale-lock.sh: stack $stack is locked by pid $pid ($user@$host, $when), which may still run: wait for it, or run pulumi cancel --stack $stack if you know it is gone" >&2
    held=1
  fi
done
exit "$held"
