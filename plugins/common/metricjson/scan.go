package metricjson

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
)

// The general JSON of a line: a cursor over it, strings, numbers that may
// overflow, and skipping values nobody asked for. decode.go reads Telegraf's
// schema with them.

// plainASCII marks the bytes a JSON string holds as themselves: printable
// ASCII other than the quote and the backslash.
var plainASCII = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// parser is the cursor over one line.
type parser struct {
	buf []byte
	pos int
}

func (p *parser) reset(b []byte) { p.buf, p.pos = b, 0 }
func (p *parser) eof() bool      { return p.pos >= len(p.buf) }

func (p *parser) peek() byte {
	if p.pos < len(p.buf) {
		return p.buf[p.pos]
	}
	return 0
}

// ws skips whitespace. Telegraf's JSON has none, so the common case is
// one comparison, inlined.
func (p *parser) ws() {
	if p.pos < len(p.buf) && p.buf[p.pos] > ' ' {
		return
	}
	p.wsSlow()
}

func (p *parser) wsSlow() {
	for p.pos < len(p.buf) {
		switch p.buf[p.pos] {
		case ' ', '\t', '\r', '\n':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) expect(c byte) error {
	p.ws()
	if p.peek() != c {
		return p.syntax(fmt.Sprintf("want '%c'", c))
	}
	p.pos++
	return nil
}

func (p *parser) literal(word string) bool {
	if bytes.HasPrefix(p.buf[p.pos:], []byte(word)) {
		p.pos += len(word)
		return true
	}
	return false
}

// syntax describes a malformed line at the current byte offset.
func (p *parser) syntax(what string) error {
	if p.pos >= len(p.buf) {
		return fmt.Errorf("invalid JSON: %s, but the line ends at byte %d", what, len(p.buf))
	}
	return fmt.Errorf("invalid JSON at byte %d: %s", p.pos+1, what)
}

// maxDepth bounds the nesting of values we skip (unknown keys), so a line
// of ten thousand "[" cannot blow the stack.
const maxDepth = 64

// mayOverflow tells whether a valid JSON number could be beyond float64's
// range (about 1.8e308): only when its decimal exponent may pass 300.
func mayOverflow(text []byte) bool {
	intDigits, exp, i := 0, 0, 0
	if text[0] == '-' {
		i++
	}
	for ; i < len(text) && text[i] >= '0' && text[i] <= '9'; i++ {
		intDigits++
	}
	for i < len(text) && text[i] != 'e' && text[i] != 'E' {
		i++
	}
	if i < len(text) {
		i++
		neg := false
		if text[i] == '+' || text[i] == '-' {
			neg = text[i] == '-'
			i++
		}
		for ; i < len(text); i++ {
			if exp > 100000 {
				return true
			}
			exp = exp*10 + int(text[i]-'0')
		}
		if neg {
			exp = -exp
		}
	}
	return intDigits+exp > 300
}

// parseInt parses a validated JSON integer without allocating.
func parseInt(b []byte) (int64, bool) {
	neg := b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) > 18 { // may overflow: let strconv decide
		v, err := strconv.ParseInt(string(b), 10, 64)
		if err != nil {
			if neg && string(b) == "9223372036854775808" {
				return math.MinInt64, true
			}
			return 0, false
		}
		if neg {
			v = -v
		}
		return v, true
	}
	var v int64
	for _, c := range b {
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	return v, true
}

// str reads a JSON string. Without escapes it is a slice of the line;
// with escapes it is unescaped into the scratch space.
func (d *JSON) str() ([]byte, error) {
	p := &d.p
	b := p.buf
	p.pos++ // opening quote
	start := p.pos
	ascii := true
	for i := start; i < len(b); i++ {
		// Plain ASCII, what names, keys and tags mostly are, in a tight
		// loop; the switch below sees only the bytes that need a look.
		for i < len(b) && plainASCII[b[i]] {
			i++
		}
		if i == len(b) {
			break
		}
		c := b[i]
		switch {
		case c == '"':
			p.pos = i + 1
			s := b[start:i]
			if !ascii && !utf8.Valid(s) {
				p.pos = start
				return nil, p.syntax("invalid UTF-8 in a string")
			}
			return s, nil
		case c == '\\':
			return d.strEscaped(start)
		case c < 0x20:
			p.pos = i
			return nil, p.syntax("control character in a string")
		case c >= 0x80:
			ascii = false
		}
	}
	p.pos = len(b)
	return nil, p.syntax("unterminated string")
}

func (d *JSON) strEscaped(start int) ([]byte, error) {
	p := &d.p
	b := p.buf
	out := len(d.scratch)
	i := start
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			p.pos = i + 1
			s := d.scratch[out:]
			if !utf8.Valid(s) {
				p.pos = start
				return nil, p.syntax("invalid UTF-8 in a string")
			}
			return s[:len(s):len(s)], nil
		case c < 0x20:
			p.pos = i
			return nil, p.syntax("control character in a string")
		case c != '\\':
			d.scratch = append(d.scratch, c)
			i++
			continue
		}
		if i+1 >= len(b) {
			break
		}
		e := b[i+1]
		i += 2
		switch e {
		case '"', '\\', '/':
			d.scratch = append(d.scratch, e)
		case 'b':
			d.scratch = append(d.scratch, '\b')
		case 'f':
			d.scratch = append(d.scratch, '\f')
		case 'n':
			d.scratch = append(d.scratch, '\n')
		case 'r':
			d.scratch = append(d.scratch, '\r')
		case 't':
			d.scratch = append(d.scratch, '\t')
		case 'u':
			r, ok := hex4(b, i)
			if !ok {
				p.pos = i
				return nil, p.syntax(`invalid \u escape`)
			}
			i += 4
			if utf16.IsSurrogate(r) {
				if r2, ok := hex4(b, i+2); ok && i+1 < len(b) && b[i] == '\\' && b[i+1] == 'u' {
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						r = dec
						i += 6
					} else {
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			}
			d.scratch = utf8.AppendRune(d.scratch, r)
		default:
			p.pos = i - 1
			return nil, p.syntax("invalid escape in a string")
		}
	}
	p.pos = len(b)
	return nil, p.syntax("unterminated string")
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// skip reads over any JSON value.
func (d *JSON) skip(depth int) error {
	p := &d.p
	if depth > maxDepth {
		return p.syntax(fmt.Sprintf("nested deeper than %d levels", maxDepth))
	}
	p.ws()
	switch c := p.peek(); {
	case c == '"':
		_, err := d.str()
		return err
	case c == '{' || c == '[':
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		p.pos++
		p.ws()
		if p.peek() == end {
			p.pos++
			return nil
		}
		for {
			if c == '{' {
				p.ws()
				if p.peek() != '"' {
					return p.syntax("want a quoted key")
				}
				if _, err := d.key(); err != nil {
					return err
				}
			}
			if err := d.skip(depth + 1); err != nil {
				return err
			}
			p.ws()
			n := p.peek()
			p.pos++
			if n == end {
				return nil
			}
			if n != ',' {
				p.pos--
				return p.syntax("want ',' or a closing bracket")
			}
		}
	case c == '-' || (c >= '0' && c <= '9'):
		var f metricline.Field
		err := d.number(&f)
		var me *metricError
		if errors.As(err, &me) {
			return nil // out of range, but we are skipping it
		}
		return err
	case p.literal("true"), p.literal("false"), p.literal("null"):
		return nil
	}
	return p.syntax("want a JSON value")
}

// number reads a JSON number into f: Int when it is an integer that fits,
// Uint for larger integers, Float otherwise.
func (d *JSON) number(f *metricline.Field) error {
	p := &d.p
	start := p.pos
	b := p.buf
	i := p.pos
	if i < len(b) && b[i] == '-' {
		i++
	}
	digits := i
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	if i == digits || (b[digits] == '0' && i-digits > 1) {
		p.pos = i
		return p.syntax("invalid number")
	}
	isInt := true
	if i < len(b) && b[i] == '.' {
		isInt = false
		i++
		j := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == j {
			p.pos = i
			return p.syntax("invalid number")
		}
	}
	noExp := true
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		isInt, noExp = false, false
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == j {
			p.pos = i
			return p.syntax("invalid number")
		}
	}
	p.pos = i
	text := b[start:i]
	// Without an exponent only a number of over 300 digits can pass
	// float64's range.
	if d.LazyNumbers && (noExp && i-start <= 300 || !mayOverflow(text)) {
		f.Kind, f.Str = metricline.Decimal, text
		return nil
	}
	if isInt && !d.FloatNumbers {
		if v, ok := parseInt(text); ok {
			f.Kind, f.Int = metricline.Int, v
			return nil
		}
		if text[0] != '-' {
			if v, err := strconv.ParseUint(string(text), 10, 64); err == nil {
				f.Kind, f.Uint = metricline.Uint, v
				return nil
			}
		}
	}
	v, err := strconv.ParseFloat(string(text), 64)
	if err != nil || math.IsInf(v, 0) {
		return badMetric("number %.40s is out of the float64 range", text)
	}
	f.Kind, f.Float = metricline.Float, v
	return nil
}
