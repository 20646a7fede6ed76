package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/syncbuf"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/telegraftest"
)

const doc = `{"timestamp":1795552004,"quote":"usd","prices":[{"id":"bitcoin","price":"97234.12"},{"id":"ethereum","price":"3391.45"}]}`

const docLines = "currency_rate,id=bitcoin,quote=usd price=97234.12 1795552004000000000\n" +
	"currency_rate,id=ethereum,quote=usd price=3391.45 1795552004000000000\n"

func binary(t *testing.T) string { return telegraftest.Command(t, "redis-input") }

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "redis-input.conf")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

type syncBuffer = syncbuf.Buffer

// proc is redis-input started by a test, as [[inputs.execd]] starts it.
type proc struct {
	cmd            *exec.Cmd
	stdin          io.WriteCloser
	stdout, stderr *syncBuffer
	done           chan error
}

// startProc runs redis-input with args and extra environment variables.
func startProc(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(binary(t), args...), stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan error, 1)}
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	p.cmd.Env = append(os.Environ(), env...)
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			t.Error(err)
		}
		<-p.done
		p.done <- nil
		if t.Failed() {
			t.Logf("stderr of redis-input:\n%s", p.stderr)
		}
	})
	return p
}

// wait returns the exit error, failing the test after 10s.
func (p *proc) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("redis-input did not exit within 10s")
		return nil
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestConfigErrorsNameTheOptionAndLineIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	cases := map[string]string{
		"[[inputs.redis_consumer]]\n  address = \"127.0.0.1:1\"\n  adress = \"x\"\n": `line 3: unknown option "adress" ` +
			`in [[inputs.redis_consumer]]`,
		"[[inputs.redis_consumer]]\n  mode = \"stream\"\n  key = \"s\"\n  batch_size = \"ten\"\n": `line 4: option "batch_size": cannot ` +
			`unmarshal TOML string into int`,
		"[[inputs.redis_consumer]]\n  mode = \"zset\"\n": `line 2: option mode: "zset" is not supported`,
		"[[inputs.redis_consumer]]\n  key = \"k\"\n\n  group = \"g\"\n": `line 4: option group: only read in ` +
			`stream mode (mode is "quote")`,
		"[[inputs.redis_consumer]]\n  mode = \"keys\"\n  key = \"k*\"\n  json_time_key = \"t\"\n": `line 4: option "json_time_key": an option ` +
			`of data_format "json", not of "influx"`,
		"[[inputs.redis_consumer]]\n  mode = \"stream\"\n  key = \"s\"\n  # block = \"1s\"\n  block = \"0s\"\n": `line 5: option block: must be longer than 0s`,
		"[[inputs.redis_consumer]]\n  mode = \"subscribe\"\n": "option channels: subscribe mode " +
			"needs channels or patterns",
		"[[inputs.redis_consumer]]\n[[inputs.redis_consumer]]\n": "2 [[inputs.redis_consumer]] tables",
		"[[outputs.redis]]\n": "unexpected table [[outputs.redis]]",
		"[[inputs.redis_consumer]]\n  address = \"${RI_MISSING_ADDR:?set it}\"\n": "line 2: required variable RI_MISSING_ADDR is missing a value: set it",
	}
	for text, want := range cases {
		cmd := exec.Command(binary(t), "-config", writeConfig(t, text))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		if code := cmd.ProcessState.ExitCode(); err == nil || code != 1 {
			t.Errorf("%q: exit %d", text, code)
			continue
		}
		msg := stderr.String()
		if !strings.HasPrefix(msg, "E! ") || strings.Count(msg, "\n") != 1 || !strings.Contains(msg, want) {
			t.Errorf("%q: stderr %q, want one E! line with %q", text, msg, want)
		}
	}
}

// Telegraf stops an execd input by closing its stdin: exit 0, after the
// gathers asked for are written.
func TestStdinEOFExitsZeroIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	srv.Do("SET", "coingecko:rate:usd", doc)
	conf := writeConfig(t, "[[inputs.redis_consumer]]\n  address = \"${RI_REDIS}\"\n")
	p := startProc(t, []string{"RI_REDIS=" + srv.Addr}, "-config", conf)
	fmt.Fprint(p.stdin, "\n")
	waitFor(t, "the first gather", func() bool { return p.stdout.String() == docLines })
	p.stdin.Close()
	if err := p.wait(t); err != nil {
		t.Fatalf("exit: %v", err)
	}
	if p.stderr.String() != "" {
		t.Fatalf("stderr: %q", p.stderr)
	}
}

// `echo | redis-input`: the line before the end of stdin is still gathered.
func TestLastLineBeforeTheEndIsGatheredIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	srv.Do("SET", "coingecko:rate:usd", doc)
	cmd := exec.Command(binary(t), "-config", writeConfig(t, fmt.Sprintf("[[inputs.redis_consumer]]\n  address = %q\n", srv.Addr)))
	cmd.Stdin = strings.NewReader("\n")
	out, err := cmd.Output()
	if err != nil || string(out) != docLines {
		t.Fatalf("%v: %q", err, out)
	}
}

