package redisconn

import (
	"context"
	"errors"
	"strings"

	"github.com/gomodule/redigo/redis"
)

// Client holds at most one open connection and dials a new one when the
// last was lost. It is not safe for concurrent use: each writer or reader
// loop owns its Client.
type Client struct {
	cfg  *Config
	name string
	conn *Conn

	// BindKey is the key the connection serves, in a Redis Cluster: it is
	// opened to the node that holds the key's slot.
	BindKey string
}

// NewClient returns a Client that dials lazily.
func NewClient(cfg *Config, clientName string) *Client {
	return &Client{cfg: cfg, name: clientName}
}

// Conn returns the open connection, dialing one when there is none.
func (c *Client) Conn() (*Conn, error) { return c.ConnContext(context.Background()) }

// ConnContext is Conn with a dial that ends no later than ctx.
func (c *Client) ConnContext(ctx context.Context) (*Conn, error) {
	if c.conn != nil && c.conn.Err() != nil {
		c.Close()
	}
	if c.conn == nil {
		conn, err := c.cfg.dialBound(ctx, c.name, c.BindKey)
		if err != nil {
			return nil, err
		}
		c.conn = conn
	}
	return c.conn, nil
}

// Check drops the connection after an error that may have left it out of
// step (a network error, a timeout in the middle of a pipeline). Error
// replies from Redis leave the connection usable and are kept.
func (c *Client) Check(err error) {
	if err == nil || c.conn == nil {
		return
	}
	var re redis.Error
	if errors.As(err, &re) && c.conn.Err() == nil && !demoted(re) {
		return
	}
	c.Close()
	if c.cfg.IsCluster() {
		c.cfg.RefreshCluster() // a node failed, or the slot moved
	}
}

// demoted tells a reply from a server that is no longer the master (after
// a failover): the next connection must be to the new one.
func demoted(err redis.Error) bool {
	for _, code := range []string{"READONLY", "MASTERDOWN", "MOVED", "ASK", "CLUSTERDOWN"} {
		if strings.HasPrefix(string(err), code) {
			return true
		}
	}
	return false
}

// Run calls f with a connection. When f fails on a connection that had
// been open for a while with a network error (the server closed an idle
// client, or restarted), it is tried once more on a new connection before
// the error is returned, so that only real outages are reported.
func (c *Client) Run(f func(redis.Conn) error) error {
	return c.RunContext(context.Background(), f)
}

// RunContext is Run with dials that end no later than ctx (f should use
// ctx for its own commands).
func (c *Client) RunContext(ctx context.Context, f func(redis.Conn) error) error {
	reused := c.conn != nil
	conn, err := c.ConnContext(ctx)
	if err != nil {
		return err
	}
	err = f(conn)
	c.Check(err)
	var re redis.Error
	if err == nil || errors.As(err, &re) || !reused {
		return err
	}
	if conn, err = c.ConnContext(ctx); err != nil {
		return err
	}
	err = f(conn)
	c.Check(err)
	return err
}

// Probe tells whether Redis answers: a PING on the open connection, or on
// a new one when the last was lost. It costs a round trip (and a dial),
// so a loop may probe often while Redis is away and write as soon as it
// answers, whatever the length of the outage. Any reply but one saying
// the server is not ready yet (see Away) counts as an answer: a user
// without the right to PING gets NOPERM from a server that is there.
func (c *Client) Probe(ctx context.Context) error {
	conn, err := c.ConnContext(ctx)
	if err != nil {
		return err
	}
	_, err = conn.DoContext(ctx, "PING")
	c.Check(err)
	var re redis.Error
	if errors.As(err, &re) && !Away(err) {
		return nil
	}
	return err
}

// Close closes the connection, if any.
func (c *Client) Close() {
	if c.conn != nil {
		_ = c.conn.Close()
		c.conn = nil
	}
}
