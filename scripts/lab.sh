#!/usr/bin/env bash
# The project's one entry point, used by the README and by CI alike. `scripts/lab.sh help` (or
# -h, --help, COMMAND --help) prints what follows, from `usage:` to its end, and installs nothing.
#
# usage: scripts/lab.sh COMMAND [ARGS]
#   up [pulumi args]          build or update the lab stack ($LAB_STACK, default dev): nodes, their
#                             CRIU/CRI-O/runc files, Kubernetes, the workloads; carries out new migrations
#   preview [pulumi args]     what `up` would change, config drift on the nodes included
#   migrate NODE [WORKLOAD]   append a migration of the workload (the Flink job, or a name from
#                             `workloads`; needed once the stack runs several) to NODE, then `up`
#   destroy [pulumi args]     remove everything the stack made; hosts get their own files back
#                             (up, preview and migrate run the policy pack (policy/) too;
#                             --no-policy or LAB_POLICY=0 leaves it out)
#   status [N]                the nodes (address, cgroup, init, kernel, CRIU), where each workload
#                             runs with the figure its last hop verified, and the last N hops (5)
#   timeline [ID] [FILE]      the SVG timeline of hop ID (default: the last) from its outputs
#   kubeconfig                write the lab's admin kubeconfig (root-only) to .lab/; print its path
#   kubectl ARGS              kubectl against the lab's API server (inside the local lab's network)
#   ssh NODE [COMMAND]        a shell or COMMAND on a node, as the program reaches it
#   logs WORKLOAD [CONTAINER] the logs of the pod the workload runs in now (kubectl logs args follow)
#   test [mocha args]         install what the project needs (Node 22, npm packages, the Pulumi
#                             engine), then run the engine's Go tests, the unit suite (npm test: no
#                             root, no engine) and the end-to-end suite (npm run test:e2e: the real
#                             engine and, as root, the local lab); mocha args (--grep ...) go to both
#   npm run test:vm           the VM suite apart (cgroup v2 + systemd hosts under QEMU, as root)
#   bench lab                 benchmarks that print figures (scripts/bench.ts); also
#   npm run bench:migrate -- --runs N --svg FILE   (npm scripts get the engine on PATH)
#   pulumi ARGS               the Pulumi engine, with the lab's backend and passphrase
#   engine                    only make the Pulumi engine available (scripts/engine.sh)
#   exec COMMAND [ARGS]       any command with the project's Node 22 first on PATH
#   help                      this text
#
# Pulumi state lives in a local file backend under .lab/state with a passphrase secrets provider
# (passphrase kept in .lab/passphrase, mode 0600), unless PULUMI_BACKEND_URL or
# PULUMI_CONFIG_PASSPHRASE(_FILE) say otherwise. LAB_STACK picks the stack (default dev),
# LAB_PROJECT_DIR another copy of the project.
#
# Node 22 LTS is the target. Where the system Node is older (Debian 12 ships 20, which is end of
# life), Node 22 comes from the npm registry's `node-linux-<arch>` package and is cached on disk by
# version, so no download site other than the registry is needed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NODE_VERSION=22.23.3
CACHE_DIR=${LAB_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/live-migration-lab}

fail() { echo "lab.sh: $*" >&2; exit 1; }
usage() { sed -n '/^# usage:/,/^[^#]/{/^#/!d; s/^# \{0,1\}//; p}' "${BASH_SOURCE[0]}"; }
# Help before anything is installed: no command, help, -h/--help, or COMMAND --help / -h.
case "${1:-}" in
  "") usage >&2; exit 2 ;;
  help | -h | --help) usage; exit 0 ;;
  up | preview | migrate | destroy | status | timeline | kubeconfig | kubectl | ssh | logs | test | bench | engine | pulumi | npm | exec)
    if [ "${2:-}" = --help ] || [ "${2:-}" = -h ]; then usage; exit 0; fi ;;
  *) echo "lab.sh: unknown command '$1'" >&2; usage >&2; exit 2 ;;
esac

node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

