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
	"flag"
	"os"
	"os/signal"
	"syscall"

	// Every parser of Telegraf, for data_format, as in Telegraf's full
	// build.
	_ "github.com/influxdata/telegraf/plugins/parsers/all"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/execd"
	"github.com/telegraf-redis/telegraf-redis/plugins/inputs/redis_consumer"
)

func main() {
	code := run()
	execd.CloseStdio()
	os.Exit(code)
}

func run() int {
	prog := execd.New("redis-input", "inputs", "redis_consumer")
	var (
		poll = flag.Duration("poll_interval", 0, "gather on this interval as well as on each line on stdin (quote and keys modes; 0: stdin only)")
		once = flag.Bool("once", false, "gather once (or read one stream batch, one message), print it and exit")
	)
	if code, done := execd.Parse(); done {
		return code
	}
	log := prog.Log
	if *poll < 0 {
		log.Errorf("-poll_interval must not be negative")
		return 2
	}

	plugin := redis_consumer.New()
	plugin.Log = log
	if code, done := prog.Start(plugin); done {
		return code
	}
	defer prog.Close()

	if *poll > 0 && (plugin.Mode == "subscribe" || plugin.Mode == "stream") {
		log.Warnf("-poll_interval is not used in %s mode: metrics are written as they come", plugin.Mode)
	}

	ctx, stop := prog.Signals()
	defer stop()
	// The other values of execd's signal option ask for a gather; left to
	// Go's defaults, SIGHUP and SIGUSR1 would end the process.
	gather := make(chan os.Signal, 1)
	signal.Notify(gather, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2)

	log.Debugf("%s reading %s mode from %s", prog.Version(), plugin.Mode, plugin.Endpoint())
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
