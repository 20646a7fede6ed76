package redis_consumer

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
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
	s := builtInSettled(t, addr, tune, nil)
	return s.p, s.acc, s.got
}

// settled is what builtInSettled gives: the plugin, the accumulator it
// was started with, what it gathered, and its log.
type settled struct {
	p    *RedisConsumer
	acc  telegraf.Accumulator
	got  *accumulated
	logs *syncBuffer
}

// builtInSettled is builtIn whose outputs' part is settle, called with
// each metric as it comes (nil: the test settles them), and with its log.
func builtInSettled(t *testing.T, addr string, tune func(*RedisConsumer), settle func(telegraf.Metric)) *settled {
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
			if settle != nil {
				settle(m)
			}
		}
	}()
	acc := agent.NewAccumulator(models.NewRunningInput(p, &models.InputConfig{Name: "redis_consumer"}), ch)
	p.Log = logger.NewWriter(logs, "inputs.redis_consumer") // NewRunningInput set Telegraf's own
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
	return &settled{p: p, acc: acc, got: got, logs: logs}
}

// lines is line protocol of ms, sorted, as the execd program writes it.
func lines(t *testing.T, ms []telegraf.Metric) []string {
	t.Helper()
	s := &influx.Serializer{SortFields: true, UintSupport: true}
	if err := s.Init(); err != nil {
		t.Fatal(err)
	}
	out := make([]string, 0, len(ms))
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

func TestBuiltInQuoteAndKeysGatherIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
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
func TestBuiltInGatherRedisAwayIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
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

func TestBuiltInSubscribeIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
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

func TestBuiltInQuoteSubscribeGetsTheDocumentAtOnceIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
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

// TestBuiltInStreamAcksOnlyWhatTelegrafDeliveredIntegration: entries stay pending
// while their metrics are in Telegraf's hands, and are acknowledged once
// Telegraf reports them delivered.
func TestBuiltInStreamAcksOnlyWhatTelegrafDeliveredIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
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
	if n := pending(t, srv); n != 3 {
		t.Fatalf("%d pending before delivery, want 3", n)
	}
	for _, m := range acc.GetTelegrafMetrics() {
		m.Accept()
	}
	waitFor(t, "the XACK after delivery", func() bool { return pending(t, srv) == 0 })
	if n := len(acc.GetTelegrafMetrics()); n != 3 {
		t.Fatalf("%d metrics, want each entry once", n)
	}
}

// Hostile: a group Telegraf could not deliver (rejected: its buffer was
// full) is not acknowledged; its entries are read again from the pending
// list and acknowledged once delivered.
func TestBuiltInStreamRejectedIsReadAgainIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
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
	if n := pending(t, srv); n != 2 {
		t.Fatalf("%d pending after a rejection, want 2", n)
	}
	for _, m := range acc.GetTelegrafMetrics()[2:] {
		m.Accept()
	}
	waitFor(t, "the XACK after delivery", func() bool { return pending(t, srv) == 0 })
	sameLines(t, lines(t, acc.GetTelegrafMetrics()),
		"redis_consumer price=1.5 1795552004000000000", "redis_consumer price=1.5 1795552004000000000",
		"redis_consumer price=2.5 1795552004000000000", "redis_consumer price=2.5 1795552004000000000")
}

// Hostile: no more than max_undelivered_messages entries are in
// Telegraf's hands; the reader waits for deliveries before reading more.
func TestBuiltInStreamMaxUndeliveredIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	for i := 0; i < 10; i++ {
		srv.Do("XADD", "metrics", "*", "i", i)
	}
	_, _, acc := builtIn(t, srv.Addr, func(p *RedisConsumer) {
		p.Mode, p.Key, p.Group, p.Consumer = "stream", "metrics", "telegraf", "c1"
		p.Block, p.BatchSize, p.MaxUndeliveredMessages = config.Duration(50*time.Millisecond), 3, 4
	})
	// A batch of 3, then 1 more (3 < 4), then no more: at most 4 in
	// Telegraf's hands.
	acc.Stays(t, 4, 300*time.Millisecond)
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
	waitFor(t, "every entry acknowledged", func() bool { return pending(t, srv) == 0 })
	if n := acc.NMetrics(); n != 10 {
		t.Fatalf("%d metrics, want 10", n)
	}
}

// streamTune is the stream mode of these tests.
func streamTune(more func(*RedisConsumer)) func(*RedisConsumer) {
	return func(p *RedisConsumer) {
		p.Mode, p.Key, p.Group, p.Consumer = "stream", "metrics", "telegraf", "c1"
		p.Block = config.Duration(50 * time.Millisecond)
		if more != nil {
			more(p)
		}
	}
}

