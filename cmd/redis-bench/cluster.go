package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gomodule/redigo/redis"
)

// clusterRuns measures redis-output against a Redis Cluster of 1 and of 3
// masters (no replicas, so the numbers are the routing's, not WAIT's), in
// hash and stream modes over the keys of 50 hosts, each against
// redis-benchmark --cluster running the same command on the same cluster.
func (b *bench) clusterRuns(n int) error {
	typed := "_measurement cpu _time 1795552004000000000 #cpu cpu-total #dc eu-west-1 #env production #host host-01 #rack r12 "
	fields := "usage_guest 1.5 usage_guest_nice 0 usage_idle 97.5 usage_iowait 0.1 usage_irq 0 usage_nice 0 " +
		"usage_softirq 0.1 usage_steal 0 usage_system 1 usage_user 1.2"
	cases := []struct {
		mode    string
		ceiling []string // {tag}: redis-benchmark puts a hash tag of each client's node there
	}{
		{"hash", append([]string{"HSET", "telegraf:cpu:{tag}:__rand_int__"}, strings.Fields(typed+fields)...)},
		{"stream", append([]string{"XADD", "telegraf:cpu:{tag}:__rand_int__", "*"}, strings.Fields(typed+fields)...)},
	}
	for _, masters := range []int{1, 3} {
		name := func(mode string) string {
			return fmt.Sprintf("redis-output %s json, cluster of %d master(s)", mode, masters)
		}
		ceilName := func(cmd string) string {
			return fmt.Sprintf("ceiling: redis-benchmark --cluster %s -P 64 -c 1 a node, cluster of %d master(s)", cmd, masters)
		}
		want := false
		for _, c := range cases {
			want = want || b.wanted(name(c.mode)) || b.wanted(ceilName(c.ceiling[0]))
		}
		if !want {
			continue
		}
		cl, err := startCluster(b.dir, masters)
		if err != nil {
			return err
		}
		err = b.clusterCases(cl, masters, n, func() []clusterCase {
			var out []clusterCase
			for _, c := range cases {
				out = append(out, clusterCase{name: name(c.mode), mode: c.mode, ceilName: ceilName(c.ceiling[0]), ceiling: c.ceiling})
			}
			return out
		}())
		cl.stop()
		if err != nil {
			return err
		}
	}
	return nil
}

// clusterCase is one mode's row on a cluster and its ceiling's.
type clusterCase struct {
	name, mode, ceilName string
	ceiling              []string
}

func (b *bench) clusterCases(cl *benchCluster, masters, n int, cases []clusterCase) error {
	input := filepath.Join(b.dir, "cluster-input")
	if err := writeInput(input, n, 0, false, systemMetric); err != nil {
		return err
	}
	defer b.remove(input)
	quoted := make([]string, len(cl.addrs))
	for i, a := range cl.addrs {
		quoted[i] = strconv.Quote(a)
	}
	for _, c := range cases {
		ceiling := 0.0
		if b.wanted(c.ceilName) || b.wanted(c.name) {
			v, err := cl.ceiling(masters, c.ceiling)
			if err != nil {
				return fmt.Errorf("%s: %w", c.ceilName, err)
			}
			ceiling = v
			b.rows = append(b.rows, row{Name: c.ceilName, MetricsPerS: num(v), CeilingLabel: "itself"})
		}
		if !b.wanted(c.name) {
			continue
		}
		if err := cl.flush(); err != nil {
			return err
		}
		conf := filepath.Join(b.dir, "cluster.conf")
		err := writeFile(conf, fmt.Sprintf("[[outputs.redis]]\n  connection = \"cluster\"\n  addresses = [%s]\n"+
			"  mode = \"%s\"\n  key = 'telegraf:{{.Name}}:{{.Tag \"host\"}}'\n", strings.Join(quoted, ", "), c.mode))
		if err != nil {
			return err
		}
		wall, rss, err := b.runOutput(conf, input)
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		keys, entries, err := cl.count()
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		if keys != 50 || (c.mode == "stream" && entries != int64(n)) {
			return fmt.Errorf("%s: the cluster holds %d keys and %d stream entries, want 50 keys (and %d entries)", c.name, keys, entries, n)
		}
		rate := float64(n) / wall.Seconds()
		b.add(row{Name: c.name, MetricsPerS: num(rate), CeilingPerS: num(ceiling), Ratio: num(rate / ceiling), RSSMiB: num(rss),
			CeilingLabel: c.ceiling[0] + " with the same arguments, redis-benchmark --cluster",
			Note:         "keys of 50 hosts spread over the slots"}, n)
	}
	return nil
}

// benchCluster is a Redis Cluster of the bench's own.
type benchCluster struct {
	addrs []string
	cmds  []*exec.Cmd
}

func (cl *benchCluster) stop() {
	for _, c := range cl.cmds {
		stopProcess(c)
	}
}

// each runs fn on a connection to every node.
func (cl *benchCluster) each(fn func(c redis.Conn) error) error {
	for _, a := range cl.addrs {
		c, err := redis.Dial("tcp", a)
		if err != nil {
			return err
		}
		err = fn(c)
		c.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", a, err)
		}
	}
	return nil
}

func (cl *benchCluster) flush() error {
	return cl.each(func(c redis.Conn) error {
		_, err := c.Do("FLUSHALL")
		return err
	})
}

