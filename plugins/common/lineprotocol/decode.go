package lineprotocol

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/influxdata/telegraf/plugins/parsers/influx"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
)

// Influx decodes line protocol into metrics exactly as Telegraf's influx
// parser (v1.37.2) reads it, without building a telegraf.Metric and without
// an allocation per line once its buffers have grown.
//
// The grammar is Telegraf's own: its exported line protocol state machine
// (influx.NewMachine, the Ragel scanner behind its parser) finds the
// tokens and reports the byte where a line goes wrong, so what is refused
// and where cannot drift from Telegraf. Everything the parser does with the
// tokens is ours: unescaping, numbers, booleans, timestamps and their
// precision, tags sorted with the last of a repeated key winning, fields in
// order with the last value of a repeated key winning, the time of a line
// without one. A differential fuzz test holds the whole to Telegraf's
// parser.
type Influx struct {
	// LazyNumbers keeps a float field already in float64's shortest form
	// ("97.5", not "97.50" or "1e3") as its text, Kind Decimal, for
	// serializers that copy such text rather than format the number (see
	// ShortestDecimal); it reads as the same float64. Other floats are
	// parsed as usual.
	LazyNumbers bool

	machine interface {
		SetData([]byte)
		Next() error
		Column() int
	}
	h influxHandler
	// machineOnly turns the fast path off: the differential tests read
	// every line both ways.
	machineOnly bool
}

// NewInflux returns a line protocol decoder; precision is the unit of the
// timestamps (zero: nanoseconds, as Telegraf's serializer writes them).
func NewInflux(precision time.Duration) (*Influx, error) {
	d := &Influx{h: influxHandler{precision: time.Nanosecond, now: time.Now}}
	if precision > 0 {
		d.h.precision = precision
	}
	d.machine = influx.NewMachine(&d.h)
	return d, nil
}

// Decode implements Decoder. Metrics are passed to fn as each line of
// data is read; the first bad line ends the decoding with an error that
// names its byte (the column in that line, counted from 1). A line without
// a timestamp takes the time of decoding.
func (d *Influx) Decode(line []byte, fn func(*metricline.Metric)) error {
	d.h.hasDef = false
	return d.decodeLine(line, fn)
}

// DecodeAt is Decode where a line without a timestamp takes def instead
// (truncated to the precision, as Telegraf's parser does with its clock).
func (d *Influx) DecodeAt(line []byte, def time.Time, fn func(*metricline.Metric)) error {
	d.h.hasDef, d.h.def = true, def
	return d.decodeLine(line, fn)
}

func (d *Influx) decodeLine(line []byte, fn func(*metricline.Metric)) error {
	d.h.lazy = d.LazyNumbers
	if !d.machineOnly && d.h.fast(line) {
		d.emit(fn)
		return nil
	}
	d.machine.SetData(line)
	for {
		d.h.begin()
		err := d.machine.Next()
		if errors.Is(err, influx.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("invalid line protocol at byte %d: %w", d.machine.Column(), err)
		}
		m := &d.h.m
		// The machine lets some malformed lines through (found by
		// fuzzing: `0\`) without a measurement, where Telegraf's parser
		// panics or repeats the metric before, or without fields; no such
		// metric exists.
		if !d.h.started {
			return fmt.Errorf("invalid line protocol at byte %d: no measurement", d.machine.Column())
		}
		if len(m.Fields) == 0 {
			return fmt.Errorf("invalid line protocol at byte %d: metric %q has no fields", d.machine.Column(), m.Name)
		}
		d.emit(fn)
	}
}

// emit passes the metric read to fn, timed now (or at the default time)
// when its line had no timestamp.
func (d *Influx) emit(fn func(*metricline.Metric)) {
	m := &d.h.m
	if !d.h.timed {
		now := d.h.def
		if !d.h.hasDef {
			now = d.h.now()
		}
		m.Time = now.Truncate(d.h.precision).UnixNano()
	}
	fn(m)
}

// influxHandler receives the tokens of one line from the machine.
type influxHandler struct {
	precision time.Duration
	now       func() time.Time
	def       time.Time // with hasDef, the time of lines without one
	hasDef    bool
	lazy      bool
	keys      uint64 // a bit per field key hash: most keys need no search

	m       metricline.Metric
	started bool   // a measurement was seen on this line
	timed   bool   // the line has a timestamp
	arena   []byte // unescaped names, keys and strings
}

func (h *influxHandler) begin() {
	h.m.Reset()
	h.keys = 0
	h.started, h.timed = false, false
	h.arena = h.arena[:0]
}

func (h *influxHandler) SetMeasurement(name []byte) error {
	h.begin()
	h.started = true
	h.m.Name = h.unescape(name, &nameUnescapes, nameEscaped)
	return nil
}

