package redis_consumer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

// pending is the number of entries of streamPlugin's group (telegraf on
// metrics) not acknowledged.
func pending(t *testing.T, srv *redistest.Server) int64 {
	t.Helper()
	v, err := redis.Values(srv.Conn().Do("XPENDING", "metrics", "telegraf"))
	if err != nil {
		t.Fatal(err)
	}
	return v[0].(int64)
}

// pendingIDs lists the pending entries of streamPlugin's group as
// id@consumer.
func pendingIDs(t *testing.T, srv *redistest.Server) []string {
	t.Helper()
	v, err := redis.Values(srv.Conn().Do("XPENDING", "metrics", "telegraf", "-", "+", 100))
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 0, len(v))
	for _, e := range v {
		f := e.([]any)
		ids = append(ids, string(f[0].([]byte))+"@"+string(f[1].([]byte)))
	}
	return ids
}

func streamPlugin(t *testing.T, srv *redistest.Server, tune func(*RedisConsumer)) (*RedisConsumer, *syncBuffer) {
	t.Helper()
	return newPlugin(t, srv.Addr, func(p *RedisConsumer) {
		p.Mode, p.Key, p.Group, p.Consumer = "stream", "metrics", "telegraf", "c1"
		p.Block = config.Duration(50 * time.Millisecond)
		if tune != nil {
			tune(p)
		}
	})
}

func TestStreamFieldsBecomeMetricsAndAreAckedIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	srv.Do("XADD", "metrics", "1795552004000-0", "id", "bitcoin", "price", "97234.12", "volume", "12", "note", "a b")
	srv.Do("XADD", "metrics", "1795552004123-1", "id", "ethereum", "price", "3391.45", "ok", "true", "big", "1e400")
	p, _ := streamPlugin(t, srv, func(p *RedisConsumer) { p.TagKeys = []string{"id"}; p.Measurement = "rate" })
	r := start(t, p, RunOptions{})
	sameLines(t, waitLines(t, r.stdout, 2),
		`rate,id=bitcoin note="a b",price=97234.12,volume=12 1795552004000000000`,
		`rate,id=ethereum big="1e400",ok="true",price=3391.45 1795552004123000000`)
	waitFor(t, "the XACK", func() bool { return pending(t, srv) == 0 })

	// Entries added later are read as they come.
	srv.Do("XADD", "metrics", "1795552005000-0", "id", "bitcoin", "price", "97300")
	waitLines(t, r.stdout, 3)
	if got := r.stdout.Lines()[2]; got != "rate,id=bitcoin price=97300 1795552005000000000" {
		t.Fatalf("third: %q", got)
	}
	waitFor(t, "the XACK", func() bool { return pending(t, srv) == 0 })
	if err := r.closeStdin(t); err != nil {
		t.Fatal(err)
	}
}

// Entries in the typed layout carry the whole metric: name, tags, field
// types and the time to the nanosecond, whatever the entry ID says. An
// entry that claims the layout and breaks it is kept pending with one
// error, never written with a part left out.
func TestStreamTypedEntriesIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	srv.Do("XADD", "metrics", "1-1", "_measurement", "cpu", "_time", "1795552004123456789", "#host", "web-01", "#dc", "eu",
		"usage", "1.5", "n", "-9223372036854775808i", "u", "18446744073709551615u", "ok", "false",
		"msg", `"disk \"sda\" \\ full"`, `\#x`, "-0", "inf", "+Inf")
	srv.Do("XADD", "metrics", "2-1", "_measurement", "mem", "free", "3u") // no _time: the entry ID's
	srv.Do("XADD", "metrics", "3-1", "_measurement", "bad", "_time", "1", "v", "3x")
	srv.Do("XADD", "metrics", "4-1", "_measurement", "m", "_time", "7", "v", `"tab\there"`)
	p, logs := streamPlugin(t, srv, nil)
	r := start(t, p, RunOptions{})
	// Telegraf's line protocol serializer leaves the +Inf field out: line
	// protocol has no infinity (the layout keeps it for other readers).
	sameLines(t, waitLines(t, r.stdout, 3),
		`cpu,dc=eu,host=web-01 #x=-0,msg="disk \"sda\" \\ full",n=-9223372036854775808i,ok=false,u=18446744073709551615u,usage=1.5 1795552004123456789`,
		`mem free=3u 2000000`,
		`m v="tab\\there" 7`)
	waitFor(t, "the XACK of the good ones", func() bool { return pending(t, srv) == 1 })
	if ids := pendingIDs(t, srv); len(ids) != 1 || ids[0] != "3-1@c1" {
		t.Fatalf("pending %q", ids)
	}
	if !strings.Contains(logs.String(), `E! [inputs.redis_consumer] stream "metrics" entry 3-1: field "v": "3x" is not a value of the layout`) {
		t.Fatalf("log:\n%s", logs)
	}
}

