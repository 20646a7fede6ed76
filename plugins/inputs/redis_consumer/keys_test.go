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

func TestKeysStringsHashesAndListsIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	srv.Do("SET", "sensor:1", "climate,room=hall temp=19.5 1795552004000000000")
	srv.Do("HSET", "sensor:2", "temp", "21.5", "room", "kitchen", "state", "on") // flat: another client's
	srv.Do("HSET", "sensor:3", "_measurement", "climate", "_time", "1795552004000000007", "#room", "attic",
		"temp", "18.25", "n", "3i", "big", "18446744073709551615u", "ok", "true", "note", `"a \"b\""`, `\_id`, `"x"`)
	srv.Do("RPUSH", "sensor:4", "climate,room=cellar temp=12 1795552001000000000", "climate,room=cellar temp=12.5 1795552002000000000")
	srv.Do("SADD", "sensor:5", "a set is skipped")
	srv.Do("SET", "other", "climate temp=1 1") // does not match
	p, logs := newPlugin(t, srv.Addr, func(p *RedisConsumer) {
		p.Mode, p.Key, p.TagKeys, p.KeyTag = "keys", "sensor:*", []string{"room"}, "key"
	})
	out := &syncBuffer{}
	if err := p.Run(context.Background(), nil, out, RunOptions{Once: true}); err != nil {
		t.Fatal(err)
	}
	got := out.Lines()
	sort.Strings(got)
	if len(got) != 5 {
		t.Fatalf("output %q", got)
	}
	hash, ts := lastField(t, got[4])
	want := []string{
		"climate,key=sensor:1,room=hall temp=19.5 1795552004000000000",
		`climate,key=sensor:3,room=attic _id="x",big=18446744073709551615u,n=3i,note="a \"b\"",ok=true,temp=18.25 1795552004000000007`,
		"climate,key=sensor:4,room=cellar temp=12 1795552001000000000",
		"climate,key=sensor:4,room=cellar temp=12.5 1795552002000000000",
	}
	if strings.Join(got[:4], "\n") != strings.Join(want, "\n") ||
		hash != `redis_consumer,key=sensor:2,room=kitchen state="on",temp=21.5` || ts == 0 {
		t.Fatalf("output\n%s", strings.Join(got, "\n"))
	}
	if !strings.Contains(logs.String(), `D! [inputs.redis_consumer] key "sensor:5" skipped: type set is not read`) {
		t.Fatalf("log:\n%s", logs)
	}
}

// With the defaults a typed hash and a list element come back as the
// metric that was written: no tag is added.
func TestKeysDefaultsAddNoTagIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	srv.Do("HSET", "m:1", "_measurement", "cpu", "_time", "5", "#host", "a", "usage", "1.5")
	srv.Do("RPUSH", "m:2", "mem,host=a free=3u 6")
	p, _ := newPlugin(t, srv.Addr, func(p *RedisConsumer) { p.Mode, p.Key = "keys", "m:*" })
	out := &syncBuffer{}
	if err := p.Run(context.Background(), nil, out, RunOptions{Once: true}); err != nil {
		t.Fatal(err)
	}
	got := out.Lines()
	sort.Strings(got)
	sameLines(t, got, "cpu,host=a usage=1.5 5", "mem,host=a free=3u 6")
}

