package quote

import (
	"context"
	"crypto/sha1" //nolint:gosec // the scripts check a document with redis.sha1hex, the only digest Redis's Lua has: an identity, not a secret
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"

	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/redisconn"
)

// Outcome is what one write did, for the counters and the log.
type Outcome struct {
	Updates int // script runs (0 when the batch held no price)

	// Metrics of the batch, each counted once.
	Written    int // a price of it is now in the document
	Superseded int // every price it gave was replaced by a newer one of the same coin before the write
	Refused    int // it had prices and none was taken
	NoPrice    int // it had no field named like a price

	Refusals [NumReasons]Refusal // prices, by reason
	Aged     Refusal             // coins dropped by age_out (Time: the coin's last price)
	Repaired int                 // stored entries repaired, dropped or restored

	// Rebuilt says why the document was rebuilt from the state rather
	// than spliced ("" when spliced).
	Rebuilt string

	// Lines for the log, worded, naming the key.
	Warnings []string
	Infos    []string
}

// maxTakeovers bounds the rounds of reading a document that keeps
// changing under a takeover.
const maxTakeovers = 3

// Write merges the batch into Redis. On error the batch is left as it was,
// to be written again; the merge is idempotent.
func (b *Batch) Write(ctx context.Context, c redis.Conn) (Outcome, error) {
	var o Outcome
	held := append(b.scratch[:0], b.held...)
	b.scratch = held
	if b.used == 0 {
		// Nothing to merge (every price refused, or none): the refusals
		// are still reported, not only counted.
		b.account(&o, held)
		b.report(&o, nil)
		return o, nil
	}
	now := b.opts.now()
	args := b.argsAt(now, nil, "")
	var notes, infos []string
	for round := 0; ; round++ {
		if err := checkArgs(args); err != nil {
			return Outcome{}, err
		}
		reply, err := redis.Values(Script.DoContext(ctx, c, args...))
		if err != nil {
			// Redis 6.2 wraps a refusal (OOM, READONLY) in an ERR of its
			// own; read as Redis 7 words it, it is classified the same.
			return Outcome{}, redisconn.ScriptError(err)
		}
		status, err := redis.String(reply[0], nil)
		if err != nil {
			return Outcome{}, fmt.Errorf("malformed reply from the quote merge script: %w", err)
		}
		if status == "takeover" && len(reply) == 3 && round < maxTakeovers {
			doc, err := redis.Bytes(reply[1], nil)
			if err != nil {
				return Outcome{}, fmt.Errorf("malformed reply from the quote merge script: %w", err)
			}
			ours, err := redis.Int(reply[2], nil)
			if err != nil {
				return Outcome{}, fmt.Errorf("malformed reply from the quote merge script: %w", err)
			}
			coins, warnings, said := b.takeover(doc, ours == 1, now)
			notes, infos = append(notes, warnings...), append(infos, said...)
			sum := sha1.Sum(doc) //nolint:gosec // compared with redis.sha1hex in the script: an identity, not a secret
			args = b.argsAt(now, coins, hex.EncodeToString(sum[:]))
			continue
		}
		if status != "ok" || len(reply) != 6 {
			if status == "takeover" {
				return Outcome{}, fmt.Errorf("the document at %q changed %d times while it was being taken over", b.opts.Key, maxTakeovers)
			}
			return Outcome{}, fmt.Errorf("unexpected reply from the quote merge script: %q", status)
		}
		if err := b.outcome(&o, reply, held); err != nil {
			return Outcome{}, err
		}
		o.Warnings = append(notes, o.Warnings...)
		o.Infos = append(infos, o.Infos...)
		o.Updates = 1
		return o, nil
	}
}

// outcome reads the script's reply {'ok', changed, stale, aged, notes, why}.
func (b *Batch) outcome(o *Outcome, reply []interface{}, held []int32) error {
	stale, err1 := redis.Strings(reply[2], nil)
	aged, err2 := redis.Strings(reply[3], nil)
	notes, err3 := redis.Strings(reply[4], nil)
	why, err4 := redis.String(reply[5], nil)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || len(stale)%2 != 0 || len(aged)%3 != 0 || len(notes)%3 != 0 {
		return errors.New("malformed reply from the quote merge script")
	}
	for i := 0; i < len(stale); i += 2 {
		p, id, ok := b.coinAt(stale[i])
		stored, err := strconv.ParseInt(stale[i+1], 10, 64)
		if !ok || err != nil {
			return fmt.Errorf("malformed reply from the quote merge script: coin %q stored at %q", stale[i], stale[i+1])
		}
		held[p.metric]--
		r := &o.Refusals[Stale]
		if r.Count == 0 {
			r.Coin, r.Time, r.Stored = id, p.time, stored
		}
		r.Count++
	}
	for i := 0; i < len(aged); i += 3 {
		t, err := strconv.ParseInt(aged[i+1], 10, 64)
		if err != nil {
			return fmt.Errorf("malformed reply from the quote merge script: coin %q aged at %q", aged[i], aged[i+1])
		}
		if o.Aged.Count == 0 {
			o.Aged.Coin, o.Aged.Time = aged[i], t
		}
		o.Aged.Count++
		if aged[i+2] != "0" {
			p, _, ok := b.coinAt(aged[i+2])
			if !ok {
				return fmt.Errorf("malformed reply from the quote merge script: coin %q", aged[i+2])
			}
			held[p.metric]--
		}
	}
	b.account(o, held)
	o.Rebuilt = why
	b.report(o, notes)
	return nil
}

// coinAt returns the coin at a 1-based index of the script's batch, and
// its id.
func (b *Batch) coinAt(index string) (p *price, id string, ok bool) {
	i, err := strconv.Atoi(index)
	if err != nil || i < 1 || i > len(b.ids) {
		return nil, "", false
	}
	return b.coins[b.ids[i-1]], b.ids[i-1], true
}

// account sorts the batch's metrics into written, superseded, refused and
// without a price, from what each still holds after the write.
func (b *Batch) account(o *Outcome, held []int32) {
	for i, f := range b.fate {
		switch {
		case f&hasPrice == 0:
			o.NoPrice++
		case held[i] > 0:
			o.Written++
		case f&superseded != 0:
			o.Superseded++
		default:
			o.Refused++
		}
	}
	for r := range b.refused {
		o.Refusals[r].merge(b.refused[r])
	}
}
