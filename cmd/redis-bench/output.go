package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/gomodule/redigo/redis"
)

// runOutput feeds the input file to bin/redis-output and returns the wall
// time (start to exit: start-up, decoding, every write, the final flush)
// and the peak RSS.
func (b *bench) runOutput(conf, input string) (time.Duration, float64, error) {
	in, err := os.Open(input)
	if err != nil {
		return 0, 0, err
	}
	defer in.Close()
	cmd := exec.Command(filepath.Join(b.bin, "redis-output"), b.profileArgs([]string{"-config", conf}, input)...)
	cmd.Stdin = in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	peak := watchRSS(cmd.Process.Pid)
	err = cmd.Wait()
	wall := time.Since(start)
	peak.end()
	if err != nil {
		return 0, 0, fmt.Errorf("redis-output: %w: %s", err, stderr.String())
	}
	if strings.Contains(stderr.String(), "E! ") {
		return 0, 0, fmt.Errorf("redis-output logged errors: %s", stderr.String())
	}
	b.last = statsOf(cmd, wall, peak)
	return wall, b.last.rssMiB, nil
}

// quote measures the article's job: metrics/s against the SET ceiling.
func (b *bench) quote(n int) error {
	cases := []struct {
		name   string
		batch  int
		influx bool
	}{
		{"redis-output quote json", 0, false},
		{"redis-output quote json batch=1000", 1000, false},
		{"redis-output quote influx", 0, true},
	}
	for _, c := range cases {
		if !b.wanted(c.name) {
			continue
		}
		input := filepath.Join(b.dir, strings.ReplaceAll(c.name, " ", "_"))
		if err := writeInput(input, n, c.batch, c.influx, quoteMetric); err != nil {
			return err
		}
		// The format is read off each line: JSON or line protocol.
		conf, err := b.config("quote", "")
		if err != nil {
			return err
		}
		if err := b.srv.flush(); err != nil {
			return err
		}
		wall, rss, err := b.runOutput(conf, input)
		if err != nil {
			return err
		}
		if err := b.check(`return #cjson.decode(redis.call('GET', 'coingecko:rate:usd')).prices`, int64(len(coins))); err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		rate := float64(n) / wall.Seconds()
		b.add(row{Name: c.name, MetricsPerS: num(rate), CeilingPerS: num(b.setCeiling),
			Ratio: num(rate / b.setCeiling), RSSMiB: num(rss), CeilingLabel: "SET"}, n)
		b.remove(input)
	}
	return nil
}

