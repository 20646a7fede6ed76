package redis_consumer

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf/config"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

// doc is a document as redis-output writes it.
const doc = `{"timestamp":1795552004,"quote":"usd","prices":[{"id":"bitcoin","price":"97234.12"},{"id":"ethereum","price":"3391.45"},` +
	`{"id":"shiba-inu","price":"0.000012345678901234"}]}`

var docLines = []string{
	"currency_rate,id=bitcoin,quote=usd price=97234.12 1795552004000000000",
	"currency_rate,id=ethereum,quote=usd price=3391.45 1795552004000000000",
	"currency_rate,id=shiba-inu,quote=usd price=0.000012345678901234 1795552004000000000",
}

func TestQuoteDocumentGivesExactMetricsIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	srv.Do("SET", DefaultQuoteKey, doc)
	p, _ := newPlugin(t, srv.Addr, nil)
	out := &syncBuffer{}
	if err := p.Run(context.Background(), nil, out, RunOptions{Once: true}); err != nil {
		t.Fatal(err)
	}
	sameLines(t, out.Lines(), docLines...)
}

func TestQuoteGathersOnEachStdinLineAndStopsAtItsEndIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	srv.Do("SET", "rates:eur", strings.ReplaceAll(doc, "usd", "eur"))
	p, _ := newPlugin(t, srv.Addr, func(p *RedisConsumer) {
		p.Key, p.Measurement = "rates:eur", "rate"
	})
	r := start(t, p, RunOptions{})
	time.Sleep(100 * time.Millisecond)
	if out := r.stdout.String(); out != "" {
		t.Fatalf("wrote before any gather: %q", out)
	}
	r.gather(t)
	got := waitLines(t, r.stdout, 3)
	sameLines(t, got,
		"rate,id=bitcoin,quote=eur price=97234.12 1795552004000000000",
		"rate,id=ethereum,quote=eur price=3391.45 1795552004000000000",
		"rate,id=shiba-inu,quote=eur price=0.000012345678901234 1795552004000000000")

	srv.Do("SET", "rates:eur", `{"timestamp":1795552010,"quote":"eur","prices":[{"id":"bitcoin","price":"1e-7"}]}`)
	r.gather(t)
	waitLines(t, r.stdout, 4)
	if got := r.stdout.Lines(); got[3] != "rate,id=bitcoin,quote=eur price=0.0000001 1795552010000000000" {
		t.Fatalf("second gather: %q", got)
	}
	if err := r.closeStdin(t); err != nil {
		t.Fatalf("Run after stdin ended: %v", err)
	}
}

func TestQuotePollIntervalIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	srv.Do("SET", DefaultQuoteKey, doc)
	p, _ := newPlugin(t, srv.Addr, nil)
	r := start(t, p, RunOptions{PollInterval: 30 * time.Millisecond})
	waitLines(t, r.stdout, 9) // three gathers without a line on stdin
}

func TestQuoteMissingKeyWarnsOnceUntilItAppearsIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	p, logs := newPlugin(t, srv.Addr, nil)
	r := start(t, p, RunOptions{})
	const warning = `W! [inputs.redis_consumer] key "coingecko:rate:usd" does not exist`
	for i := 0; i < 3; i++ {
		r.gather(t)
		waitFor(t, "the warning", func() bool { return strings.Contains(logs.String(), warning) })
	}
	time.Sleep(100 * time.Millisecond)
	if n := count(logs.String(), warning); n != 1 || r.stdout.String() != "" {
		t.Fatalf("%d warnings, output %q", n, r.stdout.String())
	}
	srv.Do("SET", DefaultQuoteKey, doc)
	r.gather(t)
	waitLines(t, r.stdout, 3)
	srv.Do("DEL", DefaultQuoteKey)
	r.gather(t)
	waitFor(t, "a second warning", func() bool { return count(logs.String(), warning) == 2 })
}

func TestQuoteMalformedDocumentsIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	p, logs := newPlugin(t, srv.Addr, nil)
	for _, bad := range []struct{ doc, why string }{
		{`{"timestamp":1795552004,"quote":"usd","prices":[{"id":"bitcoin","price":"97234.12"}`, "invalid JSON"},
		{`{"quote":"usd","prices":[]}`, `no "timestamp"`},
		{`{"timestamp":-1,"quote":"usd","prices":[]}`, `"timestamp" -1 is not a time`},
		{`{"timestamp":1795552004,"prices":[]}`, `no "quote"`},
		{`{"timestamp":1795552004,"quote":"usd"}`, `no "prices"`},
		{`{"timestamp":1795552004,"quote":"usd","prices":[{"id":"bitcoin","price":"97234.12"},{"id":"x","price":"1,5"}]}`,
			`prices[1] (x): "price" "1,5" is not a decimal number`},
		{`{"timestamp":1795552004,"quote":"usd","prices":[{"id":"bitcoin","price":"NaN"}]}`, "is not a decimal number"},
		{`{"timestamp":1795552004,"quote":"usd","prices":[{"price":"1"}]}`, `prices[0]: no "id"`},
		{`{"timestamp":1795552004,"quote":"usd","prices":[]} {}`, "data after the document"},
	} {
		srv.Do("SET", DefaultQuoteKey, bad.doc)
		out := &syncBuffer{}
		if err := p.Run(context.Background(), nil, out, RunOptions{Once: true}); err != nil {
			t.Fatal(err)
		}
		if out.String() != "" {
			t.Errorf("%s: wrote %q", bad.doc, out)
		}
		last := logs.Lines()[len(logs.Lines())-1]
		if !strings.HasPrefix(last, "E! [inputs.redis_consumer] malformed quote document in key \"coingecko:rate:usd\": ") || !strings.Contains(last, bad.why) {
			t.Errorf("%s: log %q, want %q", bad.doc, last, bad.why)
		}
	}
	// A number is taken too, although redis-output writes strings.
	srv.Do("SET", DefaultQuoteKey, `{"timestamp":1795552004,"quote":"usd","prices":[{"id":"bitcoin","price":97234.12}]}`)
	out := &syncBuffer{}
	if err := p.Run(context.Background(), nil, out, RunOptions{Once: true}); err != nil {
		t.Fatal(err)
	}
	sameLines(t, out.Lines(), docLines[0])
}

func TestQuoteTimestampUnitsIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	srv.Do("SET", DefaultQuoteKey, `{"timestamp":1795552004123,"quote":"usd","prices":[{"id":"bitcoin","price":"1"}]}`)
	p, _ := newPlugin(t, srv.Addr, func(p *RedisConsumer) { p.TimestampUnits = config.Duration(time.Millisecond) })
	out := &syncBuffer{}
	if err := p.Run(context.Background(), nil, out, RunOptions{Once: true}); err != nil {
		t.Fatal(err)
	}
	sameLines(t, out.Lines(), "currency_rate,id=bitcoin,quote=usd price=1 1795552004123000000")
}

// With subscribe = true a document published on the channel is written at
// once, without a gather; each (re)subscription is followed by a GET.
func TestQuoteSubscribeIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	srv.Do("SET", DefaultQuoteKey, doc)
	p, _ := newPlugin(t, srv.Addr, func(p *RedisConsumer) {
		p.Subscribe, p.Channel = true, "coingecko:rate:usd:updates"
	})
	r := start(t, p, RunOptions{})
	sameLines(t, waitLines(t, r.stdout, 3), docLines...) // the GET after subscribing

	published := `{"timestamp":1795552099,"quote":"usd","prices":[{"id":"bitcoin","price":"99000.5"}]}`
	srv.Do("PUBLISH", p.Channel, published)
	waitLines(t, r.stdout, 4)
	if got := r.stdout.Lines(); got[3] != "currency_rate,id=bitcoin,quote=usd price=99000.5 1795552099000000000" {
		t.Fatalf("after PUBLISH: %q", got)
	}
	if err := r.closeStdin(t); err != nil {
		t.Fatal(err)
	}
}

// Redis goes away and comes back with subscribe = true: the GET and the
// Pub/Sub connections fail together, which is one warning and one recovery
// line; the GET that follows the new subscription shows the document
// written meanwhile, without any gather asked for.
func TestQuoteSubscribeRedisDownAndBackIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	srv.Do("SET", DefaultQuoteKey, doc)
	p, logs := newPlugin(t, srv.Addr, func(p *RedisConsumer) {
		p.Timeout = config.Duration(300 * time.Millisecond)
		p.Subscribe, p.Channel = true, "updates"
	})
	r := start(t, p, RunOptions{})
	waitLines(t, r.stdout, 3)
	srv.Kill()
	r.gather(t) // the GET connection fails too
	waitFor(t, "the outage warning", func() bool { return strings.Contains(logs.String(), "is unavailable") })
	time.Sleep(300 * time.Millisecond)
	r.gather(t)
	srv.Restart()
	srv.Do("SET", DefaultQuoteKey, `{"timestamp":1795552100,"quote":"usd","prices":[{"id":"bitcoin","price":"2"}]}`)
	waitFor(t, "the GET after the new subscription", func() bool {
		return strings.Contains(r.stdout.String(), "currency_rate,id=bitcoin,quote=usd price=2 1795552100000000000\n")
	})
	log := logs.String()
	if count(log, "is unavailable") != 1 || count(log, "I! [inputs.redis_consumer] Redis at "+srv.Addr+" is back after") != 1 {
		t.Fatalf("log:\n%s", log)
	}
}

// Redis goes away and comes back: one warning, one recovery line, and
// gathers work again without a restart.
func TestQuoteRedisDownAndBackIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	srv.Do("SET", DefaultQuoteKey, doc)
	p, logs := newPlugin(t, srv.Addr, func(p *RedisConsumer) { p.Timeout = config.Duration(300 * time.Millisecond) })
	r := start(t, p, RunOptions{PollInterval: 20 * time.Millisecond})
	waitLines(t, r.stdout, 3)
	srv.Kill()
	waitFor(t, "the outage warning", func() bool {
		return strings.Contains(logs.String(), "W! [inputs.redis_consumer] Redis at "+srv.Addr+" is unavailable")
	})
	srv.Restart()
	srv.Do("SET", DefaultQuoteKey, `{"timestamp":1795552100,"quote":"usd","prices":[{"id":"bitcoin","price":"2"}]}`)
	waitFor(t, "a gather after the restart", func() bool {
		return strings.Contains(r.stdout.String(), "currency_rate,id=bitcoin,quote=usd price=2 1795552100000000000\n")
	})
	log := logs.String()
	if count(log, "is unavailable") != 1 || count(log, "I! [inputs.redis_consumer] Redis at "+srv.Addr+" is back after") != 1 {
		t.Fatalf("log:\n%s", log)
	}
}
