package redis

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/influxdata/telegraf/plugins/parsers/influx"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

// Metrics whose names, tags or field keys end in a backslash (issue 19,
// section 3), as the pipeline's JSON brings them, through each mode that
// stores line protocol: a tag is written cut of its backslashes, named
// once per tag key with W!; a metric Telegraf's parser would not read
// back (a measurement or field key ending in a backslash) is refused
// with one E! line naming it, and nothing else of its line or batch is
// lost. Every payload stored reads back with Telegraf's parser.
const backslashLines = `{"fields":{"v":4},"name":"disk","tags":{"path":"C:\\"},"timestamp":1}
{"fields":{"v":4},"name":"disk\\","tags":{"id":"c"},"timestamp":2}
{"fields":{"dir\\":2},"name":"disk","tags":{"id":"b"},"timestamp":3}
` + `{"metrics":[{"fields":{"v":5},"name":"disk","tags":{"path":"D:\\"},"timestamp":4},` +
	`{"fields":{"v":6,"w\\":1},"name":"disk","tags":{"id":"d"},"timestamp":5},{"fields":{"v":7},"name":"disk","tags":{"path":"\\\\"},"timestamp":6}]}
`

var backslashStored = []string{
	"disk,path=C: v=4 1000000000",
	"disk,path=D: v=5 4000000000",
	"disk v=7 6000000000",
}

func TestLineProtocolBackslashesIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	for _, mode := range []string{"list", "string", "publish", "stream"} {
		t.Run(mode, func(t *testing.T) {
			srv := redistest.Start(t)
			var sub redis.PubSubConn
			if mode == "publish" {
				sub = redis.PubSubConn{Conn: srv.Conn()}
				if err := sub.Subscribe("p"); err != nil {
					t.Fatal(err)
				}
				if _, ok := sub.Receive().(redis.Subscription); !ok {
					t.Fatal("no subscription")
				}
			}
			logs := &syncBuffer{}
			r := newPlugin(t, srv.Addr, logs, func(r *Redis) {
				r.Mode, r.DataFormat = mode, "influx"
				switch mode {
				case "list":
					r.Key = "l"
				case "string":
					r.Key = `s:{{.Time.UnixNano}}`
				case "publish":
					r.Key = "p"
				case "stream":
					r.Key, r.PayloadField = "x", "lp"
				}
			})
			stats := &Stats{}
			if err := r.Run(context.Background(), strings.NewReader(backslashLines), stats); err != nil {
				t.Fatal(err)
			}
			var got []string
			c := srv.Conn()
			switch mode {
			case "list":
				var err error
				got, err = redis.Strings(c.Do("LRANGE", "l", 0, -1))
				if err != nil {
					t.Fatal(err)
				}
			case "string":
				for _, ts := range []string{"1000000000", "4000000000", "6000000000"} {
					v, err := redis.String(c.Do("GET", "s:"+ts))
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, v)
				}
				if n, err := redis.Int(c.Do("DBSIZE")); err != nil || n != 3 {
					t.Errorf("%d keys, want 3", n)
				}
			case "publish":
				for range backslashStored {
					msg, ok := sub.ReceiveWithTimeout(10 * time.Second).(redis.Message)
					if !ok {
						t.Fatalf("no message: %v", msg)
					}
					got = append(got, string(msg.Data))
				}
			case "stream":
				entries, err := redis.Values(c.Do("XRANGE", "x", "-", "+"))
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range entries {
					kv, err := redis.Strings(e.([]any)[1], nil)
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, kv[1])
				}
			}
			if strings.Join(got, "\n") != strings.Join(backslashStored, "\n") {
				t.Fatalf("stored:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(backslashStored, "\n"))
			}
			parser := &influx.Parser{}
			if err := parser.Init(); err != nil {
				t.Fatal(err)
			}
			for _, payload := range got {
				if ms, err := parser.Parse([]byte(payload)); err != nil || len(ms) != 1 {
					t.Fatalf("Telegraf reads %q as %v (%v)", payload, ms, err)
				}
			}
			if w := stats.Written.Load(); w != 3 {
				t.Errorf("%d written, want 3", w)
			}
			log := logs.String()
			for _, want := range []string{
				`E! [outputs.redis] line 2: metric at 2000000000: serializing: measurement "disk\\" ends in a backslash, which line protocol cannot carry: `,
				`E! [outputs.redis] line 3: metric at 3000000000: serializing: metric "disk": field key "dir\\" ends in a backslash, which line ` +
					`protocol cannot carry: `,
				`E! [outputs.redis] line 4: metric at 5000000000: serializing: metric "disk": field key "w\\" ends in a backslash, which line protocol ` +
					`cannot carry: `,
				`W! [outputs.redis] metric "disk": tag "path": value "C:\\" ends in a backslash, which line protocol cannot carry: written as "path"="C:", ` +
					`as Telegraf's serializer does (named once per tag key)`,
			} {
				if logCount(log, want) != 1 {
					t.Errorf("not once in the log: %s", want)
				}
			}
			if logCount(log, "E! ") != 3 || logCount(log, "W! ") != 1 {
				t.Errorf("log:\n%s", log)
			}
		})
	}
}

// logCount is how many lines of the log contain s.
func logCount(log, s string) int {
	n := 0
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, s) {
			n++
		}
	}
	return n
}
