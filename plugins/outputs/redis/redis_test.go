package redis

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/influxdata/telegraf/config"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/logger"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/syncbuf"
)

const examples = "../../../testdata/examples"

type syncBuffer = syncbuf.Buffer

func newPlugin(t *testing.T, addr string, logs io.Writer, tune func(*Redis)) *Redis {
	t.Helper()
	r := New()
	r.Address = addr
	r.Timeout = config.Duration(2 * time.Second)
	r.FlushInterval = config.Duration(20 * time.Millisecond)
	if logs == nil {
		logs = io.Discard
	}
	r.Log = logger.NewWriter(logs, "outputs.redis")
	if tune != nil {
		tune(r)
	}
	if err := r.Init(); err != nil {
		t.Fatal(err)
	}
	return r
}

// document is the stored quote, compared as data with prices as numbers.
type document struct {
	Timestamp int64  `json:"timestamp"`
	Quote     string `json:"quote"`
	Prices    []struct {
		ID    string      `json:"id"`
		Price json.Number `json:"price"`
	} `json:"prices"`
}

func parseDoc(t *testing.T, raw []byte) document {
	t.Helper()
	var d document
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("bad document %s: %v", raw, err)
	}
	return d
}

func sameDoc(t *testing.T, got, want document) {
	t.Helper()
	if got.Timestamp != want.Timestamp || got.Quote != want.Quote || len(got.Prices) != len(want.Prices) {
		t.Fatalf("document differs:\n got %+v\nwant %+v", got, want)
	}
	for i := range want.Prices {
		g, w := got.Prices[i], want.Prices[i]
		gf, err1 := g.Price.Float64()
		wf, err2 := w.Price.Float64()
		if g.ID != w.ID || err1 != nil || err2 != nil || gf != wf {
			t.Fatalf("price %d: got %s=%s want %s=%s", i, g.ID, g.Price, w.ID, w.Price)
		}
		if strings.ContainsAny(string(g.Price), "eE") {
			t.Fatalf("price %s=%s uses an exponent", g.ID, g.Price)
		}
	}
}

// stored is the quote document at DefaultQuoteKey.
func stored(t *testing.T, srv *redistest.Server) document {
	t.Helper()
	raw, err := redis.Bytes(srv.Conn().Do("GET", DefaultQuoteKey))
	if err != nil {
		t.Fatalf("GET %s: %v", DefaultQuoteKey, err)
	}
	if bytes.ContainsAny(raw, "\n ") {
		t.Fatalf("document is not compact: %s", raw)
	}
	return parseDoc(t, raw)
}

func expected(t *testing.T, name string) document {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(examples, name+".expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	return parseDoc(t, raw)
}

func TestExamplesIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	for _, name := range []string{"steady", "batches", "replay", "mixed", "influx"} {
		t.Run(name, func(t *testing.T) {
			srv.Do("FLUSHALL")
			input := filepath.Join(examples, name+".jsonl")
			if name == "influx" {
				input = filepath.Join(examples, "influx.lp") // the same plugin: the format is read off each line
			}
			f, err := os.Open(input)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			logs := &syncBuffer{}
			// Recorded data, replayed: mixed.jsonl has prices dated a day
			// after the others, which today's clock may find too far ahead.
			r := newPlugin(t, srv.Addr, logs, func(r *Redis) { r.MaxFuture = 0 })
			stats := &Stats{}
			if err := r.Run(context.Background(), f, stats); err != nil {
				t.Fatal(err)
			}
			sameDoc(t, stored(t, srv), expected(t, name))
			// One error line per rejected line, naming the line.
			errLines := strings.Count(logs.String(), "E! ")
			if int64(errLines) != stats.Rejected.Load() {
				t.Fatalf("%d error lines for %d rejected lines:\n%s", errLines, stats.Rejected.Load(), logs)
			}
			// Every metric is accounted for: written, superseded by a newer
			// price of the same flush, refused or without a price.
			if stats.Accounted() != stats.Metrics.Load() || stats.Written.Load() == 0 {
				t.Fatalf("wrote %d of %d metrics, accounted for %d", stats.Written.Load(), stats.Metrics.Load(), stats.Accounted())
			}
		})
	}
}

func TestBadLinesAreReportedOneEachIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	logs := &syncBuffer{}
	r := newPlugin(t, srv.Addr, logs, func(r *Redis) { r.MaxLineSize = 200 })
	good := `{"fields":{"fields_bitcoin_usd":5},"name":"kafka_consumer","tags":{},"timestamp":1795552004}`
	input := strings.Join([]string{
		`not json`,
		good,
		`{"fields":{"fields_bitcoin_usd":1e400},"name":"x","tags":{},"timestamp":1795652999}`,
		`{"fields":{"a_usd":1},"name":"x","tags":{},"timestamp":-1}`,
		strings.Repeat("x", 500),
		"",
		"\xff\xfe",
		`{"metrics":[` + good + `,{"fields":{"b_usd":2}}]}`,
	}, "\n")
	stats := &Stats{}
	if err := r.Run(context.Background(), strings.NewReader(input), stats); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	for _, want := range []string{
		`E! [outputs.redis] line 1: invalid line protocol at byte 9: expected field: "not json"`, // not '{': line protocol
		`E! [outputs.redis] line 3: field "fields_bitcoin_usd": number 1e400 is out of the float64 range`,
		`E! [outputs.redis] line 4: metric at -1000000000: timestamp is before 1970`,
		`E! [outputs.redis] line 5: line is longer than 200 bytes, skipped: "xxxxxxxx`,
		`E! [outputs.redis] line 7: invalid line protocol at byte 3: expected tag: "\xff\xfe"`,
		`E! [outputs.redis] line 8: metric 2 of the batch: no "name"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if stats.Rejected.Load() != 6 || stats.Lines.Load() != 8 || stats.Metrics.Load() != 2 {
		t.Fatalf("lines %d metrics %d rejected %d", stats.Lines.Load(), stats.Metrics.Load(), stats.Rejected.Load())
	}
	if d := stored(t, srv); len(d.Prices) != 1 || d.Prices[0].Price != "5" {
		t.Fatalf("document %+v", d)
	}
}

func exampleLines(t *testing.T, name string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(examples, name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimRight(string(data), "\n"), "\n")
}

// TestRestartKeepsCoinsAndReplayNeverRegressesIntegration runs the plugin as three
// processes would: the first half, then the second, then the whole stream
// again as a Kafka replay after a rebalance.
func TestRestartKeepsCoinsAndReplayNeverRegressesIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	lines := exampleLines(t, "steady.jsonl")
	half := len(lines) / 2
	for _, part := range [][]string{lines[:half], lines[half:], lines} {
		r := newPlugin(t, srv.Addr, nil, nil)
		if err := r.Run(context.Background(), strings.NewReader(strings.Join(part, "\n")), &Stats{}); err != nil {
			t.Fatal(err)
		}
	}
	sameDoc(t, stored(t, srv), expected(t, "steady"))

	// A restart with only a few coins must not forget the others.
	r := newPlugin(t, srv.Addr, nil, nil)
	one := `{"fields":{"fields_bitcoin_usd":1},"name":"kafka_consumer","tags":{},"timestamp":1795559999}`
	if err := r.Run(context.Background(), strings.NewReader(one), &Stats{}); err != nil {
		t.Fatal(err)
	}
	d := stored(t, srv)
	if len(d.Prices) != len(expected(t, "steady").Prices)+1 || d.Timestamp != 1795559999 {
		t.Fatalf("after restart: %+v", d)
	}
}

// TestTwoWritersAtOnceIntegration splits a stream between two processes writing the
// same key concurrently, each at its own pace: the result is as if one
// process had read it all.
func TestTwoWritersAtOnceIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	lines := exampleLines(t, "steady.jsonl")
	var parts [2][]string
	for i, l := range lines {
		parts[i%2] = append(parts[i%2], l)
	}
	// The second writer reads its part backwards: its newest lines come
	// first, so its later writes are all older than what is stored.
	for i, j := 0, len(parts[1])-1; i < j; i, j = i+1, j-1 {
		parts[1][i], parts[1][j] = parts[1][j], parts[1][i]
	}
	for round := 0; round < 5; round++ {
		srv.Do("FLUSHALL")
		var wg sync.WaitGroup
		for w := range parts {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				r := newPlugin(t, srv.Addr, nil, func(r *Redis) { r.MetricBatchSize = 3; r.MaxUndeliveredMetrics = 6 })
				if err := r.Run(context.Background(), strings.NewReader(strings.Join(parts[w], "\n")), &Stats{}); err != nil {
					t.Error(err)
				}
			}(w)
		}
		wg.Wait()
		sameDoc(t, stored(t, srv), expected(t, "steady"))
	}
}

// lineFeeder hands the plugin one line per Read, so how far it read shows
// exactly how many lines it took.
type lineFeeder struct {
	lines []string
	next  atomic.Int64
}

func (f *lineFeeder) Read(p []byte) (int, error) {
	i := f.next.Load()
	if int(i) >= len(f.lines) {
		return 0, io.EOF
	}
	f.next.Add(1)
	return copy(p, f.lines[i]+"\n"), nil
}

// TestRedisDownAndBackIntegration stops Redis in the middle of a stream: the plugin
// stops reading once its backlog is full, says so once, and when Redis is
// back writes everything.
func TestRedisDownAndBackIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always")
	lines := exampleLines(t, "steady.jsonl")
	pr, pw := io.Pipe()
	logs := &syncBuffer{}
	r := newPlugin(t, srv.Addr, logs, func(r *Redis) {
		r.MetricBatchSize = 10
		r.MaxUndeliveredMetrics = 40
		r.Timeout = config.Duration(500 * time.Millisecond)
	})
	done := make(chan error, 1)
	stats := &Stats{}
	go func() { done <- r.Run(context.Background(), pr, stats) }()

	// First 100 lines with Redis up.
	for i := 0; i < 100; i++ {
		if _, err := io.WriteString(pw, lines[i]+"\n"); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, func() bool { return stats.Accounted() == 100 })
	srv.Kill()

	// The plugin takes lines until its backlog is full, then no more.
	go func() {
		if _, err := io.Copy(pw, feedFrom(lines[100:])); err != nil {
			t.Error(err)
		}
		pw.Close()
	}()
	// Reading stops once the backlog is full: while Redis is down nothing
	// can make room, so the count read at the pause is final.
	waitFor(t, func() bool { return stats.Paused.Load() })
	read := stats.Lines.Load()
	if read < 140 || read > 141 {
		t.Fatalf("read %d lines with Redis down; want the 100 written plus a full backlog of 40 (at most one line more)", read)
	}
	waitFor(t, func() bool { return strings.Contains(logs.String(), "is unavailable") })
	if got := stats.Lines.Load(); got != read || !stats.Paused.Load() {
		t.Fatalf("kept reading with a full backlog: %d then %d lines", read, got)
	}

	srv.Restart()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("did not finish after Redis came back")
	}
	sameDoc(t, stored(t, srv), expected(t, "steady"))
	out := logs.String()
	if strings.Count(out, "W! ") != 1 || strings.Count(out, "I! ") != 1 || !strings.Contains(out, "is back after") {
		t.Fatalf("want one warning and one recovery line:\n%s", out)
	}
}

func feedFrom(lines []string) io.Reader { return &lineFeeder{lines: lines} }

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 20s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestStopFlushesWhatWasReadIntegration cancels the run (SIGTERM) while stdin is
// still open: what was read is written before Run returns.
func TestStopFlushesWhatWasReadIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	pr, pw := io.Pipe()
	r := newPlugin(t, srv.Addr, nil, func(r *Redis) { r.FlushInterval = config.Duration(time.Hour) })
	ctx, cancel := context.WithCancel(context.Background())
	stats := &Stats{}
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, pr, stats) }()
	lines := exampleLines(t, "steady.jsonl")
	go func() {
		if _, err := io.Copy(pw, feedFrom(lines)); err != nil {
			t.Error(err)
		}
	}()
	waitFor(t, func() bool { return stats.Lines.Load() == int64(len(lines)) })
	if n := mustInt(t)(srv.Conn().Do("EXISTS", "coingecko:rate:usd")); n != 0 {
		t.Fatal("written before the flush interval")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	sameDoc(t, stored(t, srv), expected(t, "steady"))
}

// TestStopWithRedisDownReportsTheLossIntegration: after SIGTERM the plugin tries for
// `timeout`, then says how many metrics it could not write.
func TestStopWithRedisDownReportsTheLossIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	srv.Kill()
	pr, pw := io.Pipe()
	defer pw.Close()
	logs := &syncBuffer{}
	r := newPlugin(t, srv.Addr, logs, func(r *Redis) { r.Timeout = config.Duration(300 * time.Millisecond) })
	ctx, cancel := context.WithCancel(context.Background())
	stats := &Stats{}
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, pr, stats) }()
	lines := exampleLines(t, "replay.jsonl")[:7]
	go func() {
		if _, err := io.Copy(pw, feedFrom(lines)); err != nil {
			t.Error(err)
		}
	}()
	waitFor(t, func() bool { return stats.Lines.Load() == 7 })
	start := time.Now()
	cancel()
	err := <-done
	// Redis down: nothing was sent, so nothing is of unknown fate.
	if err == nil || !strings.Contains(err.Error(), "7 metrics read from stdin were not written to Redis, and 0 were sent without a reply") ||
		stats.NotWritten.Load() != 7 || stats.Unknown.Load() != 0 {
		t.Fatalf("error %v", err)
	}
	if waited := time.Since(start); waited > 3*time.Second {
		t.Fatalf("stopping took %s", waited)
	}
	if !strings.Contains(logs.String(), "E! [outputs.redis] stopping with 7 metrics not written") {
		t.Fatalf("log:\n%s", logs)
	}
}

func TestDryRunPrintsTheCommand(t *testing.T) {
	r := New()
	r.Log = logger.NewWriter(io.Discard, "")
	if err := r.Init(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(examples, "steady.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out bytes.Buffer
	if err := r.DryRun(f, &out, &Stats{}); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(&out)
	var cmds []string
	for sc.Scan() {
		cmds = append(cmds, sc.Text())
	}
	want := regexp.MustCompile(`^EVALSHA [0-9a-f]{40} 5 coingecko:rate:usd \{coingecko:rate:usd\}:prices \{coingecko:rate:usd\}:prices:ids ` +
		`\{coingecko:rate:usd\}:prices:times \{coingecko:rate:usd\}:prices:meta "\\"usd\\"" 0 "" 9 \d{20} \d{20} "" "" 0 avalanche-2 \d{20} 0.0000000`)
	if len(cmds) != 1 || !want.MatchString(cmds[0]) {
		t.Fatalf("commands %q", cmds)
	}
	coins := strings.Fields("avalanche-2 binancecoin cardano chainlink decentraland ethereum near ripple shiba-inu solana")
	var ids []string
	for _, w := range strings.Fields(cmds[0]) {
		if slices.Contains(coins, w) {
			ids = append(ids, w)
		}
	}
	if !sort.StringsAreSorted(ids) || len(ids) != 10 {
		t.Fatalf("coins %v", ids)
	}
}

func TestInitRefusesBadOptions(t *testing.T) {
	for name, tune := range map[string]func(*Redis){
		"data_format":                     func(r *Redis) { r.Mode, r.DataFormat = "list", "yaml" },
		"mode":                            func(r *Redis) { r.Mode = "zset" },
		"address":                         func(r *Redis) { r.Address = "ftp://x" },
		"max_undelivered_metrics":         func(r *Redis) { r.MaxUndeliveredMetrics = 5 },
		"quote":                           func(r *Redis) { r.Quote = "" },
		"state_key":                       func(r *Redis) { r.Key = "k"; r.StateKey = "k" },
		"option timeout: -5s is negative": func(r *Redis) { r.Timeout = config.Duration(-5 * time.Second) },
		"option timestamp_units: 7s is not a power of ten":     func(r *Redis) { r.TimestampUnits = config.Duration(7 * time.Second) },
		"option timestamp_units: 1h0m0s is not a power of ten": func(r *Redis) { r.TimestampUnits = config.Duration(time.Hour) },
		"option influx_timestamp_precision: 10ms is not 1ns": func(r *Redis) {
			r.InfluxTimestampPrecision = config.Duration(10 * time.Millisecond)
		},
		`port "0" is not a number from 1 to 65535`:             func(r *Redis) { r.Address = "127.0.0.1:0" },
		`option stream_maxlen: only read with mode = "stream"`: func(r *Redis) { r.Mode = "hash"; r.StreamMaxlen = 10 },
		`option quote: only read with mode = "quote"`:          func(r *Redis) { r.Mode = "list"; r.Quote = "eur" },
		`option list_max_length: only read with mode = "list"`: func(r *Redis) { r.ListMaxLength = 10 },
		`option include_tags: only read with modes "hash" and`: func(r *Redis) { r.Mode = "stream"; r.PayloadField = "p"; r.IncludeTags = true },
		`option data_format_out: renamed data_format`:          func(r *Redis) { r.Mode = "list"; r.DataFormatOut = "json" },
		`option spool_max_size: only read with spool_dir`:      func(r *Redis) { r.SpoolMaxSize = 1 << 30 },
	} {
		r := New()
		tune(r)
		err := r.Init()
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error %v", name, err)
		}
	}
}

// TestReadmeShowsTheSampleConfig keeps README.md's configuration section
// identical to the embedded sample.conf, as Telegraf's tooling does.
func TestReadmeShowsTheSampleConfig(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "```toml @sample.conf\n")
	block, _, ok2 := strings.Cut(after, "```\n")
	if !ok || !ok2 || block != New().SampleConfig() {
		t.Fatal("README.md's sample.conf block differs from sample.conf")
	}
}
