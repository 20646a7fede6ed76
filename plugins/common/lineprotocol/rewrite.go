package lineprotocol

import (
	"bytes"
	"errors"
	"time"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
)

// Rewriter passes line protocol payloads through the decoder (package
// metricline) and the Encoder, without a telegraf.Metric: the metrics
// Telegraf's influx parser would give, written as Telegraf's serializer
// would write them. It is not safe for concurrent use.
type Rewriter struct {
	dec *Influx
	enc Encoder
	n   int
	err error
	buf []byte
	// nanos: timestamps are in nanoseconds, as we write them, so a payload
	// in canonical form but for the order of fields is copied (see
	// copyCanonical).
	nanos  bool
	fields []fieldSpan
}

// NewRewriter reads payloads whose timestamps are in units of precision
// (0: nanoseconds), as Telegraf's influx_timestamp_precision.
func NewRewriter(precision time.Duration) (*Rewriter, error) {
	d, err := NewInflux(precision)
	if err != nil {
		return nil, err
	}
	d.LazyNumbers = true // the encoder copies floats already in their shortest form
	return &Rewriter{dec: d, nanos: precision <= time.Nanosecond}, nil
}

// SetTrims has the tags cut of trailing backslashes named to t (see
// Encoder.Trims).
func (r *Rewriter) SetTrims(t *Trims) { r.enc.Trims = t }

// Rewrite appends the metrics of payload to buf, one line each; lines
// without a timestamp take def. A payload with a bad line or without a
// metric is an error, and buf is returned as it was.
func (r *Rewriter) Rewrite(buf, payload []byte, def time.Time) ([]byte, error) {
	if r.nanos {
		if out, ok := r.copyCanonical(buf, payload); ok {
			return out, nil
		}
	}
	r.n, r.err, r.buf = 0, nil, buf
	start := len(buf)
	err := r.dec.DecodeAt(payload, def, r.add)
	buf, r.buf = r.buf, nil
	switch {
	case err != nil:
		return buf[:start], err
	case r.err != nil:
		return buf[:start], r.err
	case r.n == 0:
		return buf[:start], errors.New("no metric in the data")
	}
	return buf, nil
}

func (r *Rewriter) add(m *metricline.Metric) {
	if r.err != nil {
		return
	}
	var err error
	if r.buf, err = r.enc.AppendMetric(r.buf, m); err != nil {
		r.err = err
		return
	}
	r.buf = append(r.buf, '\n')
	r.n++
}

// copyCanonical appends the line protocol of payload as our encoder (and
// Telegraf's serializer) would write what Telegraf's parser reads from it,
// without decoding it, when payload is in that form already but for the
// order of its fields: the common case of a payload that Telegraf wrote
// (its influx serializer keeps fields in the order it got them unless
// influx_sort_fields is set). The lines are copied, their fields sorted by
// key. Only a strict subset of line protocol is recognised; for anything
// else ok is false, buf is returned as it was, and the decoder does the
// work: one or more lines (a newline after the last one or not); names,
// keys and tag values of letters, digits and "_-.:/" only (nothing to
// escape or unescape); tags in strictly ascending key order, no field key
// twice; field values that read back as they are written (floats in
// their shortest form, see ShortestDecimal, integers without
// superfluous digits, "true"/"false", strings of printable ASCII without
// `"` or `\`); a timestamp in nanoseconds, within int64, without a sign or
// a leading zero. FuzzRewriteVsTelegraf holds the result to what
// Telegraf's parser and serializer write.
func (r *Rewriter) copyCanonical(buf, payload []byte) ([]byte, bool) {
	start := len(buf)
	if len(payload) == 0 {
		return buf, false
	}
	for len(payload) > 0 {
		line := payload
		if i := bytes.IndexByte(payload, '\n'); i >= 0 {
			line, payload = payload[:i], payload[i+1:]
		} else {
			payload = nil
		}
		var ok bool
		if buf, ok = r.copyLine(buf, line); !ok {
			return buf[:start], false
		}
	}
	return buf, true
}

// fieldSpan is one field of a line: "key=value" at line[from:to], the key
// ending at eq.
type fieldSpan struct{ from, eq, to int }

func (f fieldSpan) key(line []byte) []byte { return line[f.from:f.eq] }

// copyLine appends line and a newline, its fields sorted, if it is in the
// form copyCanonical copies.
func (r *Rewriter) copyLine(buf, line []byte) ([]byte, bool) {
	i := token(line, 0)
	if i == 0 {
		return buf, false
	}
	var prev []byte // the last tag key
	for i < len(line) && line[i] == ',' {
		k := i + 1
		if i = token(line, k); i == k || i == len(line) || line[i] != '=' || (prev != nil && bytes.Compare(prev, line[k:i]) >= 0) {
			return buf, false
		}
		prev = line[k:i]
		v := i + 1
		if i = token(line, v); i == v {
			return buf, false
		}
	}
	if i == len(line) || line[i] != ' ' {
		return buf, false
	}
	head := i + 1 // the fields start here
	fields, sorted := r.fields[:0], true
	for {
		k := i + 1
		if i = token(line, k); i == k || i == len(line) || line[i] != '=' {
			return buf, false
		}
		f := fieldSpan{from: k, eq: i}
		if f.to = canonicalValue(line, i+1); f.to < 0 || f.to == len(line) {
			return buf, false // not canonical, or no timestamp (the entry's time)
		}
		if n := len(fields); n > 0 && bytes.Compare(fields[n-1].key(line), f.key(line)) >= 0 {
			sorted = false
		}
		fields = append(fields, f)
		if i = f.to; line[i] == ' ' {
			break
		}
		if line[i] != ',' {
			return buf, false
		}
	}
	r.fields = fields
	ts := line[i+1:]
	if !isDigits(ts, 19) || (len(ts) == 19 && string(ts) > "9223372036854775807") {
		return buf, false
	}
	if sorted {
		return append(append(buf, line...), '\n'), true
	}
	sortFields(fields, line)
	for j := 1; j < len(fields); j++ {
		if bytes.Equal(fields[j-1].key(line), fields[j].key(line)) {
			return buf, false // the last value would win: leave that to the decoder
		}
	}
	buf = append(buf, line[:head]...)
	for j, f := range fields {
		if j > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, line[f.from:f.to]...)
	}
	buf = append(buf, line[i:]...)
	return append(buf, '\n'), true
}