// count is the keys in the cluster and the entries of its streams.
func (cl *benchCluster) count() (keys, entries int64, err error) {
	err = cl.each(func(c redis.Conn) error {
		cursor := "0"
		for {
			v, err := redis.Values(c.Do("SCAN", cursor, "COUNT", 1000))
			if err != nil {
				return err
			}
			var found []string
			if _, err := redis.Scan(v, &cursor, &found); err != nil {
				return err
			}
			for _, k := range found {
				keys++
				if typ, err := redis.String(c.Do("TYPE", k)); err == nil && typ == "stream" {
					n, err := redis.Int64(c.Do("XLEN", k))
					if err != nil {
						return err
					}
					entries += n
				}
			}
			if cursor == "0" {
				return nil
			}
		}
	})
	return keys, entries, err
}

// ceiling is redis-benchmark --cluster running args (a command whose key
// holds {tag}) over 50 keys a node, pipelined 64 deep with one client a
// node (it gives each client one node; a cluster of one node, which it
// refuses, is run as a single server), best of three, with
// the nodes pinned to Redis's core and redis-benchmark to the client's
// as the single server's ceilings are. The cluster is flushed after.
func (cl *benchCluster) ceiling(masters int, args []string) (float64, error) {
	best := 0.0
	err := cl.pinned(func() error {
		for i := 0; i < 3; i++ {
			cmdArgs := []string{"-h", "127.0.0.1", "-p", strings.TrimPrefix(cl.addrs[0], "127.0.0.1:"),
				"-c", strconv.Itoa(masters), "-P", "64", "-n", "300000", "-r", "50", "-q"}
			if masters > 1 {
				// It refuses a cluster of one node, which a plain run
				// measures the same: the node serves every slot.
				cmdArgs = append([]string{"--cluster"}, cmdArgs...)
			}
			out, err := command(clientCPU, "redis-benchmark", append(cmdArgs, args...)...).CombinedOutput()
			if err != nil {
				return fmt.Errorf("redis-benchmark --cluster %s: %w: %s", args[0], err, out)
			}
			m := rpsLine.FindAllStringSubmatch(string(out), -1)
			if m == nil {
				return fmt.Errorf("redis-benchmark --cluster %s: no rate in %q", args[0], out)
			}
			v, err := strconv.ParseFloat(m[len(m)-1][1], 64)
			if err != nil {
				return err
			}
			best = max(best, v)
			if err := cl.flush(); err != nil {
				return err
			}
		}
		return nil
	})
	return best, err
}

// pinned runs fn with every node on Redis's core.
func (cl *benchCluster) pinned(fn func() error) error {
	if len(redisCPU) == 0 {
		return fn()
	}
	pin := func(cpus string) error {
		for _, c := range cl.cmds {
			if out, err := exec.Command("taskset", "-pc", cpus, strconv.Itoa(c.Process.Pid)).CombinedOutput(); err != nil {
				return fmt.Errorf("pinning redis-server: %w: %s", err, out)
			}
		}
		return nil
	}
	if err := pin(redisCPU[2]); err != nil {
		return err
	}
	err := fn()
	if perr := pin(allowedList); perr != nil && err == nil {
		err = perr
	}
	return err
}

// startCluster runs masters cluster-enabled redis-servers and gives them
// every slot; its stop kills them.
func startCluster(dir string, masters int) (*benchCluster, error) {
	cl := &benchCluster{}
	stop := cl.stop
	var addrs []string
	for i := 0; i < masters; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			stop()
			return nil, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		d := filepath.Join(dir, fmt.Sprintf("node-%d-%d", masters, i))
		if err := os.MkdirAll(d, 0o700); err != nil {
			stop()
			return nil, err
		}
		c := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", d,
			"--save", "", "--appendonly", "no", "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--logfile", filepath.Join(d, "redis.log"))
		if err := c.Start(); err != nil {
			stop()
			return nil, err
		}
		cl.cmds = append(cl.cmds, c)
		addrs = append(addrs, "127.0.0.1:"+strconv.Itoa(port))
	}
	for _, a := range addrs {
		if err := waitPing(a); err != nil {
			stop()
			return nil, err
		}
	}
	if masters == 1 {
		// redis-cli --cluster create wants three masters: give one node
		// every slot by hand.
		c, err := redis.Dial("tcp", addrs[0])
		if err == nil {
			_, err = c.Do("CLUSTER", "ADDSLOTSRANGE", 0, 16383)
			c.Close()
		}
		if err != nil {
			stop()
			return nil, err
		}
	} else {
		args := append([]string{"--cluster", "create"}, addrs...)
		args = append(args, "--cluster-replicas", "0", "--cluster-yes")
		if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
			stop()
			return nil, fmt.Errorf("redis-cli --cluster create: %w: %s", err, out)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, a := range addrs {
		for {
			c, err := redis.Dial("tcp", a)
			if err == nil {
				info, err := redis.String(c.Do("CLUSTER", "INFO"))
				c.Close()
				if err == nil && strings.Contains(info, "cluster_state:ok") {
					break
				}
			}
			if time.Now().After(deadline) {
				stop()
				return nil, fmt.Errorf("cluster of %d not ok after 30s", masters)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	cl.addrs = addrs
	return cl, nil
}

func waitPing(addr string) error {
	for i := 0; i < 100; i++ {
		if c, err := redis.Dial("tcp", addr); err == nil {
			_, err = c.Do("PING")
			c.Close()
			if err == nil {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("redis-server on %s did not answer", addr)
}
