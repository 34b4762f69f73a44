// Running a command: locally with bash, or on a remote host over SSH (the connection's auth,
// dial retries, environment, stdin and the outputs streamed to the engine's log as they come).

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

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

// previousOutputs are PULUMI_COMMAND_STDOUT/STDERR from the last run's outputs (empty ones left
// out), unless addPreviousOutputInEnv is false.
func previousOutputs(inputs resource.PropertyMap, stdout, stderr string) []string {
	if v, ok := inputs["addPreviousOutputInEnv"]; ok && v.IsBool() && !v.BoolValue() {
		return nil
	}
	var env []string
	if stdout != "" {
		env = append(env, "PULUMI_COMMAND_STDOUT="+stdout)
	}
	if stderr != "" {
		env = append(env, "PULUMI_COMMAND_STDERR="+stderr)
	}
	return env
}

// run executes one of the command strings of a resource with the previous run's outputs and
// returns stdout and stderr.
func (p *commandProvider) run(ctx context.Context, typ, urn string, inputs resource.PropertyMap, script, prevStdout, prevStderr string) (string, string, error) {
	previous := previousOutputs(inputs, prevStdout, prevStderr)
	if typ == remoteType {
		return p.runRemote(ctx, urn, inputs, script, previous)
	}
	return runLocal(ctx, inputs, script, previous)
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
	var out outputs
	cmd.Stdout, cmd.Stderr = out.writers()
	err := cmd.Run()
	return out.stdout.String(), out.stderr.String(), out.commandError(err, script)
}

// outputs collects a command's stdout, stderr and both interleaved (for its error message).
type outputs struct {
	mu             sync.Mutex
	stdout, stderr bytes.Buffer
	both           bytes.Buffer
}

type tee struct {
	o   *outputs
	own *bytes.Buffer
}

func (t tee) Write(b []byte) (int, error) {
	t.o.mu.Lock()
	defer t.o.mu.Unlock()
	t.own.Write(b)
	return t.o.both.Write(b)
}

func (o *outputs) writers() (io.Writer, io.Writer) {
	return tee{o, &o.stdout}, tee{o, &o.stderr}
}

// commandError is the official provider's message for a failed command: the exit error, the
// command, and what it printed.
func (o *outputs) commandError(err error, script string) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: running %q:\n%s", err, script, o.both.String())
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
	cfg := &ssh.ClientConfig{
		User: user,
		Auth: auth,
		// As the official provider: without connection.hostKey the host key is not checked.
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), //nolint:gosec
		Timeout:         time.Duration(num(conn, "perDialTimeout", 15)) * time.Second,
	}
	if hostKey := str(conn, "hostKey"); hostKey != "" {
		key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(hostKey))
		if err != nil {
			return nil, "", fmt.Errorf("failed to parse host key: %w", err)
		}
		cfg.HostKeyCallback = ssh.FixedHostKey(key)
		cfg.HostKeyAlgorithms = []string{key.Type()}
	}
	return cfg, addr, nil
}

func (p *commandProvider) runRemote(ctx context.Context, urn string, inputs resource.PropertyMap, script string, previous []string) (string, string, error) {
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
	// Variables go through SSH's env request, which sshd refuses for names its AcceptEnv does not
	// list (Debian's default: LANG LC_*). Like the official provider: a refused `environment`
	// entry fails the command, a refused previous output is a warning.
	for _, kv := range environment(inputs) {
		k, v, _ := strings.Cut(kv, "=")
		if err := session.Setenv(k, v); err != nil {
			p.logf(diag.Error, urn, setenvMessage, k)
			return "", "", fmt.Errorf("could not set environment variable %q: %w", k, err)
		}
	}
	for _, kv := range previous {
		k, v, _ := strings.Cut(kv, "=")
		if err := session.Setenv(k, v); err != nil {
			p.logf(diag.Warning, urn, setenvMessage, k)
		}
	}
	if stdin := str(inputs, "stdin"); stdin != "" {
		session.Stdin = strings.NewReader(stdin)
	}
	var out outputs
	session.Stdout, session.Stderr = out.writers()
	done := make(chan error, 1)
	go func() { done <- session.Run(script) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = session.Signal(ssh.SIGTERM)
		err = ctx.Err()
	}
	return out.stdout.String(), out.stderr.String(), out.commandError(err, script)
}

// setenvMessage is the official provider's explanation of a refused SSH environment variable.
const setenvMessage = `Unable to set '%s'. This only works if your SSH server is configured to accept
	these variables via AcceptEnv. Alternatively, if a Bash-like shell runs the command on the remote host, you could
	prefix the command itself with the variables in the form 'VAR=value command'`
