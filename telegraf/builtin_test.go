package telegraf

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/telegraftest"
)

// historyConf adds, for the test only, a second built-in output keeping
// every metric in a stream: the quote keeps only each coin's latest price,
// the stream shows that every served price reached Redis. Telegraf marks a
// Kafka message only once every output has delivered it.
const historyConf = `
[[outputs.redis]]
  startup_error_behavior = "retry"
  address = "${REDIS_ADDRESS}"
  mode = "stream"
  key = "prices:history"
`

// TestPipelineBuiltInSurvivesSIGKILLsIntegration runs the pipeline with our output
// built into the consumer Telegraf (consumer-builtin.conf: no execd, no
// spool) and SIGKILLs that Telegraf at random moments while it writes,
// again and again, once with Redis going down as well. Telegraf holds each
// metric until Redis has it and kafka_consumer commits an offset only
// after that, so every served price reaches Redis (at least once) and the
// quote ends with the last one, never having gone back in time.
func TestPipelineBuiltInSurvivesSIGKILLsIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	seed := time.Now().UnixNano()
	t.Logf("kill times from seed %d", seed)
	rnd := rand.New(rand.NewPCG(uint64(seed), 0))

	p := newPipeline(t, 1, "21")
	defer p.watch.stop()
	history := filepath.Join(t.TempDir(), "history.conf")
	if err := os.WriteFile(history, []byte(historyConf), 0o600); err != nil {
		t.Fatal(err)
	}
	start := func(name string) *telegraftest.Process {
		return telegraftest.Start(t, name, p.telegraf, slices.Concat(p.env, []string{"KAFKA_CONSUMER_GROUP=builtin"}),
			"--config", filepath.Join(p.root, "telegraf", "consumer-builtin.conf"), "--config", history, "--strict-env-handling")
	}

	consumer := start("consumer-0")
	scraper := p.startTelegraf("scraper", "scraper.conf")
	steps := p.waitForSteps(3)
	p.latency(steps[len(steps)-1]) // flowing before the first kill

	xlen := func() int {
		c := p.redis.Conn()
		defer c.Close()
		n, err := redis.Int(c.Do("XLEN", "prices:history"))
		if err != nil {
			return 0 // Redis away or restarting: nothing written yet
		}
		return n
	}
	const kills = 6
	for i := 1; i <= kills; i++ {
		// Once this consumer writes (a new one first waits for the group
		// to drop the killed one, 10 s, then writes the backlog), kill it
		// at a random moment: in the backlog, between two writes, between
		// a write and the offset commit that follows it within a second.
		before := xlen()
		waitFor(t, time.Minute, fmt.Sprintf("consumer-%d writing", i-1), func() bool { return xlen() > before })
		time.Sleep(time.Duration(rnd.IntN(2500)) * time.Millisecond)
		if i == kills/2 {
			// Redis goes away under the writing consumer: its writes
			// fail, Telegraf keeps the metrics and commits nothing; it is
			// killed with them in its buffer, and the next one starts
			// with Redis still away.
			p.redis.Kill()
			p.watch.pause()
			time.Sleep(time.Duration(1000+rnd.IntN(3000)) * time.Millisecond)
			consumer.Kill()
			consumer = start(fmt.Sprintf("consumer-%d", i))
			time.Sleep(time.Duration(rnd.IntN(8000)) * time.Millisecond)
			p.redis.Restart()
			p.watch.resume()
			continue
		}
		consumer.Kill()
		consumer = start(fmt.Sprintf("consumer-%d", i))
	}

	// The last consumer writes too before the prices stop.
	before := xlen()
	waitFor(t, time.Minute, fmt.Sprintf("consumer-%d writing", kills), func() bool { return xlen() > before })
	if err := scraper.Stop(10 * time.Second); err != nil {
		t.Error(err)
	}
	served := p.servedOK()
	last := served[len(served)-1]
	// The last consumer joins the group once the killed one's session
	// (10 s) has expired: then the backlog arrives.
	waitFor(t, time.Minute, "the last served prices in the quote", func() bool {
		_, ok := p.watch.firstSeen([]map[string]float64{last.prices()})
		return ok
	})
	waitFor(t, time.Minute, "every served price in the history stream", func() bool {
		return len(missing(t, p, served)) == 0
	})
	if err := consumer.Stop(15 * time.Second); err != nil {
		t.Errorf("consumer: %v", err)
	}
	if errs := errorLines(consumer.Output()); len(errs) > 0 {
		t.Errorf("the last consumer, which ran and stopped normally, logged errors:\n%s", strings.Join(errs, "\n"))
	}
	p.watch.stop()
	if problems := p.watch.problems(); len(problems) > 0 {
		t.Fatalf("the quote went back in time:\n%s", strings.Join(problems, "\n"))
	}
	final := p.watch.seen[len(p.watch.seen)-1].prices
	if !equalPrices(final, last.prices()) {
		t.Fatalf("the quote ends with %v, the last served prices are %v", final, last.prices())
	}
	entries, err := redis.Int(p.redis.Conn().Do("XLEN", "prices:history"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d answers served, %d SIGKILLs of the consumer Telegraf (one with Redis down): every price reached Redis "+
		"(%d stream entries: duplicates are the replays of uncommitted offsets); %d quote states watched",
		len(served), kills, entries, p.watch.states())
}

// missing lists the served answers whose prices are in no entry of the
// history stream.
func missing(t *testing.T, p *pipeline, served []served) []int {
	t.Helper()
	c := p.redis.Conn()
	defer c.Close()
	entries, err := redis.Values(c.Do("XRANGE", "prices:history", "-", "+"))
	if err != nil {
		return []int{-1}
	}
	have := make([]map[string]float64, 0, len(entries))
	for _, e := range entries {
		ev, err := redis.Values(e, nil)
		if err != nil || len(ev) < 2 {
			t.Fatalf("XRANGE entry %v: %v", e, err)
		}
		kv, err := redis.StringMap(ev[1], nil)
		if err != nil {
			t.Fatalf("XRANGE entry %v: %v", e, err)
		}
		prices := map[string]float64{}
		for k, v := range kv {
			var f float64
			if _, err := fmt.Sscan(v, &f); err == nil && strings.HasPrefix(k, "fields_") && strings.HasSuffix(k, "_usd") {
				prices[strings.TrimSuffix(strings.TrimPrefix(k, "fields_"), "_usd")] = f
			}
		}
		have = append(have, prices)
	}
	var out []int
	for _, s := range served {
		found := false
		for _, h := range have {
			if equalPrices(h, s.prices()) {
				found = true
				break
			}
		}
		if !found {
			out = append(out, s.Step)
		}
	}
	return out
}
