package roundtrip

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/metric"
	parsers_influx "github.com/influxdata/telegraf/plugins/parsers/influx"
	serializers_influx "github.com/influxdata/telegraf/plugins/serializers/influx"
	serializers_json "github.com/influxdata/telegraf/plugins/serializers/json"

	pluginconfig "github.com/telegraf-redis/telegraf-redis/plugins/common/config"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/logger"
	"github.com/telegraf-redis/telegraf-redis/plugins/inputs/redis_consumer"
	redisout "github.com/telegraf-redis/telegraf-redis/plugins/outputs/redis"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/syncbuf"
)

// pairing is an output mode and the input mode that reads it back. Both
// plugins run with their defaults; only what must name the same place is
// set: the key (the output's template renders the name into it), and the
// input's key, SCAN pattern or PSUBSCRIBE pattern.
type pairing struct {
	out, in string
}

var pairings = []pairing{
	{"stream", "stream"},
	{"publish", "subscribe"},
	{"list", "keys"},
	{"string", "keys"},
	{"hash", "keys"},
}

// formats are what [[outputs.execd]] writes, redis-output's data_format.
var formats = []string{"influx", "json"}

// carried returns what of m Telegraf can hand to redis-output in format
// (sent: m without the fields the format cannot carry) and what redis-input
// must give back (want: sent as the format reads it), or nils when no field
// is left. The property is that want, and nothing less, comes out.
func carried(format string, m telegraf.Metric) (sent, want telegraf.Metric) {
	sentFields, wantFields := map[string]any{}, map[string]any{}
	for _, f := range m.FieldList() {
		v := f.Value
		switch x := v.(type) {
		case float64:
			// Neither format has an infinity: Telegraf's JSON and line
			// protocol serializers leave such a field out (and the line
			// protocol redis-input writes to Telegraf has none either).
			// The typed layout itself keeps ±Inf: see metricpairs' tests.
			if math.IsInf(x, 0) {
				continue
			}
		case int64:
			if format == "json" {
				v = float64(x) // Telegraf JSON has one number type: every number reads as a float
			}
		case uint64:
			if format == "json" {
				v = float64(x)
			}
		case string:
			// Telegraf's line protocol serializer writes a newline inside a
			// string field as it is, and redis-output reads line protocol
			// one line at a time: such a metric arrives as two bad lines.
			// JSON escapes it.
			if format == "influx" && strings.ContainsAny(x, "\n") {
				continue
			}
		}
		sentFields[f.Key], wantFields[f.Key] = f.Value, v
	}
	if len(wantFields) == 0 {
		return nil, nil
	}
	return metric.New(m.Name(), m.Tags(), sentFields, m.Time()), metric.New(m.Name(), m.Tags(), wantFields, m.Time())
}

// serializer is Telegraf's own, as [[outputs.execd]] runs it; JSON with
// nanosecond timestamps (json_timestamp_units = "1ns", redis-output told
// the same), since its default of 1s drops the sub-second part.
func serializer(t testing.TB, format string) telegraf.Serializer {
	var s telegraf.Serializer
	if format == "json" {
		s = &serializers_json.Serializer{TimestampUnits: config.Duration(time.Nanosecond)}
	} else {
		s = &serializers_influx.Serializer{SortFields: true, UintSupport: true}
	}
	if err := s.(telegraf.Initializer).Init(); err != nil {
		t.Fatal(err)
	}
	return s
}

// harness is a redis-server and a connection for the test's own checks.
type harness struct {
	srv  *redistest.Server
	conn redis.Conn
	seq  atomic.Int64
}

