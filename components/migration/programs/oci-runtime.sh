# shellcheck shell=bash
# live-migration-lab: CRI-O's OCI runtime path for the lab's runtime handler (oci-runtime.sh).
# Every call goes straight to the real runtime (REAL, runc or crun) with the same arguments, except
# pause, checkpoint and resume of a container a migration holds (a lease file HOLDS/<container id>
# naming the hop's hold directory, written by the hold step). For those it keeps the job frozen from
# CRI-O's own pause before the dump until the target commits, with no thaw in between:
#   pause       runs, and records pausedAt: the job's last progress on the source;
#   checkpoint  runs; a failed dump releases the hold (the job thaws as CRI-O intends);
#   resume      (CRI-O's thaw once the archive is written) is refused while the hold is undecided,
#               recording heldAt. CRI-O then keeps the container as "paused", which is true.
# The lease (lease.sh) removes the lease file when it decides, then resumes through CRI-O.
# It also keeps CRIU's figures of every restore (stats-restore, which CRI-O deletes right after) as
# STATS/<container id>.restore, for the migration's cutover to report.
# Before `create` and `exec` it fits the container's spec (an exec's process spec) to what the node
# can grant (oci-spec-fit.py), on hosts whose capability bounding set lacks some capabilities,
# logging what it changed to FIT_LOG.
# Inputs: REAL (the runtime binary; empty: the first of CANDIDATES that exists), HOLDS (the lease
# directory), STATS (where restore figures are kept), CANDIDATES (where CRI-O packages and
# distributions put the runtime), STATUS_FILE (/proc/self/status: its CapBnd), PY_FIT
# (oci-spec-fit.py's text), FIT_LOG.
if [ -z "$REAL" ]; then
  for REAL in $CANDIDATES; do [ -x "$REAL" ] && break; done
fi
# The subcommand, past the runtime's global options; the container id is the last argument.
sub=; i=1
while [ "$i" -le "$#" ]; do
  case ${!i} in
    --root | --log | --log-format | --criu | --rootless) i=$((i + 2)) ;;
    -*) i=$((i + 1)) ;;
    *) sub=${!i}; break ;;
  esac
done
id=${!#}
# opt_value NAME...: the value the runtime's arguments give the first of these options (NAME V or
# NAME=V), or nothing.
opt_value() {
  local name a prev
  for name in "$@"; do
    prev=
    for a in "${ARGS[@]}"; do
      if [ "$prev" = "$name" ]; then printf '%s' "$a"; return; fi
      case $a in "$name"=*) printf '%s' "${a#*=}"; return ;; esac
      prev=$a
    done
  done
}
ARGS=("$@")
# Where the node's capability bounding set is not the full one (hosts without CAP_SYS_RESOURCE),
# a spec asking for more than the node can grant is fitted first (oci-spec-fit.py says why).
# So is an exec's process spec (CRI-O's `exec --process FILE`).
if [ "$sub" = create ] || [ "$sub" = exec ]; then
  bnd=; while read -r k v; do if [ "$k" = CapBnd: ]; then bnd=$v; break; fi; done <"$STATUS_FILE"
  if [ -n "$bnd" ] && [ $((16#$bnd)) -ne $(( (1 << ($(</proc/sys/kernel/cap_last_cap) + 1)) - 1 )) ]; then
    if [ "$sub" = exec ]; then file=$(opt_value --process -p); kind=process
    else bundle=$(opt_value --bundle -b); file=${bundle:-$PWD}/config.json; kind=config; fi
    if [ -n "$file" ] && [ -f "$file" ] && fit=$(python3 -c "$PY_FIT" "$file" "$STATUS_FILE" "$kind") && [ -n "$fit" ]; then
      { mkdir -p "${FIT_LOG%/*}" && echo "$(date -u +%FT%TZ) container $id: $fit" >>"$FIT_LOG"; } 2>/dev/null || true
    fi
  fi
fi
if [ "$sub" = restore ] && [[ $id =~ ^[0-9a-f]{64}$ ]]; then
  # CRIU writes stats-restore into the work directory: --work-path, else the image or bundle directory.
  dirs=("$(opt_value --work-path)" "$(opt_value --image-path)" "$(opt_value --bundle -b)")
  rc=0; "$REAL" "$@" || rc=$?
  for d in "${dirs[@]}" "$PWD"; do
    if [ -n "$d" ] && [ -f "$d/stats-restore" ]; then
      install -d -m 0700 "$STATS" && cp "$d/stats-restore" "$STATS/$id.restore" 2>/dev/null; break
    fi
  done
  exit "$rc"
fi
[ -d "$HOLDS" ] || exec "$REAL" "$@"
case $sub in pause | checkpoint | resume) ;; *) exec "$REAL" "$@" ;; esac
if ! [[ $id =~ ^[0-9a-f]{64}$ ]] || [ ! -f "$HOLDS/$id" ]; then exec "$REAL" "$@"; fi
hold=$(cat "$HOLDS/$id")
now() { date +%s%3N; }
case $sub in
  pause)
    "$REAL" "$@" || exit
    [ -s "$hold/pausedAt" ] || now >"$hold/pausedAt" ;;
  checkpoint)
    rc=0; "$REAL" "$@" || rc=$?
    if [ "$rc" -ne 0 ]; then
      rm -f "$HOLDS/$id"; echo "the runtime's checkpoint exited $rc" >"$hold/failed"; exit "$rc"
    fi
    now >"$hold/dumpedAt" ;;
  resume)
    if [ -s "$hold/dumpedAt" ] && [ ! -d "$hold/decision" ]; then
      [ -s "$hold/heldAt" ] || { now >"$hold/heldAt"; echo held >"$hold/state"; }
      echo "live-migration-lab: container $id stays frozen for migration $(cat "$hold/id" 2>/dev/null) until its target commits (the lease gives it back otherwise)" >&2
      exit 1
    fi
    exec "$REAL" "$@" ;;
esac
