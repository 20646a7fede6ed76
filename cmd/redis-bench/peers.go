package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gomodule/redigo/redis"
)

// peerCase is one job done by both tools: ours and the peer, each a whole
// process from start to exit on the same input and redis-server.
type peerCase struct {
	name string
	// ours is the redis-output (or redis-input) table body; peer is the
	// Benthos config (with %s for the Redis URL).
	ours, peer string
	input      bool // redis-input stream mode against the redis_streams input
	// check verifies what landed in Redis after a run of either tool.
	check func(b *bench, n int) error
}

// The Benthos configs, printed into BENCHMARKS.md as they are. Both tools
// read the same file on stdin (output rows) or the same prefilled stream
// (input row); Benthos runs with its defaults otherwise (max_in_flight 64
// for the Redis outputs).
const peerHeader = "http:\n  enabled: false\nlogger:\n  level: WARN\nmetrics:\n  none: {}\n"

var peerCases = []peerCase{
	{
		name: "hash",
		// The same work: the fields only, as the peer's mapping writes
		// them (our default typed layout also writes name, time and tags).
		ours: "  mode = \"hash\"\n  layout = \"flat\"\n  key = 'telegraf:{{.Name}}:{{.Tag \"host\"}}'\n",
		peer: peerHeader + `input:
  stdin: {}
pipeline:
  processors:
    - mapping: |
        meta key = "telegraf:" + this.name + ":" + this.tags.host
        root = this.fields.map_each(kv -> kv.value.string())
output:
  redis_hash:
    url: %s
    key: ${! meta("key") }
    walk_json_object: true
`,
		check: checkHashes,
	},
	{
		name: "stream",
		// One field per entry for both, as the peer writes the raw line:
		// ours the metric as line protocol, the peer its JSON line.
		ours: "  mode = \"stream\"\n  payload_field = \"body\"\n",
		peer: peerHeader + `input:
  stdin: {}
output:
  redis_streams:
    url: %s
    stream: telegraf:cpu
    body_key: body
`,
		check: func(b *bench, n int) error { return b.check("return redis.call('XLEN', 'telegraf:cpu')", int64(n)) },
	},
	{
		name: "list",
		ours: "  mode = \"list\"\n",
		peer: peerHeader + `input:
  stdin: {}
output:
  redis_list:
    url: %s
    key: telegraf:cpu
`,
		check: func(b *bench, n int) error { return b.check("return redis.call('LLEN', 'telegraf:cpu')", int64(n)) },
	},
	{
		name: "publish",
		ours: "  mode = \"publish\"\n",
		peer: peerHeader + `input:
  stdin: {}
output:
  redis_pubsub:
    url: %s
    channel: telegraf:cpu
`,
		// Counted by the subscriber runPeerCase starts.
	},
	{
		name:  "stream input",
		input: true,
		ours:  "  payload_field = \"body\"\n  data_format = \"influx\"\n",
		peer: peerHeader + `input:
  redis_streams:
    url: %s
    streams: [ bench:in ]
    body_key: body
    consumer_group: bench
    client_id: benthos-1
    create_streams: false
    start_from_oldest: true
    limit: 1000
output:
  stdout: {}
`,
	},
}

