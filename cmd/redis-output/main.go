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
	"io"
	"os"
	"runtime"
	"time"

	// Every serializer of Telegraf, for data_format, as in Telegraf's
	// full build.
	_ "github.com/influxdata/telegraf/plugins/serializers/all"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/execd"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/logger"
	"github.com/telegraf-redis/telegraf-redis/plugins/outputs/redis"
)

func main() {
	code := run()
	execd.CloseStdio()
	os.Exit(code)
}

func run() int {
	prog := execd.New("redis-output", "outputs", "redis")
	var (
		dryRun     = flag.Bool("test", false, "read stdin and print the Redis commands it would send; connect to nothing")
		statsEvery = flag.Duration("stats_interval", 0, "log goroutines and heap on this interval (make soak)")
		logInfo    = flag.String("log_info", "stdout", `where info and debug lines go: "stdout" ([[outputs.execd]] logs them at info level), `+
			`"stderr" (it logs them as errors) or "off"`)
	)
	if code, done := execd.Parse(); done {
		return code
	}
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
	log.Info(plugin.Summary(stats))
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
