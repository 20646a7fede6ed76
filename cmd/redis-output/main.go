// Command redis-output is the [[outputs.redis]] execd plugin: run it from
// Telegraf's [[outputs.execd]]; it reads metrics on stdin and writes them to
// Redis.
//
//	[[outputs.execd]]
//	  command = ["/usr/local/bin/redis-output", "-config", "/etc/telegraf/redis-output.conf"]
//	  data_format = "json"
//	  restart_delay = "1s"
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/execd"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/logger"
	"github.com/telegraf-redis/telegraf-redis/plugins/outputs/redis"
	"github.com/telegraf-redis/telegraf-redis/plugins/outputs/redis/quote"
)

func main() {
	execd.Exit(run())
}

func run() int {
	prog := execd.New("redis-output", "outputs", "redis")
	var (
		dryRun     = flag.Bool("test", false, "read stdin and print the Redis commands it would send; connect to nothing")
		statsEvery = flag.Duration("stats_interval", 0, "log goroutines and heap on this interval (make soak)")
		logInfo    = flag.String("log_info", "stdout", `where info and debug lines go: "stdout" ([[outputs.execd]] logs them at info level), "stderr" (it logs them as errors) or "off"`)
	)
	flag.Parse()
	log := prog.Log
	if *dryRun && *logInfo == "stdout" {
		*logInfo = "stderr" // stdout holds the commands
	}
	switch *logInfo {
	case "stdout":
		log.SetInfoWriter(os.Stdout)
	case "stderr":
	case "off":
		log.SetInfoWriter(io.Discard)
	default:
		log.Errorf(`-log_info %q: want "stdout", "stderr" or "off"`, *logInfo)
		return 2
	}

	plugin := redis.New()
	plugin.Log = log
	if code, done := prog.Start(plugin); done {
		return code
	}
	defer prog.Close()

	stats := &redis.Stats{}
	if *dryRun {
		err := plugin.DryRun(os.Stdin, os.Stdout, stats)
		log.Infof("read %d lines, %d metrics; would send %d commands; rejected %d lines",
			stats.Lines.Load(), stats.Metrics.Load(), stats.Updates.Load(), stats.Rejected.Load())
		if err != nil {
			log.Errorf("%v", err)
			return 1
		}
		return 0
	}

	if *statsEvery > 0 {
		go logRuntime(log, *statsEvery)
	}

	ctx, stop := prog.Signals()
	defer stop()
	log.Debugf("%s writing %s mode to %s", prog.Version(), plugin.Mode, plugin.Endpoint())
	err := plugin.Run(ctx, os.Stdin, stats)
	summary(log, stats, plugin.Mode == "quote")
	if err != nil {
		if !errors.Is(err, redis.ErrUnwritten) && !errors.Is(err, redis.ErrInput) { // those are logged already
			log.Errorf("%v", err)
		}
		return 1
	}
	return 0
}

// logRuntime reports what a soak run watches: goroutines and heap stay
// flat when nothing leaks.
func logRuntime(log *logger.Logger, every time.Duration) {
	for range time.Tick(every) {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		log.Infof("runtime: goroutines=%d heap_inuse_mib=%.1f", runtime.NumGoroutine(), float64(ms.HeapInuse)/(1<<20))
	}
}

func summary(log *logger.Logger, s *redis.Stats, quoteMode bool) {
	line := fmt.Sprintf("read %d lines, %d metrics; wrote %d metrics in %d updates; rejected %d lines",
		s.Lines.Load(), s.Metrics.Load(), s.Written.Load(), s.Updates.Load(), s.Rejected.Load())
	if quoteMode {
		line += quoteSummary(&s.Quote)
	}
	log.Info(line + unwritten(s))
}

// quoteSummary says what quote mode did not write, and why: every metric
// read is written, superseded, refused or without a price.
func quoteSummary(q *redis.QuoteStats) string {
	refused := make([]string, 0, len(q.Prices))
	total := int64(0)
	for r := range q.Prices {
		n := q.Prices[r].Load()
		total += n
		refused = append(refused, fmt.Sprintf("%d %s", n, quote.Reason(r)))
	}
	return fmt.Sprintf("; quote: %d metrics superseded by newer prices before a write, %d refused, %d without a price; "+
		"refused %d prices (%s); %d coins aged out; %d stored entries repaired",
		q.Superseded.Load(), q.Refused.Load(), q.NoPrice.Load(), total, strings.Join(refused, ", "),
		q.AgedOut.Load(), q.Repaired.Load())
}

// unwritten adds, after a stop whose grace ran out, what was certainly
// not written and what was sent without a reply (it may be in Redis);
// with a spool, the lines read that it had no room for.
func unwritten(s *redis.Stats) string {
	var b strings.Builder
	if s.NotWritten.Load() != 0 || s.Unknown.Load() != 0 {
		fmt.Fprintf(&b, "; not written %d metrics, unknown %d (sent, no reply)", s.NotWritten.Load(), s.Unknown.Load())
	}
	if n := s.Unspooled.Load(); n != 0 {
		fmt.Fprintf(&b, "; not written %d lines read from stdin and not spooled (spool_dir had no room)", n)
	}
	return b.String()
}
