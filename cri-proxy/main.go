// Command cri-proxy sits between the kubelet and CRI-O on a lab node. It passes every CRI call
// through unchanged, byte for byte, except one: CreateContainer for a container whose pod asks to
// be restored from a checkpoint archive on this node, where it puts the archive's path in place of
// the image. CRI-O then restores the container straight from the archive (cri-o
// server/container_create.go: an image string that stats as a file goes to CRImportCheckpoint),
// so no checkpoint image is built inside a migration's frozen window.
//
// A pod asks with the annotation
//
//	live-migration-lab/restore.<container>: <archive path>
//
// The path must be a regular file (not a link) in the archive directory (-archive-dir), owned by
// this process's user and readable by it alone; anything else fails the CreateContainer call with
// a message that says why, rather than starting the container fresh. An archive that is not there
// yet is waited for (-archive-wait, 30 s): a migration creates the restored pod, its sandbox and
// network, while the source is still being checkpointed, so only CRI-O's restore is left once it
// arrives. The wait is short because the kubelet works on one pod's calls in turn: a pod whose
// archive never comes (a failed hop) can only be deleted once the wait is over. An archive that
// arrived longer ago than the migration's hold (-max-age) is refused: its source has taken the job
// back by then, and a restore (a kubelet retrying after CRI-O came back) would run a second copy.
//
// Why our own: the kubelet refuses a path as an image name (pkg/kubelet/images), so something must
// rewrite the call between them. checkpoint-restore-operator's cmd/cri-proxy does that, but its
// module is not served by the Go module proxy the lab builds from; k8s.io/cri-api and grpc are.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

func main() {
	listen := flag.String("listen", "/run/live-migration-lab/cri.sock", "the socket the kubelet dials (its containerRuntimeEndpoint)")
	runtime := flag.String("runtime", "unix:///var/run/crio/crio.sock", "CRI-O's endpoint")
	archiveDir := flag.String("archive-dir", "/var/lib/live-migration-lab/checkpoints", "the only directory archives are restored from")
	build := flag.String("build", "", "the digest of the proxy's source (informational: a new one restarts the service)")
	wait := flag.Duration("archive-wait", 30*time.Second, "how long CreateContainer waits for an archive that has not arrived yet")
	maxAge := flag.Duration("max-age", 0, "the oldest archive restored, by its arrival (the migration's hold: cutover.maxPauseSeconds); 0: any")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("cri-proxy: ")

	p, err := newProxy(*runtime, *archiveDir, *wait, *maxAge)
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	lis, err := listenUnix(*listen)
	if err != nil {
		log.Fatal(err)
	}
	srv := p.Server()
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		done := make(chan struct{})
		go func() { srv.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			srv.Stop()
		}
	}()
	log.Printf("serving %s for %s (archives from %s, build %s)", *listen, *runtime, *archiveDir, *build)
	if err := srv.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		log.Fatal(err)
	}
}

// listenUnix listens on path, replacing a socket left by an earlier run; mode 0660, like CRI-O's.
func listenUnix(path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("%s exists and is not a socket: refusing to replace it", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, err
		}
	}
	lis, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o660); err != nil {
		lis.Close()
		return nil, err
	}
	return lis, nil
}

// dial connects to CRI-O lazily (grpc.NewClient): the proxy may start before CRI-O does. Like the
// kubelet (k8s.io/cri-client), it dials the socket itself with a passthrough target.
func dial(endpoint string) (*grpc.ClientConn, error) {
	path, ok := strings.CutPrefix(endpoint, "unix://")
	if !ok {
		return nil, fmt.Errorf("%q is not a unix:// endpoint", endpoint)
	}
	return grpc.NewClient("passthrough:///"+path,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", addr)
		}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMsgSize), grpc.MaxCallSendMsgSize(maxMsgSize)))
}
