package telegraf

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/kafkatest"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/telegraftest"
)

// TestPipelineCostIntegration measures what redis-output costs the price pipeline
// (make bench-pipeline; skipped unless PIPELINE_COST is the number of
// messages): the same backlog of Telegraf JSON quote messages in Kafka is
// consumed by the consumer Telegraf of consumer.conf twice, once with
// [[outputs.execd]] and redis-output as in production, once with
// [[outputs.file]] to /dev/null in its place (Telegraf's own ceiling on
// this machine), each run timed from the start of Telegraf until the
// consumer group's committed offset reaches the end of the topic. It
// prints messages per second and the CPU seconds per million metrics of
// every process: Telegraf, redis-output, the Kafka broker, redis-server.
//
// Each process's CPU is user + system time from /proc/<pid>/stat while it
// runs (threads included, children not: rusage of an exited child would
// also do, but VmHWM of one would not, as Go starts children with
// CLONE_VM), read once the stored quote is the last message's, so that
// redis-output's work is all counted. PIPELINE_BASE=<redis-output binary>
// adds rows for that binary, alternating with ours (base, ours, base,
// ours), for an A/B comparison in one run, and PIPELINE_BASE_CONF=<a
// consumer.conf> the same for a consumer config; PIPELINE_PROFILE=<dir> writes
// our redis-output's CPU profile there.
func TestPipelineCostIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	n, err := strconv.Atoi(os.Getenv("PIPELINE_COST"))
	if err != nil || n <= 0 {
		t.Skip("PIPELINE_COST=<messages> runs it (make bench-pipeline)")
	}
	root := telegraftest.RepoRoot(t)
	tg := telegraftest.Telegraf(t)
	output := telegraftest.Command(t, "redis-output")
	if dir := os.Getenv("PIPELINE_PROFILE"); dir != "" {
		// redis-output through a wrapper that writes a CPU profile.
		wrapper := filepath.Join(t.TempDir(), "redis-output-profiled")
		script := fmt.Sprintf("#!/bin/sh\nexec %q -cpuprofile %q \"$@\"\n", output, filepath.Join(dir, "redis-output-pipeline.pprof"))
		if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil { //nolint:gosec // a script Telegraf runs: it needs its exec bits
			t.Fatal(err)
		}
		output = wrapper
	}
	srv := redistest.Start(t)
	kafka := kafkatest.Start(t)
	kafka.CreateTopic("currency.rate", 1)
	last := produce(t, kafka, n)

	consumer, err := os.ReadFile(filepath.Join(root, "telegraf", "consumer.conf"))
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(consumer, []byte("[[outputs.execd]]"))
	if i < 0 {
		t.Fatal("consumer.conf has no [[outputs.execd]]")
	}
	fileConf := filepath.Join(t.TempDir(), "consumer-file.conf")
	// The file output serializes as the execd one does: with
	// use_batch_format, one write per flush.
	file := "[[outputs.file]]\n  files = [\"/dev/null\"]\n  data_format = \"json\"\n"
	if regexp.MustCompile(`(?m)^\s*use_batch_format\s*=\s*true`).Match(consumer[i:]) {
		file += "  use_batch_format = true\n"
	}
	if err := os.WriteFile(fileConf, []byte(string(consumer[:i])+file), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"KAFKA_BROKERS=" + kafka.Addr,
		"REDIS_ADDRESS=" + srv.Addr,
		"REDIS_OUTPUT_CONFIG=" + filepath.Join(root, "telegraf", "redis-output.conf"),
	}
	type result struct {
		name          string
		wall          time.Duration
		cpu           map[string]float64 // seconds
		pipelineTotal float64
	}
	consumerConf := filepath.Join(root, "telegraf", "consumer.conf")
	type run struct{ name, conf, bin string }
	runs := []run{{"file", fileConf, ""}, {"redis-output", consumerConf, output}}
	if base := os.Getenv("PIPELINE_BASE"); base != "" {
		b := run{"redis-output (PIPELINE_BASE)", consumerConf, base}
		runs = []run{runs[0], b, runs[1], b, runs[1]}
	}
	if base := os.Getenv("PIPELINE_BASE_CONF"); base != "" {
		b := run{"redis-output (PIPELINE_BASE_CONF)", base, output}
		runs = []run{runs[0], b, runs[1], b, runs[1]}
	}
	results := make([]result, 0, len(runs))
	for i, c := range runs {
		group := fmt.Sprintf("cost-%d", i)
		if _, err := srv.Conn().Do("FLUSHALL"); err != nil { // no document from the run before
			t.Fatal(err)
		}
		before := map[string]float64{"kafka": kafkaCPU(t, kafka), "redis-server": redisCPU(t, srv)}
		start := time.Now()
		runEnv := slices.Concat(env, []string{"KAFKA_CONSUMER_GROUP=" + group, "REDIS_OUTPUT_BIN=" + c.bin,
			"REDIS_SPOOL_DIR=" + filepath.Join(t.TempDir(), "spool")}) // on, as in production
		p := telegraftest.Start(t, "consumer-"+c.name, tg, runEnv, "--config", c.conf, "--strict-env-handling")
		waitCommitted(t, kafka, group, int64(n))
		wall := time.Since(start)
		if c.bin != "" {
			waitLastQuote(t, srv, last)
		}
		cpu := map[string]float64{
			"telegraf":     procCPU(t, p.Pid()),
			"kafka":        kafkaCPU(t, kafka) - before["kafka"],
			"redis-server": redisCPU(t, srv) - before["redis-server"],
		}
		for _, child := range p.Children() {
			cpu["redis-output"] += procCPU(t, child)
		}
		if err := p.Stop(10 * time.Second); err != nil {
			t.Logf("%s: %v", c.name, err)
		}
		total := 0.0
		for _, v := range cpu {
			total += v
		}
		results = append(results, result{c.name, wall, cpu, total})
	}
	per := func(s float64) float64 { return s / float64(n) * 1e6 }
	fmt.Printf("\npipeline cost: %d messages (10 prices each) from Kafka through the consumer Telegraf\n", n)
	fmt.Println("| consumer output | messages/s | CPU s per million: Telegraf | redis-output | Kafka | redis-server | all | redis-output share |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range results {
		fmt.Printf("| %s | %.0f | %.2f | %.2f | %.2f | %.2f | %.2f | %.1f%% |\n", r.name, float64(n)/r.wall.Seconds(),
			per(r.cpu["telegraf"]), per(r.cpu["redis-output"]), per(r.cpu["kafka"]), per(r.cpu["redis-server"]),
			per(r.pipelineTotal), 100*r.cpu["redis-output"]/r.pipelineTotal)
	}
}

