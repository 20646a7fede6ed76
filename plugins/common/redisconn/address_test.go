package redisconn

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
		n, err := redis.Int(check.Do("DEL", marker))
		if err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			return db
		}
	}
	t.Fatalf("%s: marker written nowhere", Redact(c.Address))
	return -1
}

// TestURLAddressesHonourEveryPartIntegration: every part of a redis:// or unix://
// address is used: user, password and database. Before, redis://host/3
// wrote to database 0 and redis://:pw@host sent no password.
func TestURLAddressesHonourEveryPartIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
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
		{&Config{Address: "redis://u1:" + pw + "@127.0.0.1", Username: config.NewSecret([]byte("u2")), Password: config.NewSecret([]byte(pw))},
			`option username: set, and different from the user "u1" the address names`},
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
		{&Config{Connection: "sentinel", SentinelMaster: "m", Addresses: []string{"127.0.0.1:26379", "127.0.0.1:99999"}},
			`option addresses: "127.0.0.1:99999": port "99999"`},
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
	// The scheme rediss:// turns TLS on; redis:// with TLS options is a
	// conflict.
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

// TestDatabaseOutOfRangeIntegration: a database the server does not have is an error
// for an operator that says how many it has, at connect (the server may
// have more than 16).
func TestDatabaseOutOfRangeIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
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
	if v, err := redis.String(check.Do("GET", "k19")); err != nil || v != "v" {
		t.Fatalf("database 19: %q: %v", v, err)
	}
	// A default server: 16 databases.
	def := redistest.Start(t)
	_, err = dial(t, &Config{Address: "redis://" + def.Addr + "/16"})
	if err == nil || !strings.Contains(err.Error(), "option database: 16 does not exist on "+def.Addr+" (it has 16: 0 to 15)") {
		t.Fatalf("database 16 of 16: %v", err)
	}
}