// perMetric measures the per-metric modes on system metrics against the
// ceiling of the same command, with the same arguments, in redis-benchmark.
func (b *bench) perMetric(n int) error {
	// The typed layout (the default) of hash and stream modes: the name,
	// the time and the tags before the fields.
	typed := "_measurement cpu _time 1795552004000000000 #cpu cpu-total #dc eu-west-1 #env production #host host-01 #rack r12 "
	fields := "usage_guest 1.5 usage_guest_nice 0 usage_idle 97.5 usage_iowait 0.1 usage_irq 0 usage_nice 0 " +
		"usage_softirq 0.1 usage_steal 0 usage_system 1 usage_user 1.2"
	line := "cpu,cpu=cpu-total,dc=eu-west-1,env=production,host=host-01,rack=r12 " +
		"usage_guest=1.5,usage_guest_nice=0,usage_idle=97.5,usage_iowait=0.1,usage_irq=0,usage_nice=0," +
		"usage_softirq=0.1,usage_steal=0,usage_system=1,usage_user=1.2 1795552004000000000"
	cases := []struct {
		name, body, verify string
		batch              int
		influx             bool
		ceiling            []string
		want               int64
	}{
		{"redis-output hash json", "  mode = \"hash\"\n  key = 'telegraf:{{.Name}}:{{.Tag \"host\"}}'\n", "return redis.call('DBSIZE')", 0, false,
			append([]string{"HSET", "telegraf:cpu:__rand_int__"}, strings.Fields(typed+fields)...), 50},
		{"redis-output hash influx", "  mode = \"hash\"\n  key = 'telegraf:{{.Name}}:{{.Tag \"host\"}}'\n", "return redis.call('DBSIZE')", 0, true,
			append([]string{"HSET", "telegraf:cpu:__rand_int__"}, strings.Fields(typed+fields)...), 50},
		{"redis-output stream json", "  mode = \"stream\"\n", "return redis.call('XLEN', 'telegraf:cpu')", 0, false,
			append([]string{"XADD", "s", "*"}, strings.Fields(typed+fields)...), int64(n)},
		{"redis-output stream json batch=1000", "  mode = \"stream\"\n", "return redis.call('XLEN', 'telegraf:cpu')", 1000, false,
			append([]string{"XADD", "s", "*"}, strings.Fields(typed+fields)...), int64(n)},
		{"redis-output stream json deduplicate", "  mode = \"stream\"\n  deduplicate = true\n", "return redis.call('XLEN', 'telegraf:cpu')", 0, false,
			append([]string{"XADD", "s", "*"}, strings.Fields(typed+fields)...), int64(n)},
		{"redis-output publish json", "  mode = \"publish\"\n", "", 0, false, // counted by a subscriber
			[]string{"PUBLISH", "telegraf:cpu", line}, 0},
		{"redis-output list json", "  mode = \"list\"\n", "return redis.call('LLEN', 'telegraf:cpu')", 0, false,
			[]string{"RPUSH", "l", line}, int64(n)},
		{"redis-output list json deduplicate", "  mode = \"list\"\n  deduplicate = true\n", "return redis.call('LLEN', 'telegraf:cpu')", 0, false,
			[]string{"RPUSH", "l", line}, int64(n)},
		{"redis-output string json", "  mode = \"string\"\n  key = 'last:{{.Tag \"host\"}}'\n", "return redis.call('DBSIZE')", 0, false,
			[]string{"SET", "last:__rand_int__", line}, 50},
	}
	ceilings := make(map[string]float64)
	for _, c := range cases {
		if !b.wanted(c.name) {
			continue
		}
		input := filepath.Join(b.dir, strings.ReplaceAll(c.name, " ", "_"))
		if err := writeInput(input, n, c.batch, c.influx, systemMetric); err != nil {
			return err
		}
		conf, err := b.config("permetric", c.body)
		if err != nil {
			return err
		}
		if err := b.srv.flush(); err != nil {
			return err
		}
		mode := strings.Fields(c.name)[1]
		var sub *subscriber
		if mode == "publish" {
			if sub, err = b.subscribe("telegraf:cpu"); err != nil {
				return err
			}
		}
		wall, rss, err := b.runOutput(conf, input)
		if err != nil {
			if sub != nil {
				sub.close()
			}
			return fmt.Errorf("%s: %w", c.name, err)
		}
		if sub != nil {
			err = sub.wait(int64(n))
			sub.close()
		} else if err = b.check(c.verify, c.want); err == nil {
			err = b.checkContent(mode, input, c.influx)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		key := strings.Join(c.ceiling, " ")
		ceiling, ok := ceilings[key]
		if !ok {
			// Our publish run has a subscriber (it counts what arrived),
			// and Redis then copies every message to it: the ceiling is
			// measured with one attached too, so both do the same work.
			var ceilSub *subscriber
			if mode == "publish" {
				if ceilSub, err = b.subscribe("telegraf:cpu"); err != nil {
					return err
				}
			}
			ceiling, err = b.srv.ceiling(c.ceiling[0], c.ceiling)
			if ceilSub != nil {
				ceilSub.close()
			}
			if err != nil {
				return err
			}
			ceilings[key] = ceiling
		}
		rate := float64(n) / wall.Seconds()
		b.add(row{Name: c.name, MetricsPerS: num(rate), CeilingPerS: num(ceiling),
			Ratio: num(rate / ceiling), RSSMiB: num(rss), CeilingLabel: ceilingLabel(c.ceiling[0])}, n)
		b.remove(input)
	}
	return nil
}

// check runs a Lua expression and compares its number with want.
func (b *bench) check(lua string, want int64) error {
	c, err := b.srv.conn()
	if err != nil {
		return err
	}
	defer c.Close()
	got, err := redis.Int64(c.Do("EVAL", lua, 0))
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("check %q gave %d, want %d", lua, got, want)
	}
	return nil
}

func ceilingLabel(command string) string {
	if command == "PUBLISH" {
		return "PUBLISH with the same arguments and one subscriber"
	}
	return command + " with the same arguments"
}
