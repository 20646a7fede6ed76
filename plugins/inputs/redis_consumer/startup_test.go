package redis_consumer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/agent"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/models"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/logger"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/redisconn"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

// runningInput is the plugin in Telegraf's own model of an input, with
// startup_error_behavior = behavior, and the accumulator Telegraf's agent
// gives it; the metrics it adds go to the returned channel.
func runningInput(t *testing.T, addr, behavior string, logs *syncBuffer, tune func(*RedisConsumer)) (
	*models.RunningInput, telegraf.Accumulator, chan telegraf.Metric,
) {
	t.Helper()
	p := NewBuiltIn()
	p.Address = addr
	p.Timeout = config.Duration(2 * time.Second)
	if tune != nil {
		tune(p)
	}
	ri := models.NewRunningInput(p, &models.InputConfig{Name: "redis_consumer", StartupErrorBehavior: behavior})
	p.Log = logger.NewWriter(logs, "inputs.redis_consumer") // NewRunningInput set Telegraf's own
	if err := ri.Init(); err != nil {
		t.Fatal(err)
	}
	ch := make(chan telegraf.Metric, 100)
	t.Cleanup(ri.Stop)
	return ri, agent.NewAccumulator(ri, ch), ch
}

// typeName is the type of err as Telegraf's agent tests it (its internal
// package cannot be imported here).
func typeName(err error) string { return fmt.Sprintf("%T", err) }

// modeTunes configure each mode.
var modeTunes = map[string]func(*RedisConsumer){
	"quote":     nil,
	"keys":      func(p *RedisConsumer) { p.Mode, p.Key = "keys", "host:*" },
	"subscribe": func(p *RedisConsumer) { p.Mode, p.Channels = "subscribe", []string{"metrics"} },
	"stream": func(p *RedisConsumer) {
		p.Mode, p.Key, p.Consumer, p.Block = "stream", "metrics", "c1", config.Duration(100*time.Millisecond)
	},
}

// TestStartupErrorBehaviorRedisDown: in every mode, Redis not reachable
// at start is a retryable startup error, which Telegraf's model of an
// input turns into what startup_error_behavior asks for: an error that
// stops Telegraf ("error", the default), a start retried at each gather
// ("retry"), or the input dropped ("ignore", "probe"). Hostile: a failed
// start, however often retried, leaves no goroutine behind.
func TestStartupErrorBehaviorRedisDown(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t))
	for mode, tune := range modeTunes {
		for _, behavior := range []string{"", "error"} {
			ri, acc, _ := runningInput(t, addr, behavior, &syncBuffer{}, tune)
			err := ri.Start(acc)
			var se *redisconn.StartupError
			if !errors.As(err, &se) || !se.Retry || !strings.Contains(err.Error(), "connecting to "+addr) {
				t.Fatalf("%s, %q: Start: %v", mode, behavior, err)
			}
		}
		for _, behavior := range []string{"ignore", "probe"} {
			ri, acc, _ := runningInput(t, addr, behavior, &syncBuffer{}, tune)
			if err := ri.Start(acc); typeName(err) != "*internal.FatalError" {
				t.Fatalf("%s, %s: Start: %T %v", mode, behavior, err, err)
			}
		}
		ri, acc, _ := runningInput(t, addr, "retry", &syncBuffer{}, tune)
		if err := ri.Start(acc); err != nil {
			t.Fatalf("%s, retry: Start: %v", mode, err)
		}
		before := runtime.NumGoroutine()
		for i := 0; i < 20; i++ {
			if err := ri.Gather(acc); err == nil || err.Error() != "not connected" {
				t.Fatalf("%s, retry: Gather: %v", mode, err)
			}
		}
		if n := runtime.NumGoroutine(); n > before+2 {
			t.Fatalf("%s: %d goroutines after 20 failed starts, %d before", mode, n, before)
		}
	}
}

