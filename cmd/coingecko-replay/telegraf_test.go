package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/telegraftest"
)

// These tests run the real Telegraf (bin/telegraf, built from the module pinned
// in go.mod) with telegraf/scraper.conf against this server, and check that the
// metric it emits carries exactly the prices that were served.

// Telegraf 1.37 substitutes variables in the raw text by default and warns
// that 1.38 will substitute inside TOML strings only; the config must work
// both ways.
var envModes = []string{"--non-strict-env-handling", "--strict-env-handling"}

// telegrafBinary returns the real Telegraf (see telegraftest.Telegraf).
func telegrafBinary(t *testing.T) string {
	t.Helper()
	return telegraftest.Telegraf(t)
}

// keyRecorder wraps a handler and remembers the x-cg-demo-api-key headers sent.
type keyRecorder struct {
	next http.Handler
	mu   sync.Mutex
	keys [][]string // one entry per request: every value of the header
}

func (k *keyRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	k.mu.Lock()
	k.keys = append(k.keys, r.Header.Values("X-Cg-Demo-Api-Key"))
	k.mu.Unlock()
	k.next.ServeHTTP(w, r)
}

func (k *keyRecorder) last() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.keys) == 0 {
		return nil
	}
	return k.keys[len(k.keys)-1]
}

// startReplay serves src on a real 127.0.0.1 port for Telegraf to scrape.
func startReplay(t *testing.T, src Source, opt options) (*server, *keyRecorder, string) {
	t.Helper()
	s := newServer(src, &servedLog{}, opt)
	rec := &keyRecorder{next: s.handler()}
	ts := httptest.NewServer(rec)
	t.Cleanup(ts.Close)
	return s, rec, ts.URL
}

