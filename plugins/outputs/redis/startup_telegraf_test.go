package redis

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/telegraftest"
)

// These tests run the real Telegraf (bin/telegraf, `make telegraf`) with
// [[outputs.redis]] built in under each startup_error_behavior. The
// metrics come from [[inputs.redis_consumer]] reading a quote document on
// a Redis of its own; [[outputs.file]] beside ours shows that Telegraf
// runs. Telegraf's agent tries an output's Connect a second time 15 s
// after it failed, whatever the behavior, and only then acts on it: the
// tests that go through it wait that long.

// startupRun is one Telegraf with our output, called target, writing a
// list at its address.
type startupRun struct {
	tg   *telegraftest.Process
	file string // where outputs.file writes
}

// startTelegrafWithOutput runs Telegraf with [[outputs.redis]] at addr
// configured by options (TOML lines), reading the quote of src; env is
// added to Telegraf's environment.
func startTelegrafWithOutput(t *testing.T, src *redistest.Server, addr, options string, env ...string) *startupRun {
	t.Helper()
	bin := telegraftest.Telegraf(t)
	dir := t.TempDir()
	run := &startupRun{file: filepath.Join(dir, "metrics.lp")}
	conf := filepath.Join(dir, "telegraf.conf")
	err := os.WriteFile(conf, []byte(fmt.Sprintf(`
[agent]
  interval = "1s"
  flush_interval = "200ms"
  omit_hostname = true
  skip_processors_after_aggregators = false

[[inputs.redis_consumer]]
  address = %q

[[outputs.file]]
  files = [%q]

[[outputs.redis]]
  alias = "target"
  address = %q
  mode = "list"
  key = "copy"
  timeout = "1s"
%s
`, src.Addr, run.file, addr, options)), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	run.tg = telegraftest.Start(t, "telegraf", bin, env, "--config", conf)
	return run
}

// fileLines is how many metrics outputs.file has written.
func (r *startupRun) fileLines() int {
	data, err := os.ReadFile(r.file)
	if err != nil {
		return 0 // not written yet
	}
	return strings.Count(string(data), "\n")
}

// listLen is the length of the list our output writes, 0 while the
// server is down.
func listLen(srv *redistest.Server) int {
	if !srv.Running() {
		return 0
	}
	c, err := redis.Dial("tcp", srv.Addr, redis.DialPassword(srv.Password))
	if err != nil {
		return 0
	}
	defer c.Close()
	n, err := redis.Int(c.Do("LLEN", "copy"))
	if err != nil {
		return 0
	}
	return n
}

// The agent's line when an output's first Connect failed.
const retryIn15s = "E! [agent] Failed to connect to [outputs.redis::target], retrying in 15s"

// exitsWith waits for Telegraf to stop with an error that says want.
func (r *startupRun) exitsWith(t *testing.T, within time.Duration, want ...string) {
	t.Helper()
	waitLong(t, within, "Telegraf to exit", r.tg.Exited)
	out := r.tg.Output()
	if !strings.Contains(out, "E! [telegraf] Error running agent: ") {
		t.Fatalf("Telegraf exited without its error line:\n%s", out)
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Fatalf("Telegraf's output lacks %q:\n%s", w, out)
		}
	}
}

func quoteSource(t *testing.T) *redistest.Server {
	t.Helper()
	src := redistest.Start(t)
	src.Do("SET", DefaultQuoteKey, `{"timestamp":1795552004,"quote":"usd","prices":[{"id":"bitcoin","price":"97234.12"}]}`)
	return src
}

