package redisconn

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

// TestScriptErrorReadsRedis62AsRedis7: the replies Redis 6.2.14 gives for
// a command failing inside a script become, word for word, the ones Redis
// 7.0.15 gives for the same script (both taken from the servers); what
// 6.2 and 7 word alike, or what is not a command's error, is left alone.
func TestScriptErrorReadsRedis62AsRedis7(t *testing.T) {
	for _, c := range []struct{ redis62, want string }{
		{"ERR Error running script (call to f_e6a86ad1a924540477c9472c2190eee2a2a70445): " +
			"@user_script:1: WRONGTYPE Operation against a key holding the wrong kind of value",
			"WRONGTYPE Operation against a key holding the wrong kind of value script: e6a86ad1a924540477c9472c2190eee2a2a70445, on @user_script:1."},
		{"ERR Error running script (call to f_b8f8ca220718a5554e63640e4192f2f5e83b442b): " +
			"@user_script:1: @user_script: 1: -OOM command not allowed when used memory > 'maxmemory'.",
			"OOM command not allowed when used memory > 'maxmemory'. script: b8f8ca220718a5554e63640e4192f2f5e83b442b, on @user_script:1."},
		{"ERR Error running script (call to f_e88b0af1bcb8326ee6db112a5986e85845fbbcc9): " +
			"@user_script:1200: @user_script: 1200: -READONLY You can't write against a read only replica.",
			"READONLY You can't write against a read only replica. script: e88b0af1bcb8326ee6db112a5986e85845fbbcc9, on @user_script:1200."},
		// Not a command's reply error: as it was.
		{"ERR Error running script (call to f_7c69090d716b3b899dd0365cfdda40b6cf8ae98d): @user_script:1: user_script:1: plain", ""},
		{"ERR Error running script (call to f_7ae0187b9ac91447963709e3bfd83c5935fec648): " +
			"@user_script:1: @user_script: 1: Unknown Redis command called from Lua script", ""},
		{"ERR Error running script (call to f_4f939367eaed7accaa7030e7ae2a1fc95f7f3497): " +
			"@user_script:1: @user_script: 1: The user executing the script can't run this command or subcommand", ""},
		// Redis 7's own words, and errors that only look alike.
		{"OOM command not allowed when used memory > 'maxmemory'. script: b8f8ca220718a5554e63640e4192f2f5e83b442b, on @user_script:1.", ""},
		{"MYERR boom", ""},
		{"ERR something else: ERR Error running script (call to f_00): @user_script:1: -OOM x", ""},
		{"ERR Error running script (call to f_xyz): @user_script:1: -OOM x", ""},
		{"", ""},
	} {
		want := c.want
		if want == "" {
			want = c.redis62
		}
		got := ScriptError(redis.Error(c.redis62))
		var re redis.Error
		if !errors.As(got, &re) || string(re) != want {
			t.Errorf("%q\n got %#v\nwant %q", c.redis62, got, want)
		}
	}
	plain := errors.New("read tcp: i/o timeout")
	if !errors.Is(ScriptError(plain), plain) || ScriptError(nil) != nil {
		t.Error("an error that is not a reply must come back as it is")
	}
}

// TestScriptErrorsOnThisServerIntegration: a command refused inside a
// script, on the server under test (REDIS_SERVER), is classified as the
// same refusal outside a script: OOM and READONLY are the server's state
// (READONLY also makes the client reconnect, to find the new master),
// WRONGTYPE is about the key; each reads as Redis 7 words it.
func TestScriptErrorsOnThisServerIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs redis-server")
	}
	srv, master := redistest.Start(t), redistest.Start(t, "--repl-diskless-sync-delay", "0")
	c := srv.Conn()
	run := func(script, key string) (redis.Error, string) {
		t.Helper()
		sha, err := redis.String(c.Do("SCRIPT", "LOAD", script))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Do("EVALSHA", sha, 1, key)
		var re redis.Error
		if !errors.As(ScriptError(err), &re) {
			t.Fatalf("%s on %q: %#v, not a reply error", script, key, err)
		}
		return re, sha
	}
	check := func(re redis.Error, sha, code string, state bool) {
		t.Helper()
		if !strings.HasPrefix(string(re), code+" ") || ServerState(re) != state || NeedsOperator(re) == state {
			t.Fatalf("%s: %q (server state %v)", code, re, ServerState(re))
		}
		if !strings.HasSuffix(string(re), fmt.Sprintf(" script: %s, on @user_script:1.", sha)) {
			t.Fatalf("%s: %q does not name the script and line as Redis 7 does", code, re)
		}
	}
	const write = "redis.call('TYPE', KEYS[1]); return redis.call('SET', KEYS[1], 'y')"

	srv.Do("SET", "s", "x")
	re, sha := run("return redis.call('HSET', KEYS[1], 'a', 'b')", "s")
	check(re, sha, "WRONGTYPE", false)

	srv.Do("CONFIG", "SET", "maxmemory-policy", "noeviction")
	srv.Do("CONFIG", "SET", "maxmemory", "1")
	re, sha = run(write, "k")
	check(re, sha, "OOM", true)
	srv.Do("CONFIG", "SET", "maxmemory", "0")

	host, port, _ := strings.Cut(master.Addr, ":")
	srv.Do("REPLICAOF", host, port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := redis.String(srv.Conn().Do("INFO", "replication"))
		if err == nil && strings.Contains(info, "master_link_status:up") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replica did not sync within 10s:\n%s", info)
		}
		time.Sleep(20 * time.Millisecond)
	}
	re, sha = run(write, "k")
	check(re, sha, "READONLY", true)
	if !demoted(re) {
		t.Fatalf("READONLY from a script does not make the client reconnect: %q", re)
	}
}
