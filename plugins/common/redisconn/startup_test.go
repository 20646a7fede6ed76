package redisconn

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gomodule/redigo/redis"
	"github.com/influxdata/telegraf/config"
	common_tls "github.com/influxdata/telegraf/plugins/common/tls"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

// TestRetryableIntegration: the failures of a first connection, as real
// servers give them, are retryable when Redis may come up or recover by
// itself, and not when an operator must act.
func TestRetryableIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs redis-server")
	}
	certs := redistest.NewCerts(t)
	plain := redistest.Start(t, "--requirepass", "right")
	tlsSrv := redistest.StartTLS(t, certs, false)
	mutual := redistest.StartTLS(t, certs, true)
	full := redistest.Start(t, "--maxclients", "1")
	held := full.Conn() // the one client it takes
	defer held.Close()

	pw := func(s string) config.Secret { return config.NewSecret([]byte(s)) }
	cases := map[string]struct {
		c     *Config
		retry bool
		want  string
	}{
		"not listening":    {&Config{Address: fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t))}, true, "connection refused"},
		"at maxclients":    {&Config{Address: full.Addr}, true, "max number of clients reached"},
		"wrong password":   {&Config{Address: plain.Addr, Password: pw("wrong")}, false, "WRONGPASS"},
		"no password":      {&Config{Address: plain.Addr}, false, "NOAUTH"},
		"no such database": {&Config{Address: plain.Addr, Password: pw("right"), Database: 16}, false, "does not exist"},
		"password, none asked": {&Config{Address: tlsSrv.Addr, Password: pw("x"), ClientConfig: tlsOpts(certs.CA, "", "")},
			false, "without any password configured"},
		"unknown CA": {&Config{Address: "rediss://" + tlsSrv.Addr}, false, "certificate signed by unknown authority"},
		"another server name": {&Config{Address: tlsSrv.Addr, ClientConfig: withServerName(tlsOpts(certs.CA, "", ""), "example.com")},
			false, "not example.com"},
		"no client certificate":   {&Config{Address: mutual.Addr, ClientConfig: tlsOpts(certs.CA, "", "")}, false, "certificate"},
		"TLS to a plain port":     {&Config{Address: "rediss://" + plain.Addr}, true, "handshaking TLS"},
		"plain to a TLS port":     {&Config{Address: tlsSrv.Addr}, true, ""},
		"user and password wrong": {&Config{Address: plain.Addr, Username: pw("nobody"), Password: pw("right")}, false, "WRONGPASS"},
	}
	for name, c := range cases {
		c.c.Timeout = config.Duration(2e9)
		if err := c.c.Init(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		conn, err := c.c.Dial("test")
		if err == nil {
			conn.Close()
			t.Errorf("%s: connected", name)
			continue
		}
		if Retryable(err) != c.retry || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v: retryable %v, want %v", name, err, Retryable(err), c.retry)
		}
	}
}

func withServerName(c common_tls.ClientConfig, name string) common_tls.ClientConfig {
	c.ServerName = name
	return c
}

// TestRetryableReplies: replies and errors that no test server gives at
// will (a server loading its data) are classified by their kind, wrapped
// or not.
func TestRetryableReplies(t *testing.T) {
	for err, retry := range map[error]bool{
		redis.Error("LOADING Redis is loading the dataset in memory"):                                              true,
		fmt.Errorf("connecting to x: %w", redis.Error("LOADING Redis is loading the dataset in memory")):           true,
		fmt.Errorf("connecting to x: %w", redis.Error("MASTERDOWN Link with MASTER is down")):                      true,
		fmt.Errorf("connecting to x: %w", redis.Error("NOPERM User u has no permissions to run 'client|setname'")): false,
		fmt.Errorf("connecting to x: %w", redis.Error("DENIED Redis is running in protected mode")):                false,
		errors.New("connecting to x: WRONGPASS invalid username-password pair"):                                    false, // scrubbed
		&ConfigError{"option database: 16 does not exist"}:                                                         false,
		errors.New("asking the sentinels for \"m\": redigo: no sentinels available"):                               true,
		nil: false,
	} {
		if Retryable(err) != retry {
			t.Errorf("%v: retryable %v", err, !retry)
		}
	}
}

// TestStartupErrorAs: errors.As fills in only Telegraf's startup error
// (the plugins' tests run it through Telegraf's models); any other target
// is left alone, and the error is found as itself.
func TestStartupErrorAs(t *testing.T) {
	inner := errors.New("connecting to x: connection refused")
	err := fmt.Errorf("start: %w", AtStartup(inner))
	var se *StartupError
	if !errors.As(err, &se) || !se.Retry || !errors.Is(err, inner) {
		t.Fatalf("%v", err)
	}
	var ce *ConfigError
	var other *struct{ Err error }
	if errors.As(err, &ce) || se.As(&other) || se.As(nil) || se.As(other) {
		t.Fatal("As filled in a target that is not Telegraf's startup error")
	}
}
