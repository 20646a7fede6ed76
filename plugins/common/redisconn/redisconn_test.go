package redisconn

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/influxdata/telegraf/config"
	common_tls "github.com/influxdata/telegraf/plugins/common/tls"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/logger"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/syncbuf"
)

func dial(t *testing.T, c *Config) (*Conn, error) {
	t.Helper()
	if c.Timeout == 0 {
		c.Timeout = config.Duration(2 * time.Second)
	}
	if err := c.Init(); err != nil {
		return nil, err
	}
	return c.Dial("redisconn-test")
}

func ping(t *testing.T, c *Config) error {
	t.Helper()
	conn, err := dial(t, c)
	if err != nil {
		return err
	}
	defer conn.Close()
	// Through the RESP writer as well as redigo's.
	if err := conn.WriteRaw([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		return err
	}
	if r, err := redis.String(conn.Receive()); err != nil || r != "PONG" {
		return errors.New("no PONG from the raw write")
	}
	_, err = conn.Do("PING")
	return err
}

func TestAddressesIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	for _, addr := range []string{srv.Addr, "tcp://" + srv.Addr, "redis://" + srv.Addr} {
		if err := ping(t, &Config{Address: addr}); err != nil {
			t.Errorf("%s: %v", addr, err)
		}
	}
	for addr, want := range map[string]string{
		"localhost":     "want host:port",
		"ftp://x:1":     `unknown scheme "ftp"`,
		"unix://":       "no socket path",
		"redis://:6379": "no host",
	} {
		err := (&Config{Address: addr}).Init()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v", addr, err)
		}
	}
}

func TestTLSIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	certs := redistest.NewCerts(t)
	t.Run("server TLS", func(t *testing.T) {
		srv := redistest.StartTLS(t, certs, false)
		if err := ping(t, &Config{Address: srv.Addr, ClientConfig: tlsOpts(certs.CA, "", "")}); err != nil {
			t.Fatal(err)
		}
		if err := ping(t, &Config{Address: "rediss://" + srv.Addr, ClientConfig: tlsOpts(certs.CA, "", "")}); err != nil {
			t.Fatalf("rediss://: %v", err)
		}
		// Without our CA the server is not trusted...
		err := ping(t, &Config{Address: "rediss://" + srv.Addr})
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("unknown CA: %v", err)
		}
		// ...unless told to skip verification.
		skip := tlsOpts("", "", "")
		skip.InsecureSkipVerify = true
		if err := ping(t, &Config{Address: srv.Addr, ClientConfig: skip}); err != nil {
			t.Fatalf("insecure_skip_verify: %v", err)
		}
		// A plain client gets nowhere, with an error that says so.
		if err := ping(t, &Config{Address: srv.Addr}); err == nil {
			t.Fatal("plain connection to a TLS port worked")
		}
	})
	t.Run("mutual TLS", func(t *testing.T) {
		srv := redistest.StartTLS(t, certs, true)
		if err := ping(t, &Config{Address: srv.Addr, ClientConfig: tlsOpts(certs.CA, certs.ClientCert, certs.ClientKey)}); err != nil {
			t.Fatal(err)
		}
		if err := ping(t, &Config{Address: srv.Addr, ClientConfig: tlsOpts(certs.CA, "", "")}); err == nil {
			t.Fatal("a client without a certificate was let in")
		}
	})
	t.Run("server name", func(t *testing.T) {
		srv := redistest.StartTLS(t, certs, false)
		opts := tlsOpts(certs.CA, "", "")
		opts.ServerName = "redis.example.com" // not in the certificate
		if err := ping(t, &Config{Address: srv.Addr, ClientConfig: opts}); err == nil || !strings.Contains(err.Error(), "redis.example.com") {
			t.Fatalf("wrong server name: %v", err)
		}
	})
}

func TestPasswordsAndFilesIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	const secret = "s3cret-Pa55"
	srv := redistest.Start(t, "--requirepass", secret)
	file := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(file, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := ping(t, &Config{Address: srv.Addr, PasswordFile: file}); err != nil {
		t.Fatalf("password_file: %v", err)
	}
	if err := ping(t, &Config{Address: srv.Addr, Password: config.NewSecret([]byte(secret))}); err != nil {
		t.Fatalf("password: %v", err)
	}
	if err := (&Config{Address: srv.Addr, Password: config.NewSecret([]byte("x")), PasswordFile: file}).Init(); err == nil {
		t.Fatal("password and password_file both accepted")
	}
	// A wrong password is a clear error, marked for an operator, that
	// never shows the password tried.
	const wrong = "wrong-Pa55word"
	err := ping(t, &Config{Address: srv.Addr, Password: config.NewSecret([]byte(wrong))})
	if err == nil || !strings.Contains(err.Error(), "WRONGPASS") || strings.Contains(err.Error(), wrong) || !NeedsOperator(err) {
		t.Fatalf("wrong password: %v", err)
	}
	// ACL user with a wrong password: the same.
	srv.Do("ACL", "SETUSER", "writer", "on", ">right-one", "~*", "+@all")
	err = ping(t, &Config{Address: srv.Addr, Username: config.NewSecret([]byte("writer")), Password: config.NewSecret([]byte(wrong))})
	if err == nil || strings.Contains(err.Error(), wrong) || !NeedsOperator(err) {
		t.Fatalf("wrong ACL password: %v", err)
	}
	if err := ping(t, &Config{Address: srv.Addr, Username: config.NewSecret([]byte("writer")), Password: config.NewSecret([]byte("right-one"))}); err != nil {
		t.Fatalf("ACL user: %v", err)
	}
}

func TestErrorClasses(t *testing.T) {
	for reply, operator := range map[string]bool{
		"LOADING Redis is loading the dataset in memory":                          false,
		"READONLY You can't write against a read only replica.":                   false,
		"OOM command not allowed when used memory > 'maxmemory'.":                 false,
		"BUSY Redis is busy running a script.":                                    false,
		"MASTERDOWN Link with MASTER is down":                                     false,
		"WRONGTYPE Operation against a key holding the wrong kind of value":       true,
		"NOPERM this user has no permissions to run the 'hset' command":           true,
		"ERR Error running script (call to f_0123): @user_script:1: some failure": true,
	} {
		if got := NeedsOperator(redis.Error(reply)); got != operator {
			t.Errorf("%q: needs operator %v", reply, got)
		}
	}
	if NeedsOperator(errors.New("dial tcp 127.0.0.1:1: connect: connection refused")) {
		t.Error("a refused connection is not for an operator")
	}
	// Whose state a reply is about (the server's, or the command's and its
	// key's), and whether a PING tells when it ends (Away).
	for reply, want := range map[string][2]bool{
		"LOADING Redis is loading the dataset in memory":                    {true, true},
		"BUSY Redis is busy running a script.":                              {true, true},
		"OOM command not allowed when used memory > 'maxmemory'.":           {true, false},
		"READONLY You can't write against a read only replica.":             {true, false},
		"MOVED 3999 127.0.0.1:6381":                                         {true, false},
		"WRONGTYPE Operation against a key holding the wrong kind of value": {false, false},
		"NOPERM this user has no permissions to access one of the keys":     {false, false},
		"ERR unknown command":                                               {false, false},
	} {
		err := redis.Error(reply)
		if ServerState(err) != want[0] || Away(err) != want[1] || Away(fmt.Errorf("writing: %w", err)) != want[1] {
			t.Errorf("%q: server state %v, away %v", reply, ServerState(err), Away(err))
		}
	}
	for msg, away := range map[string]bool{
		"dial tcp 127.0.0.1:1: connect: connection refused":                      true,
		"read tcp 127.0.0.1:5->127.0.0.1:6: i/o timeout":                         true,
		"connecting to 127.0.0.1:6379: WRONGPASS invalid username-password pair": false,
	} {
		if Away(errors.New(msg)) != away {
			t.Errorf("%q: away %v", msg, !away)
		}
	}
	if Away(nil) {
		t.Error("no error is not away")
	}
}

