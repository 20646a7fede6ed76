package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
	"github.com/telegraf-redis/telegraf-redis/plugins/outputs/redis/quote"
)

// quoteScript is a second merge script taking the same keys and arguments
// as quote.Script (an earlier version of it, or a variant to measure): the
// quote update rows also run through it, in the same alternating rounds.
var quoteScript = flag.String("quote-script", "", "quote update rows: also run the plugin's flushes through this Lua file, alternating with quote.Script")

// quoteScale measures what one flush of quote mode costs Redis as the
// document grows: a one-coin update into a document of 10 (the article),
// 1,000, 10,000 and 100,000 coins, and the article's own flush (its 10
// coins at once). The cost is Redis's own time, from INFO commandstats:
// every command a flush sends (EVALSHA, or EVAL once), the commands the
// script runs included in it. The flushes are the plugin's own
// (quote.Batch.Write), on one connection.
//
// Two kinds of update: the new price has the length of the stored one
// (most ticks: 97234.12 to 97236.57), or not (every other update is
// shorter, and Redis strings cannot be cut short: the document is
// rewritten whole), the worst case.
//
// With the repository at hand (plugins/outputs/redis/quote/testdata) the
// same updates also go through the previous script, which rebuilt the
// whole document at every merge. The rounds of both alternate, and each
// row is the median of its rounds, so that a loaded machine weighs on
// both alike.
func (b *bench) quoteScale() error {
	v1 := b.v1Script()
	var other *redis.Script
	if *quoteScript != "" {
		src, err := os.ReadFile(*quoteScript)
		if err != nil {
			return err
		}
		other = redis.NewScript(5, string(src))
	}
	type variant struct {
		label  string
		v1     bool
		length bool // the price's length changes
		all    bool // all coins at once
		other  bool // through -quote-script
	}
	on := " (" + filepath.Base(*quoteScript) + ")"
	for _, n := range []int{10, 100, 1000, 10000, 100000} {
		name := fmt.Sprintf("quote update: 1 coin into %d coins", n)
		variants := []variant{{label: "price length kept"}, {label: "price length changing", length: true}}
		if other != nil {
			variants = append(variants, variant{label: "price length kept" + on, other: true},
				variant{label: "price length changing" + on, length: true, other: true})
		}
		if v1 != nil {
			variants = append(variants, variant{label: "previous script", v1: true, length: true})
		}
		if n == len(coins) {
			variants = append(variants, variant{label: "10 coins at once (the article's flush)", length: true, all: true})
			if other != nil {
				variants = append(variants, variant{label: "10 coins at once" + on, length: true, all: true, other: true})
			}
			if v1 != nil {
				variants = append(variants, variant{label: "10 coins at once, previous script", v1: true, length: true, all: true})
			}
		}
		if !b.wanted(name) {
			continue
		}
		rounds, updates := 5, 100
		switch {
		case n >= 100000:
			rounds, updates = 3, 20
		case n >= 10000:
			rounds, updates = 3, 40
		}
		runs := make([]*quoteRun, len(variants))
		for i, v := range variants {
			key := fmt.Sprintf("quote:%d:%d", n, i)
			var script, previous *redis.Script
			if v.other {
				script = other
			}
			if v.v1 {
				previous = v1
			}
			r, err := b.newQuoteRun(key, n, v.length, v.all, previous, script)
			if err != nil {
				return fmt.Errorf("%s, %s: %w", name, v.label, err)
			}
			runs[i] = r
		}
		for round := 0; round < rounds; round++ {
			for i, v := range variants {
				u := updates
				if v.v1 && n >= 10000 {
					u = max(2, updates*1000/n) // the previous script takes seconds at 100k
				}
				if err := runs[i].updates(u); err != nil {
					return fmt.Errorf("%s, %s: %w", name, v.label, err)
				}
			}
		}
		for i, v := range variants {
			r := runs[i]
			if err := r.check(); err != nil {
				return fmt.Errorf("%s, %s: %w", name, v.label, err)
			}
			label := name + ", " + v.label
			if v.all {
				label = "quote update: " + v.label
			}
			b.rows = append(b.rows, row{Name: label, RedisMsPerUpdate: num(median(r.perUpdate)),
				Note: fmt.Sprintf("first write of the %d coins: %.1f ms", n, r.build)})
			r.close()
		}
		if err := b.srv.flush(); err != nil {
			return err
		}
	}
	return nil
}

// v1Script is the previous merge script, when the repository is here.
func (b *bench) v1Script() *redis.Script {
	path := filepath.Join(filepath.Dir(b.bin), "plugins", "outputs", "redis", "quote", "testdata", "merge-v1.lua")
	src, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "redis-bench: no %s: no rows for the previous quote script\n", path)
		return nil
	}
	return redis.NewScript(2, string(src))
}

// quoteRun is one document under updates: its key, its coins, its clock.
type quoteRun struct {
	c         redis.Conn
	opts      *quote.Options
	v1        *redis.Script
	script    *redis.Script // in place of quote.Script, when set
	ids       []string
	length    bool
	all       bool
	ts        int64
	u         int
	last      string // the price of the last update
	build     float64
	perUpdate []float64
}