// handedOver counts the metrics that came for each value of field i.
func handedOver(ms []telegraf.Metric) map[int64]int {
	n := map[int64]int{}
	for _, m := range ms {
		i, _ := m.GetField("i")
		n[int64(i.(float64))]++
	}
	return n
}

// Hostile, as `telegraf --test` does: every metric is rejected as it comes
// (an output refusing them, a buffer full of other metrics). The entries
// stay pending and are handed over again after a backoff (1s, then 2s),
// not in a loop of reads (before: 829 XREADGROUP in 10s); once Telegraf
// delivers, they are acknowledged. One W! line says so, one I! line when
// it is over.
func TestBuiltInStreamRejectedIsRetriedWithABackoffIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	srv.Do("XADD", "metrics", "1795552004000-0", "i", "0")
	srv.Do("XADD", "metrics", "1795552004000-1", "i", "1")
	var accept atomic.Bool
	var mu sync.Mutex
	var came []time.Time
	settle := func(m telegraf.Metric) {
		mu.Lock()
		came = append(came, time.Now())
		mu.Unlock()
		if accept.Load() {
			m.Accept()
		} else {
			m.Reject()
		}
	}
	s := builtInSettled(t, srv.Addr, streamTune(nil), settle)
	acc, logs := s.got, s.logs
	acc.Wait(t, 2)
	reads := commandCalls(t, srv, "xreadgroup")
	// Handed over again once, after the first backoff; not again within
	// the next (2s, less 20% jitter).
	acc.Stays(t, 4, time.Second)
	mu.Lock()
	gap := came[2].Sub(came[1])
	mu.Unlock()
	if gap < 700*time.Millisecond {
		t.Fatalf("handed over again %s after the rejection, want a backoff of about 1s", gap)
	}
	if n := commandCalls(t, srv, "xreadgroup") - reads; n > 4 {
		t.Fatalf("%d XREADGROUP for one retry, want at most 4 (no loop)", n)
	}
	if n := pending(t, srv); n != 2 {
		t.Fatalf("%d pending while rejected, want 2", n)
	}
	accept.Store(true)
	waitFor(t, "the XACK once delivered", func() bool { return pending(t, srv) == 0 })
	// Rejected twice, then delivered; or a third time, when the retry
	// after the second backoff came before the test accepted.
	for i, n := range handedOver(acc.GetTelegrafMetrics()) {
		if n < 3 || n > 4 {
			t.Fatalf("entry %d handed over %d times, want 3 or 4", i, n)
		}
	}
	waitFor(t, "the I! line", func() bool {
		return strings.Contains(logs.String(), `I! [inputs.redis_consumer] stream "metrics": Telegraf delivers again`)
	})
	if log := logs.String(); count(log, `W! [inputs.redis_consumer] stream "metrics": Telegraf did not deliver 2 entries`) != 1 || count(log, "W! ") != 1 {
		t.Fatalf("log:\n%s", log)
	}
}

// Hostile: the output rejects only some entries of a batch. Only those are
// handed over again; the ones it delivered are acknowledged and never
// handed over twice.
func TestBuiltInStreamPartlyRejectedIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	for i := 0; i < 6; i++ {
		srv.Do("XADD", "metrics", fmt.Sprintf("1795552004000-%d", i), "i", i)
	}
	var mu sync.Mutex
	seen := map[any]bool{}
	settle := func(m telegraf.Metric) {
		i, _ := m.GetField("i")
		mu.Lock()
		again := seen[i]
		seen[i] = true
		mu.Unlock()
		if v := i.(float64); (v == 1 || v == 4 || v == 5) && !again {
			m.Reject()
			return
		}
		m.Accept()
	}
	acc := builtInSettled(t, srv.Addr, streamTune(nil), settle).got
	acc.Wait(t, 9)
	waitFor(t, "every entry acknowledged", func() bool { return pending(t, srv) == 0 })
	want := map[int64]int{0: 1, 1: 2, 2: 1, 3: 1, 4: 2, 5: 2}
	if got := handedOver(acc.GetTelegrafMetrics()); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("hand-overs of each entry %v, want %v", got, want)
	}
}

