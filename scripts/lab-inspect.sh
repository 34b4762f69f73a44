# shellcheck shell=bash
# The commands of scripts/lab.sh that look at a lab that is up, changing nothing in it: status,
# timeline, kubeconfig, kubectl, ssh and logs. Sourced by lab.sh after pulumi_env (the stack is
# $STACK), with ROOT, PROJECT, STACK, FIELDS and lab_validate from it. Each reads the stack's outputs; the
# kubeconfig and the SSH key are secrets and go only into root-only files under .lab/.

# outputs: the stack's outputs as JSON (secrets not shown); fails, saying so, for a stack never brought up.
outputs() {
  pulumi stack output --json --stack "$STACK" 2>/dev/null ||
    { echo "lab.sh: stack $STACK has no outputs: bring the lab up first (scripts/lab.sh up)" >&2; return 1; }
}

lab_status() {
  local o
  o=$(outputs) || return 1
  printf '%s' "$o" | node -r ts-node/register/transpile-only "$ROOT/scripts/status.ts" status "$@"
}

# lab_timeline [ID] [FILE]: the SVG of hop ID (default the last) into FILE (default .lab/timeline-ID.svg).
lab_timeline() {
  local o out svg
  o=$(outputs) || return 1
  svg=$(printf '%s' "$o" | node -r ts-node/register/transpile-only "$ROOT/scripts/status.ts" timeline "${1:-}") || return 1
  out=${2:-$PROJECT/.lab/timeline-${1:-last}.svg}
  printf '%s\n' "$svg" >"$out"
  echo "lab.sh: timeline written to $out" >&2
}

# lab_where: LAB_DRIVER, and for the local driver LAB_NETNS (the lab's network namespace, which must
# exist: the nodes and the API server are reachable only from there) and LAB_STATE.
lab_where() {
  lab_validate || return 1
  LAB_DRIVER=${FIELDS[0]}
  [ "$LAB_DRIVER" = local ] || return 0
  LAB_STATE=${FIELDS[1]}
  LAB_NETNS=$(bash "$ROOT/scripts/local-node.sh" lab-netns "$LAB_STATE")
  [ -e "/run/netns/$LAB_NETNS" ] || { echo "lab.sh: the local lab is not up (no network namespace $LAB_NETNS): scripts/lab.sh up" >&2; return 1; }
}

# in_lab COMMAND...: COMMAND where the lab's nodes are reachable.
in_lab() { if [ "$LAB_DRIVER" = local ]; then nsenter --net="/run/netns/$LAB_NETNS" -- "$@"; else "$@"; fi; }

# lab_kubeconfig: writes the admin kubeconfig to .lab/kubeconfig-STACK (root-only); prints its path.
lab_kubeconfig() {
  local file="$PROJECT/.lab/kubeconfig-$STACK" text
  text=$(pulumi stack output kubeconfig --show-secrets --stack "$STACK" 2>/dev/null) || text=""
  if [ -z "$text" ] || [ "$text" = null ]; then
    echo "lab.sh: stack $STACK has no kubeconfig (kubernetes.enabled: false, or not up yet)" >&2; return 1
  fi
  (umask 077 && mkdir -p "$PROJECT/.lab" && printf '%s\n' "$text" >"$file")
  echo "$file"
}

# lab_kubectl ARGS: kubectl against the lab's API server (the lab's own kubectl for the local driver).
lab_kubectl() {
  local config bins=""
  lab_where || return 1
  config=$(lab_kubeconfig) || return 1
  if [ "$LAB_DRIVER" = local ] || ! command -v kubectl >/dev/null; then
    bins=$(bash "$ROOT/scripts/k8s-build.sh" --find "${FIELDS[3]}" "${FIELDS[4]}" 2>/dev/null) ||
      { command -v kubectl >/dev/null || { echo "lab.sh: no kubectl on PATH and none built for Kubernetes ${FIELDS[3]}" >&2; return 1; }; }
  fi
  in_lab env ${bins:+PATH="$bins:$PATH"} kubectl --kubeconfig "$config" "$@"
}

# lab_ssh NODE [COMMAND]: a shell (or COMMAND) on NODE with the lab's key, as root (existing hosts:
# LAB_SSH_USER if the stack's sshUser is another). Its host key is learned on first use into
# .lab/known_hosts-STACK and checked on every later one.
lab_ssh() {
  local name=${1:?usage: lab.sh ssh NODE [COMMAND]} address key tmp="" rc=0
  shift
  lab_where || return 1
  address=$(outputs | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const n=(JSON.parse(s).nodes||[]).find(n=>n.name===process.argv[1]);if(n)console.log(n.address)})' "$name") || return 1
  [ -n "$address" ] || { echo "lab.sh: no node $name in stack $STACK" >&2; return 1; }
  [ "$LAB_DRIVER" != vagrant ] || { echo "lab.sh: vagrant's VMs: vagrant ssh $name (in the stack's vagrant directory)" >&2; return 1; }
  if [ "$LAB_DRIVER" = local ]; then key="$LAB_STATE/ssh/id_ed25519"
  else
    tmp=$(mktemp -d) && chmod 0700 "$tmp" && key="$tmp/key"
    (umask 077 && pulumi config get sshPrivateKey --stack "$STACK" >"$key") || { rm -rf "$tmp"; echo "lab.sh: no sshPrivateKey in stack $STACK" >&2; return 1; }
  fi
  (umask 077 && mkdir -p "$PROJECT/.lab")
  in_lab ssh -i "$key" -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile="$PROJECT/.lab/known_hosts-$STACK" -o LogLevel=ERROR \
    "${LAB_SSH_USER:-root}@$address" "$@" || rc=$?
  [ -z "$tmp" ] || rm -rf "$tmp"
  return "$rc"
}

# lab_logs WORKLOAD [CONTAINER] [kubectl logs args]: the logs of the pod the workload runs in now.
lab_logs() {
  local name=${1:?usage: lab.sh logs WORKLOAD [CONTAINER]} pod
  shift
  pod=$(outputs | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const w=(JSON.parse(s).workloads||{})[process.argv[1]];if(w)console.log(w.pod)})' "$name") || return 1
  [ -n "$pod" ] || { echo "lab.sh: no workload $name in stack $STACK (scripts/lab.sh status lists them)" >&2; return 1; }
  if [ -n "${1:-}" ] && [ "${1#-}" = "$1" ]; then set -- -c "$1" "${@:2}"; fi
  lab_kubectl logs "$pod" "$@"
}
