package redisconn

import (
	"strings"
	"testing"

	"github.com/influxdata/telegraf/config"
)

// A password is a Telegraf secret: a plain value is used as it is; a
// reference to a secret store, which only Telegraf itself can resolve, is
// refused at start by an execd program rather than sent as the password.
func TestPasswordIsATelegrafSecret(t *testing.T) {
	c := &Config{Address: "127.0.0.1:1", Password: config.NewSecret([]byte(`pa"ss\word`))}
	if err := c.Init(); err != nil || c.passwordText != `pa"ss\word` {
		t.Fatalf("%v %q", err, c.passwordText)
	}
	c = &Config{Address: "127.0.0.1:1", Password: config.NewSecret([]byte("@{vault:redis_pw}"))}
	err := c.Init()
	if err == nil || !strings.HasPrefix(err.Error(), "option password: ") {
		t.Fatalf("a secret-store reference was not refused: %v", err)
	}
}

// A user name is a Telegraf secret too, as in Telegraf's
// outputs.redistimeseries: a plain value is the user; a secret-store
// reference is refused by an execd program, never sent as the user.
func TestUsernameIsATelegrafSecret(t *testing.T) {
	c := &Config{Address: "127.0.0.1:1", Username: config.NewSecret([]byte("writer")), Password: config.NewSecret([]byte("pw"))}
	if err := c.Init(); err != nil || c.userText != "writer" {
		t.Fatalf("%v %q", err, c.userText)
	}
	// The address's user and the option agree: accepted.
	c = &Config{Address: "redis://writer:pw@127.0.0.1:1", Username: config.NewSecret([]byte("writer"))}
	if err := c.Init(); err != nil || c.userText != "writer" {
		t.Fatalf("%v %q", err, c.userText)
	}
	c = &Config{Address: "127.0.0.1:1", Username: config.NewSecret([]byte("@{vault:redis_user}")), Password: config.NewSecret([]byte("pw"))}
	err := c.Init()
	if err == nil || !strings.HasPrefix(err.Error(), "option username: ") {
		t.Fatalf("a secret-store reference was not refused: %v", err)
	}
}
