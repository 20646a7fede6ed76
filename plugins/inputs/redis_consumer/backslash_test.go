package redis_consumer

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/plugins/parsers/influx"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

// Entries whose names, tags or field keys end in a backslash (issue 19,
// section 3), through each layout, one bad among good ones: a tag is
// written cut of its backslashes (one W! per tag key); an entry that
// cannot become a line Telegraf reads back (a measurement or field key
// ending in a backslash) is never acknowledged: it stays pending and is
// named once with E!, also when it is claimed again; the good entries
// around it are written and acknowledged. Every line written reads back
// with Telegraf's parser.
func TestStreamBackslashesIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	type entry struct {
		id    string
		pairs []string
	}
	cases := []struct {
		name    string
		tune    func(*RedisConsumer)
		entries []entry
		lines   []string // written
		bad     map[string]string
		warn    string // the one W! of the cut tags
	}{{
		name: "typed",
		entries: []entry{
			{"1-1", []string{"_measurement", "disk", "_time", "1", "#path", `C:\`, "v", "4"}},
			{"2-1", []string{"_measurement", `disk\`, "_time", "2", "#id", "c", "v", "4"}},
			{"3-1", []string{"_measurement", "disk", "_time", "3", "#id", "b", `dir\`, "2"}},
			{"4-1", []string{"_measurement", "disk", "_time", "4", "#path", `D:\`, "v", "5"}},
			{"5-1", []string{"_measurement", "disk", "_time", "5", "#path", `\\`, "v", "6"}},
			{"6-1", []string{"_measurement", "disk", "_time", "6", "#id", "a\tb", "v", "7"}},
		},
		lines: []string{`disk,path=C: v=4 1`, `disk,path=D: v=5 4`, `disk v=6 5`},
		bad: map[string]string{
			"2-1": `measurement "disk\\" ends in a backslash, which line protocol cannot carry`,
			"3-1": `metric "disk": field key "dir\\" ends in a backslash, which line protocol cannot carry`,
			"6-1": `metric "disk": tag "id": value "a\tb" holds a tab, which line protocol cannot carry`,
		},
		warn: `metric "disk": tag "path": value "C:\\" ends in a backslash, which line protocol cannot carry: written as "path"="C:"`,
	}, {
		name: "flat",
		tune: func(p *RedisConsumer) { p.TagKeys = []string{"path"} },
		entries: []entry{
			{"1-0", []string{"path", `C:\`, "v", "4"}},
			{"2-0", []string{"path", "e", `dir\`, "2"}},
			{"3-0", []string{"path", `D:\\`, "v", "5"}},
		},
		lines: []string{`redis_consumer,path=C: v=4 1000000`, `redis_consumer,path=D: v=5 3000000`},
		bad: map[string]string{
			"2-0": `metric "redis_consumer": field key "dir\\" ends in a backslash, which line protocol cannot carry`,
		},
		warn: `metric "redis_consumer": tag "path": value "C:\\" ends in a backslash, which line protocol cannot carry: written as "path"="C:"`,
	}, {
		// The pipeline's default path: JSON documents.
		name: "json payload",
		tune: func(p *RedisConsumer) {
			p.PayloadField = "json"
			withFormat(p, "data_format = \"json\"\njson_name_key = \"name\"\ntag_keys = [\"path\", \"id\"]")
		},
		entries: []entry{
			{"1-0", []string{"json", `{"name":"disk","path":"C:\\","v":4}`}},
			{"2-0", []string{"json", `{"name":"disk\\","id":"c","v":4}`}},
			{"3-0", []string{"json", `{"name":"disk","id":"b","dir\\":2}`}},
			{"4-0", []string{"json", `{"name":"disk","path":"D:\\","v":5}`}},
		},
		lines: []string{`disk,path=C: v=4 1000000`, `disk,path=D: v=5 4000000`},
		bad: map[string]string{
			"2-0": `measurement "disk\\" ends in a backslash, which line protocol cannot carry`,
			"3-0": `metric "disk": field key "dir\\" ends in a backslash, which line protocol cannot carry`,
		},
		warn: `metric "disk": tag "path": value "C:\\" ends in a backslash, which line protocol cannot carry: written as "path"="C:"`,
	}, {
		// Line protocol payloads: what Telegraf's parser reads from them
		// is written again, unless it would not read that back.
		name: "influx payload",
		tune: func(p *RedisConsumer) { p.PayloadField = "lp" },
		entries: []entry{
			{"1-0", []string{"lp", `disk,path=C: v=4 1`}},
			{"2-0", []string{"lp", `m,t=a\\"b\ c f=1 2`}},
			{"3-0", []string{"lp", `disk\\,id=c dir\\=2 3`}},
			{"4-0", []string{"lp", `disk,id=b dir\=2 4`}},
		},
		lines: []string{`disk,path=C: v=4 1`, `disk\\,id=c dir\\=2 3`},
		bad: map[string]string{
			"2-0": `metric "m": tag "t": value "a\\\"b c" holds \" and a space, comma or "=", where Telegraf's parser drops the backslash before the quote`,
			"4-0": `invalid line protocol at byte 17: expected field`,
		},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := redistest.Start(t)
			for _, e := range c.entries {
				srv.Do("XADD", append([]any{"metrics", e.id}, strs(e.pairs)...)...)
			}
			p, logs := streamPlugin(t, srv, func(p *RedisConsumer) {
				p.ClaimIdle = config.Duration(100 * time.Millisecond) // its own kept entries come back again and again
				if c.tune != nil {
					c.tune(p)
				}
			})
			r := start(t, p, RunOptions{})
			sameLines(t, waitLines(t, r.stdout, len(c.lines)), c.lines...)
			var badIDs []string
			for _, e := range c.entries {
				if _, ok := c.bad[e.id]; ok {
					badIDs = append(badIDs, e.id+"@c1")
				}
			}
			waitFor(t, "only the bad entries pending", func() bool {
				return strings.Join(pendingIDs(t, srv), " ") == strings.Join(badIDs, " ")
			})
			// Claimed again, each bad entry is named at debug level only.
			for id := range c.bad {
				waitFor(t, "entry "+id+" delivered again", func() bool {
					return strings.Contains(logs.String(),
						fmt.Sprintf(`D! [inputs.redis_consumer] stream "metrics" entry %s still unreadable, left pending`, id))
				})
			}
			log := logs.String()
			for id, reason := range c.bad {
				if n := count(log, fmt.Sprintf(`E! [inputs.redis_consumer] stream "metrics" entry %s: %s`, id, reason)); n != 1 {
					t.Errorf("entry %s: %d error lines with %q", id, n, reason)
				}
			}
			if n := count(log, "E! "); n != len(c.bad) {
				t.Errorf("%d error lines, want %d", n, len(c.bad))
			}
			if n := count(log, "W! "); (c.warn == "" && n != 0) || (c.warn != "" && (n != 1 || count(log, "W! [inputs.redis_consumer] "+c.warn) != 1)) {
				t.Errorf("warnings: want only %q", c.warn)
			}
			// What Telegraf reads from the output: the lines as written.
			parser := &influx.Parser{}
			if err := parser.Init(); err != nil {
				t.Fatal(err)
			}
			ms, err := parser.Parse([]byte(r.stdout.String()))
			if err != nil || len(ms) != len(c.lines) {
				t.Fatalf("Telegraf reads %d metrics (%v) from %q", len(ms), err, r.stdout)
			}
			if n := len(r.stdout.Lines()); n != len(c.lines) {
				t.Fatalf("%d lines written: %q", n, r.stdout)
			}
		})
	}
}