// A list longer than list_max_length gives its newest elements and one
// warning, repeated only after it was short again; a bad element is left
// out with one error, the others are read.
func TestKeysListBoundAndBadElementsIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	for i := 1; i <= 5; i++ {
		srv.Do("RPUSH", "l:1", fmt.Sprintf("m v=%di %d", i, i))
	}
	srv.Do("RPUSH", "l:2", "m v=1i 1", "not line protocol", "m v=3i 3")
	p, logs := newPlugin(t, srv.Addr, func(p *RedisConsumer) { p.Mode, p.Key, p.ListMaxLength = "keys", "l:*", 3 })
	r := start(t, p, RunOptions{})
	r.gather(t)
	sameLines(t, waitLines(t, r.stdout, 5), "m v=3i 3", "m v=4i 4", "m v=5i 5", "m v=1i 1", "m v=3i 3")
	r.gather(t)
	waitLines(t, r.stdout, 10)
	log := logs.String()
	if count(log, `W! [inputs.redis_consumer] list "l:1" holds more than list_max_length = 3 elements: only the newest 3 are read`) != 1 ||
		count(log, `E! [inputs.redis_consumer] key "l:2" partly read: 1 of 3 list elements left out; the first: `) != 1 ||
		count(log, `D! [inputs.redis_consumer] key "l:2" partly read again`) != 1 {
		t.Fatalf("log:\n%s", log)
	}
	srv.Do("LTRIM", "l:1", -3, -1)
	r.gather(t)
	waitLines(t, r.stdout, 15)
	srv.Do("RPUSH", "l:1", "m v=6i 6")
	r.gather(t)
	waitLines(t, r.stdout, 20)
	if n := count(logs.String(), `list "l:1" holds more than`); n != 2 {
		t.Fatalf("%d warnings:\n%s", n, logs)
	}
}

// A hash that claims the typed layout and breaks it is skipped with the
// reason, never read with a part left out.
func TestKeysBadTypedHashIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	srv.Do("HSET", "h:1", "_measurement", "cpu", "usage", "1.5x")
	srv.Do("HSET", "h:2", "_time", "5", "usage", "1.5")
	srv.Do("HSET", "h:3", "_measurement", "cpu", "_value", "1")
	p, logs := newPlugin(t, srv.Addr, func(p *RedisConsumer) { p.Mode, p.Key = "keys", "h:*" })
	out := &syncBuffer{}
	if err := p.Run(context.Background(), nil, out, RunOptions{Once: true}); err != nil {
		t.Fatal(err)
	}
	if out.String() != "" {
		t.Fatalf("output %q", out)
	}
	for _, want := range []string{
		`E! [inputs.redis_consumer] key "h:1" skipped: field "usage": "1.5x" is not a value of the layout`,
		`E! [inputs.redis_consumer] key "h:2" skipped: no _measurement field`,
		`E! [inputs.redis_consumer] key "h:3" skipped: field "_value": names starting with '_' are reserved`,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Fatalf("no %q in the log:\n%s", want, logs)
		}
	}
}

// Thousands of keys take several SCAN pages; each is read once.
func TestKeysAcrossScanPagesIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	c := srv.Conn()
	const n = 2500
	for i := 0; i < n; i++ {
		if err := c.Send("HSET", fmt.Sprintf("h:%04d", i), "v", i); err != nil {
			t.Fatal(err)
		}
		if err := c.Send("SET", fmt.Sprintf("s:%04d", i), i); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Do(""); err != nil {
		t.Fatal(err)
	}
	p, _ := newPlugin(t, srv.Addr, func(p *RedisConsumer) { p.Mode, p.Key, p.KeyTag = "keys", "h:*", "key" })
	r := start(t, p, RunOptions{})
	r.gather(t)
	got := waitLines(t, r.stdout, n)
	seen := map[string]bool{}
	for _, l := range got {
		series, _ := lastField(t, l)
		seen[series] = true
	}
	if len(got) != n || len(seen) != n || !seen["redis_consumer,key=h:0042 v=42"] {
		t.Fatalf("%d lines, %d distinct", len(got), len(seen))
	}
}

// A value that cannot be parsed is one error line, and at the next gather
// a debug line while it stays the same.
func TestKeysBadValuesIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	srv.Do("SET", "v:good", "12.5")
	srv.Do("SET", "v:bad", "twelve")
	p, logs := newPlugin(t, srv.Addr, func(p *RedisConsumer) {
		p.Mode, p.Key = "keys", "v:*"
		withFormat(p, "data_format = \"value\"\ndata_type = \"float\"\nvalue_field_name = \"reading\"")
	})
	r := start(t, p, RunOptions{})
	r.gather(t)
	waitLines(t, r.stdout, 1)
	r.gather(t)
	waitLines(t, r.stdout, 2)
	for _, l := range r.stdout.Lines() {
		if series, _ := lastField(t, l); series != "redis_consumer reading=12.5" {
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

func TestKeysWrongPasswordIsOneErrorWithoutThePasswordIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
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
