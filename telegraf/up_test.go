package telegraf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/IBM/sarama"
	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/kafkatest"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/syncbuf"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/telegraftest"
)

// upRun is the pipeline as `make up` runs it (scripts/up.sh), in a run
// directory of its own and on free ports, with the replay server as the
// price source. `make down` (scripts/down.sh) stops it when the test ends,
// and the test fails if any process make up started is left.
type upRun struct {
	t         *testing.T
	root, run string
	env       []string
	redisPort int
	kafkaAddr string
}

func startUp(t *testing.T) *upRun {
	t.Helper()
	root := telegraftest.RepoRoot(t)
	run, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	u := &upRun{t: t, root: root, run: run, redisPort: redistest.FreePort(t)}
	kafkaPort, controllerPort := redistest.FreePort(t), redistest.FreePort(t)
	u.kafkaAddr = fmt.Sprintf("127.0.0.1:%d", kafkaPort)
	// What the caller's environment might set for make up is ours here.
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "REDIS_"), strings.HasPrefix(k, "KAFKA_"), strings.HasPrefix(k, "SUPERVISE_"),
			strings.HasPrefix(k, "COINGECKO_"), strings.HasPrefix(k, "UP_"),
			k == "RUN_DIR", k == "PRICE_SOURCE", k == "SCRAPE_INTERVAL", k == "REPLAY_PORT":
			continue
		}
		u.env = append(u.env, kv)
	}
	u.env = append(u.env,
		"RUN_DIR="+run,
		fmt.Sprintf("REDIS_PORT=%d", u.redisPort),
		fmt.Sprintf("KAFKA_PORT=%d", kafkaPort),
		fmt.Sprintf("KAFKA_CONTROLLER_PORT=%d", controllerPort),
		"PRICE_SOURCE=replay",
		"SCRAPE_INTERVAL=1s",
		// A test killed before its cleanup leaves nothing running.
		fmt.Sprintf("UP_STOP_WITH_PID=%d", os.Getpid()),
	)
	t.Cleanup(func() {
		u.down()
		if t.Failed() {
			for _, name := range []string{"redis", "kafka", "replay", "consumer", "scraper"} {
				data, err := os.ReadFile(filepath.Join(run, "logs", name+".log"))
				if err != nil {
					t.Logf("--- %s.log: %v", name, err)
					continue
				}
				t.Logf("--- %s.log (tail):\n%s", name, lastLines(string(data), 40))
			}
		}
	})
	return u
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// script runs scripts/NAME with the run's environment.
func (u *upRun) script(name string, timeout time.Duration) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(u.root, "scripts", name))
	cmd.Dir = u.root
	cmd.Env = u.env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// up runs make up and checks that it printed the quote. The first run
// may build bin/telegraf.
func (u *upRun) up() {
	u.t.Helper()
	out, errOut, err := u.script("up.sh", 10*time.Minute)
	if err != nil {
		u.t.Fatalf("make up: %v\n%s%s", err, errOut, out)
	}
	quote := strings.TrimSpace(out)
	if !strings.HasPrefix(quote, `{"timestamp":`) {
		u.t.Fatalf("make up printed %q, not the quote\n%s", out, errOut)
	}
}

// down runs make down and checks that nothing make up started is left:
// no process carries its mark (UP_RUN_DIR in the environment, inherited
// by everything up.sh starts), the supervisors included.
func (u *upRun) down() {
	u.t.Helper()
	out, errOut, err := u.script("down.sh", 3*time.Minute)
	if err != nil {
		u.t.Errorf("make down: %v\n%s%s", err, errOut, out)
	}
	if strings.Contains(errOut, "left over") || strings.Contains(errOut, "SIGKILL") {
		u.t.Errorf("make down had to clean up after the supervisors:\n%s", errOut)
	}
	if left := u.processes(); len(left) > 0 {
		u.t.Errorf("after make down, still running: %s", strings.Join(left, "; "))
		for _, p := range left {
			pid, err := strconv.Atoi(strings.Fields(p)[0])
			if err != nil {
				u.t.Error(err)
				continue
			}
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
				u.t.Errorf("kill %d: %v", pid, err)
			}
		}
	}
	if files, err := filepath.Glob(filepath.Join(u.run, "pids", "*")); err != nil {
		u.t.Error(err)
	} else if len(files) > 0 {
		u.t.Errorf("make down left pid files: %v", files)
	}
}

