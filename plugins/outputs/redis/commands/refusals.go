package commands

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/influxdata/telegraf"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/redisconn"
)

// Commands Redis refuses for their key or for the command itself (a key of
// the wrong type, a missing permission) in the per-metric modes of the
// execd loop. Such a refusal is the key's problem, not the server's: the
// refused command stays in the backlog and its key is held, while the
// commands for other keys go on being written at once. A held key is
// retried on a backoff of its own, by sending its oldest command alone;
// once Redis takes it, the key's other commands follow in the next write.
//
// Order per key: no command for a held key is sent before the refused one
// is written, so a list or a stream gets its metrics in the order they
// came. Within the one pipeline where a key is first refused its later
// commands were already sent; Redis refuses them for the same reason
// unless that reason went away between the two (the key fixed at that
// very moment), and that case is logged.
//
// A refusal for the server's state (OOM, LOADING, READONLY, ...) refuses
// every key alike: it stops the whole write, as a network failure does.

// holds are the keys whose commands wait for their own retry.
type holds struct {
	log      telegraf.Logger
	endpoint string
	max      time.Duration // the longest wait between two attempts of a key
	keys     map[string]*hold
}

// hold is one key whose oldest command Redis refused.
type hold struct {
	cmd     string      // the command refused
	reason  redis.Error // Redis's reply
	note    string      // for WRONGTYPE: what the key holds (TYPE, asked once)
	since   time.Time
	tries   int
	backoff redisconn.Backoff
	retryAt time.Time
	probe   bool // its oldest command is sent in the write in progress
}

func newHolds(log telegraf.Logger, endpoint string, maxBackoff time.Duration) *holds {
	return &holds{log: log, endpoint: endpoint, max: maxBackoff, keys: make(map[string]*hold)}
}

// round is what one write of a command batch found, reply by reply.
type round struct {
	done     []bool
	mainDone bool  // the latest first command of a metric was taken
	server   error // the first refusal for the server's state
	refused  []refusal
	byKey    map[string]int // refused keys: index in refused
	released []string       // held keys whose oldest command Redis took
	overtook []string       // keys a later metric was written to, after a refusal in the same write
}

// refusal is the first command of a key Redis refused in a write.
type refusal struct {
	key    string
	cmd    string
	reason redis.Error
	main   bool // the first command of a metric (not an LTRIM or PEXPIRE after it)
}

// plan starts a write: the commands it sends, in order. Without holds
// that is every command; with them, a held key's commands are left out,
// except its oldest one once its retry is due.
func (b *batch) plan(now time.Time) []int {
	rd := &b.round
	if cap(rd.done) < len(b.cmds) {
		rd.done = make([]bool, len(b.cmds))
	}
	rd.done = rd.done[:len(b.cmds)]
	clear(rd.done)
	rd.mainDone, rd.server = false, nil
	rd.refused, rd.byKey, rd.released, rd.overtook = rd.refused[:0], nil, rd.released[:0], rd.overtook[:0]

	sel := b.sel[:0]
	h := b.holds
	if h == nil || len(h.keys) == 0 {
		for i := range b.cmds {
			sel = append(sel, i)
		}
		b.sel = sel
		return sel
	}
	for _, k := range h.keys {
		k.probe = false
	}
	for i := range b.cmds {
		k := h.keys[string(b.key(i))]
		switch {
		case k == nil:
			sel = append(sel, i)
		case !k.probe && !now.Before(k.retryAt):
			k.probe = true
			sel = append(sel, i)
		}
	}
	b.sel = sel
	return sel
}

// settle takes the reply to command i; err is nil or a redis.Error. It
// tells whether the command is written (and out of the batch after the
// write).
func (b *batch) settle(i int, err error) bool {
	rd := &b.round
	c := &b.cmds[i]
	if err == nil {
		ok := c.metrics == 1 || !c.follows || rd.mainDone
		if c.metrics == 1 {
			rd.mainDone = true
		}
		if !ok {
			return false // its metric's first command is refused: sent again after it
		}
		rd.done[i] = true
		if b.holds != nil && len(b.holds.keys)+len(rd.byKey) > 0 {
			key := b.key(i)
			if k := b.holds.keys[string(key)]; k != nil && k.probe {
				rd.released = append(rd.released, string(key))
			} else if j, refused := rd.byKey[string(key)]; refused && c.metrics == 1 && rd.refused[j].main {
				rd.overtook = append(rd.overtook, string(key))
			}
		}
		return true
	}
	if c.metrics == 1 {
		rd.mainDone = false
	}
	if redisconn.ServerState(err) || noScript(err) {
		if rd.server == nil {
			rd.server = err
		}
		return false
	}
	key := string(b.key(i))
	if _, seen := rd.byKey[key]; !seen {
		if rd.byKey == nil {
			rd.byKey = make(map[string]int)
		}
		rd.byKey[key] = len(rd.refused)
		var reason redis.Error
		errors.As(err, &reason) // ServerState above took every other error
		rd.refused = append(rd.refused, refusal{key: key, cmd: c.name, reason: reason, main: c.metrics == 1})
	}
	return false
}

