package redisconn

import (
	"fmt"
	"strconv"
	"strings"
)

// FormatCommand prints a command the way redis-cli would take it: words
// with a space, a quote or a control character are quoted.
func FormatCommand(words []interface{}) string {
	var b strings.Builder
	for i, w := range words {
		if i > 0 {
			b.WriteByte(' ')
		}
		var s string
		switch v := w.(type) {
		case string:
			s = v
		case []byte:
			s = string(v)
		default:
			s = fmt.Sprint(v)
		}
		if s == "" || strings.ContainsAny(s, " \"'\\\t\r\n") {
			s = strconv.Quote(s)
		}
		b.WriteString(s)
	}
	return b.String()
}
