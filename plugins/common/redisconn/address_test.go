package redisconn

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomodule/redigo/redis"
	"github.com/influxdata/telegraf/config"

	pluginconfig "github.com/telegraf-redis/telegraf-redis/plugins/common/config"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

// whichDB writes a marker through c and tells the database it landed in,
// as another client sees it.
func whichDB(t *testing.T, srv *redistest.Server, c *Config) int {
	t.Helper()
	conn, err := dial(t, c)
	if err != nil {
		t.Fatalf("%s: %v", Redact(c.Address), err)
	}
	defer conn.Close()
	marker := fmt.Sprintf("marker-%p", c)
	if _, err := conn.Do("SET", marker, "1"); err != nil {
		t.Fatal(err)
	}
	check := srv.Conn()
	defer check.Close()
	for db := 0; db < 16; db++ {
		if _, err := check.Do("SELECT", db); err != nil {
			t.Fatal(err)
		}
		if n, _ := redis.Int(check.Do("DEL", marker)); n == 1 {
			return db
		}
	}
	t.Fatalf("%s: marker written nowhere", Redact(c.Address))
	return -1
}

// TestURLAddressesHonourEveryPart: every part of a redis:// or unix://
// address is used: user, password and database. Before, redis://host/3
// wrote to database 0 and redis://:pw@host sent no password.
func TestURLAddressesHonourEveryPart(t *testing.T) {
	const secret = "url-Pa55:w@rd/x"
	sock := filepath.Join(t.TempDir(), "redis.sock")
	srv := redistest.Start(t, "--requirepass", secret, "--unixsocket", sock, "--unixsocketperm", "700")
	srv.Do("ACL", "SETUSER", "writer", "on", ">w-Pa55", "~*", "+@all")
	enc := "url-Pa55%3Aw%40rd%2Fx" // percent-encoded, as a URL must carry it
	host := srv.Addr
	for addr, want := range map[string]int{
		"redis://:" + enc + "@" + host:                        0,
		"redis://:" + enc + "@" + host + "/3":                 3,
		"redis://default:" + enc + "@" + host + "/4":          4,
		"redis://writer:w-Pa55@" + host + "/5":                5,
		"redis://writer:w-Pa55@" + host + "?db=6":             6,
		"unix://:" + enc + "@" + sock + "?db=7":               7,
		"unix://writer:w-Pa55@" + sock:                        0,
		"redis://writer:w-Pa55@localhost:" + host[10:] + "/8": 8,
	} {
		if got := whichDB(t, srv, &Config{Address: addr}); got != want {
			t.Errorf("%s: wrote to database %d, want %d", Redact(addr), got, want)
		}
	}
	// The options fill what the URL leaves out.
	if got := whichDB(t, srv, &Config{Address: "redis://" + host + "/9", Password: config.NewSecret([]byte(secret))}); got != 9 {
		t.Errorf("password option with a URL database: database %d", got)
	}
	if got := whichDB(t, srv, &Config{Address: "redis://writer@" + host, Password: config.NewSecret([]byte("w-Pa55")), Database: 10}); got != 10 {
		t.Errorf("user in the URL, password and database options: database %d", got)
	}
	// Saying the same twice is no conflict.
	if got := whichDB(t, srv, &Config{Address: "redis://:" + enc + "@" + host + "/11", Password: config.NewSecret([]byte(secret)), Database: 11}); got != 11 {
		t.Errorf("same values twice: database %d", got)
	}
}

