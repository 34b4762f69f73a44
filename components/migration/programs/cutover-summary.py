"""live-migration-lab: the cutover step's one JSON line (cutover.sh): the verify probe of the restored
job, with the cutover's own timing and the source lease's timestamps.

Usage: python3 cutover-summary.py VERIFIED STATUS STARTED_AT SECONDS RESTORED_AT RETIRED DUMP RESTORE SHA256 [SHA256S]
  VERIFIED: verify.sh's output (its last line is the probe); STATUS: `lease.sh status` (JSON);
  DUMP, RESTORE: CRIU's figures (criu-stats.py's JSON); SHA256: the first container's archive's, the
  same on both ends; SHA256S: every container's, comma-separated.
"""
import json
import sys

v = json.loads(sys.argv[1].splitlines()[-1])
s = json.loads(sys.argv[2])
v.update(startedAt=int(sys.argv[3]), seconds=float(sys.argv[4]), restoredAt=int(sys.argv[5]), retired=int(sys.argv[6]),
         pausedAt=s["pausedAt"], dumpedAt=s["dumpedAt"], heldAt=s["heldAt"], committedAt=s["committedAt"],
         criu={"dump": json.loads(sys.argv[7]), "restore": json.loads(sys.argv[8])}, sha256=sys.argv[9],
         sha256s=sys.argv[10].split(",") if len(sys.argv) > 10 else [sys.argv[9]])
print(json.dumps(v))
