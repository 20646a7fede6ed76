package main

import (
	"bufio"
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/gomodule/redigo/redis"
)

const (
	latencyRate  = 1000 // metrics per second written to stdin
	latencyLines = 5000
)

// latency writes metrics to redis-output's stdin at a steady 1,000 a
// second and measures, for each, the time until it can be read from Redis:
// in quote mode from the document PUBLISHed after each update, in stream
// mode from an XREAD that blocks on the stream.
func (b *bench) latency() error {
	for _, mode := range []string{"quote", "stream"} {
		name := "redis-output " + mode + " latency at 1000 metrics/s"
		if !b.wanted(name) {
			continue
		}
		p50, p99, err := b.measureLatency(mode)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		b.rows = append(b.rows, row{Name: name, P50Ms: num(p50), P99Ms: num(p99),
			Note: "default flush_interval (0: written once read); from the write to stdin to the data readable in Redis"})
	}
	return nil
}

func (b *bench) measureLatency(mode string) (p50, p99 float64, err error) {
	if err := b.srv.flush(); err != nil {
		return 0, 0, err
	}
	body := "  mode = \"quote\"\n  publish = \"lat\"\n"
	if mode == "stream" {
		body = "  mode = \"stream\"\n  key = \"lat\"\n"
	}
	conf, err := b.config("latency", body)
	if err != nil {
		return 0, 0, err
	}

	written := make([]time.Time, latencyLines)
	seen := make([]time.Duration, latencyLines)
	var mu sync.Mutex
	got := 0
	done := make(chan struct{})
	record := func(upTo int, at time.Time) {
		mu.Lock()
		defer mu.Unlock()
		for i := got; i <= upTo && i < latencyLines; i++ {
			seen[i] = at.Sub(written[i])
		}
		if upTo+1 > got {
			got = upTo + 1
		}
		if got >= latencyLines {
			select {
			case <-done:
			default:
				close(done)
			}
		}
	}

	reader, err := b.srv.conn()
	if err != nil {
		return 0, 0, err
	}
	defer reader.Close()
	ready := make(chan error, 1)
	go func() {
		if mode == "quote" {
			psc := redis.PubSubConn{Conn: reader}
			if err := psc.Subscribe("lat"); err != nil {
				ready <- err
				return
			}
			ready <- nil
			for {
				switch m := psc.Receive().(type) {
				case redis.Message:
					at := time.Now()
					if i, ok := latestIndex(m.Data); ok {
						record(i, at)
					}
				case error:
					return
				}
			}
		}
		ready <- nil
		last := "0"
		for {
			reply, err := redis.Values(reader.Do("XREAD", "BLOCK", 0, "STREAMS", "lat", last))
			if err != nil {
				return
			}
			at := time.Now()
			streams, err := redis.Values(reply[0], nil)
			if err != nil {
				return
			}
			entries, err := redis.Values(streams[1], nil)
			if err != nil {
				return
			}
			for _, e := range entries {
				fields, err := redis.Values(e, nil)
				if err != nil {
					return
				}
				if last, err = redis.String(fields[0], nil); err != nil {
					return
				}
				kv, err := redis.StringMap(fields[1], nil)
				if err != nil {
					return
				}
				i, err := strconv.Atoi(kv["seq"])
				if err != nil {
					return
				}
				record(i, at)
			}
		}
	}()
	if err := <-ready; err != nil {
		return 0, 0, err
	}

	cmd := exec.Command(filepath.Join(b.bin, "redis-output"), "-config", conf)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return 0, 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	w := bufio.NewWriter(stdin)
	time.Sleep(200 * time.Millisecond) // start-up is not latency
	start := time.Now()
	for i := 0; i < latencyLines; i++ {
		time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / latencyRate)))
		if mode == "quote" {
			fmt.Fprintf(w, `{"fields":{"fields_lat_usd":%d},"name":"lat","tags":{},"timestamp":%d}`+"\n", i, 1700000000+i)
		} else {
			fmt.Fprintf(w, `{"fields":{"seq":%d},"name":"lat","tags":{},"timestamp":%d}`+"\n", i, 1795552004+i)
		}
		mu.Lock()
		written[i] = time.Now()
		mu.Unlock()
		if err := w.Flush(); err != nil {
			return 0, 0, err
		}
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		return 0, 0, fmt.Errorf("only %d of %d metrics were seen in Redis", got, latencyLines)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		return 0, 0, err
	}
	sort.Slice(seen, func(i, j int) bool { return seen[i] < seen[j] })
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	return ms(seen[len(seen)/2]), ms(seen[len(seen)*99/100]), nil
}

// latestIndex reads the "lat" coin's price out of a published document:
// the index of the newest line the update carried.
func latestIndex(doc []byte) (int, bool) {
	const marker = `"id":"lat","price":"`
	i := indexOf(doc, marker)
	if i < 0 {
		return 0, false
	}
	rest := doc[i+len(marker):]
	end := indexOf(rest, `"`)
	if end < 0 {
		return 0, false
	}
	n, err := strconv.Atoi(string(rest[:end]))
	return n, err == nil
}

func indexOf(b []byte, s string) int {
	for i := 0; i+len(s) <= len(b); i++ {
		if string(b[i:i+len(s)]) == s {
			return i
		}
	}
	return -1
}
