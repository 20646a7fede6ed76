package metricline

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
