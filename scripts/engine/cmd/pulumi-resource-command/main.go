// pulumi-resource-command: this project's own implementation of the two resources of the
// `command` provider that the lab uses, command:local:Command and command:remote:Command,
// installed as the `command` plugin at the version @pulumi/command declares.
//
// Why it exists: the official provider lives in the Go module github.com/pulumi/pulumi-command/provider,
// which has no version tags of its own, so the Go module proxy answers 403 for it, and its download
// site is not reachable from the lab machines. The resource contract is what @pulumi/command's
// SDK sends (its inputs are in node_modules/@pulumi/command/local|remote/command.d.ts); this file
// implements that contract, no more:
//   - inputs create, update, delete, stdin, environment, triggers, logging; local: dir, interpreter;
//     remote: connection {host, port, user, password, privateKey, privateKeyPassword,
//     dialErrorLimit, perDialTimeout};
//   - outputs stdout and stderr (plus the inputs);
//   - a change of `triggers` replaces the resource, any other input change updates it (runs
//     `update`, else `create`); delete runs `delete` with the last stdout/stderr in
//     PULUMI_COMMAND_STDOUT / PULUMI_COMMAND_STDERR.
//
// Not supported (rejected in Check): assets/archives, proxies, agent sockets, local `dir` asset paths.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"live-migration-lab/engine/internal/props"
	"live-migration-lab/engine/internal/serve"
)

var version = "0.0.0-dev"

const (
	localType  = "command:local:Command"
	remoteType = "command:remote:Command"
)

type provider struct {
	props.Base
}

func main() {
	serve.Run("pulumi-resource-command", func(srv *grpc.Server) {
		pulumirpc.RegisterResourceProviderServer(srv, &provider{Base: props.Base{Version: version}})
	})
}

var (
	unmarshal = props.Unmarshal
	marshal   = props.Options
)

func (p *provider) DiffConfig(context.Context, *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
}

// Secrets arrive unwrapped; the engine marks outputs secret again where their inputs were.
func (p *provider) Configure(context.Context, *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	return &pulumirpc.ConfigureResponse{AcceptSecrets: false, SupportsPreview: false}, nil
}

var unsupported = []resource.PropertyKey{"assetPaths", "archivePaths"}

func (p *provider) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	var failures []*pulumirpc.CheckFailure
	for _, k := range unsupported {
		if v, ok := news[k]; ok && !v.IsNull() {
			failures = append(failures, &pulumirpc.CheckFailure{Property: string(k), Reason: "not supported by this lab's command provider"})
		}
	}
	if req.GetType() == remoteType {
		conn, ok := news["connection"]
		if !ok || (!conn.IsObject() && !conn.IsComputed()) {
			failures = append(failures, &pulumirpc.CheckFailure{Property: "connection", Reason: "missing: a remote command needs connection {host, user, privateKey|password}"})
		} else if conn.IsObject() {
			for _, k := range []resource.PropertyKey{"proxy", "agentSocketPath"} {
				if v, ok := conn.ObjectValue()[k]; ok && !v.IsNull() {
					failures = append(failures, &pulumirpc.CheckFailure{Property: "connection." + string(k), Reason: "not supported by this lab's command provider"})
				}
			}
		}
	}
	return &pulumirpc.CheckResponse{Inputs: req.GetNews(), Failures: failures}, nil
}

func (p *provider) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	olds, news, err := props.DiffInputs(req)
	if err != nil {
		return nil, err
	}
	// stdout and stderr are outputs, not inputs; ignoreChanges is honoured.
	skip := map[string]bool{"stdout": true, "stderr": true}
	for _, k := range req.GetIgnoreChanges() {
		skip[k] = true
	}
	return props.Diff(olds, news, skip, func(k resource.PropertyKey, _, _ resource.PropertyValue) bool {
		return k == "triggers"
	}), nil
}

func str(m resource.PropertyMap, k resource.PropertyKey) string {
	if v, ok := m[k]; ok && v.IsString() {
		return v.StringValue()
	}
	return ""
}

func num(m resource.PropertyMap, k resource.PropertyKey, def float64) float64 {
	if v, ok := m[k]; ok && v.IsNumber() {
		return v.NumberValue()
	}
	return def
}

func environment(m resource.PropertyMap) []string {
	var env []string
	if v, ok := m["environment"]; ok && v.IsObject() {
		for k, val := range v.ObjectValue() {
			if val.IsString() {
				env = append(env, string(k)+"="+val.StringValue())
			}
		}
	}
	sort.Strings(env)
	return env
}

// run executes one of the command strings of a resource and returns stdout and stderr.
func run(ctx context.Context, typ string, inputs resource.PropertyMap, script string, extraEnv []string) (string, string, error) {
	if typ == remoteType {
		return runRemote(ctx, inputs, script, extraEnv)
	}
	return runLocal(ctx, inputs, script, extraEnv)
}

func runLocal(ctx context.Context, inputs resource.PropertyMap, script string, extraEnv []string) (string, string, error) {
	interpreter := []string{"/bin/sh", "-c"}
	if v, ok := inputs["interpreter"]; ok && v.IsArray() && len(v.ArrayValue()) > 0 {
		interpreter = interpreter[:0]
		for _, e := range v.ArrayValue() {
			interpreter = append(interpreter, e.StringValue())
		}
	}
	cmd := exec.CommandContext(ctx, interpreter[0], append(interpreter[1:], script)...)
	cmd.Dir = str(inputs, "dir")
	cmd.Env = append(append(os.Environ(), environment(inputs)...), extraEnv...)
	if stdin := str(inputs, "stdin"); stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), commandError(err, stderr.String())
}

