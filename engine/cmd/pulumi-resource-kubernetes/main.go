// pulumi-resource-kubernetes: this project's own provider for the two Kubernetes resources the
// lab declares through @pulumi/kubernetes, kubernetes:core/v1:ConfigMap and kubernetes:core/v1:Pod,
// installed as the `kubernetes` plugin at the version @pulumi/kubernetes declares.
//
// Why it exists: the official provider is the Go module github.com/pulumi/pulumi-kubernetes/provider/v4,
// which the Go module proxy does not serve (403 for every version), and its download site is not
// reachable from the lab machines. This provider covers what the lab needs and rejects the rest in
// Check: objects are applied and deleted with kubectl (which must be on PATH for up/destroy; a
// preview needs nothing), using the kubeconfig given to the Provider resource.
//   - ConfigMap: a change of name or namespace replaces it, a change of data/labels updates it.
//   - Pod: a change of name, namespace or spec replaces it (pod specs are immutable); creating a
//     pod waits until it is Ready, as the official provider does, and fails early when it ended
//     or its container keeps failing to be created. The annotation pulumi.com/skipAwait: "true"
//     skips the wait, as it does in the official provider.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"live-migration-lab/engine/internal/props"
	"live-migration-lab/engine/internal/serve"
)

var version = "0.0.0-dev"

// replaceOn lists, per supported type, the top-level inputs whose change replaces the object.
var replaceOn = map[string]map[string]bool{
	"kubernetes:core/v1:ConfigMap": {"apiVersion": true, "kind": true},
	"kubernetes:core/v1:Pod":       {"apiVersion": true, "kind": true, "spec": true},
}

type provider struct {
	props.Base
	mu         sync.Mutex
	kubeconfig string
	namespace  string
}

func main() {
	serve.Run("pulumi-resource-kubernetes", func(srv *grpc.Server) {
		pulumirpc.RegisterResourceProviderServer(srv, &provider{Base: props.Base{Version: version}})
	})
}

var (
	unmarshal = props.Unmarshal
	marshal   = props.Options
)

func (p *provider) DiffConfig(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	olds, news, err := props.DiffInputs(req)
	if err != nil {
		return nil, err
	}
	if olds.DeepEquals(news) {
		return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
	}
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_SOME}, nil
}

func (p *provider) Configure(_ context.Context, req *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	args, err := unmarshal(req.GetArgs())
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if v, ok := args["kubeconfig"]; ok && v.IsString() {
		p.kubeconfig = v.StringValue()
	} else if v, ok := req.GetVariables()["kubernetes:config:kubeconfig"]; ok {
		p.kubeconfig = v
	}
	if v, ok := args["namespace"]; ok && v.IsString() {
		p.namespace = v.StringValue()
	}
	return &pulumirpc.ConfigureResponse{AcceptSecrets: false, SupportsPreview: false}, nil
}

func (p *provider) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	if _, ok := replaceOn[req.GetType()]; !ok {
		return &pulumirpc.CheckResponse{Failures: []*pulumirpc.CheckFailure{{
			Reason: fmt.Sprintf("%s is not supported by this lab's kubernetes provider (only core/v1 ConfigMap and Pod)", req.GetType()),
		}}}, nil
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	var failures []*pulumirpc.CheckFailure
	if md, ok := news["metadata"]; !ok || (md.IsObject() && !md.ObjectValue()["name"].IsString() && !md.ObjectValue()["name"].IsComputed()) {
		failures = append(failures, &pulumirpc.CheckFailure{Property: "metadata.name", Reason: "missing: this lab's kubernetes provider does not auto-name objects"})
	}
	return &pulumirpc.CheckResponse{Inputs: req.GetNews(), Failures: failures}, nil
}

func (p *provider) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	olds, news, err := props.DiffInputs(req)
	if err != nil {
		return nil, err
	}
	resp := props.Diff(olds, news, nil, func(k resource.PropertyKey, o, n resource.PropertyValue) bool {
		if replaceOn[req.GetType()][string(k)] {
			return true
		}
		// Another name or namespace is another object.
		if k == "metadata" && o.IsObject() && n.IsObject() {
			for _, f := range []resource.PropertyKey{"name", "namespace"} {
				if n.ObjectValue()[f].ContainsUnknowns() || !o.ObjectValue()[f].DeepEquals(n.ObjectValue()[f]) {
					return true
				}
			}
		}
		return false
	})
	// An object replaced under the same name must go before its replacement can be created
	// (as pulumi-kubernetes does for objects named by the user).
	if len(resp.Replaces) > 0 && !slices.Contains(resp.Replaces, "metadata") {
		resp.DeleteBeforeReplace = true
	}
	return resp, nil
}