func (h *influxHandler) AddTag(key, value []byte) error {
	k := h.unescape(key, &keyUnescapes, keyEscaped)
	v := h.unescape(value, &keyUnescapes, keyEscaped)
	// Sorted by key; a key given again replaces the value (Telegraf's
	// metric.AddTag).
	tags := h.m.Tags
	i := len(tags)
	for i > 0 && bytes.Compare(tags[i-1].Key, k) >= 0 {
		i--
	}
	if i < len(tags) && bytes.Equal(tags[i].Key, k) {
		tags[i].Value = v
		return nil
	}
	tags = append(tags, metricline.Tag{})
	copy(tags[i+1:], tags[i:])
	tags[i] = metricline.Tag{Key: k, Value: v}
	h.m.Tags = tags
	return nil
}

// field returns the field called key (after unescaping), added at the end
// unless the line already has it: a repeated key keeps its place and takes
// the last value (Telegraf's metric.AddField).
func (h *influxHandler) field(key []byte) *metricline.Field {
	k := h.unescape(key, &keyUnescapes, keyEscaped)
	bit := uint64(1) << ((uint(len(k)) + uint(k[0])*7 + uint(k[len(k)-1])*13) & 63)
	if h.keys&bit != 0 {
		for i := range h.m.Fields {
			if bytes.Equal(h.m.Fields[i].Key, k) {
				h.m.Fields[i] = metricline.Field{Key: h.m.Fields[i].Key}
				return &h.m.Fields[i]
			}
		}
	}
	h.keys |= bit
	h.m.Fields = append(h.m.Fields, metricline.Field{Key: k})
	return &h.m.Fields[len(h.m.Fields)-1]
}

// numErr is what Telegraf's handler returns for a number strconv refuses:
// the bare reason ("value out of range", "invalid syntax").
func numErr(err error) error {
	var ne *strconv.NumError
	if errors.As(err, &ne) {
		return ne.Err
	}
	return err
}

func (h *influxHandler) AddInt(key, value []byte) error {
	v, err := strconv.ParseInt(string(bytes.TrimSuffix(value, []byte("i"))), 10, 64)
	if err != nil {
		return numErr(err)
	}
	f := h.field(key)
	f.Kind, f.Int = metricline.Int, v
	return nil
}

func (h *influxHandler) AddUint(key, value []byte) error {
	v, err := strconv.ParseUint(string(bytes.TrimSuffix(value, []byte("u"))), 10, 64)
	if err != nil {
		return numErr(err)
	}
	f := h.field(key)
	f.Kind, f.Uint = metricline.Uint, v
	return nil
}

func (h *influxHandler) AddFloat(key, value []byte) error {
	if h.lazy {
		// Text in the shortest form is finite: nothing to check.
		if _, _, ok := ShortestDecimal(value); ok {
			f := h.field(key)
			f.Kind, f.Str = metricline.Decimal, value
			return nil
		}
	}
	v, err := strconv.ParseFloat(string(value), 64)
	if err != nil {
		return numErr(err)
	}
	f := h.field(key)
	f.Kind, f.Float = metricline.Float, v
	return nil
}

func (h *influxHandler) AddString(key, value []byte) error {
	s := h.unescape(value, &stringUnescapes, stringEscaped)
	f := h.field(key)
	f.Kind, f.Str = metricline.String, s
	return nil
}

func (h *influxHandler) AddBool(key, value []byte) error {
	v, err := strconv.ParseBool(string(value))
	if err != nil {
		return errors.New("unparsable bool")
	}
	f := h.field(key)
	f.Kind, f.Bool = metricline.Bool, v
	return nil
}

func (h *influxHandler) SetTimestamp(tm []byte) error {
	v, err := strconv.ParseInt(string(tm), 10, 64)
	if err != nil {
		return numErr(err)
	}
	// The precision is the unit of the number; like Telegraf, a product
	// beyond int64 wraps.
	h.m.Time = v * int64(h.precision)
	h.timed = true
	return nil
}

// Telegraf unescapes a token only when it holds one of the bytes escaping
// is for (its `escaped` set), and then replaces only the pairs in its
// `unescapes` set: `\,` in a tag key becomes `,`, `\"` only when the key also
// holds a space, comma or equals sign, `\\` never. We do exactly that.
const (
	keyEscaped    = " ,="
	nameEscaped   = " ,"
	stringEscaped = `\"`
)

