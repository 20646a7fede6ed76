package redisconn

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mna/redisc"
)

// A Redis Cluster's slot map as this process knows it, and a pool of our
// own connections to each master: a writer that groups its commands by
// the node serving them sends each group on the same raw pipelined path
// as on a single server (WriteRaw, Replies), where redisc's connections
// go through redigo command by command.

// ClusterLayout is the slot map at one moment: which master serves each
// slot. It is never changed once made; a refresh makes a new one.
type ClusterLayout struct {
	// Masters are the addresses of the masters serving at least one slot,
	// sorted.
	Masters []string
	owner   [redisc.HashSlots]int16 // index in Masters; -1: no master known
}

// Owner is the index in Masters of the master serving slot, or -1.
func (l *ClusterLayout) Owner(slot int) int {
	if slot < 0 || slot >= redisc.HashSlots {
		return -1
	}
	return int(l.owner[slot])
}

// newLayout makes a layout from redisc's slot map (the master of a slot
// is the first of its addresses).
func newLayout(m *[redisc.HashSlots][]string) *ClusterLayout {
	l := &ClusterLayout{}
	index := make(map[string]int)
	for _, nodes := range m {
		if len(nodes) > 0 && nodes[0] != "" {
			if _, ok := index[nodes[0]]; !ok {
				index[nodes[0]] = 0
				l.Masters = append(l.Masters, nodes[0])
			}
		}
	}
	sort.Strings(l.Masters)
	for i, a := range l.Masters {
		index[a] = i
	}
	for slot, nodes := range m {
		l.owner[slot] = -1
		if len(nodes) > 0 && nodes[0] != "" {
			l.owner[slot] = int16(index[nodes[0]])
		}
	}
	return l
}

// clusterNodes is the latest layout and the idle connections per node.
type clusterNodes struct {
	layout atomic.Pointer[ClusterLayout]

	mu   sync.Mutex
	idle map[string][]idleConn
}

type idleConn struct {
	conn  *Conn
	since time.Time
}

// Idle connections kept per node, and how long one is kept unused.
const (
	nodeMaxIdle     = 4
	nodeIdleTimeout = time.Minute
)

// setLayout takes a slot map redisc loaded, and closes the idle
// connections to nodes that serve no slot any more.
func (n *clusterNodes) setLayout(m *[redisc.HashSlots][]string) {
	l := newLayout(m)
	n.layout.Store(l)
	serving := make(map[string]bool, len(l.Masters))
	for _, a := range l.Masters {
		serving[a] = true
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for addr, conns := range n.idle {
		if !serving[addr] {
			for _, ic := range conns {
				ic.conn.Close()
			}
			delete(n.idle, addr)
		}
	}
}

// ClusterLayout returns the slot map as last loaded (loading it on first
// use); nil when not on a cluster. Its Masters may be empty when no node
// could be asked.
func (c *Config) ClusterLayout() *ClusterLayout {
	if c.cluster == nil {
		return nil
	}
	c.mapped.Do(c.RefreshCluster)
	if l := c.nodes.layout.Load(); l != nil {
		return l
	}
	return &ClusterLayout{}
}

// Moved records MOVED replies: each slot is served by the address it
// maps to now. The next RefreshCluster replaces the whole map.
func (c *Config) Moved(slots map[int]string) {
	if c.cluster == nil || len(slots) == 0 {
		return
	}
	old := c.nodes.layout.Load()
	var m [redisc.HashSlots][]string
	if old != nil {
		for s := range m {
			if o := old.owner[s]; o >= 0 {
				m[s] = []string{old.Masters[o]}
			}
		}
	}
	for slot, addr := range slots {
		if slot >= 0 && slot < redisc.HashSlots && addr != "" {
			m[slot] = []string{addr}
		}
	}
	c.nodes.layout.Store(newLayout(&m))
}

// NodeConn returns a connection of our own (raw writes and replies
// allowed) to the cluster node at addr: an idle one of the pool, or a new
// one dialed with the same options as any (authentication, TLS,
// timeouts). Hand it back with PutNodeConn.
func (c *Config) NodeConn(ctx context.Context, addr string) (*Conn, error) {
	if c.cluster == nil {
		return nil, errors.New("redisconn: not a cluster")
	}
	n := c.nodes
	now := time.Now()
	n.mu.Lock()
	for conns := n.idle[addr]; len(conns) > 0; conns = n.idle[addr] {
		ic := conns[len(conns)-1]
		n.idle[addr] = conns[:len(conns)-1]
		if now.Sub(ic.since) < nodeIdleTimeout && ic.conn.Err() == nil {
			n.mu.Unlock()
			return ic.conn, nil
		}
		ic.conn.Close()
	}
	n.mu.Unlock()
	conn, err := c.dialAt(ctx, "", addr, c.tls, "cluster node "+addr)
	if err != nil {
		return nil, err
	}
	conn.node = addr
	return conn, nil
}

// PutNodeConn hands back a connection from NodeConn: kept for the next
// use when healthy (every reply read), closed otherwise.
func (c *Config) PutNodeConn(conn *Conn, healthy bool) {
	if conn == nil {
		return
	}
	if !healthy || conn.Err() != nil || (conn.replies != nil && conn.replies.Buffered() > 0) {
		conn.Close()
		return
	}
	n := c.nodes
	n.mu.Lock()
	defer n.mu.Unlock()
	if l := n.layout.Load(); l != nil && !containsString(l.Masters, conn.node) {
		conn.Close() // no longer a master
		return
	}
	if n.idle == nil {
		n.idle = make(map[string][]idleConn)
	}
	if len(n.idle[conn.node]) >= nodeMaxIdle {
		conn.Close()
		return
	}
	n.idle[conn.node] = append(n.idle[conn.node], idleConn{conn: conn, since: time.Now()})
}

func containsString(s []string, v string) bool {
	i := sort.SearchStrings(s, v)
	return i < len(s) && s[i] == v
}

// errNoNode is a slot no known master serves (the map could not be
// loaded, or a master failed and no replica took over yet).
var errNoNode = errors.New("no cluster node is known to serve the slot")

// NoNodeError is the error for commands whose slot no known master serves.
func NoNodeError(slot int) error {
	return fmt.Errorf("hash slot %d: %w", slot, errNoNode)
}
