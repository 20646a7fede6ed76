package quote

import (
	"context"
	"crypto/sha1" //nolint:gosec // the script keeps the SHA-1 of the document; the test computes it the same way
	"encoding/hex"
	"encoding/json"
	"errors"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
)

// add adds m to b. Add refuses only a time before 1970, which no test
// here gives it by accident.
func add(t testing.TB, b *Batch, m *metricline.Metric) {
	t.Helper()
	if err := b.Add(m); err != nil {
		t.Fatal(err)
	}
}

// do sends a command that sets a test's state up, and fails the test if
// it does not succeed.
func do(t testing.TB, c redis.Conn, cmd string, args ...any) {
	t.Helper()
	if _, err := c.Do(cmd, args...); err != nil {
		t.Fatalf("%s %q: %v", cmd, args, err)
	}
}

// tamper sends a command that damages the state. Redis may refuse it (a
// WRONGTYPE once an earlier one changed the key's type): only an error
// that is not Redis's reply fails the test.
func tamper(t testing.TB, c redis.Conn, cmd string, args ...any) {
	t.Helper()
	var re redis.Error
	if _, err := c.Do(cmd, args...); err != nil && !errors.As(err, &re) {
		t.Fatalf("%s %q: %v", cmd, args, err)
	}
}

// clock is the tests' fixed "now": a day after the prices they write.
var clock = time.Unix(1795552004, 0).Add(24 * time.Hour)

// t0 is the time of the article's prices, in seconds.
const t0 = 1795552004

func opts() *Options {
	return &Options{Key: "q", StateKey: StateKeyFor("q"), Quote: "usd", TimestampUnits: time.Second,
		Now: func() time.Time { return clock }}
}

func metricWith(ts int64, fields map[string]interface{}) *metricline.Metric {
	m := &metricline.Metric{Name: []byte("kafka_consumer"), Time: ts * int64(time.Second)}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		f := metricline.Field{Key: []byte(k)}
		switch x := fields[k].(type) {
		case float64:
			f.Kind, f.Float = metricline.Float, x
		case int64:
			f.Kind, f.Int = metricline.Int, x
		case string:
			f.Kind, f.Str = metricline.String, []byte(x)
		case bool:
			f.Kind, f.Bool = metricline.Bool, x
		case decimal:
			f.Kind, f.Str = metricline.Decimal, []byte(x)
		}
		m.Fields = append(m.Fields, f)
	}
	return m
}

// decimal is a JSON number as the lazy decoder leaves it.
type decimal string

type document struct {
	Timestamp int64  `json:"timestamp"`
	Quote     string `json:"quote"`
	Prices    []struct {
		ID    string `json:"id"`
		Price string `json:"price"`
	} `json:"prices"`
}

func readDoc(t *testing.T, c redis.Conn, key string) (document, string) {
	t.Helper()
	raw, err := redis.String(c.Do("GET", key))
	if err != nil {
		t.Fatalf("GET %s: %v", key, err)
	}
	var d document
	if err := json.Unmarshal([]byte(raw), &d); err != nil {
		t.Fatalf("document is not JSON: %v: %s", err, raw)
	}
	return d, raw
}

func prices(d document) map[string]string {
	out := map[string]string{}
	for _, p := range d.Prices {
		out[p.ID] = p.Price
	}
	return out
}

func must(d document, _ string) document { return d }

