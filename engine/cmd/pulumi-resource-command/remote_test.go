package main

// The remote command against a real SSH server, point by point as pulumi-command v1.2.1 behaves
// (provider/pkg/provider/remote/commandOutputs.go, connection.go): the stand-in must refuse what
// the official provider refuses.

import (
	"context"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// Debian bookworm's sshd_config: AcceptEnv LANG LC_* (sid adds COLORTERM NO_COLOR)
var debianAcceptEnv = []string{"LANG", "LC_*"}

type logged struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logged) provider() *commandProvider {
	return &commandProvider{log: func(sev diag.Severity, _, msg string) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.msgs = append(l.msgs, string(sev)+": "+msg)
	}}
}

func (l *logged) all() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.msgs, "\n")
}

func remoteCreate(t *testing.T, p *commandProvider, inputs map[string]any) (resource.PropertyMap, error) {
	t.Helper()
	resp, err := p.Create(context.Background(), &pulumirpc.CreateRequest{Type: remoteType, Urn: "urn:test", Properties: toStruct(t, inputs)})
	if err != nil {
		return nil, err
	}
	state, err := unmarshal(resp.GetProperties())
	if err != nil {
		t.Fatal(err)
	}
	return state, nil
}

func TestRemoteEnvironmentRefusedBySshdFailsTheCommandBeforeItRuns(t *testing.T) {
	sshd := newTestSSHD(t, debianAcceptEnv...)
	ran := t.TempDir() + "/ran"
	var l logged
	_, err := remoteCreate(t, l.provider(), map[string]any{
		"connection":  sshd.connection(),
		"create":      "touch " + ran,
		"environment": map[string]any{"LAB_OBSERVED": "in-sync"},
	})
	if err == nil || err.Error() != `could not set environment variable "LAB_OBSERVED": ssh: setenv failed` {
		t.Fatalf("error %v; want the official provider's setenv error", err)
	}
	if !strings.Contains(l.all(), "error: Unable to set 'LAB_OBSERVED'. This only works if your SSH server is configured to accept") {
		t.Fatalf("logged %q", l.all())
	}
	if _, statErr := os.Stat(ran); statErr == nil {
		t.Fatal("the command ran although its environment was refused")
	}
}

