package redis_consumer

import (
	"strings"
	"testing"
)

// TestAutoclaimReplyOfEachServer: the XAUTOCLAIM reply as Redis 7+ and
// Valkey give it (deleted entries dropped, their IDs third) and as Redis
// 6.2 gives it (two elements; a nil in place of each deleted entry,
// which it claimed all the same), and replies that are neither.
func TestAutoclaimReplyOfEachServer(t *testing.T) {
	entry := func(id string, kv ...string) any {
		fields := make([]any, 0, len(kv))
		for _, s := range kv {
			fields = append(fields, []byte(s))
		}
		return []any{[]byte(id), fields}
	}
	redis7 := []any{[]byte("0-0"), []any{entry("2-0", "v", "2")}, []any{[]byte("1-0"), []byte("3-0")}}
	page, err := autoclaimEntries(redis7)
	if err != nil || page.cursor != "0-0" || len(page.entries) != 1 || page.entries[0].id != "2-0" || page.dropped != 2 || page.unnamed != 0 {
		t.Fatalf("Redis 7: %+v, %v", page, err)
	}
	redis62 := []any{[]byte("4-0"), []any{nil, entry("2-0", "v", "2"), nil}}
	page, err = autoclaimEntries(redis62)
	if err != nil || page.cursor != "4-0" || len(page.entries) != 1 || string(page.entries[0].fields[1]) != "2" || page.dropped != 0 || page.unnamed != 2 {
		t.Fatalf("Redis 6.2: %+v, %v", page, err)
	}
	page, err = autoclaimEntries([]any{[]byte("0-0"), []any{nil, nil}})
	if err != nil || len(page.entries) != 0 || page.unnamed != 2 {
		t.Fatalf("Redis 6.2, every entry deleted: %+v, %v", page, err)
	}
	for name, reply := range map[string]any{
		"one element":      []any{[]byte("0-0")},
		"not an array":     []byte("0-0"),
		"entries a string": []any{[]byte("0-0"), []byte("x")},
		"an entry of one":  []any{[]byte("0-0"), []any{[]any{[]byte("1-0")}}},
		"deleted a string": []any{[]byte("0-0"), make([]any, 0), []byte("x")},
	} {
		if _, err := autoclaimEntries(reply); err == nil || !strings.Contains(err.Error(), "XAUTOCLAIM") {
			t.Errorf("%s: %v", name, err)
		}
	}
}
