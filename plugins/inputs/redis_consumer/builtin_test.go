package redis_consumer

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/agent"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/models"
	"github.com/influxdata/telegraf/plugins/serializers/influx"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/logger"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

// These tests run the plugin with Telegraf's own agent accumulator, which
// hands each metric to a channel as the agent does; the test takes the
// outputs' part and accepts (or rejects) what it received, which is what
// makes Telegraf report a tracked group delivered. The real Telegraf runs
// the plugin in the tests of telegraf/.

// accumulated is what the plugin added, in order.
type accumulated struct {
	mu sync.Mutex
	ms []telegraf.Metric
}

// Wait waits up to 10s until n metrics came.
func (a *accumulated) Wait(t *testing.T, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d metrics (%d came)", n, a.NMetrics()), func() bool { return a.NMetrics() >= n })
}

// Stays checks that no more than n metrics come within d: a short window
// after the wait for the n-th, for one that should not come.
func (a *accumulated) Stays(t *testing.T, n int, d time.Duration) {
	t.Helper()
	a.Wait(t, n)
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if got := a.NMetrics(); got > n {
			t.Fatalf("%d metrics, want %d", got, n)
		}
	}
}

func (a *accumulated) GetTelegrafMetrics() []telegraf.Metric {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]telegraf.Metric(nil), a.ms...)
}

func (a *accumulated) NMetrics() int { return len(a.GetTelegrafMetrics()) }

// builtIn is the plugin as Telegraf builds and starts it.
func builtIn(t *testing.T, addr string, tune func(*RedisConsumer)) (*RedisConsumer, telegraf.Accumulator, *accumulated) {
	t.Helper()
	logs := &syncBuffer{}
	p := NewBuiltIn()
	p.Address = addr
	p.Timeout = config.Duration(2 * time.Second)
	p.Log = logger.NewWriter(logs, "inputs.redis_consumer")
	if tune != nil {
		tune(p)
	}
	if err := p.Init(); err != nil {
		t.Fatal(err)
	}
	got := &accumulated{}
	ch := make(chan telegraf.Metric, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m := range ch {
			got.mu.Lock()
			got.ms = append(got.ms, m)
			got.mu.Unlock()
		}
	}()
	acc := agent.NewAccumulator(models.NewRunningInput(p, &models.InputConfig{Name: "redis_consumer"}), ch)
	if err := p.Start(acc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stopped := make(chan struct{})
		go func() {
			defer close(stopped)
			p.Stop()
			close(ch)
			<-done
		}()
		select {
		case <-stopped:
		case <-time.After(10 * time.Second):
			t.Error("Stop did not return within 10s of the end of the test")
		}
		if t.Failed() {
			t.Logf("plugin log:\n%s", logs)
		}
	})
	return p, acc, got
}

// lines is line protocol of ms, sorted, as the execd program writes it.
func lines(t *testing.T, ms []telegraf.Metric) []string {
	t.Helper()
	s := &influx.Serializer{SortFields: true, UintSupport: true}
	if err := s.Init(); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range ms {
		b, err := s.Serialize(m)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.TrimSuffix(string(b), "\n"))
	}
	sort.Strings(out)
	return out
}

func TestBuiltInQuoteAndKeysGather(t *testing.T) {
	srv := redistest.Start(t)
	srv.Do("SET", DefaultQuoteKey, doc)
	p, acc, got := builtIn(t, srv.Addr, nil)
	if err := p.Gather(acc); err != nil {
		t.Fatal(err)
	}
	got.Wait(t, 3)
	sameLines(t, lines(t, got.GetTelegrafMetrics()), docLines...)

	srv.Do("HSET", "sensor:1", "room", "kitchen", "temp", "21.5")
	srv.Do("SET", "sensor:2", "climate,room=hall temp=19 1795552004000000000")
	p, acc, got = builtIn(t, srv.Addr, func(p *RedisConsumer) {
		p.Mode, p.Key, p.KeyTag, p.TagKeys = "keys", "sensor:*", "key", []string{"room"}
	})
	if err := p.Gather(acc); err != nil {
		t.Fatal(err)
	}
	got.Wait(t, 2)
	ls := lines(t, got.GetTelegrafMetrics())
	if len(ls) != 2 || !strings.HasPrefix(ls[0], "climate,key=sensor:2,room=hall temp=19 1795552004000000000") ||
		!strings.HasPrefix(ls[1], "redis_consumer,key=sensor:1,room=kitchen temp=21.5 ") {
		t.Fatalf("%q", ls)
	}
}