func strs(s []string) []any {
	out := make([]any, len(s))
	for i, x := range s {
		out[i] = x
	}
	return out
}

// A measurement option that line protocol cannot carry would refuse every
// metric: it is refused at start.
func TestMeasurementOptionLineProtocolCannotCarry(t *testing.T) {
	for name, want := range map[string]string{
		`disk\`: `option measurement: measurement "disk\\" ends in a backslash, which line protocol cannot carry`,
		"#disk": `option measurement: measurement "#disk" starts with "#", which line protocol reads as a comment`,
		"a\nb":  `option measurement: measurement "a\nb" holds a newline, which line protocol cannot carry`,
	} {
		p := New()
		p.Mode, p.Key, p.Measurement = "stream", "s", name
		if err := p.Init(); err == nil || err.Error() != want {
			t.Errorf("measurement %q: %v, want %q", name, err, want)
		}
	}
	p := New()
	p.Mode, p.Key, p.Measurement = "stream", "s", `disk\\`
	if err := p.Init(); err != nil {
		t.Errorf(`measurement "disk\\\\" (a pair, which reads back): %v`, err)
	}
}

// Keys mode reads the same bad hash at every gather: the metric is named
// once with E!, not at every gather; the good keys are written each time.
func TestKeysBackslashNamedOnceIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	srv.Do("HSET", "h:good", "_measurement", "disk", "_time", "1", "#path", `C:\`, "v", "1")
	srv.Do("HSET", "h:bad", "_measurement", "disk", "_time", "2", `dir\`, "2")
	p, logs := newPlugin(t, srv.Addr, func(p *RedisConsumer) { p.Mode, p.Key = "keys", "h:*" })
	r := start(t, p, RunOptions{})
	for i := 1; i <= 3; i++ {
		r.gather(t)
		waitFor(t, "a gather's line", func() bool { return len(r.stdout.Lines()) >= i })
	}
	waitFor(t, "the third gather's debug line", func() bool {
		return count(logs.String(), `D! [inputs.redis_consumer] metric disk left out: metric "disk": `+
			`field key "dir\\" ends in a backslash, which line protocol cannot carry (again)`) == 2
	})
	log := logs.String()
	if count(log, "E! ") != 1 ||
		count(log, `E! [inputs.redis_consumer] metric disk left out: metric "disk": `+
			`field key "dir\\" ends in a backslash, which line protocol cannot carry`) != 1 {
		t.Fatalf("log:\n%s", log)
	}
	if count(log, "W! ") != 1 || count(log, `W! [inputs.redis_consumer] metric "disk": tag "path": value "C:\\" ends in a backslash`) != 1 {
		t.Fatalf("log:\n%s", log)
	}
	for _, l := range r.stdout.Lines() {
		if l != `disk,path=C: v=1 1` {
			t.Fatalf("output: %q", r.stdout)
		}
	}
}
