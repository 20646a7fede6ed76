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
