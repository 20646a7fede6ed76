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
// masters (no replicas, so the numbers are the routing's, not WAIT's).
func (b *bench) clusterRuns(n int) error {
	for _, masters := range []int{1, 3} {
		name := fmt.Sprintf("redis-output hash json, cluster of %d master(s)", masters)
		if !b.wanted(name) {
			continue
		}
		addrs, stop, err := startCluster(b.dir, masters)
		if err != nil {
			return err
		}
		input := filepath.Join(b.dir, "cluster-input")
		if err := writeInput(input, n, 0, false, systemMetric); err != nil {
			stop()
			return err
		}
		quoted := make([]string, len(addrs))
		for i, a := range addrs {
			quoted[i] = strconv.Quote(a)
		}
		conf := filepath.Join(b.dir, "cluster.conf")
		err = writeFile(conf, fmt.Sprintf("[[outputs.redis]]\n  connection = \"cluster\"\n  addresses = [%s]\n"+
			"  mode = \"hash\"\n  key = 'telegraf:{{.Name}}:{{.Tag \"host\"}}'\n", strings.Join(quoted, ", ")))
		if err != nil {
			stop()
			return err
		}
		wall, rss, err := b.runOutput(conf, input)
		stop()
		b.remove(input)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		rate := float64(n) / wall.Seconds()
		b.add(row{Name: name, MetricsPerS: num(rate), RSSMiB: num(rss),
			Note: "keys of 50 hosts spread over the slots; one pipeline per slot and flush"}, n)
	}
	return nil
}

// startCluster runs masters cluster-enabled redis-servers and gives them
// every slot; stop kills them.
func startCluster(dir string, masters int) ([]string, func(), error) {
	var cmds []*exec.Cmd
	stop := func() {
		for _, c := range cmds {
			stopProcess(c)
		}
	}
	var addrs []string
	for i := 0; i < masters; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			stop()
			return nil, nil, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		d := filepath.Join(dir, fmt.Sprintf("node-%d-%d", masters, i))
		if err := os.MkdirAll(d, 0o700); err != nil {
			stop()
			return nil, nil, err
		}
		c := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", d,
			"--save", "", "--appendonly", "no", "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--logfile", filepath.Join(d, "redis.log"))
		if err := c.Start(); err != nil {
			stop()
			return nil, nil, err
		}
		cmds = append(cmds, c)
		addrs = append(addrs, "127.0.0.1:"+strconv.Itoa(port))
	}
	for _, a := range addrs {
		if err := waitPing(a); err != nil {
			stop()
			return nil, nil, err
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
			return nil, nil, err
		}
	} else {
		args := append([]string{"--cluster", "create"}, addrs...)
		args = append(args, "--cluster-replicas", "0", "--cluster-yes")
		if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
			stop()
			return nil, nil, fmt.Errorf("redis-cli --cluster create: %w: %s", err, out)
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
				return nil, nil, fmt.Errorf("cluster of %d not ok after 30s", masters)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return addrs, stop, nil
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
