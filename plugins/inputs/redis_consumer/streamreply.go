package redis_consumer

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gomodule/redigo/redis"
)

// entry is one stream entry as XREADGROUP and XAUTOCLAIM return it.
type entry struct {
	id string
	// fields are name, value, name, value, ...; nil when the entry is in
	// the pending list but was deleted from the stream (XDEL, XTRIM).
	fields [][]byte
}

// time is the entry ID's milliseconds: when Redis added it.
func (e entry) time() (time.Time, error) {
	ms, _, _ := strings.Cut(e.id, "-")
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("entry ID %q: %v", e.id, err)
	}
	return time.UnixMilli(n), nil
}

// field returns the value of the first field called name.
func (e entry) field(name string) ([]byte, bool) {
	for i := 0; i+1 < len(e.fields); i += 2 {
		if string(e.fields[i]) == name {
			return e.fields[i+1], true
		}
	}
	return nil, false
}

// text is the entry's fields as name=value pairs, for log lines.
func (e entry) text() []byte {
	var b bytes.Buffer
	for i := 0; i+1 < len(e.fields); i += 2 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.Write(e.fields[i])
		b.WriteByte('=')
		b.Write(e.fields[i+1])
	}
	return b.Bytes()
}

// parseEntries reads an array of [id, [field, value, ...]].
func parseEntries(reply any) ([]entry, error) {
	items, err := redis.Values(reply, nil)
	if err != nil {
		return nil, err
	}
	entries := make([]entry, 0, len(items))
	for _, item := range items {
		parts, err := redis.Values(item, nil)
		if err != nil || len(parts) != 2 {
			return nil, fmt.Errorf("unexpected stream entry %v", item)
		}
		id, err := redis.String(parts[0], nil)
		if err != nil {
			return nil, fmt.Errorf("stream entry ID: %w", err)
		}
		e := entry{id: id}
		if parts[1] != nil {
			if e.fields, err = redis.ByteSlices(parts[1], nil); err != nil {
				return nil, fmt.Errorf("stream entry %s: %w", id, err)
			}
			if e.fields == nil {
				e.fields = [][]byte{} // present, without fields
			}
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// readGroupEntries reads an XREADGROUP reply for one stream: nil when
// BLOCK ran out, else [[key, entries]].
func readGroupEntries(reply any) ([]entry, error) {
	if reply == nil {
		return nil, nil
	}
	streams, err := redis.Values(reply, nil)
	if err != nil {
		return nil, fmt.Errorf("XREADGROUP reply: %w", err)
	}
	var entries []entry
	for _, s := range streams {
		kv, err := redis.Values(s, nil)
		if err != nil || len(kv) != 2 {
			return nil, errors.New("XREADGROUP reply: not [key, entries]")
		}
		got, err := parseEntries(kv[1])
		if err != nil {
			return nil, fmt.Errorf("XREADGROUP reply: %w", err)
		}
		entries = append(entries, got...)
	}
	return entries, nil
}

// autoclaimEntries reads an XAUTOCLAIM reply: [next cursor, entries] and,
// from Redis 7, the IDs of pending entries no longer in the stream (Redis
// drops them from the pending list itself).
func autoclaimEntries(reply any) (cursor string, entries []entry, deleted int, err error) {
	parts, err := redis.Values(reply, nil)
	if err != nil || len(parts) < 2 {
		return "", nil, 0, fmt.Errorf("XAUTOCLAIM reply: not [cursor, entries, ...] (%v)", err)
	}
	if cursor, err = redis.String(parts[0], nil); err != nil {
		return "", nil, 0, fmt.Errorf("XAUTOCLAIM cursor: %w", err)
	}
	if entries, err = parseEntries(parts[1]); err != nil {
		return "", nil, 0, fmt.Errorf("XAUTOCLAIM reply: %w", err)
	}
	if len(parts) > 2 {
		ids, _ := redis.Values(parts[2], nil)
		deleted = len(ids)
	}
	return cursor, entries, deleted, nil
}
