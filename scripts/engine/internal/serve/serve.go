// Package serve is what every plugin of this project shares: find the engine's address in the
// arguments, stop when the engine goes away, serve gRPC and print the port for the engine.
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
