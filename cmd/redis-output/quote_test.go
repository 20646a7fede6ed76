package main

import (
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/syncbuf"
)

// feeder runs redis-output on a pipe, so a test can write a line, wait for
// it to land, and write the next.
type feeder struct {
	t      *testing.T
	cmd    *exec.Cmd
	in     io.WriteCloser
	stderr *syncbuf.Buffer
}

func startFeeder(t *testing.T, conf string) *feeder {
	t.Helper()
	f := &feeder{t: t, cmd: exec.Command(binary, "-log_info", "stderr", "-config", conf), stderr: &syncbuf.Buffer{}}
	f.cmd.Stderr = f.stderr
	var err error
	if f.in, err = f.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := f.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if f.cmd.ProcessState != nil {
			return // end has waited for it
		}
		stop(t, f.cmd)
		exited(t, f.cmd)
	})
	return f
}

func (f *feeder) line(s string) {
	f.t.Helper()
	if _, err := io.WriteString(f.in, s+"\n"); err != nil {
		f.t.Fatal(err)
	}
}

// until polls cond (the thing itself) until it holds.
func (f *feeder) until(what string, cond func() bool) {
	f.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			f.t.Fatalf("%s: not within 20s; stderr:\n%s", what, f.stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// end closes stdin and returns stderr once the process has exited.
func (f *feeder) end() string {
	f.t.Helper()
	f.in.Close()
	if err := f.cmd.Wait(); err != nil {
		f.t.Fatalf("%v: %s", err, f.stderr)
	}
	return f.stderr.String()
}

// TestPoisonedStateFromTheIssueIntegration is issue 10's first reproduction, through
// the binary: a junk field in the state hash made every later merge fail
// after its writes, the document stayed at a=1 for ever, and the summary
// counted the metrics as written. Now the junk is dropped with a W! naming
// key and coin, every merge reaches the document, and the summary says so.
func TestPoisonedStateFromTheIssueIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	c := srv.Conn()
	conf := writeConfig(t, "[[outputs.redis]]\n  address = \""+srv.Addr+"\"\n  key = \"t:poison\"\n")
	f := startFeeder(t, conf)
	f.line(`{"fields":{"a_usd":1},"name":"x","tags":{},"timestamp":100}`)
	f.until("a=1 at 100", func() bool {
		d, err := redis.String(c.Do("GET", "t:poison"))
		return err == nil && strings.Contains(d, `"timestamp":100`)
	})
	if _, err := c.Do("HSET", "{t:poison}:prices", "junk", "x"); err != nil {
		t.Fatal(err)
	}
	for _, ts := range []int{300, 400, 500} {
		f.line(fmt.Sprintf(`{"fields":{"a_usd":%d,"b_usd":%d},"name":"x","tags":{},"timestamp":%d}`, ts, ts, ts))
		f.until(fmt.Sprintf("the document at %d", ts), func() bool {
			d, err := redis.String(c.Do("GET", "t:poison"))
			return err == nil && strings.Contains(d, fmt.Sprintf(`"timestamp":%d`, ts))
		})
	}
	logs := f.end()
	want := `{"timestamp":500,"quote":"usd","prices":[{"id":"a","price":"500"},{"id":"b","price":"500"}]}`
	if d, err := redis.String(c.Do("GET", "t:poison")); err != nil || d != want {
		t.Fatalf("document %s: %v", d, err)
	}
	if strings.Contains(logs, "E! ") ||
		!strings.Contains(logs, `W! [outputs.redis] key "t:poison": coin "junk": the stored entry "x" could not be read: dropped`) {
		t.Fatalf("log:\n%s", logs)
	}
	if !strings.Contains(logs, "I! [outputs.redis] read 4 lines, 4 metrics; wrote 4 metrics in 4 updates; rejected 0 lines; quote:") ||
		!strings.Contains(logs, "1 stored entries repaired") {
		t.Fatalf("summary:\n%s", logs)
	}
}

// TestSilentDropsAreLoggedAndCountedIntegration is issue 10's third reproduction:
// "n/a", true, the string "1e400", a price older than the stored one and
// one dated 2262 were dropped with no word, and the summary said "wrote 3
// metrics in 0 updates". Now each reason gets a W! naming a coin and the
// count, and the summary counts them; a negative price (issue 19, stored
// until then) is refused and counted under its own reason.
func TestSilentDropsAreLoggedAndCountedIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	c := srv.Conn()
	conf := writeConfig(t, "[[outputs.redis]]\n  address = \""+srv.Addr+"\"\n")
	f := startFeeder(t, conf)
	f.line(`{"fields":{"fields_bitcoin_usd":97234.12},"name":"kafka_consumer","tags":{},"timestamp":1795552004}`)
	f.until("bitcoin", func() bool { n, err := redis.Int(c.Do("EXISTS", "coingecko:rate:usd")); return err == nil && n == 1 })
	for _, l := range []string{
		`{"fields":{"fields_bitcoin_usd":"n/a"},"name":"kafka_consumer","tags":{},"timestamp":1795552010}`,
		`{"fields":{"fields_bitcoin_usd":true},"name":"kafka_consumer","tags":{},"timestamp":1795552010}`,
		`{"fields":{"fields_bitcoin_usd":"1e400"},"name":"kafka_consumer","tags":{},"timestamp":1795552010}`,
		`{"fields":{"fields_bitcoin_usd":1e-400},"name":"kafka_consumer","tags":{},"timestamp":1795552010}`,
		`{"fields":{"fields_bitcoin_usd":1.5},"name":"kafka_consumer","tags":{},"timestamp":1795552000}`,
		`{"fields":{"fields_bitcoin_usd":2.5},"name":"kafka_consumer","tags":{},"timestamp":9214646400}`,
		`{"fields":{"fields_bitcoin_usd":-2.5},"name":"kafka_consumer","tags":{},"timestamp":1795552010}`,
	} {
		f.line(l)
	}
	logs := f.end()
	// The lines may reach one flush or several: each reason is logged once
	// per flush, naming a coin and the count; the summary adds them up.
	for _, want := range []string{
		`W! \[outputs.redis\] key "coingecko:rate:usd": refused [12] prices?: not a number ` +
			`\(e.g. coin "bitcoin" = ("n/a"|true) at 2026-11-24T20:26:50Z\)`,
		`W! \[outputs.redis\] key "coingecko:rate:usd": refused [12] prices?: out of range, beyond float64 or below its normal range ` +
			`\(e.g. coin "bitcoin" = ("1e400"|1e-400) at 2026-11-24T20:26:50Z\)`,
		`I! \[outputs.redis\] key "coingecko:rate:usd": refused 1 price: older than stored ` +
			`\(e.g. coin "bitcoin" at 2026-11-24T20:26:40Z, stored 2026-11-24T20:26:44Z\)`,
		`W! \[outputs.redis\] key "coingecko:rate:usd": refused 1 price: too far in the future, more than max_future 5m0s ahead of the clock ` +
			`\(e.g. coin "bitcoin" at 2262-01-01T00:00:00Z\)`,
		`W! \[outputs.redis\] key "coingecko:rate:usd": refused 1 price: negative, and no price is below zero ` +
			`\(e.g. coin "bitcoin" = -2.5 at 2026-11-24T20:26:50Z\)`,
		`I! \[outputs.redis\] read 8 lines, 8 metrics; wrote 1 metrics in [0-9]+ updates; rejected 0 lines; ` +
			`quote: 0 metrics superseded by newer prices before a write, 7 refused, 0 without a price; ` +
			`refused 7 prices \(2 not a number, 2 out of range, 1 older than stored, 1 too far in the future, 1 negative, 0 coin id not UTF-8\); ` +
			`0 coins aged out; 0 stored entries repaired`,
	} {
		if !regexp.MustCompile(want).MatchString(logs) {
			t.Errorf("no line\n%s\nin\n%s", want, logs)
		}
	}
	d, err := redis.String(c.Do("GET", "coingecko:rate:usd"))
	if err != nil || d != `{"timestamp":1795552004,"quote":"usd","prices":[{"id":"bitcoin","price":"97234.12"}]}` {
		t.Fatalf("document %s: %v", d, err)
	}
}