// Hostile, as an output that is down, with a buffer smaller than what the
// plugin hands over: some entries are dropped (rejected) while the others
// stay in Telegraf's hands. Reading pauses, without a single read, until
// Telegraf has settled those, however long past the backoff: handing the
// rejected ones over again meanwhile would only drop them, or others,
// again. Then they are handed over again, and delivered once.
func TestBuiltInStreamRejectionWaitsForWhatTelegrafHoldsIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	for i := 0; i < 6; i++ {
		srv.Do("XADD", "metrics", fmt.Sprintf("1795552004000-%d", i), "i", i)
	}
	s := builtInSettled(t, srv.Addr, streamTune(func(p *RedisConsumer) { p.BatchSize = 2 }), nil)
	acc, logs := s.got, s.logs
	acc.Stays(t, 6, 100*time.Millisecond)
	ms := acc.GetTelegrafMetrics()
	ms[0].Reject()
	ms[1].Reject()
	waitFor(t, "the W! line", func() bool { return strings.Contains(logs.String(), "Telegraf did not deliver") })
	reads := commandCalls(t, srv, "xreadgroup")
	acc.Stays(t, 6, 1500*time.Millisecond)
	if n := commandCalls(t, srv, "xreadgroup") - reads; n != 0 {
		t.Fatalf("%d XREADGROUP while Telegraf holds entries after a rejection, want none", n)
	}
	for _, m := range ms[2:] {
		m.Accept()
	}
	acc.Wait(t, 8)
	for _, m := range acc.GetTelegrafMetrics()[6:] {
		m.Accept()
	}
	waitFor(t, "every entry acknowledged", func() bool { return pending(t, srv) == 0 })
	acc.Stays(t, 8, 100*time.Millisecond)
	want := map[int64]int{0: 2, 1: 2, 2: 1, 3: 1, 4: 1, 5: 1}
	if got := handedOver(acc.GetTelegrafMetrics()); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("hand-overs of each entry %v, want %v", got, want)
	}
}

// XGROUP DESTROY while Telegraf holds entries not yet delivered: the group
// is created again just before the oldest of them (their pending state
// went with the group), not at start_id "0", which hands over everything
// delivered before a second time. Delivered later, they are acknowledged
// in the new group; rejected, they are handed over again, not lost.
// Hostile: destroyed a second time, with nothing held.
func TestBuiltInStreamGroupDestroyedWhileTelegrafHoldsEntriesIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	srv.Do("XADD", "metrics", "1000-0", "i", 0)
	s := builtInSettled(t, srv.Addr, streamTune(nil), nil)
	acc, logs := s.got, s.logs
	acc.Wait(t, 1)
	acc.GetTelegrafMetrics()[0].Accept()
	waitFor(t, "the XACK", func() bool { return pending(t, srv) == 0 })
	srv.Do("XADD", "metrics", "2000-0", "i", 1)
	srv.Do("XADD", "metrics", "3000-0", "i", 2)
	acc.Wait(t, 3)

	srv.Do("XGROUP", "DESTROY", "metrics", "telegraf")
	waitFor(t, "the W! line", func() bool {
		return strings.Contains(logs.String(), `W! [inputs.redis_consumer] consumer group "telegraf" of stream "metrics" is gone, the stream is not `+
			`(XGROUP DESTROY?): created the group again at 1999-18446744073709551615, just before 2000-0, the oldest entry Telegraf has not delivered`)
	})
	srv.Do("XADD", "metrics", "4000-0", "i", 3)
	acc.Wait(t, 4)
	ms := acc.GetTelegrafMetrics()
	ms[1].Reject()
	ms[2].Accept()
	ms[3].Accept()
	acc.Wait(t, 5)
	acc.GetTelegrafMetrics()[4].Accept()
	waitFor(t, "every entry acknowledged", func() bool { return pending(t, srv) == 0 })

	srv.Do("XGROUP", "DESTROY", "metrics", "telegraf")
	waitFor(t, "the second W! line", func() bool {
		return strings.Contains(logs.String(), `created the group again at 4000-0, the last entry this consumer read`)
	})
	srv.Do("XADD", "metrics", "5000-0", "i", 4)
	acc.Wait(t, 6)
	acc.GetTelegrafMetrics()[5].Accept()
	waitFor(t, "every entry acknowledged", func() bool { return pending(t, srv) == 0 })
	acc.Stays(t, 6, 100*time.Millisecond)
	want := map[int64]int{0: 1, 1: 2, 2: 1, 3: 1, 4: 1}
	if got := handedOver(acc.GetTelegrafMetrics()); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("hand-overs of each entry %v, want %v", got, want)
	}
	if strings.Contains(logs.String(), "the key was deleted") {
		t.Fatalf("log:\n%s", logs)
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
