package redis_consumer

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/gomodule/redigo/redis"

	"github.com/influxdata/telegraf/config"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

func TestKeysStringsAndHashes(t *testing.T) {
	srv := redistest.Start(t)
	srv.Do("SET", "sensor:1", "climate,room=hall temp=19.5 1795552004000000000")
	srv.Do("HSET", "sensor:2", "temp", "21.5", "room", "kitchen", "state", "on")
	srv.Do("RPUSH", "sensor:3", "a list is skipped")
	srv.Do("SET", "other", "climate temp=1 1") // does not match
	p, logs := newPlugin(t, srv.Addr, func(p *RedisConsumer) {
		p.Mode, p.Key, p.TagKeys = "keys", "sensor:*", []string{"room"}
	})
	out := &syncBuffer{}
	if err := p.Run(context.Background(), nil, out, RunOptions{Once: true}); err != nil {
		t.Fatal(err)
	}
	got := out.Lines()
	sort.Strings(got)
	if len(got) != 2 {
		t.Fatalf("output %q", got)
	}
	hash, ts := lastField(got[1])
	if got[0] != "climate,key=sensor:1,room=hall temp=19.5 1795552004000000000" ||
		hash != `redis_consumer,key=sensor:2,room=kitchen state="on",temp=21.5` || ts == 0 {
		t.Fatalf("output %q", got)
	}
	if !strings.Contains(logs.String(), `D! [inputs.redis_consumer] key "sensor:3" skipped: type list is not read`) {
		t.Fatalf("log:\n%s", logs)
	}
}

// Thousands of keys take several SCAN pages; each is read once.
func TestKeysAcrossScanPages(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Conn()
	const n = 2500
	for i := 0; i < n; i++ {
		c.Send("HSET", fmt.Sprintf("h:%04d", i), "v", i)
		c.Send("SET", fmt.Sprintf("s:%04d", i), i)
	}
	if _, err := c.Do(""); err != nil {
		t.Fatal(err)
	}
	p, _ := newPlugin(t, srv.Addr, func(p *RedisConsumer) { p.Mode, p.Key = "keys", "h:*" })
	r := start(t, p, RunOptions{})
	r.gather(t)
	got := waitLines(t, r.stdout, n)
	seen := map[string]bool{}
	for _, l := range got {
		series, _ := lastField(l)
		seen[series] = true
	}
	if len(got) != n || len(seen) != n || !seen["redis_consumer,key=h:0042 v=42"] {
		t.Fatalf("%d lines, %d distinct", len(got), len(seen))
	}
}

// A value that cannot be parsed is one error line, and at the next gather
// a debug line while it stays the same.
func TestKeysBadValues(t *testing.T) {
	srv := redistest.Start(t)
	srv.Do("SET", "v:good", "12.5")
	srv.Do("SET", "v:bad", "twelve")
	p, logs := newPlugin(t, srv.Addr, func(p *RedisConsumer) {
		p.Mode, p.Key, p.DataFormat, p.DataType = "keys", "v:*", "value", "float"
		p.FieldName = "reading"
	})
	r := start(t, p, RunOptions{})
	r.gather(t)
	waitLines(t, r.stdout, 1)
	r.gather(t)
	waitLines(t, r.stdout, 2)
	for _, l := range r.stdout.Lines() {
		if series, _ := lastField(l); series != "redis_consumer,key=v:good reading=12.5" {
			t.Fatalf("output %q", l)
		}
	}
	log := logs.String()
	if count(log, `E! [inputs.redis_consumer] key "v:bad" skipped: strconv.ParseFloat: parsing "twelve": invalid syntax: "twelve"`) != 1 ||
		count(log, `D! [inputs.redis_consumer] key "v:bad" skipped again`) != 1 {
		t.Fatalf("log:\n%s", log)
	}
	srv.Do("SET", "v:bad", "13")
	r.gather(t)
	waitLines(t, r.stdout, 4)
}

func TestKeysWrongPasswordIsOneErrorWithoutThePassword(t *testing.T) {
	srv := redistest.Start(t) // redistest's start-up PING has no password: set it after
	srv.Do("CONFIG", "SET", "requirepass", "right-pw")
	p, logs := newPlugin(t, srv.Addr, func(p *RedisConsumer) {
		p.Mode, p.Key, p.Password = "keys", "*", config.NewSecret([]byte("wrong-pw-s3cret"))
	})
	r := start(t, p, RunOptions{})
	for i := 0; i < 3; i++ {
		r.gather(t)
	}
	waitFor(t, "the error", func() bool { return strings.Contains(logs.String(), "E! ") })
	if strings.Contains(logs.String(), "wrong-pw-s3cret") || count(logs.String(), "E! ") != 1 {
		t.Fatalf("log:\n%s", logs)
	}
	_, err := redis.Dial("tcp", srv.Addr, redis.DialPassword("right-pw"))
	if err != nil {
		t.Fatal(err)
	}
}
