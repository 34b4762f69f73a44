#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: verifies a restored workload on the node its pod runs on, with the workload's
# probe (PROBE): the same job (its identity: a Flink job's id, restored with the JVM's memory; a fresh
# start would have a new one), RUNNING, its progress figure (`records`) not below the source's before
# the checkpoint, and growing.
# Inputs: POD, JOB_ID, RECORDS_BEFORE, TIMEOUT (seconds), PROBE (the workload's probe as a program),
# PY_VERDICT (verdict.py's text); VERIFY_LAST (optional, from the caller's environment): a file that
# always holds the probe's last answer and verdict, for a caller that stops verify at its own deadline.
# Prints the last probe plus "seconds".
start=$(date +%s.%N)
deadline=$(( $(date +%s) + TIMEOUT ))
first=""; verdict=""; out=""
while :; do
  if out=$(bash -c "$PROBE" 2>&1); then
    verdict=$(python3 -c "$PY_VERDICT" "$out" "$first" "$JOB_ID" "$RECORDS_BEFORE")
    if [ -n "${VERIFY_LAST:-}" ]; then
      case "$verdict" in first) said="no progress since verify's first probe" ;; *) said=${verdict:-no verdict} ;; esac
      printf '%s (%s)\n' "$(tail -n1 <<<"$out")" "$said" >"$VERIFY_LAST"
    fi
    case "$verdict" in
      ok) break ;;
      first) first=$(tail -n1 <<<"$out") ;;
      wrong-job*|behind*) echo "restored pod ${POD} does not continue job ${JOB_ID} from ${RECORDS_BEFORE} records: $verdict" >&2; exit 1 ;;
    esac
  elif [ -n "${VERIFY_LAST:-}" ]; then
    printf 'the probe failed: %s\n' "$(tail -n1 <<<"$out")" >"$VERIFY_LAST"
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then echo "job in ${POD} not RUNNING and progressing after ${TIMEOUT}s: ${verdict} $out" >&2; exit 1; fi
  sleep 0.5
done
python3 -c 'import json, sys; p = json.loads(sys.argv[1].splitlines()[-1]); p["seconds"] = float(sys.argv[2]); print(json.dumps(p))' "$out" "$(elapsed "$start")"
