package quote

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// maxCoinLines bounds the log lines naming one coin each per write; the
// rest are counted in one more line.
const maxCoinLines = 100

func stamp(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339Nano) }

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// report words the outcome of a write: one line per reason of refusal
// (naming a coin and the count), one for coins aged out, one per stored
// entry repaired or dropped, and why the document was rebuilt.
func (b *Batch) report(o *Outcome, notes []string) {
	key := fmt.Sprintf("key %q: ", b.opts.Key)
	warn := func(format string, args ...interface{}) {
		o.Warnings = append(o.Warnings, key+fmt.Sprintf(format, args...))
	}
	// What the merge is made to do (a Kafka replay refused, a coin aged out
	// as configured) is news, not a problem: an info line. Under
	// [[outputs.execd]] a warning becomes an E! of Telegraf's, for the
	// data someone must look at.
	info := func(format string, args ...interface{}) {
		o.Infos = append(o.Infos, key+fmt.Sprintf(format, args...))
	}
	for r, ref := range o.Refusals {
		if ref.Count == 0 {
			continue
		}
		n := plural(ref.Count, "price", "prices")
		switch Reason(r) {
		case NotANumber:
			warn("refused %s: not a number (e.g. coin %q = %s at %s)", n, ref.Coin, ref.Value, stamp(ref.Time))
		case OutOfRange:
			warn("refused %s: out of range, beyond float64 or below its normal range (e.g. coin %q = %s at %s)",
				n, ref.Coin, ref.Value, stamp(ref.Time))
		case Stale:
			if ref.Time == ref.Stored {
				info("refused %s: older than stored, or as old and lower (e.g. coin %q at %s, a higher price of that time stored)",
					n, ref.Coin, stamp(ref.Time))
			} else {
				info("refused %s: older than stored (e.g. coin %q at %s, stored %s)", n, ref.Coin, stamp(ref.Time), stamp(ref.Stored))
			}
		case Future:
			warn("refused %s: too far in the future, more than max_future %s ahead of the clock (e.g. coin %q at %s)",
				n, b.opts.MaxFuture, ref.Coin, stamp(ref.Time))
		case Negative:
			warn("refused %s: negative, and no price is below zero (e.g. coin %q = %s at %s)", n, ref.Coin, ref.Value, stamp(ref.Time))
		case BadCoinID:
			warn("refused %s: the coin id is not valid UTF-8, which the document's JSON cannot hold (e.g. coin %q = %s at %s)",
				n, ref.Coin, ref.Value, stamp(ref.Time))
		}
	}
	if o.Aged.Count > 0 {
		info("dropped %s with no price for age_out %s (e.g. coin %q, last price at %s)",
			plural(o.Aged.Count, "coin", "coins"), b.opts.AgeOut, o.Aged.Coin, stamp(o.Aged.Time))
	}
	lines := 0
	var recovered, lost named
	for i := 0; i+2 < len(notes); i += 3 {
		coin, what, detail := notes[i], notes[i+1], notes[i+2]
		switch what {
		case "recovered", "lost":
			// Named coins, then their count (coin ""): one line for all.
			c := &recovered
			if what == "lost" {
				c = &lost
			}
			if coin != "" {
				c.names = append(c.names, coin)
				continue
			}
			n, err := strconv.Atoi(detail)
			if err != nil {
				warn("the quote merge script noted %s coins %q, not a number", what, detail)
				continue
			}
			c.count = n
			o.Repaired += c.count
			continue
		}
		o.Repaired++
		if what == "restored" {
			n, err := strconv.Atoi(detail)
			if err != nil {
				warn("the quote merge script noted %q coins restored, not a number", detail)
				continue
			}
			o.Repaired += n - 1
			warn("the state beside the document had been deleted: %s restored with their own times from the document and its times index",
				plural(n, "coin", "coins"))
			continue
		}
		if lines++; lines > maxCoinLines {
			continue
		}
		switch what {
		case "repaired":
			warn("coin %q: the stored entry %q could not be read: repaired from the document", coin, detail)
		case "dropped":
			warn("coin %q: the stored entry %q could not be read: dropped", coin, detail)
		case "future":
			t, err := strconv.ParseInt(detail, 10, 64)
			if err != nil {
				warn("coin %q: its stored price is dated beyond max_future (%q): replaced by an older one", coin, detail)
				break
			}
			warn("coin %q: its stored price is dated %s, beyond max_future: replaced by an older one", coin, stamp(t))
		default:
			warn("coin %q: %s %s", coin, what, detail)
		}
	}
	if lines > maxCoinLines {
		warn("and %d more stored entries repaired or dropped", lines-maxCoinLines)
	}
	if recovered.count > 0 {
		warn("the entries of %s had been deleted from the state %q (by another program?): "+
			"restored with their own times from the document and its times index: %s",
			plural(recovered.count, "coin", "coins"), b.opts.StateKey, recovered.list())
	}
	if lost.count > 0 {
		warn("the entries of %s had been deleted from the state %q, and their times from its times index: "+
			"dropped from the document, as their times are unknown: %s",
			plural(lost.count, "coin", "coins"), b.opts.StateKey, lost.list())
	}
	switch o.Rebuilt {
	case "", "fresh", "restored", "entry":
	case "new":
		o.Infos = append(o.Infos, key+"the state was taken in place and the document rebuilt from it (first write with this version's layout); "+
			"later writes change only what changed")
	case "meta":
		warn("the metadata %q beside the state could not be read (changed by another program?): repaired, and the document and indexes rebuilt from the state",
			b.opts.Keys()[4])
	case "takeover":
		// takeover's own lines say what was taken.
	case "document":
		warn("the document was not what redis-output last wrote there (another writer, or the old shell consumer still running?): rebuilt from the state")
	case "audit":
		warn("an entry of the document differs from the state (another writer, or an older redis-output?): rebuilt from the state")
	case "state":
		warn("the state was changed by another program (or an older redis-output): the document and indexes were rebuilt from it")
	default:
		warn("the state's indexes were out of step (%s): the document and indexes were rebuilt from the state", o.Rebuilt)
	}
}

// named is coins the script named (up to its NAMED, ten) and
// their count.
type named struct {
	names []string
	count int
}

// list names the coins, then says how many more there are.
func (n *named) list() string {
	var b strings.Builder
	for i, c := range n.names {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(c))
	}
	if more := n.count - len(n.names); more > 0 {
		fmt.Fprintf(&b, " and %d more", more)
	}
	return b.String()
}
