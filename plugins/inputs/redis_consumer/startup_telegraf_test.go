package redis_consumer

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/telegraftest"
)

// These tests run the real Telegraf (bin/telegraf, `make telegraf`) with
// [[inputs.redis_consumer]] built in under each startup_error_behavior:
// the input under test, called target, writes measurement "target"
// (quote mode) or "entry" (stream mode); another one, reading a Redis of
// its own, shows that Telegraf runs. Both go to [[outputs.file]].

// inputRun is one Telegraf with the target input.
type inputRun struct {
	tg   *telegraftest.Process
	file string
}

// startTelegrafWithInput runs Telegraf with the target input at addr,
// configured by options (TOML lines), beside another reading other; env
// is added to Telegraf's environment.
func startTelegrafWithInput(t *testing.T, other *redistest.Server, addr, options string, env ...string) *inputRun {
	t.Helper()
	bin := telegraftest.Telegraf(t)
	dir := t.TempDir()
	run := &inputRun{file: filepath.Join(dir, "metrics.lp")}
	conf := filepath.Join(dir, "telegraf.conf")
	err := os.WriteFile(conf, []byte(fmt.Sprintf(`
[agent]
  interval = "1s"
  flush_interval = "200ms"
  omit_hostname = true
  skip_processors_after_aggregators = false

[[inputs.redis_consumer]]
  alias = "other"
  address = %q

[[inputs.redis_consumer]]
  alias = "target"
  address = %q
  timeout = "1s"
%s

[[outputs.file]]
  files = [%q]
`, other.Addr, addr, options, run.file)), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	run.tg = telegraftest.Start(t, "telegraf", bin, env, "--config", conf)
	return run
}

// lines is how many metrics of measurement m the file has.
func (r *inputRun) lines(m string) int {
	data, err := os.ReadFile(r.file)
	if err != nil {
		return 0 // not written yet
	}
	text := "\n" + string(data)
	return strings.Count(text, "\n"+m+",") + strings.Count(text, "\n"+m+" ")
}

// exitsWith waits for Telegraf to stop with an error that says want.
func (r *inputRun) exitsWith(t *testing.T, within time.Duration, want ...string) {
	t.Helper()
	waitLonger(t, within, "Telegraf to exit", r.tg.Exited)
	out := r.tg.Output()
	if !strings.Contains(out, "E! [telegraf] Error running agent: starting input inputs.redis_consumer::target: ") {
		t.Fatalf("Telegraf exited without its error line:\n%s", out)
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Fatalf("Telegraf's output lacks %q:\n%s", w, out)
		}
	}
}

// runsWithout checks that Telegraf runs on without the target: three
// gathers of the other input, none of the target's.
func (r *inputRun) runsWithout(t *testing.T, measurement string) {
	t.Helper()
	n := r.lines("currency_rate")
	waitLonger(t, 10*time.Second, "three gathers of the other input", func() bool { return r.lines("currency_rate") >= n+3*len(docLines) })
	if got := r.lines(measurement); got != 0 || r.tg.Exited() {
		t.Fatalf("%d metrics of the dropped input (Telegraf exited: %v):\n%s", got, r.tg.Exited(), r.tg.Output())
	}
}

