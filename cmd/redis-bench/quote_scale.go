package main

import (
	"context"
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

// quoteScale measures what one flush of quote mode costs Redis as the
// document grows: a one-coin update into a document of 10 (the article),
// 1,000, 10,000 and 100,000 coins. The cost is Redis's own time, from INFO
// commandstats: every command a flush sends (EVALSHA, or EVAL once), the
// commands the script runs included in it. The flushes are the plugin's
// own (quote.Batch.Write), one coin each, on one connection.
//
// With the repository at hand (plugins/outputs/redis/quote/testdata) the
// same updates also go through the previous script, which rebuilt the
// whole document at every merge: the "before" rows.
func (b *bench) quoteScale() error {
	v1 := b.v1Script()
	for _, n := range []int{10, 1000, 10000, 100000} {
		name := fmt.Sprintf("quote update: 1 coin into %d coins", n)
		if !b.wanted(name) {
			continue
		}
		updates := 200
		if n >= 100000 {
			updates = 50
		}
		build, per, err := b.quoteUpdates(n, updates, nil)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		b.rows = append(b.rows, row{Name: name, RedisMsPerUpdate: num(per), Note: fmt.Sprintf("first write of the %d coins: %.1f ms", n, build)})
		if v1 == nil {
			continue
		}
		before := updates
		if n >= 100000 {
			before = 3 // about 3 s each
		} else if n >= 10000 {
			before = 20
		}
		build, per, err = b.quoteUpdates(n, before, v1)
		if err != nil {
			return fmt.Errorf("%s, previous script: %w", name, err)
		}
		b.rows = append(b.rows, row{Name: name + " (previous script)", RedisMsPerUpdate: num(per), Note: fmt.Sprintf("first write of the %d coins: %.1f ms", n, build)})
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

// quoteUpdates writes n coins, then `updates` one-coin updates, each a
// newer price of a coin spread over the document; it returns the Redis
// time of the first write and per update, in ms. With v1 the previous
// script is called with the arguments it took.
func (b *bench) quoteUpdates(n, updates int, v1 *redis.Script) (float64, float64, error) {
	if err := b.srv.flush(); err != nil {
		return 0, 0, err
	}
	c, err := b.srv.conn()
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	ids := make([]string, n)
	for i := range ids {
		if n == len(coins) {
			ids[i] = coins[i]
		} else {
			ids[i] = fmt.Sprintf("coin-%06d", i)
		}
	}
	opts := &quote.Options{Key: "coingecko:rate:usd", StateKey: quote.StateKeyFor("coingecko:rate:usd"), Quote: "usd", TimestampUnits: time.Second}
	t0 := int64(1795552004)
	flush := func(ts int64, ids []string, value func(i int) float64) error {
		if v1 != nil {
			args := []interface{}{opts.Key, opts.StateKey, `"usd"`, 0, "", 9}
			for i, id := range ids {
				p := quote.FormatPrice(nil, value(i))
				args = append(args, id, fmt.Sprintf(`%020d %d {"id":"%s","price":"%s"}`, ts*1e9, ts, id, p))
			}
			_, err := v1.Do(c, args...)
			return err
		}
		batch := quote.NewBatch(opts)
		m := &metricline.Metric{Time: ts * 1e9}
		for i, id := range ids {
			m.Fields = append(m.Fields, metricline.Field{Key: []byte(id + "_usd"), Kind: metricline.Float, Float: value(i)})
		}
		if err := batch.Add(m); err != nil {
			return err
		}
		_, err := batch.Write(context.Background(), c)
		return err
	}

	if _, err := c.Do("CONFIG", "RESETSTAT"); err != nil {
		return 0, 0, err
	}
	if err := flush(t0, ids, func(i int) float64 { return 1 + float64(i)/7 }); err != nil {
		return 0, 0, err
	}
	build, _, err := scriptUsec(c)
	if err != nil {
		return 0, 0, err
	}
	if _, err := c.Do("CONFIG", "RESETSTAT"); err != nil {
		return 0, 0, err
	}
	for u := 0; u < updates; u++ {
		id := ids[(u*7919)%n]
		if err := flush(t0+1+int64(u), []string{id}, func(int) float64 { return 100 + float64(u)/3 }); err != nil {
			return 0, 0, err
		}
	}
	usec, calls, err := scriptUsec(c)
	if err != nil {
		return 0, 0, err
	}
	if calls != int64(updates) {
		return 0, 0, fmt.Errorf("%d script calls for %d updates", calls, updates)
	}
	// What landed: every coin, the last update's price.
	doc, err := redis.String(c.Do("GET", opts.Key))
	if err != nil {
		return 0, 0, err
	}
	if got := strings.Count(doc, `{"id":`); got != n {
		return 0, 0, fmt.Errorf("the document holds %d coins, want %d", got, n)
	}
	if last := fmt.Sprintf(`"price":"%s"`, quote.FormatPrice(nil, 100+float64(updates-1)/3)); !strings.Contains(doc, last) {
		return 0, 0, fmt.Errorf("the last update (%s) is not in the document", last)
	}
	return build / 1000, usec / 1000 / float64(updates), nil
}

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
		n, _ := strconv.ParseInt(m[2], 10, 64)
		u, _ := strconv.ParseFloat(m[3], 64)
		calls += n
		usec += u
	}
	return usec, calls, nil
}

// printQuoteScale prints the quote update rows: Redis time per update.
func printQuoteScale(rows []row) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "case\tRedis ms per update\tnote\t")
	any := false
	for _, r := range rows {
		if r.RedisMsPerUpdate == nil {
			continue
		}
		any = true
		fmt.Fprintf(w, "%s\t%.3f\t%s\t\n", r.Name, *r.RedisMsPerUpdate, r.Note)
	}
	if any {
		fmt.Println()
		w.Flush()
	}
}
