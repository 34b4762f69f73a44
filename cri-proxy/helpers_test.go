// The tests' stand-in CRI-O, the proxy in front of it on a socket of its own, and their requests.

package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// fakeCRIO records what reaches CRI-O through the proxy.
type fakeCRIO struct {
	runtimeapi.UnimplementedRuntimeServiceServer
	mu      sync.Mutex
	creates []*runtimeapi.CreateContainerRequest
	md      metadata.MD
}

func (f *fakeCRIO) Version(ctx context.Context, r *runtimeapi.VersionRequest) (*runtimeapi.VersionResponse, error) {
	f.mu.Lock()
	f.md, _ = metadata.FromIncomingContext(ctx)
	f.mu.Unlock()
	return &runtimeapi.VersionResponse{Version: r.Version, RuntimeName: "cri-o", RuntimeVersion: "1.34.0"}, nil
}

func (f *fakeCRIO) CreateContainer(_ context.Context, r *runtimeapi.CreateContainerRequest) (*runtimeapi.CreateContainerResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.creates = append(f.creates, r)
	return &runtimeapi.CreateContainerResponse{ContainerId: "c" + r.Config.Metadata.Name}, nil
}

func (f *fakeCRIO) PodSandboxStatus(_ context.Context, r *runtimeapi.PodSandboxStatusRequest) (*runtimeapi.PodSandboxStatusResponse, error) {
	state := runtimeapi.PodSandboxState_SANDBOX_READY
	if r.PodSandboxId == "stopped" {
		state = runtimeapi.PodSandboxState_SANDBOX_NOTREADY
	}
	return &runtimeapi.PodSandboxStatusResponse{Status: &runtimeapi.PodSandboxStatus{Id: r.PodSandboxId, State: state}}, nil
}

func (f *fakeCRIO) StopContainer(context.Context, *runtimeapi.StopContainerRequest) (*runtimeapi.StopContainerResponse, error) {
	return nil, status.Error(codes.NotFound, "container \"x\" not found")
}

func (f *fakeCRIO) GetContainerEvents(_ *runtimeapi.GetEventsRequest, s runtimeapi.RuntimeService_GetContainerEventsServer) error {
	for i := 0; i < 3; i++ {
		if err := s.Send(&runtimeapi.ContainerEventResponse{ContainerId: string(rune('a' + i))}); err != nil {
			return err
		}
	}
	return nil
}

// lab starts a fake CRI-O and the proxy in front of it; returns a client of the proxy.
func lab(t *testing.T) (runtimeapi.RuntimeServiceClient, *fakeCRIO, string) {
	t.Helper()
	dir := t.TempDir()
	archives := filepath.Join(dir, "checkpoints")
	if err := os.Mkdir(archives, 0o700); err != nil {
		t.Fatal(err)
	}
	crioSock := filepath.Join(dir, "crio.sock")
	lis, err := net.Listen("unix", crioSock)
	if err != nil {
		t.Fatal(err)
	}
	fake := &fakeCRIO{}
	crio := grpc.NewServer()
	runtimeapi.RegisterRuntimeServiceServer(crio, fake)
	go crio.Serve(lis)
	t.Cleanup(crio.Stop)

	p, err := newProxy("unix://"+crioSock, archives, 300*time.Millisecond, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	proxySock := filepath.Join(dir, "cri.sock")
	plis, err := listenUnix(proxySock)
	if err != nil {
		t.Fatal(err)
	}
	srv := p.Server()
	go srv.Serve(plis)
	t.Cleanup(srv.Stop)

	conn, err := dial("unix://" + proxySock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return runtimeapi.NewRuntimeServiceClient(conn), fake, archives
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func createReq(annotations map[string]string) *runtimeapi.CreateContainerRequest {
	return &runtimeapi.CreateContainerRequest{
		PodSandboxId: "sb",
		Config: &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: "flink"},
			Image:    &runtimeapi.ImageSpec{Image: "sha256:base", UserSpecifiedImage: "localhost/flink:1.20.0"},
			Labels:   map[string]string{"io.kubernetes.container.name": "flink"},
		},
		SandboxConfig: &runtimeapi.PodSandboxConfig{
			Metadata:    &runtimeapi.PodSandboxMetadata{Name: "flink-minimal-m1", Namespace: "default", Uid: "u1"},
			Annotations: annotations,
		},
	}
}

func archive(t *testing.T, dir, name string, mode os.FileMode) string {
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte("tar"), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}
