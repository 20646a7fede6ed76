package main

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Source yields the prices of successive responses; every Next is one step.
type Source interface {
	Next() Quote
}

// recorded serves recorded CoinGecko responses in file-name order.
type recorded struct {
	quotes []Quote
	cycle  bool // after the last, start again at the first (else keep the last)
	next   int
}

// loadRecorded reads every *.json file in dir as one simple/price response.
func loadRecorded(dir string, cycle bool) (*recorded, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no *.json files in %s", dir)
	}
	slices.Sort(names)
	r := &recorded{cycle: cycle}
	for _, name := range names {
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		var q Quote
		if err := json.Unmarshal(data, &q); err != nil {
			return nil, fmt.Errorf("%s: not a simple/price response: %w", name, err)
		}
		r.quotes = append(r.quotes, q)
	}
	return r, nil
}

func (r *recorded) Next() Quote {
	q := r.quotes[r.next]
	switch {
	case r.next+1 < len(r.quotes):
		r.next++
	case r.cycle:
		r.next = 0
	}
	return q
}

// startPrices are realistic USD prices (late 2025) for the article's coins and
// a few small-priced ones that exercise exponent notation.
var startPrices = map[string]float64{
	"bitcoin":        97234.12,
	"ethereum":       3391.45,
	"ripple":         2.2134,
	"cardano":        0.6812,
	"binancecoin":    612.31,
	"solana":         189.73,
	"dogecoin":       0.3187,
	"chainlink":      19.84,
	"near":           5.12,
	"decentraland":   0.4521,
	"shiba-inu":      0.00002134,
	"pepe":           0.00001023,
	"baby-doge-coin": 0.000000001523,
}

// articleIDs are the coins the article's scraper asks for.
const articleIDs = "bitcoin,ethereum,ripple,cardano,binancecoin,solana,dogecoin,chainlink,near,decentraland"

// coinStart is one coin of the walk and its step-1 price.
type coinStart struct {
	id    string
	price float64
}

// parseIDs reads "-ids": "id" (start from startPrices) or "id=price".
func parseIDs(s string) ([]coinStart, error) {
	items := strings.Split(s, ",")
	coins := make([]coinStart, 0, len(items))
	seen := make(map[string]bool, len(items))
	for _, item := range items {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		id, priceText, hasPrice := strings.Cut(item, "=")
		price, known := startPrices[id]
		if hasPrice {
			p, err := strconv.ParseFloat(priceText, 64)
			if err != nil || !(p > 0) || math.IsInf(p, 0) {
				return nil, fmt.Errorf("bad start price in %q", item)
			}
			price, known = p, true
		}
		if !known {
			return nil, fmt.Errorf("no start price for %q: write %s=PRICE", id, id)
		}
		if seen[id] {
			return nil, fmt.Errorf("coin %q listed twice", id)
		}
		seen[id] = true
		coins = append(coins, coinStart{id, price})
	}
	if len(coins) == 0 {
		return nil, fmt.Errorf("no coins in %q", s)
	}
	return coins, nil
}

// walk is a seeded multiplicative random walk in USD.
type walk struct {
	coins      []*walkCoin
	volatility float64 // standard deviation of the log price per step
	started    bool
}

type walkCoin struct {
	id    string
	price float64
	rng   *rand.Rand
}

// newWalk seeds every coin from (seed, id) so one coin's path does not depend
// on which other coins are walked.
func newWalk(seed int64, coins []coinStart, volatility float64) *walk {
	w := &walk{volatility: volatility}
	for _, c := range coins {
		h := fnv.New64a()
		h.Write([]byte(c.id))
		rng := rand.New(rand.NewPCG(uint64(seed), h.Sum64())) //nolint:gosec // a walk that -seed repeats, not a secret
		w.coins = append(w.coins, &walkCoin{id: c.id, price: c.price, rng: rng})
	}
	return w
}

// Next serves the start prices first, then moves every coin one step.
func (w *walk) Next() Quote {
	if w.started {
		for _, c := range w.coins {
			c.price *= math.Exp(w.volatility * c.rng.NormFloat64())
		}
	}
	w.started = true
	q := make(Quote, len(w.coins))
	for _, c := range w.coins {
		q[c.id] = map[string]float64{"usd": c.price}
	}
	return q
}
