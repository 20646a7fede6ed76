// Package metricgen turns fuzz input into metricline.Metrics, for the
// differential tests of our serializers against Telegraf's: every byte
// value can reach names, keys and string values, and every float64 bit
// pattern (NaN, ±Inf, -0, subnormals) a float field.
package metricgen

import (
	"encoding/binary"
	"math"
	"strconv"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
)

// Metric builds a metric from data; the same data gives the same metric.
// Strings are drawn from a small alphabet of the bytes serializers treat
// specially most of the time, so that duplicates and escapes are common,
// and from raw bytes otherwise.
func Metric(data []byte) *metricline.Metric {
	r := reader{data: data}
	m := &metricline.Metric{}
	m.Name = r.str()
	for n := int(r.byte() % 8); n > 0; n-- {
		m.Tags = append(m.Tags, metricline.Tag{Key: r.str(), Value: r.str()})
	}
	for n := int(r.byte() % 12); n > 0; n-- {
		f := metricline.Field{Key: r.str()}
		switch r.byte() % 8 {
		case 0:
			f.Kind, f.Float = metricline.Float, float64(int64(r.u64()%2000000)-1000000)/64
		case 1:
			f.Kind, f.Float = metricline.Float, math.Float64frombits(r.u64())
		case 2:
			f.Kind, f.Int = metricline.Int, int64(r.u64())
		case 3:
			f.Kind, f.Uint = metricline.Uint, r.u64()
		case 4:
			f.Kind, f.Str = metricline.String, r.str()
		case 5:
			f.Kind, f.Bool = metricline.Bool, r.byte()&1 == 1
		case 6:
			f.Kind, f.Str = metricline.Decimal, r.str()
		case 7: // a number as some serializer would write it
			v := math.Float64frombits(r.u64())
			if r.byte()&1 == 0 {
				v = float64(int64(r.u64())) / math.Pow10(int(r.byte()%24))
			}
			f.Kind, f.Str = metricline.Decimal, strconv.AppendFloat(nil, v, "fgeE"[r.byte()%4], int(r.byte()%20)-1, 64)
		}
		m.Fields = append(m.Fields, f)
	}
	m.Time = int64(r.u64())
	return m
}

// alphabet: letters that repeat (so keys collide), and every byte the
// serializers escape or treat specially.
const alphabet = "ab\\\" ,=\t\n\r\f\v#<>&\x00\x7f\u2028\xff.e-+0123456789"

type reader struct {
	data []byte
	pos  int
}

func (r *reader) byte() byte {
	if r.pos >= len(r.data) {
		return 0
	}
	b := r.data[r.pos]
	r.pos++
	return b
}

func (r *reader) u64() uint64 {
	var b [8]byte
	for i := range b {
		b[i] = r.byte()
	}
	return binary.LittleEndian.Uint64(b[:])
}

// str reads a string: a length byte, then its bytes. Bit 0 of the length
// byte says the bytes are raw; otherwise they are drawn from alphabet,
// and bit 7 adds a backslash at the end, which line protocol cannot carry
// in names and keys (one in eight strings, so every metric is likely to
// hold one).
func (r *reader) str() []byte {
	n := int(r.byte())
	raw := n&1 == 1
	trailing := !raw && n&0x80 != 0
	n = (n >> 1 & 0x3f) % 12
	s := make([]byte, 0, n+1)
	for ; n > 0; n-- {
		b := r.byte()
		if !raw {
			b = alphabet[int(b)%len(alphabet)]
		}
		s = append(s, b)
	}
	if trailing {
		s = append(s, '\\')
	}
	return s
}

// Encode returns data that Metric turns into m: the input of a fuzz seed
// that is a given metric. Names, keys and string values are written raw,
// at most 11 bytes each; a float field keeps its bits.
func Encode(m *metricline.Metric) []byte {
	var d []byte
	str := func(s []byte) {
		if len(s) > 11 {
			panic("metricgen.Encode: a string of more than 11 bytes")
		}
		d = append(d, byte(len(s)<<1|1))
		d = append(d, s...)
	}
	u64 := func(v uint64) { d = binary.LittleEndian.AppendUint64(d, v) }
	if len(m.Tags) >= 8 || len(m.Fields) >= 12 {
		panic("metricgen.Encode: more than 7 tags or 11 fields")
	}
	str(m.Name)
	d = append(d, byte(len(m.Tags)))
	for _, t := range m.Tags {
		str(t.Key)
		str(t.Value)
	}
	d = append(d, byte(len(m.Fields)))
	for _, f := range m.Fields {
		str(f.Key)
		switch f.Kind {
		case metricline.Float:
			d = append(d, 1)
			u64(math.Float64bits(f.Float))
		case metricline.Int:
			d = append(d, 2)
			u64(uint64(f.Int))
		case metricline.Uint:
			d = append(d, 3)
			u64(f.Uint)
		case metricline.String:
			d = append(d, 4)
			str(f.Str)
		case metricline.Bool:
			d = append(d, 5)
			if f.Bool {
				d = append(d, 1)
			} else {
				d = append(d, 0)
			}
		case metricline.Decimal:
			d = append(d, 6)
			str(f.Str)
		}
	}
	u64(uint64(m.Time))
	return d
}
