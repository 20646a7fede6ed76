package lineprotocol

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/metricline"
)

// What line protocol cannot carry, held to Telegraf's parser (v1.37.2,
// plugins/parsers/influx) by TestLinesReadBack and the differential fuzz
// targets: Telegraf's serializer writes such metrics anyway, as lines its
// parser refuses, reads as another metric, or skips. One rule for every
// encoder of ours, here:
//
//   - Tag keys and values lose their trailing backslashes (a backslash
//     before the '=', ',' or ' ' that follows would escape it), and a tag
//     left empty is left out: what Telegraf's serializer does, byte for
//     byte. Trims names them.
//   - Everything else the parser would not read back is refused, the
//     metric whole, with a CarryError naming the name, key or value and
//     why (cannotCarry); the tag cut above is the only change a line makes.

// CarryError is a metric refused because line protocol cannot carry one
// of its names, keys or values: Telegraf's parser would read the line
// written for it as another metric, or not at all.
type CarryError struct {
	Metric string // the measurement
	What   string // "measurement", "tag key", "tag value" or "field key"
	Key    string // for a tag value, its key (as written)
	Text   string // the name, key or value
	Reason string
}

func (e *CarryError) Error() string {
	switch e.What {
	case "measurement":
		return fmt.Sprintf("measurement %q %s", e.Text, e.Reason)
	case "tag value":
		return fmt.Sprintf("metric %q: tag %q: value %q %s", e.Metric, e.Key, e.Text, e.Reason)
	}
	return fmt.Sprintf("metric %q: %s %q %s", e.Metric, e.What, e.Text, e.Reason)
}

// check returns bad, or if it is nil the CarryError for s (what, of tag
// key) when line protocol cannot carry it, or nil.
func check(bad *CarryError, m *metricline.Metric, what string, key, s []byte) *CarryError {
	if bad != nil {
		return bad
	}
	reason := cannotCarry(s, what)
	if reason == "" {
		return nil
	}
	return &CarryError{Metric: string(m.Name), What: what, Key: string(key), Text: string(s), Reason: reason}
}

// cannotCarry says why Telegraf's parser would not read s back as it is
// where it stands (what: "measurement", "tag key", "tag value" or "field
// key", tags already cut of their trailing backslashes), written as
// Telegraf's serializer escapes it; "" if it would.
//
//   - Tab, newline, form feed and carriage return are written \t, \n, \f,
//     \r, which the parser does not unescape; a vertical tab ends the token.
//   - A measurement starting with '#' makes the line a comment.
//   - In a measurement or field key the parser reads a backslash and the
//     byte after it as one: an unpaired backslash (an odd run of them) at
//     the end takes the separator that follows, and one before a space,
//     comma or (in a field key) '=' takes the backslash that escapes it.
//     Tag keys and values are read otherwise, and have no such case.
//   - In a key or tag value that holds a space, comma or '=', the parser
//     turns \" into ".
func cannotCarry(s []byte, what string) string {
	if i := bytes.IndexAny(s, "\t\n\v\f\r"); i >= 0 {
		return fmt.Sprintf("holds a %s, which line protocol cannot carry", controlNames[s[i]])
	}
	name := what == "measurement"
	if name && len(s) > 0 && s[0] == '#' {
		return `starts with "#", which line protocol reads as a comment`
	}
	if name || what == "field key" {
		for i := 0; i < len(s); i++ {
			if s[i] != '\\' {
				continue
			}
			j := i
			for j < len(s) && s[j] == '\\' {
				j++
			}
			if (j-i)%2 == 1 {
				switch {
				case j == len(s):
					return "ends in a backslash, which line protocol cannot carry"
				case s[j] == ' ' || s[j] == ',' || (s[j] == '=' && !name):
					return fmt.Sprintf("has a backslash before %s, which line protocol cannot carry", separatorNames[s[j]])
				}
			}
			i = j - 1
		}
	}
	if !name && bytes.Contains(s, []byte(`\"`)) && bytes.ContainsAny(s, " ,=") {
		return `holds \" and a space, comma or "=", where Telegraf's parser drops the backslash before the quote`
	}
	return ""
}

var controlNames = map[byte]string{'\t': "tab", '\n': "newline", '\v': "vertical tab", '\f': "form feed", '\r': "carriage return"}

var separatorNames = map[byte]string{' ': "a space", ',': "a comma", '=': `"="`}

// Trims names the tags an encoder wrote without their trailing
// backslashes, or left out for them, with one warning per tag key (not
// per metric: a series that always has such a tag is named once). Safe
// for concurrent use; share one among the encoders of a plugin.
type Trims struct {
	warnf func(format string, args ...any)
	mu    sync.Mutex
	named map[string]bool
}

// maxTrimKeys bounds the keys remembered; past it the set starts again,
// and keys are named again.
const maxTrimKeys = 1000

// NewTrims returns a Trims that warns with warnf (a plugin's Log.Warnf).
func NewTrims(warnf func(format string, args ...any)) *Trims {
	return &Trims{warnf: warnf, named: make(map[string]bool)}
}

// note names the trimmed tags of m (tags: its tag indexes, in the order
// written) whose keys were not named before.
func (t *Trims) note(m *metricline.Metric, tags []int32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, i := range tags {
		tag := &m.Tags[i]
		k, v := trimBackslashes(tag.Key), trimBackslashes(tag.Value)
		if (len(k) == len(tag.Key) && len(v) == len(tag.Value)) || t.named[string(tag.Key)] {
			continue
		}
		if len(t.named) >= maxTrimKeys {
			clear(t.named)
		}
		t.named[string(tag.Key)] = true
		var what string
		switch {
		case len(k) < len(tag.Key):
			what = fmt.Sprintf("tag key %q ends in a backslash", tag.Key)
		default:
			what = fmt.Sprintf("tag %q: value %q ends in a backslash", tag.Key, tag.Value)
		}
		done := fmt.Sprintf("written as %q=%q", k, v)
		if len(k) == 0 || len(v) == 0 {
			done = "the tag is left out"
		}
		t.warnf("metric %q: %s, which line protocol cannot carry: %s, as Telegraf's serializer does (named once per tag key)", m.Name, what, done)
	}
}

// CheckMeasurement returns a CarryError when line protocol cannot carry
// name as a measurement, else nil: for an option that names every metric,
// refused at start rather than metric by metric.
func CheckMeasurement(name string) error {
	if r := cannotCarry([]byte(name), "measurement"); r != "" {
		return &CarryError{Metric: name, What: "measurement", Text: name, Reason: r}
	}
	return nil
}
