package kafkatest

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// TestBrokerRoundTripIntegration starts a real broker, writes messages with sarama and
// reads every one back; then restarts the broker and checks they survived.
func TestBrokerRoundTripIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	b := Start(t, WithPartitions(2))

	b.CreateTopic("currency.rate", 3)
	sent := make([][]byte, 0, 9)
	for i := range 9 {
		sent = append(sent, fmt.Appendf(nil, `{"fields":{"bitcoin_usd":%d},"name":"http","tags":{},"timestamp":%d}`, 97000+i, 1795552004+i))
	}
	b.Produce("currency.rate", sent...)

	got := b.ReadAll("currency.rate", len(sent), 30*time.Second)
	assertSameMessages(t, got, sent)

	// Auto-created topics take num.partitions from WithPartitions.
	b.Produce("auto.created", []byte("one"))
	msgs := b.ReadMessages("auto.created", 1, 30*time.Second)
	if len(msgs) != 1 || string(msgs[0].Value) != "one" {
		t.Fatalf("auto.created: got %d messages, want the one sent", len(msgs))
	}
	c := b.client()
	parts, err := c.Partitions("auto.created")
	c.Close()
	if err != nil || len(parts) != 2 {
		t.Fatalf("auto.created has partitions %v (%v), want 2", parts, err)
	}

	// A clean restart keeps the data.
	b.Restart()
	assertSameMessages(t, b.ReadAll("currency.rate", len(sent), 30*time.Second), sent)

	// So does a crash.
	b.Kill()
	if b.Running() {
		t.Fatal("broker still running after Kill")
	}
	b.Restart()
	b.Produce("currency.rate", []byte("after crash"))
	assertSameMessages(t, b.ReadAll("currency.rate", len(sent)+1, 30*time.Second), append(slices.Clone(sent), []byte("after crash")))
}

// TestScriptTopicCreateIntegration checks `kafka.sh topic-create` and `status` against a
// running broker: the CLI path the Makefile and humans use.
func TestScriptTopicCreateIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	b := Start(t)
	if out, err := b.run("topic-create", "made.by.script", "4"); err != nil {
		t.Fatalf("kafka.sh topic-create: %v: %s", err, out)
	}
	// Idempotent: the topic exists already.
	if out, err := b.run("topic-create", "made.by.script", "4"); err != nil {
		t.Fatalf("kafka.sh topic-create (again): %v: %s", err, out)
	}
	c := b.client()
	defer c.Close()
	parts, err := c.Partitions("made.by.script")
	if err != nil || len(parts) != 4 {
		t.Fatalf("made.by.script has partitions %v (%v), want 4", parts, err)
	}

	// A second start from the same directory must refuse, not start a twin.
	out, err := b.run("start")
	if err == nil || !strings.Contains(out, "already running") {
		t.Fatalf("second start: err=%v, output %q; want a refusal", err, out)
	}

	b.Stop()
	out, err = b.run("status")
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("status after stop: err=%v, output %q; want exit code 3", err, out)
	}
}

// TestProtocolVersionsIntegration documents why Version matters: Kafka 4 no longer
// answers the 0.10.2 protocol that Telegraf's kafka_consumer uses by default,
// while Version works for a consumer group as Telegraf runs it (join, consume
// from the oldest offset, commit, resume after the commit).
func TestProtocolVersionsIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	b := Start(t)
	b.CreateTopic("versions", 2)

	old := Config()
	old.Version = sarama.V0_10_2_0
	old.Producer.Retry.Max = 0
	old.Metadata.Retry.Max = 0
	p, err := sarama.NewSyncProducer([]string{b.Addr}, old)
	if err == nil {
		_, _, err = p.SendMessage(&sarama.ProducerMessage{Topic: "versions", Value: sarama.StringEncoder("x")})
		p.Close()
	}
	if err == nil {
		t.Fatal("producing with protocol 0.10.2 succeeded; Kafka 4 was expected to refuse it")
	}
	t.Logf("protocol 0.10.2 refused as expected: %v", err)

	b.Produce("versions", []byte("a"), []byte("b"), []byte("c"))
	if got := consumeGroup(t, b, "versions", 3); len(got) != 3 {
		t.Fatalf("first session read %q, want 3 messages", got)
	}
	b.Produce("versions", []byte("d"))
	if got := consumeGroup(t, b, "versions", 1); len(got) != 1 || got[0] != "d" {
		t.Fatalf("second session read %q, want only the new message (offsets committed)", got)
	}
}

// consumeGroup runs one consumer-group session (group "kafkatest", from the
// oldest offset when it has no commit) until it has n messages, marks them,
// and closes, which commits.
func consumeGroup(t *testing.T, b *Broker, topic string, n int) []string {
	t.Helper()
	cfg := Config()
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	g, err := sarama.NewConsumerGroup([]string{b.Addr}, "kafkatest", cfg)
	if err != nil {
		t.Fatalf("consumer group: %v", err)
	}
	h := &collector{want: n, done: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go func() {
		for ctx.Err() == nil {
			if err := g.Consume(ctx, []string{topic}, h); err != nil && ctx.Err() == nil {
				t.Errorf("consume: %v", err)
				return
			}
		}
	}()
	select {
	case <-h.done:
	case <-ctx.Done():
		t.Errorf("consumer group: got %d of %d messages within 30s", len(h.got), n)
	}
	cancel()
	if err := g.Close(); err != nil {
		t.Errorf("closing consumer group: %v", err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.got)
}

type collector struct {
	mu   sync.Mutex
	got  []string
	want int
	done chan struct{}
}

func (*collector) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (*collector) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (c *collector) ConsumeClaim(s sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for m := range claim.Messages() {
		s.MarkMessage(m, "")
		c.mu.Lock()
		c.got = append(c.got, string(m.Value))
		if len(c.got) == c.want {
			close(c.done)
		}
		c.mu.Unlock()
	}
	return nil
}

// assertSameMessages compares as multisets: across partitions Kafka keeps no
// order.
func assertSameMessages(t *testing.T, got, want [][]byte) {
	t.Helper()
	g, w := toSortedStrings(got), toSortedStrings(want)
	if !slices.Equal(g, w) {
		t.Fatalf("read back %d messages, want %d:\ngot  %q\nwant %q", len(g), len(w), g, w)
	}
}

func toSortedStrings(bs [][]byte) []string {
	s := make([]string, len(bs))
	for i, b := range bs {
		s[i] = string(b)
	}
	slices.Sort(s)
	return s
}