# Prints the directory holding a Node >= 22 binary, installing the pinned one when needed.
ensure_node() {
  local sys
  sys=$(command -v node || true)
  if [ -n "$sys" ] && [ "$(node_major "$sys")" -ge 22 ]; then
    dirname "$sys"
    return
  fi
  local arch
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) fail "no Node 22 package for machine $(uname -m); install Node >= 22 yourself" ;;
  esac
  local dir="$CACHE_DIR/node-$NODE_VERSION-$arch"
  local bin="$dir/node_modules/node-linux-$arch/bin"
  if [ ! -x "$bin/node" ]; then
    command -v npm >/dev/null || fail "needs npm (any version) to fetch Node $NODE_VERSION from the npm registry"
    echo "lab.sh: installing Node $NODE_VERSION from the npm registry into $dir" >&2
    rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
    npm install --no-save --no-audit --no-fund --ignore-scripts --loglevel=error \
      --prefix "$dir.tmp" "node-linux-$arch@$NODE_VERSION" >&2
    rm -rf "$dir" && mv "$dir.tmp" "$dir"
  fi
  [ "$("$bin/node" -v)" = "v$NODE_VERSION" ] || fail "$bin/node is not v$NODE_VERSION"
  echo "$bin"
}

# npm ci when node_modules does not match package-lock.json. --ignore-scripts because the provider
# packages' postinstall tries `pulumi plugin install` from a download site (and exits 0 on failure).
ensure_modules() {
  local stamp="$ROOT/node_modules/.lab-lock-sha256"
  local want
  want=$(sha256sum "$ROOT/package-lock.json" | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    (cd "$ROOT" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
    echo "$want" >"$stamp"
  fi
}

# test_packages WHAT PACKAGE...: installs Debian packages the tests need (WHAT says which).
test_packages() {
  local what=$1; shift
  command -v apt-get >/dev/null || fail "the tests need $what; install it with your package manager"
  echo "lab.sh: installing Debian's $what for the tests" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null; } ||
    fail "could not install $what (apt-get install --no-install-recommends $*)"
}

# The end-to-end suite checks the vagrant driver's Vagrantfile with `vagrant validate` (Debian's vagrant and
# vagrant-libvirt; no VM is made).
ensure_vagrant() {
  local home
  if command -v vagrant >/dev/null; then
    home=$(mktemp -d)  # vagrant writes its home on every call: not the user's
    if VAGRANT_HOME=$home VAGRANT_CHECKPOINT_DISABLE=1 vagrant plugin list 2>/dev/null | grep -q vagrant-libvirt; then rm -rf "$home"; return; fi
    rm -rf "$home"
  fi
  test_packages "vagrant and vagrant-libvirt" vagrant vagrant-libvirt
}

NODE_BIN=$(ensure_node)
export PATH="$NODE_BIN:$ROOT/node_modules/.bin:$PATH"
ensure_modules
# shellcheck source=scripts/engine.sh
. "$ROOT/scripts/engine.sh"

# The engine's environment: local state, passphrase secrets, no update checks.
pulumi_env() {
  export PULUMI_BACKEND_URL=${PULUMI_BACKEND_URL:-file://$ROOT/.lab/state}
  case "$PULUMI_BACKEND_URL" in file://*) mkdir -p "${PULUMI_BACKEND_URL#file://}" ;; esac
  if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
    if [ ! -f "$ROOT/.lab/passphrase" ]; then
      (umask 077 && mkdir -p "$ROOT/.lab" && head -c 32 /dev/urandom | base64 >"$ROOT/.lab/passphrase")
    fi
    export PULUMI_CONFIG_PASSPHRASE_FILE="$ROOT/.lab/passphrase"
  fi
  export PULUMI_SKIP_UPDATE_CHECK=true
}

STACK=${LAB_STACK:-dev}
# Selects (or creates) the stack; on the file backend, first clears a lock left by a pulumi that was
# killed mid-update (scripts/stale-lock.sh says whose).
select_stack() {
  case "$PULUMI_BACKEND_URL" in file://*) bash "$ROOT/scripts/stale-lock.sh" "${PULUMI_BACKEND_URL#file://}" "$STACK" || true ;; esac
  pulumi stack select --create "$STACK" >/dev/null
}

# The local driver's nodes live in the lab's own network namespace, and so does everything that
# talks to them: the lab network (and the cached rootfs) are made here, in the host's network
# namespace, and pulumi then runs inside the lab's.
#
# The host is prepared only from a config the program's own validation accepted
# (scripts/lab-config.ts): a stack the program would refuse never gets as far as a build, a
# directory or a namespace, and the values arrive NUL-separated, never split or globbed by the shell.
# Sets LAB_WHERE (local | remote) and, for the local driver, LAB_STATE, LAB_NETNS and LAB_BINS
# (the Kubernetes bin directory, or -). Returns non-zero, having said why, when anything fails.
export LAB_ROOTFS_CACHE=${LAB_ROOTFS_CACHE:-$CACHE_DIR/rootfs}
# lab_validate: the program's own validation of the stack config (scripts/lab-config.ts), which says
# what is wrong on stderr; on success FIELDS holds the host's share of the config.
lab_validate() {
  local json done_hops
  json=$(pulumi config --json --stack "$STACK") || { echo "lab.sh: could not read the config of stack $STACK" >&2; return 1; }
  # The hops carried out (none on a new stack): an entry without workload means the one it moved.
  done_hops=$(pulumi stack output migrations --json --stack "$STACK" 2>/dev/null) || done_hops=null
  # The last field is lab-config's exit status (a process substitution's is not seen otherwise).
  mapfile -d '' FIELDS < <(rc=0; node -r ts-node/register/transpile-only "$ROOT/scripts/lab-config.ts" <(printf '%s' "$done_hops") <<<"$json" || rc=$?; echo -n "$rc")
  [ "${FIELDS[-1]}" = 0 ] || return 1
  unset 'FIELDS[-1]'
}
lab_network() {
  lab_validate || return 1
  local fields=("${FIELDS[@]}")
  local driver=${fields[0]} state=${fields[1]} subnet=${fields[2]} k8s=${fields[3]} crio=${fields[4]} flink=${fields[5]}
  LAB_WHERE=remote
  [ "$driver" = local ] || return 0
  # Kubernetes, CRI-O and the Flink image's inputs are made here too: the Go module proxy,
  # Maven Central and Debian's mirrors are not reachable from the lab.
  LAB_BINS=-
  if [ "$k8s" != - ]; then
    LAB_BINS=$(bash "$ROOT/scripts/k8s-build.sh" "$k8s" "$crio") || return 1
    echo "lab.sh: Kubernetes and CRI-O binaries: $(cat "$LAB_BINS/SOURCE" 2>/dev/null || echo "built from the Go module proxy")" >&2
  fi
  if [ "$flink" != - ]; then bash "$ROOT/scripts/flink-build.sh" "$flink" >/dev/null || return 1; fi
  # The workloads' images: a Debian rootfs per package list (the nodes build the images from it).
  local image packages=()
  for image in "${fields[@]:6}"; do
    read -ra packages <<<"$image"
    bash "$ROOT/scripts/rootfs-build.sh" --workload "${packages[@]}" >/dev/null || return 1
  done
  LAB_NETNS=$(bash "$ROOT/scripts/local-node.sh" lab-up "$subnet" "$state") || return 1
  LAB_STATE=$state LAB_WHERE=local
}

# lab_pulumi ARGS: pulumi ARGS, inside the lab network namespace for the local driver (with the
# lab's kubectl on PATH for the kubernetes provider).
lab_pulumi() {
  lab_network || return 1
  if [ "$LAB_WHERE" = local ]; then
    [ "$LAB_BINS" = - ] || export PATH="$LAB_BINS:$PATH"
    local rc=0
    nsenter --net="/run/netns/$LAB_NETNS" -- pulumi "$@" || rc=$?
    # With no node up (a preview of a lab never brought up, a destroyed or failed one) the lab
    # network is not kept: the next call makes it again.
    bash "$ROOT/scripts/local-node.sh" lab-down "$LAB_STATE" 2>/dev/null || true
    return "$rc"
  else
    pulumi "$@"
  fi
}

cmd=$1
shift
# The Pulumi project: this checkout, or a copy of it (LAB_PROJECT_DIR; the end-to-end tests' stacks).
PROJECT=${LAB_PROJECT_DIR:-$ROOT}
cd "$PROJECT"
# The policy pack's guard rails go with every up and preview of the lab stack, unless asked not to.
POLICY=(--policy-pack "$ROOT/policy")
case "$cmd" in
  up | preview | migrate)
    args=()
    for a in "$@"; do if [ "$a" = --no-policy ]; then LAB_POLICY=0; else args+=("$a"); fi; done
    set -- ${args[@]+"${args[@]}"}
    [ "${LAB_POLICY:-1}" != 0 ] || POLICY=() ;;
esac
case "$cmd" in
  test)
    # The unit tests install their pinned ShellCheck from PyPI (tests/harness/shellcheck.ts).
    python3 -m pip --version >/dev/null 2>&1 || test_packages "Python's pip" python3-pip
    ensure_vagrant
    ensure_engine
    (cd engine && ensure_go && go test ./...)
    (cd cri-proxy && ensure_go && go test ./...)
    npm test -- "$@"
    # The VM suite (npm run test:vm, cgroup v2 + systemd hosts under QEMU) is its own command: a cold
    # CI with it would run past an hour.
    exec npm run test:e2e -- "$@" ;;
  bench) ensure_engine && exec npm run bench -- "$@" ;;
  # npm scripts (npm test, npm run bench:migrate, ...) get the engine on PATH too.
  npm) ensure_engine && exec npm "$@" ;;
  engine)
    ensure_engine
    pulumi version && pulumi plugin ls
    cat "$PULUMI_HOME/engine-sources" ;;
  up | preview)
    ensure_engine && pulumi_env && select_stack
    [ "$cmd" = preview ] || set -- --yes "$@"
    lab_pulumi "$cmd" --stack "$STACK" ${POLICY[@]+"${POLICY[@]}"} "$@" ;;
  destroy)
    ensure_engine && pulumi_env && select_stack
    lab_pulumi destroy --stack "$STACK" --yes "$@" ;;
  migrate)
    node_name=${1:?usage: lab.sh migrate NODE [WORKLOAD]}
    shift
    # The workload to move: needed once the stack runs more than one (`flink`, or a name from `workloads`).
    workload=""; if [ -n "${1:-}" ] && [ "${1#-}" = "$1" ]; then workload=$1; shift; fi
    ensure_engine && pulumi_env && select_stack
    count=$(pulumi config get --stack "$STACK" migrations --json 2>/dev/null | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{const v=JSON.parse(s);console.log(JSON.parse(v.value??"[]").length)}catch{console.log(0)}})')
    id="m$((count + 1))"
    pulumi config set --stack "$STACK" --path "migrations[$count].id" "$id"
    pulumi config set --stack "$STACK" --path "migrations[$count].to" "$node_name"
    [ -z "$workload" ] || pulumi config set --stack "$STACK" --path "migrations[$count].workload" "$workload"
    # A request the program's validation refuses (bad node, no Kubernetes, ...) is taken back, not
    # left behind. The update then runs the policy pack once, as it goes (no preview first).
    if ! lab_validate; then
      pulumi config rm --stack "$STACK" --path "migrations[$count]"
      fail "migration $id to $node_name was not requested"
    fi
    echo "lab.sh: requested migration $id${workload:+ of $workload} to $node_name" >&2
    lab_pulumi up --stack "$STACK" --yes --skip-preview ${POLICY[@]+"${POLICY[@]}"} "$@" ;;
  status | timeline | kubeconfig | kubectl | ssh | logs)
    ensure_engine && pulumi_env
    # shellcheck source=scripts/lab-inspect.sh
    . "$ROOT/scripts/lab-inspect.sh"
    "lab_$cmd" "$@" ;;
  pulumi) ensure_engine && pulumi_env && exec pulumi "$@" ;;
  exec) exec "$@" ;;
esac
