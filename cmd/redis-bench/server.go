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

// Where a ceiling is measured. On a machine with two cores or more,
// redis-server is pinned to the first and redis-benchmark to the second
// while a ceiling is measured: left to the scheduler, the two land on one
// core in some runs and on two in others, and on a small VM the same
// ceiling then measures 1.5M or 0.5M SET/s (a pipelined client on the
// server's core never waits for a cross-core wake-up). Two busy processes
// get a core each, so the ceiling is measured that way; the same-core
// figure is printed too, for what it is. Redis is unpinned again for the
// plugins' runs, which are never pinned: pinning redis-server there costs
// the per-metric modes 10 to 25% (their reading, writing and GC threads
// then share one core with Redis), and quote mode decodes on both cores.
var (
	allowedList, allowedIDs = cpusAllowed()
	redisCPU, clientCPU     = pinTo(0), pinTo(1)
)

// cpusAllowed is this process's Cpus_allowed_list ("0-1", "4,5",
// "0-3,8"), as taskset -c takes it, and the first two CPUs in it: a
// container may be given CPUs other than 0 and 1.
func cpusAllowed() (list string, first2 []int) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "", nil
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "Cpus_allowed_list:"); ok {
			list = strings.TrimSpace(v)
			return list, firstCPUs(list, 2)
		}
	}
	return "", nil
}

// firstCPUs is up to n CPUs of a CPU list, in order; nil if it is not one.
func firstCPUs(list string, n int) []int {
	var cpus []int
	for _, r := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(r, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil
			}
		}
		for c := a; c <= b && len(cpus) < n; c++ {
			cpus = append(cpus, c)
		}
	}
	return cpus
}

// pinTo is the taskset prefix that runs a command on the i-th CPU this
// process may use, or nothing when there are fewer than two or no taskset.
func pinTo(i int) []string {
	if len(allowedIDs) < 2 {
		return nil
	}
	if _, err := exec.LookPath("taskset"); err != nil {
		return nil
	}
	return []string{"taskset", "-c", strconv.Itoa(allowedIDs[i])}
}

// command is name with args, run under the prefix pin (maybe none).
func command(pin []string, name string, args ...string) *exec.Cmd {
	if len(pin) == 0 {
		return exec.Command(name, args...)
	}
	return exec.Command(pin[0], append(append(pin[1:len(pin):len(pin)], name), args...)...)
}

// pinned runs fn with redis-server on redisCPU, then lets it run anywhere
// again.
func (s *server) pinned(fn func() error) error {
	if len(redisCPU) == 0 {
		return fn()
	}
	pid := strconv.Itoa(s.cmd.Process.Pid)
	if out, err := exec.Command("taskset", "-pc", redisCPU[2], pid).CombinedOutput(); err != nil {
		return fmt.Errorf("pinning redis-server: %w: %s", err, out)
	}
	err := fn()
	if out, perr := exec.Command("taskset", "-pc", allowedList, pid).CombinedOutput(); perr != nil && err == nil {
		err = fmt.Errorf("unpinning redis-server: %w: %s", perr, out)
	}
	return err
}

// placement says where the run's processes go, for the header.
func placement() string {
	if len(redisCPU) == 0 {
		return "nothing pinned"
	}
	return fmt.Sprintf("ceilings with redis-server pinned to CPU %s and redis-benchmark to CPU %s; the plugins' runs unpinned", redisCPU[2], clientCPU[2])
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
			info, err := redis.String(c.Do("INFO", "server"))
			c.Close()
			if err != nil {
				s.stop()
				return nil, fmt.Errorf("redis-server on %s: INFO: %w", s.addr, err)
			}
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
		stopProcess(s.cmd)
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

// ceiling runs redis-benchmark pipelined (-P 64) on one connection (-c 1),
// on its own core (clientCPU): the most commands one client connection
// gets through this server. With args it benchmarks that command (e.g.
// HSET with ten fields), else the named -t test.
// The best of three runs is taken: on a small machine a single run swings
// with whatever else the cores do, and a ceiling is what is possible.
func (s *server) ceiling(test string, args []string) (float64, error) {
	return s.bestOf(clientCPU, test, args)
}

// sameCoreCeiling is the ceiling with redis-benchmark on Redis's core,
// printed for information only (see redisCPU).
func (s *server) sameCoreCeiling(test string) (float64, error) {
	return s.bestOf(redisCPU, test, nil)
}

func (s *server) bestOf(pin []string, test string, args []string) (float64, error) {
	best := 0.0
	err := s.pinned(func() error {
		for i := 0; i < 3; i++ {
			v, err := s.ceilingOnce(pin, test, args)
			if err != nil {
				return err
			}
			best = max(best, v)
		}
		return nil
	})
	return best, err
}

func (s *server) ceilingOnce(pin []string, test string, args []string) (float64, error) {
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
	out, err := command(pin, "redis-benchmark", cmdArgs...).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("redis-benchmark %s: %w: %s", test, err, out)
	}
	// -q prints progress lines ending in \r, then the result.
	m := rpsLine.FindAllStringSubmatch(string(out), -1)
	if m == nil {
		return 0, fmt.Errorf("redis-benchmark %s: no rate in %q", test, out)
	}
	v, err := strconv.ParseFloat(m[len(m)-1][1], 64)
	if err != nil {
		return 0, fmt.Errorf("redis-benchmark %s: %w", test, err)
	}
	return v, s.flush()
}

func writeFile(path, text string) error { return os.WriteFile(path, []byte(text), 0o600) }
