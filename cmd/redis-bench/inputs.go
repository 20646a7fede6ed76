package main

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
)

var coins = []string{"bitcoin", "ethereum", "ripple", "cardano", "binancecoin", "solana", "dogecoin", "chainlink", "near", "decentraland"}

// quoteMetric is one consumer line of the article: ten coins, flattened by
// kafka_consumer's JSON parser, in Telegraf JSON or line protocol.
func quoteMetric(w *bytes.Buffer, rng *rand.Rand, i int, influx bool) {
	// In the past: a million lines span a day, and max_future (5m) refuses
	// prices stamped ahead of the clock.
	ts := int64(1700000000 + i/10)
	if influx {
		w.WriteString("kafka_consumer,topic_currency_rate=currency.rate ")
		for j, c := range coins {
			if j > 0 {
				w.WriteByte(',')
			}
			fmt.Fprintf(w, "fields_%s_usd=%s", c, strconv.FormatFloat(price(rng), 'g', -1, 64))
		}
		fmt.Fprintf(w, " %d000000000", ts)
		return
	}
	w.WriteString(`{"fields":{`)
	for j, c := range coins {
		if j > 0 {
			w.WriteByte(',')
		}
		fmt.Fprintf(w, `"fields_%s_usd":%s`, c, strconv.FormatFloat(price(rng), 'g', -1, 64))
	}
	fmt.Fprintf(w, `},"name":"kafka_consumer","tags":{"topic_currency_rate":"currency.rate"},"timestamp":%d}`, ts)
}

func price(rng *rand.Rand) float64 {
	if rng.IntN(3) == 0 {
		return rng.Float64() * 1e-5
	}
	return float64(int64(rng.Float64()*1e8)) / 100
}

// systemMetric is a typical Telegraf system metric: 5 tags, 10 fields.
func systemMetric(w *bytes.Buffer, rng *rand.Rand, i int, influx bool) {
	host := fmt.Sprintf("host-%02d", i%50)
	ts := int64(1795552004 + i/100)
	tags := [][2]string{{"cpu", "cpu-total"}, {"dc", "eu-west-1"}, {"env", "production"}, {"host", host}, {"rack", "r12"}}
	fields := []string{"usage_guest", "usage_guest_nice", "usage_idle", "usage_iowait", "usage_irq", "usage_nice", "usage_softirq",
		"usage_steal", "usage_system", "usage_user"}
	if influx {
		w.WriteString("cpu")
		for _, t := range tags {
			fmt.Fprintf(w, ",%s=%s", t[0], t[1])
		}
		w.WriteByte(' ')
		for j, f := range fields {
			if j > 0 {
				w.WriteByte(',')
			}
			fmt.Fprintf(w, "%s=%s", f, strconv.FormatFloat(value(rng, i, j), 'f', -1, 64))
		}
		fmt.Fprintf(w, " %d000000000", ts)
		return
	}
	w.WriteString(`{"fields":{`)
	for j, f := range fields {
		if j > 0 {
			w.WriteByte(',')
		}
		fmt.Fprintf(w, `"%s":%s`, f, strconv.FormatFloat(value(rng, i, j), 'f', -1, 64))
	}
	w.WriteString(`},"name":"cpu","tags":{`)
	for j, t := range tags {
		if j > 0 {
			w.WriteByte(',')
		}
		fmt.Fprintf(w, `"%s":"%s"`, t[0], t[1])
	}
	fmt.Fprintf(w, `},"timestamp":%d}`, ts)
}

// value is a field value: random, or derived from the position when there
// is no generator (prefilling a stream).
func value(rng *rand.Rand, i, j int) float64 {
	if rng == nil {
		return float64((i*31+j*7)%100000) / 1000
	}
	return float64(rng.IntN(100000)) / 1000
}

// writeInput writes n metrics made by gen: one per line, or batch metrics
// per {"metrics":[...]} line when batch > 0 (JSON only).
func writeInput(path string, n, batch int, influx bool, gen func(*bytes.Buffer, *rand.Rand, int, bool)) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	rng := rand.New(rand.NewPCG(1, 2)) //nolint:gosec // the same input every run, not a secret
	var line bytes.Buffer
	for i := 0; i < n; i++ {
		switch {
		case batch > 0 && i%batch == 0:
			line.WriteString(`{"metrics":[`)
		case batch > 0:
			line.WriteByte(',')
		}
		gen(&line, rng, i, influx)
		if batch == 0 || i%batch == batch-1 || i == n-1 {
			if batch > 0 {
				line.WriteString("]}")
			}
			line.WriteByte('\n')
			if _, err := w.Write(line.Bytes()); err != nil {
				return err
			}
			line.Reset()
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}
