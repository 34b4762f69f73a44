# shellcheck shell=bash
# live-migration-lab: CRI-O's OCI runtime path for the lab's runtime handler (oci-runtime.sh).
# Every call goes straight to the real runtime (REAL, runc or crun) with the same arguments, except
# pause, checkpoint and resume of a container a migration holds (a lease file HOLDS/<container id>
# naming the hop's hold directory, written by the hold step). For those it keeps the pod frozen from
# CRI-O's own pause before the first dump until the target commits, with no thaw in between:
#   pause       runs, freezes the pod's other held containers with it, and records pausedAt: the
#               job's last progress on the source (a later container's pause finds it frozen already);
#   checkpoint  runs; a failed dump releases the hold (the job thaws as CRI-O intends);
#   resume      (CRI-O's thaw once the archive is written) is refused while the hold is undecided,
#               recording the container's heldAt, and the pod's once every container is held. CRI-O
#               then keeps the container as "paused", which is true.
# The lease (lease.sh) removes the lease file when it decides, then resumes through CRI-O.
# It also keeps CRIU's figures of every restore (stats-restore, which CRI-O deletes right after) as
# STATS/<container id>.restore, for the migration's cutover to report, and CRIU's restore.log beside
# it (STATS/<container id>.restore.log, root-only).
# Before `create` and `exec` it fits the container's spec (an exec's process spec) to what the node
# can grant (oci-spec-fit.py), on hosts whose capability bounding set lacks some capabilities,
# logging what it changed to FIT_LOG.
# A pod with a fence (FENCES/<namespace>_<pod>, written by the migration's transfer) is restored only
# while the migration's cutover watches it (else refused once the source's hold ends); the fence
# (FENCE_PROGRAM, fence.sh) then runs detached: the copy dies with its cutover unless committed.
# Library: migration/programs/freezer.sh (cutover.ts renderOciRuntime puts it first).
# Inputs: REAL (the runtime binary; empty: the first of CANDIDATES that exists), HOLDS (the lease
# directory), STATS (where restore figures are kept), CANDIDATES (where CRI-O packages and
# distributions put the runtime), STATUS_FILE (/proc/self/status: its CapBnd), PY_FIT
# (oci-spec-fit.py's text), FIT_LOG, FENCES, FENCE_PROGRAM.
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
globals=("${@:1:i-1}")
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
# fence_of BUNDLE: the fence file of the pod whose container this is (FENCES/<namespace>_<pod>), if
# it has one. A restored container's spec names its new sandbox k8s_POD_NAMESPACE_UID_ATTEMPT
# (io.kubernetes.cri-o.SandboxName, set again by CRI-O's restore: internal/lib/restore.go; its
# io.kubernetes.cri-o.Name nests the checkpointed container's name and is not parsed here).
# Prints the fence's path, then the container's name (io.kubernetes.container.name).
fence_of() {
  local name pod ns container
  { read -r name; read -r container; } < <(python3 -c 'import json, sys; a = json.load(open(sys.argv[1]))["annotations"]; print(a.get("io.kubernetes.cri-o.SandboxName", "")); print(a.get("io.kubernetes.container.name", ""))' "${1:-$PWD}/config.json" 2>/dev/null) || return 0
  IFS=_ read -r _ pod ns _ <<<"$name"
  if [ -n "$pod" ] && [ -f "$FENCES/${ns}_${pod}" ]; then printf '%s\n%s\n' "$FENCES/${ns}_${pod}" "$container"; fi
}
# rst_drop -I|-D: inserts or deletes the rule that drops RSTs sent over loopback in the network
# namespace $netns (IPv4; IPv6 too where ip6tables is there).
rst_drop() {
  local rule=(OUTPUT -o lo -p tcp --tcp-flags RST RST -m comment --comment live-migration-lab-restore -j DROP)
  nsenter --net="$netns" iptables -w "$1" "${rule[@]}" 2>/dev/null || return 1
  if command -v ip6tables >/dev/null; then nsenter --net="$netns" ip6tables -w "$1" "${rule[@]}" 2>/dev/null || true; fi
}
# fence_wait FENCE: a fenced copy is restored only while a migration's cutover watches it: waits for
# one (FENCE.cutover, a live pid) until the source's hold ends (FENCE's deadline), else refuses.
fence_wait() {
  local deadline p
  deadline=$(sed -n 's/^deadline=//p' "$1")
  while :; do
    p=$(cat "$1.cutover" 2>/dev/null) && [ -n "$p" ] && kill -0 "$p" 2>/dev/null && return 0
    if [ "$(date +%s%3N)" -ge "${deadline:-0}" ]; then
      echo "$(date -u +%FT%T.%3NZ) container ${id:0:12}: not restored: no cutover watched it before the source's hold ended" >>"$1.log"
      echo "live-migration-lab: not restoring ${1##*/}: no migration cutover watches it and the source's hold has ended (the source has the job back)" >&2
      return 1
    fi
    sleep 0.05
  done
}
# fence_start FENCE: starts the fence (FENCE_PROGRAM, fence.sh) of the container just restored.
fence_start() {
  local pid pidns kind cg
  pid=$("$REAL" "${globals[@]}" state "$id" | python3 -c 'import json, sys; print(json.load(sys.stdin)["pid"])') || return 0
  pidns=$(readlink "/proc/$pid/ns/pid") || return 0
  # A container in the node's own pid namespace (hostPID) cannot be fenced by its namespace.
  [ "$pidns" != "$(readlink /proc/self/ns/pid)" ] || { echo "$(date -u +%FT%T.%3NZ) container ${id:0:12}: shares the node's pid namespace; not fenced" >>"$1.log"; return 0; }
  read -r kind cg < <(freezer_of "$pid")
  # Detached, and holding none of conmon's descriptors (its sync pipe would wait for the fence).
  (
    for fd in /proc/self/fd/*; do n=${fd##*/}; if [ "$n" -gt 2 ]; then eval "exec $n>&-"; fi; done 2>/dev/null
    FENCE=$1 CID=$id PIDNS=$pidns CG=$cg KIND=$kind exec setsid bash -c "$FENCE_PROGRAM"
  ) </dev/null >>"$1.log" 2>&1 &
}
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
  fence=""; container=""
  if [ -d "$FENCES" ]; then { read -r fence; read -r container; } < <(fence_of "$(opt_value --bundle -b)") || true; fi
  if [ -n "$fence" ]; then
    fence_wait "$fence" || exit 1
    # An archive split on arrival (archive-split.py): CRI-O unpacked it without CRIU's page images,
    # which wait in the fence's images directory with the rest of CRIU's images; runc restores from
    # there (CRI-O checks only that its own directory has inventory.img).
    # The container's own line (images.NAME=, a pod with several), else the pod's one (images=).
    images=""; [ -z "$container" ] || images=$(sed -n "s/^images\.${container}=//p" "$fence")
    [ -n "$images" ] || images=$(sed -n 's/^images=//p' "$fence")
    given=$(opt_value --image-path)
    if [ -n "$images" ] && [ -n "$given" ] && [ -f "$images/inventory.img" ] && ! compgen -G "$given/pages-*.img" >/dev/null; then
      for ((k = 0; k < ${#ARGS[@]}; k++)); do
        case ${ARGS[k]} in --image-path) ARGS[k + 1]=$images ;; --image-path=*) ARGS[k]=--image-path=$images ;; esac
      done
      set -- "${ARGS[@]}"
      echo "$(date -u +%FT%T.%3NZ) container ${id:0:12}: restoring from $images (the page images as they arrived)" >>"$fence.log"
    fi
  fi
  # A pod of several containers is restored one container at a time, and one restored first may send
  # to one not restored yet over the pod's loopback (a retransmission of what the other had not
  # acknowledged when they were frozen): the kernel's RST for it would end the connection between
  # them. Until the pod's last container is restored, its network namespace drops the RSTs it sends
  # over loopback; the retransmission then reaches the other once it is back.
  many=0; netns=""
  if [ -n "$fence" ]; then many=$(grep -c '^images\.' "$fence" || true); fi
  if [ "$many" -gt 1 ]; then
    netns=$(python3 -c 'import json, sys; print(next((n.get("path", "") for n in json.load(open(sys.argv[1]))["linux"]["namespaces"] if n["type"] == "network"), ""))' "$(opt_value --bundle -b)/config.json" 2>/dev/null) || netns=""
    if [ -n "$netns" ] && [ ! -e "$fence.rst-drop" ] && rst_drop -I; then
      : >"$fence.rst-drop"; echo "$(date -u +%FT%T.%3NZ) pod: dropping loopback RSTs until its ${many} containers are restored" >>"$fence.log"
    fi
  fi
  # CRIU writes stats-restore into the work directory: --work-path, else the image or bundle directory.
  dirs=("$(opt_value --work-path)" "$(opt_value --image-path)" "$(opt_value --bundle -b)")
  rc=0; "$REAL" "$@" || rc=$?
  if [ -n "$netns" ] && [ -e "$fence.rst-drop" ]; then
    echo "$container" >>"$fence.restored"
    if [ "$rc" -ne 0 ] || [ "$(sort -u "$fence.restored" | wc -l)" -ge "$many" ]; then
      rst_drop -D; rm -f "$fence.rst-drop"; echo "$(date -u +%FT%T.%3NZ) pod: loopback RSTs pass again" >>"$fence.log"
    fi
  fi
  # Both from CRIU's work directory: its figures, and its log (troubleshooting), which CRI-O deletes too.
  for d in "${dirs[@]}" "$PWD"; do
    if [ -n "$d" ] && { [ -f "$d/stats-restore" ] || [ -f "$d/restore.log" ]; }; then
      install -d -m 0700 "$STATS"
      [ ! -f "$d/stats-restore" ] || cp "$d/stats-restore" "$STATS/$id.restore" 2>/dev/null
      [ ! -f "$d/restore.log" ] || install -m 0600 "$d/restore.log" "$STATS/$id.restore.log" 2>/dev/null
      break
    fi
  done
  if [ "$rc" -eq 0 ] && [ -n "$fence" ]; then fence_start "$fence" || true; fi
  exit "$rc"
fi
[ -d "$HOLDS" ] || exec "$REAL" "$@"
case $sub in pause | checkpoint | resume) ;; *) exec "$REAL" "$@" ;; esac
if ! [[ $id =~ ^[0-9a-f]{64}$ ]] || [ ! -f "$HOLDS/$id" ]; then exec "$REAL" "$@"; fi
hold=$(cat "$HOLDS/$id")
now() { date +%s%3N; }
# The container's own marks (containers/NAME, which the transfer of its archive reads); the hold's
# marks are the pod's: its first pause, its last dump, and held once every container is.
mine=$hold; name=$(cat "$hold/containers/$id.name" 2>/dev/null) && mine="$hold/containers/$name"
case $sub in
  pause)
    # The pod's other containers were frozen with the first one (below): CRI-O's pause finds this
    # one frozen already, which the runtime would refuse ("not running").
    if [ -s "$hold/pausedAt" ]; then [ -s "$mine/pausedAt" ] || now >"$mine/pausedAt"; exit 0; fi
    "$REAL" "$@" || exit
    at=$(now)
    # Frozen together: the pod's containers stop at the same moment, so what one sent the other is
    # in both dumps (a connection between them is restored consistent on both ends).
    if [ -f "$hold/cgroups" ]; then
      while read -r kind cg; do
        freeze "$kind" "$cg"
      done <"$hold/cgroups"
    fi
    echo "$at" >"$mine/pausedAt"; [ -s "$hold/pausedAt" ] || echo "$at" >"$hold/pausedAt" ;;
  checkpoint)
    rc=0; "$REAL" "$@" || rc=$?
    if [ "$rc" -ne 0 ]; then
      rm -f "$HOLDS/$id"; echo "the runtime's checkpoint exited $rc" >"$hold/failed"; exit "$rc"
    fi
    at=$(now); echo "$at" >"$mine/dumpedAt"; echo "$at" >"$hold/dumpedAt" ;;
  resume)
    if [ -s "$mine/dumpedAt" ] && [ ! -d "$hold/decision" ]; then
      if [ ! -s "$mine/heldAt" ]; then
        at=$(now); echo "$at" >"$mine/heldAt"
        # Held once every container of the pod is.
        held=0; total=0
        for f in "$hold"/containers/*.name; do [ -e "$f" ] || continue; total=$((total + 1)); [ ! -s "$hold/containers/$(cat "$f")/heldAt" ] || held=$((held + 1)); done
        if [ "$held" -ge "$total" ]; then [ -s "$hold/heldAt" ] || echo "$at" >"$hold/heldAt"; echo held >"$hold/state"; fi
      fi
      echo "live-migration-lab: container $id stays frozen for migration $(cat "$hold/id" 2>/dev/null) until its target commits (the lease gives it back otherwise)" >&2
      exit 1
    fi
    exec "$REAL" "$@" ;;
esac