// processes lists "pid cmdline" of every process carrying this run's mark.
func (u *upRun) processes() []string {
	mark := []byte("\x00UP_RUN_DIR=" + u.run + "\x00")
	dirs, err := filepath.Glob("/proc/[0-9]*")
	if err != nil {
		u.t.Fatal(err)
	}
	out := make([]string, 0, len(dirs))
	for _, d := range dirs {
		env, err := os.ReadFile(filepath.Join(d, "environ"))
		if err != nil || !bytes.Contains(append([]byte{0}, env...), mark) || !alive(d) {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err != nil {
			continue // exited since: not left running
		}
		out = append(out, filepath.Base(d)+" "+strings.ReplaceAll(strings.TrimRight(string(cmd), "\x00"), "\x00", " "))
	}
	return out
}

// alive: /proc/<pid> exists and is no zombie.
func alive(procDir string) bool {
	stat, err := os.ReadFile(filepath.Join(procDir, "stat"))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(stat, ')')
	return i >= 0 && i+2 < len(stat) && stat[i+2] != 'Z'
}

func pidAlive(pid int) bool { return alive(fmt.Sprintf("/proc/%d", pid)) }

// pid reads run/pids/<file>: NAME.pid is a supervisor, NAME.child the
// component it runs now.
func (u *upRun) pid(file string) int {
	data, err := os.ReadFile(filepath.Join(u.run, "pids", file))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return 0 // being written
	}
	return pid
}

