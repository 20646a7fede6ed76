package redis

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
	"github.com/telegraf-redis/telegraf-redis/plugins/outputs/redis/quote"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

// slotCases are quote mode's keys in a Redis Cluster: refused (with the
// option named) when the script's keys span two hash slots.
var slotCases = []struct {
	key, stateKey string
	refused       string // the option refused, "" when accepted
}{
	{"coingecko:rate:usd", "", ""},
	{"{rates}:usd", "", ""},
	{"a{b}c{d}", "", ""}, // the first tag counts: "b", kept by the state key
	{"a{b", "", ""},      // no tag: the state key makes the whole key its tag
	{"{}{x}", "", "key"}, // an empty first tag: no tag at all
	{"a}b{c", "", "key"}, // the issue's: "{a}b{c}:prices" has the tag "a"
	{"{}x", "", "key"},   // the issue's: "{{}x}:prices" has the tag "{"
	{"x}", "", "key"},    // "{x}}:prices" has the tag "x"
	{"{rates}:usd", "{rates}:state", ""},
	{"{rates}:usd", "state", "state_key"}, // state_key without key's tag
	{"{rates}:usd", "{other}:state", "state_key"},
}

// TestQuoteKeysInTwoClusterSlots: in a cluster, Init refuses a key whose
// state keys fall in another hash slot, naming both keys, instead of
// retrying CROSSSLOT for ever; a single server takes them all.
func TestQuoteKeysInTwoClusterSlots(t *testing.T) {
	for _, tc := range slotCases {
		for _, cluster := range []bool{true, false} {
			r := New()
			r.Key, r.StateKey = tc.key, tc.stateKey
			if cluster {
				r.Connection, r.Addresses = "cluster", []string{"127.0.0.1:1"}
			} else {
				r.Address = "127.0.0.1:1"
			}
			err := r.Init()
			switch {
			case !cluster || tc.refused == "":
				if err != nil {
					t.Errorf("%q, state_key %q, cluster %v: %v", tc.key, tc.stateKey, cluster, err)
				}
			case err == nil:
				t.Errorf("%q, state_key %q: accepted in a cluster", tc.key, tc.stateKey)
			default:
				msg := err.Error()
				if !strings.HasPrefix(msg, "option "+tc.refused+": in a Redis Cluster the quote document "+strconv.Quote(tc.key)) ||
					!strings.Contains(msg, "must share a hash slot") || !strings.Contains(msg, "and its state key "+strconv.Quote(r.StateKey)) &&
					!strings.Contains(msg, "and its state key "+strconv.Quote(r.StateKey+":")) {
					t.Errorf("%q, state_key %q: %v", tc.key, tc.stateKey, err)
				}
			}
		}
	}
}

// TestQuoteClusterSlotsIntegration holds the check to a real cluster: for
// every case the server's own CLUSTER KEYSLOT of the five keys agrees with
// Init's verdict; a refused key does fail there with CROSSSLOT (what the
// plugin retried for ever), and an accepted one, however odd, is written.
func TestQuoteClusterSlotsIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	cl := redistest.StartCluster(t, 3, 0)
	for _, tc := range slotCases {
		opts := &quote.Options{Key: tc.key, StateKey: tc.stateKey, Quote: "usd", TimestampUnits: time.Second}
		if opts.StateKey == "" {
			opts.StateKey = quote.StateKeyFor(tc.key)
		}
		slots := map[int64]bool{}
		for _, k := range opts.Keys() {
			s, err := redis.Int64(clusterDo(t, cl, "CLUSTER", "KEYSLOT", k), nil)
			if err != nil {
				t.Fatal(err)
			}
			slots[s] = true
		}
		if (len(slots) > 1) != (tc.refused != "") {
			t.Fatalf("%q, state_key %q: the server puts the keys in %d slots", tc.key, tc.stateKey, len(slots))
		}
		// The merge itself, on the node of the document's slot.
		conn := cl.MasterFor(tc.key).Conn()
		b := quote.NewBatch(opts)
		m := &metricline.Metric{Time: 1795552004e9, Fields: []metricline.Field{{Key: []byte("bitcoin_usd"), Kind: metricline.Float, Float: 1}}}
		if err := b.Add(m); err != nil {
			t.Fatalf("%q: %v", tc.key, err)
		}
		_, err := b.Write(context.Background(), conn)
		conn.Close()
		if tc.refused != "" {
			if err == nil || !strings.Contains(err.Error(), "CROSSSLOT") {
				t.Fatalf("%q, state_key %q: %v", tc.key, tc.stateKey, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q, state_key %q: %v", tc.key, tc.stateKey, err)
		}
		// Through the plugin: Init accepts it and the price lands.
		r := clusterPlugin(t, cl, nil, func(r *Redis) { r.Mode, r.Key, r.StateKey = "quote", tc.key, tc.stateKey })
		stats := &Stats{}
		line := `{"fields":{"fields_ethereum_usd":2},"name":"kafka_consumer","tags":{},"timestamp":1795552005}` + "\n"
		if err := r.Run(context.Background(), strings.NewReader(line), stats); err != nil || stats.Written.Load() != 1 {
			t.Fatalf("%q: %v, wrote %d", tc.key, err, stats.Written.Load())
		}
		doc, err := redis.String(clusterDo(t, cl, "GET", tc.key), nil)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(doc, `{"id":"bitcoin","price":"1"},{"id":"ethereum","price":"2"}`) {
			t.Fatalf("%q: document %s", tc.key, doc)
		}
	}
}
