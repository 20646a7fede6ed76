// Package redisconn is the one place both plugins connect to Redis: the
// options Telegraf's own Redis plugins use (address, username, password,
// database, timeout, tls_*), dialing with redigo, a connection that redials
// after failures, capped exponential backoff, and the classification of
// Redis errors into "wait and retry" and "an operator must act".
package redisconn

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/FZambia/sentinel"
	"github.com/gomodule/redigo/redis"
	"github.com/influxdata/telegraf/config"
	common_tls "github.com/influxdata/telegraf/plugins/common/tls"
	"github.com/mna/redisc"

	pluginconfig "github.com/telegraf-redis/telegraf-redis/plugins/common/config"
)

// Config holds the connection options; plugins embed it so the option names
// are the same everywhere.
type Config struct {
	// Connection is "standalone" (address), "sentinel" (the master named
	// sentinel_master, found through the sentinels in addresses) or
	// "cluster" (a Redis Cluster; addresses are seed nodes).
	Connection       string        `toml:"connection"`
	Addresses        []string      `toml:"addresses"`
	SentinelMaster   string        `toml:"sentinel_master"`
	SentinelPassword config.Secret `toml:"sentinel_password"`

	Address string `toml:"address"`
	// Username and Password are Telegraf secrets, as in Telegraf's own
	// Redis plugins.
	Username config.Secret `toml:"username"`
	Password config.Secret `toml:"password"`
	// PasswordFile holds the password instead (a mounted secret); a
	// trailing newline is ignored.
	PasswordFile string          `toml:"password_file"`
	Database     int             `toml:"database"`
	Timeout      config.Duration `toml:"timeout"`
	common_tls.ClientConfig

	// The secrets, read once at Init: redigo takes them as strings.
	passwordText, sentinelPasswordText string
	userText                           string // of username

	// File is the plugin's record of the options its config file set, so
	// that database = 0 written out conflicts with an address URL's /3,
	// and errors found at connect name the option's line. May be nil.
	File *pluginconfig.Options `toml:"-"`

	network  string
	addr     string
	tls      *tls.Config
	sentinel *sentinel.Sentinel
	cluster  *redisc.Cluster
	mapped   sync.Once // the cluster's slot map loaded before first use
	nodes    *clusterNodes
}

// DefaultTimeout bounds connecting and every reply.
const DefaultTimeout = 5 * time.Second