// produce writes n quote messages as the scraper Telegraf writes them, in
// chunks so the producer's memory stays small, and returns the timestamp
// of the last one.
func produce(t *testing.T, kafka *kafkatest.Broker, n int) int64 {
	t.Helper()
	ids := strings.Split(coins, ",")
	// A second apart, the newest an hour ago: recorded data, none of it
	// ahead of the clock (max_future would refuse it).
	first := time.Now().Unix() - int64(n) - 3600
	for from := 0; from < n; from += 20000 {
		var values [][]byte
		for i := from; i < min(n, from+20000); i++ {
			fields := map[string]float64{}
			for j, id := range ids {
				fields[id+"_usd"] = float64((i*31+j*7)%10000000) / 100
			}
			b, err := json.Marshal(map[string]any{"fields": fields, "name": "http", "tags": map[string]string{}, "timestamp": first + int64(i)})
			if err != nil {
				t.Fatal(err)
			}
			values = append(values, b)
		}
		kafka.Produce("currency.rate", values...)
	}
	return first + int64(n) - 1
}

// waitCommitted waits until the group has committed offset want.
func waitCommitted(t *testing.T, kafka *kafkatest.Broker, group string, want int64) {
	admin, err := sarama.NewClusterAdmin([]string{kafka.Addr}, kafkatest.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		resp, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{"currency.rate": {0}})
		if err == nil {
			if b := resp.GetBlock("currency.rate", 0); b != nil && b.Offset >= want {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("group %s did not reach offset %d", group, want)
}

// waitLastQuote waits until the stored quote is the last message's: the
// offsets are committed once Telegraf has handed the messages to
// redis-output, which may still be writing them.
func waitLastQuote(t *testing.T, srv *redistest.Server, last int64) {
	c := srv.Conn()
	deadline := time.Now().Add(30 * time.Second)
	var doc []byte
	var err error
	for time.Now().Before(deadline) {
		doc, err = redis.Bytes(c.Do("GET", quoteKey))
		var d struct{ Timestamp int64 }
		if err == nil && json.Unmarshal(doc, &d) == nil && d.Timestamp == last {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("quote %s: not the last message's within 30s (%v)", doc, err)
}

// procCPU is a process's user + system CPU seconds so far.
func procCPU(t *testing.T, pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, err := strconv.ParseFloat(f[11], 64)
	if err != nil {
		t.Fatalf("/proc/%d/stat: utime: %v", pid, err)
	}
	stime, err := strconv.ParseFloat(f[12], 64)
	if err != nil {
		t.Fatalf("/proc/%d/stat: stime: %v", pid, err)
	}
	return (utime + stime) / 100 // USER_HZ
}

func kafkaCPU(t *testing.T, kafka *kafkatest.Broker) float64 {
	data, err := os.ReadFile(filepath.Join(kafka.Dir, "kafka.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	return procCPU(t, pid)
}

func redisCPU(t *testing.T, srv *redistest.Server) float64 {
	info, err := redis.String(srv.Conn().Do("INFO", "server"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(l, "process_id:"); ok {
			pid, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("INFO process_id: %v", err)
			}
			return procCPU(t, pid)
		}
	}
	t.Fatal("no process_id in INFO")
	return 0
}
