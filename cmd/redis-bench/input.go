package main

import (
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gomodule/redigo/redis"
)

// input measures redis-input's stream mode: entries/s from a prefilled
// stream to line protocol on stdout, each batch written, flushed and then
// XACKed. Entries of pairs (flat, typed) are judged against the read
// ceiling of the same entries (readCeiling): Redis hands out many pairs an
// entry, and SET's ceiling is not their bound. A payload entry, one field
// each, stays against the SET ceiling.
func (b *bench) input(n int) error {
	cases := []struct {
		name, conf string
		payload    string // the entry field holding the line, "" for pairs
	}{
		{"redis-input stream payload=influx", "  payload_field = \"payload\"\n  data_format = \"influx\"\n", "payload"},
		{"redis-input stream fields", "  tag_keys = [\"host\"]\n", ""},
		// The layout redis-output writes by default: the whole metric.
		{"redis-input stream typed", "", typedLayout},
	}
	for _, c := range cases {
		if !b.wanted(c.name) {
			continue
		}
		if err := b.srv.flush(); err != nil {
			return err
		}
		if err := b.prefill(n, c.payload); err != nil {
			return err
		}
		ceiling, label := b.setCeiling, "SET"
		if layout, pairs := map[string]string{"": "flat", typedLayout: "typed"}[c.payload]; pairs {
			v, err := b.srv.readCeiling("bench:in", n)
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			ceiling, label = v, readCeilingLabel
			b.rows = append(b.rows, row{Name: "ceiling: redis-benchmark XRANGE COUNT 100 -P 64 -c 1, " + layout + " entries",
				MetricsPerS: num(v), CeilingLabel: "itself, in entries/s: " + readCeilingLabel})
		}
		conf := filepath.Join(b.dir, "input.conf")
		err := writeFile(conf, fmt.Sprintf("[[inputs.redis_consumer]]\n  address = %q\n  mode = \"stream\"\n  key = \"bench:in\"\n"+
			"  group = \"bench\"\n  consumer = \"bench-1\"\n  block = \"100ms\"\n%s", b.srv.addr, c.conf))
		if err != nil {
			return err
		}
		wall, rss, err := b.runInput(conf, n, c.name)
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		rate := float64(n) / wall.Seconds()
		b.add(row{Name: c.name, MetricsPerS: num(rate), CeilingPerS: num(ceiling),
			Ratio: num(rate / ceiling), RSSMiB: num(rss), CeilingLabel: label}, n)
	}
	return nil
}

// readCeilingBatch is how many entries each XRANGE of the read ceiling
// asks for.
const readCeilingBatch = 100

const readCeilingLabel = "XRANGE key - + COUNT 100 on the same entries"

// readCeiling is the most entries a second one pipelined connection reads
// from the stream at key: redis-benchmark -P 64 -c 1 running XRANGE key - +
// COUNT 100, best of three, pinned as the other ceilings, for as many
// entries as the input run reads (at least 100,000), counted in entries,
// not requests. Every call reads the first hundred entries; they are of
// the layout and size of all the others.
func (s *server) readCeiling(key string, entries int) (float64, error) {
	c, err := s.conn()
	if err != nil {
		return 0, err
	}
	got, err := redis.Values(c.Do("XRANGE", key, "-", "+", "COUNT", readCeilingBatch))
	c.Close()
	if err != nil {
		return 0, fmt.Errorf("read ceiling: %w", err)
	}
	if len(got) != readCeilingBatch {
		return 0, fmt.Errorf("read ceiling: XRANGE %s gave %d entries, want %d: the stream is too short", key, len(got), readCeilingBatch)
	}
	requests := max(entries, 100_000) / readCeilingBatch
	args := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(s.port), "-c", "1", "-P", "64", "-n", strconv.Itoa(requests), "-q",
		"XRANGE", key, "-", "+", "COUNT", strconv.Itoa(readCeilingBatch)}
	best := 0.0
	err = s.pinned(func() error {
		for range 3 {
			out, err := command(clientCPU, "redis-benchmark", args...).CombinedOutput()
			if err != nil {
				return fmt.Errorf("redis-benchmark XRANGE: %w: %s", err, out)
			}
			m := rpsLine.FindAllStringSubmatch(string(out), -1)
			if m == nil {
				return fmt.Errorf("redis-benchmark XRANGE: no rate in %q", out)
			}
			v, err := strconv.ParseFloat(m[len(m)-1][1], 64)
			if err != nil {
				return fmt.Errorf("redis-benchmark XRANGE: %w", err)
			}
			best = max(best, v*readCeilingBatch)
		}
		return nil
	})
	return best, err
}