// childOf waits for the one child process of pid (redis-output under the
// consumer Telegraf) that is not old, and returns it.
func (u *upRun) childOf(pid int, what string, old int) int {
	u.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var found []int
		stats, err := filepath.Glob("/proc/[0-9]*/stat")
		if err != nil {
			u.t.Fatal(err)
		}
		for _, f := range stats {
			data, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			s := string(data)
			i := strings.LastIndexByte(s, ')')
			var state string
			var ppid int
			if i < 0 || i+2 >= len(s) {
				continue
			}
			if _, err := fmt.Sscanf(s[i+2:], "%s %d", &state, &ppid); err != nil || ppid != pid || state == "Z" {
				continue
			}
			if child, err := strconv.Atoi(filepath.Base(filepath.Dir(f))); err == nil && child != old {
				found = append(found, child)
			}
		}
		if len(found) == 1 {
			return found[0]
		}
		if time.Now().After(deadline) {
			u.t.Fatalf("%s: pid %d has children %v (old %d), want one new", what, pid, found, old)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// component waits until the supervisor of name runs a component other
// than old, and returns its pid.
func (u *upRun) component(name string, old int) int {
	u.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if pid := u.pid(name + ".child"); pid != 0 && pid != old && pidAlive(pid) {
			return pid
		}
		if time.Now().After(deadline) {
			u.t.Fatalf("no new %s after 60 s (old pid %d)", name, old)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stopSupervised stops one component for good, as make down does: SIGTERM
// to its supervisor, which stops it (a Telegraf flushes what it holds).
func (u *upRun) stopSupervised(name string) {
	u.t.Helper()
	pid := u.pid(name + ".pid")
	if pid == 0 || !pidAlive(pid) {
		u.t.Fatalf("%s has no supervisor running", name)
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		u.t.Fatal(err)
	}
	deadline := time.Now().Add(40 * time.Second)
	for pidAlive(pid) {
		if time.Now().After(deadline) {
			u.t.Fatalf("%s's supervisor (pid %d) still running 40 s after SIGTERM", name, pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (u *upRun) log(name string) string {
	data, err := os.ReadFile(filepath.Join(u.run, "logs", name+".log"))
	if err != nil {
		return "" // not written yet
	}
	return string(data)
}

// waitForLog polls run/logs/NAME.log until re matches.
func (u *upRun) waitForLog(name string, re *regexp.Regexp) {
	u.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if re.MatchString(u.log(name)) {
			return
		}
		if time.Now().After(deadline) {
			u.t.Fatalf("%s.log: no line matching %s after 60 s:\n%s", name, re, lastLines(u.log(name), 20))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pipeline is what the helpers of pipeline_test.go need: the replay
// server, and a watcher of the quote.
func (u *upRun) pipeline() *pipeline {
	u.t.Helper()
	port, err := os.ReadFile(filepath.Join(u.run, "replay.port"))
	if err != nil {
		u.t.Fatal(err)
	}
	return &pipeline{
		t:      u.t,
		root:   u.root,
		replay: "http://127.0.0.1:" + strings.TrimSpace(string(port)),
		watch:  newWatcher(u.redisAddr()),
	}
}

func (u *upRun) redisAddr() string { return fmt.Sprintf("127.0.0.1:%d", u.redisPort) }

func (u *upRun) redis() redis.Conn {
	u.t.Helper()
	c, err := redis.Dial("tcp", u.redisAddr(), redis.DialConnectTimeout(5*time.Second))
	if err != nil {
		u.t.Fatal(err)
	}
	u.t.Cleanup(func() { c.Close() })
	return c
}

// waitRedis waits until redis-server answers PING (its AOF loaded).
func (u *upRun) waitRedis() {
	u.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := redis.Dial("tcp", u.redisAddr(), redis.DialConnectTimeout(time.Second), redis.DialReadTimeout(time.Second))
		if err == nil {
			_, err = c.Do("PING")
			c.Close()
			if err == nil {
				return
			}
		}
		if time.Now().After(deadline) {
			u.t.Fatalf("redis-server does not answer 60 s after its restart: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitKafka waits until the broker serves currency.rate again.
func (u *upRun) waitKafka() {
	u.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		client, err := sarama.NewClient([]string{u.kafkaAddr}, kafkatest.Config())
		if err == nil {
			_, err = client.GetOffset("currency.rate", 0, sarama.OffsetNewest)
			client.Close()
			if err == nil {
				return
			}
		}
		if time.Now().After(deadline) {
			u.t.Fatalf("Kafka does not serve currency.rate 90 s after its restart: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitDelivered waits until every message of currency.rate is committed by
// the consumer group: Telegraf has written it to redis-output's stdin,
// counted it delivered, and will not read it again. It returns how many
// messages the topic holds.
func (u *upRun) waitDelivered(atLeast int64) int64 {
	u.t.Helper()
	cfg := kafkatest.Config()
	client, err := sarama.NewClient([]string{u.kafkaAddr}, cfg)
	if err != nil {
		u.t.Fatal(err)
	}
	defer client.Close()
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		u.t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	var end, committed int64
	for {
		end, err = client.GetOffset("currency.rate", 0, sarama.OffsetNewest)
		if err == nil && end >= atLeast {
			resp, err := admin.ListConsumerGroupOffsets("currency_rate_metrics", map[string][]int32{"currency.rate": {0}})
			if err == nil {
				if b := resp.GetBlock("currency.rate", 0); b != nil {
					committed = b.Offset
					if committed == end {
						return end
					}
				}
			}
		}
		if time.Now().After(deadline) {
			u.t.Fatalf("currency.rate: %d messages (want at least %d), %d committed by currency_rate_metrics after 60 s (%v)", end, atLeast, committed, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitStdinDrained waits until nothing waits in the pipe to pid's stdin:
// it has taken all Telegraf wrote (into its spool, or into its memory).
func (u *upRun) waitStdinDrained(pid int) {
	u.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, err := pipeBytes(pid)
		if err == nil && n == 0 {
			return
		}
		if time.Now().After(deadline) {
			u.t.Fatalf("stdin of pid %d still holds %d bytes after 30 s (%v)", pid, n, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pipeBytes is how many bytes wait in the pipe on pid's stdin (FIONREAD
// on the pipe, opened through /proc).
func pipeBytes(pid int) (int, error) {
	f, err := os.OpenFile(fmt.Sprintf("/proc/%d/fd/0", pid), os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return -1, err
	}
	defer f.Close()
	var n int32
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), syscall.TIOCINQ,
		uintptr(unsafe.Pointer(&n))) //nolint:gosec // TIOCINQ writes an int32 through the pointer; package syscall has no ioctl wrapper
	if errno != 0 {
		return -1, errno
	}
	return int(n), nil
}

// waitForPrices waits until the quote holds exactly the prices of s.
func (p *pipeline) waitForPrices(s served, within time.Duration, why string) {
	p.t.Helper()
	deadline := time.Now().Add(within)
	for {
		if _, ok := p.watch.firstSeen([]map[string]float64{s.prices()}); ok {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("answer %d (served %s) is not in Redis %s later: %s", s.Seq, s.Time.Format(time.RFC3339Nano), within, why)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestUpSpoolIntegration: redis-output under make up keeps what it read
// on disk, so neither its SIGKILL nor the consumer Telegraf's loses a
// price. Redis stops taking writes (CLIENT PAUSE ... WRITE); a new price
// goes through Kafka to redis-output, whose offset Kafka then commits
// (Telegraf counted it delivered: nothing upstream has it any more); the
// scraper stops, so no later price can stand in for it. redis-output is
// SIGKILLed (then, in a second round, with the consumer Telegraf), comes
// back (Telegraf restarts redis-output; the supervisor restarts
// Telegraf), Redis takes writes again, and the price must be in Redis.
// A third round kills the consumer Telegraf alone, leaving its
// redis-output behind with the spool. Without a spool the price is lost
// (checked: with spool_dir = "" in redis-output.conf each round, run
// alone, fails at the last step).
func TestUpSpoolIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	u := startUp(t)
	u.up()
	p := u.pipeline()
	defer p.watch.stop()

	for _, round := range []struct {
		name                     string
		killOutput, killTelegraf bool
	}{
		{"redis-output killed", true, false},
		{"redis-output and the consumer Telegraf killed", true, true},
		// redis-output outlives its Telegraf, holding the spool: the
		// supervisor stops it before the new Telegraf starts another.
		{"the consumer Telegraf killed", false, true},
	} {
		if !pidAlive(u.pid("scraper.pid")) {
			u.up() // the scraper again, after the round before stopped it
		}
		telegraf := u.component("consumer", 0)
		output := u.childOf(telegraf, "the consumer Telegraf", 0)
		conn := u.redis()
		if _, err := conn.Do("CLIENT", "PAUSE", 120000, "WRITE"); err != nil {
			t.Fatal(err)
		}
		before := len(p.servedOK())
		p.waitForSteps(before + 1) // a price served while Redis takes no writes
		u.stopSupervised("scraper")
		steps := p.servedOK()
		last := steps[len(steps)-1]
		u.waitDelivered(int64(len(steps)))
		u.waitStdinDrained(output)
		if _, ok := p.watch.firstSeen([]map[string]float64{last.prices()}); ok {
			t.Fatalf("%s: answer %d is in Redis during the pause: the test does not test", round.name, last.Seq)
		}
		replays := strings.Count(u.log("consumer"), "replaying")

		if round.killOutput {
			if err := syscall.Kill(output, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
		}
		if round.killTelegraf {
			// The restarts of the rounds come within seconds of each
			// other: the supervisor may count them as fast failures and
			// wait longer than 1 s.
			if err := syscall.Kill(telegraf, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			u.waitForLog("consumer", regexp.MustCompile(fmt.Sprintf(
				`supervise: consumer \(pid %d\) was killed by SIGKILL after \d+ s: restart \d+ in \d+ s`, telegraf)))
			telegraf = u.component("consumer", telegraf)
			u.childOf(telegraf, "the restarted consumer Telegraf", 0)
			if pidAlive(output) {
				t.Errorf("%s: redis-output (pid %d) of the dead Telegraf still runs beside the new one", round.name, output)
			}
		} else {
			u.childOf(telegraf, "the consumer Telegraf after the kill", output)
		}
		if _, err := conn.Do("CLIENT", "UNPAUSE"); err != nil {
			t.Fatal(err)
		}
		p.waitForPrices(last, 60*time.Second, round.name+" during a Redis pause, after Kafka committed its offset")
		if got := strings.Count(u.log("consumer"), "replaying"); got <= replays {
			t.Errorf("%s: redis-output did not say it replayed its spool", round.name)
		}
		t.Logf("%s: answer %d reached Redis after the restart", round.name, last.Seq)
	}
	p.watch.stop()
	if problems := p.watch.problems(); len(problems) > 0 {
		t.Fatalf("the quote went back in time:\n%s", strings.Join(problems, "\n"))
	}
}

// TestUpSupervisorIntegration: under make up, Kafka and redis-server that
// die (SIGKILL) are started again by their supervisors, with one line
// each in their logs, and prices go on reaching Redis; make down stops
// the supervisors and the components they restarted, and nothing is left.
func TestUpSupervisorIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	u := startUp(t)
	u.up()
	p := u.pipeline()
	defer p.watch.stop()

	restartLine := `supervise: %s \(pid %d\) was killed by SIGKILL after \d+ s: restart 1 in 1 s`
	for _, name := range []string{"kafka", "redis"} {
		old := u.component(name, 0)
		if name == "redis" {
			p.watch.pause()
		}
		if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		u.waitForLog(name, regexp.MustCompile(fmt.Sprintf(restartLine, name, old)))
		u.component(name, old)
		if name == "redis" {
			u.waitRedis()
			p.watch.resume()
		} else {
			u.waitKafka()
		}
		// A price served once the component is back reaches Redis.
		steps := p.waitForSteps(len(p.servedOK()) + 2)
		p.latency(steps[len(steps)-1])
		if n := strings.Count(u.log(name), "supervise:"); n != 1 {
			t.Errorf("%s.log: %d supervise lines for one restart:\n%s", name, n, u.log(name))
		}
	}
	p.watch.stop()
	if problems := p.watch.problems(); len(problems) > 0 {
		t.Fatalf("the quote went back in time:\n%s", strings.Join(problems, "\n"))
	}
}

// supervise runs scripts/supervise.sh NAME CHILD_FILE CMD... with env, in
// a session of its own as make up does, and returns it; the test's cleanup
// kills whatever is left of its group.
func supervise(t *testing.T, env []string, name, childFile string, cmd ...string) (*exec.Cmd, *syncbuf.Buffer) {
	t.Helper()
	c := exec.Command(filepath.Join(telegraftest.RepoRoot(t), "scripts", "supervise.sh"), append([]string{name, childFile}, cmd...)...)
	c.Env = append(os.Environ(), env...)
	var log syncbuf.Buffer
	c.Stdout, c.Stderr = &log, &log
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		killGroup(t, c.Process.Pid)
		if data, err := os.ReadFile(childFile); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil {
				killGroup(t, pid)
			}
		}
	})
	return c, &log
}

// killGroup SIGKILLs the process group pgid; one that is gone already
// (ESRCH) is what a test that stopped its processes leaves.
func killGroup(t *testing.T, pgid int) {
	t.Helper()
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		t.Errorf("kill process group %d: %v", pgid, err)
	}
}

// exitWithin waits for the supervisor to exit and returns its status.
func exitWithin(t *testing.T, c *exec.Cmd, d time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			return 0
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		t.Fatal(err)
	case <-time.After(d):
		killGroup(t, c.Process.Pid)
		<-done
		t.Fatalf("the supervisor did not exit within %s", d)
	}
	return -1
}

// TestSuperviseGivesUp: a component that dies at once is restarted with
// one line per restart, the delay doubling, and after SUPERVISE_MAX_FAST
// fast failures in a row the supervisor says it gives up and exits 1,
// leaving no child behind.
func TestSuperviseGivesUp(t *testing.T) {
	dir := t.TempDir()
	runs := filepath.Join(dir, "runs")
	childFile := filepath.Join(dir, "broken.child")
	start := time.Now()
	c, log := supervise(t, []string{"SUPERVISE_FAST=10", "SUPERVISE_MAX_FAST=4", "SUPERVISE_DELAY=0"},
		"broken", childFile, "sh", "-c", `echo run >>"$0"; exit 3`, runs)
	if status := exitWithin(t, c, 60*time.Second); status != 1 {
		t.Errorf("exit status %d, want 1\n%s", status, log)
	}
	out := log.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	restart := regexp.MustCompile(`^\S+Z supervise: broken \(pid \d+\) exited with status 3 after \d+ s: restart (\d) in 0 s$`)
	giveUp := regexp.MustCompile(`^\S+Z supervise: broken \(pid \d+\) exited with status 3 after \d+ s: ` +
		`4 runs in a row ended within 10 s of their start; giving up \(see its log; ` + "`make up`" + ` starts it again\)$`)
	if len(lines) != 4 {
		t.Fatalf("want 3 restart lines and 1 giving up, got:\n%s", out)
	}
	for i, l := range lines[:3] {
		if m := restart.FindStringSubmatch(l); len(m) < 2 || m[1] != strconv.Itoa(i+1) {
			t.Errorf("line %d: %q, want restart %d", i+1, l, i+1)
		}
	}
	if !giveUp.MatchString(lines[3]) {
		t.Errorf("last line %q, want it to give up", lines[3])
	}
	if data, err := os.ReadFile(runs); err != nil {
		t.Errorf("the component never ran: %v", err)
	} else if strings.Count(string(data), "run") != 4 {
		t.Errorf("the component ran %d times, want 4", strings.Count(string(data), "run"))
	}
	if _, err := os.Stat(childFile); !os.IsNotExist(err) {
		t.Errorf("the child pid file is left: %v", err)
	}
	t.Logf("gave up after %s", time.Since(start).Round(time.Millisecond))
}

// TestSuperviseBackoffAndStop: the delay doubles with fast failures in a
// row (1 s, 2 s); a run that lasts resets the count. SIGTERM stops the
// supervisor at once, during a restart delay too; a component that
// ignores SIGTERM gets SIGKILL after SUPERVISE_STOP_TIMEOUT, and a child
// the component started goes with it.
func TestSuperviseBackoffAndStop(t *testing.T) {
	dir := t.TempDir()

	// Fails twice at once, then lasts past SUPERVISE_FAST, then fails at
	// once again: the delays are 1, 2 and then 1 s (the count was reset),
	// and it never gives up at SUPERVISE_MAX_FAST=3.
	runs := filepath.Join(dir, "runs")
	script := `n=$(wc -l <"$0" 2>/dev/null || echo 0); echo run >>"$0"; case $n in 0|1) exit 1;; 2) sleep 3; exit 2;; *) exec sleep 1000;; esac`
	c, log := supervise(t, []string{"SUPERVISE_FAST=2", "SUPERVISE_MAX_FAST=3", "SUPERVISE_DELAY=1"},
		"flaky", filepath.Join(dir, "flaky.child"), "sh", "-c", script, runs)
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(log.String(), "restart 3") {
		if time.Now().After(deadline) || c.ProcessState != nil {
			t.Fatalf("no third restart:\n%s", log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for i, want := range []string{
		`exited with status 1 after [01] s: restart 1 in 1 s\n`,
		`exited with status 1 after [01] s: restart 2 in 2 s\n`,
		`exited with status 2 after [3-9] s: restart 3 in 1 s\n`,
	} {
		if !regexp.MustCompile(want).MatchString(log.String()) {
			t.Errorf("restart %d: want %q in:\n%s", i+1, want, log)
		}
	}
	// Now it runs (sleep 1000): SIGTERM stops it and the supervisor.
	child := waitChild(t, filepath.Join(dir, "flaky.child"), 0)
	if err := c.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if status := exitWithin(t, c, 30*time.Second); status != 0 {
		t.Errorf("stopped: exit status %d, want 0\n%s", status, log)
	}
	if pidAlive(child) {
		t.Errorf("the component (pid %d) outlived its supervisor", child)
	}

	// SIGTERM during a 30 s restart delay: out at once, nothing restarted.
	runs2 := filepath.Join(dir, "runs2")
	c, log = supervise(t, []string{"SUPERVISE_DELAY=30"}, "slow", filepath.Join(dir, "slow.child"), "sh", "-c", `echo run >>"$0"; exit 1`, runs2)
	for !strings.Contains(log.String(), "restart 1 in 30 s") {
		if c.ProcessState != nil || time.Now().After(deadline) {
			t.Fatalf("no restart line:\n%s", log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	stopAt := time.Now()
	if err := c.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if status := exitWithin(t, c, 10*time.Second); status != 0 {
		t.Errorf("stopped during the delay: exit status %d\n%s", status, log)
	}
	if d := time.Since(stopAt); d > 5*time.Second {
		t.Errorf("stopping during the restart delay took %s", d)
	}
	if data, err := os.ReadFile(runs2); err != nil {
		t.Errorf("never ran: %v", err)
	} else if strings.Count(string(data), "run") != 1 {
		t.Errorf("ran %d times, want 1 (no restart after the stop)", strings.Count(string(data), "run"))
	}

	// A component that ignores SIGTERM, with a child of its own that
	// ignores it too.
	c, log = supervise(t, []string{"SUPERVISE_STOP_TIMEOUT=1"}, "stubborn", filepath.Join(dir, "stubborn.child"),
		"sh", "-c", `trap "" TERM; sleep 1000 & echo $! >"$0"; wait`, filepath.Join(dir, "grandchild"))
	child = waitChild(t, filepath.Join(dir, "stubborn.child"), 0)
	grandchild := waitChild(t, filepath.Join(dir, "grandchild"), 0)
	if err := c.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if status := exitWithin(t, c, 30*time.Second); status != 0 {
		t.Errorf("stopped: exit status %d\n%s", status, log)
	}
	if pidAlive(child) || pidAlive(grandchild) {
		t.Errorf("left running: component %v, its child %v", pidAlive(child), pidAlive(grandchild))
	}
	if !strings.Contains(log.String(), "stubborn (pid "+strconv.Itoa(child)+") still running 1 s after SIGTERM: SIGKILL") {
		t.Errorf("no line for the SIGKILL:\n%s", log)
	}
}

// waitChild waits until file names a live pid other than old.
func waitChild(t *testing.T, file string, old int) int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if data, err := os.ReadFile(file); err == nil { // else not written yet
			if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && pid != old && pidAlive(pid) {
				return pid
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s names no live process", file)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDownStopsOnlyWhatUpStarted: make down stops what make up started
// and nothing else. A pid file naming a process make up did not start (a
// stale file whose pid was reused) leaves that process alone; a process
// make up started whose supervisor is gone (killed) is found by its mark
// and stopped.
func TestDownStopsOnlyWhatUpStarted(t *testing.T) {
	root := telegraftest.RepoRoot(t)
	run, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(run, "pids"), 0o700); err != nil {
		t.Fatal(err)
	}
	start := func(env ...string) *exec.Cmd {
		c := exec.Command("sleep", "1000")
		c.Env = append(os.Environ(), env...)
		c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := c.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
				t.Error(err)
			}
			// Killed, here or by make down: an ExitError is its end.
			var ee *exec.ExitError
			if err := c.Wait(); err != nil && !errors.As(err, &ee) {
				t.Error(err)
			}
		})
		return c
	}
	stranger := start()
	orphan := start("UP_RUN_DIR=" + run)
	otherRun := start("UP_RUN_DIR=" + run + "-other")
	for _, name := range []string{"scraper", "consumer", "redis"} {
		if err := os.WriteFile(filepath.Join(run, "pids", name+".pid"), []byte(strconv.Itoa(stranger.Process.Pid)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(run, "pids", "kafka.child"), []byte(strconv.Itoa(stranger.Process.Pid)), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(root, "scripts", "down.sh"))
	cmd.Env = append(os.Environ(), "RUN_DIR="+run)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make down: %v\n%s", err, out)
	}
	exited := func(c *exec.Cmd) bool { return !pidAlive(c.Process.Pid) }
	if exited(stranger) {
		t.Errorf("make down stopped a process make up did not start (named by stale pid files):\n%s", out)
	}
	if exited(otherRun) {
		t.Errorf("make down stopped a process of another run directory:\n%s", out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !exited(orphan) {
		if time.Now().After(deadline) {
			t.Fatalf("make down left a process make up started (pid %d):\n%s", orphan.Process.Pid, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(string(out), fmt.Sprintf("left over from make up: pid %d", orphan.Process.Pid)) {
		t.Errorf("make down did not name what it found left over:\n%s", out)
	}
	if files, err := filepath.Glob(filepath.Join(run, "pids", "*")); err != nil {
		t.Error(err)
	} else if len(files) > 0 {
		t.Errorf("pid files left: %v", files)
	}
}
