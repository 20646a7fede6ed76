package quote

import (
	"fmt"
	"strings"
	"sync/atomic"
)

// Stats count what quote mode did not write, and why: every metric read
// is written, superseded, refused or without a price.
type Stats struct {
	Superseded atomic.Int64             // metrics whose prices were all replaced by newer ones before a write
	Refused    atomic.Int64             // metrics whose prices were all refused
	NoPrice    atomic.Int64             // metrics with no field named like a price
	Prices     [NumReasons]atomic.Int64 // prices refused, by Reason
	AgedOut    atomic.Int64             // coins dropped by age_out
	Repaired   atomic.Int64             // stored entries repaired or dropped
}

// count adds what one write did.
func (s *Stats) count(o *Outcome) {
	s.Superseded.Add(int64(o.Superseded))
	s.Refused.Add(int64(o.Refused))
	s.NoPrice.Add(int64(o.NoPrice))
	for r := range o.Refusals {
		s.Prices[r].Add(int64(o.Refusals[r].Count))
	}
	s.AgedOut.Add(int64(o.Aged.Count))
	s.Repaired.Add(int64(o.Repaired))
}

// Summary says what quote mode did not write, and why, for the exit line.
func (s *Stats) Summary() string {
	refused := make([]string, 0, len(s.Prices))
	total := int64(0)
	for r := range s.Prices {
		n := s.Prices[r].Load()
		total += n
		refused = append(refused, fmt.Sprintf("%d %s", n, Reason(r)))
	}
	return fmt.Sprintf("; quote: %d metrics superseded by newer prices before a write, %d refused, %d without a price; "+
		"refused %d prices (%s); %d coins aged out; %d stored entries repaired",
		s.Superseded.Load(), s.Refused.Load(), s.NoPrice.Load(), total, strings.Join(refused, ", "),
		s.AgedOut.Load(), s.Repaired.Load())
}
