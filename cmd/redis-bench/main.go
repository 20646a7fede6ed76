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
	"time"
)

func main() {
	var (
		bin     = flag.String("bin", "bin", "directory with redis-output and redis-input")
		out     = flag.String("out", envOr("BENCH_OUT", "bench-results.json"), "where to write the rows as JSON")
		metrics = flag.Int("metrics", 1_000_000, "metrics per throughput run of quote mode")
		perMet  = flag.Int("per-metric", 300_000, "metrics per throughput run of the per-metric modes")
		only    = flag.String("only", "", "run only the cases whose name contains this (alternatives split at |; one ending in $ ends the name)")
		soak    = flag.Duration("soak", 0, "instead: run redis-output this long at -soak-rate and report memory and goroutines")
		rate    = flag.Int("soak-rate", 20000, "metrics per second of the soak run")
		profile = flag.String("profile", "", "write a CPU profile of each plugin run into this directory")
		peer    = flag.String("peers", "", "instead: the peer rows (make bench-peers) against this Benthos binary")
		peerN   = flag.Int("peer-metrics", 200_000, "metrics per peer run")
		runs    = flag.Int("peer-runs", 3, "alternating runs per tool and peer row (the median is kept)")
		charts  = flag.String("charts", "", "also draw the rows of -out as SVG charts into this directory")
		redraw  = flag.Bool("charts-only", false, "instead: only draw the charts of the rows already in -out into -charts")
	)
	flag.Parse()
	if *redraw {
		if *charts == "" {
			fmt.Fprintln(os.Stderr, "redis-bench: -charts-only needs -charts DIR")
			os.Exit(2)
		}
		if err := drawChartsFrom(*out, *charts); err != nil {
			fmt.Fprintln(os.Stderr, "redis-bench:", err)
			os.Exit(1)
		}
		return
	}
	if *peer != "" {
		if err := runPeers(*bin, *peer, *out, *peerN, *runs, *only); err != nil {
			fmt.Fprintln(os.Stderr, "redis-bench:", err)
			os.Exit(1)
		}
		if err := chartsOf(*out, *charts); err != nil {
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
	if err := chartsOf(*out, *charts); err != nil {
		fmt.Fprintln(os.Stderr, "redis-bench:", err)
		os.Exit(1)
	}
}

// chartsOf draws the charts of the JSON rows at out into dir, when a dir
// is given: the rows as written, with any merged from another run.
func chartsOf(out, dir string) error {
	if dir == "" {
		return nil
	}
	return drawChartsFrom(out, dir)
}

func envOr(k, d string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return d
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
		b.rows = append(b.rows, row{Name: "ceiling (not a divisor): the same on Redis's core", MetricsPerS: num(same),
			CeilingLabel: "itself, on one core with redis-server"})
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
	data, err := json.MarshalIndent(b.rows, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, append(data, '\n'), 0o644); err != nil { //nolint:gosec // results for every reader, as the repository's files
		return err
	}
	fmt.Fprintf(os.Stderr, "redis-bench: rows written to %s; whole run %s\n", out, time.Since(start).Round(time.Second))
	return nil
}

func runSoak(bin string, d time.Duration, rate int) error {
	bin, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
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