// TestURLErrorsNeverShowUserinfo: an address whose user name or password
// holds a character a URL reserves ('@', '/', ':', '?', '#', '%') and
// is not percent-encoded cannot be split into its parts for certain:
// url.Parse ends the host at the first '/', '?' or '#', the user name and
// password at the last '@' before it. Whatever the shape, no error shows
// any fragment of the password (QZ1, KX2, WV3 below) nor of a name that
// may be one (redis-cli reads a lone name before '@' as the password); an
// error about the encoding says that a password must be percent-encoded.
func TestURLErrorsNeverShowUserinfo(t *testing.T) {
	secrets := []string{"QZ1", "KX2", "WV3"}
	const encode = "must be percent-encoded"
	cases := []struct {
		c    *Config
		want string // in the error; "" accepts either a clean start or any error
	}{
		// The two shapes of the report.
		{&Config{Address: "redis://u:QZ1@KX2/WV3@127.0.0.1:6412/0"}, encode},
		{&Config{Address: "redis://user:QZ1/KX2-WV3@127.0.0.1"}, encode},
		// Each reserved character in the password, alone and together.
		{&Config{Address: "redis://:QZ1/KX2@127.0.0.1:6379"}, encode},
		{&Config{Address: "redis://:QZ1?KX2@127.0.0.1"}, encode},
		{&Config{Address: "redis://:QZ1#KX2@127.0.0.1"}, encode},
		{&Config{Address: "redis://:QZ1:KX2/WV3@127.0.0.1"}, encode},
		{&Config{Address: "redis://:QZ1/@KX2?#WV3@127.0.0.1/0"}, encode},
		{&Config{Address: "redis://:/QZ1@127.0.0.1"}, encode},
		{&Config{Address: "redis://:QZ1/@127.0.0.1"}, encode},
		{&Config{Address: "redis://:QZ1@KX2@127.0.0.1:0"}, `port "0"`},
		{&Config{Address: "redis://:QZ1@KX2@127.0.0.1/x"}, `database "x"`},
		{&Config{Address: "redis://:QZ1%KX2@127.0.0.1"}, encode},
		{&Config{Address: "redis://:QZ1%zzKX2@127.0.0.1"}, encode},
		{&Config{Address: "redis://:QZ1%4@127.0.0.1"}, encode},
		{&Config{Address: "redis://:QZ1%@127.0.0.1"}, encode},
		{&Config{Address: "redis://:QZ1 KX2@127.0.0.1"}, encode},
		{&Config{Address: "redis://:QZ1\x7fKX2@127.0.0.1"}, ""},
		{&Config{Address: "redis://:QZ1[KX2]@127.0.0.1"}, encode},
		// A lone name before '@' may be the password.
		{&Config{Address: "redis://QZ1/KX2@127.0.0.1"}, encode},
		{&Config{Address: "redis://QZ1?KX2@127.0.0.1"}, encode},
		{&Config{Address: "redis://QZ1#KX2@127.0.0.1"}, encode},
		{&Config{Address: "redis://QZ1@KX2@127.0.0.1"}, "is ambiguous"},
		// Reserved characters in the user name, with a password.
		{&Config{Address: "redis://u/x:QZ1@127.0.0.1"}, encode},
		{&Config{Address: "redis://u?x:QZ1@127.0.0.1"}, encode},
		{&Config{Address: "redis://u#x:QZ1@127.0.0.1"}, encode},
		{&Config{Address: "redis://u:x:QZ1@127.0.0.1", Username: config.NewSecret([]byte("u:x"))}, "different from the user"},
		{&Config{Address: "redis://u@x:QZ1@127.0.0.1", Username: config.NewSecret([]byte("other"))}, "different from the user"},
		// '@' after the host: in the path, the query, the fragment.
		{&Config{Address: "redis://:QZ1@127.0.0.1/WV3@x"}, encode},
		{&Config{Address: "redis://:QZ1@127.0.0.1?db=1@x"}, encode},
		{&Config{Address: "redis://:QZ1@127.0.0.1#KX2@x"}, encode},
		{&Config{Address: "redis://127.0.0.1?password=QZ1@KX2"}, encode},
		{&Config{Address: "redis://:QZ1@127.0.0.1?password=KX2"}, `query parameter "password"`},
		// Empty parts.
		{&Config{Address: "redis://:@127.0.0.1"}, "empty password"},
		{&Config{Address: "redis://@127.0.0.1"}, "is ambiguous"},
		{&Config{Address: "redis://u:@127.0.0.1"}, "empty password"},
		{&Config{Address: "redis://:QZ1@"}, "no host"},
		{&Config{Address: "redis://:QZ1@:6379"}, "no host"},
		{&Config{Address: "redis://:QZ1@/0"}, "no host"},
		{&Config{Address: "redis://:QZ1@127.0.0.1:"}, ""},
		{&Config{Address: "redis://:QZ1@@127.0.0.1"}, ""},
		{&Config{Address: "://:QZ1/KX2@127.0.0.1"}, ""},
		{&Config{Address: "redis:/:QZ1/KX2@127.0.0.1"}, ""},
		// Other schemes.
		{&Config{Address: "rediss://:QZ1/KX2@127.0.0.1"}, encode},
		{&Config{Address: "tcp://:QZ1/KX2@127.0.0.1:1"}, encode},
		{&Config{Address: "unix://:QZ1/KX2@/tmp/s"}, encode},
		{&Config{Address: "unix://:QZ1?KX2@/tmp/s"}, encode},
		{&Config{Address: "unix://:QZ1@/tmp/WV3@s"}, encode},
		{&Config{Address: "unix://:QZ1@KX2@host/tmp/s"}, "three slashes"},
		{&Config{Address: "ftp://:QZ1/KX2@127.0.0.1"}, encode},
		// A URL without its scheme, as address and as sentinel or cluster seed.
		{&Config{Address: "u:QZ1@127.0.0.1:6379"}, "needs a URL"},
		{&Config{Address: ":QZ1/KX2@127.0.0.1:6379"}, "needs a URL"},
		{&Config{Address: "QZ1@127.0.0.1:6379"}, "needs a URL"},
		{&Config{Connection: "sentinel", SentinelMaster: "m", Addresses: []string{"u:QZ1@127.0.0.1:26379"}}, "needs a URL"},
		{&Config{Connection: "cluster", Addresses: []string{":QZ1/KX2@127.0.0.1:7000"}}, "needs a URL"},
	}
	for _, c := range cases {
		address := c.c.Address
		if address == "" {
			address = strings.Join(c.c.Addresses, ",")
		}
		err := c.c.Init()
		if err == nil {
			if c.want != "" {
				t.Errorf("%q accepted, want an error with %q", address, c.want)
			}
			continue
		}
		msg := err.Error()
		for _, s := range secrets {
			if strings.Contains(msg, s) {
				t.Errorf("%q: the error shows %s, a fragment of the password: %s", address, s, msg)
			}
		}
		if c.want != "" && !strings.Contains(msg, c.want) {
			t.Errorf("%q: %s\nwant %q in it", address, msg, c.want)
		}
		if strings.Count(msg, "\n") > 0 {
			t.Errorf("%q: the error is not one line: %q", address, msg)
		}
	}

	// What stays accepted: '@' in a password (url.Parse splits at the
	// last '@'), in a user name before the ':', and in the path of a
	// unix socket without user or password.
	for addr, want := range map[string]*Config{
		"redis://:QZ1@KX2@127.0.0.1:7000/2": {network: "tcp", addr: "127.0.0.1:7000", passwordText: "QZ1@KX2", Database: 2},
		"redis://u@x:QZ1@127.0.0.1":         {network: "tcp", addr: "127.0.0.1:6379", userText: "u@x", passwordText: "QZ1"},
		"redis://:QZ1%2FKX2%3F%23@[::1]:1":  {network: "tcp", addr: "[::1]:1", passwordText: "QZ1/KX2?#"},
		"unix:///run/redis@6379.sock?db=3":  {network: "unix", addr: "/run/redis@6379.sock", Database: 3},
	} {
		c := &Config{Address: addr}
		if err := c.Init(); err != nil {
			t.Errorf("%q: %v", Redact(addr), err)
			continue
		}
		if c.network != want.network || c.addr != want.addr || c.passwordText != want.passwordText || c.userText != want.userText ||
			c.Database != want.Database {
			t.Errorf("%q: %s %s user %q password %q database %d, want %s %s user %q password %q database %d", Redact(addr),
				c.network, c.addr, c.userText, c.passwordText, c.Database, want.network, want.addr, want.userText, want.passwordText, want.Database)
		}
	}
}

