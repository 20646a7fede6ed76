package redis

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

// Quote lines decoded on several goroutines are merged in the order they
// were read: over many chunks, with bad and too long lines among them and
// a backlog so small that the reader waits for the flusher again and
// again, the stored price of every coin is the one of the last line that
// carries it, every bad line is reported once with its number, in order,
// and the counts add up.
func TestParallelQuoteKeepsTheOrderIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("one core: lines are decoded serially")
	}
	srv := redistest.Start(t)
	logs := &syncBuffer{}
	r := newPlugin(t, srv.Addr, logs, func(r *Redis) {
		r.MaxLineSize = 300
		r.MetricBatchSize, r.MaxUndeliveredMetrics = 300, 700
	})
	coins := []string{"bitcoin", "ethereum", "ripple"}
	var lines []string
	var bad []int
	last := map[string]int{}
	for i := 1; i <= 20000; i++ {
		switch {
		case i%997 == 0:
			lines = append(lines, "not json")
			bad = append(bad, i)
		case i%1499 == 0:
			lines = append(lines, strings.Repeat("x", 400))
			bad = append(bad, i)
		default:
			c := coins[i%len(coins)]
			if i%7 == 0 { // a line for every coin at once
				var f []string
				for _, c := range coins {
					f = append(f, fmt.Sprintf(`"fields_%s_usd":%d`, c, i))
					last[c] = i
				}
				lines = append(lines, fmt.Sprintf(`{"fields":{%s},"name":"kafka_consumer","tags":{},"timestamp":%d}`, strings.Join(f, ","), 1795552004+i))
				continue
			}
			lines = append(lines, fmt.Sprintf(`{"fields":{"fields_%s_usd":%d},"name":"kafka_consumer","tags":{},"timestamp":%d}`, c, i, 1795552004+i))
			last[c] = i
		}
	}
	stats := &Stats{}
	if err := r.Run(context.Background(), strings.NewReader(strings.Join(lines, "\n")), stats); err != nil {
		t.Fatal(err)
	}
	d := stored(t, srv)
	if len(d.Prices) != len(coins) {
		t.Fatalf("document %+v", d)
	}
	for _, p := range d.Prices {
		if want := strconv.Itoa(last[p.ID]); string(p.Price) != want {
			t.Errorf("%s: price %s, want %s (the last line's)", p.ID, p.Price, want)
		}
	}
	if reported := reportedLines(t, logs.String()); fmt.Sprint(reported) != fmt.Sprint(bad) {
		t.Fatalf("bad lines reported %v, want %v in order", reported, bad)
	}
	if stats.Lines.Load() != int64(len(lines)) || stats.Rejected.Load() != int64(len(bad)) || stats.Metrics.Load() != int64(len(lines)-len(bad)) {
		t.Fatalf("lines %d metrics %d rejected %d", stats.Lines.Load(), stats.Metrics.Load(), stats.Rejected.Load())
	}
}

// Hostile variant of TestAHalfLineIsNoPauseIntegration, on a real pipe (stdin under
// Telegraf): a whole line followed by half of the next, in one write, then
// silence. The whole line is written at once; the half waits for its end.
func TestALineBeforeAHalfLineIsWrittenIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	logs := &syncBuffer{}
	r := newPlugin(t, srv.Addr, logs, func(r *Redis) { r.FlushInterval = 0 })
	in, feed, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	stats := &Stats{}
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background(), in, stats) }()

	first := `{"fields":{"fields_bitcoin_usd":1},"name":"m","tags":{},"timestamp":1795552004}` + "\n"
	second := `{"fields":{"fields_bitcoin_usd":2},"name":"m","tags":{},"timestamp":1795552005}` + "\n"
	if _, err := feed.WriteString(first + second[:40]); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		d, err := redis.Bytes(srv.Conn().Do("GET", "coingecko:rate:usd"))
		return err == nil && strings.Contains(string(d), `"price":"1"`)
	})
	if _, err := feed.WriteString(second[40:]); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		d, err := redis.Bytes(srv.Conn().Do("GET", "coingecko:rate:usd"))
		return err == nil && strings.Contains(string(d), `"price":"2"`)
	})
	feed.Close()
	if err := <-done; err != nil || stats.Rejected.Load() != 0 || stats.Lines.Load() != 2 {
		t.Fatalf("%v, %d lines, %d rejected: %s", err, stats.Lines.Load(), stats.Rejected.Load(), logs)
	}
}