// runScraper runs `telegraf --test` with scraper.conf and the given variables
// on top of an environment without any of the config's own variables.
func runScraper(t *testing.T, bin, envMode string, vars map[string]string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, bin, envMode, "--config", filepath.Join("..", "..", "telegraf", "scraper.conf"), "--test")
	for _, kv := range os.Environ() {
		switch name, _, _ := strings.Cut(kv, "="); name {
		case "COINGECKO_URL", "COINGECKO_API_KEY", "SCRAPE_INTERVAL", "KAFKA_BROKERS":
		default:
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.WaitDelay = 5 * time.Second
	t.Cleanup(func() {
		if cmd.Process != nil && cmd.ProcessState == nil {
			cmd.Process.Kill() //nolint:errcheck // best effort; Run has normally reaped it
		}
	})
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// lpMetric is one line of `telegraf --test` output ("> name,tags fields ts").
type lpMetric struct {
	name   string
	tags   string
	fields map[string]float64
	time   time.Time
}

// parseTestLine reads the line protocol Telegraf prints for a metric whose
// keys need no escaping (coin ids and currencies: [a-z0-9-_]).
func parseTestLine(line string) (lpMetric, error) {
	line, ok := strings.CutPrefix(line, "> ")
	parts := strings.Split(line, " ")
	if !ok || len(parts) != 3 {
		return lpMetric{}, fmt.Errorf("not a metric line: %q", line)
	}
	var m lpMetric
	m.name, m.tags, _ = strings.Cut(parts[0], ",")
	m.fields = map[string]float64{}
	for _, f := range strings.Split(parts[1], ",") {
		k, v, _ := strings.Cut(f, "=")
		x, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return lpMetric{}, fmt.Errorf("field %q is not a float: %q", k, v)
		}
		m.fields[k] = x
	}
	ns, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil {
		return lpMetric{}, fmt.Errorf("bad timestamp %q", parts[2])
	}
	m.time = time.Unix(0, ns)
	return m, nil
}

// scrapedMetric runs the scraper once and returns its only metric.
func scrapedMetric(t *testing.T, bin, envMode string, vars map[string]string) lpMetric {
	t.Helper()
	stdout, stderr, err := runScraper(t, bin, envMode, vars)
	if err != nil {
		t.Fatalf("telegraf --test: %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		if strings.HasPrefix(l, "> ") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 {
		t.Fatalf("want one metric, got %d:\n%s\nstderr:\n%s", len(lines), stdout, stderr)
	}
	m, err := parseTestLine(lines[0])
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// servedFields is what the scraper should make of a served body: one field
// <coin>_<currency> per price.
func servedFields(t *testing.T, body []byte) map[string]float64 {
	t.Helper()
	var q Quote
	if err := json.Unmarshal(body, &q); err != nil {
		t.Fatalf("served body %s: %v", body, err)
	}
	fields := map[string]float64{}
	for id, prices := range q {
		for cur, v := range prices {
			fields[id+"_"+cur] = v
		}
	}
	return fields
}

func TestTelegrafScraperEmitsServedPricesIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	bin := telegrafBinary(t)
	tinyCoins := ",shiba-inu,pepe,baby-doge-coin"
	sources := []struct {
		name  string
		src   func(t *testing.T) Source
		query string
	}{
		{"walk", func(t *testing.T) Source {
			coins, err := parseIDs(articleIDs + tinyCoins)
			if err != nil {
				t.Fatal(err)
			}
			return newWalk(11, coins, 0.01)
		}, "ids=" + articleIDs + tinyCoins + "&vs_currencies=usd&precision=18"},
		{"recorded", func(t *testing.T) Source {
			r, err := loadRecorded(recordDir, false)
			if err != nil {
				t.Fatal(err)
			}
			return r
		}, "ids=" + articleIDs + tinyCoins + ",nosuchcoin&vs_currencies=usd,eur"},
	}
	for _, mode := range envModes {
		for _, sc := range sources {
			t.Run(sc.name+mode, func(t *testing.T) {
				s, keys, base := startReplay(t, sc.src(t), options{})
				// Move past the start prices so the walk serves long decimals.
				for range 3 {
					resp, err := http.Get(base + priceURL + sc.query)
					if err != nil {
						t.Fatal(err)
					}
					resp.Body.Close()
				}

				m := scrapedMetric(t, bin, mode, map[string]string{"COINGECKO_URL": base + priceURL + sc.query})

				served := s.served.since(3)
				if len(served) != 1 || served[0].Status != 200 {
					t.Fatalf("scraper caused %d responses, want one 200: %+v", len(served), served)
				}
				want := servedFields(t, served[0].Body)
				if m.name != "http" || m.tags != "" {
					t.Errorf("metric %q tags %q, want \"http\" without tags", m.name, m.tags)
				}
				if len(m.fields) != len(want) {
					t.Errorf("fields %v\nwant %v", m.fields, want)
				}
				for k, v := range want {
					if got, ok := m.fields[k]; !ok || got != v {
						t.Errorf("field %s = %v (present %v), served %v", k, got, ok, v)
					}
				}
				if d := m.time.Sub(served[0].Time); d < -2*time.Second || d > 2*time.Second {
					t.Errorf("metric time %v, served at %v", m.time, served[0].Time)
				}
				if !bytes.Contains(served[0].Body, []byte("e-09")) {
					t.Errorf("served body has no exponent-form price to exercise: %s", served[0].Body)
				}
				// With COINGECKO_API_KEY unset the header goes out empty.
				if k := keys.last(); len(k) != 1 || k[0] != "" {
					t.Errorf("x-cg-demo-api-key without COINGECKO_API_KEY: %q, want one empty value", k)
				}
			})
		}
	}
}

func TestTelegrafScraperSendsAPIKeyIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	bin := telegrafBinary(t)
	for _, mode := range envModes {
		t.Run(mode, func(t *testing.T) {
			src, err := loadRecorded(recordDir, false)
			if err != nil {
				t.Fatal(err)
			}
			_, keys, base := startReplay(t, src, options{apiKey: "CG-test"})
			url := base + priceURL + "ids=bitcoin&vs_currencies=usd&precision=18"

			m := scrapedMetric(t, bin, mode, map[string]string{"COINGECKO_URL": url, "COINGECKO_API_KEY": "CG-test"})
			if m.fields["bitcoin_usd"] != 97234.12 || len(m.fields) != 1 {
				t.Errorf("fields %v", m.fields)
			}
			if k := keys.last(); len(k) != 1 || k[0] != "CG-test" {
				t.Errorf("x-cg-demo-api-key %q, want CG-test", k)
			}

			_, stderr, err := runScraper(t, bin, mode, map[string]string{"COINGECKO_URL": url})
			if err == nil || !strings.Contains(stderr, "received status code 401") {
				t.Errorf("without a key: err %v, stderr:\n%s", err, stderr)
			}
		})
	}
}