// Hostile: Redis away is an error of that Gather, which Telegraf logs;
// the next Gather after Redis is back reads again.
func TestBuiltInGatherRedisAway(t *testing.T) {
	srv := redistest.Start(t)
	srv.Do("SET", DefaultQuoteKey, doc)
	p, acc, got := builtIn(t, srv.Addr, nil)
	srv.Kill()
	if err := p.Gather(acc); err == nil || !strings.Contains(err.Error(), "reading from Redis at "+srv.Addr) {
		t.Fatalf("Gather: %v", err)
	}
	srv.Restart()
	srv.Do("SET", DefaultQuoteKey, doc)
	if err := p.Gather(acc); err != nil {
		t.Fatal(err)
	}
	got.Wait(t, 3)
	sameLines(t, lines(t, got.GetTelegrafMetrics()), docLines...)
}

func TestBuiltInSubscribe(t *testing.T) {
	srv := redistest.Start(t)
	_, _, acc := builtIn(t, srv.Addr, func(p *RedisConsumer) { p.Mode, p.Channels, p.ChannelTag = "subscribe", []string{"cpu"}, "channel" })
	waitSubscribed(t, srv, "cpu")
	srv.Do("PUBLISH", "cpu", "cpu,host=a usage=1.5 1795552004000000000")
	srv.Do("PUBLISH", "cpu", "not line protocol") // refused alone, with an error line
	srv.Do("PUBLISH", "cpu", "cpu,host=b usage=2 1795552005000000000")
	acc.Wait(t, 2)
	sameLines(t, lines(t, acc.GetTelegrafMetrics()),
		"cpu,channel=cpu,host=a usage=1.5 1795552004000000000",
		"cpu,channel=cpu,host=b usage=2 1795552005000000000")
}

func TestBuiltInQuoteSubscribeGetsTheDocumentAtOnce(t *testing.T) {
	srv := redistest.Start(t)
	srv.Do("SET", DefaultQuoteKey, doc)
	_, _, acc := builtIn(t, srv.Addr, func(p *RedisConsumer) { p.Subscribe, p.Channel = true, "quotes" })
	acc.Wait(t, 3) // the GET after subscribing, without a Gather
	waitSubscribed(t, srv, "quotes")
	srv.Do("PUBLISH", "quotes", strings.Replace(doc, "97234.12", "97300", 1))
	acc.Wait(t, 6)
	got := lines(t, acc.GetTelegrafMetrics())
	if !strings.Contains(strings.Join(got, "\n"), "currency_rate,id=bitcoin,quote=usd price=97300 1795552004000000000") {
		t.Fatalf("%q", got)
	}
}

// TestBuiltInStreamAcksOnlyWhatTelegrafDelivered: entries stay pending
// while their metrics are in Telegraf's hands, and are acknowledged once
// Telegraf reports them delivered.
func TestBuiltInStreamAcksOnlyWhatTelegrafDelivered(t *testing.T) {
	srv := redistest.Start(t)
	for _, id := range []string{"1795552004000-0", "1795552004000-1", "1795552004000-2"} {
		srv.Do("XADD", "metrics", id, "price", "1.5")
	}
	_, _, acc := builtIn(t, srv.Addr, func(p *RedisConsumer) {
		p.Mode, p.Key, p.Group, p.Consumer = "stream", "metrics", "telegraf", "c1"
		p.Block = config.Duration(50 * time.Millisecond)
	})
	acc.Wait(t, 3)
	// Three reads later, nothing is acknowledged: nothing was delivered.
	reads := commandCalls(t, srv, "xreadgroup")
	waitFor(t, "three more reads", func() bool { return commandCalls(t, srv, "xreadgroup") >= reads+3 })
	if n := pending(t, srv, "metrics", "telegraf"); n != 3 {
		t.Fatalf("%d pending before delivery, want 3", n)
	}
	for _, m := range acc.GetTelegrafMetrics() {
		m.Accept()
	}
	waitFor(t, "the XACK after delivery", func() bool { return pending(t, srv, "metrics", "telegraf") == 0 })
	if n := len(acc.GetTelegrafMetrics()); n != 3 {
		t.Fatalf("%d metrics, want each entry once", n)
	}
}