// Hostile typed entries in the middle of one batch: the good ones around
// them are written (keys that need escapes, tag_keys over a '#' tag, the
// edges of each type), each bad one is left pending with one error line
// naming what is wrong, and the rest of the batch is acknowledged.
func TestStreamTypedHostileEntriesInABatchIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	srv.Do("XADD", "metrics", "1-1", "_measurement", "m, x=y", "_time", "-9223372036854775808", "#a b", `c,d=e\`,
		`\#k`, `"q\"\\"`, "#host", "ignored", "host", `"h1"`, "n", "9223372036854775807i", "f", "-0", "e", "1e21")
	srv.Do("XADD", "metrics", "2-1", "_measurement", "m", "_time", "1", "v", "1", `\v`, "2")
	srv.Do("XADD", "metrics", "3-1", "_measurement", "m", "u", "18446744073709551615u", "big", "+Inf", "b", "T")
	srv.Do("XADD", "metrics", "4-1", "_measurement", "m", "_time", "1", "inf", "+Inf", "ninf", "-Inf")
	srv.Do("XADD", "metrics", "5-1", "_measurement", "m", "_time", "9223372036854775808", "v", "1")
	srv.Do("XADD", "metrics", "6-1", "_measurement", "m", "_time", "2", "host", "1.5e0", "v", `"a\b"`)
	srv.Do("XADD", "metrics", "7-1", "_measurement", "m", "_time", "3", "v", "18446744073709551616u")
	srv.Do("XADD", "metrics", "8-1", "_measurement", "m", "_time", "4", "#", "x", "v", "1")
	srv.Do("XADD", "metrics", "9-1", "_measurement", "m", "_time", "5", "v", "NaN")
	srv.Do("XADD", "metrics", "10-1", "_measurement", "m", "_time", "6", "host", "true")
	srv.Do("XADD", "metrics", "11-1", "flat", "entry")
	p, logs := streamPlugin(t, srv, func(p *RedisConsumer) { p.TagKeys = []string{"host"} })
	out := &syncBuffer{}
	if err := p.Run(context.Background(), nil, out, RunOptions{Once: true}); err != nil {
		t.Fatal(err)
	}
	// In the order of the stream.
	want := []string{
		`m\,\ x=y,a\ b=c\,d\=e,host=h1 #k="q\"\\",e=1000000000000000000000,f=-0,n=9223372036854775807i -9223372036854775808`,
		`m b=true,u=18446744073709551615u 3000000`,
		`m,host=1.5 v="a\\b" 2`,
		`redis_consumer flat="entry" 11000000`,
	}
	if got := out.Lines(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("output:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := pendingIDs(t, srv); strings.Join(got, " ") != "2-1@c1 4-1@c1 5-1@c1 7-1@c1 8-1@c1 9-1@c1 10-1@c1" {
		t.Fatalf("pending: %v", got)
	}
	log := logs.String()
	for _, line := range []string{
		`entry 2-1: field "v" given twice: `,
		`entry 4-1: "m": no serializable fields: `,
		`entry 5-1: _time "9223372036854775808" is out of range (year 1678 to 2262): `,
		`entry 7-1: field "v": unsigned integer "18446744073709551616u" is out of the uint64 range: `,
		`entry 8-1: tag "#" has an empty key: `,
		`entry 9-1: field "v": "NaN" is not a value of the layout`,
		`entry 10-1: no fields (all are tag_keys): `,
	} {
		if count(log, `E! [inputs.redis_consumer] stream "metrics" `+line) != 1 {
			t.Errorf("no single error line %q", line)
		}
	}
	if count(log, "E! ") != 7 {
		t.Fatalf("log:\n%s", log)
	}
}

func TestStreamPayloadFieldIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	srv.Do("XADD", "metrics", "1795552004000-0", "lp", "cpu,host=a usage=0.5 1795552000000000000", "other", "ignored")
	srv.Do("XADD", "metrics", "1795552004555-0", "lp", "cpu,host=b usage=0.25") // no timestamp: the entry ID's
	srv.Do("XADD", "metrics", "1795552004666-0", "lp", "mem free=1u 1\nmem free=2u 2")
	p, _ := streamPlugin(t, srv, func(p *RedisConsumer) { p.PayloadField = "lp" })
	r := start(t, p, RunOptions{})
	sameLines(t, waitLines(t, r.stdout, 4),
		"cpu,host=a usage=0.5 1795552000000000000",
		"cpu,host=b usage=0.25 1795552004555000000",
		"mem free=1u 1",
		"mem free=2u 2")
	waitFor(t, "the XACK", func() bool { return pending(t, srv) == 0 })
}