func newHarness(t testing.TB) *harness {
	srv := redistest.Start(t)
	conn, err := redis.Dial("tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &harness{srv: srv, conn: conn}
}

// check sends ms through every pairing in both formats.
func (h *harness) check(t *testing.T, ms []telegraf.Metric) {
	t.Helper()
	for _, format := range formats {
		var want []telegraf.Metric
		var lines strings.Builder
		ser := serializer(t, format)
		for _, m := range ms {
			sent, w := carried(format, m)
			if sent == nil {
				continue
			}
			want = append(want, w)
			b, err := ser.Serialize(sent)
			if err != nil {
				t.Fatalf("%s serializer: %v", format, err)
			}
			lines.Write(b)
		}
		if len(want) == 0 {
			continue
		}
		for _, p := range pairings {
			h.roundTrip(t, format, p, lines.String(), want)
		}
	}
}

// roundTrip writes lines with redis-output and reads them back with
// redis-input; what comes out must be want, as data.
func (h *harness) roundTrip(t *testing.T, format string, p pairing, lines string, want []telegraf.Metric) {
	t.Helper()
	prefix := fmt.Sprintf("rt%d:%s:", h.seq.Add(1), p.out)
	logs := &syncbuf.Buffer{}
	fail := func(format_ string, args ...any) {
		t.Helper()
		t.Fatalf("%s, %s -> %s: %s\ninput (%s):\n%s\nlogs:\n%s", format, p.out, p.in, fmt.Sprintf(format_, args...), format, lines, logs)
	}

	in := redis_consumer.New()
	in.Address, in.Mode = h.srv.Addr, p.in
	in.Log = logger.NewWriter(logs, "inputs.redis_consumer")
	out := redisout.New()
	out.Address, out.Mode = h.srv.Addr, p.out // the input format is detected per line
	out.JSONTimestampUnits = config.Duration(time.Nanosecond)
	out.Log = logger.NewWriter(logs, "outputs.redis")
	switch p.out {
	case "stream", "list": // every metric at one key
		out.Key, in.Key = prefix+"all", prefix+"all"
	case "publish":
		out.Key, in.Patterns = prefix+"{{.Name}}", []string{prefix + "*"}
	default: // one key per metric
		out.Key, in.Key = prefix+"{{.Name}}", prefix+"*"
	}
	if p.out == "publish" || p.out == "list" || p.out == "string" {
		// Unsigned integers come back as such with the influx
		// serializer's influx_uint_support (Telegraf's default writes
		// them as integers); an option only a file sets.
		if err := pluginconfig.Decode("[[outputs.redis]]\n  influx_uint_support = true\n", "outputs", "redis", out); err != nil {
			fail("redis-output options: %v", err)
		}
	}
	if err := out.Init(); err != nil {
		fail("redis-output Init: %v", err)
	}
	if err := in.Init(); err != nil {
		fail("redis-input Init: %v", err)
	}

	stdout := &syncbuf.Buffer{}
	write := func() {
		stats := &redisout.Stats{}
		if err := out.Run(context.Background(), strings.NewReader(lines), stats); err != nil {
			fail("redis-output: %v", err)
		}
		if stats.Rejected.Load() != 0 || stats.Written.Load() != int64(len(want)) {
			fail("redis-output wrote %d metrics of %d, rejected %d lines", stats.Written.Load(), len(want), stats.Rejected.Load())
		}
	}
	if p.in == "subscribe" {
		// Pub/Sub keeps nothing: subscribe first, then publish, then wait
		// for every metric (or time out: one was lost).
		stdin, stdinW := io.Pipe() // a stdin that does not end: its end means stop
		defer stdinW.Close()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- in.Run(ctx, stdin, stdout, redis_consumer.RunOptions{}) }()
		stopped := false
		stop := func() {
			if !stopped {
				stopped = true
				cancel()
				if err := <-done; err != nil {
					t.Errorf("redis-input: %v", err)
				}
			}
		}
		defer stop() // also when a wait below fails
		waitFor(t, "the subscription", func() bool {
			n, err := redis.Int(h.conn.Do("PUBSUB", "NUMPAT"))
			return err == nil && n == 1
		})
		write()
		waitFor(t, fmt.Sprintf("%d metrics from redis-input", len(want)), func() bool {
			got, err := parse(stdout.String())
			return err == nil && len(got) >= len(want)
		})
		stop()
	} else {
		write()
		if err := in.Run(context.Background(), nil, stdout, redis_consumer.RunOptions{Once: true}); err != nil {
			fail("redis-input: %v", err)
		}
	}
	got, err := parse(stdout.String())
	if err != nil {
		fail("redis-input wrote what Telegraf cannot parse: %v\n%s", err, stdout)
	}
	if diff := compare(got, want); diff != "" {
		fail("%s\nredis-input wrote:\n%s", diff, stdout)
	}
}

// parse reads redis-input's output as [[inputs.execd]] does, with
// Telegraf's line protocol parser.
func parse(lp string) ([]telegraf.Metric, error) {
	p := &parsers_influx.Parser{}
	if err := p.Init(); err != nil {
		return nil, err
	}
	return p.Parse([]byte(lp))
}

// canonical is a metric as comparable text: name, tags, and fields with
// their type and exact value (a float's bits, so -0 is not 0), time in ns.
func canonical(m telegraf.Metric) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%q", m.Name())
	for _, t := range m.TagList() {
		fmt.Fprintf(&b, " #%q=%q", t.Key, t.Value)
	}
	fields := slices.Clone(m.FieldList())
	slices.SortFunc(fields, func(a, b *telegraf.Field) int { return strings.Compare(a.Key, b.Key) })
	for _, f := range fields {
		switch v := f.Value.(type) {
		case float64:
			fmt.Fprintf(&b, " %q=float(%v,%#x)", f.Key, v, math.Float64bits(v))
		default:
			fmt.Fprintf(&b, " %q=%T(%#v)", f.Key, v, v)
		}
	}
	fmt.Fprintf(&b, " @%d", m.Time().UnixNano())
	return b.String()
}

