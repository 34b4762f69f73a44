// pulumi-resource-command: this project's own implementation of the two resources of the
// `command` provider that the lab uses, command:local:Command and command:remote:Command,
// installed as the `command` plugin at the version @pulumi/command declares.
//
// Why it exists: the official provider lives in the Go module github.com/pulumi/pulumi-command/provider,
// which has no version tags of its own, so the Go module proxy answers 403 for it, and its download
// site is not reachable from the lab machines. It must never be more lenient than the official one
// (pulumi/pulumi-command v1.2.1, provider/pkg/provider/{common,local,remote}), which users with
// internet access run: each point below is what that source does, with a test beside it.
//   - inputs create, update, delete, stdin, environment, addPreviousOutputInEnv, triggers, logging;
//     local: dir, interpreter; remote: connection {host, port, user, password, privateKey,
//     privateKeyPassword, dialErrorLimit, perDialTimeout, hostKey}; outputs stdout and stderr.
//   - Check fills the connection defaults the official schema declares (user root, port 22,
//     dialErrorLimit 10, perDialTimeout 15), so states made by either provider diff the same.
//   - a change of `triggers` replaces the resource, any other input change updates it: `update`
//     runs, else `create`, with the old stdout/stderr kept when neither is set.
//   - remote `environment` travels as SSH setenv requests; a refused one (sshd's AcceptEnv) fails
//     the command with the official message. PULUMI_COMMAND_STDOUT/STDERR (the previous outputs,
//     unless addPreviousOutputInEnv is false) are tried the same way, and a refusal is a warning.
//     Locally all of them are plain process environment.
//   - a failing command's error is "<exit error>: running \"<command>\":\n<stdout and stderr>".
//
// Not supported (rejected in Check): assets/archives, proxies, agent sockets.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
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

type commandProvider struct {
	props.Base
	// log reports warnings and errors to the engine, as the official provider's logger does
	// (nil in tests, where they go to stderr).
	log func(sev diag.Severity, urn, msg string)
}

func main() {
	p := &commandProvider{Base: props.Base{Version: version}}
	if engine := serve.EngineAddress(); engine != "" {
		var once sync.Once
		var client pulumirpc.EngineClient
		p.log = func(sev diag.Severity, urn, msg string) {
			once.Do(func() {
				if conn, err := grpc.NewClient(engine, grpc.WithTransportCredentials(insecure.NewCredentials())); err == nil {
					client = pulumirpc.NewEngineClient(conn)
				}
			})
			severity := pulumirpc.LogSeverity_WARNING
			if sev == diag.Error {
				severity = pulumirpc.LogSeverity_ERROR
			}
			if client == nil {
				fmt.Fprintln(os.Stderr, msg)
			} else if _, err := client.Log(context.Background(), &pulumirpc.LogRequest{Severity: severity, Message: msg, Urn: urn}); err != nil {
				fmt.Fprintln(os.Stderr, msg)
			}
		}
	}
	serve.Run("pulumi-resource-command", func(srv *grpc.Server) {
		pulumirpc.RegisterResourceProviderServer(srv, p)
	})
}

func (p *commandProvider) logf(sev diag.Severity, urn, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if p.log == nil {
		fmt.Fprintln(os.Stderr, msg)
		return
	}
	p.log(sev, urn, msg)
}

var (
	unmarshal = props.Unmarshal
	marshal   = props.Options
	// What the state records keeps the inputs' secrets, as the official provider's does.
	recordedOptions = plugin.MarshalOptions{KeepUnknowns: true, SkipNulls: true, KeepSecrets: true}
)

// recorded reads properties as the engine sent them, secrets kept (what goes back into the state);
// unmarshal gives the plain values the commands run with.
func recorded(s *structpb.Struct) (resource.PropertyMap, error) {
	return plugin.UnmarshalProperties(s, recordedOptions)
}

// The official schema tags `connection` and, inside it, these fields provider:"secret"
// (remote/command.go, remote/connection.go).
var secretConnectionFields = []resource.PropertyKey{"password", "privateKey", "privateKeyPassword"}

