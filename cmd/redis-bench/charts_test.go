package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// chartTestRows has a row of every kind the charts draw, and rows that
// none of them draws (a ceiling, a row without a ceiling).
func chartTestRows() []row {
	return []row{
		{Name: "ceiling: redis-benchmark SET -P 64 -c 1", MetricsPerS: num(660066), CeilingLabel: "itself"},
		{Name: "redis-output quote json", MetricsPerS: num(1037886), CeilingPerS: num(660066), Ratio: num(1.57),
			CPUUsPerMetric: num(1.39), CeilingLabel: "SET"},
		{Name: "redis-output hash json", MetricsPerS: num(189363), CeilingPerS: num(203550), Ratio: num(0.93),
			CPUUsPerMetric: num(3.2), CeilingLabel: "HSET with the same arguments"},
		{Name: "redis-output stream latency at 1000 metrics/s", P50Ms: num(0.17), P99Ms: num(0.32)},
		{Name: "redis-input stream typed", MetricsPerS: num(288380), CeilingPerS: num(327000), Ratio: num(0.88),
			CPUUsPerMetric: num(2.43), CeilingLabel: readCeilingLabel},
		{Name: "redis-output hash json, cluster of 3 master(s)", MetricsPerS: num(111941), CPUUsPerMetric: num(6.8)},
		{Name: "peer hash: redis-output vs Benthos", MetricsPerS: num(294000), CPUUsPerMetric: num(2.27),
			VsPeer: &peerRatio{Peer: "Benthos v4.24.0", Speedup: 11.7}},
	}
}

// svgText is the text of every <text> element of an SVG file, which must
// parse as XML.
func svgText(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(sansFallback)) {
		t.Errorf("%s: no font fallback %q", path, sansFallback)
	}
	var text strings.Builder
	d := xml.NewDecoder(bytes.NewReader(data))
	inText := false
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return text.String()
		}
		if err != nil {
			t.Fatalf("%s is not XML: %v", path, err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			inText = tok.Name.Local == "text"
		case xml.CharData:
			if inText {
				text.Write(tok)
				text.WriteByte('\n')
			}
		case xml.EndElement:
			inText = false
		}
	}
}

// Each chart holds the rows it is about, named, with their numbers, and
// the rows are written beside the charts as they were.
func TestDrawCharts(t *testing.T) {
	dir := t.TempDir()
	rows := chartTestRows()
	if err := drawCharts(rows, dir); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string][]string{
		chartRatio: {"redis-output quote json (SET)", "1.57", "redis-output hash json (HSET)", "0.93",
			"redis-input stream typed (XRANGE)", "0.88", "the ceiling (1.0)"},
		chartCPU:     {"redis-output quote json", "1.39", "cluster of 3 master(s)", "6.80", "redis-input stream typed", "2.43"},
		chartLatency: {"redis-output stream latency at 1000 metrics/s", "0.17", "0.32", "p50", "p99"},
		chartPeers:   {"hash: redis-output: 11.7x", "294000", "25128", "Benthos v4.24.0", "300000"},
	} {
		text := svgText(t, filepath.Join(dir, file))
		for _, w := range want {
			if !strings.Contains(text, w) {
				t.Errorf("%s has no %q in its text:\n%s", file, w, text)
			}
		}
	}
	// Rows that are not about a chart stay out of it: the ceiling is no
	// bar, the peer row is not among our CPU bars.
	if text := svgText(t, filepath.Join(dir, chartRatio)); strings.Contains(text, "ceiling: redis-benchmark") || strings.Contains(text, "cluster") {
		t.Errorf("ratio chart has a row without a ratio:\n%s", text)
	}
	if text := svgText(t, filepath.Join(dir, chartCPU)); strings.Contains(text, "peer") {
		t.Errorf("CPU chart has the peer row:\n%s", text)
	}
	data, err := os.ReadFile(filepath.Join(dir, chartRows))
	if err != nil {
		t.Fatal(err)
	}
	var back []row
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, rows) {
		t.Errorf("rows.json is not the rows drawn:\n%s", data)
	}
}

// Charts of another run are not left beside this run's: without peer rows
// (make bench alone) a peers chart already there is removed, and with no
// rows at all so is every chart; files that are not charts stay.
func TestDrawChartsRemovesChartsOfAnotherRun(t *testing.T) {
	dir := t.TempDir()
	if err := drawCharts(chartTestRows(), dir); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "README.md")
	if err := os.WriteFile(other, []byte("someone else's"), 0o600); err != nil {
		t.Fatal(err)
	}
	var ours []row
	for _, r := range chartTestRows() {
		if r.VsPeer == nil {
			ours = append(ours, r)
		}
	}
	if err := drawCharts(ours, dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, chartPeers)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("peers chart of another run left: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, chartRatio)); err != nil {
		t.Errorf("ratio chart: %v", err)
	}
	if err := drawCharts(nil, dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{chartRatio, chartCPU, chartLatency, chartPeers} {
		if _, err := os.Stat(filepath.Join(dir, f)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left after a run with no rows: %v", f, err)
		}
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("a file that is not a chart was touched: %v", err)
	}
}

// Values at the edges still draw: a ratio far above the 1.0 line, one of
// almost nothing, a single row.
func TestDrawChartsEdgeValues(t *testing.T) {
	dir := t.TempDir()
	rows := []row{
		{Name: "redis-output huge", Ratio: num(1e6), CeilingLabel: "SET", CPUUsPerMetric: num(1e-9)},
		{Name: "redis-input tiny", Ratio: num(1e-9), CeilingLabel: "", CPUUsPerMetric: num(1e6)},
	}
	if err := drawCharts(rows, dir); err != nil {
		t.Fatal(err)
	}
	if text := svgText(t, filepath.Join(dir, chartRatio)); !strings.Contains(text, "redis-input tiny (?)") {
		t.Errorf("a row without a ceiling label is not marked:\n%s", text)
	}
	if err := drawCharts(rows[:1], dir); err != nil {
		t.Fatal(err)
	}
	svgText(t, filepath.Join(dir, chartCPU))
}

// A JSON file that is missing or not the bench's rows is refused, naming
// the file; a charts directory that cannot be made is an error.
func TestDrawChartsFromBadInput(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.json")
	if err := drawChartsFrom(missing, dir); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("missing JSON: %v", err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"name": "not a list"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := drawChartsFrom(bad, dir); err == nil || !strings.Contains(err.Error(), "bad.json") {
		t.Errorf("JSON that is not rows: %v", err)
	}
	file := filepath.Join(dir, "a-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := drawCharts(chartTestRows(), filepath.Join(file, "charts")); err == nil {
		t.Error("charts under a file: no error")
	}
}
