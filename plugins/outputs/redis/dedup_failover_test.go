package redis

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/influxdata/telegraf/config"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/faultproxy"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

// Failovers with deduplicate: writes applied on a master and sent again
// (WAIT found too few replicas, or the reply was lost with the master)
// are skipped, so a stream or a list holds each metric once.

const failoverHosts = 10

// hostSeqLines are metrics from..to-1, spread over failoverHosts hosts.
func hostSeqLines(from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, `{"fields":{"seq":%d},"name":"m","tags":{"host":"h%d"},"timestamp":%d}`+"\n", i, i%failoverHosts, 1795552004+i)
	}
	return b.String()
}

var anySeqRE = regexp.MustCompile(`\bseq=(\d+)i?\b`)

// countSeqs counts each seq in the values of one stream entry or list
// element: fields named seq (stream) or line protocol (list).
func countSeqs(t *testing.T, mode string, values []interface{}, seen map[int]int) {
	t.Helper()
	for _, v := range values {
		var s string
		if mode == "stream" {
			kv, err := redis.StringMap(v.([]interface{})[1], nil)
			if err != nil {
				t.Fatalf("stream entry %v: %v", v, err)
			}
			s = strings.TrimSuffix(kv["seq"], "i")
		} else {
			m := anySeqRE.FindStringSubmatch(string(v.([]byte)))
			if m == nil {
				t.Fatalf("list element %q", v)
			}
			s = m[1]
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("seq %q", s)
		}
		seen[int(f)]++
	}
}

// runFailover feeds n metrics to r's run, calling fault after the first
// thousand are written and atHalf halfway, and waits for the run's end.
func runFailover(t *testing.T, r *Redis, logs fmt.Stringer, n int, fault, atHalf func()) {
	t.Helper()
	pr, pw := io.Pipe()
	stats := &Stats{}
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background(), pr, stats) }()
	if _, err := io.WriteString(pw, hostSeqLines(0, 1000)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for stats.Written.Load() != 1000 {
		if time.Now().After(deadline) {
			t.Fatalf("wrote %d of 1000:\n%s", stats.Written.Load(), logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	fault()
	for i := 1000; i < n; i += 100 {
		if _, err := io.WriteString(pw, hostSeqLines(i, i+100)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
		if i == (n+1000)/2 {
			atHalf()
		}
	}
	pw.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%v\n%s", err, logs)
		}
	case <-time.After(90 * time.Second):
		t.Fatalf("not done after the failover:\n%s", logs)
	}
}

// waitForASkip waits until the plugin skips a write sent again after it
// was applied. After a failover the promoted replica has no replica of its
// own until the old master rejoins, so with wait_replicas = 1 WAIT refuses
// what it applies and the writes are sent again: a test that brings the
// old master back only after that has a retry of applied writes whatever
// the timing of the kill.
func waitForASkip(t *testing.T, logs fmt.Stringer) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for skippedIn(logs.String()) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no write sent again within 60s of the failover:\n%s", logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkOnce fails unless seen holds each of 0..n-1 once, and logs the
// writes skipped as already applied.
func checkOnce(t *testing.T, what string, seen map[int]int, n int, logs fmt.Stringer) {
	t.Helper()
	missing, dups := 0, 0
	for i := 0; i < n; i++ {
		switch {
		case seen[i] == 0:
			missing++
		case seen[i] > 1:
			dups += seen[i] - 1
		}
	}
	t.Logf("%s: %d metrics, %d missing, %d written twice; %d writes sent again after they were applied, skipped",
		what, n, missing, dups, skippedIn(logs.String()))
	if missing > 0 || dups > 0 || len(seen) != n {
		t.Fatalf("%d missing, %d written twice, %d distinct\n%s", missing, dups, len(seen), logs)
	}
	if skippedIn(logs.String()) == 0 {
		t.Fatalf("no write was sent again after it was applied: the failover proved nothing\n%s", logs)
	}
}

// TestClusterFailoverNoDuplicatesIntegration: a 3-master, 3-replica
// Redis Cluster; stream and list keys over ten slots, wait_replicas = 1;
// the master of one key is SIGKILLed mid-stream and brought back halfway.
func TestClusterFailoverNoDuplicatesIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs redis-server (a Redis Cluster)")
	}
	c := redistest.StartCluster(t, 3, 1)
	const n = 3000
	for _, mode := range []string{"stream", "list"} {
		t.Run(mode, func(t *testing.T) {
			c.WaitOK()
			logs := &syncBuffer{}
			prefix := mode[:1] + "d:"
			r := clusterPlugin(t, c, logs, func(r *Redis) {
				r.Mode, r.Key, r.WaitReplicas, r.Deduplicate = mode, prefix+`{{.Tag "host"}}`, 1, true
			})
			victim := c.MasterFor(prefix + "h3")
			// The old master comes back only once a write was skipped:
			// until then the promoted replica has no replica of its own,
			// so WAIT refuses the writes it applied and they are sent
			// again, a retry of applied writes whatever the timing.
			runFailover(t, r, logs, n, victim.Kill, func() {
				waitForASkip(t, logs)
				victim.Restart()
			})
			c.WaitOK()
			seen := map[int]int{}
			for h := 0; h < failoverHosts; h++ {
				key := fmt.Sprintf("%sh%d", prefix, h)
				var vals []interface{}
				if mode == "stream" {
					vals = mustValues(t)(clusterDo(t, c, "XRANGE", key, "-", "+"), nil)
				} else {
					vals = mustValues(t)(clusterDo(t, c, "LRANGE", key, 0, -1), nil)
				}
				countSeqs(t, mode, vals, seen)
			}
			checkOnce(t, mode+" through a cluster master's SIGKILL", seen, n, logs)
		})
	}
}

