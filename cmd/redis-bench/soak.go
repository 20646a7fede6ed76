package main

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// soak runs redis-output in stream mode at a steady rate for d and
// reports its memory and goroutines over time: both must stay flat.
func (b *bench) soak(d time.Duration, rate int) error {
	conf, err := b.config("soak", "  mode = \"stream\"\n  stream_maxlen = 100000\n")
	if err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(b.bin, "redis-output"), "-config", conf, "-stats_interval", "10s")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	runtimeLine := regexp.MustCompile(`goroutines=(\d+) heap_inuse_mib=([0-9.]+)`)
	type sample struct {
		at         time.Duration
		goroutines int
		heap, rss  float64
	}
	var mu sync.Mutex
	var samples []sample
	start := time.Now()
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			m := runtimeLine.FindStringSubmatch(sc.Text())
			if m == nil {
				if strings.HasPrefix(sc.Text(), "E! ") || strings.HasPrefix(sc.Text(), "W! ") {
					fmt.Fprintln(os.Stderr, "redis-output:", sc.Text())
				}
				continue
			}
			g, gerr := strconv.Atoi(m[1])
			h, herr := strconv.ParseFloat(m[2], 64)
			if gerr != nil || herr != nil {
				continue // the pattern holds only digits: never
			}
			mu.Lock()
			samples = append(samples, sample{at: time.Since(start), goroutines: g, heap: h, rss: rssMiB(cmd.Process.Pid)})
			mu.Unlock()
		}
	}()

	w := bufio.NewWriterSize(stdin, 1<<20)
	var line bytes.Buffer
	rng := rand.New(rand.NewPCG(3, 4)) //nolint:gosec // the same metrics every run, not a secret
	tick := time.NewTicker(10 * time.Millisecond)
	perTick := rate / 100
	sent := 0
	for time.Since(start) < d {
		<-tick.C
		for i := 0; i < perTick; i++ {
			line.Reset()
			systemMetric(&line, rng, sent, false)
			line.WriteByte('\n')
			if _, err := w.Write(line.Bytes()); err != nil {
				return err
			}
			sent++
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
	tick.Stop()
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("redis-output: %w", err)
	}

	mu.Lock()
	defer mu.Unlock()
	fmt.Printf("soak: %d metrics in %s (%d/s), stream mode, MAXLEN ~ 100000\n", sent, d, rate)
	fmt.Println("    time  goroutines  heap MiB  RSS MiB")
	for _, s := range samples {
		fmt.Printf("%8s  %10d  %8.1f  %7.1f\n", s.at.Round(time.Second), s.goroutines, s.heap, s.rss)
	}
	if len(samples) < 3 {
		return fmt.Errorf("only %d samples", len(samples))
	}
	// Flat: after the first minute, no sample above 1.5x the first one
	// of that minute, and the goroutines as many as at the start.
	base := samples[min(len(samples)-1, 6)]
	for _, s := range samples[min(len(samples)-1, 6):] {
		if s.rss > 1.5*base.rss+4 || s.goroutines > base.goroutines+2 {
			return fmt.Errorf("not flat at %s: %d goroutines, %.1f MiB RSS (from %d, %.1f)", s.at, s.goroutines, s.rss, base.goroutines, base.rss)
		}
	}
	fmt.Println("soak: memory and goroutines stayed flat")
	return nil
}
