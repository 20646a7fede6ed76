package metricpairs

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
)

// Reader checks pairs against the typed layout and reads them into a
// metricline.Metric that points into the pairs: the one place the rules
// of the layout are kept (reserved names, '#' tags, '\' escapes, keys
// given twice, the value grammar), for Decode and for TypedWriter alike.
// It allocates only to unescape strings the first times, and to word an
// error. It is not safe for concurrent use.
type Reader struct {
	// M is the metric of the last Read: valid until the next Read, and
	// while the pairs it read are.
	M       metricline.Metric
	hasName bool
	hasTime bool
	text    []byte   // unescaped strings
	keys    [][]byte // for the check of keys given twice
}

// Read reads pairs (name, value, name, value, ...) in the typed layout
// into r.M, its time def (nanoseconds) when there is no _time. Every name
// and value must follow the layout: an unknown '_' field, a value outside
// the grammar, a key given twice, or a metric without a name or a field,
// is an error naming the first of them in the order of the pairs, never a
// metric with something left out. Tags and fields keep the pairs' order;
// TagsSorted and FieldsSorted say whether that order is ascending.
func (r *Reader) Read(pairs [][]byte, def int64) error {
	if len(pairs)%2 != 0 {
		return errors.New("odd number of field names and values")
	}
	m := &r.M
	m.Name, m.Tags, m.Fields, m.Time = nil, m.Tags[:0], m.Fields[:0], def
	r.hasName, r.hasTime, r.text = false, false, r.text[:0]
	for i := 0; i < len(pairs); i += 2 {
		if err := r.pair(pairs[i], pairs[i+1]); err != nil {
			// A key given twice before this pair is named first.
			if dup := firstTwice(pairs[:i]); dup != nil {
				return dup
			}
			return err
		}
	}
	if !r.unique() {
		return firstTwice(pairs)
	}
	if !r.hasName {
		return fmt.Errorf("no %s field (the typed layout needs one beside %s)", NameField, TimeField)
	}
	if len(m.Fields) == 0 {
		return errors.New("no fields")
	}
	return nil
}

// pair reads one name and value into r.M; keys given twice are left to
// unique.
func (r *Reader) pair(name, value []byte) error {
	m := &r.M
	if len(name) == 0 {
		return errors.New("an entry field has an empty name")
	}
	switch name[0] {
	case Reserved:
		switch string(name) {
		case NameField:
			if r.hasName {
				return fmt.Errorf("%s given twice", NameField)
			}
			if len(value) == 0 {
				return fmt.Errorf("%s is empty", NameField)
			}
			m.Name, r.hasName = value, true
		case TimeField:
			if r.hasTime {
				return fmt.Errorf("%s given twice", TimeField)
			}
			t, err := ParseTime(value)
			if err != nil {
				return err
			}
			m.Time, r.hasTime = t, true
		default:
			return fmt.Errorf(`field %q: names starting with '_' are reserved for the layout (write a field key "_x" as "\\_x")`, name)
		}
	case TagMarker:
		if len(name) == 1 {
			return errors.New(`tag "#" has an empty key`)
		}
		m.Tags = append(m.Tags, metricline.Tag{Key: name[1:], Value: value})
	default:
		key := fieldKey(name)
		if len(key) == 0 {
			return fmt.Errorf("field %q has an empty key", name)
		}
		f := metricline.Field{Key: key}
		var err error
		if r.text, err = ReadValue(&f, value, r.text); err != nil {
			return fmt.Errorf("field %q: %w", key, err)
		}
		m.Fields = append(m.Fields, f)
	}
	return nil
}

// fieldKey is the metric field key of an entry field name that is not
// the layout's own nor a tag: without its escape.
func fieldKey(name []byte) []byte {
	if name[0] == EscapeKey {
		return name[1:]
	}
	return name
}

// unique reports whether no tag key and no field key is given twice, and
// marks keys found in ascending order so: redis-output writes them so,
// and the encoder then does not look at their order again.
func (r *Reader) unique() bool {
	m := &r.M
	r.keys = r.keys[:0]
	for i := range m.Tags {
		r.keys = append(r.keys, m.Tags[i].Key)
	}
	var ok bool
	if ok, m.TagsSorted = uniqueKeys(r.keys); !ok {
		return false
	}
	r.keys = r.keys[:0]
	for i := range m.Fields {
		r.keys = append(r.keys, m.Fields[i].Key)
	}
	ok, m.FieldsSorted = uniqueKeys(r.keys)
	return ok
}

// uniqueKeys reports whether keys holds no key twice, and whether they
// were in strictly ascending order (one pass); it may sort keys.
func uniqueKeys(keys [][]byte) (unique, ascending bool) {
	for i := 1; i < len(keys); i++ {
		if bytes.Compare(keys[i-1], keys[i]) >= 0 {
			slices.SortFunc(keys, bytes.Compare)
			for j := 1; j < len(keys); j++ {
				if bytes.Equal(keys[j-1], keys[j]) {
					return false, false
				}
			}
			return true, false
		}
	}
	return true, true
}

// firstTwice names the first tag or field key of pairs given a second
// time, in the order of the pairs; nil if there is none. Only an error
// path calls it, so it compares every pair with those before.
func firstTwice(pairs [][]byte) error {
	for i := 0; i < len(pairs); i += 2 {
		n := pairs[i]
		if len(n) == 0 || n[0] == Reserved {
			continue
		}
		tag := n[0] == TagMarker
		for j := 0; j < i; j += 2 {
			p := pairs[j]
			if len(p) == 0 || p[0] == Reserved || (p[0] == TagMarker) != tag {
				continue
			}
			switch {
			case tag && bytes.Equal(p[1:], n[1:]):
				return fmt.Errorf("tag %q given twice", n[1:])
			case !tag && len(fieldKey(n)) > 0 && bytes.Equal(fieldKey(p), fieldKey(n)):
				return fmt.Errorf("field %q given twice", fieldKey(n))
			}
		}
	}
	return nil
}
