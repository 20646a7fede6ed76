package main

// The bench's rows as SVG charts (-charts DIR), drawn with gonum's plot:
// a dependency of this command only, never of the plugins.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// The charts drawChart writes, by file name.
const (
	chartRatio   = "ratio.svg"
	chartCPU     = "cpu.svg"
	chartLatency = "latency.svg"
	chartPeers   = "peers.svg"
	chartRows    = "rows.json"
)

var (
	colorOutput = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	colorInput  = color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}
	colorPeer   = color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}
	colorLine   = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
)

// drawChartsFrom draws the charts of the rows in a JSON file of the bench.
func drawChartsFrom(path, dir string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var rows []row
	if err := json.Unmarshal(data, &rows); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return drawCharts(rows, dir)
}

// drawCharts writes into dir, from the rows: each case's throughput over
// its ceiling with the 1.0 line, the plugins' CPU µs per metric, the
// latency percentiles, and ours against the peer per job (when the rows
// have peer rows, from make bench-peers; else a peers chart left from an
// earlier run is removed, so that no chart in dir is of another run); and
// the rows themselves, as rows.json.
func drawCharts(rows []row, dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	// Liberation Sans has the metrics of Arial and Helvetica, which the
	// SVG names after it (sansFallback) where a viewer lacks it.
	plot.DefaultFont = font.Font{Typeface: "Liberation", Variant: "Sans"}
	plotter.DefaultFont = plot.DefaultFont

	var ratio, cpu, latency, peers []row
	for _, r := range rows {
		if r.VsPeer != nil {
			peers = append(peers, r)
			continue
		}
		if r.Ratio != nil {
			ratio = append(ratio, r)
		}
		if r.CPUUsPerMetric != nil {
			cpu = append(cpu, r)
		}
		if r.P50Ms != nil && r.P99Ms != nil {
			latency = append(latency, r)
		}
	}
	charts := []struct {
		file string
		rows []row
		draw func([]row) (*plot.Plot, error)
	}{
		{chartRatio, ratio, ratioChart},
		{chartCPU, cpu, cpuChart},
		{chartLatency, latency, latencyChart},
		{chartPeers, peers, peersChart},
	}
	drawn := make([]string, 0, len(charts))
	for _, c := range charts {
		path := filepath.Join(dir, c.file)
		if len(c.rows) == 0 {
			if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			continue
		}
		p, err := c.draw(c.rows)
		if err != nil {
			return fmt.Errorf("%s: %w", c.file, err)
		}
		if err := saveSVG(p, len(c.rows), path); err != nil {
			return fmt.Errorf("%s: %w", c.file, err)
		}
		drawn = append(drawn, c.file)
	}
	// The rows they were drawn from, beside them.
	data, err := json.MarshalIndent(rows, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, chartRows), append(data, '\n'), 0o640); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "redis-bench: charts %s and their rows (%s) written to %s\n", strings.Join(drawn, ", "), chartRows, dir)
	return nil
}

// barLabels names the bars of a horizontal chart: bottom to top, so that
// the first row is drawn at the top.
func barLabels(rows []row, name func(row) string) []string {
	names := make([]string, len(rows))
	for i, r := range rows {
		names[len(rows)-1-i] = name(r)
	}
	return names
}

// barValues is one value of each row, in the order of barLabels.
func barValues(rows []row, v func(row) float64) plotter.Values {
	vs := make(plotter.Values, len(rows))
	for i, r := range rows {
		vs[len(rows)-1-i] = v(r)
	}
	return vs
}

// bars is a horizontal bar chart of the values, labelled with format at
// their ends; offset moves it within its category, for grouped bars. A
// zero is a gap (a row of another group: see twoColoured), unlabelled.
func bars(p *plot.Plot, vs plotter.Values, c color.Color, width, offset vg.Length, format string) (*plotter.BarChart, error) {
	b, err := plotter.NewBarChart(vs, width)
	if err != nil {
		return nil, err
	}
	b.Horizontal = true
	b.Color = c
	b.LineStyle.Width = 0
	b.Offset = offset
	xys := make(plotter.XYs, len(vs))
	text := make([]string, len(vs))
	for i, v := range vs {
		xys[i] = plotter.XY{X: v, Y: float64(i)}
		if v != 0 {
			text[i] = fmt.Sprintf(format, v)
		}
	}
	labels, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: text})
	if err != nil {
		return nil, err
	}
	for i := range labels.TextStyle {
		labels.TextStyle[i].Font.Size = vg.Points(9)
		labels.TextStyle[i].YAlign = draw.YCenter
	}
	labels.Offset = vg.Point{X: vg.Points(3), Y: offset}
	p.Add(b, labels)
	return b, nil
}

func newPlot(title, xLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xLabel
	p.X.Min = 0
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	return p
}

// legendRoom is the space above the top bar kept for the legend, in
// bars.
const legendRoom = 1.5

// nameBars names the bars, first row at the top, and keeps legendRoom
// free above them.
func nameBars(p *plot.Plot, rows []row, name func(row) string) {
	p.NominalY(barLabels(rows, name)...)
	p.Y.Min = -0.6
	p.Y.Max = float64(len(rows)) - 0.4 + legendRoom
}

// ceilingOf is the command of a row's ceiling, for its label.
func ceilingOf(r row) string {
	if f := strings.Fields(r.CeilingLabel); len(f) > 0 {
		return f[0]
	}
	return "?"
}

