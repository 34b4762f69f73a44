// Package serve is what every plugin of this project shares: find the engine's address in the
// arguments, stop when the engine goes away, serve gRPC and print the port for the engine.
//
// "Goes away" is watched two ways: the official plugins' health check of the engine (every 5
// minutes, sdk/go/common/util/rpcutil/health.go), and the parent process: the engine starts its
// plugins itself, so a plugin whose parent changed was orphaned by a killed engine (kill -9 of
// `pulumi up`) and stops within a second instead of minutes later.
package serve

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
)

// Run serves the handlers registered by register until the engine goes away; it does not return.
func Run(name string, register func(*grpc.Server)) {
	engine := EngineAddress()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if engine != "" {
		if err := rpcutil.Healthcheck(ctx, engine, 5*time.Minute, cancel); err != nil {
			fail(name, "engine health check: %v", err)
		}
	}
	go watchParent(ctx, cancel, time.Second)
	stop := make(chan bool)
	go func() { <-ctx.Done(); close(stop) }()
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: stop,
		Init: func(srv *grpc.Server) error {
			register(srv)
			return nil
		},
	})
	if err != nil {
		fail(name, "serve: %v", err)
	}
	// The engine reads the port from the first line of stdout.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fail(name, "%v", err)
	}
	os.Exit(0)
}

// watchParent cancels when this process's parent changes (it was reparented: the parent died).
func watchParent(ctx context.Context, cancel context.CancelFunc, every time.Duration) {
	parent := os.Getppid()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if os.Getppid() != parent {
				cancel()
				return
			}
		}
	}
}

// EngineAddress is the engine's address: the last positional argument ("" when absent).
func EngineAddress() string {
	var engine string
	for _, a := range os.Args[1:] {
		if !strings.HasPrefix(a, "-") {
			engine = a
		}
	}
	return engine
}

func fail(name, format string, args ...any) {
	fmt.Fprintf(os.Stderr, name+": "+format+"\n", args...)
	os.Exit(1)
}
