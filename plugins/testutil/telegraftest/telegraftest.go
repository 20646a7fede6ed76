// Package telegraftest runs the real programs of the pipeline in tests: the
// Telegraf binary built from the version pinned in go.mod, and our own
// commands built from this module. Every process a test starts is stopped
// when the test ends, also on failure.
package telegraftest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/syncbuf"
)

// RepoRoot is the directory holding go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's directory")
		}
		dir = parent
	}
}

// refuseShort fails a test that runs a program under go test -short: a test
// that needs Telegraf or our commands as processes is an integration test,
// named Test...Integration and skipped in short mode.
func refuseShort(t testing.TB, runner, what string) {
	t.Helper()
	if testing.Short() {
		t.Fatalf("%s: %s is not run under -short; name this test ...Integration and begin it with "+
			"if testing.Short() { t.Skip(...) }", runner, what)
	}
}

var buildMu sync.Mutex

// Telegraf returns $TELEGRAF_BIN or bin/telegraf, building it with `make
// telegraf` when it is missing or older than our plugins built in (a
// bin/telegraf that does not list outputs.redis).
func Telegraf(t testing.TB) string {
	t.Helper()
	refuseShort(t, "telegraftest.Telegraf", "Telegraf")
	if p := os.Getenv("TELEGRAF_BIN"); p != "" {
		return p
	}
	root := RepoRoot(t)
	bin := filepath.Join(root, "bin", "telegraf")
	buildMu.Lock()
	defer buildMu.Unlock()
	if out, err := exec.Command(bin, "--output-list").Output(); err == nil && strings.Contains(string(out), "\n  redis\n") {
		return bin
	}
	t.Logf("%s is missing or has not our plugins built in: make telegraf (a minute or more on a cold build cache)", bin)
	cmd := exec.Command("make", "telegraf")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make telegraf failed (%v):\n%s", err, out)
	}
	return bin
}

var (
	builtMu sync.Mutex
	built   = make(map[string]string)
	tmpDir  string
)

// Command builds ./cmd/<name> of this module once per test binary and
// returns the path of the executable.
func Command(t testing.TB, name string) string {
	t.Helper()
	refuseShort(t, "telegraftest.Command", "cmd/"+name)
	builtMu.Lock()
	defer builtMu.Unlock()
	if p, ok := built[name]; ok {
		return p
	}
	if tmpDir == "" {
		removeStale()
		d, err := os.MkdirTemp("", fmt.Sprintf("telegraftest-%d-", os.Getpid())) //nolint:usetesting // shared by all the tests of the binary
		if err != nil {
			t.Fatal(err)
		}
		tmpDir = d
	}
	out := filepath.Join(tmpDir, name)
	cmd := exec.Command("go", "build", "-o", out, "./cmd/"+name)
	cmd.Dir = RepoRoot(t)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building cmd/%s: %v\n%s", name, err, msg)
	}
	built[name] = out
	return out
}

// removeStale deletes the build directories of test binaries that have
// ended: a test binary has no hook to remove its own after the last test.
func removeStale() {
	dirs, err := filepath.Glob(filepath.Join(os.TempDir(), "telegraftest-*-*"))
	if err != nil {
		return
	}
	for _, d := range dirs {
		var pid int
		if _, err := fmt.Sscanf(filepath.Base(d), "telegraftest-%d-", &pid); err != nil || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); err == syscall.ESRCH {
			os.RemoveAll(d)
		}
	}
}

// Process is a program the test started.
type Process struct {
	Name string
	cmd  *exec.Cmd
	out  *syncbuf.Buffer
	done chan struct{}
	err  error
}

// Start runs path with args and extra environment; stdout and stderr are
// kept for Output. The process is killed at the end of the test, and its
// output logged when the test failed.
func Start(t testing.TB, name, path string, env []string, args ...string) *Process {
	t.Helper()
	refuseShort(t, "telegraftest.Start", name)
	p := &Process{Name: name, out: &syncbuf.Buffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(path, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	// A group of its own, so that Kill also reaches the children (the
	// execd plugins Telegraf starts).
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("--- output of %s:\n%s", name, tail(p.Output(), 60))
		}
	})
	return p
}

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Children are the pids of the processes it started (execd plugins).
func (p *Process) Children() []int {
	var pids []int
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		return nil
	}
	for _, f := range stats {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so read after ')'.
		s := string(data)
		i := strings.LastIndexByte(s, ')')
		var state string
		var ppid, pid int
		if i < 0 {
			continue
		}
		if _, err := fmt.Sscanf(s[i+2:], "%s %d", &state, &ppid); err != nil || ppid != p.Pid() {
			continue
		}
		if _, err := fmt.Sscanf(s, "%d", &pid); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// Output is everything the process printed so far.
func (p *Process) Output() string { return p.out.String() }

// Kill sends SIGKILL to the process and its children and waits for it.
func (p *Process) Kill() {
	select {
	case <-p.done:
		return
	default:
	}
	if err := syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) { // ESRCH: the group has ended
		// Not a group of its own: the process alone, then.
		if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return // it cannot be killed: do not wait for it
		}
	}
	<-p.done
}

// Stop sends SIGTERM and waits up to timeout before killing.
func (p *Process) Stop(timeout time.Duration) error {
	select {
	case <-p.done:
		return p.err
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		p.Kill()
		return fmt.Errorf("%s: SIGTERM: %w", p.Name, err)
	}
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		p.Kill()
		return fmt.Errorf("%s did not stop within %s after SIGTERM", p.Name, timeout)
	}
}

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func tail(s string, lines int) string {
	parts := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}