func TestStreamPayloadJSONTakesItsOwnTimeIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	srv.Do("XADD", "m", "1000-0", "json", `{"v":1,"t":1795552004}`)
	p, _ := newPlugin(t, srv.Addr, func(p *RedisConsumer) {
		p.Mode, p.Key, p.PayloadField = "stream", "m", "json"
		withFormat(p, "data_format = \"json\"\njson_time_key = \"t\"\njson_time_format = \"unix\"")
	})
	out := &syncBuffer{}
	if err := p.Run(context.Background(), nil, out, RunOptions{Once: true}); err != nil {
		t.Fatal(err)
	}
	sameLines(t, out.Lines(), "redis_consumer v=1 1795552004000000000")
}

func TestStreamStartIDDollarSkipsOlderEntriesIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	srv.Do("XADD", "metrics", "1-0", "v", "1")
	p, _ := streamPlugin(t, srv, func(p *RedisConsumer) { p.StartID = "$" })
	r := start(t, p, RunOptions{})
	waitFor(t, "the group", func() bool {
		groups, err := redis.Values(srv.Conn().Do("XINFO", "GROUPS", "metrics"))
		return err == nil && len(groups) == 1
	})
	srv.Do("XADD", "metrics", "2-0", "v", "2")
	sameLines(t, waitLines(t, r.stdout, 1), "redis_consumer v=2 2000000")
}

// Entries a consumer read and never acknowledged (it died) are claimed by
// another after claim_idle, written and acknowledged.
func TestStreamClaimsEntriesOfADeadConsumerIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	srv.Do("XGROUP", "CREATE", "metrics", "telegraf", "0", "MKSTREAM")
	srv.Do("XADD", "metrics", "1000-0", "v", "1")
	srv.Do("XADD", "metrics", "2000-0", "v", "2")
	srv.Do("XREADGROUP", "GROUP", "telegraf", "dead", "STREAMS", "metrics", ">")
	srv.Do("XADD", "metrics", "3000-0", "v", "3")
	if got := pendingIDs(t, srv); strings.Join(got, " ") != "1000-0@dead 2000-0@dead" {
		t.Fatalf("setup: %v", got)
	}
	p, logs := streamPlugin(t, srv, func(p *RedisConsumer) { p.ClaimIdle = config.Duration(200 * time.Millisecond) })
	began := time.Now()
	r := start(t, p, RunOptions{})
	sameLines(t, waitLines(t, r.stdout, 1), "redis_consumer v=3 3000000000") // the new entry at once
	got := waitLines(t, r.stdout, 3)
	if time.Since(began) < 150*time.Millisecond {
		t.Fatalf("claimed before claim_idle: %v", got)
	}
	sameLines(t, got, "redis_consumer v=1 1000000000", "redis_consumer v=2 2000000000", "redis_consumer v=3 3000000000")
	waitFor(t, "the XACK", func() bool { return pending(t, srv) == 0 })
	if !strings.Contains(logs.String(), "I! [inputs.redis_consumer] claimed 2 entries pending for more than 200ms") {
		t.Fatalf("log:\n%s", logs)
	}
}

