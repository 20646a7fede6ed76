// Package kafkatest runs a real Apache Kafka broker for tests: single node,
// KRaft, on free loopback ports, in the test's temporary directory, stopped
// when the test ends. It drives scripts/kafka.sh (which fetches the jars from
// Maven Central on first use) and reads and writes messages with sarama, a
// Kafka client independent of the code under test.
package kafkatest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// Version is the Kafka protocol version the test clients announce. Kafka 4
// refuses the request versions of Kafka releases before 2.1 (KIP-896), such as
// the 0.10.2 that Telegraf's kafka_consumer uses unless told otherwise.
// V4_1_0_0 is the newest that sarama v1.46 knows (its MaxVersion); sarama then
// clamps each request to the versions the broker announces. Telegraf's kafka
// plugins take the same as text: kafka_version = "4.1.0" in
// [[inputs.kafka_consumer]], version = "4.1.0" in [[outputs.kafka]].
var Version = sarama.V4_1_0_0

// Broker is one Kafka process the test owns.
type Broker struct {
	Addr           string // 127.0.0.1:port, for bootstrap servers
	Port           int
	ControllerPort int
	Dir            string // KAFKA_DIR: data, server.log, kafka.pid

	t      testing.TB
	script string
	env    []string
}

type options struct {
	partitions int
}

// Option changes how the broker is started.
type Option func(*options)

// WithPartitions sets num.partitions, the partition count of auto-created topics.
func WithPartitions(n int) Option { return func(o *options) { o.partitions = n } }

// Start runs a broker and registers its stop with t.Cleanup. The first use on
// a machine fetches the Kafka jars with Maven (a few seconds); Java 17+ and
// (then) mvn must be installed.
func Start(t testing.TB, opts ...Option) *Broker {
	t.Helper()
	// A test that needs a broker is an integration test, skipped in short
	// mode: go test -short runs with no Java installed.
	if testing.Short() {
		t.Fatal("kafkatest.Start: no Kafka broker is started under -short; name this test ...Integration " +
			"and begin it with if testing.Short() { t.Skip(...) }")
	}
	o := options{partitions: 1}
	for _, opt := range opts {
		opt(&o)
	}
	root, err := RepoRoot()
	if err != nil {
		t.Fatalf("kafkatest: %v", err)
	}
	b := &Broker{
		t:      t,
		script: filepath.Join(root, "scripts", "kafka.sh"),
		Dir:    t.TempDir(),
	}
	b.Port, b.ControllerPort = freePort(t), freePort(t)
	b.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(b.Port))
	b.env = append(os.Environ(),
		"KAFKA_DIR="+b.Dir,
		"KAFKA_PORT="+strconv.Itoa(b.Port),
		"KAFKA_CONTROLLER_PORT="+strconv.Itoa(b.ControllerPort),
		"KAFKA_PARTITIONS="+strconv.Itoa(o.partitions),
		// If the test binary dies (go test -timeout, a panic) before its
		// cleanups run, the script's watchdog still stops the broker.
		"KAFKA_STOP_WITH_PID="+strconv.Itoa(os.Getpid()),
	)
	// Cleanups run last-registered first: stop the broker before t.TempDir
	// removes its directory.
	t.Cleanup(b.Stop)
	b.start()
	return b
}