// TestStartupErrorBehaviorRefusedIntegration: a refusal an operator must
// act on (a wrong password; a password for a server that has none; none
// for a server that wants one; a database the server does not have) is a
// startup error that is not retried: Telegraf stops with the reason with
// "error" and "retry", and drops the input with "ignore" and "probe".
func TestStartupErrorBehaviorRefusedIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs redis-server")
	}
	secured := redistest.Start(t, "--requirepass", "right")
	open := redistest.Start(t)
	cases := map[string]struct {
		addr string
		tune func(*RedisConsumer)
		want string
	}{
		"wrong password":       {secured.Addr, func(p *RedisConsumer) { p.Password = config.NewSecret([]byte("wrong")) }, "WRONGPASS"},
		"no password":          {secured.Addr, nil, "NOAUTH"},
		"password, none asked": {open.Addr, func(p *RedisConsumer) { p.Password = config.NewSecret([]byte("pw")) }, "without any password configured"},
		"no such database":     {open.Addr, func(p *RedisConsumer) { p.Database = 16 }, "option database: 16 does not exist"},
	}
	for name, c := range cases {
		for _, behavior := range []string{"error", "retry"} {
			ri, acc, _ := runningInput(t, c.addr, behavior, &syncBuffer{}, c.tune)
			err := ri.Start(acc)
			var se *redisconn.StartupError
			if !errors.As(err, &se) || se.Retry || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s, %s: Start: %v", name, behavior, err)
			}
		}
		for _, behavior := range []string{"ignore", "probe"} {
			ri, acc, _ := runningInput(t, c.addr, behavior, &syncBuffer{}, c.tune)
			if err := ri.Start(acc); typeName(err) != "*internal.FatalError" || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s, %s: Start: %T %v", name, behavior, err, err)
			}
		}
	}
}

// TestRetriedStartReadsOnceRedisIsUpIntegration: with
// startup_error_behavior = "retry", Telegraf calls Start at each gather
// until Redis is there, then gathers at once. Hostile: Redis comes up
// between two retries refusing the connection (it wants a password the
// config does not have), then is restarted without it. The refusal is
// logged by the plugin (Telegraf says only "not connected"), once.
func TestRetriedStartReadsOnceRedisIsUpIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs redis-server")
	}
	srv, include := serverWithInclude(t)
	srv.Kill()
	logs := &syncBuffer{}
	ri, acc, ch := runningInput(t, srv.Addr, "retry", logs, nil)
	if err := ri.Start(acc); err != nil {
		t.Fatal(err)
	}
	if err := ri.Gather(acc); err == nil || err.Error() != "not connected" {
		t.Fatalf("Gather with Redis away: %v", err)
	}

	setInclude(t, srv, include, "pw")
	for i := 0; i < 3; i++ {
		if err := ri.Gather(acc); err == nil || err.Error() != "not connected" {
			t.Fatalf("Gather from a Redis that wants a password: %v", err)
		}
	}
	if n := strings.Count(logs.String(), "E! [inputs.redis_consumer] start failed again: "); n != 1 || !strings.Contains(logs.String(), "NOAUTH") {
		t.Fatalf("want one E! line with NOAUTH, got %d:\n%s", n, logs)
	}
	if len(ch) != 0 {
		t.Fatalf("%d metrics before the start succeeded", len(ch))
	}

	setInclude(t, srv, include, "")
	srv.Do("SET", DefaultQuoteKey, doc) // a restart without persistence lost it
	if err := ri.Gather(acc); err != nil {
		t.Fatalf("Gather after Redis came back: %v", err)
	}
	if len(ch) != len(docLines) {
		t.Fatalf("%d metrics, want %d", len(ch), len(docLines))
	}
	if !strings.Contains(logs.String(), "I! [inputs.redis_consumer] connected to Redis at "+srv.Addr+" after ") {
		t.Fatalf("no I! line once connected:\n%s", logs)
	}
}

