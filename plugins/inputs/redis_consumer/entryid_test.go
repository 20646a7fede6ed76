package redis_consumer

import (
	"context"
	"strings"
	"testing"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

// entry_id_tag tags every metric with its entry's ID, in every layout, so
// that an entry delivered twice (pending when its consumer died) carries
// the same ID both times, and a downstream can drop the second copy.
func TestStreamEntryIDTagIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs redis-server")
	}
	srv := redistest.Start(t)
	srv.Do("XGROUP", "CREATE", "metrics", "telegraf", "0", "MKSTREAM")
	// Typed, with a tag of the same name (hostile: the entry's ID wins),
	// and flat.
	srv.Do("XADD", "metrics", "1000-0", "_measurement", "cpu", "_time", "5", "#entry_id", "forged", "#host", "a", "v", "1.5")
	srv.Do("XADD", "metrics", "2000-7", "v", "2")
	// c1 reads the first and dies before its XACK: it stays pending.
	srv.Do("XREADGROUP", "GROUP", "telegraf", "c1", "COUNT", 1, "STREAMS", "metrics", ">")

	p, _ := streamPlugin(t, srv, func(p *RedisConsumer) { p.Consumer, p.ClaimIdle, p.EntryIDTag = "c1", 0, "entry_id" })
	out := &syncBuffer{}
	if err := p.Run(context.Background(), nil, out, RunOptions{Once: true}); err != nil {
		t.Fatal(err)
	}
	sameLines(t, out.Lines(),
		"cpu,entry_id=1000-0,host=a v=1.5 5",
		"redis_consumer,entry_id=2000-7 v=2 2000000000")

	// A payload of two metrics: both carry the entry's ID.
	srv.Do("XADD", "lp", "3000-0", "lp", "mem free=1u 1\nmem free=2u 2")
	q, _ := newPlugin(t, srv.Addr, func(p *RedisConsumer) {
		p.Mode, p.Key, p.Group, p.Consumer, p.PayloadField, p.EntryIDTag = "stream", "lp", "telegraf", "c1", "lp", "id"
		p.StartID = "0"
	})
	out = &syncBuffer{}
	if err := q.Run(context.Background(), nil, out, RunOptions{Once: true}); err != nil {
		t.Fatal(err)
	}
	sameLines(t, out.Lines(), "mem,id=3000-0 free=1u 1", "mem,id=3000-0 free=2u 2")
}

// entry_id_tag is a stream mode option: refused in the other modes.
func TestEntryIDTagOnlyInStreamMode(t *testing.T) {
	p := New()
	p.Mode, p.Key, p.KeyTag, p.EntryIDTag = "keys", "k*", "", "id"
	err := p.Init()
	if err == nil || !strings.Contains(err.Error(), "option entry_id_tag: only read in stream mode") {
		t.Fatalf("Init: %v", err)
	}
}
