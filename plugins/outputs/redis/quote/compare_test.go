package quote

import (
	"math/big"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// TestCompareDecimal holds the text comparison of tied prices to exact
// decimal arithmetic (math/big), and to the order of their floats, which
// the rest of the batch and the script keep.
func TestCompareDecimal(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
		ok   bool
	}{
		{"1", "1", 0, true},
		{"1.0", "1", 0, true},
		{"01", "1", 0, true},
		{"0.45", "0.5", -1, true},
		{"0.45", "0.4", 1, true},
		{"10", "9.99", 1, true},
		{"0.000012345678901234", "0.00001234567890123", 1, true},
		{"97234.12", "97234.120", 0, true},
		{"0", "0.0", 0, true},
		{"1e-05", "0.00001", 0, true},
		{"1.2345e-06", "0.0000012345", 0, true},
		{"1.2345e-06", "1.2346e-06", -1, true},
		{"9.9e-06", "1e-05", -1, true},
		{"1E+2", "100.0", 0, true},
		{"0e5", "0", 0, true},
		{"0.0", "1e-300", -1, true},
		{"120", "1.2e2", 0, true},
		// Not read: parsed instead.
		{"1e12345", "1", 0, false},
		{"1e", "1", 0, false},
		{"-1", "1", 0, false},
		{"1.", "1", 0, false},
		{".5", "0.5", 0, false},
		{"", "1", 0, false},
		{"1.2.3", "1", 0, false},
		{"1.2.3", "1.2.4", 0, false},
		{"12.5", "1.25", 1, true},
		{"97234.12", "97235.01", -1, true},
		{"+1", "1", 0, false},
		// Plain decimals, compared without reading them.
		{"1.50", "1.5", 0, true},
		{"1.5", "1.05", 1, true},
		{"0.5", "0.50001", -1, true},
		{"0.50001", "0.5", 1, true},
		{"10.0", "9.9", 1, true},
		{"5", "5.000", 0, true},
		{"5", "5.001", -1, true},
		{"00.5", "0.5", 0, true},
	} {
		got, ok := compareDecimal([]byte(c.a), []byte(c.b))
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("compareDecimal(%q, %q) = %d, %v; want %d, %v", c.a, c.b, got, ok, c.want, c.ok)
		}
	}

	rng := rand.New(rand.NewPCG(1, 2))
	digits := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteByte(byte('0' + rng.IntN(10)))
		}
		return b.String()
	}
	plain := func() string {
		s := digits(1 + rng.IntN(6))
		if rng.IntN(2) == 0 {
			s += "." + digits(1+rng.IntN(20))
		}
		if rng.IntN(3) == 0 {
			s += "e" + []string{"", "+", "-"}[rng.IntN(3)] + strconv.Itoa(rng.IntN(40))
		}
		return s
	}
	for range 20000 {
		a, b := plain(), plain()
		if strings.ContainsAny(a, "e") && rng.IntN(4) == 0 {
			b = a
		} else if !strings.ContainsAny(a, "e") && rng.IntN(4) == 0 { // ties and near ties
			b = a + strings.Repeat("0", rng.IntN(3))
			if !strings.Contains(a, ".") && b != a {
				b = a + "." + strings.Repeat("0", rng.IntN(3)+1)
			}
		}
		got, ok := compareDecimal([]byte(a), []byte(b))
		ra, oka := new(big.Rat).SetString(a)
		rb, okb := new(big.Rat).SetString(b)
		if !oka || !okb {
			t.Fatalf("bad case %q, %q", a, b)
		}
		if !ok || got != ra.Cmp(rb) {
			t.Fatalf("compareDecimal(%q, %q) = %d, %v; exact order %d", a, b, got, ok, ra.Cmp(rb))
		}
		fa, err := strconv.ParseFloat(a, 64)
		if err != nil {
			t.Fatal(err)
		}
		fb, err := strconv.ParseFloat(b, 64)
		if err != nil {
			t.Fatal(err)
		}
		if (got > 0 && fa < fb) || (got < 0 && fa > fb) {
			t.Fatalf("%q and %q: text order %d against their floats %v, %v", a, b, got, fa, fb)
		}
	}
}
