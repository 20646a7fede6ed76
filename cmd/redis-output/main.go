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
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/config"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/execd"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/logger"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/version"
	"github.com/telegraf-redis/telegraf-redis/plugins/outputs/redis"
)

func main() {
	execd.Exit(run())
}

func run() int {
	var (
		configPath = flag.String("config", "", "path to the plugin's TOML config (one [[outputs.redis]] table)")
		dryRun     = flag.Bool("test", false, "read stdin and print the Redis commands it would send; connect to nothing")
		debug      = flag.Bool("debug", false, "log debug messages")
		showVer    = flag.Bool("version", false, "print the version and exit")
		sample     = flag.Bool("sample-config", false, "print the documented sample config and exit")
		cpuProfile = flag.String("cpuprofile", "", "write a CPU profile (pprof) to this file")
		statsEvery = flag.Duration("stats_interval", 0, "log goroutines and heap on this interval (make soak)")
		logInfo    = flag.String("log_info", "stdout", `where info and debug lines go: "stdout" ([[outputs.execd]] logs them at info level), "stderr" (it logs them as errors) or "off"`)
	)
	flag.Parse()
	log := logger.New("outputs.redis")
	log.SetDebug(*debug)
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
	execd.PlainStdLog(log.StdWriter())

	plugin := redis.New()
	plugin.Log = log
	switch {
	case *showVer:
		fmt.Println(version.String("redis-output"))
		return 0
	case *sample:
		fmt.Print(plugin.SampleConfig())
		return 0
	case flag.NArg() > 0:
		log.Errorf("unexpected arguments %q", flag.Args())
		return 2
	}

	if *configPath != "" {
		if err := config.Load(*configPath, "outputs", "redis", plugin); err != nil {
			log.Errorf("%v", err)
			return 1
		}
	}
	if err := plugin.Init(); err != nil {
		log.Errorf("%v", config.WithLine(*configPath, err))
		return 1
	}

	if *cpuProfile != "" {
		stop, err := execd.CPUProfile(*cpuProfile)
		if err != nil {
			log.Errorf("-cpuprofile: %v", err)
			return 1
		}
		defer stop()
	}

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

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	log.Debugf("%s writing %s mode to %s", version.String("redis-output"), plugin.Mode, plugin.Endpoint())
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
