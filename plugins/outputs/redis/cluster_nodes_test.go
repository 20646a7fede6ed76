package redis

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/mna/redisc"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

// Cluster writes go per node, every node at once: these tests watch what
// each master holds.

// hostSeqs are metrics from..to-1 over hosts hosts (tag host "h<i%hosts>").
func hostSeqs(from, to, hosts int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, `{"fields":{"seq":%d},"name":"m","tags":{"host":"h%d"},"timestamp":%d}`+"\n", i, i%hosts, 1795552004+i)
	}
	return b.String()
}

// orderedSeqs is the seqs of the stream at key, in order, read from srv.
func orderedSeqs(t *testing.T, srv *redistest.Server, key string) []int {
	t.Helper()
	vals, err := redis.Values(srv.Do("XRANGE", key, "-", "+"), nil)
	if err != nil {
		t.Fatal(err)
	}
	seqs := make([]int, 0, len(vals))
	for _, v := range vals {
		kv, err := redis.StringMap(v.([]interface{})[1], nil)
		if err != nil {
			t.Fatalf("stream entry %v: %v", v, err)
		}
		n, err := strconv.Atoi(strings.TrimSuffix(kv["seq"], "i"))
		if err != nil {
			t.Fatalf("seq %q of %s", kv["seq"], key)
		}
		seqs = append(seqs, n)
	}
	return seqs
}

// runPipe runs r on a pipe; the returned close ends the input and waits
// for Run to return.
func runPipe(t *testing.T, r *Redis, logs fmt.Stringer) (io.Writer, *Stats, func()) {
	t.Helper()
	pr, pw := io.Pipe()
	stats := &Stats{}
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background(), pr, stats) }()
	return pw, stats, func() {
		t.Helper()
		pw.Close()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("%v\n%s", err, logs)
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("Run did not return 60s after its input ended:\n%s", logs)
		}
	}
}

// waitWritten waits until stats count n metrics written.
func waitWritten(t *testing.T, stats *Stats, n int64, logs fmt.Stringer) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for stats.Written.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("wrote %d of %d:\n%s", stats.Written.Load(), n, logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestClusterBatchOverEveryMasterIntegration: one batch of 3,000 metrics
// over 300 keys, which a 3-master cluster spreads over every master, is
// written once: each master holds its keys' entries, each once and in
// order. Hostile: the same batch written again by a second plugin, whose
// connections and slot map are its own, doubles each key exactly.
func TestClusterBatchOverEveryMasterIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs redis-server (a Redis Cluster)")
	}
	c := redistest.StartCluster(t, 3, 0)
	const n, hosts = 3000, 300
	for round := 1; round <= 2; round++ {
		logs := &syncBuffer{}
		r := clusterPlugin(t, c, logs, func(r *Redis) {
			r.Mode, r.Key, r.MetricBatchSize = "stream", `e:{{.Tag "host"}}`, n
		})
		stats := &Stats{}
		if err := r.Run(context.Background(), strings.NewReader(hostSeqs(0, n, hosts)), stats); err != nil {
			t.Fatalf("round %d: %v\n%s", round, err, logs)
		}
		if stats.Written.Load() != n {
			t.Fatalf("round %d: wrote %d of %d\n%s", round, stats.Written.Load(), n, logs)
		}
	}
	perMaster := map[string]int{}
	for h := 0; h < hosts; h++ {
		key := fmt.Sprintf("e:h%d", h)
		srv := c.MasterFor(key)
		seqs := orderedSeqs(t, srv, key)
		perMaster[srv.Addr]++
		if len(seqs) != 2*n/hosts {
			t.Fatalf("%s holds %d entries, want %d: %v", key, len(seqs), 2*n/hosts, seqs)
		}
		for j, s := range seqs {
			if want := h + (j%(n/hosts))*hosts; s != want {
				t.Fatalf("%s: entry %d is seq %d, want %d: %v", key, j, s, want, seqs)
			}
		}
	}
	if len(perMaster) != 3 {
		t.Fatalf("keys on %d masters, want 3: %v", len(perMaster), perMaster)
	}
	t.Logf("300 keys over the masters: %v", perMaster)

	// One round trip a node: with deduplicate, each write loads the
	// script once on each node it writes to, ahead of its pipeline.
	for _, s := range c.Nodes {
		s.Do("CONFIG", "RESETSTAT")
	}
	logs := &syncBuffer{}
	r := clusterPlugin(t, c, logs, func(r *Redis) {
		r.Mode, r.Key, r.MetricBatchSize, r.Deduplicate = "stream", `ed:{{.Tag "host"}}`, n, true
	})
	stats := &Stats{}
	if err := r.Run(context.Background(), strings.NewReader(hostSeqs(0, n, hosts)), stats); err != nil || stats.Written.Load() != n {
		t.Fatalf("deduplicate: %v, wrote %d of %d\n%s", err, stats.Written.Load(), n, logs)
	}
	for _, s := range c.Nodes {
		info, err := redis.String(s.Do("INFO", "commandstats"), nil)
		if err != nil {
			t.Fatal(err)
		}
		// Redis 7 counts SCRIPT LOAD on its own line; Redis 6.2 counts
		// every SCRIPT subcommand together, and the plugin sends no other.
		loads := 0
		for _, line := range strings.Split(info, "\r\n") {
			for _, prefix := range []string{"cmdstat_script|load:calls=", "cmdstat_script:calls="} {
				if rest, ok := strings.CutPrefix(line, prefix); ok {
					if loads, err = strconv.Atoi(strings.Split(rest, ",")[0]); err != nil {
						t.Fatalf("%s: %q", s.Addr, line)
					}
				}
			}
		}
		// A write per flush: the batch may take a few.
		if loads < 1 || loads > 5 {
			t.Fatalf("%s: SCRIPT LOAD %d times for one batch over its ~100 keys, want one per write (a pipeline per node)", s.Addr, loads)
		}
	}
}

