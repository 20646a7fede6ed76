package redis_consumer

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/influxdata/telegraf/config"
	"github.com/mna/redisc"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

// clusterKeysDo runs one command wherever its key lives now (MOVED and
// ASK followed).
func clusterKeysDo(t *testing.T, c *redistest.Cluster, cmd string, args ...interface{}) {
	t.Helper()
	var seeds []string
	for _, n := range c.Nodes {
		if n.Running() {
			seeds = append(seeds, n.Addr)
		}
	}
	cl := &redisc.Cluster{StartupNodes: seeds, DialOptions: []redis.DialOption{redis.DialConnectTimeout(time.Second)}}
	defer cl.Close()
	conn, err := redisc.RetryConn(cl.Get(), 10, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Do(cmd, args...); err != nil {
		t.Fatalf("%s %v: %v", cmd, args, err)
	}
}

// keysGathered triggers gathers until one more whole gather of want keys
// is out after the lines before, and returns that gather's series (the
// line without its time), sorted. A gather that fails (a node away) puts
// out nothing, and the next one is asked for.
func keysGathered(t *testing.T, r *running, before, want int) []string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		r.gather(t)
		wait := time.Now().Add(time.Second)
		for time.Now().Before(wait) && len(r.stdout.Lines()) < before+want {
			time.Sleep(10 * time.Millisecond)
		}
		if lines := r.stdout.Lines(); len(lines) >= before+want {
			// A gather puts its lines out in one write (output.write), so
			// the lines are whole gathers.
			if (len(lines)-before)%want != 0 {
				t.Fatalf("%d lines after the %d before: not whole gathers of %d keys", len(lines)-before, before, want)
			}
			var series []string
			for _, l := range lines[len(lines)-want:] {
				s, _ := lastField(t, l)
				series = append(series, s)
			}
			sort.Strings(series)
			return series
		}
		if time.Now().After(deadline) {
			t.Fatalf("no whole gather of %d keys within 60s (%d lines after %d)", want, len(r.stdout.Lines())-before, before)
		}
	}
}

// checkKeysOnce fails unless series has each of keys once.
func checkKeysOnce(t *testing.T, what string, series, keys []string) {
	t.Helper()
	got := map[string]int{}
	for _, s := range series {
		got[s]++
	}
	for _, k := range keys {
		s := fmt.Sprintf(`m,key=%s v=%q`, k, k)
		if got[s] != 1 {
			t.Fatalf("%s: %s read %d times", what, k, got[s])
		}
	}
	if len(series) != len(keys) {
		t.Fatalf("%s: %d metrics for %d keys", what, len(series), len(keys))
	}
}

