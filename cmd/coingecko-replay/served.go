package main

import (
	"bytes"
	"encoding/json"
	"io"
	"sync"
	"time"
)

// servedEntry is one /simple/price response as the client received it.
type servedEntry struct {
	Seq    int             `json:"seq"`  // /simple/price request number, from 1
	Step   int             `json:"step"` // price step served, from 1; 0 for errors
	Time   time.Time       `json:"time"`
	Status int             `json:"status"`
	Query  string          `json:"query"`
	Body   json.RawMessage `json:"body"`
}

// servedLog keeps every entry in memory and optionally appends JSON lines to w.
type servedLog struct {
	mu      sync.Mutex
	entries []servedEntry
	w       io.Writer // nil: memory only
}

func (l *servedLog) add(e servedEntry) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, e)
	if l.w == nil {
		return nil
	}
	line, err := marshalJSON(e)
	if err != nil {
		return err
	}
	_, err = l.w.Write(line)
	return err
}

// marshalJSON is json.Marshal plus a newline, without escaping "&" and "<" so
// queries and bodies stay readable.
func marshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// since returns the entries with a sequence number above seq.
func (l *servedLog) since(seq int) []servedEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]servedEntry, 0) // "[]", not "null", when there is nothing yet
	for _, e := range l.entries {
		if e.Seq > seq {
			out = append(out, e)
		}
	}
	return out
}
