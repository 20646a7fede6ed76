package redis_consumer

import (
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/influxdata/telegraf"
)

// pendingList reads entries already delivered: this consumer's own pending
// entries, read again after every reconnection, and entries of consumers
// that died before acknowledging them (XAUTOCLAIM).
type pendingList struct {
	key, group, consumer string
	claimIdle            time.Duration // 0: no claims
	log                  telegraf.Logger

	from        string // re-read own pending entries after this ID; "" when done
	claimCursor string
	nextClaim   time.Time
}

// read re-reads a page of the entries delivered to this consumer name and
// not acknowledged: a restarted consumer with the same name gets them
// back. passDone says the pass over the list found no more.
func (pd *pendingList) read(c redis.Conn, count int) (entries []entry, passDone bool, err error) {
	reply, err := c.Do("XREADGROUP", "GROUP", pd.group, pd.consumer, "COUNT", count, "STREAMS", pd.key, pd.from)
	if err != nil {
		return nil, false, err
	}
	entries, err = readGroupEntries(reply)
	if err != nil || len(entries) == 0 {
		pd.from = ""
		return nil, err == nil, err
	}
	pd.from = entries[len(entries)-1].id
	pd.log.Debugf("%d entries still pending for consumer %q delivered again", len(entries), pd.consumer)
	return entries, false, nil
}

// claim takes one page of entries idle for longer than claim_idle: their
// consumer died (or is stuck) before acknowledging them. A full pass over
// the pending list is repeated every claim_idle/2. kept are the entries
// left pending after a parse error: taking them back is not news.
func (pd *pendingList) claim(c redis.Conn, count int, kept map[string]bool) ([]entry, error) {
	reply, err := c.Do("XAUTOCLAIM", pd.key, pd.group, pd.consumer, pd.claimIdle.Milliseconds(), pd.claimCursor, "COUNT", count)
	if err != nil {
		return nil, err
	}
	page, err := autoclaimEntries(reply)
	if err != nil {
		return nil, err
	}
	entries := page.entries
	if pd.claimCursor = page.cursor; page.cursor == "0-0" {
		pd.nextClaim = time.Now().Add(pd.claimIdle / 2)
	}
	if page.dropped > 0 {
		pd.log.Debugf("%d pending entries were no longer in the stream; Redis dropped them", page.dropped)
	}
	if page.unnamed > 0 {
		// Redis 6.2: they are ours now, still pending, and only a read of
		// our own pending list names them (without fields), for the XACK
		// that takes them off it.
		pd.log.Debugf("%d claimed entries were no longer in the stream; reading our pending list to acknowledge them", page.unnamed)
		pd.from = "0"
	}
	fresh := len(entries)
	for _, e := range entries {
		if kept[e.id] {
			fresh--
		}
	}
	if fresh > 0 {
		pd.log.Infof("claimed %d entries pending for more than %s", fresh, pd.claimIdle)
	}
	return entries, nil
}

// claimDue says whether it is time for a page of XAUTOCLAIM.
func (pd *pendingList) claimDue() bool {
	return pd.claimIdle > 0 && !time.Now().Before(pd.nextClaim)
}

// restart starts the pass over the own pending entries, and the claim
// pass, again from their start.
func (pd *pendingList) restart() { pd.from, pd.claimCursor = "0", "0-0" }
