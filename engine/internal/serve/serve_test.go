package serve

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// In the child role (LAB_SERVE_CHILD=1) the test binary only watches its parent, as Run does,
// and exits 0 when it sees it change; it never exits on its own otherwise.
func TestMain(m *testing.M) {
	if os.Getenv("LAB_SERVE_CHILD") == "1" {
		ctx, cancel := context.WithCancel(context.Background())
		go watchParent(ctx, cancel, 100*time.Millisecond)
		select {
		case <-ctx.Done():
			os.Exit(0)
		case <-time.After(time.Minute):
			os.Exit(3)
		}
	}
	os.Exit(m.Run())
}

func gone(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	// A zombie (state Z, after the name in parentheses) has exited already.
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(fields) > 0 && fields[0] == "Z"
}

func TestAPluginWhoseEngineIsKilledStops(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The stand-in engine: a shell that starts the plugin and would wait for it.
	engine := exec.Command("/bin/sh", "-c", `"$0" & echo $!; wait`, self)
	engine.Env = append(os.Environ(), "LAB_SERVE_CHILD=1")
	out, err := engine.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := engine.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 32)
	n, _ := out.Read(buf)
	plugin, err := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	if err != nil {
		t.Fatalf("plugin pid %q: %v", buf[:n], err)
	}
	time.Sleep(300 * time.Millisecond)
	if gone(plugin) {
		t.Fatal("the plugin stopped while its engine was alive")
	}
	_ = engine.Process.Signal(syscall.SIGKILL)
	_ = engine.Wait()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if gone(plugin) {
			return
		}
	}
	_ = syscall.Kill(plugin, syscall.SIGKILL)
	t.Fatal("the plugin still ran 10 s after its engine was killed")
}