// RepoRoot walks up from the working directory (a package directory under go
// test) to the directory holding go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("kafkatest: finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// run runs one kafka.sh subcommand and returns its combined output.
func (b *Broker) run(args ...string) (string, error) {
	cmd := exec.Command("bash", append([]string{b.script}, args...)...)
	cmd.Env = b.env
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func (b *Broker) start() {
	b.t.Helper()
	begin := time.Now()
	if out, err := b.run("start"); err != nil {
		// kafka.sh already printed the tail of the server log on failure.
		b.t.Fatalf("kafkatest: scripts/kafka.sh start failed: %v\n%s", err, out)
	}
	b.t.Logf("kafkatest: broker on %s started in %v (log %s)", b.Addr, time.Since(begin).Round(time.Millisecond), b.LogPath())
}

// Stop shuts the broker down cleanly (SIGTERM, then SIGKILL after 20 s). It
// is safe to call more than once.
func (b *Broker) Stop() {
	b.t.Helper()
	if out, err := b.run("stop"); err != nil {
		b.t.Errorf("kafkatest: scripts/kafka.sh stop failed: %v: %s", err, out)
	}
}

// Kill ends the broker at once with SIGKILL, as a crash would.
func (b *Broker) Kill() {
	b.t.Helper()
	pid := b.pid()
	if pid == 0 {
		return
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) { // ESRCH: ended already
		b.t.Fatalf("kafkatest: killing the broker: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			b.t.Fatalf("kafkatest: broker pid %d still alive 10s after SIGKILL", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = os.Remove(filepath.Join(b.Dir, "kafka.pid"))
}

// Restart stops the broker cleanly and starts it again on the same ports and
// data directory: topics, messages and committed offsets survive.
func (b *Broker) Restart() {
	b.t.Helper()
	b.Stop()
	b.start()
}

// Running reports whether the broker process is up.
func (b *Broker) Running() bool {
	_, err := b.run("status")
	return err == nil
}

// LogPath is the broker's server.log.
func (b *Broker) LogPath() string { return filepath.Join(b.Dir, "server.log") }

// LogTail returns the last n lines of the server log, for failure messages.
func (b *Broker) LogTail(n int) string {
	data, err := os.ReadFile(b.LogPath())
	if err != nil {
		return fmt.Sprintf("(no server log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// pid is the recorded broker pid, or 0.
func (b *Broker) pid() int {
	data, err := os.ReadFile(filepath.Join(b.Dir, "kafka.pid"))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || !alive(pid) {
		return 0
	}
	return pid
}

// alive: the process exists and is not a zombie. The broker is not our child
// (kafka.sh started it), so its zombie waits for init and still answers
// kill(pid, 0).
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] != 'Z'
}

// Config returns a sarama configuration for this broker's tests.
func Config() *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.Version = Version
	cfg.ClientID = "kafkatest"
	cfg.Producer.Return.Successes = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Retry.Max = 10
	cfg.Producer.Retry.Backoff = 200 * time.Millisecond
	cfg.Metadata.Retry.Max = 10
	cfg.Metadata.Retry.Backoff = 200 * time.Millisecond
	cfg.Consumer.Return.Errors = true
	return cfg
}

func (b *Broker) client() sarama.Client {
	b.t.Helper()
	c, err := sarama.NewClient([]string{b.Addr}, Config())
	if err != nil {
		b.t.Fatalf("kafkatest: connecting to %s: %v; server log tail:\n%s", b.Addr, err, b.LogTail(20))
	}
	return c
}

// CreateTopic creates a topic with the given partitions (replication 1) and
// waits until every partition has a leader. An existing topic is not an error.
func (b *Broker) CreateTopic(name string, partitions int) {
	b.t.Helper()
	c := b.client()
	defer c.Close()
	admin, err := sarama.NewClusterAdminFromClient(c)
	if err != nil {
		b.t.Fatalf("kafkatest: admin client: %v", err)
	}
	err = admin.CreateTopic(name, &sarama.TopicDetail{NumPartitions: int32(partitions), ReplicationFactor: 1}, false)
	if err != nil && !errors.Is(err, sarama.ErrTopicAlreadyExists) {
		b.t.Fatalf("kafkatest: creating topic %q: %v", name, err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := leadersReady(c, name, partitions)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("kafkatest: topic %q not ready after 15s: %v", name, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func leadersReady(c sarama.Client, topic string, partitions int) error {
	if err := c.RefreshMetadata(topic); err != nil {
		return err
	}
	ps, err := c.Partitions(topic)
	if err != nil {
		return err
	}
	if len(ps) < partitions {
		return fmt.Errorf("%d of %d partitions", len(ps), partitions)
	}
	for _, p := range ps {
		if _, err := c.Leader(topic, p); err != nil {
			return fmt.Errorf("partition %d: %w", p, err)
		}
	}
	return nil
}

// Produce writes each value as one message (no key) and waits for the
// broker's acknowledgement of all of them.
func (b *Broker) Produce(topic string, values ...[]byte) {
	b.t.Helper()
	c := b.client()
	defer c.Close()
	p, err := sarama.NewSyncProducerFromClient(c)
	if err != nil {
		b.t.Fatalf("kafkatest: producer: %v", err)
	}
	defer p.Close()
	msgs := make([]*sarama.ProducerMessage, len(values))
	for i, v := range values {
		msgs[i] = &sarama.ProducerMessage{Topic: topic, Value: sarama.ByteEncoder(v)}
	}
	if err := p.SendMessages(msgs); err != nil {
		b.t.Fatalf("kafkatest: producing %d messages to %q: %v", len(values), topic, err)
	}
}

// ReadAll waits until the topic holds at least want messages, then returns
// every message in it from the oldest offset to the end as it was at that
// moment (so it may return more than want): partition by partition, each in
// offset order. It fails the test if fewer than want arrive within timeout.
func (b *Broker) ReadAll(topic string, want int, timeout time.Duration) [][]byte {
	b.t.Helper()
	msgs := b.ReadMessages(topic, want, timeout)
	values := make([][]byte, len(msgs))
	for i, m := range msgs {
		values[i] = m.Value
	}
	return values
}

// ReadMessages is ReadAll with keys, partitions, offsets and timestamps.
func (b *Broker) ReadMessages(topic string, want int, timeout time.Duration) []*sarama.ConsumerMessage {
	b.t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	c := b.client()
	defer c.Close()

	// Wait for want messages, counted from the partitions' offset ranges.
	var spans []span
	for {
		var total int64
		var err error
		spans, total, err = offsetSpans(c, topic)
		if err == nil && total >= int64(want) {
			break
		}
		if err == nil {
			err = fmt.Errorf("topic holds %d", total)
		}
		select {
		case <-deadline.C:
			b.t.Fatalf("kafkatest: waiting %v for %d messages in %q: %v", timeout, want, topic, err)
		case <-time.After(100 * time.Millisecond):
		}
	}

	consumer, err := sarama.NewConsumerFromClient(c)
	if err != nil {
		b.t.Fatalf("kafkatest: consumer: %v", err)
	}
	defer consumer.Close()
	var out []*sarama.ConsumerMessage
	for _, s := range spans {
		if s.newest <= s.oldest {
			continue
		}
		pc, err := consumer.ConsumePartition(topic, s.partition, s.oldest)
		if err != nil {
			b.t.Fatalf("kafkatest: consuming %s/%d from offset %d: %v", topic, s.partition, s.oldest, err)
		}
		last := s.oldest - 1
		for last+1 < s.newest {
			select {
			case m := <-pc.Messages():
				out = append(out, m)
				last = m.Offset
			case err := <-pc.Errors():
				pc.Close()
				b.t.Fatalf("kafkatest: consuming %s/%d: %v", topic, s.partition, err)
			case <-deadline.C:
				pc.Close()
				b.t.Fatalf("kafkatest: reading %s/%d: got up to offset %d of [%d,%d) within %v", topic, s.partition, last, s.oldest, s.newest, timeout)
			}
		}
		pc.Close()
	}
	return out
}

// span is one partition's offsets: messages are oldest <= offset < newest.
type span struct {
	partition      int32
	oldest, newest int64
}

// offsetSpans returns every partition's span, in partition order, and the
// sum of their lengths.
func offsetSpans(c sarama.Client, topic string) ([]span, int64, error) {
	if err := c.RefreshMetadata(topic); err != nil {
		return nil, 0, err
	}
	ps, err := c.Partitions(topic) // sorted by sarama
	if err != nil {
		return nil, 0, err
	}
	spans := make([]span, 0, len(ps))
	var total int64
	for _, p := range ps {
		s := span{partition: p}
		if s.oldest, err = c.GetOffset(topic, p, sarama.OffsetOldest); err != nil {
			return nil, 0, fmt.Errorf("partition %d oldest offset: %w", p, err)
		}
		if s.newest, err = c.GetOffset(topic, p, sarama.OffsetNewest); err != nil {
			return nil, 0, fmt.Errorf("partition %d newest offset: %w", p, err)
		}
		spans = append(spans, s)
		total += s.newest - s.oldest
	}
	return spans, total, nil
}
