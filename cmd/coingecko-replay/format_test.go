package main

import (
	"encoding/json"
	"math"
	"testing"
)

func TestParsePrecision(t *testing.T) {
	good := map[string]int{"": fullPrecision, "full": fullPrecision, "0": 0, "2": 2, "18": 18}
	for in, want := range good {
		got, err := parsePrecision(in)
		if err != nil || got != want {
			t.Errorf("parsePrecision(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"19", "-1", "abc", "2.5", "FULL"} {
		if _, err := parsePrecision(in); err == nil {
			t.Errorf("parsePrecision(%q) accepted", in)
		}
	}
}

func TestRoundPrice(t *testing.T) {
	cases := []struct {
		v    float64
		p    int
		want float64
	}{
		{97234.1234567, 2, 97234.12},
		{97234.51, 0, 97235},
		{0.000012345678901234, 18, 0.000012345678901234},
		{0.000012345678901234, 8, 0.00001235},
		{0.000012345678901234, 2, 0},
		{1.2345678e-08, 18, 1.2345678e-08},
		{1.2345678e-08, 10, 1.23e-08},
		{3391.45, fullPrecision, 3391.45},
	}
	for _, c := range cases {
		if got := roundPrice(c.v, c.p); got != c.want {
			t.Errorf("roundPrice(%v, %d) = %v, want %v", c.v, c.p, got, c.want)
		}
	}
}

func TestFormatNumber(t *testing.T) {
	cases := []struct {
		v    float64
		want string
	}{
		{97234.12, "97234.12"},
		{0, "0"},
		{0.3187, "0.3187"},
		{0.000012345678901234, "0.000012345678901234"},
		{0.000001, "0.000001"},
		{1.2e-08, "1.2e-08"},
		{1.523417e-09, "1.523417e-09"},
		{1e21, "1e+21"},
		{-0.5, "-0.5"},
	}
	for _, c := range cases {
		if got := formatNumber(c.v, 1e-6); got != c.want {
			t.Errorf("formatNumber(%v) = %q, want %q", c.v, got, c.want)
		}
	}
	if got := formatNumber(0.000012345, 1e-4); got != "1.2345e-05" {
		t.Errorf("formatNumber with -exp-below 1e-4 = %q, want 1.2345e-05", got)
	}
}

func TestEncodeQuoteShape(t *testing.T) {
	q := Quote{
		"bitcoin":  {"usd": 97234.12, "eur": 83951.94},
		"ethereum": {"usd": 3391.45},
	}
	got := string(encodeQuote(q, []string{"ethereum", "nosuchcoin", "bitcoin"}, []string{"usd", "eur"}, fullPrecision, 1e-6))
	want := `{"ethereum":{"usd":3391.45},"bitcoin":{"usd":97234.12,"eur":83951.94}}`
	if got != want {
		t.Errorf("encodeQuote = %s\nwant %s", got, want)
	}
	if got := string(encodeQuote(q, []string{"nosuchcoin"}, []string{"usd"}, fullPrecision, 1e-6)); got != "{}" {
		t.Errorf("unknown ids only = %s, want {}", got)
	}
}

// Every served number must read back as exactly the (rounded) price.
func TestEncodeQuoteRoundTrips(t *testing.T) {
	coins, err := parseIDs("bitcoin,dogecoin,shiba-inu,baby-doge-coin,tiny=3.3e-12")
	if err != nil {
		t.Fatal(err)
	}
	w := newWalk(7, coins, 0.05)
	ids := []string{"bitcoin", "dogecoin", "shiba-inu", "baby-doge-coin", "tiny"}
	for step := 0; step < 200; step++ {
		q := w.Next()
		for _, p := range []int{fullPrecision, 18, 8, 2} {
			var back map[string]map[string]float64
			body := encodeQuote(q, ids, []string{"usd"}, p, 1e-6)
			if err := json.Unmarshal(body, &back); err != nil {
				t.Fatalf("step %d precision %d: invalid JSON %s: %v", step, p, body, err)
			}
			for _, id := range ids {
				want := roundPrice(q[id]["usd"], p)
				if got := back[id]["usd"]; got != want || math.IsNaN(got) {
					t.Fatalf("step %d precision %d %s: read back %v, want %v (%s)", step, p, id, got, want, body)
				}
			}
		}
	}
}