// withSecretConnection gives `connection` the official Check's shape: its defaults filled, the
// fields the schema tags secret marked so, and the whole object secret. States must match to the
// secret marker: the official Diff compares inputs with their secrets.
func withSecretConnection(m resource.PropertyMap) resource.PropertyMap {
	c, ok := m["connection"]
	if !ok || c.IsNull() || c.IsComputed() {
		return m
	}
	if c.IsSecret() {
		c = c.SecretValue().Element
	}
	if c.IsObject() {
		conn := withConnectionDefaults(c.ObjectValue())
		for _, k := range secretConnectionFields {
			if v, ok := conn[k]; ok && !v.IsNull() && !v.IsSecret() && !v.IsComputed() {
				conn[k] = resource.MakeSecret(v)
			}
		}
		c = resource.NewObjectProperty(conn)
	}
	m["connection"] = resource.MakeSecret(c)
	return m
}

func (p *commandProvider) DiffConfig(context.Context, *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
}

// Secrets arrive marked, as they do for the official provider: Check and the outputs give them
// back marked (recorded), the commands run with plain values (unmarshal).
func (p *commandProvider) Configure(context.Context, *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, SupportsPreview: false}, nil
}

var unsupported = []resource.PropertyKey{"assetPaths", "archivePaths"}

func (p *commandProvider) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
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
	kept, err := recorded(req.GetNews())
	if err != nil {
		return nil, err
	}
	if req.GetType() == remoteType {
		kept = withSecretConnection(kept)
	}
	checked, err := plugin.MarshalProperties(kept, recordedOptions)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CheckResponse{Inputs: checked, Failures: failures}, nil
}

// connectionDefaults are the defaults of the official schema (remote/connection.go Annotate),
// which its Check writes into the inputs.
var connectionDefaults = resource.PropertyMap{
	"user":           resource.NewStringProperty("root"),
	"port":           resource.NewNumberProperty(22),
	"dialErrorLimit": resource.NewNumberProperty(10),
	"perDialTimeout": resource.NewNumberProperty(15),
}

func withConnectionDefaults(conn resource.PropertyMap) resource.PropertyMap {
	out := conn.Copy()
	for k, v := range connectionDefaults {
		if cur, ok := out[k]; !ok || cur.IsNull() {
			out[k] = v
		}
	}
	return out
}

func (p *commandProvider) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
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

// outputsOf is the resource's state: its inputs as sent (secrets kept, connection secret) plus the
// command's stdout and stderr.
func outputsOf(typ string, inputs *structpb.Struct, stdout, stderr string) (*structpb.Struct, error) {
	out, err := recorded(inputs)
	if err != nil {
		return nil, err
	}
	if typ == remoteType {
		out = withSecretConnection(out)
	}
	out["stdout"] = resource.NewStringProperty(strings.TrimRight(stdout, "\n"))
	out["stderr"] = resource.NewStringProperty(strings.TrimRight(stderr, "\n"))
	return plugin.MarshalProperties(out, recordedOptions)
}

func (p *commandProvider) Create(ctx context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	inputs, err := unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	var stdout, stderr string
	if script := str(inputs, "create"); script != "" {
		if stdout, stderr, err = p.run(ctx, req.GetType(), req.GetUrn(), inputs, script, "", ""); err != nil {
			return nil, err
		}
	}
	props, err := outputsOf(req.GetType(), req.GetProperties(), stdout, stderr)
	if err != nil {
		return nil, err
	}
	id := make([]byte, 8)
	_, _ = rand.Read(id)
	return &pulumirpc.CreateResponse{Id: hex.EncodeToString(id), Properties: props}, nil
}

func (p *commandProvider) Update(ctx context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
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
		if stdout, stderr, err = p.run(ctx, req.GetType(), req.GetUrn(), news, script, stdout, stderr); err != nil {
			return nil, err
		}
	}
	props, err := outputsOf(req.GetType(), req.GetNews(), stdout, stderr)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.UpdateResponse{Properties: props}, nil
}

func (p *commandProvider) Delete(ctx context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	state, err := unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	if script := str(state, "delete"); script != "" {
		if _, _, err := p.run(ctx, req.GetType(), req.GetUrn(), state, script, str(state, "stdout"), str(state, "stderr")); err != nil {
			return nil, err
		}
	}
	return &emptypb.Empty{}, nil
}

// Read returns the recorded state: a command has nothing to read back.
func (p *commandProvider) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
}
