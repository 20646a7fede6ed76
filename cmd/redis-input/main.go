// Command redis-input is the [[inputs.redis_consumer]] execd plugin: run it
// from Telegraf's [[inputs.execd]]; it reads from Redis and writes line
// protocol on stdout.
//
//	[[inputs.execd]]
//	  command = ["/usr/local/bin/redis-input", "-config", "/etc/telegraf/redis-input.conf"]
//	  signal = "STDIN"     # quote and keys modes; "none" for subscribe and stream
//	  restart_delay = "1s"
//	  data_format = "influx"
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/config"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/execd"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/logger"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/version"
	"github.com/telegraf-redis/telegraf-redis/plugins/inputs/redis_consumer"
)

func main() {
	execd.Exit(run())
}

func run() int {
	var (
		configPath = flag.String("config", "", "path to the plugin's TOML config (one [[inputs.redis_consumer]] table)")
		poll       = flag.Duration("poll_interval", 0, "gather on this interval as well as on each line on stdin (quote and keys modes; 0: stdin only)")
		once       = flag.Bool("once", false, "gather once (or read one stream batch, one message), print it and exit")
		debug      = flag.Bool("debug", false, "log debug messages")
		showVer    = flag.Bool("version", false, "print the version and exit")
		sample     = flag.Bool("sample-config", false, "print the documented sample config and exit")
		cpuProfile = flag.String("cpuprofile", "", "write a CPU profile (pprof) to this file")
	)
	flag.Parse()
	log := logger.New("inputs.redis_consumer")
	log.SetDebug(*debug)
	execd.PlainStdLog(log.StdWriter())

	plugin := redis_consumer.New()
	plugin.Log = log
	switch {
	case *showVer:
		fmt.Println(version.String("redis-input"))
		return 0
	case *sample:
		fmt.Print(plugin.SampleConfig())
		return 0
	case flag.NArg() > 0:
		log.Errorf("unexpected arguments %q", flag.Args())
		return 2
	case *poll < 0:
		log.Errorf("-poll_interval must not be negative")
		return 2
	}

	if *configPath != "" {
		if err := config.Load(*configPath, "inputs", "redis_consumer", plugin); err != nil {
			log.Errorf("%v", err)
			return 1
		}
	}
	if err := plugin.Init(); err != nil {
		log.Errorf("%v", config.WithLine(*configPath, err))
		return 1
	}

	if *poll > 0 && (plugin.Mode == "subscribe" || plugin.Mode == "stream") {
		log.Warnf("-poll_interval is not used in %s mode: metrics are written as they come", plugin.Mode)
	}

	if *cpuProfile != "" {
		stop, err := execd.CPUProfile(*cpuProfile)
		if err != nil {
			log.Errorf("-cpuprofile: %v", err)
			return 1
		}
		defer stop()
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	// The other values of execd's signal option ask for a gather; left to
	// Go's defaults, SIGHUP and SIGUSR1 would end the process.
	gather := make(chan os.Signal, 1)
	signal.Notify(gather, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2)

	log.Debugf("%s reading %s mode from %s", version.String("redis-input"), plugin.Mode, plugin.Endpoint())
	err := plugin.Run(ctx, os.Stdin, os.Stdout, redis_consumer.RunOptions{
		PollInterval: *poll,
		Signals:      gather,
		Once:         *once,
	})
	if err != nil {
		log.Errorf("%v", err)
		return 1
	}
	return 0
}