// TestOutageLines: one line when an outage starts, saying how Redis is
// retried (probed while away, backoff after a refusal), one when it ends.
func TestOutageLines(t *testing.T) {
	var logs syncbuf.Buffer
	o := &Outage{Log: logger.NewWriter(&logs, "x"), Endpoint: "e", Probe: time.Second, Backoff: 4 * time.Second}
	o.Failed(errors.New("dial tcp: connection refused"), "keeping 3 metrics")
	o.Failed(errors.New("dial tcp: connection refused"), "keeping 4 metrics")
	o.Succeeded()
	o.Failed(redis.Error("OOM command not allowed"), "keeping 1 metrics")
	o.Succeeded()
	o.Failed(redis.Error("NOPERM no permissions"), "keeping 1 metrics")
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	want := []string{
		"W! [x] Redis at e is unavailable: dial tcp: connection refused; keeping 3 metrics, probing it every 1s and going on as soon as it answers",
		"I! [x] Redis at e is back after",
		"W! [x] Redis at e is unavailable: OOM command not allowed; keeping 1 metrics, retrying with backoff up to 4s",
		"I! [x] Redis at e is back after",
		"E! [x] Redis at e refused the write: NOPERM no permissions; keeping 1 metrics, retrying with backoff up to 4s until this is fixed",
	}
	if len(lines) != len(want) {
		t.Fatalf("log:\n%s", logs.String())
	}
	for i := range want {
		if !strings.HasPrefix(lines[i], want[i]) {
			t.Errorf("line %d: %q, want %q", i, lines[i], want[i])
		}
	}
	if !strings.Contains(lines[1], "and 2 failed attempts") {
		t.Errorf("line %q", lines[1])
	}
}

func tlsOpts(ca, cert, key string) common_tls.ClientConfig {
	return common_tls.ClientConfig{TLSCA: ca, TLSCert: cert, TLSKey: key}
}

func TestBackoff(t *testing.T) {
	b := NewBackoff()
	var total time.Duration
	for i := 0; i < 20; i++ {
		d := b.Next()
		if d <= 0 || d > b.Max {
			t.Fatalf("wait %s", d)
		}
		total += d
	}
	// Twenty attempts take minutes, not a storm of seconds.
	if total < 5*time.Minute {
		t.Fatalf("20 attempts in %s", total)
	}
	b.Reset()
	if d := b.Next(); d > b.Min {
		t.Fatalf("after Reset: %s", d)
	}
}

// TestSentinelAddressesLeftInOrderIntegration: the sentinel library moves
// the sentinel that answered to the front of its list; the configuration's
// addresses, which logs and tests read while writes go on, keep their
// order (a data race before, found by -race in a failover test).
func TestSentinelAddressesLeftInOrderIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	master := redistest.Start(t)
	live := redistest.StartSentinel(t, "order", master)
	gone := "127.0.0.1:" + strconv.Itoa(redistest.FreePort(t)) // nothing listens
	c := &Config{Connection: "sentinel", SentinelMaster: "order", Addresses: []string{gone, live.Addr}}
	c.Timeout = config.Duration(2 * time.Second)
	if err := c.Init(); err != nil {
		t.Fatal(err)
	}
	// A sentinel just started may not name its master yet: ask again.
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := c.Dial("redisconn-test")
		if err == nil {
			_, err = conn.Do("PING")
			conn.Close()
		}
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if c.Addresses[0] != gone || c.Addresses[1] != live.Addr {
		t.Fatalf("addresses reordered: %v", c.Addresses)
	}
}