// TestClusterDeadMasterDoesNotStallOthersIntegration: a master of a
// 3-master cluster without replicas is SIGKILLed (the cluster serves the
// other slots: cluster-require-full-coverage no); the first metric of
// every batch is for a key on it. The keys of the other masters are
// written all the same, while the dead master's wait; once it is back,
// they follow, and every metric is in its key once.
func TestClusterDeadMasterDoesNotStallOthersIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs redis-server (a Redis Cluster)")
	}
	c := redistest.StartCluster(t, 3, 0)
	for _, s := range c.Nodes {
		s.Do("CONFIG", "SET", "cluster-require-full-coverage", "no")
	}
	const hosts = 30
	owner := map[string]*redistest.Server{}
	for h := 0; h < hosts; h++ {
		key := fmt.Sprintf("dm:h%d", h)
		owner[key] = c.MasterFor(key)
	}
	victim := owner["dm:h0"]
	logs := &syncBuffer{}
	r := clusterPlugin(t, c, logs, func(r *Redis) { r.Mode, r.Key = "stream", `dm:{{.Tag "host"}}` })
	in, stats, stop := runPipe(t, r, logs)
	if _, err := io.WriteString(in, hostSeqs(0, 300, hosts)); err != nil {
		t.Fatal(err)
	}
	waitWritten(t, stats, 300, logs)
	victim.Kill()
	for i := 300; i < 900; i += 30 {
		if _, err := io.WriteString(in, hostSeqs(i, i+30, hosts)); err != nil {
			t.Fatal(err)
		}
	}
	// Every living master's keys get all 30 of their metrics.
	deadline := time.Now().Add(30 * time.Second)
	for h := 0; h < hosts; h++ {
		key := fmt.Sprintf("dm:h%d", h)
		if owner[key] == victim {
			continue
		}
		conn := owner[key].Conn()
		for {
			got, err := redis.Int(conn.Do("XLEN", key))
			if err == nil && got == 30 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s on a living master holds %d of 30 entries while %s is down (%v):\n%s", key, got, victim.Addr, err, logs)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	victim.Restart()
	c.WaitOK()
	stop()
	for h := 0; h < hosts; h++ {
		key := fmt.Sprintf("dm:h%d", h)
		seqs := orderedSeqs(t, owner[key], key)
		if len(seqs) != 30 {
			t.Fatalf("%s holds %d entries, want 30: %v\n%s", key, len(seqs), seqs, logs)
		}
		for j, s := range seqs {
			if s != h+j*hosts {
				t.Fatalf("%s: entry %d is seq %d, want %d: %v", key, j, s, h+j*hosts, seqs)
			}
		}
	}
}

// nodeID is the cluster node id of s.
func nodeID(t *testing.T, s *redistest.Server) string {
	t.Helper()
	id, err := redis.String(s.Do("CLUSTER", "MYID"), nil)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestClusterSlotMigratedMidStreamIntegration: the slot of one key moves
// to another master while metrics stream in. During the migration the
// key's commands are answered ASK (the key is on the target already, and
// the source no longer has it) while the other keys are written; once
// the slot is the target's, the plugin's slot map is stale and the first
// write is answered MOVED by the old node, while the other nodes write.
// Every metric ends in its key once, in order, and the key is on the
// new master.
func TestClusterSlotMigratedMidStreamIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs redis-server (a Redis Cluster)")
	}
	c := redistest.StartCluster(t, 3, 0)
	const hosts = 20
	key := "mv:h0"
	slot := redisc.Slot(key)
	from := c.MasterFor(key)
	var to *redistest.Server
	for _, s := range c.Nodes {
		if s != from {
			to = s
			break
		}
	}
	logs := &syncBuffer{}
	r := clusterPlugin(t, c, logs, func(r *Redis) { r.Mode, r.Key = "stream", `mv:{{.Tag "host"}}` })
	in, stats, stop := runPipe(t, r, logs)
	write := func(first, end int) {
		if _, err := io.WriteString(in, hostSeqs(first, end, hosts)); err != nil {
			t.Fatal(err)
		}
	}
	write(0, 200)
	waitWritten(t, stats, 200, logs)

	// Migrating: the key moves to the target, the slot is not yet its.
	fromID, toID := nodeID(t, from), nodeID(t, to)
	to.Do("CLUSTER", "SETSLOT", slot, "IMPORTING", fromID)
	from.Do("CLUSTER", "SETSLOT", slot, "MIGRATING", toID)
	from.Do("MIGRATE", "127.0.0.1", to.Port, "", 0, 5000, "KEYS", key)
	write(200, 400)
	// The other keys are written meanwhile: all but the 10 of mv:h0.
	waitWritten(t, stats, 390, logs)
	if got := stats.Written.Load(); got != 390 {
		t.Fatalf("wrote %d of 390 while %s is migrating (its 10 metrics are answered ASK)\n%s", got, key, logs)
	}
	for _, s := range c.Nodes {
		s.Do("CLUSTER", "SETSLOT", slot, "NODE", toID)
	}
	waitWritten(t, stats, 400, logs)
	// Moved: the plugin's map may still name the old node.
	write(400, 600)
	waitWritten(t, stats, 600, logs)
	stop()
	if moved := c.MasterFor(key); moved != to {
		t.Fatalf("%s is on %s, want %s", key, moved.Addr, to.Addr)
	}
	for h := 0; h < hosts; h++ {
		k := fmt.Sprintf("mv:h%d", h)
		seqs := orderedSeqs(t, c.MasterFor(k), k)
		if len(seqs) != 30 {
			t.Fatalf("%s holds %d entries, want 30: %v\n%s", k, len(seqs), seqs, logs)
		}
		for j, s := range seqs {
			if s != h+j*hosts {
				t.Fatalf("%s: entry %d is seq %d, want %d: %v", k, j, s, h+j*hosts, seqs)
			}
		}
	}
	if n, err := redis.Int(from.Do("CLUSTER", "COUNTKEYSINSLOT", slot), nil); err != nil || n != 0 {
		t.Fatalf("the old master still holds %d keys of slot %d (%v)", n, slot, err)
	}
}