// TestAgeOutOptionIntegration drops a stray coin through the binary, with a W!.
func TestAgeOutOptionIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	c := srv.Conn()
	conf := writeConfig(t, "[[outputs.redis]]\n  address = \""+srv.Addr+"\"\n  age_out = \"1h\"\n")
	cmd := exec.Command(binary, "-log_info", "stderr", "-config", conf)
	cmd.Stdin = strings.NewReader(`{"fields":{"fields_stray_usd":1,"fields_bitcoin_usd":2},"name":"x","tags":{},"timestamp":1795540000}` + "\n" +
		`{"fields":{"fields_bitcoin_usd":3},"name":"x","tags":{},"timestamp":1795543601}` + "\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v: %s", err, stderr.String())
	}
	d, err := redis.String(c.Do("GET", "coingecko:rate:usd"))
	if err != nil || d != `{"timestamp":1795543601,"quote":"usd","prices":[{"id":"bitcoin","price":"3"}]}` {
		t.Fatalf("document %s: %v\n%s", d, err, stderr.String())
	}
	// The two lines may be written in one flush or two: the stray coin
	// goes either way, and the log says so.
	if !strings.Contains(stderr.String(), `coin "stray", last price at 2026-11-24T17:06:40Z`) || !strings.Contains(stderr.String(), "1 coins aged out") {
		t.Fatalf("log:\n%s", stderr.String())
	}
}
