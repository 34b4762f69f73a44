"""live-migration-lab: fits a container's OCI spec (config.json, or an exec's process spec) to what
this node can grant, before the runtime creates the container or runs the exec (oci-runtime.sh runs
it for `create` and `exec` when the node's capability bounding set is not the full set).

Usage: python3 oci-spec-fit.py FILE STATUS config|process
  FILE: a bundle's config.json (config) or an exec's process spec (process: `runc exec --process`).
  STATUS: a /proc/<pid>/status file whose CapBnd is the node's bounding set (/proc/self/status).

Some hosts run the lab without CAP_SYS_RESOURCE in any bounding set (the CI machines do). There a
runtime cannot give a container a capability the node lacks (runc: "unable to apply caps") nor
lower its oom_score_adj below 0 ("failed to update /proc/self/oom_score_adj: Permission denied"),
which the kubelet asks for privileged pods and for node-critical ones (-997). Such a container
could never start there; it starts with the capabilities the node has and oom_score_adj 0. Prints
one line saying what it changed, or nothing.
"""
import json
import os
import sys

# Linux capability numbers (include/uapi/linux/capability.h), as OCI specs name them.
NAMES = ["CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
         "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
         "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
         "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
         "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
         "CHECKPOINT_RESTORE"]
SYS_RESOURCE = NAMES.index("SYS_RESOURCE")

config_path, status_path = sys.argv[1:3]
only_process = sys.argv[3] == "process"
with open(status_path) as f:
    bounding = int(next(line.split()[1] for line in f if line.startswith("CapBnd:")), 16)
have = {"CAP_" + name for i, name in enumerate(NAMES) if bounding >> i & 1}
with open(config_path) as f:
    spec = json.load(f)
process = spec if only_process else spec.get("process", {})
changed = []
for kind, caps in (process.get("capabilities") or {}).items():
    # Capabilities this list does not know (newer kernels) are kept: the runtime decides.
    kept = [c for c in caps if c in have or c[4:] not in NAMES]
    if kept != caps:
        changed.append(f"{kind} without {','.join(sorted(set(caps) - set(kept)))}")
        process["capabilities"][kind] = kept
if process.get("oomScoreAdj", 0) < 0 and not bounding >> SYS_RESOURCE & 1:
    changed.append(f"oomScoreAdj {process['oomScoreAdj']} -> 0")
    process["oomScoreAdj"] = 0
if changed:
    with open(config_path + ".tmp", "w") as f:
        json.dump(spec, f)
    os.replace(config_path + ".tmp", config_path)
    print("the node cannot grant: " + "; ".join(changed))