var (
	keyUnescapes    = unescapeSet(`, " =`)
	nameUnescapes   = unescapeSet(", ")
	stringUnescapes = unescapeSet(`"\`)
)

func unescapeSet(after string) (s [256]bool) {
	for i := 0; i < len(after); i++ {
		s[after[i]] = true
	}
	return s
}

// unescape returns b with the pairs `\c` (c in set) replaced by c, when b
// holds a byte of escaped; else b itself, which points into the line.
func (h *influxHandler) unescape(b []byte, set *[256]bool, escaped string) []byte {
	// Every pair starts with a backslash: without one there is nothing
	// to replace, whatever else b holds.
	if bytes.IndexByte(b, '\\') < 0 || !bytes.ContainsAny(b, escaped) {
		return b
	}
	from := len(h.arena)
	for i := 0; i < len(b); i++ {
		if b[i] == '\\' && i+1 < len(b) && set[b[i+1]] {
			i++
		}
		h.arena = append(h.arena, b[i])
	}
	return h.arena[from:len(h.arena):len(h.arena)]
}

// The common line, `name,tag=v,... field=1.5,n=3i,ok=true 1795552004000000000`
// with no escape, no string field and single spaces, is read here without
// Telegraf's state machine (which was 78% of quote mode's CPU on line
// protocol input). fast hands the handler the same tokens, in the same
// order, as the machine's actions would; any byte or form outside that
// subset of the grammar (machine.go.rl of Telegraf v1.37.2), and any
// token the handler refuses, sends the whole line to the machine, which
// then decides and names the byte of an error. FuzzInfluxFastPath holds
// the two to the same metrics.

// plain marks the bytes fast takes in names, keys and tag values: printable
// ASCII but for the separators, the escape, the quote, '=' and '#', and
// every byte from 0x80 (UTF-8 names and values; the grammar takes any
// such byte, as Telegraf does, valid UTF-8 or not). Each byte left out is
// valid somewhere in the grammar; the machine reads those lines.
var plain = func() (t [256]bool) {
	for c := '!'; c <= '~'; c++ {
		t[c] = true
	}
	for c := 0x80; c <= 0xff; c++ {
		t[c] = true
	}
	for _, c := range ",=\\\"# " {
		t[c] = false
	}
	return t
}()

// fast decodes line into h if it is a single line of the plain subset;
// false means it did not (h then holds nothing of use).
func (h *influxHandler) fast(line []byte) bool {
	i := plainRun(line, 0)
	if i == 0 || h.SetMeasurement(line[:i]) != nil {
		return false
	}
	for i < len(line) && line[i] == ',' {
		k := plainRun(line, i+1)
		if k == i+1 || k >= len(line) || line[k] != '=' {
			return false
		}
		v := plainRun(line, k+1)
		if v == k+1 || h.AddTag(line[i+1:k], line[k+1:v]) != nil {
			return false
		}
		i = v
	}
	if i >= len(line) || line[i] != ' ' {
		return false
	}
	for {
		k := plainRun(line, i+1)
		if k == i+1 || k >= len(line) || line[k] != '=' {
			return false
		}
		end, ok := h.fastValue(line, line[i+1:k], k+1)
		if !ok {
			return false
		}
		i = end
		if i == len(line) {
			return true
		}
		if line[i] == ' ' {
			break
		}
		if line[i] != ',' {
			return false
		}
	}
	// The timestamp: '-'? digit{1,19}, the end of the line.
	from := i + 1
	j := from
	if j < len(line) && line[j] == '-' {
		j++
	}
	d := digits(line, j)
	if d == j || d-j > 19 || d != len(line) {
		return false
	}
	return h.SetTimestamp(line[from:d]) == nil
}

// fastValue reads the field value at from (an integer, unsigned, decimal
// with digits on both sides of its point and maybe an exponent, or
// boolean) into key; it returns where the value ends, which
// must be the line's end, ',' or ' '.
func (h *influxHandler) fastValue(line, key []byte, from int) (int, bool) {
	j := from
	if j < len(line) && line[j] == '-' {
		j++
	}
	d := digits(line, j)
	if d > j {
		// The grammar's integers and unsigned have no leading zero.
		leadingZero := line[j] == '0' && d-j > 1
		switch {
		case d < len(line) && line[d] == 'i':
			if leadingZero || !separator(line, d+1) {
				return 0, false
			}
			return d + 1, h.AddInt(key, line[from:d+1]) == nil
		case d < len(line) && line[d] == 'u':
			if leadingZero || j != from || !separator(line, d+1) {
				return 0, false
			}
			return d + 1, h.AddUint(key, line[from:d+1]) == nil
		case d < len(line) && line[d] == '.':
			f := digits(line, d+1)
			if f == d+1 {
				return 0, false
			}
			d = f
		}
		// An exponent: 'e'i ["-+"]? digit+.
		if d < len(line) && (line[d] == 'e' || line[d] == 'E') {
			e := d + 1
			if e < len(line) && (line[e] == '-' || line[e] == '+') {
				e++
			}
			f := digits(line, e)
			if f == e {
				return 0, false
			}
			d = f
		}
		if !separator(line, d) {
			return 0, false
		}
		return d, h.AddFloat(key, line[from:d]) == nil
	}
	if j != from {
		return 0, false
	}
	for _, b := range [...]string{"true", "false", "t", "f", "TRUE", "FALSE", "True", "False", "T", "F"} {
		if len(line)-from >= len(b) && string(line[from:from+len(b)]) == b && separator(line, from+len(b)) {
			return from + len(b), h.AddBool(key, line[from:from+len(b)]) == nil
		}
	}
	return 0, false
}

func plainRun(line []byte, i int) int {
	for i < len(line) && plain[line[i]] {
		i++
	}
	return i
}

func digits(line []byte, i int) int {
	for i < len(line) && line[i] >= '0' && line[i] <= '9' {
		i++
	}
	return i
}

// separator tells whether a field value may end at i.
func separator(line []byte, i int) bool {
	return i == len(line) || line[i] == ',' || line[i] == ' '
}
