package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// The kubelet's own limit for CRI messages (pkg/kubelet/cri/remote: 16 MiB).
const maxMsgSize = 16 << 20

// RestoreAnnotationPrefix + container name is the pod annotation that names a container's archive.
const RestoreAnnotationPrefix = "live-migration-lab/restore."

const createContainer = "/runtime.v1.RuntimeService/CreateContainer"

type proxy struct {
	upstream   *grpc.ClientConn
	archiveDir string
	// How long CreateContainer waits for an archive that is not there yet (see waitForArchive).
	wait time.Duration
	// The oldest archive restored (0: any): past the migration's hold its source has the job back.
	maxAge time.Duration
}

func newProxy(runtime, archiveDir string, wait, maxAge time.Duration) (*proxy, error) {
	if !filepath.IsAbs(archiveDir) {
		return nil, fmt.Errorf("-archive-dir %q is not an absolute path", archiveDir)
	}
	conn, err := dial(runtime)
	if err != nil {
		return nil, fmt.Errorf("dialing %s: %w", runtime, err)
	}
	return &proxy{upstream: conn, archiveDir: filepath.Clean(archiveDir), wait: wait, maxAge: maxAge}, nil
}

func (p *proxy) Close() error { return p.upstream.Close() }

// Server is a gRPC server that forwards every method it is asked for to CRI-O.
func (p *proxy) Server() *grpc.Server {
	return grpc.NewServer(
		grpc.UnknownServiceHandler(p.forward),
		grpc.MaxRecvMsgSize(maxMsgSize), grpc.MaxSendMsgSize(maxMsgSize),
	)
}

// frame is one message as it travels, never decoded unless it is rewritten.
type frame struct{ b []byte }

// rawCodec passes frames through as bytes and encodes anything else as protobuf. It is registered
// as the process's "proto" codec rather than forced per call: a forced codec makes the request's
// content type "application/grpc+proto", and CRI-O, which serves gRPC and HTTP on one socket, sends
// gRPC only what says exactly "application/grpc" (anything else has its connection reset).
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) {
	if f, ok := v.(*frame); ok {
		return f.b, nil
	}
	return proto.Marshal(v.(proto.Message))
}
func (rawCodec) Unmarshal(data []byte, v any) error {
	if f, ok := v.(*frame); ok {
		f.b = append([]byte(nil), data...)
		return nil
	}
	return proto.Unmarshal(data, v.(proto.Message))
}
func (rawCodec) Name() string { return "proto" }

func init() { encoding.RegisterCodec(rawCodec{}) }

// forward relays one call of any kind (unary or streaming) to CRI-O and back.
func (p *proxy) forward(_ any, in grpc.ServerStream) error {
	method, ok := grpc.MethodFromServerStream(in)
	if !ok {
		return status.Error(codes.Internal, "cri-proxy: no method name on the stream")
	}
	ctx, cancel := context.WithCancel(in.Context())
	defer cancel()
	if md, ok := metadata.FromIncomingContext(in.Context()); ok {
		ctx = metadata.NewOutgoingContext(ctx, forwardable(md))
	}
	out, err := p.upstream.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, method)
	if err != nil {
		return err
	}
	// kubelet -> CRI-O
	sent := make(chan error, 1)
	go func() {
		for {
			f := &frame{}
			if err := in.RecvMsg(f); err != nil {
				if err == io.EOF {
					sent <- out.CloseSend()
				} else {
					sent <- err
				}
				return
			}
			if method == createContainer {
				if err := p.rewriteCreate(ctx, f); err != nil {
					sent <- err
					return
				}
			}
			if err := out.SendMsg(f); err != nil {
				sent <- nil // CRI-O's side ended: its status comes from RecvMsg below
				return
			}
		}
	}()
	// CRI-O -> kubelet
	recv := make(chan error, 1)
	go func() {
		first := true
		for {
			f := &frame{}
			if err := out.RecvMsg(f); err != nil {
				recv <- err
				return
			}
			if first {
				if h, err := out.Header(); err == nil {
					_ = in.SendHeader(h)
				}
				first = false
			}
			if err := in.SendMsg(f); err != nil {
				recv <- err
				return
			}
		}
	}()
	for {
		select {
		case err := <-sent:
			if err != nil {
				cancel()
				return err
			}
			sent = nil // the request side is done; wait for the answer
		case err := <-recv:
			in.SetTrailer(out.Trailer())
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}

// forwardable drops the HTTP/2 pseudo-headers and the transport headers gRPC sets again itself
// (grpc-* is reserved: a second grpc-accept-encoding makes CRI-O reset the connection).
func forwardable(md metadata.MD) metadata.MD {
	out := metadata.MD{}
	for k, v := range md {
		if strings.HasPrefix(k, ":") || strings.HasPrefix(k, "grpc-") || k == "content-type" || k == "user-agent" || k == "te" {
			continue
		}
		out[k] = v
	}
	return out
}

// rewriteCreate puts the archive's path in place of the image when the pod asks for a restore.
func (p *proxy) rewriteCreate(ctx context.Context, f *frame) error {
	req := &runtimeapi.CreateContainerRequest{}
	if err := proto.Unmarshal(f.b, req); err != nil {
		return status.Errorf(codes.InvalidArgument, "cri-proxy: CreateContainer request does not decode: %v", err)
	}
	name := req.GetConfig().GetMetadata().GetName()
	key := RestoreAnnotationPrefix + name
	archive, ok := req.GetSandboxConfig().GetAnnotations()[key]
	if !ok {
		return nil
	}
	pod := req.GetSandboxConfig().GetMetadata()
	where := fmt.Sprintf("pod %s/%s container %s", pod.GetNamespace(), pod.GetName(), name)
	if err := p.waitForArchive(ctx, archive, where); err != nil {
		return status.Errorf(codes.InvalidArgument, "cri-proxy: %s: annotation %s: %v", where, key, err)
	}
	// A pod deleted while its archive was on the way (a migration given up and redone) must not be
	// restored: CRI-O's restore path does not look at the sandbox's state itself.
	sb, err := runtimeapi.NewRuntimeServiceClient(p.upstream).PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: req.PodSandboxId})
	if err != nil {
		return status.Errorf(status.Code(err), "cri-proxy: %s: reading its sandbox before the restore: %v", where, err)
	}
	if st := sb.GetStatus().GetState(); st != runtimeapi.PodSandboxState_SANDBOX_READY {
		return status.Errorf(codes.FailedPrecondition, "cri-proxy: %s: its sandbox is %s; not restoring %s into it", where, st, archive)
	}
	if req.Config.Image == nil {
		req.Config.Image = &runtimeapi.ImageSpec{}
	}
	log.Printf("%s: restoring from %s (instead of image %s)", where, archive, req.Config.Image.Image)
	req.Config.Image.Image = archive
	b, err := proto.Marshal(req)
	if err != nil {
		return status.Errorf(codes.Internal, "cri-proxy: %s: re-encoding CreateContainer: %v", where, err)
	}
	f.b = b
	return nil
}

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
