package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestUnaryCallsPassThroughWithMetadata(t *testing.T) {
	c, fake, _ := lab(t)
	// The client's grpc-accept-encoding is its transport's own: forwarding it too would send CRI-O
	// the header twice, and CRI-O (grpc-go 1.7x) resets such a connection.
	r, err := c.Version(metadata.AppendToOutgoingContext(ctx(t), "x-trace", "42"), &runtimeapi.VersionRequest{Version: "v1"}, grpc.UseCompressor("gzip"))
	if err != nil {
		t.Fatal(err)
	}
	if r.RuntimeName != "cri-o" || r.Version != "v1" {
		t.Fatalf("got %+v", r)
	}
	if got := fake.md.Get("x-trace"); len(got) != 1 || got[0] != "42" {
		t.Fatalf("metadata not forwarded: %v", fake.md)
	}
	// CRI-O hands a connection to gRPC only when its content type is exactly this (cmux).
	if got := fake.md.Get("content-type"); len(got) != 1 || got[0] != "application/grpc" {
		t.Fatalf("content-type %v", got)
	}
	if got := fake.md.Get("grpc-accept-encoding"); len(got) > 1 {
		t.Fatalf("grpc-accept-encoding sent %d times: %v", len(got), got)
	}
}

func TestErrorsKeepTheirStatus(t *testing.T) {
	c, _, _ := lab(t)
	_, err := c.StopContainer(ctx(t), &runtimeapi.StopContainerRequest{ContainerId: "x"})
	if status.Code(err) != codes.NotFound || !strings.Contains(err.Error(), `container "x" not found`) {
		t.Fatalf("got %v", err)
	}
	// A method CRI-O does not implement stays Unimplemented, as the kubelet expects.
	_, err = c.ListMetricDescriptors(ctx(t), &runtimeapi.ListMetricDescriptorsRequest{})
	if status.Code(err) != codes.Unimplemented {
		t.Fatalf("got %v", err)
	}
}

