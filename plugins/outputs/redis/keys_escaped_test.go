package redis

import (
	"sort"
	"strings"
	"testing"

	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

// TestTemplateKeysStayInTheirKeySpaceIntegration is issue 11's reproduction: a tag
// key `}:{admin:secret*\r\n` reached the key raw through {{range .Tags}}.
// Now every route from the metric into the key is escaped, in Redis.
func TestTemplateKeysStayInTheirKeySpaceIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	line := `{"fields":{"v":1},"name":"cpu","tags":{"}:{admin:secret*\r\n":"x"},"timestamp":1795552004}` + "\n"
	const esc = "%7D%3A%7Badmin%3Asecret%2A%0D%0A"
	for tmpl, want := range map[string]string{
		`tk:{{range .Tags}}{{.}}={{$.Tag .}}{{end}}`:             "tk:x=",
		`tr:{{range $k, $v := .Tags}}{{$k}}={{$v}}{{end}}`:       "tr:" + esc + "=x",
		`tt:{{range $k, $v := .Tags}}{{$k}}={{$.Tag $k}}{{end}}`: "tt:" + esc + "=x",
		`ts:{{.String}}`: "ts:cpu%20map%5B" + esc + "%3Ax%5D%20map%5Bv%3A1%5D%201795552004000000000",
	} {
		srv.Do("FLUSHALL")
		runLines(t, srv, line, func(r *Redis) { r.Mode, r.Key = "hash", tmpl })
		keys, err := redis.Strings(srv.Conn().Do("KEYS", "*"))
		sort.Strings(keys)
		if err != nil || strings.Join(keys, " ") != want {
			t.Errorf("%s: keys %q, want %q", tmpl, keys, want)
		}
	}
	// Refused at start rather than on every line.
	r := New()
	r.Mode, r.Key = "hash", "t:{{.Nope}}"
	if err := r.Init(); err == nil || !strings.HasPrefix(err.Error(), `option key: key template "t:{{.Nope}}": ".Nope" is not something a metric has`) {
		t.Fatalf("{{.Nope}}: %v", err)
	}
}