// finish ends a write: it drops what was written from the batch and
// returns the write's error. With holds, refused keys are held (and
// logged once), released ones logged, and only a refusal for the
// server's state is an error; without, a refusal is the error, naming
// the key and what it holds. ask tells the type of a key (TYPE); broken
// says the connection failed during the write, so refusals seen so far
// are left for the next write to find again.
func (b *batch) finish(now time.Time, ask func(key string) (string, error), broken bool) error {
	b.conclude(now, ask, broken)
	rd := &b.round
	if b.holds == nil && rd.server == nil && len(rd.refused) > 0 && !broken {
		return refusedError(rd.refused, ask)
	}
	return rd.server
}

// conclude is finish without the error, for a write that ends with an
// error of its own (the connection broke, too few replicas took it).
func (b *batch) conclude(now time.Time, ask func(key string) (string, error), broken bool) {
	rd := &b.round
	h := b.holds
	if h == nil {
		b.keep(rd.done)
		return
	}
	var fresh []string
	if !broken {
		for _, r := range rd.refused {
			k := h.keys[r.key]
			if k == nil {
				k = &hold{since: now, backoff: redisconn.Backoff{Min: 100 * time.Millisecond, Max: h.max}}
				h.keys[r.key] = k
			} else if k.reason == r.reason && k.cmd == r.cmd {
				k.tries++
				k.retryAt = now.Add(k.backoff.Next())
				continue // the same refusal again: logged once
			}
			k.cmd, k.reason, k.note = r.cmd, r.reason, typeNote(r, ask)
			k.tries++
			k.retryAt = now.Add(k.backoff.Next())
			fresh = append(fresh, r.key)
		}
	}
	for _, key := range rd.released {
		h.keys[key].probe = false
	}
	// A probe that got no answer of its own (the server refused it for its
	// state, or the connection broke) waits for its next turn as well.
	for key, k := range h.keys {
		if k.probe {
			k.probe = false
			if _, refused := rd.byKey[key]; !refused || broken {
				k.retryAt = now.Add(k.backoff.Next())
			}
		}
	}
	h.logRefused(fresh)
	for _, key := range dedupe(rd.overtook) {
		k := h.keys[key]
		reason := "refused a moment before"
		if k != nil {
			reason = string(k.reason)
		}
		h.log.Warnf("key %q: a metric was written before an earlier one for the key that Redis refused (%s) in the same pipeline: "+
			"the reason went away between the two commands; the refused one follows", key, reason)
	}
	b.keep(rd.done)
	h.logReleased(b, rd.released, now)
}