// TestStreamClaimSkipsEntriesDeletedWhilePendingIntegration: an entry
// deleted from the stream while pending for a dead consumer is not
// delivered, not counted as claimed, and leaves the pending list: Redis 7+
// drops it there itself, Redis 6.2 returns it without fields and the
// consumer acknowledges it. Hostile: every pending entry deleted, by
// XTRIM, while the consumer already runs.
func TestStreamClaimSkipsEntriesDeletedWhilePendingIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs redis-server")
	}
	t.Run("one deleted", func(t *testing.T) {
		srv := redistest.Start(t)
		srv.Do("XGROUP", "CREATE", "metrics", "telegraf", "0", "MKSTREAM")
		srv.Do("XADD", "metrics", "1000-0", "v", "1")
		srv.Do("XADD", "metrics", "2000-0", "v", "2")
		srv.Do("XREADGROUP", "GROUP", "telegraf", "dead", "STREAMS", "metrics", ">")
		srv.Do("XDEL", "metrics", "1000-0")
		p, logs := streamPlugin(t, srv, func(p *RedisConsumer) { p.ClaimIdle = config.Duration(200 * time.Millisecond) })
		r := start(t, p, RunOptions{})
		sameLines(t, waitLines(t, r.stdout, 1), "redis_consumer v=2 2000000000")
		waitFor(t, "the pending list empty", func() bool { return pending(t, srv) == 0 })
		if log := logs.String(); !strings.Contains(log, "I! [inputs.redis_consumer] claimed 1 entries pending for more than 200ms") ||
			strings.Contains(log, "claimed 2") || strings.Contains(log, "E! ") || strings.Contains(log, "W! ") {
			t.Fatalf("log:\n%s", log)
		}
		if got := r.stdout.Lines(); len(got) != 1 {
			t.Fatalf("output: %q", got)
		}
	})
	t.Run("all trimmed", func(t *testing.T) {
		srv := redistest.Start(t)
		srv.Do("XGROUP", "CREATE", "metrics", "telegraf", "0", "MKSTREAM")
		srv.Do("XADD", "metrics", "1000-0", "v", "1")
		srv.Do("XADD", "metrics", "2000-0", "v", "2")
		srv.Do("XREADGROUP", "GROUP", "telegraf", "dead", "STREAMS", "metrics", ">")
		p, logs := streamPlugin(t, srv, func(p *RedisConsumer) { p.ClaimIdle = config.Duration(300 * time.Millisecond) })
		r := start(t, p, RunOptions{})
		srv.Do("XTRIM", "metrics", "MAXLEN", 0)
		claims := commandCalls(t, srv, "xautoclaim")
		waitFor(t, "a claim pass after the trim", func() bool { return commandCalls(t, srv, "xautoclaim") > claims })
		waitFor(t, "the pending list empty", func() bool { return pending(t, srv) == 0 })
		srv.Do("XADD", "metrics", "3000-0", "v", "3")
		sameLines(t, waitLines(t, r.stdout, 1), "redis_consumer v=3 3000000000")
		if log := logs.String(); strings.Contains(log, "I! [inputs.redis_consumer] claimed") || strings.Contains(log, "E! ") || strings.Contains(log, "W! ") {
			t.Fatalf("log:\n%s", log)
		}
	})
	t.Run("built in", func(t *testing.T) {
		srv := redistest.Start(t)
		srv.Do("XGROUP", "CREATE", "metrics", "telegraf", "0", "MKSTREAM")
		srv.Do("XADD", "metrics", "1000-0", "v", "1")
		srv.Do("XADD", "metrics", "2000-0", "v", "2")
		srv.Do("XREADGROUP", "GROUP", "telegraf", "dead", "STREAMS", "metrics", ">")
		srv.Do("XDEL", "metrics", "2000-0")
		s := builtInSettled(t, srv.Addr, streamTune(func(p *RedisConsumer) {
			p.ClaimIdle = config.Duration(200 * time.Millisecond)
		}), func(m telegraf.Metric) { m.Accept() })
		acc, logs := s.got, s.logs
		acc.Wait(t, 1)
		waitFor(t, "the pending list empty", func() bool { return pending(t, srv) == 0 })
		if got := lines(t, acc.GetTelegrafMetrics()); len(got) != 1 || got[0] != "redis_consumer v=1 1000000000" {
			t.Fatalf("metrics: %q", got)
		}
		if log := logs.String(); !strings.Contains(log, "claimed 1 entries") || strings.Contains(log, "E! ") || strings.Contains(log, "W! ") {
			t.Fatalf("log:\n%s", log)
		}
	})
}

