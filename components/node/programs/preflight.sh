#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: before a checkpoint is taken, the target can restore: CRIU works, CRI-O
# answers, the archive directory is private, and there is room for the archive and for the second
# copy a hop makes, each about the job's RSS plus a margin (COPY): the checkpoint image in CRI-O's
# store (both in one when they share a file system), or the "joined copy" that the cutover writes
# in the archive directory from the archive split on arrival (both there).
# The running CRI-O must restore containers (crio-switch.sh).
# Inputs: ARCHIVE_DIR, IMAGE_STORE, NEED_MB (one of them), RSS_MB, CRIO_ENDPOINT, CRIO_SOCKET (its
# path), CRIO_DROP_IN, COPY. Libraries: node/programs/crio-switch.sh. Prints freeMb, needMb.
if ! out=$(criu check 2>&1); then echo "criu check failed on the target: $out" >&2; exit 1; fi
crictl --runtime-endpoint "$CRIO_ENDPOINT" info >/dev/null 2>&1 || { echo "CRI-O does not answer on $CRIO_ENDPOINT on $(hostname); start it (systemctl start crio) and run pulumi up again" >&2; exit 1; }
require_crio_restore target "$CRIO_SOCKET" "$CRIO_DROP_IN"
mode=$(stat -c %a "$ARCHIVE_DIR") || { echo "archive directory $ARCHIVE_DIR is missing" >&2; exit 1; }
[ "$mode" = 700 ] || { echo "archive directory $ARCHIVE_DIR has mode $mode; checkpoints hold process memory and need 700" >&2; exit 1; }
store=$IMAGE_STORE; [ -d "$store" ] || store=$(dirname "$store")
free() { df -Pm "$1" | awk 'NR == 2 { print $4 }'; }
archive_free=$(free "$ARCHIVE_DIR"); store_free=$(free "$store")
if [ "$COPY" = "joined copy" ] || [ "$(stat -c %d "$ARCHIVE_DIR")" = "$(stat -c %d "$store")" ]; then need=$(( NEED_MB * 2 )); else need=$NEED_MB; fi
[ "$archive_free" -ge "$need" ] || { echo "only ${archive_free} MB free for $ARCHIVE_DIR on $(hostname); the archive and its ${COPY} need ${need} MB (the job's RSS is ${RSS_MB} MB); free some space and run pulumi up again" >&2; exit 1; }
[ "$COPY" = "joined copy" ] || [ "$store_free" -ge "$NEED_MB" ] || { echo "only ${store_free} MB free for $store on $(hostname); the ${COPY} needs ${NEED_MB} MB" >&2; exit 1; }
printf '{"freeMb":%s,"needMb":%s}\n' "$archive_free" "$need"