// compare returns "" when got and want hold the same metrics (in any
// order: streams and lists keep order, SCAN and Pub/Sub patterns not),
// else the metrics missing and the ones not expected.
func compare(got, want []telegraf.Metric) string {
	count := map[string]int{}
	for _, m := range want {
		count[canonical(m)]++
	}
	var extra []string
	for _, m := range got {
		c := canonical(m)
		if count[c] == 0 {
			extra = append(extra, c)
			continue
		}
		count[c]--
	}
	var missing []string
	for c, n := range count {
		for ; n > 0; n-- {
			missing = append(missing, c)
		}
	}
	if len(missing) == 0 && len(extra) == 0 {
		return ""
	}
	slices.Sort(missing)
	slices.Sort(extra)
	return fmt.Sprintf("missing:\n  %s\nnot written:\n  %s", strings.Join(missing, "\n  "), strings.Join(extra, "\n  "))
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// fixedSeeds are the property test's cases at every run, so that a
// regression they catch fails every run, the same way; the seed from the
// clock explores beyond them (ROUNDTRIP_SEED replays one it logged). The
// edges of the seed's type are among them.
var fixedSeeds = []uint64{0, 1, 0x5eed, math.MaxUint64}

// TestRoundTripPropertyIntegration: random metrics through every pairing, in both
// formats, come back as they went in (what the format carries of them).
func TestRoundTripPropertyIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	h := newHarness(t)
	fixed, explored := 50, 100
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("ROUNDTRIP_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("ROUNDTRIP_SEED: %v", err)
		}
	}
	t.Logf("explored seed %d (ROUNDTRIP_SEED=%d replays it)", seed, seed)
	for _, s := range fixedSeeds {
		t.Run(fmt.Sprintf("seed=%d", s), func(t *testing.T) { propertyCases(t, h, s, fixed) })
	}
	t.Run("seed=clock", func(t *testing.T) { propertyCases(t, h, seed, explored) })
}

// propertyCases checks n cases drawn from seed, and stops at the first
// that fails, naming it and its bytes (a fuzz seed for FuzzRoundTripIntegration).
func propertyCases(t *testing.T, h *harness, seed uint64, n int) {
	r := rand.New(rand.NewPCG(12, seed))
	for i := 0; i < n; i++ {
		data := make([]byte, 64+r.IntN(512))
		for j := range data {
			data[j] = byte(r.Uint32())
		}
		g := &gen{data: data}
		ms := g.metrics()
		t.Run(strconv.Itoa(i), func(t *testing.T) { h.check(t, ms) })
		if t.Failed() {
			t.Fatalf("case %d of seed %d failed; as a fuzz seed: %q", i, seed, data)
		}
	}
}

// TestRoundTripEdgesIntegration: one metric holding every edge at once, and one
// without tags.
func TestRoundTripEdgesIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	h := newHarness(t)
	ms := []telegraf.Metric{
		metric.New(`cpu,"load" #1 日本`, map[string]string{"host": "web 01", "_dc": `e=u,"1"`, "#t": "😀"},
			map[string]any{
				"f": 1.5, "neg_zero": math.Copysign(0, -1), "tiny": 1e-300, "min": 5e-324, "max": math.MaxFloat64,
				"three": 3.0, "inf": math.Inf(1), "ninf": math.Inf(-1),
				"i": int64(math.MinInt64), "imax": int64(math.MaxInt64), "u": uint64(math.MaxUint64), "u0": uint64(0),
				"yes": true, "no": false, "_id": "x", "#h": `q"uo\te\\`, `\b`: strings.Repeat("long é ", 10000),
				"nl": "two\nlines", "empty": "",
			}, time.Unix(0, 1795552004123456789)),
		metric.New("untagged", nil, map[string]any{"v": int64(1)}, time.Unix(0, -1)),
	}
	h.check(t, ms)
}

// FuzzRoundTripIntegration is TestRoundTripPropertyIntegration driven by the fuzzer: its bytes
// shape the metrics (see gen).
func FuzzRoundTripIntegration(f *testing.F) {
	if testing.Short() {
		f.Skip("Skipping integration test in short mode")
	}
	f.Add(make([]byte, 0))
	f.Add([]byte("\x03\x05\x11\x22\x07\x00\xff\x80\x01\x02\x03\x04\x05\x06\x07\x08\x09"))
	f.Add([]byte(strings.Repeat("\x07\x01\x02", 40)))
	h := newHarness(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		g := &gen{data: data}
		h.check(t, g.metrics())
	})
}