// typedLayout, as prefill's payload, asks for entries in the typed layout.
const typedLayout = "\x00typed"

// prefill XADDs n system metrics to bench:in, pipelined: as line protocol
// in the field named payload, as the pairs of the typed layout (payload
// typedLayout: _measurement, _time, the tags as #key, the fields), or as
// flat field-value pairs and a host when payload is "".
func (b *bench) prefill(n int, payload string) error {
	c, err := b.srv.conn()
	if err != nil {
		return err
	}
	defer c.Close()
	var buf bytes.Buffer
	for i := 0; i < n; i++ {
		buf.Reset()
		systemMetric(&buf, nil, i, true)
		args := []interface{}{"bench:in", "*"}
		switch payload {
		case typedLayout:
			parts := strings.Fields(buf.String())
			series := strings.Split(parts[0], ",")
			args = append(args, "_measurement", series[0], "_time", parts[2])
			for _, t := range series[1:] {
				k, v, _ := strings.Cut(t, "=")
				args = append(args, "#"+k, v)
			}
			for _, kv := range strings.Split(parts[1], ",") {
				k, v, _ := strings.Cut(kv, "=")
				args = append(args, k, v)
			}
		case "":
			fields := strings.Fields(buf.String())[1]
			args = append(args, "host", fmt.Sprintf("host-%02d", i%50))
			for _, kv := range strings.Split(fields, ",") {
				k, v, _ := strings.Cut(kv, "=")
				args = append(args, k, v)
			}
		default:
			args = append(args, payload, buf.String())
		}
		if err := c.Send("XADD", args...); err != nil {
			return err
		}
		if i%1000 == 999 || i == n-1 {
			if err := c.Flush(); err != nil {
				return err
			}
			for j := i - i%1000; j <= i; j++ {
				if _, err := c.Receive(); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// runInput runs bin/redis-input until n lines came out, then ends it by
// closing its stdin, and checks that nothing is left pending.
func (b *bench) runInput(conf string, n int, name string) (time.Duration, float64, error) {
	cmd := exec.Command(filepath.Join(b.bin, "redis-input"), b.profileArgs([]string{"-config", conf}, name)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return 0, 0, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, 0, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	var lines atomic.Int64
	done := make(chan time.Time, 1)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	peak := watchRSS(cmd.Process.Pid)
	defer peak.end()
	go func() {
		buf := make([]byte, 1<<20)
		for {
			k, err := stdout.Read(buf)
			if lines.Add(int64(bytes.Count(buf[:k], []byte("\n")))) >= int64(n) {
				select {
				case done <- time.Now():
				default:
				}
			}
			if err != nil {
				if err != io.EOF {
					return
				}
				return
			}
		}
	}()
	var end time.Time
	select {
	case end = <-done:
	case <-time.After(2 * time.Minute):
		stopProcess(cmd)
		return 0, 0, fmt.Errorf("only %d of %d lines after 2 minutes: %s", lines.Load(), n, stderr.String())
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		return 0, 0, fmt.Errorf("redis-input: %w: %s", err, stderr.String())
	}
	c, err := b.srv.conn()
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	pending, err := redis.Values(c.Do("XPENDING", "bench:in", "bench"))
	if err != nil {
		return 0, 0, err
	}
	count, err := redis.Int64(pending[0], nil)
	if err != nil {
		return 0, 0, fmt.Errorf("reading XPENDING: %w", err)
	}
	if count != 0 || lines.Load() != int64(n) {
		return 0, 0, fmt.Errorf("%d lines for %d entries, %d left pending", lines.Load(), n, count)
	}
	b.last = statsOf(cmd, end.Sub(start), peak)
	return end.Sub(start), b.last.rssMiB, nil
}