// TestProbeIntegration: Probe passes in every mode for a user with
// exactly the least the mode needs (README, ACL), delivering, claiming and
// acknowledging nothing; it fails, naming the reason, for a user without
// a permission the mode's reads need, and for a key of another type.
func TestProbeIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs redis-server")
	}
	srv := redistest.Start(t)
	srv.Do("SET", DefaultQuoteKey, doc)
	srv.Do("XADD", "metrics", "1-1", "v", "1")
	srv.Do("XGROUP", "CREATE", "metrics", "telegraf", "0")
	srv.Do("XREADGROUP", "GROUP", "telegraf", "c1", "STREAMS", "metrics", ">") // 1-1 pending for c1
	srv.Do("XADD", "metrics", "1-2", "v", "2")                                 // not yet delivered
	groups := func() string {
		info, err := redis.Values(srv.Do("XINFO", "GROUPS", "metrics"), nil)
		if err != nil || len(info) != 1 {
			t.Fatalf("XINFO GROUPS: %v %v", info, err)
		}
		return fmt.Sprint(info[0])
	}
	before := groups()
	probe := func(user string, rules []string, tune func(*RedisConsumer)) error {
		args := []interface{}{"SETUSER", user, "reset", "on", ">pw"}
		for _, r := range rules {
			args = append(args, r)
		}
		srv.Do("ACL", args...)
		p, _ := newPlugin(t, srv.Addr, func(p *RedisConsumer) {
			p.Username, p.Password = config.NewSecret([]byte(user)), config.NewSecret([]byte("pw"))
			p.builtIn = true
			if tune != nil {
				tune(p)
			}
		})
		return p.Probe()
	}
	for mode, tune := range modeTunes {
		if err := probe("probe-"+mode, minimalACL[mode], tune); err != nil {
			t.Errorf("%s with its minimal ACL: %v", mode, err)
		}
	}
	if after := groups(); after != before {
		t.Fatalf("Probe changed the group:\nbefore %s\nafter  %s", before, after)
	}
	pendingList, err := redis.Values(srv.Do("XPENDING", "metrics", "telegraf", "-", "+", 10), nil)
	if err != nil || len(pendingList) != 1 || !strings.Contains(fmt.Sprint(pendingList[0]), " 1]") {
		t.Fatalf("Probe changed the pending entry (its delivery count is 1): %q", pendingList)
	}

	refused := map[string]struct {
		rules []string
		tune  func(*RedisConsumer)
		want  string
	}{
		"quote without GET": {[]string{"+client|setname", "~*"}, nil, `probing GET "coingecko:rate:usd" at ` + srv.Addr + ": NOPERM"},
		"quote, a channel not allowed": {[]string{"+client|setname", "+get", "+subscribe", "~*", "resetchannels", "&other"},
			func(p *RedisConsumer) { p.Subscribe, p.Channel = true, "quotes" }, "NOPERM"},
		"keys without SCAN":      {[]string{"+client|setname", "~*"}, modeTunes["keys"], "SCAN MATCH \"host:*\" at " + srv.Addr + ": NOPERM"},
		"subscribe, not allowed": {[]string{"+client|setname", "+subscribe", "+psubscribe", "resetchannels", "&other"}, modeTunes["subscribe"], "NOPERM"},
		"stream without XREADGROUP": {[]string{"+client|setname", "+xack", "~metrics"}, modeTunes["stream"],
			`probing XREADGROUP on stream "metrics" at ` + srv.Addr + ": NOPERM"},
		"stream without XACK": {[]string{"+client|setname", "+xreadgroup", "~metrics"}, modeTunes["stream"], `XACK on stream "metrics"`},
		"stream, another key": {[]string{"+client|setname", "+xreadgroup", "+xack", "~other"}, modeTunes["stream"], "NOPERM"},
	}
	for name, c := range refused {
		if err := probe("refused", c.rules, c.tune); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
	srv.Do("SET", "notastream", "x")
	if err := probe("all", []string{"+@all", "~*", "allchannels"}, func(p *RedisConsumer) { modeTunes["stream"](p); p.Key = "notastream" }); err == nil ||
		!strings.Contains(err.Error(), `WRONGTYPE key "notastream" holds a string, not a stream`) {
		t.Errorf("stream key of another type: %v", err)
	}
	srv.Do("HSET", "hashdoc", "x", "1")
	if err := probe("all", []string{"+@all", "~*", "allchannels"}, func(p *RedisConsumer) { p.Key = "hashdoc" }); err == nil ||
		!strings.Contains(err.Error(), `WRONGTYPE key "hashdoc" holds a hash, not a string`) {
		t.Errorf("quote key of another type: %v", err)
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