// TestStreamClaimIdleOnAServerWithoutXAUTOCLAIMIntegration: a server
// without XAUTOCLAIM (older than Redis 6.2, or the command renamed away)
// cannot take over a dead consumer's entries: one E! line names
// claim_idle, and nothing is read meanwhile rather than read without the
// claims the setting asks for. With claim_idle = "0s" the same server is
// read. Hostile: entries of a dead consumer are pending all along.
func TestStreamClaimIdleOnAServerWithoutXAUTOCLAIMIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs redis-server")
	}
	srv := redistest.Start(t, "--rename-command", "XAUTOCLAIM", "XAUTOCLAIM-OFF")
	srv.Do("XGROUP", "CREATE", "metrics", "telegraf", "0", "MKSTREAM")
	srv.Do("XADD", "metrics", "1000-0", "v", "1")
	srv.Do("XREADGROUP", "GROUP", "telegraf", "dead", "STREAMS", "metrics", ">")
	srv.Do("XADD", "metrics", "2000-0", "v", "2")

	p, logs := streamPlugin(t, srv, nil)
	r := start(t, p, RunOptions{})
	want := "E! [inputs.redis_consumer] Redis at " + srv.Addr + " refused the read: option claim_idle: this server has no XAUTOCLAIM " +
		"(Redis 6.2 or newer has it, unless it is renamed away), which takes over the entries of consumers that died; " +
		`set claim_idle = "0s" to read without, or use a server that has it; entries wait in the stream`
	waitFor(t, "the E! line", func() bool { return strings.Contains(logs.String(), want) })
	refused := errorReplies(t, srv)
	waitFor(t, "two more refused claims", func() bool { return errorReplies(t, srv) >= refused+2 })
	if got := r.stdout.Lines(); len(got) != 0 {
		t.Fatalf("read without the claims claim_idle asks for: %q", got)
	}
	if log := logs.String(); count(log, "E! ") != 1 || strings.Contains(log, "W! ") {
		t.Fatalf("log:\n%s", log)
	}

	p, logs = streamPlugin(t, srv, func(p *RedisConsumer) { p.ClaimIdle, p.Consumer = 0, "c2" })
	r = start(t, p, RunOptions{})
	sameLines(t, waitLines(t, r.stdout, 1), "redis_consumer v=2 2000000000")
	if log := logs.String(); strings.Contains(log, "E! ") || strings.Contains(log, "W! ") {
		t.Fatalf("claim_idle = 0s: log:\n%s", log)
	}
}

// errorReplies is how many ERR replies the server gave (INFO errorstats,
// Redis 6.2+ and Valkey).
func errorReplies(t *testing.T, srv *redistest.Server) int {
	t.Helper()
	info, err := redis.String(srv.Do("INFO", "errorstats"), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(info, "errorstat_ERR:count=")
	if !ok {
		return 0
	}
	end := strings.IndexAny(rest, "\r\n")
	if end < 0 {
		end = len(rest)
	}
	n, err := strconv.Atoi(rest[:end])
	if err != nil {
		t.Fatalf("INFO errorstats: %v", err)
	}
	return n
}

// A consumer restarted with the same name gets its own pending entries
// back at once; under another name (claiming off) it does not.
func TestStreamRestartWithTheSameNameGetsItsPendingBackIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	srv.Do("XGROUP", "CREATE", "metrics", "telegraf", "0", "MKSTREAM")
	for _, id := range []string{"1000-0", "2000-0", "3000-0"} {
		srv.Do("XADD", "metrics", id, "v", id[:1])
	}
	srv.Do("XREADGROUP", "GROUP", "telegraf", "c1", "COUNT", 2, "STREAMS", "metrics", ">")

	other, _ := streamPlugin(t, srv, func(p *RedisConsumer) { p.Consumer, p.ClaimIdle = "c2", 0 })
	out := &syncBuffer{}
	if err := other.Run(context.Background(), nil, out, RunOptions{Once: true}); err != nil {
		t.Fatal(err)
	}
	sameLines(t, out.Lines(), "redis_consumer v=3 3000000000")
	if got := pendingIDs(t, srv); strings.Join(got, " ") != "1000-0@c1 2000-0@c1" {
		t.Fatalf("after c2: %v", got)
	}

	same, _ := streamPlugin(t, srv, func(p *RedisConsumer) { p.ClaimIdle, p.BatchSize = 0, 1 })
	out = &syncBuffer{}
	if err := same.Run(context.Background(), nil, out, RunOptions{Once: true}); err != nil {
		t.Fatal(err)
	}
	sameLines(t, out.Lines(), "redis_consumer v=1 1000000000", "redis_consumer v=2 2000000000")
	if n := pending(t, srv); n != 0 {
		t.Fatalf("%d still pending", n)
	}
}