// Hostile: a group Telegraf could not deliver (rejected: its buffer was
// full) is not acknowledged; its entries are read again from the pending
// list and acknowledged once delivered.
func TestBuiltInStreamRejectedIsReadAgain(t *testing.T) {
	srv := redistest.Start(t)
	srv.Do("XADD", "metrics", "1795552004000-0", "price", "1.5")
	srv.Do("XADD", "metrics", "1795552004000-1", "price", "2.5")
	_, _, acc := builtIn(t, srv.Addr, func(p *RedisConsumer) {
		p.Mode, p.Key, p.Group, p.Consumer = "stream", "metrics", "telegraf", "c1"
		p.Block = config.Duration(50 * time.Millisecond)
	})
	acc.Wait(t, 2)
	for _, m := range acc.GetTelegrafMetrics() {
		m.Reject()
	}
	acc.Wait(t, 4) // delivered again
	if n := pending(t, srv, "metrics", "telegraf"); n != 2 {
		t.Fatalf("%d pending after a rejection, want 2", n)
	}
	for _, m := range acc.GetTelegrafMetrics()[2:] {
		m.Accept()
	}
	waitFor(t, "the XACK after delivery", func() bool { return pending(t, srv, "metrics", "telegraf") == 0 })
	sameLines(t, lines(t, acc.GetTelegrafMetrics()),
		"redis_consumer price=1.5 1795552004000000000", "redis_consumer price=1.5 1795552004000000000",
		"redis_consumer price=2.5 1795552004000000000", "redis_consumer price=2.5 1795552004000000000")
}

// Hostile: no more than max_undelivered_messages entries are in
// Telegraf's hands; the reader waits for deliveries before reading more.
func TestBuiltInStreamMaxUndelivered(t *testing.T) {
	srv := redistest.Start(t)
	for i := 0; i < 10; i++ {
		srv.Do("XADD", "metrics", "*", "i", i)
	}
	_, _, acc := builtIn(t, srv.Addr, func(p *RedisConsumer) {
		p.Mode, p.Key, p.Group, p.Consumer = "stream", "metrics", "telegraf", "c1"
		p.Block, p.BatchSize, p.MaxUndeliveredMessages = config.Duration(50*time.Millisecond), 3, 4
	})
	// A second batch of 3 is read while 3 wait (3 < 4); then it stops.
	acc.Stays(t, 6, 300*time.Millisecond)
	for delivered := 0; delivered < 10; {
		ms := acc.GetTelegrafMetrics()
		for _, m := range ms[delivered:] {
			m.Accept()
		}
		delivered = len(ms)
		if delivered < 10 {
			acc.Wait(t, delivered+1)
		}
	}
	waitFor(t, "every entry acknowledged", func() bool { return pending(t, srv, "metrics", "telegraf") == 0 })
	if n := acc.NMetrics(); n != 10 {
		t.Fatalf("%d metrics, want 10", n)
	}
}

func TestMaxUndeliveredIsBuiltInAndStreamOnly(t *testing.T) {
	p := New()
	p.Mode, p.Key, p.MaxUndeliveredMessages = "stream", "s", 10
	if err := p.Init(); err == nil || !strings.Contains(err.Error(), "option max_undelivered_messages: only read built into Telegraf") {
		t.Fatalf("execd: %v", err)
	}
	p = NewBuiltIn()
	p.MaxUndeliveredMessages = 10
	if err := p.Init(); err == nil || !strings.Contains(err.Error(), "only read in stream mode") {
		t.Fatalf("quote: %v", err)
	}
}
