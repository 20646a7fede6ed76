package testutil_test

import (
	"flag"
	"fmt"
	"strings"
	"testing"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/kafkatest"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/telegraftest"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/tmpfs"
)

// fatalTB is a test as a starter sees it: its Fatal records the message
// and ends the starter there, as testing.T's own ends the test.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Fatal(args ...any) {
	f.msg = fmt.Sprint(args...)
	panic(f)
}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic(f)
}

// TestStartersFailUnderShort: under go test -short every helper that starts
// a server, runs a program or mounts a file system fails the test at once,
// naming itself and the convention, before it starts anything: a server
// test left without its Integration name and skip fails loudly instead of
// needing a server. It sets -short itself, so it holds in both modes.
func TestStartersFailUnderShort(t *testing.T) {
	short := flag.Lookup("test.short")
	was := short.Value.String()
	if err := short.Value.Set("true"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := short.Value.Set(was); err != nil {
			t.Error(err)
		}
	})
	// Hostile: what each would start is at hand (a program that runs until
	// killed, a sentinel's master), so only the guard keeps it from running.
	starters := map[string]func(testing.TB){
		"redistest.Start":         func(tb testing.TB) { redistest.Start(tb) },
		"redistest.StartTLS":      func(tb testing.TB) { redistest.StartTLS(tb, &redistest.Certs{}, true) },
		"redistest.StartCluster":  func(tb testing.TB) { redistest.StartCluster(tb, 3, 1) },
		"redistest.StartSentinel": func(tb testing.TB) { redistest.StartSentinel(tb, "m", &redistest.Server{Addr: "127.0.0.1:1"}) },
		"kafkatest.Start":         func(tb testing.TB) { kafkatest.Start(tb) },
		"telegraftest.Telegraf":   func(tb testing.TB) { telegraftest.Telegraf(tb) },
		"telegraftest.Command":    func(tb testing.TB) { telegraftest.Command(tb, "redis-output") },
		"telegraftest.Start":      func(tb testing.TB) { telegraftest.Start(tb, "sleep", "sleep", nil, "1000") },
		"tmpfs.Mount":             func(tb testing.TB) { tmpfs.Mount(tb, "size=1m") },
	}
	for name, start := range starters {
		t.Run(name, func(t *testing.T) {
			tb := &fatalTB{TB: t}
			func() {
				defer func() {
					if r := recover(); r != nil && r != tb {
						panic(r)
					}
				}()
				start(tb)
			}()
			if !strings.HasPrefix(tb.msg, name+": ") || !strings.Contains(tb.msg, "under -short") ||
				!strings.Contains(tb.msg, "...Integration") || !strings.Contains(tb.msg, "testing.Short()") {
				t.Fatalf("%s under -short: want it to fail naming itself and the convention, got %q", name, tb.msg)
			}
		})
	}
}