func TestStreamParseErrorKeepLeavesTheEntryPendingIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	srv.Do("XADD", "metrics", "1000-0", "lp", "cpu usage=")
	srv.Do("XADD", "metrics", "2000-0", "other", "x")
	srv.Do("XADD", "metrics", "3000-0", "lp", "cpu usage=1 3")
	p, logs := streamPlugin(t, srv, func(p *RedisConsumer) {
		p.PayloadField = "lp"
		p.ClaimIdle = config.Duration(100 * time.Millisecond) // it claims its own kept entries again and again
	})
	r := start(t, p, RunOptions{})
	sameLines(t, waitLines(t, r.stdout, 1), "cpu usage=1 3")
	claims := commandCalls(t, srv, "xautoclaim")
	waitFor(t, "three more claim passes", func() bool { return commandCalls(t, srv, "xautoclaim") >= claims+3 })
	if got := pendingIDs(t, srv); strings.Join(got, " ") != "1000-0@c1 2000-0@c1" {
		t.Fatalf("pending: %v", got)
	}
	log := logs.String()
	if count(log, "E! ") != 2 ||
		count(log, `E! [inputs.redis_consumer] stream "metrics" entry 1000-0: invalid line protocol at byte 11: expected field: "cpu usage="; `+
			`left pending (on_parse_error = "keep")`) != 1 ||
		count(log, `E! [inputs.redis_consumer] stream "metrics" entry 2000-0: no field "lp": "other=x"; left pending`) != 1 {
		t.Fatalf("log:\n%s", log)
	}
	if len(r.stdout.Lines()) != 1 {
		t.Fatalf("output: %q", r.stdout)
	}
}

func TestStreamParseErrorAckIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	srv.Do("XADD", "metrics", "1000-0", "lp", "cpu usage=")
	srv.Do("XADD", "metrics", "2000-0", "lp", "cpu usage=1 3")
	p, logs := streamPlugin(t, srv, func(p *RedisConsumer) { p.PayloadField, p.OnParseError = "lp", "ack" })
	out := &syncBuffer{}
	if err := p.Run(context.Background(), nil, out, RunOptions{Once: true}); err != nil {
		t.Fatal(err)
	}
	sameLines(t, out.Lines(), "cpu usage=1 3")
	if n := pending(t, srv); n != 0 {
		t.Fatalf("%d pending", n)
	}
	if !strings.Contains(logs.String(), `E! [inputs.redis_consumer] stream "metrics" entry 1000-0: invalid line protocol at byte 11: `+
		`expected field: "cpu usage="; acknowledged, it will not be delivered again`) {
		t.Fatalf("log:\n%s", logs)
	}
}

// The stream is deleted under a running consumer: the group is created
// again, at 0 of the new stream, and reading goes on. Hostile: the new
// stream's first entry has an ID below the last one read from the old.
func TestStreamGroupCreatedAgainAfterTheKeyWasDeletedIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	srv.Do("XADD", "metrics", "1000-0", "v", "1")
	p, logs := streamPlugin(t, srv, nil)
	r := start(t, p, RunOptions{})
	waitLines(t, r.stdout, 1)
	srv.Do("DEL", "metrics")
	waitFor(t, "the warning", func() bool {
		return strings.Contains(logs.String(), `W! [inputs.redis_consumer] stream "metrics" is gone (the key was deleted, or Redis lost it), `+
			`and consumer group "telegraf" with it: created both again, the group at 0`)
	})
	srv.Do("XADD", "metrics", "500-0", "v", "0")
	srv.Do("XADD", "metrics", "2000-0", "v", "2")
	sameLines(t, waitLines(t, r.stdout, 3), "redis_consumer v=1 1000000000", "redis_consumer v=0 500000000", "redis_consumer v=2 2000000000")
}