// TestURLConflictsAndMistakesAreRefused: a part given twice with two
// values, or a part that cannot be honoured, is refused at start, and no
// error shows the password.
func TestURLConflictsAndMistakesAreRefused(t *testing.T) {
	const pw = "Sup3r-Secret"
	setDB0 := &pluginconfig.Options{}
	if err := pluginconfig.Decode("[[outputs.x]]\n  database = 0\n", "outputs", "x", &struct {
		*pluginconfig.Options
		Database int `toml:"database"`
	}{Options: setDB0}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		c    *Config
		want string
	}{
		{&Config{Address: "redis://127.0.0.1:6379/3", Database: 4}, "option database: 4, but the address says database 3"},
		{&Config{Address: "redis://127.0.0.1:6379/3", File: setDB0}, "option database: 0, but the address says database 3"},
		{&Config{Address: "redis://:" + pw + "@127.0.0.1", Password: config.NewSecret([]byte("other"))}, "option password: set, and different"},
		{&Config{Address: "redis://u1:" + pw + "@127.0.0.1", Username: "u2", Password: config.NewSecret([]byte(pw))}, `option username: "u2", but the address names user "u1"`},
		{&Config{Address: "redis://" + pw + "@127.0.0.1"}, "is ambiguous"},
		{&Config{Address: "redis://:" + pw + "@127.0.0.1", ClientConfig: tlsOpts("/nonexistent-ca.pem", "", "")}, ""},
		{&Config{Address: "redis://:" + pw + "@127.0.0.1/x"}, `database "x" is not a number`},
		{&Config{Address: "redis://:" + pw + "@127.0.0.1/1?db=2"}, "the database is given twice"},
		{&Config{Address: "redis://:" + pw + "@127.0.0.1?password=" + pw}, `query parameter "password" is not supported`},
		{&Config{Address: "redis://127.0.0.1?password=" + pw}, `query parameter "password" is not supported`},
		{&Config{Address: "redis://:" + pw + "@127.0.0.1:0"}, `port "0" is not a number from 1 to 65535`},
		{&Config{Address: "redis://:" + pw + "@127.0.0.1:65536"}, `port "65536" is not a number from 1 to 65535`},
		{&Config{Address: "127.0.0.1:70000"}, `port "70000" is not a number from 1 to 65535`},
		{&Config{Address: "127.0.0.1:-1"}, `port "-1"`},
		{&Config{Address: "127.0.0.1:http"}, `port "http"`},
		{&Config{Connection: "sentinel", SentinelMaster: "m", Addresses: []string{"127.0.0.1:26379", "127.0.0.1:99999"}}, `option addresses: "127.0.0.1:99999": port "99999"`},
		{&Config{Address: "redis://:p@ss@127.0.0.1" + pw}, ""},
		{&Config{Address: "redis://:" + pw + "%zz@127.0.0.1"}, "not a valid URL"},
		{&Config{Address: "unix://host/tmp/s"}, "three slashes"},
		{&Config{Address: "tcp://:" + pw + "@127.0.0.1:1"}, "tcp:// takes no user or password"},
		{&Config{Address: "redis://:" + pw + "@127.0.0.1#frag"}, "fragment"},
		{&Config{Address: "redis://:@127.0.0.1"}, "empty password"},
	}
	for _, c := range cases {
		err := c.c.Init()
		if err == nil {
			if c.want != "" {
				t.Errorf("%s accepted", Redact(c.c.Address))
			}
			continue
		}
		if c.want != "" && !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", Redact(c.c.Address), err, c.want)
		}
		if strings.Contains(err.Error(), pw) || strings.Contains(err.Error(), "p@ss") {
			t.Errorf("the error shows the password: %v", err)
		}
	}
	// rediss:// turns TLS on; redis:// with TLS options is a conflict.
	c := &Config{Address: "redis://127.0.0.1:6379", ClientConfig: tlsOpts("", "", "")}
	c.InsecureSkipVerify = true
	if err := c.Init(); err == nil || !strings.Contains(err.Error(), "redis:// is a plain connection, but tls options are set") {
		t.Errorf("redis:// with tls options: %v", err)
	}
	c = &Config{Address: "rediss://127.0.0.1:6380/2"}
	if err := c.Init(); err != nil || c.tls == nil || c.Database != 2 || c.Endpoint() != "127.0.0.1:6380 (TLS) database 2" {
		t.Errorf("rediss://: %v %v %d %q", err, c.tls != nil, c.Database, c.Endpoint())
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"redis://user:secret@host:1/2":    "redis://user:xxxxx@host:1/2",
		"redis://:secret@host":            "redis://:xxxxx@host",
		"redis://secret@host":             "redis://xxxxx@host",
		"redis://:p@ss@host":              "redis://:xxxxx@host",
		"redis://host/1?db=2&password=pw": "redis://host/1?db=2&password=xxxxx",
		"unix://:secret@/tmp/s?db=1":      "unix://:xxxxx@/tmp/s?db=1",
		"127.0.0.1:6379":                  "127.0.0.1:6379",
	} {
		if got := Redact(in); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
}

// TestDatabaseOutOfRange: a database the server does not have is an error
// for an operator that says how many it has, at connect (the server may
// have more than 16).
func TestDatabaseOutOfRange(t *testing.T) {
	srv := redistest.Start(t, "--databases", "20")
	_, err := dial(t, &Config{Address: srv.Addr, Database: 20})
	if err == nil || !NeedsOperator(err) || !strings.Contains(err.Error(), "option database: 20 does not exist on "+srv.Addr+" (it has 20: 0 to 19)") {
		t.Fatalf("database 20 of 20: %v", err)
	}
	conn, err := dial(t, &Config{Address: srv.Addr, Database: 19})
	if err != nil {
		t.Fatalf("database 19 of 20: %v", err)
	}
	defer conn.Close()
	if _, err := conn.Do("SET", "k19", "v"); err != nil {
		t.Fatal(err)
	}
	check := srv.Conn()
	if _, err := check.Do("SELECT", 19); err != nil {
		t.Fatal(err)
	}
	if v, _ := redis.String(check.Do("GET", "k19")); v != "v" {
		t.Fatalf("database 19: %q", v)
	}
	// A default server: 16 databases.
	def := redistest.Start(t)
	if _, err := dial(t, &Config{Address: "redis://" + def.Addr + "/16"}); err == nil || !strings.Contains(err.Error(), "option database: 16 does not exist on "+def.Addr+" (it has 16: 0 to 15)") {
		t.Fatalf("database 16 of 16: %v", err)
	}
}