// TestTelegrafStartupErrorBehaviorRedisDownIntegration: our output's
// Redis is not up when Telegraf starts.
//
//   - error (the default): Telegraf stops with the reason, after its second
//     attempt 15 s later;
//   - retry: Telegraf runs (the file gets metrics), keeps ours, and
//     writes them once Redis is up;
//   - ignore: Telegraf runs without our output, which writes nothing even
//     once Redis is up;
//   - probe: Telegraf 1.37 refuses it for outputs, at start.
//
// Hostile: Redis comes up at the worst moment, between the failed start
// and the agent's second attempt: the output is connected then, and
// writes, with "error" as with "ignore".
func TestTelegrafStartupErrorBehaviorRedisDownIntegration(t *testing.T) {
	t.Parallel() // mostly waiting for Telegraf's 15 s
	if testing.Short() {
		t.Skip("integration test: needs redis-server and runs bin/telegraf")
	}
	telegraftest.Telegraf(t) // built once, before the parallel runs
	src := quoteSource(t)

	t.Run("error", func(t *testing.T) {
		t.Parallel()
		dst := redistest.Start(t)
		dst.Kill()
		run := startTelegrafWithOutput(t, src, dst.Addr, "") // the default behavior
		waitLong(t, 10*time.Second, "the first failed Connect", func() bool { return strings.Contains(run.tg.Output(), retryIn15s) })
		run.exitsWith(t, 30*time.Second, "connecting output outputs.redis::target", "connection refused")
		if n := run.fileLines(); n != 0 {
			t.Fatalf("%d metrics written before Telegraf stopped", n)
		}
	})
	t.Run("retry", func(t *testing.T) {
		t.Parallel()
		dst := redistest.Start(t)
		dst.Kill()
		run := startTelegrafWithOutput(t, src, dst.Addr, `  startup_error_behavior = "retry"`)
		waitLong(t, 10*time.Second, "metrics in the file", func() bool { return run.fileLines() >= 2 })
		if !strings.Contains(run.tg.Output(), "I! [outputs.redis::target] Connect failed: connecting to "+dst.Addr) {
			t.Fatalf("no retry line:\n%s", run.tg.Output())
		}
		dst.Restart()
		// Those gathered while Redis was away arrive too.
		held := run.fileLines()
		waitLong(t, 10*time.Second, "the metrics held, in Redis", func() bool { return listLen(dst) >= held })
	})
	t.Run("ignore", func(t *testing.T) {
		t.Parallel()
		dst := redistest.Start(t)
		dst.Kill()
		run := startTelegrafWithOutput(t, src, dst.Addr, `  startup_error_behavior = "ignore"`)
		waitLong(t, 30*time.Second, "the output dropped", func() bool {
			return strings.Contains(run.tg.Output(), "Failed to connect to [outputs.redis::target], error was") &&
				strings.Contains(run.tg.Output(), "shutting down plugin")
		})
		dst.Restart()
		waitLong(t, 10*time.Second, "metrics in the file", func() bool { return run.fileLines() >= 2 })
		// Three gathers after Redis came up: none of them in Redis.
		n := run.fileLines()
		waitLong(t, 10*time.Second, "three more gathers", func() bool { return run.fileLines() >= n+3 })
		if n := listLen(dst); n != 0 || run.tg.Exited() {
			t.Fatalf("the ignored output wrote %d metrics (Telegraf exited: %v)", n, run.tg.Exited())
		}
	})
	t.Run("probe", func(t *testing.T) {
		t.Parallel()
		dst := redistest.Start(t)
		run := startTelegrafWithOutput(t, src, dst.Addr, `  startup_error_behavior = "probe"`)
		run.exitsWith(t, 10*time.Second, `could not initialize output outputs.redis::target: invalid 'startup_error_behavior' setting "probe"`)
	})
	for _, behavior := range []string{"error", "ignore"} {
		t.Run("up between the attempts "+behavior, func(t *testing.T) {
			t.Parallel()
			dst := redistest.Start(t)
			dst.Kill()
			run := startTelegrafWithOutput(t, src, dst.Addr, fmt.Sprintf("  startup_error_behavior = %q", behavior))
			waitLong(t, 10*time.Second, "the first failed Connect", func() bool { return strings.Contains(run.tg.Output(), retryIn15s) })
			dst.Restart()
			waitLong(t, 30*time.Second, "metrics in Redis", func() bool { return listLen(dst) >= 2 })
			if run.tg.Exited() || strings.Contains(run.tg.Output(), "shutting down plugin") {
				t.Fatalf("the output was not kept:\n%s", run.tg.Output())
			}
		})
	}
}

