package lineprotocol

import (
	"math/rand/v2"
	"strconv"
	"testing"
)

func TestShortestDecimal(t *testing.T) {
	for _, s := range []string{"0", "-0", "97.5", "0.125", "1200", "-3.25", "0.000001", "123456789012345", "1.23456789012345",
		"0.00000000000000000000000001", "100000000000000000000000000000"} {
		if _, _, ok := ShortestDecimal([]byte(s)); !ok {
			t.Errorf("%q: not shortest", s)
		}
		checkShortest(t, s)
	}
	for _, s := range []string{"", "-", "00", "01", "0.50", "1.", ".5", "1e3", "1E3", "+1", "1234567890123456", "0.1234567890123456",
		"12345678901234.56", "NaN", "Inf", "0x10", "1_0", "0.0", "-0.0", "1.2.3"} {
		if _, _, ok := ShortestDecimal([]byte(s)); ok {
			t.Errorf("%q: taken for shortest", s)
		}
	}
}

// checkShortest: whatever ShortestDecimal takes formats back to itself.
func checkShortest(t *testing.T, s string) {
	t.Helper()
	if _, _, ok := ShortestDecimal([]byte(s)); !ok {
		return
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	if got := strconv.FormatFloat(v, 'f', -1, 64); got != s {
		t.Fatalf("%q taken as shortest, formats as %q", s, got)
	}
}

// Hostile: random decimals of every length and magnitude.
func TestShortestDecimalRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200000; i++ {
		digits := []byte(strconv.FormatUint(rng.Uint64()>>rng.IntN(64), 10))
		s := string(digits)
		switch rng.IntN(4) {
		case 0:
			p := rng.IntN(len(digits) + 1)
			s = s[:p] + "." + s[p:]
			if p == 0 {
				s = "0" + s
			}
		case 1:
			s = "0." + string(make([]byte, 0)) + zeros(rng.IntN(30)) + s
		}
		if rng.IntN(2) == 0 {
			s = "-" + s
		}
		checkShortest(t, s)
	}
}

func zeros(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = '0'
	}
	return string(b)
}

func FuzzShortestDecimal(f *testing.F) {
	f.Add("97.5")
	f.Add("0.000000000000000000001")
	f.Fuzz(func(t *testing.T, s string) { checkShortest(t, s) })
}
