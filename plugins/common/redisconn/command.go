package redisconn

import "strconv"

// AppendCommand appends a command in RESP, as Redis reads it from a
// client: an array header, then the name and each argument as a bulk
// string. Commands appended one after the other go out in one WriteRaw,
// and their replies are read in the same order (Replies).
func AppendCommand(w []byte, name string, args ...string) []byte {
	w = appendHeader(w, '*', len(args)+1)
	w = appendBulk(w, name)
	for _, a := range args {
		w = appendBulk(w, a)
	}
	return w
}

func appendHeader(w []byte, kind byte, n int) []byte {
	w = append(w, kind)
	w = strconv.AppendInt(w, int64(n), 10)
	return append(w, '\r', '\n')
}

func appendBulk(w []byte, s string) []byte {
	w = appendHeader(w, '$', len(s))
	w = append(w, s...)
	return append(w, '\r', '\n')
}
