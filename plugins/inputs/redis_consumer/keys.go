package redis_consumer

import (
	"errors"
	"fmt"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/influxdata/telegraf"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/logger"
)

// keys is keys mode: each gather walks the keyspace with SCAN MATCH and
// reads every matching string (parsed with data_format) and hash (its
// fields), pipelined page by page: two round trips per SCAN page.
type keys struct {
	p *RedisConsumer
	// bad holds the keys that could not be parsed at the last gather, with
	// the problem, so that a key that stays bad is not logged every time.
	bad map[string]string
}

func newKeys(p *RedisConsumer) *keys { return &keys{p: p} }

func (k *keys) gather(c redis.Conn) ([]telegraf.Metric, error) {
	now := time.Now()
	seen := map[string]bool{} // SCAN may return a key twice
	bad := map[string]string{}
	var ms []telegraf.Metric
	cursor := "0"
	for {
		reply, err := redis.Values(c.Do("SCAN", cursor, "MATCH", k.p.Key, "COUNT", 1000))
		if err != nil {
			return nil, err
		}
		var page []string
		if _, err := redis.Scan(reply, &cursor, &page); err != nil {
			return nil, fmt.Errorf("SCAN reply: %w", err)
		}
		fresh := page[:0]
		for _, key := range page {
			if !seen[key] {
				seen[key] = true
				fresh = append(fresh, key)
			}
		}
		got, err := k.read(c, fresh, now, bad)
		if err != nil {
			return nil, err
		}
		ms = append(ms, got...)
		if cursor == "0" {
			break
		}
	}
	k.bad = bad
	return ms, nil
}

// read pipelines TYPE for a page of keys, then GET or HGETALL for those
// that are strings or hashes.
func (k *keys) read(c redis.Conn, page []string, now time.Time, bad map[string]string) ([]telegraf.Metric, error) {
	if len(page) == 0 {
		return nil, nil
	}
	types, err := pipeline(c, len(page), func(i int) (string, []any) { return "TYPE", []any{page[i]} })
	if err != nil {
		return nil, err
	}
	var wanted []int // indexes into page
	var reads []string
	for i, t := range types {
		switch t, _ := redis.String(t, nil); t {
		case "string":
			wanted, reads = append(wanted, i), append(reads, "GET")
		case "hash":
			wanted, reads = append(wanted, i), append(reads, "HGETALL")
		case "none": // deleted since the SCAN
		default:
			k.p.Log.Debugf("key %q skipped: type %s is not read (only string and hash)", page[i], t)
		}
	}
	values, err := pipeline(c, len(wanted), func(j int) (string, []any) { return reads[j], []any{page[wanted[j]]} })
	if err != nil {
		return nil, err
	}

	var ms []telegraf.Metric
	for j, v := range values {
		key := page[wanted[j]]
		var got []telegraf.Metric
		var perr error
		switch v := v.(type) {
		case nil: // deleted since the TYPE
			continue
		case redis.Error: // its type changed since the TYPE
			k.p.Log.Debugf("key %q skipped: %v", key, v)
			continue
		case []byte: // a string
			got, perr = k.p.parser.Parse(v, now)
			for _, m := range got {
				m.AddTag("key", key)
			}
			if perr != nil {
				perr = fmt.Errorf("%v: %q", perr, logger.Head(v))
			}
		case []any: // a hash
			var pairs [][]byte
			if pairs, perr = redis.ByteSlices(v, nil); perr == nil {
				var m telegraf.Metric
				m, perr = fieldsMetric(k.p.Measurement, pairs, map[string]string{"key": key}, k.p.tagFilter, now)
				got = []telegraf.Metric{m}
			}
		}
		if perr != nil {
			k.report(key, perr.Error(), bad)
			continue
		}
		ms = append(ms, got...)
	}
	return ms, nil
}

// report logs a key that cannot be parsed: as an error when it is new or
// its problem changed, at debug level when it is the same as last gather.
func (k *keys) report(key, problem string, bad map[string]string) {
	bad[key] = problem
	if k.bad[key] == problem {
		k.p.Log.Debugf("key %q skipped again: %s", key, problem)
		return
	}
	k.p.Log.Errorf("key %q skipped: %s", key, problem)
}

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