// TestSentinelFailoverNoDuplicatesIntegration: a master, a replica and
// three sentinels, wait_replicas = 1; the master is SIGKILLed mid-stream,
// the sentinels promote the replica, and the old master rejoins halfway.
func TestSentinelFailoverNoDuplicatesIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs redis-server (sentinels)")
	}
	for _, mode := range []string{"stream", "list"} {
		t.Run(mode, func(t *testing.T) {
			// With AOF both: on a loaded machine the sentinels may fail
			// over again, back to the restarted old master, and one that
			// came back empty would take what WAIT acknowledged with it
			// (the hazard Sentinel's docs warn of).
			master := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always")
			replica := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always", "--replicaof", "127.0.0.1", strconv.Itoa(master.Port))
			waitFor(t, func() bool {
				info, err := redis.String(replica.Conn().Do("INFO", "replication"))
				return err == nil && strings.Contains(info, "master_link_status:up")
			})
			var sentinels []string
			for i := 0; i < 3; i++ {
				sentinels = append(sentinels, redistest.StartSentinel(t, "dups", master).Addr)
			}
			logs := &syncBuffer{}
			r := New()
			r.Connection, r.Addresses, r.SentinelMaster = "sentinel", sentinels, "dups"
			r.Mode, r.Key, r.WaitReplicas, r.Deduplicate = mode, `d:{{.Tag "host"}}`, 1, true
			r.Timeout = config.Duration(500 * time.Millisecond)
			r.FlushInterval = config.Duration(20 * time.Millisecond)
			r.Log = newPlugin(t, "127.0.0.1:1", logs, nil).Log
			if err := r.Init(); err != nil {
				t.Fatal(err)
			}
			const n = 3000
			runFailover(t, r, logs, n, master.Kill, func() {
				redistest.Promoted(t, replica) // the sentinels' failover
				// Restarted once every sentinel names the new master, so
				// that it rejoins as its replica.
				sentinelsName(t, sentinels, "dups", replica.Addr)
				// As in the cluster test: the old master rejoins once a
				// write the promoted replica applied alone was sent again.
				waitForASkip(t, logs)
				master.Restart() // rejoins as the new master's replica
			})
			seen := map[int]int{}
			c := replica.Conn()
			for h := 0; h < failoverHosts; h++ {
				key := fmt.Sprintf("d:h%d", h)
				var vals []interface{}
				if mode == "stream" {
					vals = mustValues(t)(c.Do("XRANGE", key, "-", "+"))
				} else {
					vals = mustValues(t)(c.Do("LRANGE", key, 0, -1))
				}
				countSeqs(t, mode, vals, seen)
			}
			checkOnce(t, mode+" through a sentinel failover", seen, n, logs)
		})
	}
}

