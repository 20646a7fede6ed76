package redis_consumer

import (
	"errors"
	"fmt"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/influxdata/telegraf"
	"github.com/mna/redisc"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/logger"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricpairs"
)

// keyScan is keys mode: each gather walks the keyspace with SCAN MATCH and
// reads every matching string (parsed with data_format), hash (its pairs,
// typed or flat) and list (its newest list_max_length elements, each
// parsed with data_format), pipelined page by page: two round trips per
// SCAN page. Every gather is a snapshot: what the keys hold at that time,
// emitted again at the next gather if nothing changed.
type keyScan struct {
	p *RedisConsumer
	// bad holds the keys that could not be parsed at the last gather, with
	// the problem, so that a key that stays bad is not logged every time.
	bad map[string]string
	// long holds the lists found longer than list_max_length at the last
	// gather, for the same reason.
	long map[string]bool
}

func newKeys(p *RedisConsumer) *keyScan { return &keyScan{p: p} }

func (k *keyScan) gather(c redis.Conn) ([]telegraf.Metric, error) {
	now := time.Now()
	seen := make(map[string]bool) // SCAN may return a key twice
	g := &keysGather{bad: make(map[string]string), long: make(map[string]bool), now: now}
	if k.p.IsCluster() {
		if err := k.gatherCluster(seen, g); err != nil {
			return nil, err
		}
	} else if err := k.scan(c, seen, g); err != nil {
		return nil, err
	}
	k.bad, k.long = g.bad, g.long
	return g.ms, nil
}

// scan walks the keys of the server on c, reading those not seen yet.
func (k *keyScan) scan(c redis.Conn, seen map[string]bool, g *keysGather) error {
	pipe := func(n int, command func(int) (string, []any)) ([]any, error) { return pipeline(c, n, command) }
	cursor := "0"
	for {
		reply, err := redis.Values(c.Do("SCAN", cursor, "MATCH", k.p.Key, "COUNT", 1000))
		if err != nil {
			return err
		}
		var page []string
		if _, err := redis.Scan(reply, &cursor, &page); err != nil {
			return fmt.Errorf("reading the SCAN reply: %w", err)
		}
		fresh := page[:0]
		for _, key := range page {
			if !seen[key] {
				seen[key] = true
				fresh = append(fresh, key)
			}
		}
		if err := k.read(pipe, fresh, g); err != nil {
			return err
		}
		for _, key := range g.moved {
			delete(seen, key) // read where it is now: see gatherCluster
		}
		g.redirected, g.moved = append(g.redirected, g.moved...), g.moved[:0]
		if cursor == "0" {
			return nil
		}
	}
}

// keysGather is what one gather collects.
type keysGather struct {
	ms   []telegraf.Metric
	bad  map[string]string
	long map[string]bool
	now  time.Time
	// On a cluster: the keys of the page being read whose node answered
	// MOVED or ASK (their slot moves), and all of those so far.
	moved, redirected []string
}

// redirect notes key when reply is a MOVED or ASK: the key is not on
// the node asked (any more), and is read from the one serving it.
func (g *keysGather) redirect(key string, reply any) bool {
	re, ok := reply.(redis.Error)
	if !ok || redisc.ParseRedir(re) == nil {
		return false
	}
	g.moved = append(g.moved, key)
	return true
}