// Init checks the options and prepares dialing. It must be called once
// before Dial.
func (c *Config) Init() error {
	if c.Timeout <= 0 {
		c.Timeout = config.Duration(DefaultTimeout)
	}
	switch c.Connection {
	case "", "standalone":
		c.Connection = "standalone"
		if len(c.Addresses) > 0 || c.SentinelMaster != "" {
			return errors.New(`option addresses: used with connection = "sentinel"; use address here`)
		}
	case "sentinel":
		if len(c.Addresses) == 0 || c.SentinelMaster == "" {
			return errors.New(`option connection: "sentinel" needs addresses (the sentinels) and sentinel_master`)
		}
		if c.Address != "" {
			return errors.New(`option address: with connection = "sentinel" the master is found through addresses`)
		}
		c.Address = "127.0.0.1:6379" // replaced by the master's address at each dial
		c.sentinel = c.newSentinel()
	case "cluster":
		if len(c.Addresses) == 0 {
			return errors.New(`option connection: "cluster" needs addresses (seed nodes)`)
		}
		if c.Address != "" || c.Database != 0 {
			return errors.New(`option connection: with "cluster", use addresses (not address) and database 0`)
		}
		c.Address = c.Addresses[0]
	default:
		return fmt.Errorf(`option connection: %q is not supported (want "standalone", "sentinel" or "cluster")`, c.Connection)
	}
	if c.Address == "" {
		c.Address = "127.0.0.1:6379"
	}
	if c.Database < 0 {
		return fmt.Errorf("option database: %d is negative", c.Database)
	}
	var err error
	if c.userText, err = secretString(&c.Username); err != nil {
		return fmt.Errorf("option username: %w", err)
	}
	if c.passwordText, err = secretString(&c.Password); err != nil {
		return fmt.Errorf("option password: %w", err)
	}
	if c.sentinelPasswordText, err = secretString(&c.SentinelPassword); err != nil {
		return fmt.Errorf("option sentinel_password: %w", err)
	}
	for _, a := range c.Addresses {
		if _, err := hostPort(a, Redact(a)); err != nil {
			return fmt.Errorf("option addresses: %w", err)
		}
	}
	if c.PasswordFile != "" {
		if c.passwordText != "" {
			return errors.New("option password_file: set password or password_file, not both")
		}
		data, err := os.ReadFile(c.PasswordFile)
		if err != nil {
			// The path only: never the content.
			return fmt.Errorf("option password_file: %w", err)
		}
		c.passwordText = strings.TrimRight(string(data), "\r\n")
		if c.passwordText == "" {
			return fmt.Errorf("option password_file: %s is empty", c.PasswordFile)
		}
	}
	a, err := parseAddress(c.Address)
	if err != nil {
		return fmt.Errorf("option address: %w", err)
	}
	if err := c.merge(a); err != nil {
		return err
	}
	if c.userText != "" && c.passwordText == "" {
		// Without a password no AUTH is sent, and the connection would be
		// the default user's, not this one's.
		return errors.New("option username: set without a password; Redis authenticates a user " +
			"with both (AUTH user password): set password or password_file too (any value for a nopass user)")
	}
	c.network, c.addr = a.network, a.addr

	tlsConfig, err := c.ClientConfig.TLSConfig()
	if err != nil {
		return fmt.Errorf("tls options: %w", err)
	}
	if tlsConfig != nil && a.plain {
		return fmt.Errorf("option address: %s:// is a plain connection, but tls options are set (use rediss:// for TLS)", a.scheme)
	}
	if tlsConfig == nil && a.tls {
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if tlsConfig != nil && tlsConfig.ServerName == "" && a.network == "tcp" {
		if host, _, err := net.SplitHostPort(a.addr); err == nil {
			tlsConfig.ServerName = host
		}
	}
	c.tls = tlsConfig
	if c.Connection == "cluster" {
		c.nodes = &clusterNodes{}
		c.cluster = c.newCluster()
	}
	return nil
}

// newCluster is a redisc cluster: a small pool per node, the same
// authentication, timeouts and TLS as a single server. Its slot map is
// loaded on first use and refreshed after MOVED replies and failures.
func (c *Config) newCluster() *redisc.Cluster {
	timeout := time.Duration(c.Timeout)
	opts := []redis.DialOption{
		redis.DialConnectTimeout(timeout),
		redis.DialReadTimeout(timeout),
		redis.DialWriteTimeout(timeout),
	}
	if c.passwordText != "" {
		opts = append(opts, redis.DialPassword(c.passwordText))
		if c.userText != "" {
			opts = append(opts, redis.DialUsername(c.userText))
		}
	}
	if c.tls != nil {
		opts = append(opts, redis.DialUseTLS(true), redis.DialTLSConfig(c.tls),
			redis.DialTLSSkipVerify(c.tls.InsecureSkipVerify))
	}
	nodes := c.nodes
	return &redisc.Cluster{
		StartupNodes: c.Addresses,
		DialOptions:  opts,
		// Our copy of the map groups writes by node (ClusterLayout).
		LayoutRefresh: func(_, m [redisc.HashSlots][]string) { nodes.setLayout(&m) },
		CreatePool: func(addr string, opts ...redis.DialOption) (*redis.Pool, error) {
			return &redis.Pool{
				MaxIdle:     4,
				IdleTimeout: time.Minute,
				Dial:        func() (redis.Conn, error) { return redis.Dial("tcp", addr, opts...) },
			}, nil
		},
	}
}

// IsCluster reports whether the connection is to a Redis Cluster.
func (c *Config) IsCluster() bool { return c.cluster != nil }

// ClusterConn returns a connection to the cluster node serving key's slot
// (a random node for ""); close it after use.
func (c *Config) ClusterConn(key string) (redis.Conn, error) {
	// Without the slot map, the first connections would go to random
	// nodes and be answered MOVED.
	c.mapped.Do(c.RefreshCluster)
	conn := c.cluster.Get()
	var err error
	if key == "" {
		err = redisc.BindConn(conn)
	} else {
		err = redisc.BindConn(conn, key)
	}
	if err != nil {
		conn.Close()
		c.RefreshCluster()
		return nil, fmt.Errorf("connecting to the cluster node for %q: %w", key, c.scrub(err))
	}
	return conn, nil
}

// RefreshCluster reloads the slot map, after a node failed or a slot moved.
func (c *Config) RefreshCluster() {
	if c.cluster != nil {
		c.cluster.Refresh() //nolint:errcheck // best effort: the old map stays, and the next command's error tells why
	}
}

// merge takes the parts of the address URL in: user, password and
// database. An option set as well wins when it says the same, and is a
// conflict refused at start when it does not: neither can be half-read.
func (c *Config) merge(a *address) error {
	set := func(option string, nonZero bool) bool {
		return nonZero || c.File.IsSet(option)
	}
	if a.hasDB {
		if set("database", c.Database != 0) && c.Database != a.db {
			return fmt.Errorf("option database: %d, but the address says database %d", c.Database, a.db)
		}
		c.Database = a.db
	}
	if a.userOnly {
		if c.passwordText == "" {
			return fmt.Errorf("option address: %q is ambiguous: redis-cli reads the name before '@' as a password, other clients as a user name; "+
				"write redis://:password@host or redis://user:password@host", Redact(c.Address))
		}
		// With a password option, the name can only be the user.
	}
	if a.username != "" {
		if c.userText != "" && c.userText != a.username {
			// The option is a secret: only the address's part is shown,
			// as the address itself is.
			return fmt.Errorf("option username: set, and different from the user %q the address names; keep one", a.username)
		}
		c.userText = a.username
	}
	if a.hasPassword {
		if c.passwordText != "" && c.passwordText != a.password {
			// Neither password is printed.
			return errors.New("option password: set, and different from the password in the address (password_file counts as password); keep one")
		}
		if a.password == "" {
			return fmt.Errorf("option address: %q has an empty password", Redact(c.Address))
		}
		c.passwordText = a.password
	}
	return nil
}

// newSentinel asks the sentinels for the master; sentinels are plain
// connections with their own password.
func (c *Config) newSentinel() *sentinel.Sentinel {
	timeout := time.Duration(c.Timeout)
	return &sentinel.Sentinel{
		// A copy: the library moves the sentinel that answered to the
		// front of its list, which must not reorder the configuration's.
		Addrs:      slices.Clone(c.Addresses),
		MasterName: c.SentinelMaster,
		Dial: func(addr string) (redis.Conn, error) {
			return redis.Dial("tcp", addr, redis.DialConnectTimeout(timeout),
				redis.DialReadTimeout(timeout), redis.DialWriteTimeout(timeout),
				redis.DialPassword(c.sentinelPasswordText))
		},
	}
}

// Endpoint is the address as it is dialed, for log lines (never includes
// the password).
func (c *Config) Endpoint() string {
	if c.Connection == "cluster" {
		return "cluster " + strings.Join(c.Addresses, ",")
	}
	if c.sentinel != nil {
		return fmt.Sprintf("master %q via sentinels %s", c.SentinelMaster, strings.Join(c.Addresses, ","))
	}
	ep := c.addr
	if c.network == "unix" {
		ep = "unix://" + c.addr
	}
	if c.tls != nil {
		ep += " (TLS)"
	}
	if c.Database != 0 {
		ep += fmt.Sprintf(" database %d", c.Database)
	}
	return ep
}

// Conn is a redigo connection that also keeps the network connection under
// it, so that a large pipeline can be written in one piece without boxing
// every argument (see WriteRaw). Replies are read with redigo as usual.
type Conn struct {
	redis.Conn
	raw     net.Conn
	timeout time.Duration
	replies *Replies // made by Replies on first use
	node    string   // the cluster node dialed by NodeConn
}

// The optional redigo interfaces are forwarded, or the embedding would
// hide them (redis.DoContext, Script.DoContext, PubSubConn timeouts).
var (
	_ redis.ConnWithTimeout = (*Conn)(nil)
	_ redis.ConnWithContext = (*Conn)(nil)
)

func (c *Conn) DoWithTimeout(timeout time.Duration, cmd string, args ...interface{}) (interface{}, error) {
	return redis.DoWithTimeout(c.Conn, timeout, cmd, args...)
}

func (c *Conn) ReceiveWithTimeout(timeout time.Duration) (interface{}, error) {
	return redis.ReceiveWithTimeout(c.Conn, timeout)
}

// DoContext is Do bounded by ctx. redisc's cluster connections have no
// context support: their dial-time read timeout bounds each reply instead.
func (c *Conn) DoContext(ctx context.Context, cmd string, args ...interface{}) (interface{}, error) {
	if _, ok := c.Conn.(redis.ConnWithContext); !ok {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return c.Conn.Do(cmd, args...)
	}
	return redis.DoContext(c.Conn, ctx, cmd, args...)
}

func (c *Conn) ReceiveContext(ctx context.Context) (interface{}, error) {
	if _, ok := c.Conn.(redis.ConnWithContext); !ok {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return c.Conn.Receive()
	}
	return redis.ReceiveContext(c.Conn, ctx)
}

// CanWriteRaw reports whether WriteRaw may be used: not on cluster
// connections, which redisc routes itself.
func (c *Conn) CanWriteRaw() bool { return c.raw != nil }

// WriteRaw writes RESP-encoded commands straight to the connection. Only
// call it when redigo holds nothing unflushed (no Send without Flush).
func (c *Conn) WriteRaw(p []byte) error {
	if c.raw == nil {
		return errors.New("redisconn: no raw connection (cluster)")
	}
	if err := c.raw.SetWriteDeadline(time.Now().Add(c.timeout)); err != nil {
		return err
	}
	_, err := c.raw.Write(p)
	return err
}

// ReadRaw reads replies straight from the connection, for a caller that
// wrote its commands with WriteRaw and parses the replies itself (stream
// mode reads thousands of fields a reply without a value each). Only call
// it when redigo waits for no reply; each call may wait up to the read
// timeout.
func (c *Conn) ReadRaw(p []byte) (int, error) {
	if c.raw == nil {
		return 0, errors.New("redisconn: no raw connection (cluster)")
	}
	if err := c.raw.SetReadDeadline(time.Now().Add(c.timeout)); err != nil {
		return 0, err
	}
	return c.raw.Read(p)
}

// Dial opens one connection, authenticates and selects the database.
// clientName is shown by CLIENT LIST, so operators can tell our
// connections apart. TLS is set up here rather than by redigo so that the
// connection written by WriteRaw is the encrypted one.
func (c *Config) Dial(clientName string) (*Conn, error) {
	return c.DialContext(context.Background(), clientName)
}

// DialContext is Dial ending no later than ctx: connecting, the TLS
// handshake, AUTH, CLIENT SETNAME and SELECT.
func (c *Config) DialContext(ctx context.Context, clientName string) (*Conn, error) {
	return c.dialBound(ctx, clientName, "")
}

func (c *Config) dialBound(ctx context.Context, clientName, bindKey string) (*Conn, error) {
	timeout := time.Duration(c.Timeout)
	if c.cluster != nil {
		conn, err := c.ClusterConn(bindKey)
		if err != nil {
			return nil, err
		}
		return &Conn{Conn: conn, timeout: timeout}, nil
	}
	address := c.addr
	tlsConf := c.tls
	if c.sentinel != nil {
		// Asked at every dial: after a failover the next dial finds the
		// new master.
		master, err := c.sentinel.MasterAddr()
		if err != nil {
			return nil, fmt.Errorf("asking the sentinels for %q: %w", c.SentinelMaster, err)
		}
		address = master
		if tlsConf != nil && c.ServerName == "" {
			tlsConf = tlsConf.Clone()
			host, _, err := net.SplitHostPort(master)
			if err != nil {
				return nil, fmt.Errorf("the sentinels' master for %q: %w", c.SentinelMaster, err)
			}
			tlsConf.ServerName = host
		}
	}
	conn, err := c.dialAt(ctx, clientName, address, tlsConf, c.Endpoint())
	if err != nil {
		return nil, err
	}
	if c.sentinel != nil && !sentinel.TestRole(conn.Conn, "master") {
		// The sentinels have not yet noticed a failover.
		conn.Close()
		return nil, fmt.Errorf("connecting to %s: %s is not the master (yet)", c.Endpoint(), address)
	}
	return conn, nil
}

// dialAt dials address, authenticates and selects the database; endpoint
// names it in errors.
func (c *Config) dialAt(ctx context.Context, clientName, address string, tlsConf *tls.Config, endpoint string) (*Conn, error) {
	timeout := time.Duration(c.Timeout)
	var raw net.Conn
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := net.Dialer{Timeout: timeout, KeepAlive: time.Minute}
		nc, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if tlsConf != nil {
			tc := tls.Client(nc, tlsConf.Clone())
			hctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			if err := tc.HandshakeContext(hctx); err != nil {
				nc.Close()
				return nil, fmt.Errorf("handshaking TLS: %w", err)
			}
			nc = tc
		}
		raw = nc
		return nc, nil
	}
	auth := []redis.DialOption{
		redis.DialContextFunc(dial),
		redis.DialConnectTimeout(timeout),
		redis.DialReadTimeout(timeout),
		redis.DialWriteTimeout(timeout),
	}
	if c.passwordText != "" {
		auth = append(auth, redis.DialPassword(c.passwordText))
		if c.userText != "" {
			auth = append(auth, redis.DialUsername(c.userText))
		}
	}
	opts := append(auth[:len(auth):len(auth)], redis.DialDatabase(c.Database), redis.DialClientName(clientName))
	conn, err := redis.DialContext(ctx, c.network, address, opts...)
	if err != nil {
		var re redis.Error
		if errors.As(err, &re) && c.Database != 0 && strings.Contains(string(re), "DB index is out of range") {
			return nil, c.databaseError(ctx, address, auth)
		}
		err = c.scrub(err)
		if raw != nil && tlsConf != nil && closedByPeer(err) {
			err = &tlsClosedError{err}
		}
		return nil, fmt.Errorf("connecting to %s: %w", endpoint, err)
	}
	return &Conn{Conn: conn, raw: raw, timeout: timeout}, nil
}