// TestTelegrafStartupErrorBehaviorRefusedIntegration: a refusal an
// operator must act on is not retried as if Redis were down: with a wrong
// password Telegraf stops with the reason whatever the behavior (for
// outputs, Telegraf 1.37 applies startup_error_behavior to retryable
// errors only). Hostile: a server that wants a password the config does
// not have is restarted without it, between the failed start and the
// agent's second attempt: the output connects then and writes; with
// "retry", Redis comes up wanting it after a start that failed as away,
// and is restarted without it: the output logs the refusal once, and
// writes once it is gone.
func TestTelegrafStartupErrorBehaviorRefusedIntegration(t *testing.T) {
	t.Parallel() // mostly waiting for Telegraf's 15 s
	if testing.Short() {
		t.Skip("integration test: needs redis-server and runs bin/telegraf")
	}
	telegraftest.Telegraf(t)
	src := quoteSource(t)

	for _, behavior := range []string{"error", "retry", "ignore"} {
		t.Run("wrong password "+behavior, func(t *testing.T) {
			t.Parallel()
			dst := redistest.Start(t, "--requirepass", "right")
			run := startTelegrafWithOutput(t, src, dst.Addr, fmt.Sprintf("  password = \"wrong\"\n  startup_error_behavior = %q", behavior))
			run.exitsWith(t, 30*time.Second, "connecting output outputs.redis::target", "WRONGPASS")
			if strings.Contains(run.tg.Output(), "Connect failed") || strings.Contains(run.tg.Output(), "shutting down plugin") {
				t.Fatalf("a wrong password was taken for Redis away:\n%s", run.tg.Output())
			}
		})
	}
	t.Run("username from the environment", func(t *testing.T) {
		t.Parallel()
		// The default user has another password: only the ACL user
		// named by the variable can write.
		dst := redistest.Start(t, "--requirepass", "admin-pw")
		dst.Do("ACL", "SETUSER", "writer", "on", ">writer-pw", "+@all", "~*")
		startTelegrafWithOutput(t, src, dst.Addr, "  username = \"${TR_USER}\"\n  password = \"${TR_PW}\"",
			"TR_USER=writer", "TR_PW=writer-pw")
		waitLong(t, 10*time.Second, "metrics in Redis", func() bool { return listLen(dst) >= 2 })
	})
	t.Run("password dropped between the attempts", func(t *testing.T) {
		t.Parallel()
		dst, include := serverWithInclude(t)
		setInclude(t, dst, include, "pw")
		run := startTelegrafWithOutput(t, src, dst.Addr, "")
		waitLong(t, 10*time.Second, "the first failed Connect", func() bool {
			out := run.tg.Output()
			return strings.Contains(out, retryIn15s) && strings.Contains(out, "NOAUTH")
		})
		setInclude(t, dst, include, "")
		waitLong(t, 30*time.Second, "metrics in Redis", func() bool { return listLen(dst) >= 2 })
	})
	t.Run("retry away then refusing then open", func(t *testing.T) {
		t.Parallel()
		dst, include := serverWithInclude(t)
		dst.Kill()
		run := startTelegrafWithOutput(t, src, dst.Addr, `  startup_error_behavior = "retry"`)
		waitLong(t, 10*time.Second, "the retried start", func() bool { return strings.Contains(run.tg.Output(), "Connect failed") })
		setInclude(t, dst, include, "pw")
		const refused = "E! [outputs.redis::target] start failed again: connecting to "
		waitLong(t, 10*time.Second, "the refusal logged", func() bool { return strings.Contains(run.tg.Output(), refused) })
		// More flushes, refused again: not logged again.
		n := strings.Count(run.tg.Output(), "Error writing to outputs.redis::target: not connected")
		waitLong(t, 10*time.Second, "more refused flushes", func() bool {
			return strings.Count(run.tg.Output(), "Error writing to outputs.redis::target: not connected") >= n+3
		})
		if c := strings.Count(run.tg.Output(), refused); c != 1 || !strings.Contains(run.tg.Output(), "NOAUTH") {
			t.Fatalf("want the NOAUTH refusal logged once, got %d:\n%s", c, run.tg.Output())
		}
		setInclude(t, dst, include, "")
		waitLong(t, 10*time.Second, "metrics in Redis", func() bool { return listLen(dst) >= 2 })
		if run.tg.Exited() {
			t.Fatalf("Telegraf exited:\n%s", run.tg.Output())
		}
	})
}
