package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// procStats is what a whole process cost: wall time from start to exit,
// CPU time (user + system) and peak RSS.
type procStats struct {
	wall, cpu time.Duration
	rssMiB    float64
}

func statsOf(cmd *exec.Cmd, wall time.Duration) procStats {
	ps := cmd.ProcessState
	st := procStats{wall: wall, cpu: ps.UserTime() + ps.SystemTime()}
	if ru, ok := sysRusage(ps); ok {
		st.rssMiB = float64(ru.Maxrss) / 1024
	}
	return st
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
	_ = os.MkdirAll(b.profile, 0o755)
	return append(args, "-cpuprofile", filepath.Join(b.profile, name+".pprof"))
}
