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

// skipAwait: the object's pulumi.com/skipAwait annotation is "true" (the official provider's switch).
func skipAwait(m resource.PropertyMap) bool {
	md, ok := m["metadata"]
	if !ok || !md.IsObject() {
		return false
	}
	a, ok := md.ObjectValue()["annotations"]
	if !ok || !a.IsObject() {
		return false
	}
	v, ok := a.ObjectValue()["pulumi.com/skipAwait"]
	return ok && v.IsString() && v.StringValue() == "true"
}

// stuckAfter: how long a container may keep failing to be created, or its node stay NotReady (a
// stopped container runtime), before the wait gives up. The kubelet retries such errors forever;
// a checkpoint that cannot be restored never will be.
const stuckAfter = 30 * time.Second

// waitReady polls a pod until it is Ready. It fails at once when the pod ends (phase Failed or
// Succeeded: restartPolicy Never pods do not come back) or its image can never be used, and after
// stuckAfter when its container keeps failing to be created, quoting the kubelet's reason.
func (p *provider) waitReady(ctx context.Context, ref objectRef, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var stuckSince time.Time
	for {
		live, err := p.get(ctx, ref)
		if err != nil {
			return err
		}
		verdict, reason := podVerdict(live)
		if verdict == podPending {
			if node := nodeOf(live); node != "" {
				if ready, why := p.nodeReady(ctx, node); !ready {
					verdict, reason = podStuck, fmt.Sprintf("node %s is not Ready: %s", node, why)
				}
			}
		}
		switch verdict {
		case podReady:
			return nil
		case podFailed:
			return fmt.Errorf("pod %s/%s will not become Ready: %s", ref.namespace, ref.name, reason)
		case podStuck:
			if stuckSince.IsZero() {
				stuckSince = time.Now()
			} else if time.Since(stuckSince) > stuckAfter {
				return fmt.Errorf("pod %s/%s did not become Ready: %s (for %s)", ref.namespace, ref.name, reason, stuckAfter)
			}
		default:
			stuckSince = time.Time{}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pod %s/%s did not become Ready within %s (%s)", ref.namespace, ref.name, timeout, reason)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

type podState int

const (
	podPending podState = iota
	podReady
	podStuck
	podFailed
)

// podVerdict reads a pod's status: Ready, failed for good, stuck creating its container, or pending.
func podVerdict(live map[string]any) (podState, string) {
	status, _ := live["status"].(map[string]any)
	phase, _ := status["phase"].(string)
	for _, c := range asList(status["conditions"]) {
		if c["type"] == "Ready" && c["status"] == "True" {
			return podReady, "Ready"
		}
	}
	reason := "phase " + phase
	state := podPending
	for _, cs := range asList(status["containerStatuses"]) {
		st, _ := cs["state"].(map[string]any)
		if t, ok := st["terminated"].(map[string]any); ok {
			reason = fmt.Sprintf("container %v terminated (exit code %v, %v): %v", cs["name"], t["exitCode"], t["reason"], t["message"])
		}
		if w, ok := st["waiting"].(map[string]any); ok {
			r, _ := w["reason"].(string)
			reason = fmt.Sprintf("container %v waiting (%s): %v", cs["name"], r, w["message"])
			switch r {
			case "ErrImageNeverPull", "InvalidImageName", "CreateContainerConfigError":
				return podFailed, reason
			case "CreateContainerError", "RunContainerError", "CrashLoopBackOff", "ErrImagePull", "ImagePullBackOff":
				state = podStuck
			}
		}
	}
	if phase == "Failed" || phase == "Succeeded" {
		return podFailed, reason
	}
	return state, reason
}

// nodeOf is the node a pod is bound to ("" while unscheduled).
func nodeOf(live map[string]any) string {
	spec, _ := live["spec"].(map[string]any)
	node, _ := spec["nodeName"].(string)
	return node
}

// nodeReady reads a node's Ready condition; a node that cannot be read counts as ready (the
// pod's own status then decides).
func (p *provider) nodeReady(ctx context.Context, name string) (bool, string) {
	data, err := p.kubectl(ctx, nil, "get", "node", name, "-o", "json")
	if err != nil {
		return true, ""
	}
	var node map[string]any
	if json.Unmarshal(data, &node) != nil {
		return true, ""
	}
	return nodeReadyCondition(node)
}

// nodeReadyCondition: false with the kubelet's message when the Ready condition is not True.
func nodeReadyCondition(node map[string]any) (bool, string) {
	status, _ := node["status"].(map[string]any)
	for _, c := range asList(status["conditions"]) {
		if c["type"] == "Ready" && c["status"] != "True" {
			return false, fmt.Sprintf("%v (%v)", c["message"], c["reason"])
		}
	}
	return true, ""
}

func asList(v any) []map[string]any {
	items, _ := v.([]any)
	out := make([]map[string]any, 0, len(items))
	for _, i := range items {
		if m, ok := i.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
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
