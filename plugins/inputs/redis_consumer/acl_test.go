package redis_consumer

import (
	"context"
	"strings"
	"testing"

	"github.com/influxdata/telegraf/config"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

// minimalACL is the least each mode needs, as documented in README.md.
// Channel rules follow resetchannels: Redis 6.2 gives a new user every
// channel and refuses a channel pattern after that.
var minimalACL = map[string][]string{
	"quote":     {"+client|setname", "+get", "~coingecko:rate:usd"},
	"subscribe": {"+client|setname", "+subscribe", "+psubscribe", "+ping", "resetchannels", "&metrics"},
	"stream":    {"+client|setname", "+xgroup|create", "+xreadgroup", "+xack", "+xautoclaim", "~metrics"},
	"keys":      {"+client|setname", "+scan", "+type", "+get", "+hgetall", "+lrange", "~host:*"},
}

func TestMinimalACLPerModeIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	srv.Do("SET", DefaultQuoteKey, doc)
	srv.Do("XADD", "metrics", "*", "v", "1")
	srv.Do("HSET", "host:a", "load", "0.5")
	srv.Do("RPUSH", "host:b", "load v=1 1")
	for mode, rules := range minimalACL {
		t.Run(mode, func(t *testing.T) {
			user := "reader-" + mode
			args := []interface{}{"SETUSER", user, "reset", "on", ">pw"}
			for _, r := range rules {
				args = append(args, r)
			}
			srv.Do("ACL", args...)
			p, logs := newPlugin(t, srv.Addr, func(p *RedisConsumer) {
				p.Mode, p.Username, p.Password = mode, config.NewSecret([]byte(user)), config.NewSecret([]byte("pw"))
				switch mode {
				case "subscribe":
					p.Channels = []string{"metrics"}
				case "stream":
					p.Key = "metrics"
				case "keys":
					p.Key = "host:*"
				}
			})
			if mode == "subscribe" {
				r := start(t, p, RunOptions{})
				waitFor(t, "the subscription", func() bool {
					n, _ := srv.Do("PUBSUB", "NUMSUB", "metrics").([]interface{})
					return len(n) == 2 && n[1].(int64) == 1
				})
				srv.Do("PUBLISH", "metrics", "m v=1 1")
				waitLines(t, r.stdout, 1)
			} else {
				out := &syncBuffer{}
				if err := p.Run(context.Background(), nil, out, RunOptions{Once: true}); err != nil || len(out.Lines()) == 0 {
					t.Fatalf("%v: %q", err, out)
				}
			}
			if strings.Contains(logs.String(), "E! ") || strings.Contains(logs.String(), "NOPERM") {
				t.Fatalf("log:\n%s", logs)
			}
		})
	}
}
