package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// procStats is what a whole process cost: wall time from start to exit,
// CPU time (user + system) and peak RSS.
type procStats struct {
	wall, cpu time.Duration
	rssMiB    float64
}

// statsOf is what cmd cost, once it has exited; peak is its peak RSS as
// its rssWatch saw it.
func statsOf(cmd *exec.Cmd, wall time.Duration, peak *rssWatch) procStats {
	ps := cmd.ProcessState
	return procStats{wall: wall, cpu: ps.UserTime() + ps.SystemTime(), rssMiB: peak.end()}
}

// rssWatch samples the peak RSS (VmHWM in /proc/<pid>/status) of a running
// process. The rusage of an exited child cannot tell it: Go starts children
// with CLONE_VM, and at exec the kernel takes the high-water mark of the
// memory shared with the parent as the child's own, so every child would
// show at least redis-bench's RSS. VmHWM only grows; the last sample is
// taken at most a millisecond before the process exits.
type rssWatch struct {
	stop    chan struct{}
	done    chan struct{}
	peakKiB int64
}

func watchRSS(pid int) *rssWatch {
	w := &rssWatch{stop: make(chan struct{}), done: make(chan struct{})}
	path := fmt.Sprintf("/proc/%d/status", pid)
	go func() {
		defer close(w.done)
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			if kib, ok := vmHWM(path); ok && kib > w.peakKiB {
				w.peakKiB = kib
			}
			select {
			case <-w.stop:
				return
			case <-t.C:
			}
		}
	}()
	return w
}

// end stops the sampling and returns the peak in MiB.
func (w *rssWatch) end() float64 {
	if w == nil {
		return 0
	}
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
	return float64(w.peakKiB) / 1024
}

func vmHWM(path string) (int64, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, false // exited
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kib, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kib, err == nil
		}
	}
	return 0, false
}

// add appends a row measured by the last run of a plugin, with its CPU
// microseconds per metric: on a shared 2-core machine wall-clock rates
// move by a factor of two between runs, CPU per metric much less.
func (b *bench) add(r row, metrics int) {
	if b.last.cpu > 0 && metrics > 0 {
		r.CPUUsPerMetric = num(float64(b.last.cpu.Microseconds()) / float64(metrics))
	}
	b.rows = append(b.rows, r)
}

// profileArgs adds -cpuprofile to a plugin's arguments when redis-bench
// runs with -profile DIR: one pprof file per case, named after it.
func (b *bench) profileArgs(args []string, name string) []string {
	if b.profile == "" {
		return args
	}
	name = strings.Map(func(r rune) rune {
		if r == ' ' || r == '=' || r == '/' {
			return '_'
		}
		return r
	}, filepath.Base(name))
	if err := os.MkdirAll(b.profile, 0o750); err != nil {
		fmt.Fprintf(os.Stderr, "redis-bench: %v: no CPU profile\n", err)
		return args
	}
	return append(args, "-cpuprofile", filepath.Join(b.profile, name+".pprof"))
}

func rssMiB(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			kb, err := strconv.ParseFloat(strings.Fields(l)[1], 64)
			if err != nil {
				return 0
			}
			return kb / 1024
		}
	}
	return 0
}
