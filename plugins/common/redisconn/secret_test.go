package redisconn

import (
	"os"
	"path/filepath"
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

// A user name without a password is refused at start: no AUTH would be
// sent, and the connection would be the default user's. Given by the
// option or by the address, with an empty password file too.
func TestUsernameWithoutPasswordIsRefused(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*Config{
		{Address: "127.0.0.1:1", Username: config.NewSecret([]byte("writer"))},
		{Address: "redis://127.0.0.1:1", Username: config.NewSecret([]byte("writer"))},
		{Connection: "sentinel", SentinelMaster: "m", Addresses: []string{"127.0.0.1:26379"}, Username: config.NewSecret([]byte("writer"))},
		{Connection: "cluster", Addresses: []string{"127.0.0.1:7000"}, Username: config.NewSecret([]byte("writer"))},
	} {
		err := c.Init()
		if err == nil || !strings.HasPrefix(err.Error(), "option username: set without a password") {
			t.Errorf("%s: %v", c.Address, err)
		}
	}
	// An empty password file is refused for itself first.
	c := &Config{Address: "127.0.0.1:1", Username: config.NewSecret([]byte("writer")), PasswordFile: empty}
	if err := c.Init(); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("empty password file: %v", err)
	}
	// A password from the file, the option or the address: accepted.
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*Config{
		{Address: "127.0.0.1:1", Username: config.NewSecret([]byte("writer")), PasswordFile: pwFile},
		{Address: "redis://writer:pw@127.0.0.1:1"},
		{Address: "127.0.0.1:1", Password: config.NewSecret([]byte("pw"))},
		{Address: "127.0.0.1:1"},
	} {
		if err := c.Init(); err != nil {
			t.Errorf("%s: %v", c.Address, err)
		}
	}
}
