package redis

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/models"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/logger"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/redisconn"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

// runningOutput is the plugin in Telegraf's own model of an output, with
// startup_error_behavior = behavior, as Telegraf's agent drives it.
func runningOutput(t *testing.T, addr, behavior string, logs *syncBuffer, tune func(*Redis)) *models.RunningOutput {
	t.Helper()
	r := NewBuiltIn()
	r.Address = addr
	r.Mode, r.Key = "list", "copy"
	r.Timeout = config.Duration(2 * time.Second)
	if tune != nil {
		tune(r)
	}
	ro := models.NewRunningOutput(r, &models.OutputConfig{Name: "redis", StartupErrorBehavior: behavior}, 0, 0)
	r.Log = logger.NewWriter(logs, "outputs.redis") // NewRunningOutput set Telegraf's own
	if err := ro.Init(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ro.Close)
	return ro
}

// typeName is the type of err as Telegraf's agent tests it (its internal
// package cannot be imported here).
func typeName(err error) string { return fmt.Sprintf("%T", err) }

// TestStartupErrorBehaviorRedisDown: Redis not reachable at start is a
// retryable startup error, which Telegraf's model of an output turns into
// what startup_error_behavior asks for: an error that stops Telegraf
// ("error", the default), a start retried at each write ("retry"), or
// the output dropped ("ignore").
func TestStartupErrorBehaviorRedisDown(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t))
	for _, behavior := range []string{"", "error"} {
		ro := runningOutput(t, addr, behavior, &syncBuffer{}, nil)
		err := ro.Connect()
		var se *redisconn.StartupError
		if !errors.As(err, &se) || !se.Retry || !strings.Contains(err.Error(), "connecting to "+addr) {
			t.Fatalf("%q: Connect: %v", behavior, err)
		}
	}
	ro := runningOutput(t, addr, "retry", &syncBuffer{}, nil)
	if err := ro.Connect(); err != nil {
		t.Fatalf("retry: Connect: %v", err)
	}
	if err := ro.Write(); err == nil || err.Error() != "not connected" {
		t.Fatalf("retry: Write: %v", err)
	}
	ro = runningOutput(t, addr, "ignore", &syncBuffer{}, nil)
	if err := ro.Connect(); typeName(err) != "*internal.FatalError" {
		t.Fatalf("ignore: Connect: %T %v", err, err)
	}
}

// TestStartupErrorBehaviorRefusedIntegration: a refusal an operator must
// act on (a wrong password; a password for a server that has none; none
// for a server that wants one; a database the server does not have) is a
// startup error that is not retried, whatever startup_error_behavior
// says: Telegraf stops with the reason.
func TestStartupErrorBehaviorRefusedIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs redis-server")
	}
	secured := redistest.Start(t, "--requirepass", "right")
	open := redistest.Start(t)
	cases := map[string]struct {
		addr string
		tune func(*Redis)
		want string
	}{
		"wrong password":       {secured.Addr, func(r *Redis) { r.Password = config.NewSecret([]byte("wrong")) }, "WRONGPASS"},
		"no password":          {secured.Addr, nil, "NOAUTH"},
		"password, none asked": {open.Addr, func(r *Redis) { r.Password = config.NewSecret([]byte("pw")) }, "without any password configured"},
		"no such database":     {open.Addr, func(r *Redis) { r.Database = 16 }, "option database: 16 does not exist"},
	}
	for name, c := range cases {
		for _, behavior := range []string{"error", "retry", "ignore"} {
			ro := runningOutput(t, c.addr, behavior, &syncBuffer{}, c.tune)
			err := ro.Connect()
			var se *redisconn.StartupError
			if !errors.As(err, &se) || se.Retry || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s, %s: Connect: %v", name, behavior, err)
			}
		}
	}
}

