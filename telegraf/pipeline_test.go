// Package telegraf holds the pipeline's Telegraf configs; its test runs them
// end to end with the real programs only: the CoinGecko replay server, the
// scraper Telegraf, Apache Kafka in KRaft mode, the consumer Telegraf with
// bin/redis-output under [[outputs.execd]], and redis-server.
package telegraf

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/kafkatest"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/telegraftest"
)

const (
	coins    = "bitcoin,ethereum,ripple,cardano,binancecoin,solana,dogecoin,chainlink,near,decentraland"
	quoteKey = "coingecko:rate:usd"
	stateKey = "{coingecko:rate:usd}:prices"
	// A price must be in Redis this long after it was served, at most.
	// The configs aim at well under 2 s (see README); this bound only
	// catches a pipeline that is stuck.
	maxLatency = 10 * time.Second
)

// served is one /simple/price answer of the replay server.
type served struct {
	Seq    int                           `json:"seq"`
	Step   int                           `json:"step"`
	Time   time.Time                     `json:"time"`
	Status int                           `json:"status"`
	Body   map[string]map[string]float64 `json:"body"`
}

func (s served) prices() map[string]float64 {
	out := map[string]float64{}
	for id, q := range s.Body {
		out[id] = q["usd"]
	}
	return out
}

type pipeline struct {
	t        *testing.T
	root     string
	telegraf string
	env      []string
	replay   string // base URL
	redis    *redistest.Server
	kafka    *kafkatest.Broker
	watch    *watcher
}

func TestPipelineEndToEndIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	spoolDir := filepath.Join(t.TempDir(), "spool")
	p := newPipeline(t, 1, "42", "REDIS_SPOOL_DIR="+spoolDir)
	defer p.watch.stop()

	consumer := p.startTelegraf("consumer", "consumer.conf", "KAFKA_CONSUMER_GROUP=currency_rate_metrics")
	scraper := p.startTelegraf("scraper", "scraper.conf")

	// 1. Prices flow: every served answer reaches Redis, exactly.
	steps := p.waitForSteps(6)
	latencies := make([]time.Duration, 0, len(steps))
	for _, s := range steps {
		latencies = append(latencies, p.latency(s))
	}
	p.checkKafka(steps)

	// 2. The consumer Telegraf dies (with its redis-output) and comes back
	// in a new consumer group, which replays the topic from the oldest
	// offset: the quote must not go back in time meanwhile.
	consumer.Kill()
	p.waitForSteps(len(steps) + 1) // a price served while no consumer runs
	consumer = p.startTelegraf("consumer-replay", "consumer.conf", "KAFKA_CONSUMER_GROUP=replay-after-kill")
	steps = p.waitForSteps(len(steps) + 3)
	p.latency(steps[len(steps)-1])

	// 3. Redis dies (SIGKILL; AOF on) and comes back while prices keep
	// coming: redis-output holds them, retries, and nothing is lost.
	p.redis.Kill()
	p.watch.pause()
	outages := strings.Count(consumer.Output(), "is unavailable")
	p.waitForOutput(consumer, "redis-output seeing Redis away", func(out string) bool { return strings.Count(out, "is unavailable") > outages })
	p.waitForSteps(len(p.servedOK()) + 2) // prices served while Redis is away
	p.redis.Restart()
	p.watch.resume()
	steps = p.waitForSteps(len(steps) + 3)
	p.latency(steps[len(steps)-1])

	// 4. With Redis away, the last prices reach redis-output and wait
	// there; the scraper stops; redis-output is SIGKILLed. Kafka has
	// committed those messages (Telegraf delivered them to our stdin), so
	// only redis-output's spool has them: Telegraf restarts it, it
	// replays the spool, and when Redis is back the last price arrives.
	// (Without a spool this phase fails: checked.)
	p.redis.Kill()
	p.watch.pause()
	outages = strings.Count(consumer.Output(), "is unavailable")
	p.waitForOutput(consumer, "redis-output seeing Redis away", func(out string) bool { return strings.Count(out, "is unavailable") > outages })
	p.waitForSteps(len(p.servedOK()) + 2) // prices served while Redis is away
	if err := scraper.Stop(10 * time.Second); err != nil {
		t.Error(err)
	}
	// The consumer's flush hands the last prices to redis-output, which
	// spools them: the kill comes once they are on disk.
	lastServed := p.servedOK()
	p.waitForSpooled(spoolDir, lastServed[len(lastServed)-1])
	children := consumer.Children()
	if len(children) != 1 {
		t.Fatalf("the consumer has %d children", len(children))
	}
	if err := syscall.Kill(children[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.redis.Restart()
	p.watch.resume()
	steps = p.servedOK()
	last := steps[len(steps)-1]
	p.latency(last)
	if !strings.Contains(consumer.Output(), "replaying") {
		t.Errorf("redis-output did not replay its spool:\n%s", consumer.Output())
	}
	if err := consumer.Stop(15 * time.Second); err != nil {
		t.Errorf("consumer: %v", err)
	}
	p.watch.stop()
	if problems := p.watch.problems(); len(problems) > 0 {
		t.Fatalf("the quote went back in time:\n%s", strings.Join(problems, "\n"))
	}

	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	t.Logf("served %d answers; latency from the replay server's answer to the price in Redis: "+
		"median %s, worst %s (phase 1, %d answers); %d quote states watched",
		len(steps), latencies[len(latencies)/2], latencies[len(latencies)-1], len(latencies), p.watch.states())
}

// waitForOutput polls a Telegraf's output until cond holds.
func (p *pipeline) waitForOutput(tg *telegraftest.Process, what string, cond func(string) bool) {
	p.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond(tg.Output()) {
		if time.Now().After(deadline) {
			p.t.Fatalf("timed out waiting for %s:\n%s", what, tg.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitForSpooled polls redis-output's spool until one line of it holds
// every price of the served answer s, as the consumer's JSON has them.
func (p *pipeline) waitForSpooled(dir string, s served) {
	p.t.Helper()
	prices := s.prices()
	want := make([]string, 0, len(prices))
	for id, price := range prices {
		v, err := json.Marshal(price)
		if err != nil {
			p.t.Fatal(err)
		}
		want = append(want, fmt.Sprintf(`"fields_%s_usd":%s`, id, v))
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		segs, err := filepath.Glob(filepath.Join(dir, "seg-*.log"))
		if err != nil {
			p.t.Fatal(err)
		}
		for _, seg := range segs {
			data, err := os.ReadFile(seg)
			if err != nil {
				continue // removed since the Glob: the spool dropped what Redis has
			}
			for _, line := range strings.Split(string(data), "\n") {
				if containsAll(line, want) {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("answer %d never reached the spool %s (want %q)", s.Seq, dir, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// newPipeline starts what both Telegrafs need: redis-server (AOF, fsync
// always), Kafka with currency.rate in the given partitions, the replay
// server walking from seed, and the watcher; env is added to the
// Telegrafs' environment.
func newPipeline(t *testing.T, partitions int, seed string, env ...string) *pipeline {
	p := &pipeline{t: t, root: telegraftest.RepoRoot(t)}
	p.telegraf = telegraftest.Telegraf(t)
	output := telegraftest.Command(t, "redis-output")
	replayBin := telegraftest.Command(t, "coingecko-replay")

	p.redis = redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always")
	p.kafka = kafkatest.Start(t, kafkatest.WithPartitions(partitions))
	p.kafka.CreateTopic("currency.rate", partitions)
	replay := telegraftest.Start(t, "coingecko-replay", replayBin, nil, "-seed", seed, "-ids", coins)
	p.replay = waitForListen(t, replay)
	p.env = append([]string{
		"KAFKA_BROKERS=" + p.kafka.Addr,
		"COINGECKO_URL=" + p.replay + "/api/v3/simple/price?ids=" + coins + "&vs_currencies=usd&precision=18",
		"SCRAPE_INTERVAL=1s",
		"REDIS_ADDRESS=" + p.redis.Addr,
		"REDIS_OUTPUT_BIN=" + output,
		"REDIS_OUTPUT_CONFIG=" + filepath.Join(p.root, "telegraf", "redis-output.conf"),
	}, env...)
	p.watch = newWatcher(p.redis.Addr)
	return p
}

func (p *pipeline) startTelegraf(name, conf string, env ...string) *telegraftest.Process {
	return telegraftest.Start(p.t, name, p.telegraf, slices.Concat(p.env, env),
		"--config", filepath.Join(p.root, "telegraf", conf), "--strict-env-handling")
}

var listening = regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)

func waitForListen(t *testing.T, p *telegraftest.Process) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := listening.FindStringSubmatch(p.Output()); m != nil {
			return m[1]
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("coingecko-replay did not say where it listens:\n%s", p.Output())
	return ""
}

// servedOK returns the answers with prices served so far.
func (p *pipeline) servedOK() []served {
	p.t.Helper()
	resp, err := http.Get(p.replay + "/replay/served")
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		p.t.Fatalf("served log: %v", err)
	}
	var all []served
	if err := json.Unmarshal(raw, &all); err != nil {
		p.t.Fatalf("served log: %v: %s", err, raw)
	}
	var ok []served
	for _, s := range all {
		if s.Status == http.StatusOK {
			ok = append(ok, s)
		}
	}
	return ok
}

func (p *pipeline) waitForSteps(n int) []served {
	p.t.Helper()
	deadline := time.Now().Add(time.Duration(n)*2*time.Second + 30*time.Second)
	for {
		steps := p.servedOK()
		if len(steps) >= n {
			return steps[:n]
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("only %d of %d answers served", len(steps), n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkKafka reads the topic back with an independent client: one message
// per scrape, with the prices as served.
func (p *pipeline) checkKafka(steps []served) {
	p.t.Helper()
	msgs := p.kafka.ReadAll("currency.rate", len(steps), 30*time.Second)
	for i, s := range steps {
		var m struct {
			Fields map[string]float64 `json:"fields"`
			Name   string             `json:"name"`
		}
		if err := json.Unmarshal(msgs[i], &m); err != nil {
			p.t.Fatalf("message %d: %v: %s", i, err, msgs[i])
		}
		want := s.prices()
		if len(m.Fields) != len(want) {
			p.t.Fatalf("message %d has %d fields, served %d prices: %s", i, len(m.Fields), len(want), msgs[i])
		}
		for id, price := range want {
			if got, ok := m.Fields[id+"_usd"]; !ok || got != price {
				p.t.Fatalf("message %d: %s_usd = %v, served %v", i, id, got, price)
			}
		}
	}
}

// watcher polls the quote and the per-coin state all along, remembering
// when each distinct document was first seen and whether any coin's time
// ever went backwards.
type watcher struct {
	addr string

	mu      sync.Mutex
	seen    []sighting
	last    map[string]string // coin -> newest order key seen
	lastT   int64
	bad     []string
	paused  bool
	done    chan struct{}
	stopped chan struct{}
}

type sighting struct {
	at     time.Time
	prices map[string]float64
}

func newWatcher(addr string) *watcher {
	w := &watcher{addr: addr, last: map[string]string{}, done: make(chan struct{}), stopped: make(chan struct{})}
	go w.run()
	return w
}

func (w *watcher) run() {
	defer close(w.stopped)
	var conn redis.Conn
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-w.done:
			if conn != nil {
				conn.Close()
			}
			return
		case <-tick.C:
		}
		w.mu.Lock()
		paused := w.paused
		w.mu.Unlock()
		if paused {
			continue
		}
		if conn == nil {
			c, err := redis.Dial("tcp", w.addr, redis.DialConnectTimeout(time.Second), redis.DialReadTimeout(time.Second))
			if err != nil {
				continue
			}
			conn = c
		}
		// One MULTI so the document and the state are read together.
		err := conn.Send("MULTI")
		if err == nil {
			err = conn.Send("GET", quoteKey)
		}
		if err == nil {
			err = conn.Send("HGETALL", stateKey)
		}
		var reply []interface{}
		if err == nil {
			reply, err = redis.Values(conn.Do("EXEC"))
		}
		if err != nil {
			conn.Close()
			conn = nil
			continue
		}
		w.observe(time.Now(), reply)
	}
}

func (w *watcher) observe(at time.Time, reply []interface{}) {
	doc, err := redis.Bytes(reply[0], nil)
	if err != nil {
		return // no quote yet
	}
	state, stateErr := redis.StringMap(reply[1], nil)
	var d struct {
		Timestamp int64 `json:"timestamp"`
		Prices    []struct {
			ID    string      `json:"id"`
			Price json.Number `json:"price"`
		} `json:"prices"`
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if stateErr != nil {
		w.bad = append(w.bad, fmt.Sprintf("the per-coin state %s: %v", stateKey, stateErr))
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		w.bad = append(w.bad, fmt.Sprintf("document is not JSON: %s", doc))
		return
	}
	if d.Timestamp < w.lastT {
		w.bad = append(w.bad, fmt.Sprintf("document timestamp went from %d to %d", w.lastT, d.Timestamp))
	}
	w.lastT = d.Timestamp
	for coin, entry := range state {
		order := entry[:20]
		if prev, ok := w.last[coin]; ok && order < prev {
			w.bad = append(w.bad, fmt.Sprintf("%s went back from %s to %s", coin, prev, order))
		}
		w.last[coin] = order
	}
	prices := map[string]float64{}
	for _, p := range d.Prices {
		f, err := p.Price.Float64()
		if err != nil || strings.ContainsAny(string(p.Price), "eE") {
			w.bad = append(w.bad, fmt.Sprintf("price %s=%q is not a plain decimal", p.ID, p.Price))
		}
		prices[p.ID] = f
	}
	if n := len(w.seen); n == 0 || !equalPrices(w.seen[n-1].prices, prices) {
		w.seen = append(w.seen, sighting{at: at, prices: prices})
	}
}

func equalPrices(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// latency waits until the served prices, or those of a later answer, are
// the quote's, and returns how long after serving that was first seen. A
// later answer counts because answers that reach the consumer in one batch
// (a backlog after a restart) are written as one update: the older prices
// were superseded, not lost.
func (p *pipeline) latency(s served) time.Duration {
	p.t.Helper()
	deadline := time.Now().Add(maxLatency)
	for {
		var candidates []map[string]float64
		for _, later := range p.servedOK() {
			if later.Seq >= s.Seq {
				candidates = append(candidates, later.prices())
			}
		}
		if at, ok := p.watch.firstSeen(candidates); ok {
			return at.Sub(s.Time)
		}
		if time.Now().After(deadline) && time.Since(s.Time) > maxLatency {
			p.t.Fatalf("answer %d (served %s) not in Redis after %s", s.Step, s.Time.Format(time.RFC3339Nano), maxLatency)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// firstSeen is when the quote first held any of the price sets.
func (w *watcher) firstSeen(sets []map[string]float64) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, seen := range w.seen {
		for _, want := range sets {
			if equalPrices(seen.prices, want) {
				return seen.at, true
			}
		}
	}
	return time.Time{}, false
}

func (w *watcher) pause()  { w.mu.Lock(); w.paused = true; w.mu.Unlock() }
func (w *watcher) resume() { w.mu.Lock(); w.paused = false; w.mu.Unlock() }

func (w *watcher) stop() {
	select {
	case <-w.done:
	default:
		close(w.done)
	}
	<-w.stopped
}

func (w *watcher) problems() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.bad...)
}

func (w *watcher) states() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.seen)
}

// TestPipelineTwoConsumersSixPartitionsIntegration: currency.rate has six partitions
// and two consumer Telegrafs share the group, each with its own
// redis-output writing the same quote key. One is SIGKILLed: the group
// rebalances, the survivor reads the dead one's partitions (from their
// last committed offsets, so some messages come again), and the quote
// stays correct and never goes back in time.
func TestPipelineTwoConsumersSixPartitionsIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	p := newPipeline(t, 6, "7", "KAFKA_CONSUMER_GROUP=currency_rate_metrics")
	defer p.watch.stop()

	// Each redis-output its own spool (redis-output.conf spools by default).
	first := p.startTelegraf("consumer-1", "consumer.conf", "REDIS_SPOOL_DIR="+filepath.Join(t.TempDir(), "spool-1"))
	second := p.startTelegraf("consumer-2", "consumer.conf", "REDIS_SPOOL_DIR="+filepath.Join(t.TempDir(), "spool-2"))
	scraper := p.startTelegraf("scraper", "scraper.conf")

	steps := p.waitForSteps(8)
	p.latency(steps[len(steps)-1])
	partitions := map[int32]bool{}
	for _, m := range p.kafka.ReadMessages("currency.rate", len(steps), 30*time.Second) {
		partitions[m.Partition] = true
	}
	if len(partitions) < 2 {
		t.Fatalf("the scrapes went to %d partition(s); the test needs them spread", len(partitions))
	}

	first.Kill()
	steps = p.waitForSteps(len(steps) + 8)
	p.latency(steps[len(steps)-1])

	if err := scraper.Stop(10 * time.Second); err != nil {
		t.Error(err)
	}
	steps = p.servedOK()
	p.latency(steps[len(steps)-1])
	if err := second.Stop(15 * time.Second); err != nil {
		t.Errorf("consumer-2: %v", err)
	}
	p.watch.stop()
	if problems := p.watch.problems(); len(problems) > 0 {
		t.Fatalf("the quote went back in time:\n%s", strings.Join(problems, "\n"))
	}
	t.Logf("%d answers over %d partitions, two consumers then one: the quote never went back (%d states watched)",
		len(steps), len(partitions), p.watch.states())
}
