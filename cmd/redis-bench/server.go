package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gomodule/redigo/redis"
)

// server is the redis-server the benchmark owns.
type server struct {
	addr    string
	port    int
	version string
	cmd     *exec.Cmd
}

func startRedis(dir string) (*server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &server{port: port, addr: "127.0.0.1:" + strconv.Itoa(port)}
	s.cmd = exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir, "--logfile", filepath.Join(dir, "redis.log"))
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting redis-server (apt-get install redis-server): %w", err)
	}
	for i := 0; i < 100; i++ {
		c, err := redis.Dial("tcp", s.addr)
		if err == nil {
			info, _ := redis.String(c.Do("INFO", "server"))
			c.Close()
			if m := regexp.MustCompile(`redis_version:(\S+)`).FindStringSubmatch(info); m != nil {
				s.version = m[1]
			}
			return s, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.stop()
	return nil, fmt.Errorf("redis-server on %s did not answer", s.addr)
}

func (s *server) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	}
}

func (s *server) conn() (redis.Conn, error) {
	return redis.Dial("tcp", s.addr, redis.DialReadTimeout(time.Minute))
}

func (s *server) flush() error {
	c, err := s.conn()
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Do("FLUSHALL")
	return err
}

var rpsLine = regexp.MustCompile(`([0-9.]+) requests per second`)

// ceiling runs redis-benchmark pipelined (-P 64) on one connection (-c 1):
// the most commands one client connection gets through this server. With
// args it benchmarks that command (e.g. HSET with ten fields), else the
// named -t test.
// The best of three runs is taken: on a small machine a single run swings
// with whatever else the cores do, and a ceiling is what is possible.
func (s *server) ceiling(test string, args []string) (float64, error) {
	best := 0.0
	for i := 0; i < 3; i++ {
		v, err := s.ceilingOnce(test, args)
		if err != nil {
			return 0, err
		}
		best = max(best, v)
	}
	return best, nil
}

func (s *server) ceilingOnce(test string, args []string) (float64, error) {
	n := "1000000"
	if len(args) > 0 {
		n = "300000"
	}
	cmdArgs := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(s.port), "-c", "1", "-P", "64", "-n", n, "-q"}
	if len(args) == 0 {
		cmdArgs = append(cmdArgs, "-t", strings.ToLower(test))
	} else {
		cmdArgs = append(cmdArgs, args...)
	}
	out, err := exec.Command("redis-benchmark", cmdArgs...).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("redis-benchmark %s: %v: %s", test, err, out)
	}
	// -q prints progress lines ending in \r, then the result.
	m := rpsLine.FindAllStringSubmatch(string(out), -1)
	if m == nil {
		return 0, fmt.Errorf("redis-benchmark %s: no rate in %q", test, out)
	}
	v, _ := strconv.ParseFloat(m[len(m)-1][1], 64)
	_ = s.flush()
	return v, nil
}

func writeFile(path, text string) error { return os.WriteFile(path, []byte(text), 0o644) }
