package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"net"
	"os"
	"os/exec"
	"path"
	"strconv"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
)

// testSSHD is an SSH server on 127.0.0.1 for the remote command tests. Like OpenSSH's sshd it
// answers "env" requests by its AcceptEnv patterns (Debian's default is "LANG LC_*") and runs
// "exec" requests with /bin/sh -c, the accepted variables, stdin and the exit status.
type testSSHD struct {
	host       string
	port       int
	clientKey  string // PEM private key the server accepts
	acceptEnv  []string
	mu         sync.Mutex
	envAsked   []string // every variable a client asked to set, accepted or not
	listener   net.Listener
	serverConf *ssh.ServerConfig
}

func newTestSSHD(t *testing.T, acceptEnv ...string) *testSSHD {
	t.Helper()
	_, hostPriv, _ := ed25519.GenerateKey(rand.Reader)
	hostSigner, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		t.Fatal(err)
	}
	clientPub, clientPriv, _ := ed25519.GenerateKey(rand.Reader)
	block, err := ssh.MarshalPrivateKey(clientPriv, "")
	if err != nil {
		t.Fatal(err)
	}
	allowed, _ := ssh.NewPublicKey(clientPub)
	conf := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if string(key.Marshal()) == string(allowed.Marshal()) {
				return nil, nil
			}
			return nil, os.ErrPermission
		},
	}
	conf.AddHostKey(hostSigner)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &testSSHD{clientKey: string(pem.EncodeToMemory(block)), acceptEnv: acceptEnv, listener: l, serverConf: conf}
	host, port, _ := net.SplitHostPort(l.Addr().String())
	s.host = host
	s.port, _ = strconv.Atoi(port)
	go s.serve()
	t.Cleanup(func() { _ = l.Close() })
	return s
}

// connection is the remote Command's `connection` input for this server.
func (s *testSSHD) connection() map[string]any {
	return map[string]any{"host": s.host, "port": float64(s.port), "user": "lab", "privateKey": s.clientKey, "dialErrorLimit": float64(1)}
}

func (s *testSSHD) asked() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.envAsked...)
}

func (s *testSSHD) accepts(name string) bool {
	for _, p := range s.acceptEnv {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

func (s *testSSHD) serve() {
	for {
		c, err := s.listener.Accept()
		if err != nil {
			return
		}
		go func() {
			_, chans, reqs, err := ssh.NewServerConn(c, s.serverConf)
			if err != nil {
				return
			}
			go ssh.DiscardRequests(reqs)
			for nc := range chans {
				if nc.ChannelType() != "session" {
					_ = nc.Reject(ssh.UnknownChannelType, "session only")
					continue
				}
				ch, chReqs, err := nc.Accept()
				if err != nil {
					continue
				}
				go s.session(ch, chReqs)
			}
		}()
	}
}

// sshString reads one SSH wire-format string from b and returns it with the rest.
func sshString(b []byte) (string, []byte) {
	if len(b) < 4 {
		return "", nil
	}
	n := binary.BigEndian.Uint32(b)
	if uint32(len(b)-4) < n {
		return "", nil
	}
	return string(b[4 : 4+n]), b[4+n:]
}

func (s *testSSHD) session(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	env := []string{"PATH=/usr/bin:/bin"}
	for req := range reqs {
		switch req.Type {
		case "env":
			name, rest := sshString(req.Payload)
			value, _ := sshString(rest)
			s.mu.Lock()
			s.envAsked = append(s.envAsked, name)
			s.mu.Unlock()
			ok := s.accepts(name)
			if ok {
				env = append(env, name+"="+value)
			}
			_ = req.Reply(ok, nil)
		case "exec":
			command, _ := sshString(req.Payload)
			_ = req.Reply(true, nil)
			cmd := exec.Command("/bin/sh", "-c", command)
			cmd.Env = env
			cmd.Stdin, cmd.Stdout, cmd.Stderr = ch, ch, ch.Stderr()
			status := uint32(0)
			if err := cmd.Run(); err != nil {
				status = 255
				if exit, ok := err.(*exec.ExitError); ok {
					status = uint32(exit.ExitCode())
				}
			}
			_, _ = ch.SendRequest("exit-status", false, binary.BigEndian.AppendUint32(nil, status))
			return
		default:
			_ = req.Reply(false, nil)
		}
	}
}