// The per-metric modes that decode on several goroutines (list here) keep
// every key's order: lines for two keys, bad and too long lines among
// them, batch lines with a bad metric inside, and a backlog so small that
// the reader waits for the flusher again and again. Each list holds its
// metrics in the order they were read, each exactly once; every bad line
// is reported once, in order; the counts add up.
func TestParallelListKeepsTheOrderIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("one core: lines are decoded serially")
	}
	srv := redistest.Start(t)
	logs := &syncBuffer{}
	r := newPlugin(t, srv.Addr, logs, func(r *Redis) {
		r.Mode, r.Key, r.DataFormat = "list", `l:{{.Tag "host"}}`, "influx"
		r.MaxLineSize = 300
		r.MetricBatchSize, r.MaxUndeliveredMetrics = 300, 700
	})
	if !r.decodesInParallel() {
		t.Fatal("list mode does not decode on several goroutines")
	}
	metric := func(i int) (json, influx string) {
		host := []string{"a", "b"}[i%2]
		return fmt.Sprintf(`{"fields":{"v":%d},"name":"m","tags":{"host":%q},"timestamp":%d}`, i, host, 1795552004+i),
			fmt.Sprintf("m,host=%s v=%d %d000000000", host, i, 1795552004+i)
	}
	var lines []string
	var bad []int
	want := map[string][]string{}
	metrics := 0
	for i := 1; i <= 20000; i++ {
		switch {
		case i%997 == 0:
			lines = append(lines, "not json")
			bad = append(bad, i)
		case i%1499 == 0:
			lines = append(lines, strings.Repeat("x", 400))
			bad = append(bad, i)
		case i%101 == 0: // a batch line: two metrics and a bad one between
			a, aw := metric(i)
			b, bw := metric(i + 1)
			lines = append(lines, fmt.Sprintf(`{"metrics":[%s,{"name":"m"},%s]}`, a, b))
			bad = append(bad, i)
			want["l:"+[]string{"a", "b"}[i%2]] = append(want["l:"+[]string{"a", "b"}[i%2]], aw)
			want["l:"+[]string{"a", "b"}[(i+1)%2]] = append(want["l:"+[]string{"a", "b"}[(i+1)%2]], bw)
			metrics += 2
		default:
			j, w := metric(i)
			lines = append(lines, j)
			want["l:"+[]string{"a", "b"}[i%2]] = append(want["l:"+[]string{"a", "b"}[i%2]], w)
			metrics++
		}
	}
	stats := &Stats{}
	if err := r.Run(context.Background(), strings.NewReader(strings.Join(lines, "\n")), stats); err != nil {
		t.Fatal(err)
	}
	for key, w := range want {
		got, err := redis.Strings(srv.Conn().Do("LRANGE", key, 0, -1))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(w) {
			t.Fatalf("%s: %d elements, want %d", key, len(got), len(w))
		}
		for i := range w {
			if got[i] != w[i] {
				t.Fatalf("%s[%d] = %q, want %q (the order read)", key, i, got[i], w[i])
			}
		}
	}
	if reported := reportedLines(t, logs.String()); fmt.Sprint(reported) != fmt.Sprint(bad) {
		t.Fatalf("bad lines reported %v, want %v in order", reported, bad)
	}
	if stats.Lines.Load() != int64(len(lines)) || stats.Rejected.Load() != int64(len(bad)) || stats.Metrics.Load() != int64(metrics) {
		t.Fatalf("lines %d metrics %d (want %d) rejected %d", stats.Lines.Load(), stats.Metrics.Load(), metrics, stats.Rejected.Load())
	}
}

// reportedLines are the numbers of the input lines logged as bad, in the
// order logged.
func reportedLines(t *testing.T, logs string) []int {
	t.Helper()
	found := regexp.MustCompile(`E! \[outputs.redis\] line (\d+): `).FindAllStringSubmatch(logs, -1)
	lines := make([]int, 0, len(found))
	for _, m := range found {
		n, err := strconv.Atoi(m[1])
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, n)
	}
	return lines
}
