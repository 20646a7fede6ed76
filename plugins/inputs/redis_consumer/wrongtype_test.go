package redis_consumer

import (
	"context"
	"strings"
	"testing"

	"github.com/influxdata/telegraf/plugins/parsers/influx"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

// TestWrongTypeNamesTheKeyAndItsTypeIntegration: Redis's WRONGTYPE reply names
// neither; the error now says which key holds what.
func TestWrongTypeNamesTheKeyAndItsTypeIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	srv.Do("HSET", DefaultQuoteKey, "a", "1")
	p, _ := newPlugin(t, srv.Addr, nil)
	err := p.Run(context.Background(), nil, &syncBuffer{}, RunOptions{Once: true})
	if err == nil || !strings.HasPrefix(err.Error(), `WRONGTYPE key "coingecko:rate:usd" holds a hash, not a string (the quote document)`) {
		t.Fatalf("quote: %v", err)
	}

	srv.Do("SET", "events", "not a stream")
	s, logs := newPlugin(t, srv.Addr, func(p *RedisConsumer) { p.Mode, p.Key = "stream", "events" })
	start(t, s, RunOptions{})
	waitFor(t, "the error", func() bool { return strings.Contains(logs.String(), "WRONGTYPE") })
	if !strings.Contains(logs.String(), `E! [inputs.redis_consumer] Redis at `+srv.Addr+` refused the read: WRONGTYPE key "events" holds a string, `+
		`not a stream`) {
		t.Fatalf("stream:\n%s", logs)
	}
	// Hostile: other errors are left as they are.
	srv.Do("DEL", "events")
	srv.Do("XADD", "events", "*", "v", "1")
	waitFor(t, "the stream read", func() bool { return strings.Contains(logs.String(), "is back after") })
}

// TestCoinIdsLineProtocolCannotCarryIntegration: Telegraf's serializer strips a
// trailing '\' from a tag value, so the coins "bs\" and "bs" reached
// Telegraf as one series and one price overwrote the other, silently.
// Now such a coin is left out with an error naming it; "bs" is exact.
func TestCoinIdsLineProtocolCannotCarryIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	srv.Do("SET", DefaultQuoteKey, `{"timestamp":1795552004,"quote":"usd","prices":[{"id":"bs","price":"1"},{"id":"bs\\","price":"2"},`+
		`{"id":"lone\\\\","price":"3"},{"id":"ok","price":"4"}]}`)
	p, logs := newPlugin(t, srv.Addr, nil)
	out := &syncBuffer{}
	if err := p.Run(context.Background(), nil, out, RunOptions{Once: true}); err != nil {
		t.Fatal(err)
	}
	sameLines(t, out.Lines(),
		"currency_rate,id=bs,quote=usd price=1 1795552004000000000",
		"currency_rate,id=ok,quote=usd price=4 1795552004000000000")
	want := `E! [inputs.redis_consumer] quote document in key "coingecko:rate:usd": coin ids left out, line protocol cannot carry a tag value ending ` +
		`in '\': "bs\\" (it would reach Telegraf as "bs", merged with that coin), "lone\\\\" (it would reach Telegraf as "lone")`
	if !strings.Contains(logs.String(), want) {
		t.Fatalf("log:\n%s\nwant %s", logs, want)
	}
	// What Telegraf reads back: one metric per coin, "bs" with its own price.
	parser := &influx.Parser{}
	if err := parser.Init(); err != nil {
		t.Fatal(err)
	}
	ms, err := parser.Parse([]byte(out.String()))
	if err != nil || len(ms) != 2 || ms[0].Tags()["id"] != "bs" || ms[0].Fields()["price"] != 1.0 {
		t.Fatalf("parsed back %v %v", ms, err)
	}
}