func dedupe(keys []string) []string {
	if len(keys) < 2 {
		return keys
	}
	seen := make(map[string]bool)
	out := keys[:0:0]
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// wants is the type a command writes to, for the WRONGTYPE lines.
func wants(cmd string) string {
	switch cmd {
	case "HSET":
		return "hash"
	case "XADD":
		return "stream"
	case "RPUSH", "LTRIM":
		return "list"
	}
	return "string"
}

// typeNote is, for a WRONGTYPE refusal, what the key holds (asking TYPE)
// and what the command wanted, to follow the key's name; "" otherwise.
func typeNote(r refusal, ask func(key string) (string, error)) string {
	if !strings.HasPrefix(string(r.reason), "WRONGTYPE") || ask == nil {
		return ""
	}
	typ, err := ask(r.key)
	if err != nil {
		// A user without +type, say.
		return fmt.Sprintf(" (not a %s; TYPE did not tell what it holds: %v)", wants(r.cmd), err)
	}
	return fmt.Sprintf(" (it holds a %s, not a %s)", typ, wants(r.cmd))
}

// namesShown is how many keys a line names; the others are counted.
const namesShown = 5

// logRefused writes one E! line per command and reason among the keys
// held in this write: a key and reason is logged once, not at each retry.
func (h *holds) logRefused(keys []string) {
	type group struct {
		cmd    string
		reason redis.Error
		keys   []string
	}
	var groups []*group
	for _, key := range keys {
		k := h.keys[key]
		var g *group
		for _, x := range groups {
			if x.cmd == k.cmd && x.reason == k.reason {
				g = x
			}
		}
		if g == nil {
			g = &group{cmd: k.cmd, reason: k.reason}
			groups = append(groups, g)
		}
		g.keys = append(g.keys, key)
	}
	for _, g := range groups {
		names := make([]string, 0, namesShown)
		for _, key := range g.keys[:min(len(g.keys), namesShown)] {
			names = append(names, fmt.Sprintf("%q%s", key, h.keys[key].note))
		}
		what, whose := "key "+names[0], "the key's"
		if len(g.keys) > 1 {
			what, whose = fmt.Sprintf("%d keys: %s", len(g.keys), strings.Join(names, ", ")), "their"
			if more := len(g.keys) - len(names); more > 0 {
				what += fmt.Sprintf(" and %d more", more)
			}
		}
		h.log.Errorf("Redis at %s refused %s to %s: %s; %s metrics are kept in order and retried with backoff up to %s until Redis takes them, "+
			"while other keys are written", h.endpoint, g.cmd, what, g.reason, whose, h.max)
	}
}

// logReleased writes an I! line for each key whose refused command Redis
// took at last, with the metrics that waited behind it (now in b).
func (h *holds) logReleased(b *batch, keys []string, now time.Time) {
	if len(keys) == 0 {
		return
	}
	waiting := make(map[string]int)
	for _, key := range keys {
		waiting[key] = 0
	}
	for i, c := range b.cmds {
		if c.metrics == 1 {
			if n, ok := waiting[string(b.key(i))]; ok {
				waiting[string(b.key(i))] = n + 1 + c.extra
			}
		}
	}
	sort.Strings(keys)
	for n, key := range keys {
		k := h.keys[key]
		delete(h.keys, key)
		if n == namesShown {
			h.log.Infof("Redis at %s took the refused commands of %d more keys at last", h.endpoint, len(keys)-namesShown)
			continue
		}
		if n > namesShown {
			continue
		}
		h.log.Infof("Redis at %s took %s to key %q at last, %s after it refused it (%d attempts); the %d metrics for the key kept meanwhile follow in order",
			h.endpoint, k.cmd, key, now.Sub(k.since).Round(time.Millisecond), k.tries+1, waiting[key])
	}
}

// RetryNow makes every held key due for its next attempt (at a stop).
func (b *batch) RetryNow() {
	b.seal()
	if b.holds == nil {
		return
	}
	for _, k := range b.holds.keys {
		k.retryAt = time.Time{}
	}
}

// Next tells when a write has something to send: now when some command
// may go at once, the earliest retry of a held key otherwise, and the
// zero time for an empty batch.
func (b *batch) Next(now time.Time) time.Time {
	b.seal()
	if len(b.cmds) == 0 {
		return time.Time{}
	}
	h := b.holds
	if h == nil || len(h.keys) == 0 {
		return now
	}
	var next time.Time
	for i := range b.cmds {
		k := h.keys[string(b.key(i))]
		if k == nil {
			return now
		}
		if next.IsZero() || k.retryAt.Before(next) {
			next = k.retryAt
		}
	}
	if next.Before(now) {
		return now
	}
	return next
}

// Held counts the metrics of the batch that wait for their keys.
func (b *batch) Held() int {
	b.seal()
	h := b.holds
	if h == nil || len(h.keys) == 0 {
		return 0
	}
	n := 0
	for i, c := range b.cmds {
		if c.metrics == 1 && h.keys[string(b.key(i))] != nil {
			n += 1 + c.extra
		}
	}
	return n
}

// refusedError is the error of a built-in write with refused commands:
// Telegraf keeps the batch and writes it again at its next flush.
func refusedError(refused []refusal, ask func(key string) (string, error)) error {
	r := refused[0]
	// Still a reply error that starts with Redis's code, so that it is
	// classified (and the connection kept) as the reply itself.
	code, text, _ := strings.Cut(string(r.reason), " ")
	msg := fmt.Sprintf("%s %s to key %q%s: %s", code, r.cmd, r.key, typeNote(r, ask), text)
	if len(refused) > 1 {
		msg += fmt.Sprintf(" (and commands to %d more keys refused)", len(refused)-1)
	}
	return redis.Error(msg)
}

// typeAsker asks TYPE on c.
func typeAsker(ctx context.Context, c redis.Conn) func(key string) (string, error) {
	return func(key string) (string, error) {
		return redis.String(redis.DoContext(c, ctx, "TYPE", key))
	}
}
