// Package redistest runs a real redis-server for tests: on a free loopback
// port, in the test's temporary directory, stopped when the test ends. No
// Redis is ever mocked.
package redistest

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
)

// Server is one redis-server process the test owns.
type Server struct {
	Addr     string // 127.0.0.1:port
	Port     int
	Dir      string
	Password string // from --requirepass, used by the test's own connections

	t      testing.TB
	tls    *tls.Config // the test's own connections, for StartTLS
	args   []string
	cmd    *exec.Cmd
	exited chan struct{}
}

// Binary returns the redis-server to run: $REDIS_SERVER or the one on PATH.
func Binary(t testing.TB) string {
	if p := os.Getenv("REDIS_SERVER"); p != "" {
		return p
	}
	p, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server not found (apt-get install redis-server, or set REDIS_SERVER): %v", err)
	}
	return p
}

// CLI returns the redis-cli to drive the server under test with:
// $REDIS_CLI, else the redis-cli (or valkey-cli) beside $REDIS_SERVER,
// else the one on PATH.
func CLI(t testing.TB) string {
	if p := os.Getenv("REDIS_CLI"); p != "" {
		return p
	}
	if srv := os.Getenv("REDIS_SERVER"); srv != "" {
		for _, name := range []string{"redis-cli", "valkey-cli"} {
			p := filepath.Join(filepath.Dir(srv), name)
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	p, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Fatalf("redis-cli not found (apt-get install redis-tools, or set REDIS_CLI): %v", err)
	}
	return p
}

// FreePort asks the kernel for a loopback port that is free right now.
func FreePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Start runs redis-server with extra config directives such as
// "--appendonly", "yes"; it is stopped at the end of the test.
func Start(t testing.TB, extra ...string) *Server {
	t.Helper()
	refuseShort(t, "redistest.Start", "redis-server")
	port := FreePort(t)
	return startOn(t, port, nil, append([]string{"--port", strconv.Itoa(port)}, extra...))
}

// refuseShort fails a test that starts a server under go test -short: a
// test that needs one is an integration test, named Test...Integration and
// skipped in short mode, so that -short runs with no server installed.
func refuseShort(t testing.TB, starter, what string) {
	t.Helper()
	if testing.Short() {
		t.Fatalf("%s: %s is not started under -short; name this test ...Integration and begin it with "+
			"if testing.Short() { t.Skip(...) }", starter, what)
	}
}

func startOn(t testing.TB, port int, tlsConf *tls.Config, extra []string) *Server {
	t.Helper()
	s := &Server{t: t, Port: port, Dir: t.TempDir(), tls: tlsConf}
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port))
	s.args = append([]string{
		"--bind", "127.0.0.1",
		"--dir", s.Dir,
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--logfile", filepath.Join(s.Dir, "redis.log"),
	}, extra...)
	for i := 0; i+1 < len(extra); i++ {
		if extra[i] == "--requirepass" {
			s.Password = extra[i+1]
		}
	}
	s.start()
	t.Cleanup(s.Kill)
	return s
}

func (s *Server) start() {
	s.t.Helper()
	cmd := exec.Command(Binary(s.t), s.args...)
	cmd.Dir = s.Dir
	// A directive the server does not know is refused on stderr, before
	// the log file is opened. A file, not a pipe: a child the server forks
	// (BGSAVE) would hold a pipe open, and Wait with it.
	outPath := filepath.Join(s.Dir, "redis.out")
	if out, err := os.Create(outPath); err == nil {
		cmd.Stdout, cmd.Stderr = out, out
		defer out.Close()
	}
	// Should the test binary die without its cleanups (go test -timeout
	// panics), the kernel stops the server with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("starting redis-server: %v", err)
	}
	s.cmd = cmd
	s.exited = make(chan struct{})
	go func(done chan struct{}) {
		cmd.Wait() //nolint:errcheck // the test ends the server with a signal: the status says so, nothing more
		close(done)
	}(s.exited)

	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := redis.Dial("tcp", s.Addr, append(s.dialOptions(), redis.DialConnectTimeout(time.Second))...)
		if err == nil {
			_, err = c.Do("PING")
			c.Close()
			if err == nil {
				return
			}
		}
		select {
		case <-s.exited:
			text := readText(outPath) + readText(filepath.Join(s.Dir, "redis.log"))
			if s.tls != nil && withoutTLS(text) {
				s.t.Skipf("%s was built without TLS support: %s", Binary(s.t), strings.TrimSpace(text))
			}
			s.t.Fatalf("redis-server exited at start: %s", text)
		default:
		}
		if time.Now().After(deadline) {
			s.Kill()
			s.t.Fatalf("redis-server on %s did not answer PING within 10s: %v", s.Addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// readText is a file's text, or why it could not be read.
func readText(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error() + "\n"
	}
	return string(b)
}

// withoutTLS tells the server's start-up text of a build without TLS:
// Redis 6 does not know the tls-* directives, Redis 7+ and Valkey know
// them but have no TLS connection type built in.
func withoutTLS(text string) bool {
	return strings.Contains(text, "Failed finding TLS support") ||
		strings.Contains(text, "'tls-port") && strings.Contains(text, "Bad directive")
}

// Kill stops the server at once with SIGKILL (no save, no AOF fsync beyond
// what the server did already). It is safe to call twice.
func (s *Server) Kill() {
	if s.cmd == nil {
		return
	}
	s.signal(syscall.SIGKILL)
	<-s.exited
	s.cmd = nil
}

// signal sends sig to the server; one that has exited already (a test
// told it to shut down) needs none.
func (s *Server) signal(sig os.Signal) {
	if err := s.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		s.t.Errorf("%s: %v", s, err)
	}
}

// Stop shuts the server down cleanly with SIGTERM.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	s.signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		s.signal(syscall.SIGKILL)
		<-s.exited
	}
	s.cmd = nil
}

// Restart starts the server again on the same port and directory.
func (s *Server) Restart() {
	s.t.Helper()
	s.Kill()
	s.start()
}

// Running reports whether the process is up.
func (s *Server) Running() bool { return s.cmd != nil }

// Conn opens a plain client connection for the test's own checks.
func (s *Server) Conn() redis.Conn {
	s.t.Helper()
	c, err := redis.Dial("tcp", s.Addr, append(s.dialOptions(), redis.DialConnectTimeout(5*time.Second),
		redis.DialReadTimeout(10*time.Second), redis.DialWriteTimeout(10*time.Second))...)
	if err != nil {
		s.t.Fatalf("connecting to test redis: %v", err)
	}
	s.t.Cleanup(func() { c.Close() })
	return c
}

func (s *Server) dialOptions() []redis.DialOption {
	opts := []redis.DialOption{redis.DialPassword(s.Password)}
	if s.tls != nil {
		opts = append(opts, redis.DialUseTLS(true), redis.DialTLSConfig(s.tls))
	}
	return opts
}

// Do runs one command on a fresh connection and fails the test on error.
func (s *Server) Do(cmd string, args ...interface{}) interface{} {
	s.t.Helper()
	c := s.Conn()
	defer c.Close()
	r, err := c.Do(cmd, args...)
	if err != nil {
		s.t.Fatalf("%s %v: %v", cmd, args, err)
	}
	return r
}

func (s *Server) String() string { return "redis-server " + s.Addr }