// XGROUP DESTROY under a running consumer: the group is created again
// after the last entry it read, not at start_id "0", which would write the
// whole stream a second time, and the log says what happened (not "the
// key was deleted?"). Hostile: an entry added while the group is gone,
// and the group destroyed a second time.
func TestStreamGroupDestroyedReadsOnAfterTheLastEntryIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	for i := 1; i <= 3; i++ {
		srv.Do("XADD", "metrics", fmt.Sprintf("%d000-0", i), "v", i)
	}
	p, logs := streamPlugin(t, srv, nil)
	r := start(t, p, RunOptions{})
	waitLines(t, r.stdout, 3)
	waitFor(t, "the XACK", func() bool { return pending(t, srv) == 0 })

	srv.Do("XGROUP", "DESTROY", "metrics", "telegraf")
	srv.Do("XADD", "metrics", "4000-0", "v", 4)
	waitFor(t, "the warning", func() bool {
		return strings.Contains(logs.String(), `W! [inputs.redis_consumer] consumer group "telegraf" of stream "metrics" is gone, `+
			`the stream is not (XGROUP DESTROY?): created the group again at 3000-0, the last entry this consumer read: `+
			`the entries after it are read, none before it again`)
	})
	waitLines(t, r.stdout, 4)
	srv.Do("XGROUP", "DESTROY", "metrics", "telegraf")
	waitFor(t, "the second warning", func() bool { return strings.Contains(logs.String(), "created the group again at 4000-0") })
	srv.Do("XADD", "metrics", "5000-0", "v", 5)
	waitLines(t, r.stdout, 5)
	waitFor(t, "the XACK", func() bool { return pending(t, srv) == 0 })
	if err := r.closeStdin(t); err != nil {
		t.Fatal(err)
	}
	sameLines(t, r.stdout.Lines(), "redis_consumer v=1 1000000000", "redis_consumer v=2 2000000000",
		"redis_consumer v=3 3000000000", "redis_consumer v=4 4000000000", "redis_consumer v=5 5000000000")
	if log := logs.String(); strings.Contains(log, "the key was deleted") || count(log, "W! ") != 2 {
		t.Fatalf("log:\n%s", log)
	}
}

// Redis restarts (AOF on) while entries come in: all are written, none is
// lost, and the group ends with nothing pending.
func TestStreamRedisRestartIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always")
	p, logs := streamPlugin(t, srv, func(p *RedisConsumer) { p.Timeout = config.Duration(300 * time.Millisecond) })
	r := start(t, p, RunOptions{})
	srv.Do("XADD", "metrics", "1000-0", "v", "1")
	waitLines(t, r.stdout, 1)
	srv.Restart()
	srv.Do("XADD", "metrics", "2000-0", "v", "2")
	got := waitLines(t, r.stdout, 2)
	sameLines(t, got, "redis_consumer v=1 1000000000", "redis_consumer v=2 2000000000")
	waitFor(t, "the XACK", func() bool { return pending(t, srv) == 0 })
	waitFor(t, "the recovery line", func() bool { return strings.Contains(logs.String(), "is back after") })
}

// failingWriter is a stdout whose reader (Telegraf) is gone.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

// What could not be written to stdout is not acknowledged: the run ends
// and the entries stay pending, to be delivered again.
func TestStreamNothingAckedThatWasNotWrittenIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	srv.Do("XADD", "metrics", "1000-0", "v", "1")
	srv.Do("XADD", "metrics", "2000-0", "v", "2")
	p, _ := streamPlugin(t, srv, nil)
	stdin, _ := io.Pipe() // open, silent
	err := p.Run(context.Background(), stdin, failingWriter{}, RunOptions{})
	var se *StdoutError
	if !errors.As(err, &se) {
		t.Fatalf("Run: %v", err)
	}
	if got := pendingIDs(t, srv); strings.Join(got, " ") != "1000-0@c1 2000-0@c1" {
		t.Fatalf("pending: %v", got)
	}
}
