package main

import (
	"context"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

func toStruct(t *testing.T, m map[string]any) *structpbStruct {
	t.Helper()
	s, err := plugin.MarshalProperties(resource.NewPropertyMapFromMap(m), marshal)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDiffReplacesOnlyOnTriggers(t *testing.T) {
	old := map[string]any{"create": "echo a", "stdin": "one", "triggers": []any{"x"}}
	cases := []struct {
		name     string
		news     map[string]any
		diffs    []string
		replaces []string
	}{
		{"nothing changed", map[string]any{"create": "echo a", "stdin": "one", "triggers": []any{"x"}}, nil, nil},
		{"stdin changed is an update", map[string]any{"create": "echo a", "stdin": "two", "triggers": []any{"x"}}, []string{"stdin"}, nil},
		{"triggers changed is a replacement", map[string]any{"create": "echo a", "stdin": "one", "triggers": []any{"y"}}, []string{"triggers"}, []string{"triggers"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := (&commandProvider{}).Diff(context.Background(), &pulumirpc.DiffRequest{OldInputs: toStruct(t, old), News: toStruct(t, c.news)})
			if err != nil {
				t.Fatal(err)
			}
			if !equal(r.Diffs, c.diffs) || !equal(r.Replaces, c.replaces) {
				t.Fatalf("diffs %v replaces %v; want %v %v", r.Diffs, r.Replaces, c.diffs, c.replaces)
			}
		})
	}
}

func TestLocalCommandGetsStdinEnvironmentAndPreviousOutputOnDelete(t *testing.T) {
	dir := t.TempDir()
	inputs := resource.NewPropertyMapFromMap(map[string]any{
		"create":      "cat > " + dir + "/f; printf '%s' \"$V\"",
		"delete":      "printf '%s' \"$PULUMI_COMMAND_STDOUT\" > " + dir + "/deleted",
		"stdin":       "content",
		"environment": map[string]any{"V": "from-env"},
	})
	p := &commandProvider{}
	created, err := p.Create(context.Background(), &pulumirpc.CreateRequest{Type: localType, Properties: toStruct(t, inputs.Mappable())})
	if err != nil {
		t.Fatal(err)
	}
	state, _ := unmarshal(created.GetProperties())
	if got := state["stdout"].StringValue(); got != "from-env" {
		t.Fatalf("stdout %q", got)
	}
	if _, err := p.Delete(context.Background(), &pulumirpc.DeleteRequest{Type: localType, Properties: created.GetProperties()}); err != nil {
		t.Fatal(err)
	}
	assertFile(t, dir+"/f", "content")
	assertFile(t, dir+"/deleted", "from-env")
}

func TestFailingCommandReportsItsStderr(t *testing.T) {
	_, err := (&commandProvider{}).Create(context.Background(), &pulumirpc.CreateRequest{Type: localType, Properties: toStruct(t, map[string]any{"create": "echo boom >&2; exit 3"})})
	if err == nil || !contains(err.Error(), "boom") || !contains(err.Error(), "exit status 3") {
		t.Fatalf("error %v", err)
	}
}