// runPeers measures every peer case: runs alternate between the tools,
// medians are kept, and the rows are merged into the JSON of make bench.
func runPeers(bin, peer, out string, n, runs int, only string) error {
	start := time.Now()
	peer, err := filepath.Abs(peer)
	if err != nil {
		return err
	}
	b, done, err := newBench(bin, only)
	if err != nil {
		return err
	}
	defer done()
	srv, dir := b.srv, b.dir
	fmt.Fprintf(os.Stderr, "redis-bench: %s; redis-server %s on %s; peer %s; %d runs each, alternating\n", machine(), srv.version, srv.addr, peer, runs)
	input := filepath.Join(dir, "system.json")
	if err := writeInput(input, n, 0, false, systemMetric); err != nil {
		return err
	}
	if lastByHost, err = lastFieldsByHost(input); err != nil {
		return err
	}
	rows := make([]row, 0, len(peerCases))
	for _, c := range peerCases {
		if !b.wanted(c.name) {
			continue
		}
		var ours, theirs []procStats
		for i := 0; i < runs; i++ {
			o, err := b.runPeerCase(c, input, n, "")
			if err != nil {
				return fmt.Errorf("%s, ours: %w", c.name, err)
			}
			p, err := b.runPeerCase(c, input, n, peer)
			if err != nil {
				return fmt.Errorf("%s, Benthos: %w", c.name, err)
			}
			ours, theirs = append(ours, o), append(theirs, p)
			fmt.Fprintf(os.Stderr, "redis-bench: %s run %d: ours %.2fs (CPU %.2fs, %.0f MiB), Benthos %.2fs (CPU %.2fs, %.0f MiB)\n",
				c.name, i+1, o.wall.Seconds(), o.cpu.Seconds(), o.rssMiB, p.wall.Seconds(), p.cpu.Seconds(), p.rssMiB)
		}
		o, p := medianStats(ours), medianStats(theirs)
		ratio := &peerRatio{
			Peer:      "Benthos v4.24.0",
			PeerWallS: p.wall.Seconds(), PeerCPUS: p.cpu.Seconds(), PeerRSSMiB: p.rssMiB,
			OursWallS: o.wall.Seconds(), OursCPUS: o.cpu.Seconds(), OursRSSMiB: o.rssMiB,
			Wall: o.wall.Seconds() / p.wall.Seconds(), CPU: o.cpu.Seconds() / p.cpu.Seconds(), RSS: o.rssMiB / p.rssMiB,
			Speedup: p.wall.Seconds() / o.wall.Seconds(),
		}
		name := "peer " + c.name + ": redis-output"
		if c.input {
			name = "peer stream input: redis-input"
		}
		rows = append(rows, row{Name: name + " vs Benthos", MetricsPerS: num(float64(n) / o.wall.Seconds()),
			RSSMiB: num(o.rssMiB), CPUUsPerMetric: num(float64(o.cpu.Microseconds()) / float64(n)), VsPeer: ratio,
			Note: fmt.Sprintf("median of %d alternating runs, %d metrics", runs, n)})
	}
	printPeers(rows)
	if err := mergeRows(out, rows); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "redis-bench: rows merged into %s; whole run %s\n", out, time.Since(start).Round(time.Second))
	for _, r := range rows {
		if r.VsPeer.Speedup < 5 || r.VsPeer.RSS >= 1 {
			fmt.Fprintf(os.Stderr, "redis-bench: %s: %.1fx the peer's throughput at %.2f of its peak RSS (target: 5x at less)\n",
				r.Name, r.VsPeer.Speedup, r.VsPeer.RSS)
		}
	}
	return nil
}

func medianStats(s []procStats) procStats {
	pick := func(f func(procStats) float64) float64 {
		v := make([]float64, len(s))
		for i := range s {
			v[i] = f(s[i])
		}
		sort.Float64s(v)
		return v[len(v)/2]
	}
	return procStats{
		wall:   time.Duration(pick(func(p procStats) float64 { return float64(p.wall) })),
		cpu:    time.Duration(pick(func(p procStats) float64 { return float64(p.cpu) })),
		rssMiB: pick(func(p procStats) float64 { return p.rssMiB }),
	}
}