// TestRedisKilledMidStreamNoDuplicatesIntegration: Redis (AOF, fsync
// always) is SIGKILLed three to nine times while 30,000 metrics stream in,
// and restarted each time; pipelined writes it applied without replying
// are sent again, and skipped. Its replies reach the plugin 100 ms late
// (a proxy holds them, as for a Redis in another zone), and each kill
// comes as soon as Redis is seen applying a write: the reply of that
// write is still held then, and dies with the connection.
//
// After each restart the AOF is rewritten, as the README asks: a Redis
// killed while appending a transaction (a script's effects) to its AOF
// loads the file cut inside it, and a later load of that file applies
// the front of the cut transaction, or drops what follows it (Redis
// 7.0.15, reproduced with plain MULTI/EXEC): here that gave a script's
// entries without their ids, written again by the retry.
func TestRedisKilledMidStreamNoDuplicatesIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs redis-server")
	}
	const n = 30000
	for _, mode := range []string{"stream", "list"} {
		t.Run(mode, func(t *testing.T) {
			srv := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always")
			proxy := faultproxy.Start(t, srv.Addr)
			proxy.DelayReplies(100 * time.Millisecond)
			logs := &syncBuffer{}
			r := newPlugin(t, proxy.Addr, logs, func(r *Redis) {
				r.Mode, r.Key, r.Timeout, r.Deduplicate = mode, `d:{{.Tag "host"}}`, config.Duration(time.Second), true
			})
			pr, pw := io.Pipe()
			stats := &Stats{}
			done := make(chan error, 1)
			go func() { done <- r.Run(context.Background(), pr, stats) }()
			go func() {
				for i := 0; i < n; i += 500 {
					if _, err := io.WriteString(pw, hostSeqLines(i, i+500)); err != nil {
						t.Error(err)
						return
					}
				}
				pw.Close()
			}()
			// Three kills at least, more (up to nine) until one lands
			// between a write applied and its reply. Each comes as soon as
			// Redis is seen applying a write, while the proxy holds its
			// reply.
			length := "LLEN"
			if mode == "stream" {
				length = "XLEN"
			}
			applied := func() int {
				c, err := redis.Dial("tcp", srv.Addr, redis.DialConnectTimeout(time.Second))
				if err != nil {
					return -1
				}
				defer c.Close()
				total := 0
				for h := 0; h < failoverHosts; h++ {
					k, err := redis.Int(c.Do(length, fmt.Sprintf("d:h%d", h)))
					if err != nil {
						return -1
					}
					total += k
				}
				return total
			}
			kills := 0
			for k := 1; k <= 9 && (k <= 3 || skippedIn(logs.String()) == 0); k++ {
				kills++
				waitFor(t, func() bool { return stats.Written.Load() > int64(k*n/10) })
				if stats.Written.Load() == n {
					break // written whole before this kill
				}
				before := applied()
				for deadline := time.Now().Add(time.Second); applied() == before && time.Now().Before(deadline); {
					time.Sleep(100 * time.Microsecond)
				}
				srv.Kill()
				outages := strings.Count(logs.String(), "is back after")
				srv.Restart()
				rewriteAOF(t, srv)
				waitFor(t, func() bool {
					// Back, or everything was written before the kill.
					return strings.Count(logs.String(), "is back after") > outages || stats.Written.Load() == n
				})
			}
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("%v\n%s", err, logs)
				}
			case <-time.After(60 * time.Second):
				t.Fatalf("not done:\n%s", logs)
			}
			seen := map[int]int{}
			c := srv.Conn()
			for h := 0; h < failoverHosts; h++ {
				key := fmt.Sprintf("d:h%d", h)
				var vals []interface{}
				if mode == "stream" {
					vals = mustValues(t)(c.Do("XRANGE", key, "-", "+"))
				} else {
					vals = mustValues(t)(c.Do("LRANGE", key, 0, -1))
				}
				countSeqs(t, mode, vals, seen)
			}
			checkOnce(t, fmt.Sprintf("%s through %d SIGKILLs of Redis", mode, kills), seen, n, logs)
		})
	}
}

// rewriteAOF rewrites srv's AOF from memory (BGREWRITEAOF) and waits for
// the rewrite to end.
func rewriteAOF(t *testing.T, srv *redistest.Server) {
	t.Helper()
	srv.Do("BGREWRITEAOF")
	waitFor(t, func() bool {
		info, err := redis.String(srv.Conn().Do("INFO", "persistence"))
		return err == nil && strings.Contains(info, "aof_rewrite_in_progress:0") &&
			strings.Contains(info, "aof_rewrite_scheduled:0")
	})
}

// sentinelsName waits until every sentinel names addr as name's master.
func sentinelsName(t *testing.T, sentinels []string, name, addr string) {
	t.Helper()
	waitFor(t, func() bool {
		for _, s := range sentinels {
			c, err := redis.Dial("tcp", s, redis.DialConnectTimeout(time.Second), redis.DialReadTimeout(time.Second))
			if err != nil {
				return false
			}
			hp, err := redis.Strings(c.Do("SENTINEL", "get-master-addr-by-name", name))
			c.Close()
			if err != nil || len(hp) != 2 || hp[0]+":"+hp[1] != addr {
				return false
			}
		}
		return true
	})
}