// SIGTERM in stream mode: the batch in hand is written and acknowledged,
// then exit 0.
func TestSIGTERMExitsZeroInStreamModeIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	conf := writeConfig(t, fmt.Sprintf(`
[[inputs.redis_consumer]]
  address = %q
  mode = "stream"
  key = "metrics"
  consumer = "c1"
  payload_field = "lp"
`, srv.Addr))
	p := startProc(t, nil, "-config", conf)
	srv.Do("XADD", "metrics", "*", "lp", "cpu usage=1 1795552004000000000")
	waitFor(t, "the entry on stdout", func() bool { return p.stdout.String() == "cpu usage=1 1795552004000000000\n" })
	waitFor(t, "the XACK", func() bool {
		v, err := redis.Values(srv.Conn().Do("XPENDING", "metrics", "telegraf"))
		return err == nil && v[0].(int64) == 0
	})
	began := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.wait(t); err != nil {
		t.Fatalf("exit: %v\n%s", err, p.stderr)
	}
	if took := time.Since(began); took > 2*time.Second {
		t.Fatalf("took %s to stop (block is 1s)", took)
	}
	if strings.Contains(p.stderr.String(), "E! ") || strings.Contains(p.stderr.String(), "W! ") {
		t.Fatalf("stderr: %s", p.stderr)
	}
}

func TestSIGTERMExitsZeroInSubscribeModeIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	conf := writeConfig(t, fmt.Sprintf("[[inputs.redis_consumer]]\n  address = %q\n  mode = \"subscribe\"\n  channels = [\"m\"]\n", srv.Addr))
	p := startProc(t, nil, "-config", conf)
	waitFor(t, "the subscription", func() bool {
		v, err := redis.Values(srv.Conn().Do("PUBSUB", "NUMSUB", "m"))
		return err == nil && v[1].(int64) == 1
	})
	srv.Do("PUBLISH", "m", "a x=1 1")
	waitFor(t, "the message", func() bool { return p.stdout.String() == "a x=1 1\n" })
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.wait(t); err != nil {
		t.Fatalf("exit: %v", err)
	}
}

// execd's other signal values (SIGHUP, SIGUSR1, SIGUSR2) ask for a gather
// instead of killing the process.
func TestSignalsAskForAGatherIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	srv.Do("SET", "coingecko:rate:usd", doc)
	p := startProc(t, nil, "-config", writeConfig(t, fmt.Sprintf("[[inputs.redis_consumer]]\n  address = %q\n", srv.Addr)))
	// A gather through stdin first: once it is written, the handlers are in.
	fmt.Fprint(p.stdin, "\n")
	waitFor(t, "the first gather", func() bool { return p.stdout.String() == docLines })
	for i, sig := range []syscall.Signal{syscall.SIGUSR1, syscall.SIGHUP, syscall.SIGUSR2} {
		if err := p.cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		waitFor(t, sig.String(), func() bool { return p.stdout.String() == strings.Repeat(docLines, i+2) })
	}
	p.stdin.Close()
	if err := p.wait(t); err != nil {
		t.Fatal(err)
	}
}

func TestOnceAndPollIntervalIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	srv.Do("SET", "coingecko:rate:usd", doc)
	conf := writeConfig(t, fmt.Sprintf("[[inputs.redis_consumer]]\n  address = %q\n", srv.Addr))
	out, err := exec.Command(binary(t), "-config", conf, "-once").Output()
	if err != nil || string(out) != docLines {
		t.Fatalf("-once: %v: %q", err, out)
	}

	p := startProc(t, nil, "-config", conf, "-poll_interval", "50ms")
	waitFor(t, "three polls", func() bool { return strings.Count(p.stdout.String(), "bitcoin") >= 3 })
	p.stdin.Close()
	if err := p.wait(t); err != nil {
		t.Fatal(err)
	}

	// -once with Redis unreachable: an error and exit 1, no retrying.
	dead := writeConfig(t, "[[inputs.redis_consumer]]\n  address = \"127.0.0.1:1\"\n  password = \"pw-s3cret\"\n")
	cmd := exec.Command(binary(t), "-config", dead, "-once")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); cmd.ProcessState.ExitCode() != 1 || !strings.HasPrefix(stderr.String(), "E! ") ||
		strings.Contains(stderr.String(), "pw-s3cret") {
		t.Fatalf("%v: %q", err, stderr.String())
	}
}

func TestVersionAndSampleConfigIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	out, err := exec.Command(binary(t), "-version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "redis-input ") || !strings.Contains(string(out), "telegraf v1.") {
		t.Fatalf("%v: %s", err, out)
	}
	out, err = exec.Command(binary(t), "-sample-config").Output()
	if err != nil || !strings.HasPrefix(string(out), "# Read metrics from Redis") || !strings.Contains(string(out), "[[inputs.redis_consumer]]") {
		t.Fatalf("%v: %s", err, out)
	}
}