// runPeerCase runs one tool once on a flushed server and checks what
// landed; peer is the Benthos binary, "" for ours.
func (b *bench) runPeerCase(c peerCase, input string, n int, peer string) (procStats, error) {
	if err := b.srv.flush(); err != nil {
		return procStats{}, err
	}
	url := "redis://" + b.srv.addr
	var cmd *exec.Cmd
	if peer != "" {
		conf := filepath.Join(b.dir, "benthos.yaml")
		if err := writeFile(conf, fmt.Sprintf(c.peer, url)); err != nil {
			return procStats{}, err
		}
		cmd = exec.Command(peer, "-c", conf)
	} else if c.input {
		conf := filepath.Join(b.dir, "input.conf")
		err := writeFile(conf, fmt.Sprintf("[[inputs.redis_consumer]]\n  address = %q\n  mode = \"stream\"\n  key = \"bench:in\"\n"+
			"  group = \"bench\"\n  consumer = \"bench-1\"\n  block = \"100ms\"\n%s", b.srv.addr, c.ours))
		if err != nil {
			return procStats{}, err
		}
		cmd = exec.Command(filepath.Join(b.bin, "redis-input"), "-config", conf)
	} else {
		conf, err := b.config("peer", c.ours)
		if err != nil {
			return procStats{}, err
		}
		cmd = exec.Command(filepath.Join(b.bin, "redis-output"), "-config", conf)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if c.input {
		return b.runStreamDrain(cmd, &stderr, n, peer != "")
	}

	var sub *subscriber
	if c.name == "publish" {
		var err error
		if sub, err = b.subscribe("telegraf:cpu"); err != nil {
			return procStats{}, err
		}
		defer sub.close()
	}
	in, err := os.Open(input)
	if err != nil {
		return procStats{}, err
	}
	defer in.Close()
	cmd.Stdin = in
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return procStats{}, err
	}
	peak := watchRSS(cmd.Process.Pid)
	defer peak.end()
	// A tool stuck retrying (a config it cannot honour) is stopped, not
	// waited for.
	timer := time.AfterFunc(5*time.Minute, func() {
		if err := cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			fmt.Fprintf(os.Stderr, "redis-bench: killing %s: %v\n", cmd.Path, err)
		}
	})
	err = cmd.Wait()
	timer.Stop()
	wall := time.Since(start)
	if err != nil {
		return procStats{}, fmt.Errorf("%w: %s", err, head(stderr.String()))
	}
	if bad := badLog(stderr.String()); bad != "" {
		return procStats{}, fmt.Errorf("logged errors: %s", head(bad))
	}
	st := statsOf(cmd, wall, peak)
	if sub != nil {
		if err := sub.wait(int64(n)); err != nil {
			return procStats{}, err
		}
	} else if err := c.check(b, n); err != nil {
		return procStats{}, err
	}
	return st, nil
}

// head is the start of a long log, for an error message.
func head(s string) string {
	if len(s) > 2000 {
		return s[:2000] + "..."
	}
	return s
}

// badLog returns the error lines of either tool's log.
func badLog(log string) string {
	var bad []string
	for _, l := range strings.Split(log, "\n") {
		if strings.HasPrefix(l, "E! ") || strings.Contains(l, "level=error") || strings.Contains(l, "level=fatal") {
			bad = append(bad, l)
		}
	}
	return strings.Join(bad, "\n")
}

// lastByHost is the last metric of each host in the peer input: what the
// hashes must hold.
var lastByHost map[string]map[string]float64

func lastFieldsByHost(path string) (map[string]map[string]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	last := make(map[string]map[string]float64)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m struct {
			Fields map[string]float64
			Tags   map[string]string
		}
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return nil, err
		}
		last[m.Tags["host"]] = m.Fields
	}
	return last, sc.Err()
}

// checkHashes: one hash per host, holding exactly the fields of the last
// metric of that host in the input.
func checkHashes(b *bench, _ int) error {
	if err := b.check("return redis.call('DBSIZE')", int64(len(lastByHost))); err != nil {
		return err
	}
	c, err := b.srv.conn()
	if err != nil {
		return err
	}
	defer c.Close()
	for host, fields := range lastByHost {
		key := "telegraf:cpu:" + host
		got, err := redis.StringMap(c.Do("HGETALL", key))
		if err != nil {
			return err
		}
		if len(got) != len(fields) {
			return fmt.Errorf("%s has %d fields, want %d", key, len(got), len(fields))
		}
		for k, v := range fields {
			var f float64
			if _, err := fmt.Sscan(got[k], &f); err != nil || f != v {
				return fmt.Errorf("%s field %s = %q, want %v", key, k, got[k], v)
			}
		}
	}
	return nil
}