// TestRedactHidesEveryShape: Redact hides all that may be a password,
// also where url.Parse would split the address elsewhere.
func TestRedactHidesEveryShape(t *testing.T) {
	for in, want := range map[string]string{
		"redis://u:QZ1@KX2/WV3@127.0.0.1:6412/0": "redis://u:xxxxx@127.0.0.1:6412/0",
		// User u, password "//QZ1?/QZ1:" without a scheme, or scheme u.
		"u://QZ1?/QZ1:@127.0.0.1:6379":            "u://xxxxx@127.0.0.1:6379",
		"redis://u:QZ1?KX2@127.0.0.1/0?db=1":      "redis://u:xxxxx@127.0.0.1/0?db=xxxxx",
		"redis://u:QZ1#KX2@127.0.0.1":             "redis://u:xxxxx@127.0.0.1",
		"redis://QZ1?KX2@127.0.0.1":               "redis://xxxxx@127.0.0.1",
		"redis://127.0.0.1?password=QZ1@KX2":      "redis://xxxxx",
		"redis://u:a?db=1@127.0.0.1?password=QZ1": "redis://u:xxxxx@127.0.0.1?password=xxxxx",
		"redis://QZ1@127.0.0.1/x:y@z":             "redis://xxxxx@127.0.0.1/x:xxxxx@z",
		"unix:///run/redis@6379.sock?db=3":        "unix:///run/redis@6379.sock?db=3",
		"unix://:QZ1@/run/redis.sock":             "unix://:xxxxx@/run/redis.sock",
		"u:QZ1@127.0.0.1:6379":                    "u:xxxxx@127.0.0.1:6379",
		"QZ1@127.0.0.1:6379":                      "xxxxx@127.0.0.1:6379",
	} {
		if got := Redact(in); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
}

// passwordAlphabet is what the property and the fuzz target build
// passwords from: tokens that no message holds, and every character a
// URL reserves, alone and in the escapes they start.
var passwordAlphabet = []string{"QZ1", "KX2", "WV3", "JP4", "@", "/", ":", "?", "#", "%", "%4", "%40", "%zz", "=", "&", "db=", " ", "[", "]", "\x00", ".", "-"}

// passwordShapes are the places a password takes in an address. In the
// third, a lone name before '@', what comes before a ':' is a user name
// by every reading (redis-cli's too): the check leaves it out.
var passwordShapes = []func(pw string) *Config{
	func(pw string) *Config { return &Config{Address: "redis://:" + pw + "@127.0.0.1:6379/0"} },
	func(pw string) *Config { return &Config{Address: "redis://user:" + pw + "@127.0.0.1"} },
	func(pw string) *Config { return &Config{Address: "redis://" + pw + "@127.0.0.1:6379"} },
	func(pw string) *Config { return &Config{Address: "rediss://u:" + pw + "@localhost:6380?db=2"} },
	func(pw string) *Config { return &Config{Address: "unix://:" + pw + "@/tmp/redis.sock"} },
	func(pw string) *Config { return &Config{Address: "tcp://:" + pw + "@127.0.0.1:1"} },
	func(pw string) *Config { return &Config{Address: "redis://127.0.0.1:6379?password=" + pw} },
	func(pw string) *Config { return &Config{Address: "u:" + pw + "@127.0.0.1:6379"} },
	func(pw string) *Config {
		return &Config{Connection: "sentinel", SentinelMaster: "m", Addresses: []string{":" + pw + "@127.0.0.1:26379"}}
	},
}

// checkHidesPassword builds a password from picks of passwordAlphabet
// and puts it in the shape picked: neither Init's error nor Redact may
// show any token of it.
func checkHidesPassword(t *testing.T, shape byte, picks []byte) {
	var pw strings.Builder
	var tokens []string
	user := ""
	shape %= byte(len(passwordShapes))
	for _, p := range picks {
		piece := passwordAlphabet[int(p)%len(passwordAlphabet)]
		pw.WriteString(piece)
		switch {
		case shape == 2 && piece == ":" && user == "":
			user = pw.String() // a user name, shown
			tokens = tokens[:0]
		case len(piece) == 3 && piece[0] >= 'A' && piece[0] <= 'Z' && !strings.Contains(user, piece):
			tokens = append(tokens, piece)
		}
	}
	c := passwordShapes[shape](pw.String())
	address := c.Address + strings.Join(c.Addresses, "")
	shown := []string{Redact(address)}
	if err := c.Init(); err != nil {
		shown = append(shown, err.Error())
	}
	for _, text := range shown {
		for _, tok := range tokens {
			if strings.Contains(text, tok) {
				t.Fatalf("%q: %q shows %s, a fragment of the password", address, text, tok)
			}
		}
	}
}

// TestAddressHidesPasswordProperty: random passwords of tokens and
// reserved characters in every shape, from fixed seeds that every run
// covers and one from the clock that explores.
func TestAddressHidesPasswordProperty(t *testing.T) {
	seeds := []uint64{1, 2, 3, uint64(time.Now().UnixNano())}
	for _, seed := range seeds {
		r := rand.New(rand.NewPCG(seed, 19))
		for i := 0; i < 3000; i++ {
			picks := make([]byte, 1+r.IntN(8))
			for j := range picks {
				picks[j] = byte(r.IntN(256))
			}
			shape := byte(r.IntN(256))
			t.Run("", func(t *testing.T) {
				defer func() {
					if t.Failed() {
						t.Logf("seed %d, shape %d, picks %v", seed, shape, picks)
					}
				}()
				checkHidesPassword(t, shape, picks)
			})
			if t.Failed() {
				return
			}
		}
	}
}

func FuzzAddressHidesPassword(f *testing.F) {
	f.Add(byte(0), []byte{0, 4, 1, 5, 2})                   // QZ1 @ KX2 / WV3
	f.Add(byte(1), []byte{0, 5, 1, 4})                      // QZ1 / KX2 @
	f.Add(byte(2), []byte{0, 7, 1})                         // QZ1 ? KX2
	f.Add(byte(3), []byte{0, 8, 1, 12, 2})                  // QZ1 # KX2 %zz WV3
	f.Add(byte(4), []byte{0, 6, 1, 5, 3})                   // QZ1 : KX2 / JP4
	f.Add(byte(6), []byte{0, 4, 1, 14, 2})                  // QZ1 @ KX2 & WV3
	f.Add(byte(7), []byte{0, 9, 10, 1})                     // QZ1 % %4 KX2
	f.Add(byte(8), []byte{0, 16, 17, 1, 18})                // QZ1 space [ KX2 ]
	f.Add(byte(178), []byte{225, 71, 198, 7, 247, 88, 138}) // QZ1 ? / QZ1 : @, found by the property test
	f.Fuzz(func(t *testing.T, shape byte, picks []byte) {
		checkHidesPassword(t, shape, picks)
	})
}