// newQuoteRun: v1, when not nil, is the previous script, run instead of
// the plugin's.
func (b *bench) newQuoteRun(key string, n int, length, all bool, v1, script *redis.Script) (*quoteRun, error) {
	c, err := b.srv.conn()
	if err != nil {
		return nil, err
	}
	r := &quoteRun{c: c, script: script, length: length, all: all, ts: 1795552004,
		opts: &quote.Options{Key: key, StateKey: quote.StateKeyFor(key), Quote: "usd", TimestampUnits: time.Second}}
	r.v1 = v1
	r.ids = make([]string, n)
	for i := range r.ids {
		if n == len(coins) {
			r.ids[i] = coins[i]
		} else {
			r.ids[i] = fmt.Sprintf("coin-%06d", i)
		}
	}
	if _, err := c.Do("CONFIG", "RESETSTAT"); err != nil {
		return nil, err
	}
	if err := r.flush(r.ids, func(i int) float64 { return 1000.25 + float64(i%1000) }); err != nil {
		return nil, err
	}
	usec, _, err := scriptUsec(c)
	r.build = usec / 1000
	return r, err
}

// price gives the u-th update's price: the same length as the seed's
// (1000.25 + i) and each other, or alternately much shorter and longer.
func (r *quoteRun) price(u int) float64 {
	if !r.length {
		return 2000.25 + float64(u%7000)
	}
	if u%2 == 0 {
		return 7
	}
	return 7000.123456 + float64(u%1000)
}

// collectLua empties Redis's Lua heap of garbage, so that a run does not
// pay for what the run before it left (the previous script's, at 100,000
// coins, takes milliseconds per flush to collect).
var collectLua = redis.NewScript(0, "collectgarbage('collect') return 0")

// updates runs n flushes and records Redis's time per flush.
func (r *quoteRun) updates(n int) error {
	if _, err := collectLua.Do(r.c); err != nil {
		return err
	}
	if _, err := r.c.Do("CONFIG", "RESETSTAT"); err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		r.u++
		r.ts++
		u := r.u
		batch := []string{r.ids[(u*7919)%len(r.ids)]}
		if r.all {
			batch = r.ids
		}
		r.last = string(quote.FormatPrice(nil, r.price(u)))
		if err := r.flush(batch, func(int) float64 { return r.price(u) }); err != nil {
			return err
		}
	}
	usec, calls, err := scriptUsec(r.c)
	if err != nil {
		return err
	}
	if calls != int64(n) {
		return fmt.Errorf("%d script calls for %d updates", calls, n)
	}
	r.perUpdate = append(r.perUpdate, usec/1000/float64(n))
	return nil
}

func (r *quoteRun) flush(ids []string, value func(i int) float64) error {
	if r.v1 != nil {
		args := []interface{}{r.opts.Key, r.opts.StateKey, `"usd"`, 0, "", 9}
		for i, id := range ids {
			p := quote.FormatPrice(nil, value(i))
			args = append(args, id, fmt.Sprintf(`%020d %d {"id":%q,"price":%q}`, r.ts*1e9, r.ts, id, p))
		}
		_, err := r.v1.Do(r.c, args...)
		return err
	}
	batch := quote.NewBatch(r.opts)
	m := &metricline.Metric{Time: r.ts * 1e9}
	for i, id := range ids {
		m.Fields = append(m.Fields, metricline.Field{Key: []byte(id + "_usd"), Kind: metricline.Float, Float: value(i)})
	}
	if err := batch.Add(m); err != nil {
		return err
	}
	if r.script != nil {
		// The plugin's own flush, through the other script: the runs
		// take turns on one goroutine, so the swap is seen by this
		// flush alone.
		saved := quote.Script
		quote.Script = r.script
		defer func() { quote.Script = saved }()
	}
	_, err := batch.Write(context.Background(), r.c)
	return err
}

// check reads what landed: every coin, and the last update's price.
func (r *quoteRun) check() error {
	doc, err := redis.String(r.c.Do("GET", r.opts.Key))
	if err != nil {
		return err
	}
	if got := strings.Count(doc, `{"id":`); got != len(r.ids) {
		return fmt.Errorf("the document holds %d coins, want %d", got, len(r.ids))
	}
	if last := `"price":"` + r.last + `"`; !strings.Contains(doc, last) {
		return fmt.Errorf("the last update (%s) is not in the document", last)
	}
	return nil
}

func (r *quoteRun) close() { r.c.Close() }

var cmdstat = regexp.MustCompile(`(?m)^cmdstat_(evalsha|eval):calls=(\d+),usec=(\d+)`)

// scriptUsec sums the calls and microseconds of EVALSHA and EVAL since
// the last CONFIG RESETSTAT. The commands a script runs are counted in
// the script's time (and again in their own rows, which are not added).
func scriptUsec(c redis.Conn) (float64, int64, error) {
	info, err := redis.String(c.Do("INFO", "commandstats"))
	if err != nil {
		return 0, 0, err
	}
	var usec float64
	var calls int64
	for _, m := range cmdstat.FindAllStringSubmatch(info, -1) {
		n, err := strconv.ParseInt(m[2], 10, 64)
		if err != nil {
			return 0, 0, err
		}
		u, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			return 0, 0, err
		}
		calls += n
		usec += u
	}
	return usec, calls, nil
}

// printQuoteScale prints the quote update rows: Redis time per update.
func printQuoteScale(rows []row) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "case\tRedis ms per update\tnote\t")
	found := false
	for _, r := range rows {
		if r.RedisMsPerUpdate == nil {
			continue
		}
		found = true
		fmt.Fprintf(w, "%s\t%.3f\t%s\t\n", r.Name, *r.RedisMsPerUpdate, r.Note)
	}
	if found {
		fmt.Println()
		w.Flush()
	}
}
