// pulumi-language-nodejs: this project's own Node.js language host for the Pulumi engine.
//
// Pulumi publishes its Node.js language host as the Go module
// github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3, which the Go module proxy
// does not serve (403), and its download site is unreachable from the lab machines. The host's
// job is small and its protocol is public (pulumirpc.LanguageRuntime in the sdk/v3 module, which
// the proxy does serve): run the program with @pulumi/pulumi's own launcher (cmd/run), run policy
// packs with cmd/run-policy-pack, and tell the engine which resource plugins the program's
// node_modules need. That is what this program does; everything else answers Unimplemented,
// which the engine treats as "not supported" and falls back from.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"live-migration-lab/engine/internal/serve"
)

// version is set at build time to the engine version this host is installed with.
var version = "0.0.0-dev"

// exitCodeLoggedError is what @pulumi/pulumi's launchers exit with after printing a
// user-actionable error themselves (nodeJSProcessExitedAfterLoggingUserActionableMessage).
const exitCodeLoggedError = 32

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	engineAddress string
}

// orphanless makes a child die with this host: when the engine is killed, the host stops
// (internal/serve) and the program's node process must not run on without either.
func orphanless() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}

func main() {
	engine := serve.EngineAddress()
	if engine == "" {
		fmt.Fprintln(os.Stderr, "pulumi-language-nodejs: missing the engine address argument")
		os.Exit(2)
	}
	serve.Run("pulumi-language-nodejs", func(srv *grpc.Server) {
		pulumirpc.RegisterLanguageRuntimeServer(srv, &host{engineAddress: engine})
	})
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

func (h *host) Handshake(context.Context, *pulumirpc.LanguageHandshakeRequest) (*pulumirpc.LanguageHandshakeResponse, error) {
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

// GetRequiredPlugins lists the resource plugins the program's packages declare in the "pulumi"
// section of their package.json ({"resource": true, "name": ..., "version": ...}).
func (h *host) GetRequiredPlugins(_ context.Context, req *pulumirpc.GetRequiredPluginsRequest) (*pulumirpc.GetRequiredPluginsResponse, error) {
	dir := req.GetInfo().GetProgramDirectory()
	if dir == "" {
		dir = req.GetPwd() //nolint:staticcheck // older engines
	}
	plugins, err := requiredPlugins(dir)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.GetRequiredPluginsResponse{Plugins: plugins}, nil
}

func option(info *pulumirpc.ProgramInfo, name string) (string, bool) {
	if info.GetOptions() == nil {
		return "", false
	}
	v, ok := info.GetOptions().AsMap()[name]
	if !ok {
		return "", false
	}
	return fmt.Sprintf("%v", v), true
}

// Run runs the program with @pulumi/pulumi/cmd/run, which connects back to the engine's resource monitor.
func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	info := req.GetInfo()
	programDir := info.GetProgramDirectory()
	if programDir == "" {
		programDir = req.GetPwd()
	}
	runJS, err := findModuleFile(programDir, filepath.Join("@pulumi", "pulumi", "cmd", "run", "index.js"))
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	entry := info.GetEntryPoint()
	if entry == "" {
		entry = "."
	}
	args := []string{runJS,
		"--monitor", req.GetMonitorAddress(),
		"--engine", h.engineAddress,
		"--project", req.GetProject(),
		"--stack", req.GetStack(),
		"--pwd", programDir,
		"--root-directory", info.GetRootDirectory(),
	}
	if req.GetOrganization() != "" {
		args = append(args, "--organization", req.GetOrganization())
	}
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	if req.GetParallel() > 0 {
		args = append(args, "--parallel", strconv.Itoa(int(req.GetParallel())))
	}
	args = append(args, entry)
	args = append(args, req.GetArgs()...)

	config, err := json.Marshal(req.GetConfig())
	if err != nil {
		return nil, err
	}
	secretKeys, err := json.Marshal(append([]string{}, req.GetConfigSecretKeys()...))
	if err != nil {
		return nil, err
	}
	env := append(os.Environ(), "PULUMI_CONFIG="+string(config), "PULUMI_CONFIG_SECRET_KEYS="+string(secretKeys))
	if ts, ok := option(info, "typescript"); !ok || ts != "false" {
		env = append(env, "PULUMI_NODEJS_TYPESCRIPT=true")
	}
	if tsconfig, ok := option(info, "tsconfig"); ok && tsconfig != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+tsconfig)
	}

	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.SysProcAttr = orphanless()
	cmd.Dir = programDir
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			if exit.ExitCode() == exitCodeLoggedError {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{Error: fmt.Sprintf("Program exited with non-zero exit code: %d", exit.ExitCode())}, nil
		}
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not run node: %v", err)}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

// RunPlugin runs a policy pack written in TypeScript or JavaScript with @pulumi/pulumi/cmd/run-policy-pack,
// streaming its output; the engine reads the analyzer's port from its first stdout line.
func (h *host) RunPlugin(req *pulumirpc.RunPluginRequest, server grpc.ServerStreamingServer[pulumirpc.RunPluginResponse]) error {
	info := req.GetInfo()
	program := info.GetProgramDirectory()
	if program == "" {
		program = req.GetProgram() //nolint:staticcheck // older engines
	}
	if req.GetKind() != "" && req.GetKind() != "analyzer" {
		return fmt.Errorf("this language host runs policy packs only, not %q plugins", req.GetKind())
	}
	runJS, err := findModuleFile(program, filepath.Join("@pulumi", "pulumi", "cmd", "run-policy-pack", "index.js"))
	if err != nil {
		return err
	}
	args := append([]string{runJS}, req.GetArgs()...)
	args = append(args, program)
	cmd := exec.CommandContext(server.Context(), "node", args...)
	cmd.SysProcAttr = orphanless()
	cmd.Dir = program
	cmd.Env = append(os.Environ(), req.GetEnv()...)

	var mu sync.Mutex
	send := func(r *pulumirpc.RunPluginResponse) error {
		mu.Lock()
		defer mu.Unlock()
		return server.Send(r)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	var wg sync.WaitGroup
	pump := func(r io.Reader, wrap func([]byte) *pulumirpc.RunPluginResponse) {
		defer wg.Done()
		buf := make([]byte, 32*1024)
		for {
			n, err := r.Read(buf)
			if n > 0 {
				_ = send(wrap(append([]byte(nil), buf[:n]...)))
			}
			if err != nil {
				return
			}
		}
	}
	wg.Add(2)
	go pump(stdout, func(b []byte) *pulumirpc.RunPluginResponse {
		return &pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stdout{Stdout: b}}
	})
	go pump(stderr, func(b []byte) *pulumirpc.RunPluginResponse {
		return &pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stderr{Stderr: b}}
	})
	wg.Wait()
	code := 0
	if err := cmd.Wait(); err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			return err
		}
		code = exit.ExitCode()
	}
	return send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: int32(code)}})
}

// InstallDependencies: dependencies come from `npm ci` in scripts/lab.sh; nothing to do here.
func (h *host) InstallDependencies(_ *pulumirpc.InstallDependenciesRequest, _ grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse]) error {
	return nil
}

// About reports the Node.js that programs run with.
func (h *host) About(context.Context, *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	out, err := exec.Command("node", "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("node --version: %w", err)
	}
	path, _ := exec.LookPath("node")
	return &pulumirpc.AboutResponse{Executable: path, Version: strings.TrimSpace(string(out))}, nil
}
