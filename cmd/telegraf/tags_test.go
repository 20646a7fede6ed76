package telegraf

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestMakefileBuildsEveryDataFormat: `make telegraf` compiles every parser
// and serializer of the pinned Telegraf, the build tags of its
// plugins/parsers/all and plugins/serializers/all, so that our plugins
// built in offer every data_format, as under execd.
func TestMakefileBuildsEveryDataFormat(t *testing.T) {
	makefile, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)\nTELEGRAF_FORMATS := \\\n(.*?[^\\])\n`).FindSubmatch(makefile)
	if m == nil {
		t.Fatal("no TELEGRAF_FORMATS in the Makefile")
	}
	got := strings.Fields(strings.ReplaceAll(string(m[1]), `\`, " "))
	slices.Sort(got)

	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/influxdata/telegraf").Output()
	if err != nil {
		t.Fatal(err)
	}
	dir := strings.TrimSpace(string(out))
	var want []string
	for _, kind := range []string{"parsers", "serializers"} {
		files, err := filepath.Glob(filepath.Join(dir, "plugins", kind, "all", "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if filepath.Base(f) == "all.go" {
				continue
			}
			want = append(want, kind+"."+strings.TrimSuffix(filepath.Base(f), ".go"))
		}
	}
	slices.Sort(want)
	if len(want) < 30 || !slices.Equal(got, want) {
		t.Fatalf("TELEGRAF_FORMATS:\n %q\nTelegraf's:\n %q", got, want)
	}
}
