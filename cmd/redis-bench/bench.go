package main

// What every run of the bench shares: the bench itself, its rows and
// their table, and the config files a run writes.

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"text/tabwriter"
)

// row is one measurement; nil numbers were not measured.
type row struct {
	Name        string   `json:"name"`
	MetricsPerS *float64 `json:"metrics_per_s"`
	CeilingPerS *float64 `json:"ceiling_per_s"`
	Ratio       *float64 `json:"ratio"`
	RSSMiB      *float64 `json:"rss_mib"`
	// CPUUsPerMetric is the plugin's CPU time (user + system) per metric.
	CPUUsPerMetric *float64 `json:"cpu_us_per_metric,omitempty"`
	// VsPeer compares with the same job done by a peer tool (bench-peers).
	VsPeer       *peerRatio `json:"vs_peer,omitempty"`
	P50Ms        *float64   `json:"p50_ms"`
	P99Ms        *float64   `json:"p99_ms"`
	CeilingLabel string     `json:"ceiling"`
	Note         string     `json:"note,omitempty"`
	// Quote updates: Redis's own time per flush (INFO commandstats).
	RedisMsPerUpdate *float64 `json:"redis_ms_per_update,omitempty"`
}

func num(v float64) *float64 { return &v }

// articleScript is the original shell consumer's rate: five jq and one
// redis-cli processes per line, about 90 ms a metric (SPEC.md).
const articleScript = 11.0

type bench struct {
	bin, dir   string
	srv        *server
	only       string
	setCeiling float64
	rows       []row
	profile    string    // -profile: where CPU profiles go
	last       procStats // of the last plugin run
}

// newBench starts what every run needs: a scratch directory and a
// redis-server of its own; done removes both.
func newBench(bin, only string) (*bench, func(), error) {
	bin, err := filepath.Abs(bin)
	if err != nil {
		return nil, nil, err
	}
	dir, err := os.MkdirTemp("", "redis-bench")
	if err != nil {
		return nil, nil, err
	}
	srv, err := startRedis(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	return &bench{bin: bin, dir: dir, srv: srv, only: only}, func() { srv.stop(); os.RemoveAll(dir) }, nil
}

// wanted tells whether -only asks for the case name: one of its
// alternatives (split at "|") is in the name, or ends it when the
// alternative ends in "$".
func (b *bench) wanted(name string) bool {
	if b.only == "" {
		return true
	}
	for _, alt := range strings.Split(b.only, "|") {
		if end, ok := strings.CutSuffix(alt, "$"); ok && strings.HasSuffix(name, end) || !ok && strings.Contains(name, alt) {
			return true
		}
	}
	return false
}

func machine() string {
	cpu := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(l, "model name") {
				cpu = strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
				break
			}
		}
	}
	return fmt.Sprintf("%d cores (%s), %s", runtime.NumCPU(), cpu, runtime.Version())
}

func printTable(rows []row) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "case\tmetrics/s\tceiling/s\tratio\tCPU µs/metric\tvs script\tpeak RSS MiB\tp50 ms\tp99 ms\tceiling of\t")
	f := func(v *float64, format string) string {
		if v == nil {
			return "-"
		}
		return fmt.Sprintf(format, *v)
	}
	for _, r := range rows {
		if r.RedisMsPerUpdate != nil {
			continue // printQuoteScale's
		}
		vs := "-"
		if r.MetricsPerS != nil && !strings.HasPrefix(r.Name, "ceiling") {
			vs = fmt.Sprintf("%.0fx", *r.MetricsPerS/articleScript)
		}
		label := "-"
		if r.CeilingPerS != nil {
			label = r.CeilingLabel
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.Name, f(r.MetricsPerS, "%.0f"), f(r.CeilingPerS, "%.0f"),
			f(r.Ratio, "%.2f"), f(r.CPUUsPerMetric, "%.2f"), vs, f(r.RSSMiB, "%.1f"), f(r.P50Ms, "%.2f"), f(r.P99Ms, "%.2f"), label)
	}
	w.Flush()
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func (b *bench) config(name, body string) (string, error) {
	path := filepath.Join(b.dir, name+".conf")
	return path, writeFile(path, "[[outputs.redis]]\n  address = \""+b.srv.addr+"\"\n"+body)
}

// remove deletes a spent input file: a million lines is half a gigabyte.
func (*bench) remove(path string) { _ = os.Remove(path) }

// stopProcess kills cmd and waits for it; that it was killed is no news.
func stopProcess(cmd *exec.Cmd) {
	if err := cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		fmt.Fprintf(os.Stderr, "redis-bench: killing %s: %v\n", cmd.Path, err)
	}
	var exit *exec.ExitError
	if err := cmd.Wait(); err != nil && !errors.As(err, &exit) {
		fmt.Fprintf(os.Stderr, "redis-bench: %s: %v\n", cmd.Path, err)
	}
}