// TestRetriedConnectWritesOnceRedisIsUpIntegration: with
// startup_error_behavior = "retry", Telegraf keeps the metrics while Redis
// is not there and connects at a later write; they arrive once Redis is
// up. Hostile: Redis comes up between the failed start and the first
// write, then refuses (it wants a password the config does not have),
// then is restarted without it. A refusal after the first failure is
// logged by the plugin (Telegraf says only "not connected"), once.
func TestRetriedConnectWritesOnceRedisIsUpIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs redis-server")
	}
	srv, include := serverWithInclude(t)
	srv.Kill()
	logs := &syncBuffer{}
	ro := runningOutput(t, srv.Addr, "retry", logs, nil)
	if err := ro.Connect(); err != nil {
		t.Fatal(err)
	}
	ro.AddMetric(parseLines(t, "m v=1i 1795552004000000000\n")[0])
	if err := ro.Write(); err == nil {
		t.Fatal("Write succeeded with Redis away")
	}

	// Up, but refusing: still not connected, and the reason is logged.
	setInclude(t, srv, include, "pw")
	for i := 0; i < 3; i++ {
		if err := ro.Write(); err == nil || err.Error() != "not connected" {
			t.Fatalf("Write to a Redis that wants a password: %v", err)
		}
	}
	if n := strings.Count(logs.String(), "E! [outputs.redis] start failed again: "); n != 1 || !strings.Contains(logs.String(), "NOAUTH") {
		t.Fatalf("want one E! line with NOAUTH, got %d:\n%s", n, logs)
	}

	// Restarted without the password: the next write connects and writes.
	setInclude(t, srv, include, "")
	if err := ro.Write(); err != nil {
		t.Fatalf("Write after Redis came back: %v", err)
	}
	items, err := redis.Strings(srv.Conn().Do("LRANGE", "copy", 0, -1))
	if err != nil || len(items) != 1 || !strings.HasPrefix(items[0], "m v=1i 1795552004000000000") {
		t.Fatalf("list %q %v", items, err)
	}
	if !strings.Contains(logs.String(), "I! [outputs.redis] connected to Redis at "+srv.Addr+" after ") {
		t.Fatalf("no I! line once connected:\n%s", logs)
	}
}

// Hostile: Connect called again (Telegraf's retries call it once per
// flush until it succeeds) leaves one connection open, not one per call.
func TestConnectAgainLeavesOneConnectionIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs redis-server")
	}
	// A connection left open is closed by the garbage collector in the
	// end: off, so that a leak shows.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	srv := redistest.Start(t)
	r := startBuiltIn(t, srv.Addr, nil, nil)
	for i := 0; i < 5; i++ {
		if err := r.Connect(); err != nil {
			t.Fatal(err)
		}
	}
	// A closed connection leaves CLIENT LIST at once, or nearly.
	waitFor(t, func() bool {
		list, err := redis.String(srv.Conn().Do("CLIENT", "LIST"))
		return err == nil && strings.Count(list, "name="+clientName+" ") == 1
	})
}

// TestProbeIntegration: Probe passes for a user with exactly the least
// each mode needs (README, ACL), and fails, naming the reason, when Redis
// is not there, refuses the password, or quote mode's key holds a value
// of another type. It writes nothing.
func TestProbeIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs redis-server")
	}
	srv := redistest.Start(t)
	probe := func(tune func(*Redis)) error {
		r := NewBuiltIn()
		r.Address, r.Log = srv.Addr, logger.NewWriter(&syncBuffer{}, "")
		r.Timeout = config.Duration(2 * time.Second)
		tune(r)
		if err := r.Init(); err != nil {
			t.Fatal(err)
		}
		return r.Probe()
	}
	for mode, rules := range minimalACL {
		user := "probe-" + mode
		args := []interface{}{"SETUSER", user, "reset", "on", ">pw"}
		for _, r := range rules {
			args = append(args, r)
		}
		srv.Do("ACL", args...)
		err := probe(func(r *Redis) {
			r.Mode, r.Username, r.Password = mode, config.NewSecret([]byte(user)), config.NewSecret([]byte("pw"))
		})
		if err != nil {
			t.Errorf("%s with its minimal ACL: %v", mode, err)
		}
	}
	if n, err := redis.Int(srv.Do("DBSIZE"), nil); err != nil || n != 0 {
		t.Fatalf("Probe wrote %d keys (%v)", n, err)
	}
	srv.Do("HSET", DefaultQuoteKey, "x", "1")
	err := probe(func(*Redis) {})
	if err == nil || !strings.Contains(err.Error(), `the quote's key "coingecko:rate:usd" at `+srv.Addr+" holds a hash, not a string") {
		t.Fatalf("quote key of another type: %v", err)
	}
	err = probe(func(r *Redis) { r.Password = config.NewSecret([]byte("nope")) })
	if err == nil || !strings.Contains(err.Error(), "without any password configured") {
		t.Fatalf("password refused: %v", err)
	}
	srv.Kill()
	if err := probe(func(*Redis) {}); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("Redis away: %v", err)
	}
}

// serverWithInclude starts redis-server reading a config file at each
// (re)start (--include), so that a test can restart it with or without
// requirepass; the file starts empty.
func serverWithInclude(t *testing.T) (*redistest.Server, string) {
	t.Helper()
	include := filepath.Join(t.TempDir(), "include.conf")
	if err := os.WriteFile(include, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return redistest.Start(t, "--include", include), include
}

// setInclude restarts srv with requirepass (none when password is "").
func setInclude(t *testing.T, srv *redistest.Server, include, password string) {
	t.Helper()
	conf := ""
	if password != "" {
		conf = "requirepass " + password + "\n"
	}
	if err := os.WriteFile(include, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	srv.Password = password // the test's own connections
	srv.Restart()
}
