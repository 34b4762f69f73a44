"""live-migration-lab: CRIU's own figures for one dump or restore, read from its stats image
(stats-dump, stats-restore) with pycriu, CRIU's Python library (Debian: python3-pycriu).

Usage: python3 criu-stats.py FILE
Prints one JSON object: the dump's freezingMs, frozenMs, memdumpMs, memwriteMs, pagesScanned,
pagesWritten, pagesSkippedParent, or the restore's forkingMs, restoreMs, pagesRestored,
pagesCompared, pagesSkippedCow; {"unavailable": REASON} when the file or pycriu is missing.
"""
import json
import sys

MS = 1000.0  # CRIU counts times in microseconds
FIELDS = {
    "dump": [("freezing_time", "freezingMs", MS), ("frozen_time", "frozenMs", MS), ("memdump_time", "memdumpMs", MS),
             ("memwrite_time", "memwriteMs", MS), ("pages_scanned", "pagesScanned", 1),
             ("pages_written", "pagesWritten", 1), ("pages_skipped_parent", "pagesSkippedParent", 1)],
    "restore": [("forking_time", "forkingMs", MS), ("restore_time", "restoreMs", MS), ("pages_restored", "pagesRestored", 1),
                ("pages_compared", "pagesCompared", 1), ("pages_skipped_cow", "pagesSkippedCow", 1)],
}


def main(path):
    try:
        import pycriu
    except ImportError:
        return {"unavailable": "pycriu is not installed on this node (Debian: python3-pycriu)"}
    try:
        with open(path, "rb") as f:
            image = pycriu.images.load(f)
    except OSError as e:
        return {"unavailable": f"{path}: {e.strerror}"}
    entry = image["entries"][0]
    kind = "dump" if "dump" in entry else "restore"
    got = entry[kind]
    return {name: round(int(got.get(key, 0)) / scale, 3) if scale != 1 else int(got.get(key, 0)) for key, name, scale in FIELDS[kind]}


print(json.dumps(main(sys.argv[1])))
