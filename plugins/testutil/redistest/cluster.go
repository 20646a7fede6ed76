package redistest

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
)

// Cluster is a Redis Cluster of real redis-servers on loopback, made with
// redis-cli --cluster create.
type Cluster struct {
	Nodes []*Server
	t     testing.TB
}

// StartCluster runs masters masters with replicas replicas each (cluster
// node timeout 1 s, AOF with fsync always) and waits until the cluster is
// ok on every node.
func StartCluster(t testing.TB, masters, replicas int) *Cluster {
	t.Helper()
	refuseShort(t, "redistest.StartCluster", "a Redis Cluster")
	c := &Cluster{t: t}
	var addrs []string
	for i := 0; i < masters*(1+replicas); i++ {
		s := Start(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "1000", "--appendonly", "yes", "--appendfsync", "always")
		c.Nodes = append(c.Nodes, s)
		addrs = append(addrs, s.Addr)
	}
	cli := CLI(t)
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", itoa(replicas), "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	c.WaitOK()
	return c
}

func itoa(n int) string { return strconv.Itoa(n) }

// Addrs are the nodes' addresses, as seed nodes.
func (c *Cluster) Addrs() []string {
	a := make([]string, 0, len(c.Nodes))
	for _, n := range c.Nodes {
		a = append(a, n.Addr)
	}
	return a
}

// WaitOK waits until every running node says cluster_state:ok and agrees
// on the masters.
func (c *Cluster) WaitOK() {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok := true
		for _, n := range c.Nodes {
			if !n.Running() {
				continue
			}
			conn, err := redis.Dial("tcp", n.Addr, redis.DialConnectTimeout(time.Second), redis.DialReadTimeout(time.Second))
			if err != nil {
				ok = false
				break
			}
			info, err := redis.String(conn.Do("CLUSTER", "INFO"))
			conn.Close()
			if err != nil || !strings.Contains(info, "cluster_state:ok") {
				ok = false
				break
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatal("the cluster is not ok after 30s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// MasterFor is the node serving key's slot now.
func (c *Cluster) MasterFor(key string) *Server {
	c.t.Helper()
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		conn, err := redis.Dial("tcp", n.Addr)
		if err != nil {
			continue
		}
		slot, err1 := redis.Int(conn.Do("CLUSTER", "KEYSLOT", key))
		nodes, err2 := redis.String(conn.Do("CLUSTER", "NODES"))
		conn.Close()
		if err1 != nil || err2 != nil {
			continue
		}
		for _, line := range strings.Split(nodes, "\n") {
			f := strings.Fields(line)
			if len(f) < 9 || !strings.Contains(f[2], "master") || strings.Contains(f[2], "fail") {
				continue
			}
			for _, r := range f[8:] {
				lo, hi, found := strings.Cut(r, "-")
				if !found {
					hi = lo
				}
				if atoi(lo) <= slot && slot <= atoi(hi) {
					addr, _, _ := strings.Cut(f[1], "@")
					for _, m := range c.Nodes {
						if m.Addr == addr {
							return m
						}
					}
				}
			}
		}
	}
	c.t.Fatalf("no master serves %q", key)
	return nil
}

func atoi(s string) int {
	n := 0
	for _, ch := range s {
		if ch < '0' || ch > '9' {
			return -1
		}
		n = n*10 + int(ch-'0')
	}
	return n
}

// WaitReplicated waits until every replica of the master serving key has
// all the master wrote (ROLE: each replica's acknowledged offset equals
// the master's), so a failover can lose nothing written so far.
func (c *Cluster) WaitReplicated(key string) {
	c.t.Helper()
	master := c.MasterFor(key)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if replicated(master) {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("the replicas of %s did not catch up within 30s", master.Addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// replicated reports whether s is a master whose replicas (at least one)
// have acknowledged its whole replication stream.
func replicated(s *Server) bool {
	conn, err := redis.Dial("tcp", s.Addr, redis.DialConnectTimeout(time.Second), redis.DialReadTimeout(time.Second))
	if err != nil {
		return false
	}
	defer conn.Close()
	role, err := redis.Values(conn.Do("ROLE"))
	if err != nil || len(role) < 3 {
		return false
	}
	offset, err := redis.Int64(role[1], nil)
	if err != nil {
		return false // not a master
	}
	replicas, err := redis.Values(role[2], nil)
	if err != nil || len(replicas) == 0 {
		return false
	}
	for _, r := range replicas {
		f, err := redis.Strings(r, nil)
		if err != nil || len(f) < 3 || f[2] != strconv.FormatInt(offset, 10) {
			return false
		}
	}
	return true
}

// Promoted waits until the server at s answers ROLE as a master (a
// replica promoted by a failover).
func Promoted(t testing.TB, s *Server) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		opts := append(s.dialOptions(), redis.DialConnectTimeout(time.Second), redis.DialReadTimeout(time.Second))
		if conn, err := redis.Dial("tcp", s.Addr, opts...); err == nil {
			role, err := redis.Values(conn.Do("ROLE"))
			conn.Close()
			if err == nil && len(role) > 0 {
				if r, err := redis.String(role[0], nil); err == nil && r == "master" {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s was not promoted to master within 60s", s.Addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