// read pipelines TYPE for a page of keys, then GET, HGETALL or LRANGE for
// those that are strings, hashes or lists.
func (k *keyScan) read(pipe pipeFunc, page []string, g *keysGather) error {
	if len(page) == 0 {
		return nil
	}
	types, err := pipe(len(page), func(i int) (string, []any) { return "TYPE", []any{page[i]} })
	if err != nil {
		return err
	}
	var wanted []int // indexes into page
	var reads []string
	for i, t := range types {
		typ, err := redis.String(t, nil)
		if err != nil {
			if g.redirect(page[i], t) {
				continue
			}
			typ = "" // not a type name: skipped as a type not read
		}
		switch typ {
		case "string":
			wanted, reads = append(wanted, i), append(reads, "GET")
		case "hash":
			wanted, reads = append(wanted, i), append(reads, "HGETALL")
		case "list":
			wanted, reads = append(wanted, i), append(reads, "LRANGE")
		case "none": // deleted since the SCAN
		default:
			k.p.Log.Debugf("key %q skipped: type %s is not read (only string, hash and list)", page[i], typ)
		}
	}
	// One element more than list_max_length tells a longer list.
	newest := -(k.p.ListMaxLength + 1)
	values, err := pipe(len(wanted), func(j int) (string, []any) {
		if reads[j] == "LRANGE" {
			return "LRANGE", []any{page[wanted[j]], newest, -1}
		}
		return reads[j], []any{page[wanted[j]]}
	})
	if err != nil {
		return err
	}

	for j, v := range values {
		key := page[wanted[j]]
		var got []telegraf.Metric
		var perr error
		switch v := v.(type) {
		case nil: // deleted since the TYPE
			continue
		case redis.Error: // its type changed since the TYPE
			if g.redirect(key, v) {
				continue
			}
			k.p.Log.Debugf("key %q skipped: %v", key, v)
			continue
		case []byte: // a string
			got, perr = k.p.parser.Parse(v, g.now)
			if perr != nil {
				perr = fmt.Errorf("%w: %q", perr, logger.Head(v))
			}
		case []any:
			if len(v) == 0 { // deleted since the TYPE (an empty hash or list does not exist)
				continue
			}
			if reads[j] == "LRANGE" {
				got, perr = k.list(key, v, g)
				break
			}
			var pairs [][]byte
			if pairs, perr = redis.ByteSlices(v, nil); perr == nil {
				var m telegraf.Metric
				if m, perr = metricpairs.ToMetric(k.p.Measurement, pairs, nil, k.p.tagFilter, g.now); perr == nil {
					got = []telegraf.Metric{m}
				}
			}
		}
		if perr != nil {
			k.report(key, perr.Error(), len(got) > 0, g.bad)
			if len(got) == 0 {
				continue
			}
		}
		if k.p.KeyTag != "" {
			for _, m := range got {
				m.AddTag(k.p.KeyTag, key)
			}
		}
		g.ms = append(g.ms, got...)
	}
	return nil
}

// list parses the elements LRANGE returned, oldest first. A list longer
// than list_max_length gives its newest list_max_length elements and one
// W! line (again only after it was short enough at a gather). Elements
// that do not parse are left out; the error names how many and the first.
func (k *keyScan) list(key string, reply []any, g *keysGather) ([]telegraf.Metric, error) {
	elems, err := redis.ByteSlices(reply, nil)
	if err != nil {
		return nil, err
	}
	if len(elems) > k.p.ListMaxLength {
		elems = elems[1:]
		g.long[key] = true
		if !k.long[key] {
			k.p.Log.Warnf("list %q holds more than list_max_length = %d elements: only the newest %d are read", key, k.p.ListMaxLength, k.p.ListMaxLength)
		}
	}
	var ms []telegraf.Metric
	var first error
	bad := 0
	for _, e := range elems {
		got, err := k.p.parser.Parse(e, g.now)
		if err != nil {
			if bad++; first == nil {
				first = fmt.Errorf("%w: %q", err, logger.Head(e))
			}
			continue
		}
		ms = append(ms, got...)
	}
	if bad > 0 {
		return ms, fmt.Errorf("%d of %d list elements left out; the first: %w", bad, len(elems), first)
	}
	return ms, nil
}

// report logs a key that cannot be parsed: as an error when it is new or
// its problem changed, at debug level when it is the same as last gather.
// A list is not skipped whole: its good elements are read, and the error
// says which were left out.
func (k *keyScan) report(key, problem string, partial bool, bad map[string]string) {
	bad[key] = problem
	what := "skipped"
	if partial {
		what = "partly read"
	}
	if k.bad[key] == problem {
		k.p.Log.Debugf("key %q %s again: %s", key, what, problem)
		return
	}
	k.p.Log.Errorf("key %q %s: %s", key, what, problem)
}

// pipeFunc runs n commands and returns their replies (see pipeline).
type pipeFunc func(n int, command func(int) (string, []any)) ([]any, error)

// pipeline sends n commands and then reads their n replies. Error replies
// are returned among the replies; any other failure ends it.
func pipeline(c redis.Conn, n int, command func(int) (string, []any)) ([]any, error) {
	for i := 0; i < n; i++ {
		name, args := command(i)
		if err := c.Send(name, args...); err != nil {
			return nil, err
		}
	}
	if n == 0 {
		return nil, nil
	}
	if err := c.Flush(); err != nil {
		return nil, err
	}
	replies := make([]any, n)
	for i := range replies {
		r, err := c.Receive()
		var re redis.Error
		switch {
		case errors.As(err, &re):
			replies[i] = re
		case err != nil:
			return nil, err
		default:
			replies[i] = r
		}
	}
	return replies, nil
}