// kubectl runs kubectl with the provider's kubeconfig (content or path).
func (p *provider) kubectl(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
	p.mu.Lock()
	kubeconfig := p.kubeconfig
	p.mu.Unlock()
	if _, err := exec.LookPath("kubectl"); err != nil {
		return nil, fmt.Errorf("kubectl is not on PATH: this lab's kubernetes provider applies objects with it")
	}
	if kubeconfig != "" {
		path := kubeconfig
		if strings.Contains(kubeconfig, "\n") || strings.HasPrefix(strings.TrimSpace(kubeconfig), "{") {
			f, err := os.CreateTemp("", "lab-kubeconfig-")
			if err != nil {
				return nil, err
			}
			defer os.Remove(f.Name())
			if err := f.Chmod(0o600); err != nil {
				return nil, err
			}
			if _, err := f.WriteString(kubeconfig); err != nil {
				return nil, err
			}
			f.Close()
			path = f.Name()
		}
		args = append([]string{"--kubeconfig", path}, args...)
	}
	cmd := exec.CommandContext(ctx, "kubectl", args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("kubectl %s: %w: %s", args[len(args)-1], err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

type objectRef struct{ kind, namespace, name string }

func refOf(typ string, m resource.PropertyMap, defaultNS string) objectRef {
	kind := strings.ToLower(typ[strings.LastIndex(typ, ":")+1:])
	md := m["metadata"].ObjectValue()
	ns := defaultNS
	if v, ok := md["namespace"]; ok && v.IsString() && v.StringValue() != "" {
		ns = v.StringValue()
	}
	if ns == "" {
		ns = "default"
	}
	return objectRef{kind: kind, namespace: ns, name: md["name"].StringValue()}
}

// ref names the object, in the provider's namespace unless the object has its own.
func (p *provider) ref(typ string, m resource.PropertyMap) objectRef {
	p.mu.Lock()
	defer p.mu.Unlock()
	return refOf(typ, m, p.namespace)
}

func (p *provider) apply(ctx context.Context, typ string, inputs resource.PropertyMap, timeout float64) (*structpb.Struct, objectRef, error) {
	ref := p.ref(typ, inputs)
	manifest, err := json.Marshal(inputs.Mappable())
	if err != nil {
		return nil, ref, err
	}
	if _, err := p.kubectl(ctx, manifest, "apply", "-n", ref.namespace, "-f", "-"); err != nil {
		return nil, ref, err
	}
	if ref.kind == "pod" && !skipAwait(inputs) {
		if timeout <= 0 {
			timeout = 600
		}
		if err := p.waitReady(ctx, ref, time.Duration(timeout)*time.Second); err != nil {
			// A pod that did not come up is not recorded, so it must not be left behind either:
			// the kubelet would go on trying (a restore from a stale checkpoint once the node
			// recovers), and the next attempt needs the name. Forced, because a node whose
			// runtime is down never confirms a graceful delete.
			if _, derr := p.kubectl(ctx, nil, "delete", "-n", ref.namespace, "--ignore-not-found", "--grace-period=0", "--force", "--wait=false", ref.kind+"/"+ref.name); derr != nil {
				err = fmt.Errorf("%w (and removing the pod failed: %v)", err, derr)
			}
			return nil, ref, err
		}
	}
	live, err := p.get(ctx, ref)
	if err != nil {
		return nil, ref, err
	}
	out := inputs.Copy()
	if status, ok := live["status"]; ok {
		out["status"] = resource.NewPropertyValue(status)
	}
	props, err := plugin.MarshalProperties(out, marshal)
	return props, ref, err
}

func (p *provider) get(ctx context.Context, ref objectRef) (map[string]any, error) {
	data, err := p.kubectl(ctx, nil, "get", "-n", ref.namespace, "-o", "json", ref.kind+"/"+ref.name)
	if err != nil {
		return nil, err
	}
	var live map[string]any
	return live, json.Unmarshal(data, &live)
}

func (p *provider) Create(ctx context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	inputs, err := unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	props, ref, err := p.apply(ctx, req.GetType(), inputs, req.GetTimeout())
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: ref.namespace + "/" + ref.name, Properties: props}, nil
}

func (p *provider) Update(ctx context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	props, _, err := p.apply(ctx, req.GetType(), news, req.GetTimeout())
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
	ref := p.ref(req.GetType(), state)
	if _, err := p.kubectl(ctx, nil, "delete", "-n", ref.namespace, "--ignore-not-found", "--wait=true", "--timeout", "300s", ref.kind+"/"+ref.name); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

// Read reports whether the object still exists; a gone object reads as deleted.
func (p *provider) Read(ctx context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	state, err := unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	ref := p.ref(req.GetType(), state)
	if _, err := p.get(ctx, ref); err != nil {
		if strings.Contains(err.Error(), "NotFound") {
			return &pulumirpc.ReadResponse{}, nil
		}
		return nil, err
	}
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
}