func ratioChart(rows []row) (*plot.Plot, error) {
	p := newPlot("Throughput over Redis's own ceiling of the same command", "ratio to the ceiling (redis-benchmark -P 64 -c 1)")
	top := 1.0
	for _, r := range rows {
		top = max(top, *r.Ratio)
	}
	p.X.Max = top * 1.15
	// The line first: the bars and their numbers are drawn over it.
	line, err := plotter.NewLine(plotter.XYs{{X: 1, Y: -0.6}, {X: 1, Y: float64(len(rows)) - 0.4}})
	if err != nil {
		return nil, err
	}
	line.Color = colorLine
	line.Width = vg.Points(1.5)
	line.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
	p.Add(line)
	if err := twoColoured(p, rows, func(r row) float64 { return *r.Ratio }, "%.2f"); err != nil {
		return nil, err
	}
	p.Legend.Add("the ceiling (1.0)", line)
	nameBars(p, rows, func(r row) string { return r.Name + " (" + ceilingOf(r) + ")" })
	return p, nil
}

// twoColoured draws one bar a row, redis-output's rows in one colour and
// redis-input's in another, each with a legend entry.
func twoColoured(p *plot.Plot, rows []row, v func(row) float64, format string) error {
	for _, side := range []struct {
		prefix string
		c      color.Color
	}{{"redis-output", colorOutput}, {"redis-input", colorInput}} {
		vs := barValues(rows, func(r row) float64 {
			if strings.HasPrefix(r.Name, side.prefix) {
				return v(r)
			}
			return 0
		})
		if allZero(vs) {
			continue
		}
		b, err := bars(p, vs, side.c, vg.Points(12), 0, format)
		if err != nil {
			return err
		}
		p.Legend.Add(side.prefix, b)
	}
	return nil
}

func allZero(vs plotter.Values) bool {
	for _, v := range vs {
		if v != 0 {
			return false
		}
	}
	return true
}

func cpuChart(rows []row) (*plot.Plot, error) {
	p := newPlot("Plugin CPU per metric (user + system, whole process)", "CPU µs per metric (less is better)")
	top := 0.0
	for _, r := range rows {
		top = max(top, *r.CPUUsPerMetric)
	}
	p.X.Max = top * 1.15
	if err := twoColoured(p, rows, func(r row) float64 { return *r.CPUUsPerMetric }, "%.2f"); err != nil {
		return nil, err
	}
	nameBars(p, rows, func(r row) string { return r.Name })
	return p, nil
}

func latencyChart(rows []row) (*plot.Plot, error) {
	p := newPlot("Added latency: from the write to stdin to the data readable in Redis", "milliseconds (less is better)")
	top := 0.0
	for _, r := range rows {
		top = max(top, *r.P99Ms)
	}
	p.X.Max = top * 1.2
	w := vg.Points(12)
	p50, err := bars(p, barValues(rows, func(r row) float64 { return *r.P50Ms }), colorOutput, w, w/2, "%.2f")
	if err != nil {
		return nil, err
	}
	p99, err := bars(p, barValues(rows, func(r row) float64 { return *r.P99Ms }), colorPeer, w, -w/2, "%.2f")
	if err != nil {
		return nil, err
	}
	p.Legend.Add("p50", p50)
	p.Legend.Add("p99", p99)
	nameBars(p, rows, func(r row) string { return r.Name })
	return p, nil
}

func peersChart(rows []row) (*plot.Plot, error) {
	peer := rows[0].VsPeer.Peer
	p := newPlot("Ours against "+peer+": the same job, input and redis-server", "metrics/s, whole process from start to exit (more is better)")
	top := 0.0
	for _, r := range rows {
		top = max(top, *r.MetricsPerS)
	}
	p.X.Max = top * 1.2
	p.X.Tick.Marker = wholeTicks{}
	w := vg.Points(12)
	ours, err := bars(p, barValues(rows, func(r row) float64 { return *r.MetricsPerS }), colorOutput, w, w/2, "%.0f")
	if err != nil {
		return nil, err
	}
	// Speedup is the peer's wall time over ours on the same metrics.
	theirs, err := bars(p, barValues(rows, func(r row) float64 { return *r.MetricsPerS / r.VsPeer.Speedup }), colorPeer, w, -w/2, "%.0f")
	if err != nil {
		return nil, err
	}
	p.Legend.Add("ours", ours)
	p.Legend.Add(peer, theirs)
	nameBars(p, rows, func(r row) string {
		job := strings.TrimSuffix(strings.TrimPrefix(r.Name, "peer "), " vs Benthos")
		return fmt.Sprintf("%s: %.1fx", job, r.VsPeer.Speedup)
	})
	return p, nil
}

// wholeTicks labels an axis of rates in whole numbers: the default
// gives 250000.00 where a tick falls on a large round number.
type wholeTicks struct{}

func (wholeTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	for i, t := range ticks {
		if t.Label != "" {
			ticks[i].Label = fmt.Sprintf("%.0f", t.Value)
		}
	}
	return ticks
}

// sansFallback is the font list the SVG gets for Liberation Sans: where
// it is missing, a font of the same metrics, so that no label overruns.
const sansFallback = "font-family:'Liberation Sans',Arial,Helvetica,sans-serif;"

// saveSVG writes the plot as SVG, high enough for bars rows.
func saveSVG(p *plot.Plot, bars int, path string) error {
	h := vg.Points(90 + 26*(float64(bars)+legendRoom))
	wt, err := p.WriterTo(9*vg.Inch, h, "svg")
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if _, err := wt.WriteTo(&buf); err != nil {
		return err
	}
	svg := bytes.ReplaceAll(buf.Bytes(), []byte("font-family:Liberation Sans;"), []byte(sansFallback))
	return os.WriteFile(path, svg, 0o640)
}
