package quote

import (
	"time"

	"github.com/mna/redisc"
)

// Options say where the document lives and what it looks like.
type Options struct {
	Key            string        // the document, e.g. coingecko:rate:usd
	StateKey       string        // the per-coin hash beside it; the indexes are named after it
	Quote          string        // "usd": fields named [fields_]<id>_usd count
	Publish        string        // channel for the new document, "" for none
	Expire         time.Duration // 0: keys never expire
	TimestampUnits time.Duration // unit of the document's "timestamp" (a power of ten ns)
	MaxFuture      time.Duration // prices dated further ahead of the clock are refused; 0: none are
	AgeOut         time.Duration // coins with no price for this long are dropped; 0: never

	// Now is the clock (time.Now when nil); tests set it.
	Now func() time.Time
}

func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// Keys are the script's keys: the document, the state, the ids, the times
// and the metadata. All but the document are named after the state key, so
// they share its Cluster slot when it has a hash tag (StateKeyFor gives it
// one).
func (o *Options) Keys() [5]string {
	return [5]string{o.Key, o.StateKey, o.StateKey + ":ids", o.StateKey + ":times", o.StateKey + ":meta"}
}

// SlotConflict returns the first of the script's keys that is not in the
// document's Redis Cluster hash slot, with both slots; "" when all share
// it. A cluster refuses a script whose keys span two slots (CROSSSLOT),
// however often it is retried. StateKeyFor keeps the slot unless key has
// a '}' and no hash tag ("a}b{c", "{}x"), or state_key is set without key's
// tag.
func (o *Options) SlotConflict() (key string, docSlot, slot int) {
	keys := o.Keys()
	docSlot = redisc.Slot(keys[0])
	for _, k := range keys[1:] {
		if s := redisc.Slot(k); s != docSlot {
			return k, docSlot, s
		}
	}
	return "", docSlot, docSlot
}

// StateKeyFor names the hash kept beside key. It shares key's hash slot
// (Redis Cluster), so the script may touch both: when key has a hash tag
// the suffix keeps it; otherwise the whole key becomes the tag.
func StateKeyFor(key string) string {
	if open := indexByte(key, '{'); open >= 0 {
		if closing := indexByte(key[open+1:], '}'); closing > 0 {
			return key + ":prices"
		}
	}
	return "{" + key + "}:prices"
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}
