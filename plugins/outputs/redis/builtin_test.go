package redis

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/metric"
	"github.com/influxdata/telegraf/plugins/parsers/influx"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/logger"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/redisconn"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

// startBuiltIn is the plugin as Telegraf builds and starts it.
func startBuiltIn(t *testing.T, addr string, logs *syncBuffer, tune func(*Redis)) *Redis {
	t.Helper()
	r := NewBuiltIn()
	r.Address = addr
	r.Timeout = config.Duration(2 * time.Second)
	if logs == nil {
		logs = &syncBuffer{}
	}
	r.Log = logger.NewWriter(logs, "outputs.redis")
	if tune != nil {
		tune(r)
	}
	if err := r.Init(); err != nil {
		t.Fatal(err)
	}
	if err := r.Connect(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

const typedLines = `cpu,host=web-01 usage=1.5,n=3i,u=7u,ok=true,s="x y" 1795552004000000000
cpu,host=web-02 usage=2.25 1795552005000000000
cpu,host=web-01 usage=3 1795552006000000000
prices,topic_currency_rate=currency.rate fields_bitcoin_usd=97234.12,fields_ethereum_usd=3391.45 1795552004000000000
prices,topic_currency_rate=currency.rate fields_bitcoin_usd=97000.5 1795552001000000000
`

func parseLines(t *testing.T, text string) []telegraf.Metric {
	t.Helper()
	p := &influx.Parser{}
	if err := p.Init(); err != nil {
		t.Fatal(err)
	}
	ms, err := p.Parse([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

// TestBuiltInWritesWhatExecdWritesIntegration: every mode, built in, leaves in Redis
// exactly what the execd program leaves for the same metrics.
func TestBuiltInWritesWhatExecdWritesIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	modes := map[string]func(*Redis){
		"quote":  nil,
		"hash":   func(r *Redis) { r.Mode, r.Key = "hash", `h:{{.Name}}:{{.Tag "host"}}` },
		"stream": func(r *Redis) { r.Mode, r.Key, r.StreamMaxlen = "stream", "s:{{.Name}}", 1000 },
		"stream-payload": func(r *Redis) {
			r.Mode, r.Key, r.PayloadField, r.DataFormat = "stream", "p:{{.Name}}", "payload", "json"
		},
		"list":    func(r *Redis) { r.Mode, r.Key, r.ListMaxLength = "list", "l:{{.Name}}", 2 },
		"string":  func(r *Redis) { r.Mode, r.Key, r.Expire = "string", `s:{{.Tag "host"}}`, config.Duration(time.Hour) },
		"publish": func(r *Redis) { r.Mode, r.Key, r.DataFormat = "publish", "c:{{.Name}}", "influx" },
	}
	for name, tune := range modes {
		t.Run(name, func(t *testing.T) {
			srv.Do("FLUSHALL")
			sub := subscribe(t, srv)
			runLines(t, srv, typedLines, tune)
			execd, execdMsgs := snapshot(t, srv), sub.drain(t)

			srv.Do("FLUSHALL")
			sub = subscribe(t, srv)
			r := startBuiltIn(t, srv.Addr, nil, tune)
			// Two flushes, as Telegraf would make them.
			ms := parseLines(t, typedLines)
			if err := r.Write(ms[:2]); err != nil {
				t.Fatal(err)
			}
			if err := r.Write(ms[2:]); err != nil {
				t.Fatal(err)
			}
			built, builtMsgs := snapshot(t, srv), sub.drain(t)
			if built != execd || builtMsgs != execdMsgs {
				t.Fatalf("built in:\n%s%s\nexecd:\n%s%s", built, builtMsgs, execd, execdMsgs)
			}
			if strings.TrimSpace(built+builtMsgs) == "" {
				t.Fatal("nothing written")
			}
		})
	}
}

// snapshot prints every key with its type, value and TTL (present or
// not); stream entries without their IDs, which are times.
func snapshot(t *testing.T, srv *redistest.Server) string {
	t.Helper()
	c := srv.Conn()
	keys, err := redis.Strings(c.Do("KEYS", "*"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		typ := mustString(t)(c.Do("TYPE", k))
		ttl := mustInt(t)(c.Do("PTTL", k))
		var v any
		switch typ {
		case "string":
			v = mustString(t)(c.Do("GET", k))
		case "hash":
			m := mustStringMap(t)(c.Do("HGETALL", k))
			if strings.HasSuffix(k, ":prices") { // the quote's state: "order time entry"
				v = len(m)
			} else {
				v = m
			}
		case "list":
			v = mustStrings(t)(c.Do("LRANGE", k, 0, -1))
		case "stream":
			entries := mustValues(t)(c.Do("XRANGE", k, "-", "+"))
			var fields []string
			for _, e := range entries {
				ev := mustValues(t)(e, nil)
				kv := mustStrings(t)(ev[1], nil)
				fields = append(fields, strings.Join(kv, " "))
			}
			v = fields
		}
		fmt.Fprintf(&b, "%s %s ttl=%v %v\n", k, typ, ttl > 0, v)
	}
	return b.String()
}

// mustString reads a string reply, failing the test on an error.
func mustString(t *testing.T) func(v interface{}, err error) string {
	return func(v interface{}, err error) string {
		t.Helper()
		s, err := redis.String(v, err)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

// mustStringMap reads a reply of field and value pairs, failing the test on
// an error.
func mustStringMap(t *testing.T) func(v interface{}, err error) map[string]string {
	return func(v interface{}, err error) map[string]string {
		t.Helper()
		m, err := redis.StringMap(v, err)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
}

type subscription struct {
	psc  redis.PubSubConn
	msgs chan string
}

func subscribe(t *testing.T, srv *redistest.Server) *subscription {
	t.Helper()
	s := &subscription{psc: redis.PubSubConn{Conn: srv.Conn()}, msgs: make(chan string, 100)}
	if err := s.psc.PSubscribe("*"); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.psc.Receive().(redis.Subscription); !ok {
		t.Fatal("no subscription")
	}
	go func() {
		for {
			switch m := s.psc.Receive().(type) {
			case redis.Message:
				s.msgs <- m.Channel + " " + string(m.Data) + "\n"
			case redis.Pong:
				s.msgs <- ""
			case error:
				close(s.msgs)
				return
			}
		}
	}()
	return s
}

// drain returns the messages published so far and unsubscribes. The
// writes have returned, so their messages are queued on the subscriber's
// connection before the reply to a PING sent now.
func (s *subscription) drain(t *testing.T) string {
	t.Helper()
	defer s.psc.Close()
	if err := s.psc.Ping(""); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for m := range s.msgs {
		if m == "" {
			return b.String()
		}
		b.WriteString(m)
	}
	t.Fatal("the subscription ended before the PONG")
	return ""
}

// TestBuiltInWriteFailsWhileRedisIsAwayIntegration: Write returns an error (Telegraf
// keeps the batch) until Redis is back; then the batch Telegraf writes
// again arrives whole. While Redis is away each flush probes it (a dial
// and a PING) rather than waiting out a backoff grown during the outage:
// the first flush after Redis is back writes.
func TestBuiltInWriteFailsWhileRedisIsAwayIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t, "--appendonly", "yes")
	logs := &syncBuffer{}
	r := startBuiltIn(t, srv.Addr, logs, nil)
	ms := parseLines(t, typedLines)
	srv.Kill()
	if err := r.Write(ms); err == nil {
		t.Fatal("Write succeeded with Redis away")
	}
	// Flushes for 2 s of outage: a backoff would have grown past 1 s.
	for start := time.Now(); time.Since(start) < 2*time.Second; time.Sleep(20 * time.Millisecond) {
		err := r.Write(ms)
		if err == nil || !strings.Contains(err.Error(), "Redis at "+srv.Addr+": unavailable") || !strings.Contains(err.Error(), "connection refused") {
			t.Fatalf("write while away: %v", err)
		}
	}
	srv.Restart()
	if err := r.Write(ms); err != nil {
		t.Fatalf("the first flush after Redis came back: %v", err)
	}
	if d := stored(t, srv); len(d.Prices) != 2 || d.Prices[0].Price != "97234.12" {
		t.Fatalf("document %+v", d)
	}
}

// Hostile: a metric that can never be written (a time before 1970 for a
// price) is refused alone, with an error line; Write succeeds, so Telegraf
// does not retry the whole batch forever.
func TestBuiltInRefusesBadMetricsAloneIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	logs := &syncBuffer{}
	r := startBuiltIn(t, srv.Addr, logs, nil)
	ms := []telegraf.Metric{
		metric.New("m", nil, map[string]any{"fields_bitcoin_usd": 5.0}, time.Unix(-1, 0)),
		metric.New("m", nil, map[string]any{"fields_ethereum_usd": 6.0}, time.Unix(1795552004, 0)),
	}
	if err := r.Write(ms); err != nil {
		t.Fatal(err)
	}
	if d := stored(t, srv); len(d.Prices) != 1 || d.Prices[0].ID != "ethereum" {
		t.Fatalf("document %+v", d)
	}
	if !strings.Contains(logs.String(), "E! [outputs.redis] metric m at 1969-12-31T23:59:59Z not written: timestamp is before 1970") {
		t.Fatalf("log: %s", logs)
	}
}

func TestBuiltInConnectIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t, "--requirepass", "right")
	// A wrong password stops Telegraf at start, with the reason.
	r := NewBuiltIn()
	r.Address, r.Password, r.Log = srv.Addr, config.NewSecret([]byte("wrong")), logger.NewWriter(&syncBuffer{}, "")
	if err := r.Init(); err != nil {
		t.Fatal(err)
	}
	var se *redisconn.StartupError
	if err := r.Connect(); !errors.As(err, &se) || se.Retry || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Fatalf("Connect: %v", err)
	}
	// Redis not there: a startup error Telegraf may retry.
	r = NewBuiltIn()
	r.Address, r.Log = fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t)), logger.NewWriter(&syncBuffer{}, "")
	if err := r.Init(); err != nil {
		t.Fatal(err)
	}
	if err := r.Connect(); !errors.As(err, &se) || !se.Retry || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("Connect: %v", err)
	}
}

// Built in, Telegraf's buffer does what the execd program's options do:
// setting them is refused with the reason.
func TestBuiltInRefusesExecdOnlyOptions(t *testing.T) {
	for option, tune := range map[string]func(*Redis){
		"spool_dir":                  func(r *Redis) { r.SpoolDir = "/tmp/x" },
		"max_undelivered_metrics":    func(r *Redis) { r.MaxUndeliveredMetrics = 10000 },
		"max_line_size":              func(r *Redis) { r.MaxLineSize = 1 << 20 },
		"influx_timestamp_precision": func(r *Redis) { r.InfluxTimestampPrecision = config.Duration(time.Second) },
	} {
		r := NewBuiltIn()
		tune(r)
		err := r.Init()
		if err == nil || !strings.HasPrefix(err.Error(), "option "+option+": only read by the execd program") {
			t.Errorf("%s: %v", option, err)
		}
		// The execd program takes them.
		r = New()
		tune(r)
		if err := r.Init(); err != nil {
			t.Errorf("%s, execd: %v", option, err)
		}
	}
}