func TestServerStreamsPassThrough(t *testing.T) {
	c, _, _ := lab(t)
	s, err := c.GetContainerEvents(ctx(t), &runtimeapi.GetEventsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for {
		e, err := s.Recv()
		if err != nil {
			break
		}
		got = append(got, e.ContainerId)
	}
	if strings.Join(got, "") != "abc" {
		t.Fatalf("got %v", got)
	}
}

func TestCreateWithoutAnnotationIsUntouched(t *testing.T) {
	c, fake, _ := lab(t)
	if _, err := c.CreateContainer(ctx(t), createReq(map[string]string{"other": "x"})); err != nil {
		t.Fatal(err)
	}
	if got := fake.creates[0].Config.Image.Image; got != "sha256:base" {
		t.Fatalf("image changed to %q", got)
	}
}

func TestCreateWithAnnotationRestoresFromTheArchive(t *testing.T) {
	c, fake, dir := lab(t)
	path := archive(t, dir, "m1.tar", 0o600)
	r, err := c.CreateContainer(ctx(t), createReq(map[string]string{RestoreAnnotationPrefix + "flink": path}))
	if err != nil {
		t.Fatal(err)
	}
	got := fake.creates[0]
	if got.Config.Image.Image != path || r.ContainerId != "cflink" {
		t.Fatalf("got image %q id %q", got.Config.Image.Image, r.ContainerId)
	}
	// Everything else arrives as sent.
	if got.Config.Image.UserSpecifiedImage != "localhost/flink:1.20.0" || got.SandboxConfig.Metadata.Uid != "u1" || got.PodSandboxId != "sb" {
		t.Fatalf("request changed: %+v", got)
	}
}

func TestCreateWaitsForAnArchiveOnItsWay(t *testing.T) {
	c, fake, dir := lab(t)
	path := filepath.Join(dir, "m2.tar")
	go func() {
		time.Sleep(150 * time.Millisecond)
		archive(t, dir, "m2.tar.part", 0o600)
		os.Rename(path+".part", path)
	}()
	if _, err := c.CreateContainer(ctx(t), createReq(map[string]string{RestoreAnnotationPrefix + "flink": path})); err != nil {
		t.Fatal(err)
	}
	if got := fake.creates[0].Config.Image.Image; got != path {
		t.Fatalf("image %q", got)
	}
}

func TestTheTransfersRenameWakesTheWait(t *testing.T) {
	dir := t.TempDir()
	wake, stop := watchDir(dir)
	defer stop()
	if err := os.WriteFile(filepath.Join(dir, "m2.tar.part"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	<-wake // the .part written and closed
	if err := os.Rename(filepath.Join(dir, "m2.tar.part"), filepath.Join(dir, "m2.tar")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-wake:
	case <-time.After(10 * time.Second):
		t.Fatal("no inotify event for the rename")
	}
}

func TestAFailedAttemptsPodStopsWaitingWhenARetrysArchiveArrives(t *testing.T) {
	c, fake, dir := lab(t)
	go func() {
		time.Sleep(100 * time.Millisecond)
		archive(t, dir, "m2-ef7afd83fae8.tar", 0o600)
	}()
	started := time.Now()
	_, err := c.CreateContainer(ctx(t), createReq(map[string]string{RestoreAnnotationPrefix + "flink": filepath.Join(dir, "m2.tar")}))
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "m2-ef7afd83fae8.tar, a later attempt's archive of the same hop, arrived instead") {
		t.Fatalf("got %v", err)
	}
	if time.Since(started) > 250*time.Millisecond {
		t.Fatalf("waited %s", time.Since(started))
	}
	// Another hop's archive, or an older one of the same hop, is no reason to stop.
	archive(t, dir, "m20-aaaa.tar", 0o600)
	path := filepath.Join(dir, "m3-bbbb.tar")
	go func() {
		time.Sleep(100 * time.Millisecond)
		archive(t, dir, "m3-bbbb.tar", 0o600)
	}()
	if _, err := c.CreateContainer(ctx(t), createReq(map[string]string{RestoreAnnotationPrefix + "flink": path})); err != nil {
		t.Fatal(err)
	}
	if len(fake.creates) != 1 {
		t.Fatalf("%d creates", len(fake.creates))
	}
}

func TestNoRestoreIntoASandboxThatIsNotReady(t *testing.T) {
	c, fake, dir := lab(t)
	req := createReq(map[string]string{RestoreAnnotationPrefix + "flink": archive(t, dir, "m1.tar", 0o600)})
	req.PodSandboxId = "stopped"
	refused(t, c, fake, req, codes.FailedPrecondition, "its sandbox is SANDBOX_NOTREADY")
}

// refused: the request fails with code and a message containing want, and never reaches CRI-O.
func refused(t *testing.T, c runtimeapi.RuntimeServiceClient, fake *fakeCRIO, req *runtimeapi.CreateContainerRequest, code codes.Code, want string) {
	t.Helper()
	_, err := c.CreateContainer(ctx(t), req)
	if status.Code(err) != code || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want %s with %q", err, code, want)
	}
	if len(fake.creates) != 0 {
		t.Fatal("the request reached CRI-O")
	}
}

func TestAnArchiveOlderThanTheHoldIsNotRestored(t *testing.T) {
	c, fake, dir := lab(t)
	path := archive(t, dir, "m1.tar", 0o600)
	old := time.Now().Add(-61 * time.Second)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	refused(t, c, fake, createReq(map[string]string{RestoreAnnotationPrefix + "flink": path}), codes.InvalidArgument,
		"arrived 1m1s ago, longer than the migration's hold (1m0s)")
}

func TestAnnotationForAnotherContainerIsIgnored(t *testing.T) {
	c, fake, dir := lab(t)
	path := archive(t, dir, "m1.tar", 0o600)
	if _, err := c.CreateContainer(ctx(t), createReq(map[string]string{RestoreAnnotationPrefix + "sidecar": path})); err != nil {
		t.Fatal(err)
	}
	if got := fake.creates[0].Config.Image.Image; got != "sha256:base" {
		t.Fatalf("image changed to %q", got)
	}
}

func TestBadArchivesAreRefusedBeforeCRIO(t *testing.T) {
	c, fake, dir := lab(t)
	outside := t.TempDir()
	link := filepath.Join(dir, "link.tar")
	if err := os.Symlink(archive(t, outside, "x.tar", 0o600), link); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "d.tar"), 0o700); err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		archive(t, outside, "m1.tar", 0o600): "is not in the archive directory",
		dir + "/../checkpoints/m1.tar":       "is not a clean absolute path",
		"m1.tar":                             "is not a clean absolute path",
		filepath.Join(dir, "missing.tar"):    "no archive",
		archive(t, dir, "open.tar", 0o644):   "has mode 0644",
		link:                                 "is not a regular file",
		filepath.Join(dir, "d.tar"):          "is not a regular file",
	}
	for path, want := range cases {
		_, err := c.CreateContainer(ctx(t), createReq(map[string]string{RestoreAnnotationPrefix + "flink": path}))
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), want) ||
			!strings.Contains(err.Error(), "pod default/flink-minimal-m1 container flink") {
			t.Errorf("%s: got %v, want InvalidArgument with %q", path, err, want)
		}
	}
	if len(fake.creates) != 0 {
		t.Fatalf("%d refused requests reached CRI-O", len(fake.creates))
	}
}

func TestAStaleSocketIsReplacedButNotAFile(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "s.sock")
	l, err := listenUnix(sock)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	l, err = listenUnix(sock)
	if err != nil {
		t.Fatalf("stale socket: %v", err)
	}
	l.Close()
	file := filepath.Join(dir, "f")
	os.WriteFile(file, nil, 0o600)
	if _, err := listenUnix(file); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("got %v", err)
	}
}