func write(t *testing.T, c redis.Conn, o *Options, ms ...*metricline.Metric) Outcome {
	t.Helper()
	b := NewBatch(o)
	for _, m := range ms {
		if err := b.Add(m); err != nil {
			t.Fatal(err)
		}
	}
	res, err := b.Write(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// render is the document the state says, computed here from the state
// alone (not by the script): every coin of the hash, sorted by id in byte
// order, the timestamp its newest time in the document's unit.
func render(t *testing.T, c redis.Conn, o *Options) string {
	t.Helper()
	state, err := redis.StringMap(c.Do("HGETALL", o.StateKey))
	if err != nil {
		t.Fatal(err)
	}
	if len(state) == 0 {
		return ""
	}
	ids := make([]string, 0, len(state))
	newest := ""
	for id, e := range state {
		ids = append(ids, id)
		if len(e) < 22 {
			t.Fatalf("state entry of %q is %q", id, e)
		}
		if e[:20] > newest {
			newest = e[:20]
		}
	}
	sort.Strings(ids)
	var b strings.Builder
	ns, err := strconv.ParseInt(newest, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	b.WriteString(`{"timestamp":` + strconv.FormatInt(ns/int64(o.TimestampUnits), 10) + `,"quote":` + string(appendJSONString(nil, o.Quote)) + `,"prices":[`)
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		e := state[id]
		// "<order> <T> <object>"
		rest := e[21:]
		sp := strings.IndexByte(rest, ' ')
		if sp < 0 {
			t.Fatalf("state entry of %q is %q", id, e)
		}
		obj := rest[sp+1:]
		wantObj := `{"id":` + string(appendJSONString(nil, id)) + `,"price":"`
		if !strings.HasPrefix(obj, wantObj) {
			t.Fatalf("state entry of %q is not ours: %q", id, e)
		}
		b.WriteString(obj)
	}
	b.WriteString("]}")
	return b.String()
}

// consistent checks the promise after a merge: the document is byte for
// byte what the state says, and the indexes and the metadata agree with
// both.
func consistent(t *testing.T, c redis.Conn, o *Options) string {
	t.Helper()
	want := render(t, c, o)
	got, err := redis.String(c.Do("GET", o.Key))
	if want == "" {
		if !errors.Is(err, redis.ErrNil) {
			t.Fatalf("no state, but a document: %q (%v)", got, err)
		}
		return ""
	}
	if err != nil {
		t.Fatalf("GET %s: %v", o.Key, err)
	}
	if got != want {
		t.Fatalf("the document is not what the state says:\n got %s\nwant %s", got, want)
	}
	keys := o.Keys()
	state, err := redis.StringMap(c.Do("HGETALL", keys[1]))
	if err != nil {
		t.Fatal(err)
	}
	ids, err := redis.Strings(c.Do("ZRANGE", keys[2], 0, -1))
	if err != nil {
		t.Fatal(err)
	}
	times, err := redis.Strings(c.Do("ZRANGE", keys[3], 0, -1))
	if err != nil {
		t.Fatal(err)
	}
	meta, err := redis.StringMap(c.Do("HGETALL", keys[4]))
	if err != nil {
		t.Fatal(err)
	}
	// One layout: both indexes hold every coin, and the meta keeps the
	// SHA1 of a small document (read whole), none of a large one.
	sum := sha1.Sum([]byte(got)) //nolint:gosec // the SHA-1 the script keeps in the meta, not a security use
	wantSum := hex.EncodeToString(sum[:])
	if len(got) > 32768 {
		wantSum = ""
	}
	if meta["ix"] != "1" || meta["sha"] != wantSum || len(ids) != len(state) {
		t.Fatalf("meta %v with %d ids for %d coins, a document of %d bytes", meta, len(ids), len(state), len(got))
	}
	for _, id := range ids {
		if _, ok := state[id]; !ok {
			t.Fatalf("id %q is in the index, not in the state", id)
		}
	}
	if len(times) != len(state) {
		t.Fatalf("%d coins in the state, %d times", len(state), len(times))
	}
	for _, m := range times {
		if e, ok := state[m[21:]]; !ok || e[:20] != m[:20] {
			t.Fatalf("time %q, state %q", m, e)
		}
	}
	newest := ""
	for _, e := range state {
		newest = max(newest, e[:20])
	}
	h := strings.Index(got, `"prices":[`) + len(`"prices":[`)
	if meta["v"] != "2" || meta["head"] != got[:h] || meta["len"] != strconv.Itoa(len(got)) || meta["n"] != strconv.Itoa(len(state)) ||
		meta["newest"] != newest {
		t.Fatalf("meta %v for a document of %d bytes, %d coins, newest %s", meta, len(got), len(state), newest)
	}
	if a, err := strconv.Atoi(meta["audit"]); err != nil || a <= h || a > len(got)-2 || !strings.HasPrefix(got[a-1:], `{"id":"`) {
		t.Fatalf("meta audit=%s for %s", meta["audit"], got)
	}
	return got
}

// snapshot is every key of the database, dumped, to tell that nothing was
// written.
func snapshot(t *testing.T, c redis.Conn) map[string]string {
	t.Helper()
	keys, err := redis.Strings(c.Do("KEYS", "*"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, k := range keys {
		d, err := redis.Bytes(c.Do("DUMP", k))
		if err != nil && !errors.Is(err, redis.ErrNil) { // ErrNil: no such key
			t.Fatal(err)
		}
		out[k] = string(d)
	}
	return out
}

func sameSnapshot(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func warned(o Outcome, parts ...string) bool { return hasLine(o.Warnings, parts) }

// informed is warned for the info lines (a replay refused, an age-out).
func informed(o Outcome, parts ...string) bool { return hasLine(o.Infos, parts) }

func hasLine(lines, parts []string) bool {
	for _, w := range lines {
		ok := true
		for _, p := range parts {
			if !strings.Contains(w, p) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}
