package main

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

const recordDir = "../../testdata/coingecko"

func TestLoadRecordedInNameOrder(t *testing.T) {
	r, err := loadRecorded(recordDir, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.quotes) != 5 {
		t.Fatalf("loaded %d responses, want the 5 files", len(r.quotes))
	}
	first := r.Next()
	if first["bitcoin"]["usd"] != 97234.12 || first["ethereum"]["usd"] != 3391.45 {
		t.Errorf("001.json not served first: %v", first)
	}
	for _, id := range []string{"bitcoin", "ethereum", "ripple", "cardano", "binancecoin", "solana", "dogecoin", "chainlink", "near", "decentraland"} {
		for _, cur := range []string{"usd", "eur"} {
			if !(first[id][cur] > 0) {
				t.Errorf("001.json has no %s %s price", id, cur)
			}
		}
	}
}

func TestRecordedStickOrCycle(t *testing.T) {
	quotes := []Quote{{"a": {"usd": 1}}, {"a": {"usd": 2}}, {"a": {"usd": 3}}}
	run := func(cycle bool) []float64 {
		r := &recorded{quotes: quotes, cycle: cycle}
		var got []float64
		for range 7 {
			got = append(got, r.Next()["a"]["usd"])
		}
		return got
	}
	if got, want := run(false), []float64{1, 2, 3, 3, 3, 3, 3}; !reflect.DeepEqual(got, want) {
		t.Errorf("stick: %v, want %v", got, want)
	}
	if got, want := run(true), []float64{1, 2, 3, 1, 2, 3, 1}; !reflect.DeepEqual(got, want) {
		t.Errorf("cycle: %v, want %v", got, want)
	}
}

func TestLoadRecordedErrors(t *testing.T) {
	empty := t.TempDir()
	if _, err := loadRecorded(empty, false); err == nil {
		t.Error("empty directory accepted")
	}
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, "001.json"), []byte(`{"bitcoin":{"usd":"97234.12"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadRecorded(bad, false); err == nil {
		t.Error("string price accepted")
	}
}

func TestParseIDs(t *testing.T) {
	got, err := parseIDs(" bitcoin, newcoin=1.5 ,,")
	want := []coinStart{{"bitcoin", 97234.12}, {"newcoin", 1.5}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("parseIDs = %v, %v; want %v", got, err, want)
	}
	for _, bad := range []string{"", "nosuchcoin", "bitcoin=abc", "bitcoin=-1", "bitcoin=0", "bitcoin,bitcoin"} {
		if _, err := parseIDs(bad); err == nil {
			t.Errorf("parseIDs(%q) accepted", bad)
		}
	}
}

func walkPath(t *testing.T, seed int64, ids string, steps int) []Quote {
	t.Helper()
	coins, err := parseIDs(ids)
	if err != nil {
		t.Fatal(err)
	}
	w := newWalk(seed, coins, 0.002)
	out := make([]Quote, 0, steps)
	for range steps {
		out = append(out, w.Next())
	}
	return out
}

func TestWalkStartsAtStartPrices(t *testing.T) {
	q := walkPath(t, 1, articleIDs+",baby-doge-coin", 1)[0]
	for id, p := range q {
		if p["usd"] != startPrices[id] || len(p) != 1 {
			t.Errorf("step 1 %s = %v, want usd %v only", id, p, startPrices[id])
		}
	}
}

func TestWalkIsDeterministic(t *testing.T) {
	a := walkPath(t, 42, articleIDs, 100)
	b := walkPath(t, 42, articleIDs, 100)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed, different paths")
	}
	c := walkPath(t, 43, articleIDs, 100)
	if reflect.DeepEqual(a[1], c[1]) {
		t.Error("different seeds, same step 2")
	}
	// A coin's path does not depend on the other coins walked.
	alone := walkPath(t, 42, "ethereum", 100)
	for i := range a {
		if alone[i]["ethereum"]["usd"] != a[i]["ethereum"]["usd"] {
			t.Fatalf("step %d: ethereum alone %v, with others %v", i+1, alone[i]["ethereum"]["usd"], a[i]["ethereum"]["usd"])
		}
	}
}

func TestWalkStepsAreSmallAndMoving(t *testing.T) {
	path := walkPath(t, 5, articleIDs, 500)
	for i := 1; i < len(path); i++ {
		for id, p := range path[i] {
			ratio := p["usd"] / path[i-1][id]["usd"]
			if ratio == 1 || math.Abs(math.Log(ratio)) > 10*0.002 {
				t.Fatalf("step %d %s moved by factor %v", i+1, id, ratio)
			}
		}
	}
}