func commandError(err error, stderr string) error {
	if err == nil {
		return nil
	}
	tail := strings.TrimSpace(stderr)
	if len(tail) > 4000 {
		tail = "..." + tail[len(tail)-4000:]
	}
	return fmt.Errorf("%w: %s", err, tail)
}

func sshConfig(conn resource.PropertyMap) (*ssh.ClientConfig, string, error) {
	user := str(conn, "user")
	if user == "" {
		user = "root"
	}
	var auth []ssh.AuthMethod
	if key := str(conn, "privateKey"); key != "" {
		var signer ssh.Signer
		var err error
		if pass := str(conn, "privateKeyPassword"); pass != "" {
			signer, err = ssh.ParsePrivateKeyWithPassphrase([]byte(key), []byte(pass))
		} else {
			signer, err = ssh.ParsePrivateKey([]byte(key))
		}
		if err != nil {
			return nil, "", fmt.Errorf("connection.privateKey: %w", err)
		}
		auth = append(auth, ssh.PublicKeys(signer))
	}
	if pass := str(conn, "password"); pass != "" {
		auth = append(auth, ssh.Password(pass))
	}
	if len(auth) == 0 {
		return nil, "", errors.New("connection needs privateKey or password")
	}
	port := int(num(conn, "port", 22))
	addr := net.JoinHostPort(str(conn, "host"), strconv.Itoa(port))
	return &ssh.ClientConfig{
		User: user,
		Auth: auth,
		// Lab nodes are created and re-created by the lab itself; their host keys are not known ahead.
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), //nolint:gosec
		Timeout:         time.Duration(num(conn, "perDialTimeout", 15)) * time.Second,
	}, addr, nil
}

func runRemote(ctx context.Context, inputs resource.PropertyMap, script string, extraEnv []string) (string, string, error) {
	c, ok := inputs["connection"]
	if !ok || !c.IsObject() {
		return "", "", errors.New("connection is missing")
	}
	conn := c.ObjectValue()
	cfg, addr, err := sshConfig(conn)
	if err != nil {
		return "", "", err
	}
	limit := int(num(conn, "dialErrorLimit", 10))
	var client *ssh.Client
	for attempt := 1; ; attempt++ {
		client, err = ssh.Dial("tcp", addr, cfg)
		if err == nil {
			break
		}
		if limit >= 0 && attempt >= limit {
			return "", "", fmt.Errorf("ssh %s@%s: %w (after %d attempts)", cfg.User, addr, err, attempt)
		}
		select {
		case <-ctx.Done():
			return "", "", ctx.Err()
		case <-time.After(time.Duration(attempt) * time.Second):
		}
	}
	defer client.Close()
	session, err := client.NewSession()
	if err != nil {
		return "", "", err
	}
	defer session.Close()
	// Variables go through SSH's env request; sshd drops those its AcceptEnv does not list,
	// which is why the lab passes secrets on stdin instead.
	for _, kv := range append(environment(inputs), extraEnv...) {
		k, v, _ := strings.Cut(kv, "=")
		_ = session.Setenv(k, v)
	}
	if stdin := str(inputs, "stdin"); stdin != "" {
		session.Stdin = strings.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	session.Stdout, session.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	go func() { done <- session.Run(script) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = session.Signal(ssh.SIGTERM)
		err = ctx.Err()
	}
	return stdout.String(), stderr.String(), commandError(err, stderr.String())
}

func withOutputs(inputs resource.PropertyMap, stdout, stderr string) resource.PropertyMap {
	out := inputs.Copy()
	out["stdout"] = resource.NewStringProperty(strings.TrimRight(stdout, "\n"))
	out["stderr"] = resource.NewStringProperty(strings.TrimRight(stderr, "\n"))
	return out
}

func (p *provider) Create(ctx context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	inputs, err := unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	var stdout, stderr string
	if script := str(inputs, "create"); script != "" {
		if stdout, stderr, err = run(ctx, req.GetType(), inputs, script, nil); err != nil {
			return nil, fmt.Errorf("create: %w", err)
		}
	}
	props, err := plugin.MarshalProperties(withOutputs(inputs, stdout, stderr), marshal)
	if err != nil {
		return nil, err
	}
	id := make([]byte, 8)
	_, _ = rand.Read(id)
	return &pulumirpc.CreateResponse{Id: hex.EncodeToString(id), Properties: props}, nil
}

func (p *provider) Update(ctx context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	olds, err := unmarshal(req.GetOlds())
	if err != nil {
		return nil, err
	}
	script := str(news, "update")
	if script == "" {
		script = str(news, "create")
	}
	stdout, stderr := str(olds, "stdout"), str(olds, "stderr")
	if script != "" {
		if stdout, stderr, err = run(ctx, req.GetType(), news, script, nil); err != nil {
			return nil, fmt.Errorf("update: %w", err)
		}
	}
	props, err := plugin.MarshalProperties(withOutputs(news, stdout, stderr), marshal)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.UpdateResponse{Properties: props}, nil
}

func (p *provider) Delete(ctx context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	state, err := unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	if script := str(state, "delete"); script != "" {
		env := []string{"PULUMI_COMMAND_STDOUT=" + str(state, "stdout"), "PULUMI_COMMAND_STDERR=" + str(state, "stderr")}
		if _, _, err := run(ctx, req.GetType(), state, script, env); err != nil {
			return nil, fmt.Errorf("delete: %w", err)
		}
	}
	return &emptypb.Empty{}, nil
}

// Read returns the recorded state: a command has nothing to read back.
func (p *provider) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
}
