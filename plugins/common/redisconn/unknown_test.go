package redisconn

import (
	"errors"
	"testing"

	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

// TestUnknownCommandOfEachServer: the refusal of a command the server
// does not have, as Redis 6.2 (backquotes) and Redis 7+ and Valkey
// (single quotes) word it, and replies that only look alike.
func TestUnknownCommandOfEachServer(t *testing.T) {
	for reply, want := range map[string]string{
		"ERR unknown command `xautoclaim`, with args beginning with: `k`, `g`, ":       "xautoclaim",
		"ERR unknown command 'xautoclaim', with args beginning with: 'k' 'g' 'c' ":     "xautoclaim",
		"ERR unknown command 'XAUTOCLAIM'":                                             "XAUTOCLAIM",
		"ERR unknown command '', with args beginning with: ":                           "",
		"ERR unknown command 'xautoclaim":                                              "",
		"ERR unknown command xautoclaim":                                               "",
		"ERR unknown subcommand 'x'. Try XINFO HELP.":                                  "",
		"ERR Unknown Redis command called from script script: 4dd8, on @user_script:1": "",
		"NOPERM User u has no permissions to run the 'xautoclaim' command":             "",
	} {
		name, ok := UnknownCommand(redis.Error(reply))
		if name != want || ok != (want != "") {
			t.Errorf("%q: %q, %v", reply, name, ok)
		}
	}
	text := "ERR unknown command 'x'"
	if _, ok := UnknownCommand(errors.New(text)); ok {
		t.Error("not a reply: not the server's refusal")
	}
}

// TestUnknownCommandOnThisServerIntegration: the server under test
// (REDIS_SERVER), with XAUTOCLAIM renamed away, refuses it in words that
// UnknownCommand reads.
func TestUnknownCommandOnThisServerIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs redis-server")
	}
	srv := redistest.Start(t, "--rename-command", "XAUTOCLAIM", "XAUTOCLAIM-OFF")
	_, err := srv.Conn().Do("XAUTOCLAIM", "k", "g", "c", 10, "0-0")
	if name, ok := UnknownCommand(err); !ok || name != "XAUTOCLAIM" && name != "xautoclaim" {
		t.Fatalf("%v: %q, %v", err, name, ok)
	}
	var ce *ConfigError
	if err := NewConfigError("option x: y"); !errors.As(err, &ce) || !NeedsOperator(err) || err.Error() != "option x: y" {
		t.Fatalf("%#v", err)
	}
}
