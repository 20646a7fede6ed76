// Package faultproxy is a TCP proxy on loopback for fault tests: it
// forwards to a real server until told to stall (bytes stop flowing both
// ways, connections stay open, as on a network that silently drops
// packets), to cut (every connection closed), or to resume. It can also
// hold the server's replies back for a while (DelayReplies), as a server
// in another zone would.
package faultproxy

import (
	"net"
	"sync"
	"testing"
	"time"
)

// Proxy forwards connections from Addr to a target.
type Proxy struct {
	Addr   string
	target string
	l      net.Listener

	mu      sync.Mutex
	stalled bool
	resume  chan struct{} // closed when a stall ends
	conns   map[net.Conn]struct{}
	held    int // chunks read during stalls and not yet forwarded
	dialed  int // connections accepted so far
	delay   time.Duration
}

// Start listens on a free loopback port; it is closed when the test ends.
func Start(t testing.TB, target string) *Proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{Addr: l.Addr().String(), target: target, l: l, conns: make(map[net.Conn]struct{}), resume: make(chan struct{})}
	close(p.resume)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

func (p *Proxy) accept() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.track(c, s)
		p.mu.Lock()
		p.dialed++
		p.mu.Unlock()
		go p.pipe(c, s, true)
		go p.pipe(s, c, false)
	}
}

func (p *Proxy) track(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
}

// pipe copies src to dst, waiting at each chunk while stalled; replies
// (the server's bytes) are held back by the delay set.
func (p *Proxy) pipe(dst, src net.Conn, replies bool) {
	defer dst.Close()
	defer src.Close()
	var late chan chunk
	if replies {
		late = make(chan chunk, 4096)
		defer close(late)
		go deliver(dst, src, late)
	}
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			resume, stalled := p.resume, p.stalled
			if stalled {
				p.held++
			}
			p.mu.Unlock()
			<-resume
			if stalled {
				p.mu.Lock()
				p.held--
				p.mu.Unlock()
			}
			if late != nil {
				p.mu.Lock()
				due := time.Now().Add(p.delay)
				p.mu.Unlock()
				late <- chunk{due: due, b: append([]byte(nil), buf[:n]...)}
			} else if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // io.EOF or any other error: the pipe ends either way
		}
	}
}

// chunk is server bytes held back until due.
type chunk struct {
	due time.Time
	b   []byte
}

// deliver writes the chunks held back, each at its time, in order; a
// failed write closes both ends.
func deliver(dst, src net.Conn, late <-chan chunk) {
	for c := range late {
		time.Sleep(time.Until(c.due))
		if _, err := dst.Write(c.b); err != nil {
			dst.Close()
			src.Close()
			for range late { //nolint:revive // drain until the reader stops
			}
			return
		}
	}
}

// DelayReplies holds every byte the server sends back for d before it is
// forwarded (0: at once again); what the client sends is not delayed.
func (p *Proxy) DelayReplies(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delay = d
}

// Stall stops bytes flowing, leaving connections open.
func (p *Proxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.stalled {
		p.stalled, p.resume = true, make(chan struct{})
	}
}

// Held is the number of chunks of bytes the stall holds back: a test
// polls it to know that a request is in flight, unanswered.
func (p *Proxy) Held() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.held
}

// Accepted is the number of connections made through the proxy so far:
// a test polls it to see a client reconnect.
func (p *Proxy) Accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dialed
}

// Resume lets bytes flow again.
func (p *Proxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stalled {
		p.stalled = false
		close(p.resume)
	}
}

// Cut closes every connection; new ones are accepted.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
	p.conns = make(map[net.Conn]struct{})
}

// Close stops the proxy.
func (p *Proxy) Close() {
	p.l.Close()
	p.Resume()
	p.Cut()
}