func TestRemoteEnvironmentAcceptedBySshdReachesTheCommand(t *testing.T) {
	sshd := newTestSSHD(t, debianAcceptEnv...)
	state, err := remoteCreate(t, (&logged{}).provider(), map[string]any{
		"connection":  sshd.connection(),
		"create":      `printf '%s' "$LC_LAB"; cat`,
		"stdin":       "+stdin",
		"environment": map[string]any{"LC_LAB": "accepted"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := state["stdout"].StringValue(); got != "accepted+stdin" {
		t.Fatalf("stdout %q", got)
	}
}

func TestRemotePreviousOutputsAreTriedOnUpdateAndDeleteAndARefusalIsOnlyAWarning(t *testing.T) {
	sshd := newTestSSHD(t, debianAcceptEnv...)
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		add  any // addPreviousOutputInEnv: nil (default true), true, false
		want []string
	}{
		{"by default", nil, []string{"PULUMI_COMMAND_STDOUT", "PULUMI_COMMAND_STDERR"}},
		{"when addPreviousOutputInEnv is false", false, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			var l logged
			p := l.provider()
			inputs := map[string]any{"connection": sshd.connection(), "create": "echo out; echo err >&2; echo ran >> " + dir + "/runs"}
			if c.add != nil {
				inputs["addPreviousOutputInEnv"] = c.add
			}
			created, err := p.Create(context.Background(), &pulumirpc.CreateRequest{Type: remoteType, Urn: "urn:test", Properties: toStruct(t, inputs)})
			if err != nil {
				t.Fatal(err)
			}
			before := len(sshd.asked())
			news := map[string]any{}
			for k, v := range inputs {
				news[k] = v
			}
			news["stdin"] = "changed"
			if _, err := p.Update(context.Background(), &pulumirpc.UpdateRequest{Type: remoteType, Urn: "urn:test", Olds: created.GetProperties(), News: toStruct(t, news)}); err != nil {
				t.Fatalf("update failed where the official provider only warns: %v", err)
			}
			asked := sshd.asked()[before:]
			if !slices.Equal(asked, c.want) && !(len(asked) == 0 && len(c.want) == 0) {
				t.Fatalf("asked sshd for %v; want %v", asked, c.want)
			}
			warned := strings.Count(l.all(), "warning: Unable to set 'PULUMI_COMMAND_")
			if warned != len(c.want) {
				t.Fatalf("%d warnings, want %d: %q", warned, len(c.want), l.all())
			}
			if _, err := p.Delete(context.Background(), &pulumirpc.DeleteRequest{Type: remoteType, Urn: "urn:test", Properties: created.GetProperties()}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestFailedRemoteCommandReportsTheCommandAndItsOutputLikeTheOfficialProvider(t *testing.T) {
	sshd := newTestSSHD(t, debianAcceptEnv...)
	_, err := remoteCreate(t, (&logged{}).provider(), map[string]any{"connection": sshd.connection(), "create": "echo partial; echo boom >&2; exit 3"})
	// stdout and stderr are separate SSH channel streams: they interleave in the order they arrive.
	prefix := "Process exited with status 3: running \"echo partial; echo boom >&2; exit 3\":\n"
	if err == nil || !strings.HasPrefix(err.Error(), prefix) {
		t.Fatalf("error %q; want it to start %q", err, prefix)
	}
	if printed := strings.TrimPrefix(err.Error(), prefix); printed != "partial\nboom\n" && printed != "boom\npartial\n" {
		t.Fatalf("error %q; want both lines the command printed after %q", err, prefix)
	}
}

func TestCheckFillsTheOfficialConnectionDefaults(t *testing.T) {
	p := &commandProvider{}
	for _, c := range []struct {
		name string
		conn map[string]any
		want map[string]any
	}{
		{"absent fields get defaults", map[string]any{"host": "10.0.0.1", "privateKey": "k"},
			map[string]any{"host": "10.0.0.1", "privateKey": "k", "user": "root", "port": float64(22), "dialErrorLimit": float64(10), "perDialTimeout": float64(15)}},
		{"given fields are kept", map[string]any{"host": "h", "user": "debian", "port": float64(2222), "dialErrorLimit": float64(-1), "perDialTimeout": float64(3)},
			map[string]any{"host": "h", "user": "debian", "port": float64(2222), "dialErrorLimit": float64(-1), "perDialTimeout": float64(3)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, err := p.Check(context.Background(), &pulumirpc.CheckRequest{Type: remoteType, News: toStruct(t, map[string]any{"connection": c.conn, "create": "true"})})
			if err != nil || len(resp.GetFailures()) > 0 {
				t.Fatalf("%v %v", err, resp.GetFailures())
			}
			got, _ := unmarshal(resp.GetInputs())
			if !got["connection"].DeepEquals(resource.NewObjectProperty(resource.NewPropertyMapFromMap(c.want))) {
				t.Fatalf("connection %v; want %v", got["connection"], c.want)
			}
		})
	}
}

func TestConnectionIsOneSecretWithItsSecretFieldsMarkedInCheckAndOutputs(t *testing.T) {
	sshd := newTestSSHD(t, debianAcceptEnv...)
	// As the Node SDK sends it: the whole connection secret, the key plain inside.
	conn := resource.NewPropertyMapFromMap(sshd.connection())
	inputs := resource.PropertyMap{
		"connection": resource.MakeSecret(resource.NewObjectProperty(conn)),
		"create":     resource.NewStringProperty("cat >/dev/null; echo done"),
		"stdin":      resource.MakeSecret(resource.NewStringProperty("a secret on stdin")),
	}
	marshalled, err := plugin.MarshalProperties(inputs, recordedOptions)
	if err != nil {
		t.Fatal(err)
	}
	p := (&logged{}).provider()
	checked, err := p.Check(context.Background(), &pulumirpc.CheckRequest{Type: remoteType, News: marshalled})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := recorded(checked.GetInputs())
	if !got["connection"].IsSecret() || !got["connection"].SecretValue().Element.ObjectValue()["privateKey"].IsSecret() {
		t.Fatalf("Check: connection %v; want one secret with the key secret inside, as the official Check gives", got["connection"])
	}
	if !got["stdin"].IsSecret() {
		t.Fatal("Check dropped the secret marker of stdin")
	}
	created, err := p.Create(context.Background(), &pulumirpc.CreateRequest{Type: remoteType, Urn: "urn:test", Properties: checked.GetInputs()})
	if err != nil {
		t.Fatal(err)
	}
	state, _ := recorded(created.GetProperties())
	if !state["connection"].IsSecret() || !state["stdin"].IsSecret() || state["stdout"].StringValue() != "done" {
		t.Fatalf("outputs: connection secret %v, stdin secret %v, stdout %q", state["connection"].IsSecret(), state["stdin"].IsSecret(), state["stdout"])
	}
}