// tlsClosedError is a connection the server closed right after a TLS
// handshake that went through, before its first reply: what Redis does
// with TLS 1.3 when it requires a client certificate and gets none, or
// one it does not trust (the client learns of it only then).
type tlsClosedError struct{ err error }

func (e *tlsClosedError) Error() string {
	return "the server closed the connection after the TLS handshake, as Redis does when a client " +
		"certificate it requires is missing or not trusted (tls_cert, tls_key): " + e.err.Error()
}

func (e *tlsClosedError) Unwrap() error { return e.err }

// closedByPeer tells an error of a connection the other end closed.
func closedByPeer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// ConfigError is an option the server turned out not to accept (say a
// database it does not have): an operator must change the config.
type ConfigError struct{ msg string }

func (e *ConfigError) Error() string { return e.msg }

// databaseError explains a SELECT refused as out of range: the server
// has fewer databases (CONFIG GET databases, when the user may ask).
// opts are the dial options without the database and client name.
func (c *Config) databaseError(ctx context.Context, address string, opts []redis.DialOption) error {
	have := ""
	if conn, err := redis.DialContext(ctx, c.network, address, opts...); err == nil {
		if kv, err := redis.StringMap(conn.Do("CONFIG", "GET", "databases")); err == nil && kv["databases"] != "" {
			have = fmt.Sprintf(" (it has %s: 0 to %s)", kv["databases"], decrement(kv["databases"]))
		}
		conn.Close()
	}
	return &ConfigError{fmt.Sprintf(
		"%soption database: %d does not exist on %s%s: Redis has 16 databases (0 to 15) unless its databases setting says otherwise",
		c.File.Where("database"), c.Database, address, have)}
}

func decrement(n string) string {
	var i int
	if _, err := fmt.Sscan(n, &i); err != nil {
		return "?"
	}
	return strconv.Itoa(i - 1)
}

// scrub makes sure no error we print carries the password, whatever a
// library put in it.
func (c *Config) scrub(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	for _, p := range []string{c.passwordText, c.sentinelPasswordText} {
		if p != "" && strings.Contains(msg, p) {
			msg = strings.ReplaceAll(msg, p, "<password>")
		}
	}
	if msg == err.Error() {
		return err
	}
	return errors.New(msg)
}
