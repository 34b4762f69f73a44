package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"path/filepath"
	"strings"
	"time"

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
