package quote

import (
	"io/fs"
	"strings"
	"testing"
)

// TestScriptJoinsEveryModule: every file of lua/ is joined exactly once,
// each ends its last line (so that two modules never share one), and none
// is over 400 lines.
func TestScriptJoinsEveryModule(t *testing.T) {
	files, err := fs.Glob(luaFiles, "lua/*.lua")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]int{}
	for _, m := range modules {
		listed["lua/"+m]++
	}
	for _, f := range files {
		if listed[f] != 1 {
			t.Errorf("%s is joined %d times", f, listed[f])
		}
		delete(listed, f)
		src, err := luaFiles.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(src) == 0 || src[len(src)-1] != '\n' {
			t.Errorf("%s does not end with a newline", f)
		}
		if n := strings.Count(string(src), "\n"); n > 400 {
			t.Errorf("%s has %d lines, more than 400", f, n)
		}
	}
	for f := range listed {
		t.Errorf("%s is listed, not in lua/", f)
	}
}
