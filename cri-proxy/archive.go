// The archive a restore asks for: waited for while the transfer brings it (woken by its rename into
// place), a newer attempt's archive taken over a failed one's, and checked before CRI-O sees it
// (a regular root-only file, not older than the hold allows).

package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// waitForArchive checks the archive, waiting while it does not exist yet: a migration creates the
// restored pod (its sandbox and network) while the source is still being checkpointed, and the
// transfer puts the archive in place atomically (rename) when it has arrived whole. It waits at
// most p.wait, and ends 2 s before the caller's deadline so the kubelet gets the reason. It also
// ends as soon as a retry's archive of the same hop arrives (NAME-DIGEST.tar beside NAME.tar, or
// another digest): the pod waiting is a failed attempt's, about to be replaced.
func (p *proxy) waitForArchive(ctx context.Context, path, where string) error {
	started := time.Now()
	until := started.Add(p.wait)
	if d, ok := ctx.Deadline(); ok && d.Add(-2*time.Second).Before(until) {
		until = d.Add(-2 * time.Second)
	}
	// The transfer's rename wakes the wait at once; the timer is the fallback where inotify is not to be had.
	wake, stop := watchDir(p.archiveDir)
	defer stop()
	logged := false
	for {
		err := p.checkArchive(path)
		if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if !logged {
			log.Printf("%s: waiting for %s", where, path)
			logged = true
		}
		if newer := p.retryArchive(path, started); newer != "" {
			return fmt.Errorf("%s will not come: %s, a later attempt's archive of the same hop, arrived instead", path, newer)
		}
		if !time.Now().Before(until) {
			return fmt.Errorf("%v; waited %s for it", err, p.wait.Round(time.Second))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// watchDir signals on the returned channel whenever a file is renamed into dir or written and
// closed there (inotify); stop ends the watch. Without inotify the channel never signals.
func watchDir(dir string) (<-chan struct{}, func()) {
	wake := make(chan struct{}, 1)
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return wake, func() {}
	}
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_MOVED_TO|unix.IN_CLOSE_WRITE); err != nil {
		unix.Close(fd)
		return wake, func() {}
	}
	// Non-blocking, so the File is pollable: Close ends the pending Read.
	f := os.NewFile(uintptr(fd), "inotify "+dir)
	go func() {
		buf := make([]byte, 4096)
		for {
			if _, err := f.Read(buf); err != nil {
				return
			}
			select {
			case wake <- struct{}{}:
			default:
			}
		}
	}()
	return wake, func() { f.Close() }
}

// retryArchive names an archive of the same hop as path (HOP.tar or HOP-DIGEST.tar) that is not
// path and arrived after since, or "".
func (p *proxy) retryArchive(path string, since time.Time) string {
	hop := strings.TrimSuffix(filepath.Base(path), ".tar")
	if i := strings.LastIndex(hop, "-"); i > 0 && isHex(hop[i+1:]) {
		hop = hop[:i]
	}
	entries, err := os.ReadDir(p.archiveDir)
	if err != nil {
		return ""
	}
	for _, e := range entries {
		name := e.Name()
		other := filepath.Join(p.archiveDir, name)
		if other == path || !strings.HasSuffix(name, ".tar") {
			continue
		}
		if rest, ok := strings.CutPrefix(strings.TrimSuffix(name, ".tar"), hop+"-"); ok && isHex(rest) {
			if fi, err := e.Info(); err == nil && fi.ModTime().After(since) {
				return other
			}
		}
	}
	return ""
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return true
}

// checkArchive accepts a regular file directly in the archive directory, owned by this process's
// user, with no access for group or others (archives hold process memory).
func (p *proxy) checkArchive(path string) error {
	if !filepath.IsAbs(path) || filepath.Clean(path) != path {
		return fmt.Errorf("%q is not a clean absolute path", path)
	}
	if filepath.Dir(path) != p.archiveDir {
		return fmt.Errorf("%s is not in the archive directory %s; archives are restored from there only", path, p.archiveDir)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("no archive: %w (the migration's transfer step puts it there)", err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file (%s)", path, fi.Mode().Type())
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%s has mode %04o; an archive holds process memory and must be 0600", path, fi.Mode().Perm())
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
		return fmt.Errorf("%s is owned by uid %d, not %d", path, st.Uid, os.Getuid())
	}
	// The transfer renames the archive into place when it has arrived: its time is the arrival's.
	if age := time.Since(fi.ModTime()); p.maxAge > 0 && age > p.maxAge {
		return fmt.Errorf("%s arrived %s ago, longer than the migration's hold (%s): its source has taken the job back, so a restore would run a stale second copy", path, age.Round(time.Second), p.maxAge)
	}
	return nil
}
