// Command redis-bench measures both plugins against Redis's own ceiling in
// one run (`make bench`): it starts a redis-server of its own, writes
// realistic Telegraf input files, runs bin/redis-output and bin/redis-input
// on them as Telegraf would, and runs redis-benchmark, pipelined on one
// connection, for the same commands. It prints a table and writes the rows
// as JSON (-out) for comparison between commits.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
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

func main() {
	var (
		bin     = flag.String("bin", "bin", "directory with redis-output and redis-input")
		out     = flag.String("out", envOr("BENCH_OUT", "bench-results.json"), "where to write the rows as JSON")
		metrics = flag.Int("metrics", 1_000_000, "metrics per throughput run of quote mode")
		perMet  = flag.Int("per-metric", 300_000, "metrics per throughput run of the per-metric modes")
		only    = flag.String("only", "", "run only the cases whose name contains this")
		soak    = flag.Duration("soak", 0, "instead: run redis-output this long at -soak-rate and report memory and goroutines")
		rate    = flag.Int("soak-rate", 20000, "metrics per second of the soak run")
		profile = flag.String("profile", "", "write a CPU profile of each plugin run into this directory")
		peer    = flag.String("peers", "", "instead: the peer rows (make bench-peers) against this Benthos binary")
		peerN   = flag.Int("peer-metrics", 200_000, "metrics per peer run")
		runs    = flag.Int("peer-runs", 3, "alternating runs per tool and peer row (the median is kept)")
	)
	flag.Parse()
	if *peer != "" {
		if err := runPeers(*bin, *peer, *out, *peerN, *runs, *only); err != nil {
			fmt.Fprintln(os.Stderr, "redis-bench:", err)
			os.Exit(1)
		}
		return
	}
	if *soak > 0 {
		if err := runSoak(*bin, *soak, *rate); err != nil {
			fmt.Fprintln(os.Stderr, "redis-bench:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*bin, *out, *metrics, *perMet, *only, *profile); err != nil {
		fmt.Fprintln(os.Stderr, "redis-bench:", err)
		os.Exit(1)
	}
}

func envOr(k, d string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return d
}

// newBench starts what every run needs: a scratch directory and a
// redis-server of its own; done removes both.
func newBench(bin, only string) (*bench, func(), error) {
	bin, _ = filepath.Abs(bin)
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

func run(bin, out string, quoteN, perMetricN int, only, profile string) error {
	start := time.Now()
	b, done, err := newBench(bin, only)
	if err != nil {
		return err
	}
	defer done()
	b.profile = profile
	srv := b.srv
	fmt.Fprintf(os.Stderr, "redis-bench: %s; redis-server %s on %s; %s\n", machine(), srv.version, srv.addr, placement())

	setCeiling, err := srv.ceiling("SET", nil)
	if err != nil {
		return err
	}
	b.setCeiling = setCeiling
	b.rows = append(b.rows, row{Name: "ceiling: redis-benchmark SET -P 64 -c 1", MetricsPerS: num(setCeiling), CeilingLabel: "itself"})
	if len(redisCPU) > 0 {
		same, err := srv.sameCoreCeiling("SET")
		if err != nil {
			return err
		}
		b.rows = append(b.rows, row{Name: "ceiling (not a divisor): the same on Redis's core", MetricsPerS: num(same), CeilingLabel: "itself, on one core with redis-server"})
	}

	if err := b.quote(quoteN); err != nil {
		return err
	}
	if err := b.quoteScale(); err != nil {
		return err
	}
	if err := b.perMetric(perMetricN); err != nil {
		return err
	}
	if err := b.latency(); err != nil {
		return err
	}
	if err := b.input(perMetricN); err != nil {
		return err
	}
	if err := b.clusterRuns(perMetricN); err != nil {
		return err
	}

	printTable(b.rows)
	printQuoteScale(b.rows)
	data, _ := json.MarshalIndent(b.rows, "", "  ")
	if err := os.WriteFile(out, append(data, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "redis-bench: rows written to %s; whole run %s\n", out, time.Since(start).Round(time.Second))
	return nil
}

func runSoak(bin string, d time.Duration, rate int) error {
	bin, _ = filepath.Abs(bin)
	dir, err := os.MkdirTemp("", "redis-soak")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	srv, err := startRedis(dir)
	if err != nil {
		return err
	}
	defer srv.stop()
	b := &bench{bin: bin, dir: dir, srv: srv}
	return b.soak(d, rate)
}

type bench struct {
	bin, dir   string
	srv        *server
	only       string
	setCeiling float64
	rows       []row
	profile    string    // -profile: where CPU profiles go
	last       procStats // of the last plugin run
}

func (b *bench) wanted(name string) bool { return b.only == "" || strings.Contains(name, b.only) }

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
	fmt.Fprintln(w, "case\tmetrics/s\tceiling/s\tratio\tCPU µs/metric\tvs script\tpeak RSS MiB\tp50 ms\tp99 ms\t")
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
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.Name, f(r.MetricsPerS, "%.0f"), f(r.CeilingPerS, "%.0f"),
			f(r.Ratio, "%.2f"), f(r.CPUUsPerMetric, "%.2f"), vs, f(r.RSSMiB, "%.1f"), f(r.P50Ms, "%.2f"), f(r.P99Ms, "%.2f"))
	}
	w.Flush()
}