func waitLonger(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func otherSource(t *testing.T) *redistest.Server {
	t.Helper()
	src := redistest.Start(t)
	src.Do("SET", DefaultQuoteKey, doc)
	return src
}

const (
	quoteTarget  = `  measurement = "target"`
	streamTarget = "  mode = \"stream\"\n  key = \"metrics\"\n  consumer = \"c1\"\n  block = \"100ms\"\n  measurement = \"entry\""
)

// The agent's line when it drops an input at start.
const droppedAtStart = "I! [agent] Failed to start inputs.redis_consumer::target, shutting down plugin: "

// TestTelegrafStartupErrorBehaviorRedisDownIntegration: the target's
// Redis is not up when Telegraf starts.
//
//   - error (the default): Telegraf stops at once with the reason;
//   - retry: Telegraf runs, starts the input again at every interval, and
//     the input reads once Redis is up (quote mode, and stream mode, whose
//     loop starts then);
//   - ignore, probe: Telegraf runs without the input, which reads nothing
//     even once Redis is up.
func TestTelegrafStartupErrorBehaviorRedisDownIntegration(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("integration test: needs redis-server and runs bin/telegraf")
	}
	telegraftest.Telegraf(t)
	other := otherSource(t)

	t.Run("error", func(t *testing.T) {
		t.Parallel()
		dst := redistest.Start(t)
		dst.Kill()
		run := startTelegrafWithInput(t, other, dst.Addr, quoteTarget)
		run.exitsWith(t, 10*time.Second, "connecting to "+dst.Addr, "connection refused")
	})
	for _, target := range []string{quoteTarget, streamTarget} {
		measurement := "target"
		if target == streamTarget {
			measurement = "entry"
		}
		t.Run("retry "+measurement, func(t *testing.T) {
			t.Parallel()
			dst := redistest.Start(t)
			dst.Kill()
			run := startTelegrafWithInput(t, other, dst.Addr, target+"\n  startup_error_behavior = \"retry\"")
			waitLonger(t, 10*time.Second, "the other input's metrics", func() bool { return run.lines("currency_rate") >= len(docLines) })
			if !strings.Contains(run.tg.Output(), "I! [inputs.redis_consumer::target] Startup failed: connecting to "+dst.Addr) {
				t.Fatalf("no retry line:\n%s", run.tg.Output())
			}
			dst.Restart()
			dst.Do("SET", DefaultQuoteKey, doc)
			dst.Do("XADD", "metrics", "1795552004000-0", "v", "1")
			waitLonger(t, 10*time.Second, "the target's metrics", func() bool { return run.lines(measurement) >= 1 })
		})
	}
	for _, behavior := range []string{"ignore", "probe"} {
		t.Run(behavior, func(t *testing.T) {
			t.Parallel()
			dst := redistest.Start(t)
			dst.Kill()
			run := startTelegrafWithInput(t, other, dst.Addr, quoteTarget+fmt.Sprintf("\n  startup_error_behavior = %q", behavior))
			waitLonger(t, 10*time.Second, "the input dropped", func() bool { return strings.Contains(run.tg.Output(), droppedAtStart) })
			dst.Restart()
			dst.Do("SET", DefaultQuoteKey, doc)
			run.runsWithout(t, "target")
		})
	}
}

