"""live-migration-lab: judges one probe of a restored workload (verify.sh): a Flink job, or a pod the stack brings.

Usage: python3 verdict.py PROBE_OUTPUT FIRST_PROBE_JSON JOB_ID RECORDS_BEFORE
Prints one word: ok (the same job, RUNNING, not below the source's count and grown since the first
probe), first (no growth seen yet), wrong-job ID, state STATE, or behind N < BEFORE.
"""
import json
import sys

p = json.loads(sys.argv[1].splitlines()[-1])
first = json.loads(sys.argv[2]) if sys.argv[2] else None
if p["jobId"] != sys.argv[3]:
    print("wrong-job " + p["jobId"])
elif p["state"] != "RUNNING":
    print("state " + p["state"])
elif p["records"] < int(sys.argv[4]):
    print("behind %d < %s" % (p["records"], sys.argv[4]))
elif first is None or p["records"] <= first["records"]:
    print("first")
else:
    print("ok")
