"""live-migration-lab: what a Flink job in a pod is doing, asked through Flink's REST API inside the
pod's network namespace (the endpoint listens on loopback only), from the node the pod runs on.

Usage: python3 probe.py PID POD NODE REST_PORT
  PID: the pod container's first process on the node. Prints one JSON line (components/flink/flink.ts
  FlinkProbe): pod, node, jobId, state, startTime, records (read-records of every vertex: only ever
  grows while the job lives), checkpoints (completed), rssBytes (every process of the container), at.
"""
import json
import os
import subprocess
import sys
import time

pid, pod, node, port = sys.argv[1:5]


def rest(path):
    out = subprocess.run(["nsenter", "-t", pid, "-n", "curl", "-sf", "--max-time", "5", f"http://127.0.0.1:{port}" + path],
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"Flink's REST API in pod {pod} did not answer {path} (curl exit {out.returncode})")
    return json.loads(out.stdout)


jobs = rest("/jobs/overview")["jobs"]
if not jobs:
    sys.exit(f"no Flink job in pod {pod}")
job = sorted(jobs, key=lambda j: (j["state"] != "RUNNING", -j["start-time"]))[0]
detail = rest(f"/jobs/{job['jid']}")
records = sum(v["metrics"].get("read-records", 0) for v in detail["vertices"])
counts = rest(f"/jobs/{job['jid']}/checkpoints").get("counts", {})
ns = os.readlink(f"/proc/{pid}/ns/pid")
rss = 0
for p in filter(str.isdigit, os.listdir("/proc")):
    try:
        if os.readlink(f"/proc/{p}/ns/pid") != ns:
            continue
        with open(f"/proc/{p}/status") as status:
            rss += next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) * 1024
    except (OSError, StopIteration):
        pass
print(json.dumps({"pod": pod, "node": node, "jobId": job["jid"], "state": job["state"], "startTime": job["start-time"],
                  "records": records, "checkpoints": counts.get("completed", 0), "rssBytes": rss, "at": int(time.time() * 1000)}))
