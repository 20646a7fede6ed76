package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/gomodule/redigo/redis"
)

// inputMetric is what the checks need of one input metric.
type inputMetric struct {
	host   string
	fields map[string]float64
	time   int64 // seconds
}

// inputSummary is what readInput gives of an input file: its first and
// last metric, and the last metric of each host.
type inputSummary struct {
	first, last inputMetric
	byHost      map[string]inputMetric
}

// readInput reads back an input file of systemMetric lines (JSON, one per
// line or in batch lines, or line protocol): the first and last metric and
// the last metric of each host.
func readInput(path string, influx bool) (*inputSummary, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	in := &inputSummary{byHost: make(map[string]inputMetric)}
	n := 0
	take := func(m inputMetric) {
		if n == 0 {
			in.first = m
		}
		n++
		in.last = m
		in.byHost[m.host] = m
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Text()
		if influx {
			m, err := parseLP(line)
			if err != nil {
				return nil, err
			}
			take(m)
			continue
		}
		type jm struct {
			Fields    map[string]float64
			Tags      map[string]string
			Timestamp int64
		}
		var batch struct{ Metrics []jm }
		if strings.HasPrefix(line, `{"metrics":`) {
			if err := json.Unmarshal([]byte(line), &batch); err != nil {
				return nil, err
			}
		} else {
			var m jm
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				return nil, err
			}
			batch.Metrics = []jm{m}
		}
		for _, m := range batch.Metrics {
			take(inputMetric{host: m.Tags["host"], fields: m.Fields, time: m.Timestamp})
		}
	}
	return in, sc.Err()
}

// parseLP reads the simple line protocol of systemMetric and of our
// serializer's output for it (no escapes, float fields, ns timestamps).
func parseLP(line string) (inputMetric, error) {
	parts := strings.Split(line, " ")
	if len(parts) != 3 {
		return inputMetric{}, fmt.Errorf("not a system metric: %q", line)
	}
	m := inputMetric{fields: make(map[string]float64)}
	for _, t := range strings.Split(parts[0], ",")[1:] {
		if k, v, _ := strings.Cut(t, "="); k == "host" {
			m.host = v
		}
	}
	for _, kv := range strings.Split(parts[1], ",") {
		k, v, _ := strings.Cut(kv, "=")
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return m, fmt.Errorf("field %q in %q", kv, line)
		}
		m.fields[k] = f
	}
	ns, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil {
		return m, fmt.Errorf("timestamp in %q", line)
	}
	m.time = ns / 1e9
	return m, nil
}

func sameFields(what string, got map[string]string, want map[string]float64) error {
	if len(got) != len(want) {
		return fmt.Errorf("%s: %d fields, want %d", what, len(got), len(want))
	}
	for k, v := range want {
		f, err := strconv.ParseFloat(got[k], 64)
		if err != nil || f != v {
			return fmt.Errorf("%s: field %s = %q, want %v", what, k, got[k], v)
		}
	}
	return nil
}

// sameTyped checks a hash or stream entry in the typed layout (the
// default): the metric's name, time and host tag, and its fields.
func sameTyped(what string, got map[string]string, want inputMetric) error {
	fields := make(map[string]string, len(got))
	for k, v := range got {
		if !strings.HasPrefix(k, "_") && !strings.HasPrefix(k, "#") {
			fields[k] = v
		}
	}
	ns, err := strconv.ParseInt(got["_time"], 10, 64)
	if got["_measurement"] != "cpu" || got["#host"] != want.host || err != nil || ns/1e9 != want.time {
		return fmt.Errorf("%s: name %q, host %q, time %q: not the metric of %s at %d",
			what, got["_measurement"], got["#host"], got["_time"], want.host, want.time)
	}
	return sameFields(what, fields, want.fields)
}

func sameLine(what, got string, want inputMetric) error {
	m, err := parseLP(got)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	str := make(map[string]string, len(m.fields))
	for k, v := range m.fields {
		str[k] = strconv.FormatFloat(v, 'g', -1, 64)
	}
	if m.host != want.host || m.time != want.time {
		return fmt.Errorf("%s: %q is not the metric of %s at %d", what, got, want.host, want.time)
	}
	return sameFields(what, str, want.fields)
}

// checkContent verifies what a per-metric mode wrote against the input:
// hash and string keys hold each host's last metric, a stream and a list
// hold the first and the last metric at their ends.
func (b *bench) checkContent(mode, input string, influx bool) error {
	in, err := readInput(input, influx)
	if err != nil {
		return err
	}
	c, err := b.srv.conn()
	if err != nil {
		return err
	}
	defer c.Close()
	switch mode {
	case "hash":
		for host, m := range in.byHost {
			got, err := redis.StringMap(c.Do("HGETALL", "telegraf:cpu:"+host))
			if err != nil {
				return err
			}
			if err := sameTyped("hash of "+host, got, m); err != nil {
				return err
			}
		}
	case "string":
		for host, m := range in.byHost {
			got, err := redis.String(c.Do("GET", "last:"+host))
			if err != nil {
				return err
			}
			if err := sameLine("string of "+host, got, m); err != nil {
				return err
			}
		}
	case "list":
		for _, end := range []struct {
			i    int
			want inputMetric
		}{{0, in.first}, {-1, in.last}} {
			got, err := redis.String(c.Do("LINDEX", "telegraf:cpu", end.i))
			if err != nil {
				return err
			}
			if err := sameLine(fmt.Sprintf("list element %d", end.i), got, end.want); err != nil {
				return err
			}
		}
	case "stream":
		for _, end := range []struct {
			cmd  string
			want inputMetric
		}{{"XRANGE", in.first}, {"XREVRANGE", in.last}} {
			from, to := "-", "+"
			if end.cmd == "XREVRANGE" {
				from, to = "+", "-"
			}
			entries, err := redis.Values(c.Do(end.cmd, "telegraf:cpu", from, to, "COUNT", 1))
			if err != nil {
				return fmt.Errorf("%s: %w", end.cmd, err)
			}
			if len(entries) != 1 {
				return fmt.Errorf("%s: %d entries", end.cmd, len(entries))
			}
			parts, err := redis.Values(entries[0], nil)
			if err != nil {
				return err
			}
			got, err := redis.StringMap(parts[1], nil)
			if err != nil {
				return err
			}
			if err := sameTyped(end.cmd+" entry", got, end.want); err != nil {
				return err
			}
		}
	}
	return nil
}