// sortFields sorts fields by key: an insertion sort, as a line has tens of
// fields at most and no allocation is wanted.
func sortFields(fields []fieldSpan, line []byte) {
	for j := 1; j < len(fields); j++ {
		f := fields[j]
		k := j
		for k > 0 && bytes.Compare(fields[k-1].key(line), f.key(line)) > 0 {
			fields[k] = fields[k-1]
			k--
		}
		fields[k] = f
	}
}

// copyable marks the bytes a name, key or tag value may hold in copyLine.
var copyable = func() (set [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		set[c], set[c-'a'+'A'] = true, true
	}
	for c := '0'; c <= '9'; c++ {
		set[c] = true
	}
	for _, c := range "_-.:/" {
		set[c] = true
	}
	return set
}()

// token returns the end of the run of plain bytes at line[i:].
func token(line []byte, i int) int {
	for i < len(line) && copyable[line[i]] {
		i++
	}
	return i
}

// canonicalValue returns the end of a field value at line[v:] that reads
// back as it is written, or -1.
func canonicalValue(line []byte, v int) int {
	if v < len(line) && line[v] == '"' {
		for i := v + 1; i < len(line); i++ {
			switch c := line[i]; {
			case c == '"':
				return i + 1
			case c < 0x20 || c > 0x7e || c == '\\':
				return -1
			}
		}
		return -1
	}
	i := v
	for i < len(line) && line[i] != ',' && line[i] != ' ' {
		i++
	}
	text := line[v:i]
	switch {
	case i == v:
		return -1
	case string(text) == "true" || string(text) == "false":
	case text[len(text)-1] == 'i':
		if text[0] == '-' && (len(text) < 3 || text[1] == '0') {
			return -1 // "-0i" is written "0i"
		}
		if !isDigits(bytes.TrimPrefix(text[:len(text)-1], []byte("-")), 18) {
			return -1
		}
	case text[len(text)-1] == 'u':
		if !isDigits(text[:len(text)-1], 19) {
			return -1
		}
	default:
		if _, _, ok := ShortestDecimal(text); !ok {
			return -1
		}
	}
	return i
}

// isDigits reports whether b is a number of at most maxDigits digits
// without a leading zero (or "0").
func isDigits(b []byte, maxDigits int) bool {
	if len(b) == 0 || len(b) > maxDigits || (b[0] == '0' && len(b) > 1) {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// ShortestDecimal reports whether text, a number as JSON or line protocol
// writes it, is already what strconv.FormatFloat(v, 'f', -1, 64) gives for
// the float64 v it reads as, so a serializer may copy it instead of parsing
// and formatting: no exponent, no superfluous zeros ("0", "-0", "97.5",
// "1200", not "0.50", "01", "1e3"), at most 15 significant digits (any
// two decimals of 15 digits read as different float64s, so no other,
// shorter text reads as v) and far from the subnormal range. intDigits is
// the number of digits before the point; fracZeros the zeros right after
// it when the integer part is 0 (for serializers that switch to an
// exponent for small and large numbers).
func ShortestDecimal(text []byte) (intDigits, fracZeros int, ok bool) {
	i := 0
	if i < len(text) && text[i] == '-' {
		i++
	}
	start := i
	for i < len(text) && text[i] >= '0' && text[i] <= '9' {
		i++
	}
	intDigits = i - start
	if intDigits == 0 || (intDigits > 1 && text[start] == '0') || intDigits > 300 {
		return 0, 0, false
	}
	// Significant digits: from the first non-zero digit to the last one.
	first, last := -1, -1
	for j := start; j < i; j++ {
		if text[j] != '0' {
			if first < 0 {
				first = j
			}
			last = j
		}
	}
	if i < len(text) {
		if text[i] != '.' || i+1 == len(text) || text[len(text)-1] == '0' {
			return 0, 0, false
		}
		i++
		for j := i; j < len(text); j++ {
			c := text[j]
			if c < '0' || c > '9' {
				return 0, 0, false
			}
			if c != '0' {
				if first < 0 {
					first = j
					if intDigits == 1 && text[start] == '0' {
						fracZeros = j - i
					}
				}
				last = j
			}
		}
	}
	if first < 0 {
		return intDigits, 0, true // zero
	}
	sig := last - first + 1
	if first < i && last >= i { // the point lies between them
		sig--
	}
	if sig > 15 || fracZeros > 290 {
		return 0, 0, false
	}
	return intDigits, fracZeros, true
}
