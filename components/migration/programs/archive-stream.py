#!/usr/bin/env python3
# live-migration-lab: sends a checkpoint archive from the source while CRI-O is still writing it
# (transfer.sh runs it over SSH and writes its stdout to the target's copy).
#
#   send HOLD DIR PREFIX TIMEOUT [CONTAINER]   waits for CRI-O's pause of the held container
#       (its pausedAt mark, written by the runtime wrapper in HOLD/containers/CONTAINER, or HOLD
#       for a hold without per-container marks), then for the archive CRI-O creates in DIR (the
#       kubelet's checkpoint directory; name PREFIX...tar, made after that pause), and copies it to
#       stdout as it grows. CRI-O writes the whole archive before it tries to thaw the container,
#       which the wrapper records as the container's heldAt: past that mark, what is left is read to
#       the end. A failed dump (HOLD/failed), a hold decided without one, no pause within 30 s, or
#       TIMEOUT seconds without a whole archive end it with an error.
#   send-file PATH   copies a finished archive to stdout, the same way.
# Either prints, as its last stderr line, JSON: archive, sizeBytes, firstByteAt and pausedAt (CRI-O's
# first pause of the held pod; 0 for send-file), ms since the epoch.
#
# Why not rsync or `tail -f`: neither knows when a file that is being written is whole; here the
# runtime wrapper's mark says so. Why not after the checkpoint: CRI-O takes about as long to write
# the archive as SSH takes to carry it, and the job is frozen for both. The bytes go by sendfile(2),
# without passing through this process; digests are read by the cutover, outside the frozen window
# (hashing in flight, on both ends, doubled the copy's time on the lab's 2-core machine).
import errno
import fcntl
import json
import os
import sys
import time

CHUNK = 8 << 20
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)  # Python 3.10+ names it
PAUSE_WAIT = 30


def fail(message):
    print(message, file=sys.stderr)
    sys.exit(1)


def mark(hold, name):
    try:
        with open(os.path.join(hold, name)) as f:
            return f.read().strip()
    except OSError:
        return ""


def send(hold, directory, prefix, timeout, container=""):
    deadline = time.monotonic() + float(timeout)
    # The container's own marks; the hold's (the pod's) for a hold without them.
    marks = os.path.join(hold, "containers", container) if container else hold
    if not os.path.isdir(marks):
        marks = hold

    def check(waiting_for):
        failed = mark(hold, "failed")
        if failed:
            fail(f"the checkpoint failed ({failed}); no archive to send")
        if os.path.isdir(os.path.join(hold, "decision")) and not mark(marks, "heldAt"):
            fail(f"the hold was decided ({mark(hold, 'decision/by')}) before the archive was written")
        if time.monotonic() > deadline:
            fail(f"no {waiting_for} within {timeout}s")

    # The kubelet's checkpoint call starts with this step and CRI-O pauses first thing: a pause
    # that does not come within PAUSE_WAIT means the call failed before CRI-O got it.
    pause_wait = min(PAUSE_WAIT, float(timeout))
    paused, pause_deadline = "", time.monotonic() + pause_wait
    while not paused:
        if time.monotonic() > pause_deadline:
            fail(f"CRI-O did not pause the held container within {pause_wait:g}s (no {marks}/pausedAt): see the checkpoint step's error")
        check("pause")
        time.sleep(0.005)
        paused = mark(marks, "pausedAt")
    # Created after CRI-O's pause (same clock, ms): an earlier attempt's archive is older.
    since_ns = (int(paused) - 5) * 1_000_000
    path = None
    while path is None:
        check(f"archive {directory}/{prefix}*.tar after the pause")
        found = []
        with os.scandir(directory) as entries:
            for e in entries:
                if e.name.startswith(prefix) and e.name.endswith(".tar") and e.is_file(follow_symlinks=False):
                    mtime = e.stat(follow_symlinks=False).st_mtime_ns
                    if mtime >= since_ns:
                        found.append((mtime, e.path))
        if found:
            path = max(found)[1]
        else:
            time.sleep(0.005)

    def whole():
        if mark(marks, "heldAt"):
            return True  # written before CRI-O's thaw: read on to the end once more
        check(f"end of {path} (CRI-O still writing it)")
        time.sleep(0.002)
        return False

    copy(path, whole, int(mark(hold, "pausedAt") or paused))


def copy(path, whole, paused=0):
    """Copies path to stdout, reading on past its end until whole() says nothing more comes."""
    out, size, first = sys.stdout.fileno(), 0, 0
    try:
        # A 1 MB pipe to SSH (Linux's default pipe-max-size) instead of 64 KB: fewer, larger
        # sendfile(2) calls (600 MB into `cat`: 0.32-0.36 s instead of 0.53-0.67 s here).
        fcntl.fcntl(out, F_SETPIPE_SZ, 1 << 20)
    except OSError:
        pass  # not a pipe, or a lower cap
    fd = os.open(path, os.O_RDONLY)
    try:
        last = False
        while True:
            n = transfer(out, fd, size)
            if n:
                first = first or int(time.time() * 1000)
                size += n
            elif last:
                break
            else:
                last = whole()
        final = os.fstat(fd).st_size
    finally:
        os.close(fd)
    if size != final or size % 512:
        fail(f"{path}: sent {size} bytes of {final}; not a whole tar archive")
    print(json.dumps({"archive": path, "sizeBytes": size, "firstByteAt": first, "pausedAt": paused}), file=sys.stderr)


def transfer(out, fd, offset):
    """Up to CHUNK bytes from offset: by sendfile(2), or read and write where out does not take it."""
    try:
        return os.sendfile(out, fd, offset, CHUNK)
    except OSError as e:
        if e.errno not in (errno.EINVAL, errno.ENOSYS):
            raise
    data = os.pread(fd, CHUNK, offset)
    view = memoryview(data)
    while view:
        view = view[os.write(out, view):]
    return len(data)


if __name__ == "__main__":
    if len(sys.argv) in (6, 7) and sys.argv[1] == "send":
        send(*sys.argv[2:])
    elif len(sys.argv) == 3 and sys.argv[1] == "send-file":
        copy(sys.argv[2], lambda: True)
    else:
        fail("usage: archive-stream.py send HOLD DIR PREFIX TIMEOUT [CONTAINER] | send-file PATH")