// runStreamDrain prefills the stream with n line protocol entries (field
// "body"), starts the tool and times it until the group has nothing
// pending and no lag; then stops it (stdin closed, or SIGTERM for the
// peer) and checks that every entry came out on stdout once.
func (b *bench) runStreamDrain(cmd *exec.Cmd, stderr *bytes.Buffer, n int, peer bool) (procStats, error) {
	if err := b.prefill(n, "body"); err != nil {
		return procStats{}, err
	}
	c, err := b.srv.conn()
	if err != nil {
		return procStats{}, err
	}
	defer c.Close()
	if _, err := c.Do("XGROUP", "CREATE", "bench:in", "bench", "0"); err != nil {
		return procStats{}, err
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return procStats{}, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return procStats{}, err
	}
	var lines atomic.Int64
	copied := make(chan struct{})
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return procStats{}, err
	}
	peak := watchRSS(cmd.Process.Pid)
	defer peak.end()
	go func() {
		defer close(copied)
		buf := make([]byte, 1<<20)
		for {
			k, err := stdout.Read(buf)
			lines.Add(int64(bytes.Count(buf[:k], []byte("\n"))))
			if err != nil {
				return
			}
		}
	}()
	var end time.Time
	deadline := time.Now().Add(3 * time.Minute)
	for {
		drained, err := groupDrained(c)
		if err != nil {
			stopProcess(cmd)
			return procStats{}, err
		}
		if drained {
			end = time.Now()
			break
		}
		if time.Now().After(deadline) {
			stopProcess(cmd)
			return procStats{}, fmt.Errorf("not drained after 3 minutes: %s", stderr.String())
		}
		time.Sleep(2 * time.Millisecond)
	}
	if peer {
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			fmt.Fprintf(os.Stderr, "redis-bench: SIGTERM to %s: %v\n", cmd.Path, err)
		}
	}
	stdin.Close()
	<-copied
	err = cmd.Wait()
	var exit *exec.ExitError
	if err != nil && !(peer && errors.As(err, &exit)) {
		return procStats{}, fmt.Errorf("%w: %s", err, stderr.String())
	}
	log := stderr.String()
	if peer {
		// Stopped by SIGTERM in the middle of its blocking read.
		log = strings.ReplaceAll(log, `level=error msg="Error from redis: context canceled" @service=benthos label="" path=root.input`, "")
	}
	if bad := badLog(log); bad != "" {
		return procStats{}, fmt.Errorf("logged errors: %s", head(bad))
	}
	if got := lines.Load(); got != int64(n) {
		return procStats{}, fmt.Errorf("%d lines on stdout for %d entries", got, n)
	}
	st := statsOf(cmd, end.Sub(start), peak)
	return st, nil
}

// groupDrained: the group has read every entry (lag 0) and acknowledged
// them all (pending 0).
func groupDrained(c redis.Conn) (bool, error) {
	groups, err := redis.Values(c.Do("XINFO", "GROUPS", "bench:in"))
	if err != nil {
		return false, err
	}
	for _, g := range groups {
		// Values are mixed: strings, integers, a nil lag.
		vals, err := redis.Values(g, nil)
		if err != nil {
			return false, err
		}
		m := make(map[string]string, len(vals)/2)
		for i := 0; i+1 < len(vals); i += 2 {
			k, err := redis.String(vals[i], nil)
			if err != nil {
				return false, err
			}
			switch v := vals[i+1].(type) {
			case []byte:
				m[k] = string(v)
			default:
				m[k] = fmt.Sprint(v)
			}
		}
		if m["name"] == "bench" {
			return m["pending"] == "0" && m["lag"] == "0", nil
		}
	}
	return false, errors.New("group bench is gone")
}

// mergeRows replaces rows of the same name in the JSON file of make bench
// (or starts it), keeping the others.
func mergeRows(path string, rows []row) error {
	var all []row
	if data, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(data, &all); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	for _, r := range rows {
		replaced := false
		for i := range all {
			if all[i].Name == r.Name {
				all[i], replaced = r, true
			}
		}
		if !replaced {
			all = append(all, r)
		}
	}
	data, err := json.MarshalIndent(all, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644) //nolint:gosec // results for every reader, as the repository's files
}

func printPeers(rows []row) {
	fmt.Println("| job | peer wall s | ours wall s | ours/peer wall | ours/peer CPU | peak RSS peer / ours MiB | throughput vs peer | ours CPU µs/metric |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		v := r.VsPeer
		fmt.Printf("| %s | %.2f | %.2f | %.3f | %.3f | %.0f / %.0f | %.1fx | %.2f |\n", strings.TrimPrefix(r.Name, "peer "),
			v.PeerWallS, v.OursWallS, v.Wall, v.CPU, v.PeerRSSMiB, v.OursRSSMiB, v.Speedup, *r.CPUUsPerMetric)
	}
}
