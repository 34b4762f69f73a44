package main

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/structpb"
)

func toStruct(t *testing.T, m map[string]any) *structpb.Struct {
	t.Helper()
	s, err := plugin.MarshalProperties(resource.NewPropertyMapFromMap(m), marshal)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func pod(name, node string, labels map[string]any) map[string]any {
	return map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": name, "namespace": "default", "labels": labels},
		"spec":     map[string]any{"nodeName": node, "containers": []any{map[string]any{"name": "flink", "image": "img"}}},
	}
}

func TestPodDiff(t *testing.T) {
	old := pod("flink-minimal", "worker", map[string]any{"app": "flink"})
	cases := []struct {
		name     string
		news     map[string]any
		replaces []string
		diffs    []string
		// The same name cannot exist twice: the old object goes first.
		deleteFirst bool
	}{
		{"unchanged", pod("flink-minimal", "worker", map[string]any{"app": "flink"}), nil, nil, false},
		{"labels update in place", pod("flink-minimal", "worker", map[string]any{"app": "x"}), nil, []string{"metadata"}, false},
		{"another node replaces (pod specs are immutable)", pod("flink-minimal", "master", map[string]any{"app": "flink"}), []string{"spec"}, []string{"spec"}, true},
		{"another name replaces", pod("flink-minimal-m1", "worker", map[string]any{"app": "flink"}), []string{"metadata"}, []string{"metadata"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := (&provider{}).Diff(context.Background(), &pulumirpc.DiffRequest{Type: "kubernetes:core/v1:Pod", OldInputs: toStruct(t, old), News: toStruct(t, c.news)})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(r.Replaces, c.replaces) || !slices.Equal(r.Diffs, c.diffs) || r.DeleteBeforeReplace != c.deleteFirst {
				t.Fatalf("diffs %v replaces %v delete first %v; want %v %v %v", r.Diffs, r.Replaces, r.DeleteBeforeReplace, c.diffs, c.replaces, c.deleteFirst)
			}
		})
	}
}

func TestCheckRejectsWhatItCannotApply(t *testing.T) {
	r, err := (&provider{}).Check(context.Background(), &pulumirpc.CheckRequest{Type: "kubernetes:apps/v1:Deployment", News: toStruct(t, map[string]any{})})
	if err != nil || len(r.Failures) != 1 {
		t.Fatalf("%v %v", r, err)
	}
	r, err = (&provider{}).Check(context.Background(), &pulumirpc.CheckRequest{Type: "kubernetes:core/v1:ConfigMap", News: toStruct(t, map[string]any{"metadata": map[string]any{}})})
	if err != nil || len(r.Failures) != 1 || r.Failures[0].Property != "metadata.name" {
		t.Fatalf("%v %v", r, err)
	}
}

func TestPodVerdict(t *testing.T) {
	parse := func(s string) map[string]any {
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	cases := []struct {
		name, pod string
		want      podState
		reason    string
	}{
		{"ready", `{"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}}`, podReady, "Ready"},
		{"starting", `{"status":{"phase":"Pending","containerStatuses":[{"name":"flink","state":{"waiting":{"reason":"ContainerCreating"}}}]}}`, podPending, "ContainerCreating"},
		{"ended", `{"status":{"phase":"Failed","containerStatuses":[{"name":"flink","state":{"terminated":{"exitCode":1,"reason":"Error","message":"boom"}}}]}}`, podFailed, "exit code 1, Error): boom"},
		{"never pull", `{"status":{"phase":"Pending","containerStatuses":[{"name":"flink","state":{"waiting":{"reason":"ErrImageNeverPull","message":"image not present"}}}]}}`, podFailed, "ErrImageNeverPull"},
		{"restore failing", `{"status":{"phase":"Pending","containerStatuses":[{"name":"flink","state":{"waiting":{"reason":"CreateContainerError","message":"failed to restore"}}}]}}`, podStuck, "failed to restore"},
	}
	for _, c := range cases {
		got, reason := podVerdict(parse(c.pod))
		if got != c.want || !strings.Contains(reason, c.reason) {
			t.Errorf("%s: got %v %q, want %v containing %q", c.name, got, reason, c.want, c.reason)
		}
	}
}

func TestNodeReadyCondition(t *testing.T) {
	down := map[string]any{"status": map[string]any{"conditions": []any{
		map[string]any{"type": "MemoryPressure", "status": "False"},
		map[string]any{"type": "Ready", "status": "False", "reason": "KubeletNotReady", "message": "container runtime is down"},
	}}}
	if ok, why := nodeReadyCondition(down); ok || !strings.Contains(why, "container runtime is down") {
		t.Fatalf("got %v %q", ok, why)
	}
	up := map[string]any{"status": map[string]any{"conditions": []any{map[string]any{"type": "Ready", "status": "True"}}}}
	if ok, _ := nodeReadyCondition(up); !ok {
		t.Fatal("a Ready node reads as not ready")
	}
	if nodeOf(map[string]any{"spec": map[string]any{"nodeName": "master"}}) != "master" || nodeOf(map[string]any{}) != "" {
		t.Fatal("nodeOf")
	}
}

func TestSkipAwaitAnnotation(t *testing.T) {
	p := pod("p", "n", nil)
	if skipAwait(resource.NewPropertyMapFromMap(p)) {
		t.Fatal("a pod without the annotation is awaited")
	}
	p["metadata"].(map[string]any)["annotations"] = map[string]any{"pulumi.com/skipAwait": "true"}
	if !skipAwait(resource.NewPropertyMapFromMap(p)) {
		t.Fatal("pulumi.com/skipAwait: \"true\" skips the wait")
	}
	p["metadata"].(map[string]any)["annotations"] = map[string]any{"pulumi.com/skipAwait": "false"}
	if skipAwait(resource.NewPropertyMapFromMap(p)) {
		t.Fatal("\"false\" does not skip the wait")
	}
}
