package redis

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf/config"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

// minimalACL is the least each mode needs, as documented in README.md:
// every mode names itself with CLIENT SETNAME; the rest is the mode's own
// commands (quote's script runs its commands under the same user) on the
// mode's keys and channels. Channel rules follow resetchannels: Redis 6.2
// gives a new user every channel and refuses a channel pattern after that.
var minimalACL = map[string][]string{
	"quote": {"+client|setname", "+evalsha", "+eval", "+type", "+get", "+getrange", "+strlen", "+set", "+setrange", "+del",
		"+hget", "+hmget", "+hset", "+hdel", "+hlen", "+hgetall", "+zadd", "+zrem", "+zcard", "+zscore", "+zmscore", "+zrank",
		"+zrange", "+zrangebylex", "+zrevrangebylex", "+pexpire", "+publish",
		"~coingecko:rate:usd", "~{coingecko:rate:usd}:prices*", "resetchannels", "&coingecko:rate:usd"},
	"hash":    {"+client|setname", "+hset", "+pexpire", "~telegraf:*"},
	"stream":  {"+client|setname", "+xadd", "+pexpire", "~telegraf:*"},
	"publish": {"+client|setname", "+publish", "resetchannels", "&telegraf:*"},
	"list":    {"+client|setname", "+rpush", "+ltrim", "+pexpire", "~telegraf:*"},
	"string":  {"+client|setname", "+set", "~telegraf:*"},
}

func TestMinimalACLPerModeIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	for mode, rules := range minimalACL {
		t.Run(mode, func(t *testing.T) {
			srv.Do("FLUSHALL") // the modes share key names
			user := "writer-" + mode
			args := []interface{}{"SETUSER", user, "reset", "on", ">pw-" + mode}
			for _, r := range rules {
				args = append(args, r)
			}
			srv.Do("ACL", args...)
			input := cpuLines
			if mode == "quote" {
				input = `{"fields":{"fields_bitcoin_usd":97234.12},"name":"kafka_consumer","tags":{},"timestamp":1795552004}` + "\n"
			}
			logs := &syncBuffer{}
			r := newPlugin(t, srv.Addr, logs, func(r *Redis) {
				r.Mode, r.Username, r.Password = mode, config.NewSecret([]byte(user)), config.NewSecret([]byte("pw-"+mode))
				if mode != "publish" { // a channel does not expire: refused there
					r.Expire = config.Duration(time.Hour)
				}
				switch mode {
				case "quote":
					r.Publish = "coingecko:rate:usd"
				case "list":
					r.ListMaxLength = 10
				}
			})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			stats := &Stats{}
			if err := r.Run(ctx, strings.NewReader(input), stats); err != nil || stats.Written.Load() == 0 {
				t.Fatalf("%v; wrote %d; log:\n%s", err, stats.Written.Load(), logs)
			}
			if strings.Contains(logs.String(), "E! ") {
				t.Fatalf("log:\n%s", logs)
			}
		})
	}
}

// TestMissingPermissionIsReportedNotHammeredIntegration: a user without the right to
// write gets one clear error line, the data is kept, and attempts back
// off instead of storming the server.
func TestMissingPermissionIsReportedNotHammeredIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	srv.Do("ACL", "SETUSER", "reader", "reset", "on", ">pw", "+client|setname", "+get", "~*")
	logs := &syncBuffer{}
	r := newPlugin(t, srv.Addr, logs, func(r *Redis) {
		r.Mode, r.Username, r.Password = "hash", config.NewSecret([]byte("reader")), config.NewSecret([]byte("pw"))
		r.Timeout = config.Duration(500 * time.Millisecond)
	})
	srv.Do("CONFIG", "RESETSTAT")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, strings.NewReader(cpuLines), &Stats{}) }()
	time.Sleep(3 * time.Second)
	cancel()
	err := <-done
	if err == nil || !strings.Contains(err.Error(), "3 metrics read from stdin were not written") {
		t.Fatalf("error %v", err)
	}
	out := logs.String()
	// One line for the key, not one per retry, naming the key.
	if strings.Count(out, "NOPERM") != 1 || !strings.Contains(out, `E! [outputs.redis] Redis at `+srv.Addr+` refused HSET to key "telegraf:cpu": NOPERM`) {
		t.Fatalf("want one NOPERM line naming the key:\n%s", out)
	}
	// Backoff from 100 ms doubling: about 5 attempts in 3 s, not hundreds.
	stats := srv.Do("INFO", "commandstats")
	calls := commandCalls(string(stats.([]byte)), "hset")
	if calls > 3*8 {
		t.Fatalf("%d HSET attempts in 3 s", calls)
	}
}

// commandCalls reads cmdstat_<name>:calls=N,... (rejected calls included).
func commandCalls(info, name string) int {
	for _, l := range strings.Split(info, "\n") {
		if strings.HasPrefix(l, "cmdstat_"+name+":") {
			n := 0
			for _, kv := range strings.Split(strings.TrimPrefix(l, "cmdstat_"+name+":"), ",") {
				k, v, _ := strings.Cut(kv, "=")
				if k == "calls" || k == "rejected_calls" || k == "failed_calls" {
					var x int
					for _, c := range strings.TrimSpace(v) {
						x = x*10 + int(c-'0')
					}
					n += x
				}
			}
			return n
		}
	}
	return 0
}

// TestMutualTLSIntegration writes the quote over TLS with a client certificate.
func TestMutualTLSIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	certs := redistest.NewCerts(t)
	srv := redistest.StartTLS(t, certs, true)
	r := newPlugin(t, srv.Addr, nil, func(r *Redis) {
		r.TLSCA, r.TLSCert, r.TLSKey = certs.CA, certs.ClientCert, certs.ClientKey
	})
	in := `{"fields":{"fields_bitcoin_usd":97234.12},"name":"kafka_consumer","tags":{},"timestamp":1795552004}`
	if err := r.Run(context.Background(), strings.NewReader(in), &Stats{}); err != nil {
		t.Fatal(err)
	}
	got, _ := srv.Do("GET", "coingecko:rate:usd").([]byte)
	if string(got) != `{"timestamp":1795552004,"quote":"usd","prices":[{"id":"bitcoin","price":"97234.12"}]}` {
		t.Fatalf("stored %q", got)
	}
}