// TestTelegrafStartupErrorBehaviorRefusedIntegration: a wrong password is
// not retried as if Redis were down: Telegraf stops at once with the
// reason under "error" and "retry", and runs without the input under
// "ignore" and "probe". With "probe", an input whose start works but
// whose reads would be refused (a user without GET) is dropped too, and
// one whose reads work runs. Hostile: with "retry", Redis comes up after
// a start that failed as away, wanting a password the config does not
// have, and is restarted without it: the input logs the refusal once,
// Telegraf keeps retrying, and the input reads once the password is gone.
func TestTelegrafStartupErrorBehaviorRefusedIntegration(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("integration test: needs redis-server and runs bin/telegraf")
	}
	telegraftest.Telegraf(t)
	other := otherSource(t)

	for _, behavior := range []string{"error", "retry"} {
		t.Run("wrong password "+behavior, func(t *testing.T) {
			t.Parallel()
			dst := redistest.Start(t, "--requirepass", "right")
			run := startTelegrafWithInput(t, other, dst.Addr, quoteTarget+fmt.Sprintf("\n  password = \"wrong\"\n  startup_error_behavior = %q", behavior))
			run.exitsWith(t, 10*time.Second, "WRONGPASS")
			if strings.Contains(run.tg.Output(), "Startup failed") {
				t.Fatalf("a wrong password was taken for Redis away:\n%s", run.tg.Output())
			}
		})
	}
	for _, behavior := range []string{"ignore", "probe"} {
		t.Run("wrong password "+behavior, func(t *testing.T) {
			t.Parallel()
			dst := redistest.Start(t, "--requirepass", "right")
			dst.Do("SET", DefaultQuoteKey, doc)
			run := startTelegrafWithInput(t, other, dst.Addr, quoteTarget+fmt.Sprintf("\n  password = \"wrong\"\n  startup_error_behavior = %q", behavior))
			waitLonger(t, 10*time.Second, "the input dropped", func() bool {
				return strings.Contains(run.tg.Output(), droppedAtStart) && strings.Contains(run.tg.Output(), "WRONGPASS")
			})
			run.runsWithout(t, "target")
		})
	}
	t.Run("probe refused", func(t *testing.T) {
		t.Parallel()
		dst := redistest.Start(t)
		dst.Do("SET", DefaultQuoteKey, doc)
		dst.Do("ACL", "SETUSER", "nosy", "on", ">pw", "+client|setname", "~*") // may connect, not GET
		run := startTelegrafWithInput(t, other, dst.Addr, quoteTarget+"\n  username = \"nosy\"\n  password = \"pw\"\n  startup_error_behavior = \"probe\"")
		const probeFailed = "I! [agent] Failed to probe inputs.redis_consumer::target, shutting down plugin: probing GET \"coingecko:rate:usd\" at "
		waitLonger(t, 10*time.Second, "the input dropped", func() bool {
			return strings.Contains(run.tg.Output(), probeFailed) && strings.Contains(run.tg.Output(), "NOPERM")
		})
		run.runsWithout(t, "target")
	})
	t.Run("probe passed", func(t *testing.T) {
		t.Parallel()
		// The user name from the environment (a secret, as the
		// password): the default user has another password.
		dst := redistest.Start(t, "--requirepass", "admin-pw")
		dst.Do("SET", DefaultQuoteKey, doc)
		dst.Do("ACL", "SETUSER", "reader", "on", ">pw", "+client|setname", "+get", "~*")
		options := quoteTarget + "\n  username = \"${TR_USER}\"\n  password = \"pw\"\n  startup_error_behavior = \"probe\""
		run := startTelegrafWithInput(t, other, dst.Addr, options, "TR_USER=reader")
		waitLonger(t, 10*time.Second, "the target's metrics", func() bool { return run.lines("target") >= len(docLines) })
	})
	t.Run("retry away then refusing then open", func(t *testing.T) {
		t.Parallel()
		dst, include := serverWithInclude(t)
		dst.Kill()
		run := startTelegrafWithInput(t, other, dst.Addr, quoteTarget+"\n  startup_error_behavior = \"retry\"")
		waitLonger(t, 10*time.Second, "the retried start", func() bool { return strings.Contains(run.tg.Output(), "Startup failed") })
		setInclude(t, dst, include, "pw")
		const refused = "E! [inputs.redis_consumer::target] start failed again: connecting to "
		waitLonger(t, 10*time.Second, "the refusal logged", func() bool { return strings.Contains(run.tg.Output(), refused) })
		// More intervals, refused again: not logged again.
		n := strings.Count(run.tg.Output(), "Error in plugin: not connected")
		waitLonger(t, 10*time.Second, "more refused starts", func() bool {
			return strings.Count(run.tg.Output(), "Error in plugin: not connected") >= n+3
		})
		if c := strings.Count(run.tg.Output(), refused); c != 1 || !strings.Contains(run.tg.Output(), "NOAUTH") {
			t.Fatalf("want the NOAUTH refusal logged once, got %d:\n%s", c, run.tg.Output())
		}
		setInclude(t, dst, include, "")
		dst.Do("SET", DefaultQuoteKey, doc)
		waitLonger(t, 10*time.Second, "the target's metrics", func() bool { return run.lines("target") >= len(docLines) })
	})
}
