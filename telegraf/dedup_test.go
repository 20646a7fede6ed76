package telegraf

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/telegraftest"
)

// dedupHistoryConf is historyConf with deduplicate on: the stream gets
// each metric once, however often Kafka replays its message.
const dedupHistoryConf = historyConf + `  deduplicate = true
`

var skippedLogRE = regexp.MustCompile(`skipped (\d+) writes already in Redis \(sent before`)

// TestPipelineBuiltInNoDuplicatesIntegration: Kafka -> Telegraf (our
// output built in) -> Redis, the consumer Telegraf SIGKILLed at random
// moments while it writes, so that Kafka replays messages whose metrics
// reached Redis before their offset was committed. With deduplicate the
// history stream holds each served price once; the log states how many
// writes were sent again and skipped.
func TestPipelineBuiltInNoDuplicatesIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: runs Kafka, Telegraf and Redis")
	}
	seed := time.Now().UnixNano()
	t.Logf("kill times from seed %d", seed)
	rnd := rand.New(rand.NewPCG(uint64(seed), 22))

	p := newPipeline(t, 1, "22")
	defer p.watch.stop()
	history := filepath.Join(t.TempDir(), "history.conf")
	if err := os.WriteFile(history, []byte(dedupHistoryConf), 0o600); err != nil {
		t.Fatal(err)
	}
	start := func(name string) *telegraftest.Process {
		return telegraftest.Start(t, name, p.telegraf, slices.Concat(p.env, []string{"KAFKA_CONSUMER_GROUP=dedup"}),
			"--config", filepath.Join(p.root, "telegraf", "consumer-builtin.conf"), "--config", history, "--strict-env-handling")
	}
	xlen := func() int {
		c := p.redis.Conn()
		defer c.Close()
		n, err := redis.Int(c.Do("XLEN", "prices:history"))
		if err != nil {
			return 0
		}
		return n
	}

	var logs strings.Builder
	consumer := start("consumer-0")
	scraper := p.startTelegraf("scraper", "scraper.conf")
	steps := p.waitForSteps(3)
	p.latency(steps[len(steps)-1])
	const kills = 4
	for i := 1; i <= kills; i++ {
		before := xlen()
		waitFor(t, time.Minute, fmt.Sprintf("consumer-%d writing", i-1), func() bool { return xlen() > before })
		time.Sleep(time.Duration(rnd.IntN(1500)) * time.Millisecond)
		consumer.Kill()
		logs.WriteString(consumer.Output())
		consumer = start(fmt.Sprintf("consumer-%d", i))
	}
	before := xlen()
	waitFor(t, time.Minute, fmt.Sprintf("consumer-%d writing", kills), func() bool { return xlen() > before })
	if err := scraper.Stop(10 * time.Second); err != nil {
		t.Error(err)
	}
	served := p.servedOK()
	waitFor(t, time.Minute, "every served price in the history stream", func() bool {
		return len(missing(t, p, served)) == 0
	})
	if err := consumer.Stop(15 * time.Second); err != nil {
		t.Errorf("consumer: %v", err)
	}
	logs.WriteString(consumer.Output())

	// Entries equal in every field (name, time, tags, prices) are one
	// metric written twice.
	entries, err := redis.Values(p.redis.Conn().Do("XRANGE", "prices:history", "-", "+"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	dups := 0
	for _, e := range entries {
		ev, err := redis.Values(e, nil)
		if err != nil {
			t.Fatal(err)
		}
		kv, err := redis.StringMap(ev[1], nil)
		if err != nil {
			t.Fatal(err)
		}
		keys := make([]string, 0, len(kv))
		for k, v := range kv {
			keys = append(keys, k+"="+v)
		}
		sort.Strings(keys)
		id := strings.Join(keys, " ")
		if seen[id]++; seen[id] > 1 {
			dups++
		}
	}
	skipped := 0
	for _, m := range skippedLogRE.FindAllStringSubmatch(logs.String(), -1) {
		if k, err := strconv.Atoi(m[1]); err == nil {
			skipped += k
		}
	}
	t.Logf("%d answers served, %d SIGKILLs of the consumer Telegraf: %d stream entries, %d written twice; %d writes sent again (Kafka replays) and skipped",
		len(served), kills, len(entries), dups, skipped)
	if dups > 0 {
		t.Fatalf("%d entries written twice", dups)
	}
	if skipped == 0 {
		t.Fatalf("no write was sent again: the kills missed the moment they are for")
	}
}