// TestKeysOnAClusterIntegration: keys mode on a 3-master, 3-replica Redis
// Cluster reads the keys of every master, each once. Hostile: a slot in
// the middle of a migration (some of its keys moved, one copied so that
// both nodes hold it, the source MIGRATING and the target IMPORTING), the
// same slot's migration finished behind the plugin's slot map, keys moved
// one by one while gathers run, and a master SIGKILLed (its replica takes
// over).
func TestKeysOnAClusterIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs redis-server (a Redis Cluster)")
	}
	c := redistest.StartCluster(t, 3, 1)
	var keys []string
	for i := 0; i < 300; i++ {
		keys = append(keys, fmt.Sprintf("k:%03d", i))
	}
	// Ten keys of one slot, to migrate.
	for i := 0; i < 10; i++ {
		keys = append(keys, fmt.Sprintf("k:{mig}%d", i))
	}
	for _, k := range keys {
		clusterKeysDo(t, c, "SET", k, fmt.Sprintf(`m v=%q 1795552004000000000`, k))
	}
	clusterKeysDo(t, c, "SET", "other:1", "not matched")
	p, logs := newPlugin(t, "127.0.0.1:1", func(p *RedisConsumer) {
		p.Address, p.Connection, p.Addresses = "", "cluster", c.Addrs()
		p.Mode, p.Key, p.KeyTag = "keys", "k:*", "key"
		p.Timeout = config.Duration(2 * time.Second)
	})
	r := start(t, p, RunOptions{})
	lines := 0
	gather := func(what string) {
		t.Helper()
		checkKeysOnce(t, what, keysGathered(t, r, lines, len(keys)), keys)
		lines = len(r.stdout.Lines())
	}
	gather("every master")
	masters := map[*redistest.Server]bool{}
	for _, k := range keys {
		masters[c.MasterFor(k)] = true
	}
	if len(masters) != 3 {
		t.Fatalf("the keys are on %d masters, want 3", len(masters))
	}

	slot := redisc.Slot("k:{mig}0")
	from := c.MasterFor("k:{mig}0")
	var to *redistest.Server
	for m := range masters {
		if m != from {
			to = m
			break
		}
	}
	id := func(s *redistest.Server) string {
		v, err := redis.String(s.Do("CLUSTER", "MYID"), nil)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	fromID, toID := id(from), id(to)
	to.Do("CLUSTER", "SETSLOT", slot, "IMPORTING", fromID)
	from.Do("CLUSTER", "SETSLOT", slot, "MIGRATING", toID)
	for i := 0; i < 4; i++ {
		from.Do("MIGRATE", "127.0.0.1", to.Port, fmt.Sprintf("k:{mig}%d", i), 0, 5000)
	}
	// On both nodes: the source still has it (and serves it).
	from.Do("MIGRATE", "127.0.0.1", to.Port, "k:{mig}4", 0, 5000, "COPY")
	gather("a slot half migrated, a key on both nodes")

	from.Do("DEL", "k:{mig}4") // as MIGRATE without COPY would
	for i := 5; i < 10; i++ {
		from.Do("MIGRATE", "127.0.0.1", to.Port, fmt.Sprintf("k:{mig}%d", i), 0, 5000)
	}
	for m := range masters {
		m.Do("CLUSTER", "SETSLOT", slot, "NODE", toID)
	}
	gather("the migration finished behind the slot map")

	// Keys moved back one by one while gathers run: a gather reads none
	// of them twice, and the first after the move reads each once.
	from.Do("CLUSTER", "SETSLOT", slot, "IMPORTING", toID)
	to.Do("CLUSTER", "SETSLOT", slot, "MIGRATING", fromID)
	var wg sync.WaitGroup
	moving := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(moving)
		for i := 0; i < 10; i++ {
			if _, err := to.Conn().Do("MIGRATE", "127.0.0.1", from.Port, fmt.Sprintf("k:{mig}%d", i), 0, 5000); err != nil {
				t.Errorf("MIGRATE k:{mig}%d: %v", i, err)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	during := 0
	for done := false; !done; {
		select {
		case <-moving:
			done = true
		default:
		}
		before := len(r.stdout.Lines())
		r.gather(t)
		// One write a gather: lines after before are whole gathers.
		waitFor(t, "a gather during the migration", func() bool { return len(r.stdout.Lines()) > before })
		seen := map[string]int{}
		for _, l := range r.stdout.Lines()[before:] {
			s, _ := lastField(t, l)
			if seen[s]++; seen[s] > 1 {
				t.Fatalf("a gather during the migration read %s twice", s)
			}
		}
		during++
	}
	wg.Wait()
	for m := range masters {
		m.Do("CLUSTER", "SETSLOT", slot, "NODE", fromID)
	}
	lines = len(r.stdout.Lines())
	gather("after keys moved back one by one")
	t.Logf("%d gathers during the migration, none read a key twice", during)

	// A master fails; its replica takes over.
	victim := c.MasterFor("k:042")
	c.WaitReplicated("k:042")
	victim.Kill()
	gather("through a master's SIGKILL")
	if strings.Contains(logs.String(), "E! ") {
		t.Logf("errors while the master was away (retried):\n%s", logs)
	}
}
