package redistest

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// StartSentinel runs a Redis Sentinel watching master under name, quick to
// act (down after 1 s, failover timeout 5 s), with quorum 2.
func StartSentinel(t testing.TB, name string, master *Server) *Server {
	t.Helper()
	refuseShort(t, "redistest.StartSentinel", "redis-server --sentinel")
	s := &Server{t: t, Port: FreePort(t), Dir: t.TempDir()}
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port))
	host, port, err := net.SplitHostPort(master.Addr)
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(s.Dir, "sentinel.conf")
	text := fmt.Sprintf(`port %d
bind 127.0.0.1
dir %s
logfile %s
sentinel monitor %s %s %s 2
sentinel down-after-milliseconds %s 1000
sentinel failover-timeout %s 5000
sentinel parallel-syncs %s 1
`, s.Port, s.Dir, filepath.Join(s.Dir, "redis.log"), name, host, port, name, name, name)
	if master.Password != "" {
		text += fmt.Sprintf("sentinel auth-pass %s %s\n", name, master.Password)
	}
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	s.args = []string{conf, "--sentinel"}
	s.start()
	t.Cleanup(s.Kill)
	return s
}