// TestClusterSameKeysTwoWritersIntegration: two plugins write the same
// keys of a 3-master cluster at the same time, each its own metrics:
// every metric is in its key once, and each plugin's metrics of a key
// are in the order it wrote them.
func TestClusterSameKeysTwoWritersIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs redis-server (a Redis Cluster)")
	}
	c := redistest.StartCluster(t, 3, 0)
	const n, hosts = 4000, 40
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for w := 0; w < 2; w++ {
		logs := &syncBuffer{}
		r := clusterPlugin(t, c, logs, func(r *Redis) {
			r.Mode, r.Key, r.MetricBatchSize = "stream", `tw:{{.Tag "host"}}`, 500
		})
		wg.Add(1)
		go func() {
			defer wg.Done()
			stats := &Stats{}
			err := r.Run(context.Background(), strings.NewReader(hostSeqs(w*n, (w+1)*n, hosts)), stats)
			if err == nil && stats.Written.Load() != n {
				err = fmt.Errorf("wrote %d of %d", stats.Written.Load(), n)
			}
			if err != nil {
				errs <- fmt.Errorf("writer %d: %w\n%s", w, err, logs)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[int]int{}
	for h := 0; h < hosts; h++ {
		key := fmt.Sprintf("tw:h%d", h)
		last := [2]int{-1, -1}
		for _, s := range orderedSeqs(t, c.MasterFor(key), key) {
			seen[s]++
			w := s / n
			if s <= last[w] {
				t.Fatalf("%s: writer %d's seq %d after its %d", key, w, s, last[w])
			}
			last[w] = s
		}
	}
	for i := 0; i < 2*n; i++ {
		if seen[i] != 1 {
			t.Fatalf("seq %d is in Redis %d times", i, seen[i])
		}
	}
}
