// Waiting for what was applied: a pod until it runs (or fails fast when it ended or is stuck), and
// the nodes it needs Ready.

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

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
